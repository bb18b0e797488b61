#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mesh_routing
short_description: Converge the routing of many services in one task
version_added: 0.1.0
description:
  - Converges, for each listed service, its DestinationRule subsets, the weights of its default route and a list
    of named routes (present or absent), all in one task and one process.
  - Reads the namespace once (one LIST of DestinationRules and one of VirtualServices) and writes only the objects
    that change, so a run that changes nothing costs two reads whatever the number of services.
  - Each object is edited exactly as M(ack.servicemesh.destination_rule), M(ack.servicemesh.traffic_shift) and
    M(ack.servicemesh.http_route) would edit it; routes and fields it is not told about are kept. A write that
    conflicts with a concurrent change is re-read and re-applied.
  - The whole change is validated before the first write; an error names the service, the field and the value.
  - The scenario roles use this module; use it directly to converge hundreds of services in one task.
author:
  - ack.servicemesh contributors (@ack-servicemesh)
extends_documentation_fragment:
  - ack.servicemesh.auth
  - ack.servicemesh.attributes
options:
  namespace:
    description: Namespace of the services' Istio objects. Defaults to the kubeconfig context's namespace, else V(default).
    type: str
  check_subsets:
    description:
      - Fail when a route sends traffic to a subset that no DestinationRule defines (after this task's own changes).
    type: bool
    default: true
  services:
    description: The services to converge.
    type: list
    elements: dict
    required: true
    suboptions:
      host:
        description: The service, as a short name such as V(reviews). Names its DestinationRule and VirtualService.
        type: str
        required: true
      subsets:
        description:
          - Subsets of the service's DestinationRule, as for M(ack.servicemesh.destination_rule), or a list of
            names, each selecting pods whose O(services[].subset_label) equals it. Left alone when omitted.
        type: raw
      subset_label:
        description: The pod label that selects a subset given by name only.
        type: str
        default: version
      weights:
        description: Subset weights of the default route, as for M(ack.servicemesh.traffic_shift). Left alone when omitted.
        type: dict
      relative_weights:
        description: Allow weights that do not sum to 100.
        type: bool
        default: false
      routes:
        description:
          - Named routes, each with the options of M(ack.servicemesh.http_route) (C(name), C(state), C(user),
            C(user_match), C(headers), C(uri), C(subset), C(destinations), C(fault), C(timeout), C(retries),
            C(before), C(after), ...).
          - A route with neither C(subset) nor C(destinations) follows the default route (its destinations are a
            copy of the default route's), which is how a fault is injected without changing where traffic goes.
          - A route with a fault and no match conditions needs C(allow_unscoped_fault=true).
        type: list
        elements: dict
        default: []
      allow_unscoped_fault:
        description: Allow a fault route that matches every request.
        type: bool
        default: false
"""

EXAMPLES = r"""
- name: BookInfo fault-delay in one task
  ack.servicemesh.mesh_routing:
    namespace: default
    services:
      - host: reviews
        subsets: [v1, v2, v3]
        weights: {v1: 100}
        routes:
          - {name: user-override, user: jason, subset: v2}
      - host: ratings
        subsets: [v1]
        weights: {v1: 100}
        routes:
          - name: fault-injection
            user: jason
            fault:
              delay: {fixed_delay: 7s, percentage: 100}
"""

RETURN = r"""
api_version:
  description: The C(networking.istio.io) version used.
  returned: always
  type: str
  sample: v1
objects:
  description: What was done to each object, keyed by C(Kind/name).
  returned: always
  type: dict
  sample: {"DestinationRule/reviews": "unchanged", "VirtualService/reviews": "updated"}
requests:
  description: How many requests the task sent to the API server.
  returned: always
  type: int
  sample: 3
"""

import copy

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.api import Conflict
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import same, strip
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.converge import converge, prepare_write
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problems
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module import MeshModule
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.routes import (
    ROUTE_ARGUMENT_SPEC, ROUTE_MUTUALLY_EXCLUSIVE, build_http_route, default_route_index, fill_from_default,
    new_virtual_service, place_route, remove_route, weighted_destinations)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.spec import new_object, subsets_from_param
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import (
    validate_cross_refs, validate_destination_rule)


def _route_params(service, raw, where):
    """Check one route entry against http_route's options, with the same type conversion and defaults."""
    if not isinstance(raw, dict):
        raise MeshError("must be a mapping of http_route options", field=where, value=raw)
    result = ArgumentSpecValidator(ROUTE_ARGUMENT_SPEC, mutually_exclusive=ROUTE_MUTUALLY_EXCLUSIVE).validate(raw)
    if result.error_messages:
        raise MeshError("%s: %s" % (where, "; ".join(result.error_messages)))
    params = result.validated_parameters
    params["host"] = service["host"]
    return params


def plan_service(service, index, allow_unscoped):
    """Everything one service wants, built and validated without any request."""
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
    if service.get("weights") is not None:
        try:
            plan["destinations"] = weighted_destinations(service["host"], service["weights"],
                                                         relative=service["relative_weights"])
        except MeshError as err:
            raise MeshError("%s: %s" % (where, err.msg), problems=err.problems)
    for r_index, raw in enumerate(service.get("routes") or []):
        params = _route_params(service, raw, "%s.routes[%d]" % (where, r_index))
        route = None
        if params["state"] == "present":
            if params.get("fault") and not (params.get("user") or params.get("headers") or params.get("match")
                                            or params.get("uri") or params.get("query_params")):
                if not allow_unscoped:
                    raise MeshError("a fault without match conditions hits every request to %s; set "
                                    "allow_unscoped_fault=true if that is really meant" % service["host"],
                                    field="%s.routes[%d].user" % (where, r_index), value=None)
                params["uri"] = {"prefix": "/"}
            try:
                route = build_http_route(params, follow_default=True)
            except MeshError as err:
                raise MeshError("%s.routes[%d]: %s" % (where, r_index, err.msg), problems=err.problems)
        plan["routes"].append((params, route))
    return plan


def want_destination_rule(live, plan, api_version, namespace):
    if plan["subsets"] is None:
        return live
    obj = live or new_object(api_version, "DestinationRule", plan["host"], namespace)
    obj.setdefault("spec", {}).update({"host": plan["host"], "subsets": plan["subsets"]})
    return obj


def want_virtual_service(live, plan, api_version, namespace):
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
    for params, route in plan["routes"]:
        if route is None:
            http = remove_route(http, params["name"])
        else:
            http = place_route(http, fill_from_default(http, route), params["before"], params["after"])[0]
    obj["spec"]["http"] = http
    return obj


class Batch:
    def __init__(self, mesh):
        self.mesh = mesh
        self.namespace = mesh.namespace()
        self.actions = {}
        self.diffs = []

    def write(self, resources, name, live, wanted, change):
        """Write one object with the resourceVersion of the LIST; on a conflict fall back to converge()."""
        key = "%s/%s" % (resources.kind, name)
        if same(live, wanted):
            self.actions[key] = "unchanged"
            return wanted
        wanted = prepare_write(resources.kind, live, wanted)
        try:
            if live is None:
                after = resources.create(wanted, dry_run=self.mesh.check_mode)
                action = "created"
            else:
                after = resources.replace(wanted, dry_run=self.mesh.check_mode)
                action = "updated"
        except Conflict:
            outcome = converge(resources, self.namespace, name, change, check_mode=self.mesh.check_mode)
            action, live, after = outcome.action, outcome.before, outcome.after
        self.actions[key] = action
        if action != "unchanged":
            self.diffs.append({"before_header": key, "after_header": key, "before": strip(live), "after": strip(after)})
        return after


def run(mesh):
    params = mesh.params
    plans = [plan_service(service, index, service["allow_unscoped_fault"])
             for index, service in enumerate(params["services"])]
    hosts = [plan["host"] for plan in plans]
    duplicates = sorted(set(h for h in hosts if hosts.count(h) > 1))
    if duplicates:
        raise MeshError("each service may be listed once", field="services", value=duplicates)
    batch = Batch(mesh)
    namespace = batch.namespace
    rules = mesh.resources("DestinationRule")
    services = mesh.resources("VirtualService")
    live_rules = dict((o["metadata"]["name"], o) for o in rules.list(namespace))
    live_services = dict((o["metadata"]["name"], o) for o in services.list(namespace))

    wanted_rules, wanted_services = {}, {}
    for plan in plans:
        wanted_rules[plan["host"]] = want_destination_rule(copy.deepcopy(live_rules.get(plan["host"])), plan,
                                                           rules.api_version, namespace)
        wanted_services[plan["host"]] = want_virtual_service(copy.deepcopy(live_services.get(plan["host"])), plan,
                                                             services.api_version, namespace)
    if params["check_subsets"]:
        rule_specs = [o["spec"] for name, o in dict(live_rules, **wanted_rules).items() if o]
        problems = Problems()
        for host, obj in wanted_services.items():
            if obj is not None and not same(live_services.get(host), obj):
                validate_cross_refs(obj["spec"], rule_specs, path="VirtualService %s spec" % host,
                                    namespace=namespace, problems=problems)
        problems.raise_if_any()

    for plan in plans:
        host = plan["host"]

        def rule_change(live, plan=plan):
            return want_destination_rule(live, plan, rules.api_version, namespace)

        batch.write(rules, host, live_rules.get(host), wanted_rules[host], rule_change)
    for plan in plans:
        host = plan["host"]

        def service_change(live, plan=plan):
            return want_virtual_service(live, plan, services.api_version, namespace)

        batch.write(services, host, live_services.get(host), wanted_services[host], service_change)

    changed = any(action != "unchanged" for action in batch.actions.values())
    result = dict(changed=changed, api_version=mesh.api_version, objects=batch.actions,
                  requests=mesh.client.requests_made)
    if mesh.diff_mode:
        result["diff"] = batch.diffs
    mesh.module.exit_json(**result)


def main():
    mesh = MeshModule(
        argument_spec=dict(
            namespace=dict(type="str"),
            check_subsets=dict(type="bool", default=True),
            services=dict(type="list", elements="dict", required=True, options=dict(
                host=dict(type="str", required=True),
                subsets=dict(type="raw"),
                subset_label=dict(type="str", default="version"),
                weights=dict(type="dict"),
                relative_weights=dict(type="bool", default=False),
                routes=dict(type="list", elements="dict", default=[]),
                allow_unscoped_fault=dict(type="bool", default=False),
            )),
        ),
        supports_check_mode=True,
    )
    mesh.run(run)


if __name__ == "__main__":
    main()
