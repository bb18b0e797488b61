#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: http_route
short_description: Manage one named HTTP route of an Istio VirtualService
version_added: 0.1.0
description:
  - Adds, updates or removes one entry of a VirtualService's C(http) list, identified by its C(name). Creates the
    VirtualService when it is missing.
  - Routes with other names keep their content and their order. Concurrent jobs editing different routes of the
    same VirtualService do not lose each other's changes (read-modify-write with the object's resourceVersion,
    re-applied on conflict).
  - A new route goes just above the default route (the trailing route without match conditions) unless O(before)
    or O(after) says otherwise; nothing is ever placed after the default route, where it could not be reached.
  - The route is validated with Istio's own rules before anything is written; an error names the field and value.
author:
  - ack.servicemesh contributors (@ack-servicemesh)
extends_documentation_fragment:
  - ack.servicemesh.auth
  - ack.servicemesh.attributes
  - ack.servicemesh.route_target
  - ack.servicemesh.route_target.user
options:
  name:
    description: Name of the route (Istio's C(http[].name)); the route is owned by this name.
    type: str
    required: true
  state:
    description: Whether the route should exist.
    type: str
    choices: [present, absent]
    default: present
  headers:
    description:
      - Request headers to match, header name to a string (exact match) or to a mapping with one of C(exact),
        C(prefix) or C(regex) (RE2, matched against the whole value). ANDed with the other conditions.
    type: dict
  uri:
    description: Match the path; a string (exact) or a mapping with one of C(exact), C(prefix), C(regex).
    type: raw
  query_params:
    description: Query parameters to match, name to a string (exact) or a mapping as for O(headers).
    type: dict
  method:
    description: Match the HTTP method exactly.
    type: str
  match:
    description:
      - Further match blocks as in Istio's YAML (camelCase). Blocks are ORed with the block built from O(user),
        O(headers), O(uri), O(query_params) and O(method).
    type: list
    elements: dict
  subset:
    description: Send matching traffic to this subset of O(host). Mutually exclusive with O(destinations).
    type: str
  destinations:
    description: Weighted destinations for matching traffic.
    type: list
    elements: dict
    suboptions:
      subset:
        description: Subset of the destination host.
        type: str
      weight:
        description: Integer weight, at least 0.
        type: int
      port:
        description: Destination port number.
        type: int
      host:
        description: Destination host; defaults to O(host).
        type: str
  fault:
    description: Fault to inject into matching traffic.
    type: dict
    suboptions:
      delay:
        description: Delay requests before forwarding them.
        type: dict
        suboptions:
          fixed_delay:
            description: The delay, as a duration such as V(7s) or V(500ms) (whole milliseconds, at least 1ms).
            type: str
            required: true
          percentage:
            description: Percentage of matching requests to delay (0 to 100); 100 when omitted.
            type: float
          percent:
            description: The Istio 0.8 integer form of O(fault.delay.percentage); written as C(percentage).
            type: int
      abort:
        description: Answer requests with an error instead of forwarding them.
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
              - The Istio 0.8 integer form of O(fault.abort.percentage); written as C(percentage), because current
                API servers silently drop C(abort.percent).
            type: int
  timeout:
    description: Timeout for matching requests, as a duration such as V(10s).
    type: str
  retries:
    description: Retry policy for matching requests.
    type: dict
    suboptions:
      attempts:
        description: Number of retries.
        type: int
        required: true
      per_try_timeout:
        description: Timeout of each try, as a duration.
        type: str
      retry_on:
        description: Comma-separated retry conditions such as V(5xx,connect-failure).
        type: str
  before:
    description: Place the route just before the route with this name.
    type: str
  after:
    description: Place the route just after the route with this name (never after the default route).
    type: str
"""

EXAMPLES = r"""
- name: Send jason to reviews v2 (current BookInfo, end-user header)
  ack.servicemesh.http_route:
    host: reviews
    name: user-override
    user: jason
    subset: v2

- name: The same for an Istio 0.8 BookInfo (cookie user=jason)
  ack.servicemesh.http_route:
    host: reviews
    name: user-override
    user: jason
    user_match: cookie
    subset: v2

- name: Canary for beta testers with a timeout and retries
  ack.servicemesh.http_route:
    host: reviews
    name: beta
    headers:
      x-beta: "true"
    destinations:
      - {subset: v1, weight: 80}
      - {subset: v3, weight: 20}
    timeout: 10s
    retries: {attempts: 2, per_try_timeout: 3s, retry_on: "5xx,connect-failure"}

- name: Remove the route again
  ack.servicemesh.http_route:
    host: reviews
    name: beta
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
position:
  description: Index of the route in the C(http) list afterwards; null when absent.
  returned: always
  type: int
  sample: 0
result:
  description: The VirtualService as the API server holds it afterwards (in check mode, as it would hold it).
  returned: always
  type: dict
"""

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problems
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module import MeshModule
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.routes import (
    ROUTE_ARGUMENT_SPEC, ROUTE_MUTUALLY_EXCLUSIVE, at_index, build_http_route, converge_http, find_route,
    intended_index, place_route, remove_route)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import legacy_weights_for


def run(mesh):
    params = mesh.params
    present = params["state"] == "present"
    problems = Problems()
    route = None
    if present:
        route = build_http_route(params, problems=problems)
        if not problems:
            # What only an Istio before 1.15 refuses (relative weights) is known once its version is.
            build_http_route(params, legacy_weights=legacy_weights_for(mesh.api_version), problems=problems)
    name = params["virtual_service"] or params["host"].split(".")[0]

    def edit(http, obj):
        if not present:
            return remove_route(http, params["name"])
        try:
            http, position = place_route(http, route, params["before"], params["after"])
        except MeshError:
            # A bad match can make the route look like a catch-all: the bad input is the cause to report.
            where = intended_index(http, params["name"], params["before"], params["after"])
            at_index(problems, params["name"], where, placed=False).raise_if_any()
            raise
        # Problems are reported once the route's place is known, so they name it as spec.http[<index>].
        at_index(problems, params["name"], position).raise_if_any()
        return http

    outcome = converge_http(mesh, name, params["host"], edit, params["check_subsets"], create=present)
    http = ((outcome.after or {}).get("spec") or {}).get("http")
    mesh.exit_outcome(outcome, position=find_route(http, params["name"]))


def main():
    mesh = MeshModule(
        argument_spec=dict(
            ROUTE_ARGUMENT_SPEC,
            host=dict(type="str", required=True),
            virtual_service=dict(type="str"),
            namespace=dict(type="str"),
            check_subsets=dict(type="bool", default=True),
        ),
        mutually_exclusive=ROUTE_MUTUALLY_EXCLUSIVE,
        supports_check_mode=True,
    )
    mesh.run(run)


if __name__ == "__main__":
    main()
