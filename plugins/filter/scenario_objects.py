# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: scenario_objects
short_description: The DestinationRules and VirtualServices a BookInfo scenario leaves in the cluster
version_added: 0.1.0
description:
  - Builds, without reading the cluster, the Istio objects that the P(ack.servicemesh.servicemesh#role) role
    writes into an empty namespace from the same variables (with M(ack.servicemesh.mesh_routing)), so that
    M(ack.servicemesh.mesh_analyze), M(ack.servicemesh.route_simulate) and P(ack.servicemesh.predict_outcome#filter)
    can check a scenario before it is applied.
  - One DestinationRule per service, with one subset per name selected by the O(subset_label) label.
  - One VirtualService per service, with its routes in the order the role places them in an empty
    VirtualService - the user route O(user_route_name), then the fault route O(fault_route_name), then the
    default route C(default) with the weights. The fault route sends traffic where the default route does.
  - A fault for the user of the user route, on the same service, goes into the user route and keeps its
    destination, since a separate fault route for that user would never be reached.
  - The objects are computed by the same code as M(ack.servicemesh.mesh_routing) applies to a namespace, here to
    an empty one; they carry the annotation C(servicemesh.ack.io/managed-by) that a created object gets.
  - Input is checked the way the role checks it (weights sum to 100, durations, percentages, subset names), and
    weights, a user route or a fault for a service that is not in the list is an error, because the role would
    silently do nothing with it.
author:
  - ack.servicemesh contributors (@ack-servicemesh)
options:
  _input:
    description: The services, as the role's C(servicemesh_services) - a list of C(name) and C(subsets).
    type: list
    elements: dict
    required: true
  namespace:
    description: Namespace of the objects.
    type: str
    default: default
  weights:
    description: "Service name to subset weights for its default route, for example V({reviews: {v1: 50, v3: 50}})."
    type: dict
  default_subset:
    description: Subset of a default route when O(weights) does not name the service.
    type: str
    default: v1
  subset_label:
    description: Pod label that selects a subset.
    type: str
    default: version
  user_route:
    description: The user route - C(service), C(user) and C(subset). Empty for none.
    type: dict
  fault:
    description:
      - The fault - C(service), C(user) (or C(all_users=true), which puts the fault on the default route), and
        C(delay) (C(fixed_delay), C(percentage) or C(percent)) and/or
        C(abort) (C(http_status) or C(grpc_status), C(percentage) or C(percent)), as the C(fault) of a
        M(ack.servicemesh.mesh_routing) route takes them. Empty for none.
    type: dict
  user_match:
    description: How routes recognise the user - the C(end-user) header, or the Istio 0.8 C(user) cookie regex.
    type: str
    choices: [header, cookie, cookie-0.8]
    default: header
  user_route_name:
    description: Name of the user route.
    type: str
    default: user-override
  fault_route_name:
    description: Name of the fault route.
    type: str
    default: fault-injection
notes:
  - Routes that others added to the live VirtualServices are not known here; the objects are what an empty
    namespace would hold after the role.
seealso:
  - module: ack.servicemesh.mesh_analyze
  - plugin: ack.servicemesh.predict_outcome
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Analyze the fault-delay scenario before applying it
  ack.servicemesh.mesh_analyze:
    proposed: "{{ servicemesh_services | ack.servicemesh.scenario_objects(namespace='bookinfo', user_route=user_route,
                  fault=fault) }}"
  vars:
    user_route: {service: reviews, user: jason, subset: v2}
    fault: {service: ratings, user: jason, delay: {fixed_delay: 7s, percentage: 100}}

- name: Predict what jason sees with a 50/50 split of reviews
  ansible.builtin.debug:
    msg: "{{ (objects | ack.servicemesh.predict_outcome(user='jason')).explanation }}"
  vars:
    objects: "{{ servicemesh_services | ack.servicemesh.scenario_objects(weights={'reviews': {'v1': 50, 'v3': 50}}) }}"
"""

RETURN = r"""
_value:
  description:
    - The DestinationRules, then the VirtualServices, as Kubernetes objects (C(apiVersion) V(networking.istio.io/v1),
      C(kind), C(metadata.name), C(metadata.namespace), C(spec) in Istio's camelCase).
  type: list
  elements: dict
"""

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problem
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.scenario import scenario_services

API_VERSION = "networking.istio.io/v1"
_INDEX = re.compile(r"services\[(\d+)\]")
# The option types of a route's fault.delay and fault.abort, which the role's module converts these values to.
FAULT_OPTIONS = {
    "delay": {"fixed_delay": str, "percentage": float, "percent": int},
    "abort": {"http_status": int, "grpc_status": str, "percentage": float, "percent": int},
}


def _mapping(value, field):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MeshError("must be a mapping", field=field, value=value)
    return value


def _convert(value, kind, field):
    """Templated values may arrive as strings; convert them as the module's argument spec would."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise MeshError("must be a %s" % ("string" if kind is str else "number"), field=field, value=value)
    if kind is str:
        return str(value)
    try:
        number = float(value)
    except ValueError:
        raise MeshError("must be a number", field=field, value=value)
    if kind is int:
        if not number.is_integer():
            raise MeshError("must be an integer", field=field, value=value)
        return int(number)
    return number


def _fault_part(fault, part):
    given = _mapping(fault.get(part), "fault.%s" % part)
    options = FAULT_OPTIONS[part]
    unknown = sorted(set(given) - set(options))
    if unknown:
        raise MeshError("unknown key; known: %s" % ", ".join(sorted(options)), field="fault.%s.%s" % (part, unknown[0]),
                        value=given[unknown[0]])
    return dict((key, _convert(value, options[key], "fault.%s.%s" % (part, key)))
                for key, value in given.items() if value is not None)


def _service_names(services):
    if not isinstance(services, list) or not services:
        raise MeshError("must be a non-empty list of services with name and subsets", field="services",
                        value=services)
    names = []
    for index, service in enumerate(services):
        if not isinstance(service, dict) or not isinstance(service.get("name"), str) or not service["name"]:
            raise MeshError("must be a mapping with name and subsets", field="services[%d]" % index, value=service)
        if service["name"] in names:
            raise MeshError("is listed twice", field="services[%d].name" % index, value=service["name"])
        if not isinstance(service.get("subsets"), list):
            raise MeshError("must be a list of subset names", field="services[%s].subsets" % service["name"],
                            value=service.get("subsets"))
        names.append(service["name"])
    return names


def _check_service(target, field, names):
    service = target.get("service")
    if service is not None and service not in names:
        raise MeshError("is not one of the services (%s), so the role would not route anything"
                        % ", ".join(names), field=field, value=service)
    return service


def _check_weights(weights, names):
    # Imported when called, not when this file loads (why: module_utils/_mesh/scenario.py).
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.routes import weighted_destinations

    for service, given in weights.items():
        _check_service({"service": service}, "weights.%s" % service, names)
        if not given:
            continue  # the role falls back to default_subset
        try:
            weighted_destinations(service, given or {})
        except MeshError as err:
            # weighted_destinations names its parameter; here the weights are one entry of a mapping.
            raise MeshError(problems=[Problem("weights.%s%s" % (service, p.field[len("weights"):]), p.message,
                                              p.value) for p in err.problems])


def _check_fault(fault):
    if not fault:
        return fault
    delay = _fault_part(fault, "delay")
    abort = _fault_part(fault, "abort")
    if not delay and not abort:
        raise MeshError("give delay and/or abort", field="fault", value=fault)
    if delay and "fixed_delay" not in delay:
        raise MeshError("is required", field="fault.delay.fixed_delay", value=None)
    if not fault.get("user") and not boolean(fault.get("all_users") or False, strict=False):
        raise MeshError("the fault has no user: set the user whose requests to %s it hits (fault_delay_user, "
                        "fault_abort_user), or all_users (fault_delay_all_users, fault_abort_all_users) to true "
                        "to hit every request" % fault.get("service"))
    return dict(fault, delay=delay or None, abort=abort or None)


def build_scenario_objects(services, namespace="default", weights=None, default_subset="v1", subset_label="version",
                           user_route=None, fault=None, user_match="header", user_route_name="user-override",
                           fault_route_name="fault-injection"):
    """DestinationRules then VirtualServices, as mesh_routing writes them into an empty namespace; MeshError if bad."""
    # Imported when called, not when this file loads (why: module_utils/_mesh/scenario.py).
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.planner import compile_objects
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.routes import USER_MATCH_CHOICES

    names = _service_names(services)
    weights = _mapping(weights, "weights")
    user_route = _mapping(user_route, "user_route")
    fault = _check_fault(_mapping(fault, "fault"))
    if user_match not in USER_MATCH_CHOICES:
        raise MeshError("must be one of %s" % ", ".join(USER_MATCH_CHOICES), field="user_match", value=user_match)
    _check_weights(weights, names)
    _check_service(user_route, "user_route.service", names)
    _check_service(fault, "fault.service", names)
    if user_route and not user_route.get("user"):
        raise MeshError("the user route has no user: set the user the role sends to %s %s (user_v2_user, "
                        "fault_delay_user, fault_abort_user)" % (user_route.get("service"), user_route.get("subset")))
    try:
        compiled = scenario_services(services, weights, user_route, fault, default_subset, user_match, subset_label,
                                     user_route_name, fault_route_name)
        return compile_objects(compiled, API_VERSION, namespace)
    except MeshError as err:
        # The planner names services by their index in the compiled list; here they are named by service.
        def by_name(text):
            return _INDEX.sub(lambda m: "services[%s]" % names[int(m.group(1))], text) if text else text

        raise MeshError(by_name(err.msg), problems=[Problem(by_name(p.field), p.message, p.value)
                                                    for p in err.problems])


def scenario_objects(services, namespace="default", weights=None, default_subset="v1", subset_label="version",
                     user_route=None, fault=None, user_match="header", user_route_name="user-override",
                     fault_route_name="fault-injection"):
    try:
        return build_scenario_objects(services, namespace, weights, default_subset, subset_label, user_route, fault,
                                      user_match, user_route_name, fault_route_name)
    except MeshError as err:
        raise AnsibleFilterError("scenario_objects: %s" % err)


class FilterModule:
    def filters(self):
        return {"scenario_objects": scenario_objects}
