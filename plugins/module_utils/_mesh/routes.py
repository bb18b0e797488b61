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
import json
import re

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import same
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.converge import (
    PREVIOUS_SPEC, annotations_of, converge, is_managed)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problems, task_warnings
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.semantics import is_catch_all
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.subsets import SubsetCheck, check_namespace
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import (
    DNS1123_LABEL_MESSAGE, INT32_MAX, is_dns1123_label, legacy_weights_for, validate_host, validate_port,
    validate_virtual_service)

# Browsers join cookies with '; ' (RFC 6265), so the user's cookie may follow a ';' and spaces; it must be a
# whole cookie (a name such as xuser= does not count).
COOKIE_REGEX = "^(.*?; *)?(%s=%s)(;.*)?$"
# Istio 0.8/1.0 BookInfo's own regex, kept verbatim for user_match=cookie-0.8 so the objects equal the 0.8
# samples. It misses the user when a space follows the ';' before user=, as every browser sends it.
COOKIE_REGEX_0_8 = "^(.*?;)?(%s=%s)(;.*)?$"
USER_MATCH_CHOICES = ["header", "cookie", "cookie-0.8"]
# The annotation that says which fault_injection route's unscoped fault the default route carries.
DEFAULT_ROUTE_FAULT = "servicemesh.ack.io/default-route-fault"
STRING_MATCH_KINDS = ("exact", "prefix", "regex")
# The route's own index when it is checked alone, before it is placed.
_PROBE = "spec.http[0]"
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
    user_match=dict(type="str", choices=USER_MATCH_CHOICES, default="header"),
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
    """The match block condition that identifies one user: header, browser-proof cookie, or 0.8's cookie regex."""
    if user_match in ("cookie", "cookie-0.8"):
        pattern = COOKIE_REGEX if user_match == "cookie" else COOKIE_REGEX_0_8
        return {"cookie": {"regex": pattern % (_regex_escape(cookie), _regex_escape(user))}}
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


def check_route(route, host, problems, index=None, legacy_weights=False):
    """Validate one route with Istio's rules; fields are named ``spec.http[<index>].<Istio field path>``.

    ``index`` is where the route sits in the VirtualService. A route not placed
    yet is checked alone: its problems and warnings are marked unplaced (with
    index 0) until `at_index` names them by the index the route gets.
    """
    found = validate_virtual_service({"hosts": [host], "http": [route]}, path="spec", legacy_weights=legacy_weights)
    for problem in found.items + found.warnings:
        if problem.field and problem.field.startswith(_PROBE):
            if index is None:
                problem.unplaced = route.get("name")
            else:
                problem.field = "spec.http[%d]" % index + problem.field[len(_PROBE):]
    problems.items.extend(found.items)
    problems.warnings.extend(found.warnings)


def build_http_route(params, follow_default=False, legacy_weights=False, problems=None):
    """A whole route from http_route-style parameters, validated before any request is made.

    With ``follow_default`` and neither subset nor destinations given, the
    route has no destinations yet: `fill_from_default` copies the default
    route's, so matching requests keep going where they went before.
    Given ``problems``, what is wrong is added there instead of raised, so a
    caller can name the route by its index once it is placed (`at_index`).
    """
    deferred = problems is not None
    problems = Problems() if problems is None else problems
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
    check_route(route, params["host"], problems, legacy_weights=legacy_weights)
    if not deferred:
        problems.raise_if_any()
    if follows:
        route["route"] = None
    return route


def at_index(problems, name, index, placed=True):
    """Name the route ``name``'s unplaced problems by its index in the VirtualService, ``spec.http[<index>]``.

    With ``placed`` false the route could not be put in place (the index is where
    it would go), and its problems keep saying so.
    """
    for problem in problems.items + problems.warnings:
        if problem.unplaced is not None and problem.unplaced == name:
            problem.field = "spec.http[%d]" % index + problem.field[len(_PROBE):]
            if placed:
                problem.unplaced = None
    return problems


def intended_index(http, name, before=None, after=None):
    """Where `place_route` would put the route ``name`` (for messages about a route it could not place)."""
    http = http or []
    current = find_route(http, name)
    if current is not None and before is None and after is None:
        return current
    others = [r for r in http if not (isinstance(r, dict) and r.get("name") == name)]
    anchor = find_route(others, after if after is not None else before)
    if anchor is not None:
        return anchor + 1 if after is not None else anchor
    catch_all = default_route_index(others)
    return catch_all if catch_all is not None else len(others)


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


def put_default_fault(http, annotations, name, fault):
    """Put a fault for every request on the default route, owned by ``name`` through an annotation.

    A catch-all fault route above the default route would make the default
    route unreachable (IST0130); on the default route itself the fault hits the
    same requests, and `take_default_fault` restores the route exactly. A fault
    someone else put on the default route is never replaced.
    """
    http = copy.deepcopy(http or [])
    index = default_route_index(http)
    if index is None:
        raise MeshError("a fault for every request goes on the service's default route, and there is none yet; "
                        "give the subset the default route should send traffic to", field="subset", value=None)
    owner = annotations.get(DEFAULT_ROUTE_FAULT)
    if http[index].get("fault") is not None and owner != name:
        raise MeshError("the default route spec.http[%d] already has a fault %s; remove that first"
                        % (index, "of the fault route %r" % owner if owner else "that this collection did not "
                           "put there"), field="name", value=name)
    http[index] = dict(http[index], fault=fault)
    annotations[DEFAULT_ROUTE_FAULT] = name
    return http


def take_default_fault(http, annotations, name):
    """Remove the default route's fault if ``name`` put it there; anything else stays as it is."""
    http = copy.deepcopy(http or [])
    if annotations.get(DEFAULT_ROUTE_FAULT) != name:
        return http
    del annotations[DEFAULT_ROUTE_FAULT]
    index = default_route_index(http)
    if index is not None:
        http[index] = dict((key, value) for key, value in http[index].items() if key != "fault")
    return http


def has_fault(http, annotations, name):
    """Whether the fault ``name`` is in place: as its own route, or on the default route."""
    index = find_route(http, name)
    if index is not None:
        return isinstance(http[index], dict) and bool(http[index].get("fault"))
    index = default_route_index(http)
    return (annotations.get(DEFAULT_ROUTE_FAULT) == name and index is not None
            and bool(http[index].get("fault")))


def remove_fault(http, annotations, name):
    """Remove the fault ``name`` wherever `fault_injection` put it."""
    return take_default_fault(remove_route(http, name), annotations, name)


def is_unscoped_fault(route):
    """A route that injects a fault into every request: no match, or one that every request meets."""
    if not isinstance(route, dict) or not route.get("fault"):
        return False
    match = route.get("match")
    return is_catch_all(route) or (isinstance(match, list) and {"uri": {"prefix": "/"}} in match)


def apply_route(http, annotations, name, route, before=None, after=None):
    """Put, or with ``route`` None remove, the route ``name`` as a planner wants it.

    An unscoped fault goes on the default route (`put_default_fault`); any
    other route is placed by `place_route`, following the default route's
    destinations when it has none of its own.
    """
    if route is None:
        return remove_fault(http, annotations, name)
    if is_unscoped_fault(route):
        return put_default_fault(remove_route(http, name), annotations, name, route["fault"])
    http = take_default_fault(http, annotations, name)
    return place_route(http, fill_from_default(http, route), before, after)[0]


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
        problems.add("weights", "must sum to 100 (they sum to %d): Istio before 1.15 (a cluster that "
                     "serves networking.istio.io only as v1alpha3) requires it; Istio 1.15 and later take "
                     "relative weights" % total, weights)
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


def without_routes(obj, describe):
    """What to write when the last HTTP route goes: Istio refuses ``http: []`` (and would answer 404 to everything).

    ``obj`` is the edited object, its ``http`` empty. A VirtualService the
    collection created is removed; one whose spec it saved before its first
    change gets that spec back; anything else is left alone with an error.
    """
    spec = obj.get("spec") or {}
    if spec.get("tcp") or spec.get("tls"):
        spec.pop("http", None)
        return obj
    if is_managed(obj):
        return None
    saved = annotations_of(obj).get(PREVIOUS_SPEC)
    if saved is not None:
        try:
            previous = json.loads(saved)
        except ValueError:
            previous = None
        if isinstance(previous, dict) and previous.get("http"):
            obj["spec"] = previous
            del obj["metadata"]["annotations"][PREVIOUS_SPEC]
            return obj
    raise MeshError("%s would be left without any HTTP route, which Istio refuses; it was not created by this "
                    "collection and holds no saved spec to go back to: remove it with "
                    "ack.servicemesh.virtual_service state=absent, or keep a route" % describe)


def istio_warnings(spec, warnings, api_version=None, namespace=None, where=None):
    """Pass on what Istio warns about in a VirtualService spec about to be written (its errors are the caller's)."""
    found = validate_virtual_service(spec, path="spec", namespace=namespace,
                                     legacy_weights=bool(api_version) and legacy_weights_for(api_version))
    warnings.add(found, where)


def converge_http(mesh, name, host, edit, check_subsets=True, create=True):
    """Converge one VirtualService by editing its http list; ``edit(http)`` returns the new list.

    ``edit`` may return None to ask for the VirtualService's removal. When the
    edited list is empty, `without_routes` decides, so ``http: []`` is never written.
    What Istio warns about in the object as it is wanted becomes a task warning.
    """
    resources = mesh.resources("VirtualService")
    namespace = mesh.namespace()
    subsets = SubsetCheck(mesh, namespace) if check_subsets else None
    warnings = task_warnings(mesh)

    def change(live):
        try:
            return edited(live)
        except MeshError:
            if live is None:
                # Nothing read in a namespace that does not exist: that, not a missing route or subset, is the cause.
                check_namespace(mesh, namespace)
            raise

    def edited(live):
        if live is None and not create:
            return None
        before = copy.deepcopy(live)
        obj = live or new_virtual_service(resources.api_version, name, namespace, host)
        spec = obj.setdefault("spec", {})
        http = edit(list(spec.get("http") or []), obj)
        if http is None:
            return None
        spec["http"] = http
        if not http:
            if before is None:
                return None
            obj = without_routes(obj, resources.describe(namespace, name))
            if obj is None:
                return None
            spec = obj["spec"]
        istio_warnings(spec, warnings, resources.version, namespace)
        if subsets is not None and not same(before, obj):
            subsets.check(spec)
        return obj

    return converge(resources, namespace, name, change, check_mode=mesh.check_mode)
