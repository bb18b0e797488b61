# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: scenario_services
short_description: The services argument of mesh_routing for one traffic scenario
version_added: 0.1.0
description:
  - Turns a scenario description (services and subsets, default route weights, at most one user route and one
    fault) into the O(ack.servicemesh.mesh_routing#module:services) list, with the user route and the fault
    present on their service and absent on every other, so that scenarios can follow each other in any order.
author:
  - ack.servicemesh contributors (@ack-servicemesh)
options:
  _input:
    description: Services, each with C(name) and C(subsets) (a list of subset names).
    type: list
    elements: dict
    required: true
  weights:
    description: Service name to subset weights; a service not listed gets O(default_subset) only.
    type: dict
    default: {}
  user_route:
    description: C(service), C(user) and C(subset) of the one user route; empty for none.
    type: dict
    default: {}
  fault:
    description:
      - C(service), C(user), and C(delay) and/or C(abort) of the one fault; empty for none.
      - C(all_users=true) instead of C(user) faults every request to the service.
    type: dict
    default: {}
  default_subset:
    description: Subset of a service's default route when O(weights) does not name the service.
    type: str
    default: v1
  user_match:
    description:
      - V(header) (current BookInfo), V(cookie) (Istio 0.8 and 1.0 apps, as browsers send cookies) or
        V(cookie-0.8) (the 0.8 sample's exact regex).
    type: str
    default: header
  subset_label:
    description: The pod label that selects a subset.
    type: str
    default: version
  user_route_name:
    description: Name of the user route.
    type: str
    default: user-override
  fault_route_name:
    description: Name of the fault route.
    type: str
    default: fault-injection
  fault_expires_in:
    description:
      - When the fault ends, as the C(expires_in) of its route (a duration or a number of seconds). None for a fault
        that stays.
    type: raw
notes:
  - A fault for the user whom the user route sends to a subset of the same service is put into the user route
    itself, keeping that route's destination; a separate fault route would never be reached by that user.
"""

EXAMPLES = r"""
- name: fault-delay on BookInfo
  ack.servicemesh.mesh_routing:
    services: >-
      {{ [{'name': 'reviews', 'subsets': ['v1', 'v2', 'v3']}, {'name': 'ratings', 'subsets': ['v1']}]
         | ack.servicemesh.scenario_services(user_route={'service': 'reviews', 'user': 'jason', 'subset': 'v2'},
                                             fault={'service': 'ratings', 'user': 'jason',
                                                    'delay': {'fixed_delay': '7s'}}) }}
"""

RETURN = r"""
_value:
  description: The list for O(ack.servicemesh.mesh_routing#module:services).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.scenario import (
    scenario_services as compile_services)


def scenario_services(services, weights=None, user_route=None, fault=None, default_subset="v1", user_match="header",
                      subset_label="version", user_route_name="user-override", fault_route_name="fault-injection",
                      fault_expires_in=None):
    if not isinstance(services, list) or not all(isinstance(s, dict) and s.get("name") for s in services):
        raise AnsibleFilterError("scenario_services: expects a list of mappings with name and subsets, got %r"
                                 % (services,))
    try:
        return compile_services(services, weights, user_route, fault, default_subset, user_match, subset_label,
                                user_route_name, fault_route_name, fault_expires_in)
    except MeshError as err:
        raise AnsibleFilterError("scenario_services: %s" % err)


class FilterModule(object):
    def filters(self):
        return {"scenario_services": scenario_services}
