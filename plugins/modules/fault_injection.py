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
  - A fault without O(user) (with O(allow_unscoped_fault=true)) hits every request, so it is put on the default
    route itself rather than on a catch-all route above it, which would leave the default route unreachable. The
    annotation C(servicemesh.ack.io/default-route-fault) names the fault route it stands for; a fault someone
    else put on the default route is never replaced.
  - With O(state=absent) the fault is removed, wherever it is, and the routing is exactly as it was before. When
    that leaves the VirtualService without routes, a VirtualService the collection created is deleted and one it
    saved the spec of gets that spec back.
  - 'Guardrails: a fault that matches every user, or that hits more than O(percentage_threshold) percent of the
    requests it matches, needs O(allow_unscoped_fault=true), so a typo cannot break a whole service.'
  - With O(expires_in) or O(expires_at) the VirtualService carries the annotation
    C(servicemesh.ack.io/fault-expires.<name>) with the time the fault ends (RFC 3339, UTC);
    M(ack.servicemesh.fault_expiry) (the role C(ack.servicemesh.expire_faults), on a schedule) removes the fault
    once that time has passed, even when the job that injected it never came back.
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
    description:
      - Consent to a fault with a large blast radius. Required for a fault without O(user), which hits every
        request to the service, and for a fault whose delay or abort percentage is above O(percentage_threshold).
    type: bool
    default: false
  percentage_threshold:
    description:
      - A fault that delays or aborts more than this percentage of the requests it matches needs
        O(allow_unscoped_fault=true), even when it matches one user.
      - The default, V(100), only guards faults without a user. Lower it, for example with C(module_defaults)
        for C(ack.servicemesh.fault_injection), to require the same consent for large faults on one user.
    type: float
    default: 100
  expires_in:
    description:
      - How long the fault may stay, as a duration such as V(30m), V(2h) or V(1h30m), or a number of seconds.
      - The expiry is set when the fault is injected or changed. Re-running the same fault before it expires keeps
        the expiry already set, so the task stays idempotent; use O(expires_at) to move it.
      - Mutually exclusive with O(expires_at). Without either, any expiry of this route is removed.
    type: str
  expires_at:
    description:
      - When the fault must stop, as an RFC 3339 time such as V(2026-08-01T18:00:00Z) (offsets are converted to
        UTC). Must be in the future.
    type: str
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

- name: Abort 10% of every request to ratings for 30 minutes (a game day)
  ack.servicemesh.fault_injection:
    host: ratings
    abort:
      http_status: 503
      percentage: 10
    allow_unscoped_fault: true
    expires_in: 30m

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
expires_at:
  description: When the fault ends (RFC 3339, UTC); null when it has no expiry or is absent.
  returned: always
  type: str
  sample: "2026-08-01T18:00:00Z"
"""

import copy

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problems
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.expiry import (
    annotation_key, expiry_from_params, format_time, parse_time, utcnow)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module import MeshModule
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.routes import (
    USER_MATCH_CHOICES, at_index, build_destinations, build_fault, build_match, check_route, converge_http,
    default_route_index, fill_from_default, find_route, has_fault, intended_index, place_route, put_default_fault,
    remove_fault, remove_route, take_default_fault)

PERCENT_OPTIONS = dict(percentage=dict(type="float"), percent=dict(type="int"))


def check_guardrails(params, fault, problems):
    """A fault that can hit everybody, or most of what it matches, needs explicit consent."""
    if params.get("allow_unscoped_fault"):
        return
    if not params.get("user"):
        problems.add("user", "a fault without a user hits every request to %s; set allow_unscoped_fault=true "
                     "if that is really meant" % params["host"], params.get("user"))
    threshold = params.get("percentage_threshold")
    threshold = 100 if threshold is None else threshold
    for kind in ("delay", "abort"):
        value = ((fault or {}).get(kind) or {}).get("percentage", {}).get("value")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > threshold:
            problems.add("%s.percentage" % kind, "is above percentage_threshold (%s); set allow_unscoped_fault=true "
                         "if a fault this large is really meant" % threshold, value)


def build_fault_route(params):
    """The fault route without its destinations (they come from the live default route), and what is wrong with it.

    A fault without match conditions has no route of its own: it goes on the default route (`place_fault`), and
    the returned route has no ``match``. The problems are raised once the route's index is known (`at_index`).
    """
    problems = Problems()
    if not params["delay"] and not params["abort"]:
        problems.add("delay", "give delay and/or abort", None)
    threshold = params.get("percentage_threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                  or not 0 <= threshold <= 100):
        problems.add("percentage_threshold", "must be a number from 0 to 100", threshold)
        threshold = None
    route = {"name": params["name"], "fault": build_fault(params["delay"], params["abort"], problems)}
    match = build_match(params, problems)
    if match:
        route["match"] = match
    check_guardrails(dict(params, percentage_threshold=threshold), route["fault"], problems)
    probe = dict(route, route=build_destinations(params["host"], None, params["subset"] or "placeholder"))
    if not match:
        # Checked as the default route it will be part of.
        probe["match"] = [{"uri": {"prefix": "/"}}]
    check_route(probe, params["host"], problems)
    return route, problems


def place_fault(params, route, http, annotations):
    """The http list with the fault in place: its own route above the default route, or on the default route."""
    http = list(http)
    destinations = build_destinations(params["host"], None, params["subset"]) if params["subset"] else None
    if "match" not in route:
        if destinations is not None and default_route_index(http) is not None:
            raise MeshError("a fault for every request goes on the default route and keeps its destinations; "
                            "subset only says where a default route that does not exist yet sends traffic",
                            field="subset", value=params["subset"])
        if destinations is not None:
            http.append({"name": "default", "route": destinations})
        # An unscoped fault of an earlier release was a catch-all route of this name; it goes away.
        return put_default_fault(remove_route(http, params["name"]), annotations, params["name"], route["fault"])
    http = take_default_fault(http, annotations, params["name"])
    if destinations is None:
        return place_route(http, fill_from_default(http, dict(route, route=None)))[0]
    if default_route_index(http) is None:
        http.append({"name": "default", "route": copy.deepcopy(destinations)})
    return place_route(http, dict(route, route=destinations))[0]


def expiry_key(params, expires):
    """The annotation of this route's expiry; a name that cannot be part of a key fails only when one is wanted."""
    key = annotation_key(params["name"])
    if key is None and expires is not None:
        raise MeshError("cannot carry an expiry: the annotation key servicemesh.ack.io/fault-expires.<name> allows at "
                        "most 49 characters here, letters, digits, '-', '_' and '.', alphanumeric at both ends",
                        field="name", value=params["name"])
    return key


def set_expiry(annotations, key, expires, keep_current, now):
    """Write, keep or drop the expiry annotation of one fault route."""
    if key is None:
        return
    if expires is None:
        annotations.pop(key, None)
        return
    if keep_current:
        try:
            if parse_time(annotations.get(key)) > now:
                return
        except ValueError:
            pass
    annotations[key] = format_time(expires)


def run(mesh):
    params = mesh.params
    present = params["state"] == "present"
    route, problems = build_fault_route(params) if present else (None, None)
    now = utcnow()
    expires = expiry_from_params(params, now) if present else None
    key = expiry_key(params, expires)

    def edit(http, obj):
        metadata = obj.setdefault("metadata", {})
        annotations = dict(metadata.get("annotations") or {})
        if not present:
            annotations.pop(key, None)
            http = remove_fault(http, annotations, params["name"])
            metadata["annotations"] = annotations
            return http
        before = fault_of(http, annotations)
        try:
            result = place_fault(params, route, http, annotations)
        except MeshError:
            # Bad input is the cause to report, at the index the fault would have had.
            at_index(problems, params["name"], fault_index(http, "match" in route),
                     placed=False).raise_if_any()
            raise
        at_index(problems, params["name"], fault_index(result, "match" in route)).raise_if_any()
        # expires_in counts from when this fault was injected: the same fault, re-applied, keeps its expiry.
        unchanged = before is not None and before == fault_of(result, annotations)
        set_expiry(annotations, key, expires, params["expires_in"] is not None and unchanged, now)
        metadata["annotations"] = annotations
        return result

    def fault_index(http, scoped):
        """The index of the route that carries (or would carry) this fault."""
        if scoped:
            return intended_index(http, params["name"])
        index = default_route_index(http)
        return len(http) if index is None else index

    def fault_of(http, annotations):
        """The route that carries this fault, or None."""
        if not has_fault(http, annotations, params["name"]):
            return None
        index = find_route(http, params["name"])
        return http[index if index is not None else default_route_index(http)]

    name = params["virtual_service"] or params["host"].split(".")[0]
    outcome = converge_http(mesh, name, params["host"], edit, params["check_subsets"], create=present)
    annotations = ((outcome.after or {}).get("metadata") or {}).get("annotations") or {}
    mesh.exit_outcome(outcome, expires_at=annotations.get(key) if present and key else None)


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
            user_match=dict(type="str", choices=USER_MATCH_CHOICES, default="header"),
            user_header=dict(type="str", default="end-user"),
            user_cookie=dict(type="str", default="user"),
            delay=dict(type="dict", options=dict(fixed_delay=dict(type="str", required=True), **PERCENT_OPTIONS)),
            abort=dict(type="dict", options=dict(http_status=dict(type="int"), grpc_status=dict(type="str"),
                                                 **PERCENT_OPTIONS)),
            subset=dict(type="str"),
            allow_unscoped_fault=dict(type="bool", default=False),
            percentage_threshold=dict(type="float", default=100),
            expires_in=dict(type="str"),
            expires_at=dict(type="str"),
        ),
        mutually_exclusive=[("expires_in", "expires_at")],
        supports_check_mode=True,
    )
    mesh.run(run)


if __name__ == "__main__":
    main()
