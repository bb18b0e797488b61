#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: fault_injection
short_description: Inject a delay or an abort into one user's requests to a service
version_added: 0.1.0
description:
  - Adds a named route above the service's default route that matches one user and injects a fixed delay, an
    abort (HTTP or gRPC status), or both. Matching requests keep going where the default route sends them.
  - With O(state=absent) the route is removed and the routing is exactly as it was before.
  - A fault that matches every user needs O(allow_unscoped_fault=true), so a typo cannot break a whole service.
author:
  - ack.servicemesh contributors (@ack-servicemesh)
extends_documentation_fragment:
  - ack.servicemesh.auth
  - ack.servicemesh.attributes
  - ack.servicemesh.route_target
  - ack.servicemesh.route_target.user
options:
  name:
    description: Name of the fault route.
    type: str
    default: fault-injection
  state:
    description: Whether the fault should be injected.
    type: str
    choices: [present, absent]
    default: present
  delay:
    description: Delay matching requests before forwarding them.
    type: dict
    suboptions:
      fixed_delay:
        description: The delay, as a duration such as V(7s) (whole milliseconds, at least 1ms).
        type: str
        required: true
      percentage:
        description: Percentage of matching requests to delay (0 to 100); 100 when omitted.
        type: float
      percent:
        description: The Istio 0.8 integer form of O(delay.percentage); written as C(percentage).
        type: int
  abort:
    description: Answer matching requests with an error instead of forwarding them.
    type: dict
    suboptions:
      http_status:
        description: HTTP status to answer with (200 to 599).
        type: int
      grpc_status:
        description: gRPC status name to answer with, such as V(UNAVAILABLE).
        type: str
      percentage:
        description: Percentage of matching requests to abort (0 to 100); 100 when omitted.
        type: float
      percent:
        description:
          - The Istio 0.8 integer form of O(abort.percentage); written as C(percentage), because current API
            servers silently drop C(abort.percent) and the abort would never fire.
        type: int
  subset:
    description:
      - Where the faulted requests go. Defaults to the destinations of the service's default route, so the
        user's routing does not change; required when the service has no default route yet.
    type: str
  allow_unscoped_fault:
    description: Allow a fault without O(user), which hits every request to the service.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Delay ratings by 7 seconds for jason
  ack.servicemesh.fault_injection:
    host: ratings
    user: jason
    delay:
      fixed_delay: 7s

- name: Let ratings answer HTTP 500 to jason
  ack.servicemesh.fault_injection:
    host: ratings
    user: jason
    abort:
      http_status: 500

- name: Stop the experiment
  ack.servicemesh.fault_injection:
    host: ratings
    state: absent
"""

RETURN = r"""
action:
  description: What was done to the VirtualService.
  returned: always
  type: str
  sample: updated
  choices: [created, updated, deleted, unchanged]
api_version:
  description: The C(networking.istio.io) version used.
  returned: always
  type: str
  sample: v1
result:
  description: The VirtualService as the API server holds it afterwards (in check mode, as it would hold it).
  returned: always
  type: dict
"""

import copy

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problems
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module import MeshModule
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.routes import (
    build_destinations, build_fault, build_match, check_route, converge_http, default_route_index, place_route,
    remove_route)

PERCENT_OPTIONS = dict(percentage=dict(type="float"), percent=dict(type="int"))


def build_fault_route(params):
    """The fault route without its destinations (they come from the live default route)."""
    problems = Problems()
    if not params["delay"] and not params["abort"]:
        problems.add("delay", "give delay and/or abort", None)
    if not params["user"] and not params["allow_unscoped_fault"]:
        problems.add("user", "a fault without a user hits every request to %s; set allow_unscoped_fault=true "
                     "if that is really meant" % params["host"], params["user"])
    match = build_match(params, problems) or [{"uri": {"prefix": "/"}}]
    route = {"name": params["name"], "match": match, "fault": build_fault(params["delay"], params["abort"], problems)}
    probe = dict(route, route=build_destinations(params["host"], None, params["subset"] or "placeholder"))
    check_route(probe, params["host"], problems)
    problems.raise_if_any()
    return route


def run(mesh):
    params = mesh.params
    present = params["state"] == "present"
    route = build_fault_route(params) if present else None

    def edit(http, obj):
        if not present:
            return remove_route(http, params["name"])
        default = default_route_index(http)
        if params["subset"]:
            destinations = build_destinations(params["host"], None, params["subset"])
        elif default is not None:
            destinations = copy.deepcopy(http[default].get("route"))
        else:
            raise MeshError("the service has no default route to copy destinations from; give the subset",
                            field="subset", value=None)
        if default is None:
            http.append({"name": "default", "route": copy.deepcopy(destinations)})
        return place_route(http, dict(route, route=destinations))[0]

    name = params["virtual_service"] or params["host"].split(".")[0]
    mesh.exit_outcome(converge_http(mesh, name, params["host"], edit, params["check_subsets"], create=present))


def main():
    mesh = MeshModule(
        argument_spec=dict(
            host=dict(type="str", required=True),
            virtual_service=dict(type="str"),
            namespace=dict(type="str"),
            check_subsets=dict(type="bool", default=True),
            name=dict(type="str", default="fault-injection"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            user=dict(type="str"),
            user_match=dict(type="str", choices=["header", "cookie"], default="header"),
            user_header=dict(type="str", default="end-user"),
            user_cookie=dict(type="str", default="user"),
            delay=dict(type="dict", options=dict(fixed_delay=dict(type="str", required=True), **PERCENT_OPTIONS)),
            abort=dict(type="dict", options=dict(http_status=dict(type="int"), grpc_status=dict(type="str"),
                                                 **PERCENT_OPTIONS)),
            subset=dict(type="str"),
            allow_unscoped_fault=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    mesh.run(run)


if __name__ == "__main__":
    main()
