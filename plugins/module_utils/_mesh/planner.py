# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""The service layer of mesh_routing: what each service wants, as pure functions of what is live.

``plan_service`` turns one entry of ``services`` into a plan without any
request; ``want_destination_rule`` and ``want_virtual_service`` apply a plan to
a live object (or to nothing). ``plan_objects`` does that for a whole
namespace, and the scenario_objects filter is ``plan_objects`` applied to an
empty namespace, so the objects a scenario is checked with are the ones
mesh_routing writes. The roles' scenario variables become the ``services``
list in ``scenario`` (a file of its own, so that the roles' filter loads nothing else).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import same
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.converge import prepare_write
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problems
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.expiry import (
    annotation_key, expiry_from_params, set_expiry)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.routes import (
    ROUTE_ARGUMENT_SPEC, ROUTE_MUTUALLY_EXCLUSIVE, apply_route, at_index, build_http_route, default_route_index,
    find_route, has_fault, intended_index, is_unscoped_fault, new_virtual_service, weighted_destinations)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.spec import new_object, subsets_from_param
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import (
    legacy_weights_for, validate_destination_rule)

# Options a mesh_routing route takes on top of http_route's.
EXPIRY_OPTIONS = ("expires_in",)
SERVICE_DEFAULTS = {"subset_label": "version", "relative_weights": False, "allow_unscoped_fault": False,
                    "routes": []}


def route_params(service, raw, where):
    """Check one route entry against http_route's options, with the same type conversion and defaults."""
    if not isinstance(raw, dict):
        raise MeshError("must be a mapping of http_route options", field=where, value=raw)
    options = dict((k, v) for k, v in raw.items() if k not in EXPIRY_OPTIONS)
    result = ArgumentSpecValidator(ROUTE_ARGUMENT_SPEC, mutually_exclusive=ROUTE_MUTUALLY_EXCLUSIVE).validate(options)
    if result.error_messages:
        raise MeshError("%s: %s" % (where, "; ".join(result.error_messages)))
    params = result.validated_parameters
    params["host"] = service["host"]
    params["expires_in"] = raw.get("expires_in")
    return params


def _has_match(params):
    return bool(params.get("user") or params.get("headers") or params.get("match") or params.get("uri")
                or params.get("query_params"))


def plan_service(service, index, allow_unscoped=None, now=None, api_version=None):
    """Everything one service wants, built and validated without any request.

    ``now`` is the time an ``expires_in`` counts from; each route gets its
    expiry annotation key and moment (or None) in the plan. ``api_version``,
    when known, decides the weight rule: relative weights where v1beta1 or v1
    is served (Istio 1.15 and later), weights summing to 100 where only
    v1alpha3 is (`legacy_weights_for`).
    """
    service = dict(SERVICE_DEFAULTS, **service)
    if allow_unscoped is None:
        allow_unscoped = service["allow_unscoped_fault"]
    where = "services[%d]" % index
    plan = {"host": service["host"], "subsets": None, "destinations": None, "routes": []}
    subsets = service.get("subsets")
    if isinstance(subsets, list) and all(isinstance(s, str) for s in subsets):
        subsets = [{"name": s, "labels": {service["subset_label"]: s}} for s in subsets]
    if subsets is not None:
        built, problems = subsets_from_param(subsets, field=where + ".subsets")
        spec = {"host": service["host"], "subsets": built}
        validate_destination_rule(spec, path=where, problems=problems)
        problems.raise_if_any()
        plan["subsets"] = built
    relative = service["relative_weights"]
    if api_version is not None:
        # Given as the objects' apiVersion (networking.istio.io/v1) or as the served version alone (v1).
        api_version = api_version.rsplit("/", 1)[-1]
        if legacy_weights_for(api_version) and relative:
            raise MeshError("relative weights need Istio 1.15 or later (networking.istio.io v1beta1 or v1 "
                            "served); this Istio serves only %s" % api_version,
                            field="%s.relative_weights" % where, value=relative)
        relative = not legacy_weights_for(api_version)
    if service.get("weights") is not None:
        try:
            plan["destinations"] = weighted_destinations(service["host"], service["weights"], relative=relative)
        except MeshError as err:
            raise MeshError(problems=[_under(where, p) for p in err.problems])
    for r_index, raw in enumerate(service.get("routes") or []):
        field = "%s.routes[%d]" % (where, r_index)
        params = route_params(service, raw, field)
        route = None
        if params["state"] == "present":
            if params.get("fault") and not _has_match(params):
                if not allow_unscoped:
                    raise MeshError("a fault without match conditions hits every request to %s; set "
                                    "allow_unscoped_fault=true if that is really meant" % service["host"],
                                    field="%s.user" % field, value=None)
                params["uri"] = {"prefix": "/"}
            found = Problems()
            route = build_http_route(params, follow_default=True, problems=found)
            options = [p for p in found.items if p.unplaced is None]
            if options:
                raise MeshError(problems=[_under(field, p) for p in options])
            # Istio's rules name the route by its index, known once it is placed (want_virtual_service).
            params["problems"], params["where"] = found, field
        params["expiry"] = _route_expiry(params, route, field, now)
        plan["routes"].append((params, route))
    return plan


def _under(where, problem):
    """A problem of a service's option named by its whole path, ``services[<i>].<option>``."""
    if problem.field and not problem.field.startswith("spec."):
        problem.field = "%s.%s" % (where, problem.field)
    return problem


def _raise_route_problems(params, host, index, placed=True):
    """Raise what Istio's rules found wrong in a route, as ``spec.http[<index>]`` of the service's VirtualService."""
    problems = params.get("problems")
    if problems:
        at_index(problems, params["name"], index, placed)
        detail = "; ".join(str(p) for p in problems.items)
        raise MeshError("%s (VirtualService %s): %s" % (params["where"], host, detail), problems=problems.items)


def _route_expiry(params, route, field, now):
    """(annotation key, moment or None) of a route; a fault is needed for an expiry to mean anything."""
    key = annotation_key(params["name"])
    if params.get("expires_in") is None or route is None:
        return key, None
    if not route.get("fault"):
        raise MeshError("only a route with a fault can expire", field="%s.expires_in" % field,
                        value=params["expires_in"])
    if key is None:
        raise MeshError("cannot carry an expiry: the annotation key servicemesh.ack.io/fault-expires.<name> allows "
                        "at most 49 characters here, letters, digits, '-', '_' and '.', alphanumeric at both ends",
                        field="%s.name" % field, value=params["name"])
    try:
        return key, expiry_from_params({"expires_in": params["expires_in"]}, now)
    except MeshError as err:
        raise MeshError(err.problems[0].message if err.problems else err.msg, field="%s.expires_in" % field,
                        value=params["expires_in"])


def want_destination_rule(live, plan, api_version, namespace):
    if plan["subsets"] is None:
        return live
    obj = live or new_object(api_version, "DestinationRule", plan["host"], namespace)
    obj.setdefault("spec", {}).update({"host": plan["host"], "subsets": plan["subsets"]})
    return obj


def want_virtual_service(live, plan, api_version, namespace, now=None):
    if plan["destinations"] is None and not any(route for _params, route in plan["routes"]) and live is None:
        return None
    obj = live or new_virtual_service(api_version, plan["host"], namespace, plan["host"])
    http = list(obj["spec"].get("http") or [])
    if plan["destinations"] is not None:
        index = default_route_index(http)
        if index is None:
            http.append({"name": "default", "route": plan["destinations"]})
        else:
            http[index] = dict(http[index], route=plan["destinations"])
    metadata = obj.setdefault("metadata", {})
    annotations = dict(metadata.get("annotations") or {})
    for params, route in plan["routes"]:
        key, expires = params.get("expiry") or (None, None)
        before = _route_named(http, annotations, params["name"])
        try:
            placed = apply_route(http, annotations, params["name"], route, params["before"], params["after"])
        except MeshError:
            # Bad input is the cause to report, at the index the route would have had.
            where = (default_route_index(http) if is_unscoped_fault(route)
                     else intended_index(http, params["name"], params["before"], params["after"]))
            _raise_route_problems(params, plan["host"], len(http) if where is None else where, placed=False)
            raise
        http = placed
        if route is not None:
            _raise_route_problems(params, plan["host"], _route_index(http, annotations, params["name"]))
        after = _route_named(http, annotations, params["name"]) if route is not None else None
        # expires_in counts from when the fault was set: re-applying the same route keeps the expiry it has.
        set_expiry(annotations, key, expires, before is not None and before == after, now)
    obj["spec"]["http"] = http
    if annotations or metadata.get("annotations") is not None:
        metadata["annotations"] = annotations
    return obj


def _route_index(http, annotations, name):
    """The index of the route ``name`` stands for: its own, or the default route that carries its unscoped fault."""
    index = find_route(http, name)
    if index is None and has_fault(http, annotations, name):
        index = default_route_index(http)
    return index


def _route_named(http, annotations, name):
    index = _route_index(http, annotations, name)
    return http[index] if index is not None else None


def check_unique(plans):
    hosts = [plan["host"] for plan in plans]
    duplicates = sorted(set(h for h in hosts if hosts.count(h) > 1))
    if duplicates:
        raise MeshError("each service may be listed once", field="services", value=duplicates)


def plan_objects(plans, live_rules, live_services, api_version, namespace, now=None):
    """{host: wanted object} for both kinds, from the live objects by name (missing ones are absent)."""
    wanted_rules, wanted_services = {}, {}
    for plan in plans:
        host = plan["host"]
        wanted_rules[host] = want_destination_rule(_copy(live_rules.get(host)), plan, api_version, namespace)
        wanted_services[host] = want_virtual_service(_copy(live_services.get(host)), plan, api_version, namespace,
                                                     now)
    return wanted_rules, wanted_services


def _copy(obj):
    return copy.deepcopy(obj)


def written(kind, live, wanted):
    """The object as it is sent: with the undo annotations when it changes, unchanged otherwise."""
    if same(live, wanted):
        return wanted
    return prepare_write(kind, _copy(live), _copy(wanted))


def compile_objects(services, api_version, namespace, live_rules=None, live_services=None, now=None):
    """The DestinationRules, then the VirtualServices, exactly as mesh_routing writes them over the live ones."""
    plans = [plan_service(service, index, now=now, api_version=api_version) for index, service in enumerate(services)]
    check_unique(plans)
    live_rules, live_services = live_rules or {}, live_services or {}
    rules, virtual_services = plan_objects(plans, live_rules, live_services, api_version, namespace, now)
    return ([written("DestinationRule", live_rules.get(h), o) for h, o in rules.items() if o is not None]
            + [written("VirtualService", live_services.get(h), o) for h, o in virtual_services.items()
               if o is not None])
