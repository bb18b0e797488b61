# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Pure, route-level editing of a VirtualService's ``http`` list.

A route is owned by its ``name``. Editing one route never changes the content
or the order of the others, and nothing is placed after the catch-all default
route, where it could never be reached.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import same
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.converge import converge
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problems
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.semantics import is_catch_all
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.subsets import SubsetCheck
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import (
    DNS1123_LABEL_MESSAGE, INT32_MAX, is_dns1123_label, validate_host, validate_port, validate_virtual_service)

# Istio 0.8/1.0 BookInfo identifies the user by this cookie; the regex is Istio's own, kept verbatim so the
# objects equal the 0.8 samples. It does not match when a space follows the ';' before user=.
COOKIE_REGEX = "^(.*?;)?(%s=%s)(;.*)?$"
STRING_MATCH_KINDS = ("exact", "prefix", "regex")
# A weight given as text; str.isdigit() would also take digits such as '¹' that int() refuses.
_INTEGER = re.compile(r"^\s*-?[0-9]+\s*$")

_PERCENT_OPTIONS = dict(percentage=dict(type="float"), percent=dict(type="int"))
FAULT_OPTIONS = dict(
    delay=dict(type="dict", options=dict(fixed_delay=dict(type="str", required=True), **_PERCENT_OPTIONS)),
    abort=dict(type="dict", options=dict(http_status=dict(type="int"), grpc_status=dict(type="str"),
                                         **_PERCENT_OPTIONS)),
)
# One route's options, shared by http_route and mesh_routing (which takes a list of them).
ROUTE_ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    user=dict(type="str"),
    user_match=dict(type="str", choices=["header", "cookie"], default="header"),
    user_header=dict(type="str", default="end-user"),
    user_cookie=dict(type="str", default="user"),
    headers=dict(type="dict"),
    uri=dict(type="raw"),
    query_params=dict(type="dict"),
    method=dict(type="str"),
    match=dict(type="list", elements="dict"),
    subset=dict(type="str"),
    destinations=dict(type="list", elements="dict", options=dict(
        subset=dict(type="str"), weight=dict(type="int"), port=dict(type="int"), host=dict(type="str"))),
    fault=dict(type="dict", options=FAULT_OPTIONS),
    timeout=dict(type="str"),
    retries=dict(type="dict", options=dict(
        attempts=dict(type="int", required=True), per_try_timeout=dict(type="str"), retry_on=dict(type="str"))),
    before=dict(type="str"),
    after=dict(type="str"),
)
ROUTE_MUTUALLY_EXCLUSIVE = [("subset", "destinations"), ("before", "after")]


def default_route_index(http):
    """Index of the trailing catch-all route (the service's default route), or None."""
    if http and is_catch_all(http[-1]):
        return len(http) - 1
    return None


def find_route(http, name):
    for index, route in enumerate(http or []):
        if isinstance(route, dict) and route.get("name") == name:
            return index
    return None


def _regex_escape(text):
    return "".join("\\" + ch if ch in ".^$*+?()[]{}|\\" else ch for ch in text)


def user_condition(user, user_match="header", header="end-user", cookie="user"):
    """The match block condition that identifies one user, as current or Istio 0.8-era BookInfo does it."""
    if user_match == "cookie":
        return {"cookie": {"regex": COOKIE_REGEX % (_regex_escape(cookie), _regex_escape(user))}}
    return {header: {"exact": user}}


def _string_match(value, field, problems):
    """Accept `{exact|prefix|regex: v}` or a bare string (meaning exact)."""
    if isinstance(value, str):
        return {"exact": value}
    if isinstance(value, dict) and len(value) == 1 and list(value)[0] in STRING_MATCH_KINDS:
        return dict(value)
    problems.add(field, "must be a string (exact match) or a mapping with one of exact, prefix, regex", value)
    return None


def build_match(params, problems):
    """One match block from the shortcut options (ANDed), plus any raw blocks (ORed). None means catch-all."""
    block = {}
    headers = {}
    if params.get("user"):
        headers.update(user_condition(params["user"], params.get("user_match") or "header",
                                      params.get("user_header") or "end-user", params.get("user_cookie") or "user"))
    for key, value in (params.get("headers") or {}).items():
        match = _string_match(value, "headers.%s" % key, problems)
        if match is not None:
            headers[str(key)] = match
    if headers:
        block["headers"] = headers
    if params.get("uri") is not None:
        match = _string_match(params["uri"], "uri", problems)
        if match is not None:
            block["uri"] = match
    query = {}
    for key, value in (params.get("query_params") or {}).items():
        match = _string_match(value, "query_params.%s" % key, problems)
        if match is not None:
            query[str(key)] = match
    if query:
        block["queryParams"] = query
    if params.get("method"):
        block["method"] = {"exact": params["method"]}
    blocks = [block] if block else []
    for index, raw in enumerate(params.get("match") or []):
        if not isinstance(raw, dict) or not raw:
            problems.add("match[%d]" % index, "must be a non-empty mapping of conditions", raw)
            continue
        blocks.append(raw)
    return blocks or None


def build_destinations(host, destinations, subset=None, problems=None):
    """Istio route destinations from `[{subset, weight, port, host}]` or one `subset`."""
    problems = problems if problems is not None else Problems()
    if destinations is None:
        destinations = [{"subset": subset}] if subset else [{}]
    result = []
    for index, item in enumerate(destinations):
        where = "destinations[%d]" % index
        if not isinstance(item, dict):
            problems.add(where, "must be a mapping with subset, weight, port or host", item)
            continue
        dest = {"host": item.get("host") or host}
        if item.get("subset") is not None:
            dest["subset"] = item["subset"]
        if item.get("port") is not None:
            dest["port"] = {"number": item["port"]}
        entry = {"destination": dest}
        if item.get("weight") is not None:
            entry["weight"] = item["weight"]
        result.append(entry)
    if len(result) == 1 and result[0].get("weight") == 100:
        del result[0]["weight"]
    return result


def _percentage(part, where, problems):
    if part.get("percentage") is not None and part.get("percent") is not None:
        problems.add(where + ".percent", "set percentage or percent, not both", part.get("percent"))
    value = part.get("percentage") if part.get("percentage") is not None else part.get("percent")
    return {"value": 100 if value is None else value}


def build_fault(delay=None, abort=None, problems=None):
    """Istio's fault block from snake_case options; a missing percentage means every request."""
    problems = problems if problems is not None else Problems()
    fault = {}
    for kind, part in (("delay", delay), ("abort", abort)):
        if part is not None and not isinstance(part, dict):
            problems.add("fault.%s" % kind, "must be a mapping", part)
    delay = delay if isinstance(delay, dict) else None
    abort = abort if isinstance(abort, dict) else None
    if delay:
        fault["delay"] = {"fixedDelay": delay.get("fixed_delay"),
                          "percentage": _percentage(delay, "fault.delay", problems)}
    if abort:
        entry = {"percentage": _percentage(abort, "fault.abort", problems)}
        if abort.get("http_status") is not None:
            entry["httpStatus"] = abort["http_status"]
        if abort.get("grpc_status") is not None:
            entry["grpcStatus"] = abort["grpc_status"]
        fault["abort"] = entry
    return fault or None


def build_retries(retries):
    if retries is None:
        return None
    result = {"attempts": retries.get("attempts")}
    if retries.get("per_try_timeout") is not None:
        result["perTryTimeout"] = retries["per_try_timeout"]
    if retries.get("retry_on") is not None:
        result["retryOn"] = retries["retry_on"]
    return result


def check_route(route, host, problems):
    """Validate one route with Istio's rules; fields are named `http[<route name>].<Istio field path>`."""
    found = validate_virtual_service({"hosts": [host], "http": [route]}, path="spec")
    label = "http[%s]" % route.get("name")
    for problem in found.items:
        if problem.field and problem.field.startswith("spec.http[0]"):
            problem.field = label + problem.field[len("spec.http[0]"):]
        problems.items.append(problem)


def build_http_route(params, follow_default=False):
    """A whole route from http_route-style parameters, validated before any request is made.

    With ``follow_default`` and neither subset nor destinations given, the
    route has no destinations yet: `fill_from_default` copies the default
    route's, so matching requests keep going where they went before.
    """
    problems = Problems()
    route = {"name": params["name"]}
    match = build_match(params, problems)
    if match:
        route["match"] = match
    follows = follow_default and not params.get("subset") and params.get("destinations") is None
    route["route"] = build_destinations(params["host"], params.get("destinations"),
                                        params.get("subset") or ("placeholder" if follows else None), problems)
    fault = params.get("fault") or {}
    built = build_fault(fault.get("delay"), fault.get("abort"), problems)
    if built:
        route["fault"] = built
    if params.get("timeout") is not None:
        route["timeout"] = params["timeout"]
    retries = build_retries(params.get("retries"))
    if retries:
        route["retries"] = retries
    check_route(route, params["host"], problems)
    problems.raise_if_any()
    if follows:
        route["route"] = None
    return route


def fill_from_default(http, route, field="subset"):
    """Give a route that follows the default route a copy of the default route's destinations."""
    if route.get("route") is not None:
        return route
    index = default_route_index(http)
    if index is None:
        raise MeshError("the service has no default route to copy destinations from; give the subset",
                        field=field, value=None)
    return dict(route, route=copy.deepcopy(http[index].get("route")))


def place_route(http, route, before=None, after=None):
    """Insert or update the route named route['name'].

    An existing route keeps its place unless before/after says otherwise; a
    new one goes just above the default route (or last when there is none).
    """
    http = copy.deepcopy(http or [])
    name = route["name"]
    current = find_route(http, name)
    if current is not None and before is None and after is None:
        http[current] = route
        if is_catch_all(route) and current != len(http) - 1:
            raise MeshError("a route without match conditions takes every request; routes after it at "
                            "position %d would never be reached" % current, field="name", value=name)
        return http, current
    if current is not None:
        del http[current]
    catch_all = default_route_index(http)
    if is_catch_all(route):
        if catch_all is not None:
            raise MeshError("a route without match conditions would shadow the existing default route %r; "
                            "change that one (ack.servicemesh.traffic_shift) or add match conditions"
                            % http[catch_all].get("name", "(unnamed)"), field="name", value=name)
        if before is not None or after is not None:
            raise MeshError("a route without match conditions must be the last route", field="before" if before
                            else "after", value=before or after)
        http.append(route)
        return http, len(http) - 1
    if after is not None:
        anchor = find_route(http, after)
        if anchor is None:
            raise MeshError("no route with this name in the VirtualService", field="after", value=after)
        if anchor == catch_all:
            raise MeshError("that is the catch-all default route; nothing after it is ever reached",
                            field="after", value=after)
        position = anchor + 1
    elif before is not None:
        position = find_route(http, before)
        if position is None:
            raise MeshError("no route with this name in the VirtualService", field="before", value=before)
    else:
        position = catch_all if catch_all is not None else len(http)
    http.insert(position, route)
    return http, position


def remove_route(http, name):
    http = copy.deepcopy(http or [])
    index = find_route(http, name)
    if index is not None:
        del http[index]
    return http


def weighted_destinations(host, weights, port=None, relative=False):
    """Destinations of a traffic shift; raises MeshError naming weights.<subset> on bad input."""
    problems = Problems()
    if not isinstance(weights, dict) or not weights:
        problems.add("weights", "must be a non-empty mapping of subset name to integer weight", weights)
        problems.raise_if_any()
    weights = dict(weights)
    for subset, weight in weights.items():
        # Templated and survey values arrive as strings.
        if isinstance(weight, str) and _INTEGER.match(weight):
            weights[subset] = weight = int(weight)
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            problems.add("weights.%s" % subset, "must be an integer >= 0", weight)
        elif weight > INT32_MAX:
            problems.add("weights.%s" % subset, "must be at most %d" % INT32_MAX, weight)
        if not is_dns1123_label(str(subset)):
            problems.add("weights.%s" % subset, "the subset name %s" % DNS1123_LABEL_MESSAGE, subset)
    validate_host(host, "host", problems, allow_ip=True, allow_wildcard=False)
    if port is not None:
        validate_port(port, "port", problems)
    problems.raise_if_any()
    total = sum(weights.values())
    if total <= 0:
        problems.add("weights", "must give at least one subset a weight above 0", weights)
    elif not relative and total != 100:
        problems.add("weights", "must sum to 100 (they sum to %d); Istio before 1.15 rejects anything else, "
                     "set relative_weights=true to use relative weights" % total, weights)
    problems.raise_if_any()
    destinations = []
    for subset, weight in weights.items():
        dest = {"host": host, "subset": str(subset)}
        if port is not None:
            dest["port"] = {"number": port}
        destinations.append({"destination": dest, "weight": weight})
    if len(destinations) == 1:
        del destinations[0]["weight"]
    return destinations


def new_virtual_service(api_version, name, namespace, host):
    return {"apiVersion": api_version, "kind": "VirtualService", "metadata": {"name": name, "namespace": namespace},
            "spec": {"hosts": [host], "http": []}}


def converge_http(mesh, name, host, edit, check_subsets=True, create=True):
    """Converge one VirtualService by editing its http list; ``edit(http)`` returns the new list.

    ``edit`` may return None to ask for the VirtualService's removal (only used
    when the collection itself created it and nothing else is left).
    """
    resources = mesh.resources("VirtualService")
    namespace = mesh.namespace()
    subsets = SubsetCheck(mesh, namespace) if check_subsets else None

    def change(live):
        if live is None and not create:
            return None
        before = copy.deepcopy(live)
        obj = live or new_virtual_service(resources.api_version, name, namespace, host)
        spec = obj.setdefault("spec", {})
        http = edit(list(spec.get("http") or []), obj)
        if http is None:
            return None
        spec["http"] = http
        if subsets is not None and not same(before, obj):
            subsets.check(spec)
        return obj

    return converge(resources, namespace, name, change, check_mode=mesh.check_mode)
