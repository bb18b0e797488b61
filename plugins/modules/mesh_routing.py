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
  - The objects it is about to write are analyzed as M(ack.servicemesh.mesh_analyze) would analyze them in the
    namespace; findings at or above O(fail_on) fail the task before any write, warnings become task warnings.
  - When more than one object changes, each is first sent to the API server as a server-side dry run (which runs
    the CRD's schema and rules and the admission webhooks, such as Istio's validation); if any is refused,
    nothing is written. A run that changes nothing sends no dry run.
  - Independent requests are sent at the same time, over at most four connections (one when nothing runs at the
    same time). First the two LISTs, then all dry runs, then the DestinationRules, and only once they are all
    written the VirtualServices.
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
          - C(expires_in) (a duration such as V(30m), or seconds) on a route with a fault marks when the fault ends,
            in the annotation C(servicemesh.ack.io/fault-expires.<name>) that M(ack.servicemesh.fault_expiry) acts
            on; re-applying the same route keeps the expiry it has. A route without it loses any expiry.
        type: list
        elements: dict
        default: []
      allow_unscoped_fault:
        description: Allow a fault route that matches every request.
        type: bool
        default: false
  fail_on:
    description:
      - Fail before any write when the analysis of the objects this task writes finds something of this severity
        or a higher one. V(never) only reports.
    type: str
    choices: [error, warning, never]
    default: error
  predict_for:
    description:
      - Users (V(null) for an anonymous one) for whom to predict, on BookInfo's call graph, what the page shows
        once the change is applied, as P(ack.servicemesh.predict_outcome#filter) does.
    type: list
    elements: raw
    default: []
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
findings:
  description: The analysis findings on the objects the task manages, errors first (see M(ack.servicemesh.mesh_analyze)).
  returned: always
  type: list
  elements: dict
predictions:
  description:
    - Per user of O(predict_for), what BookInfo's page shows after the change (C(user), C(outcome), C(stars),
      C(latency_s), C(mean_latency_s), C(deterministic), C(outcomes), C(explanation), C(warnings)).
  returned: always
  type: list
  elements: dict
  sample: [{"user": "jason", "outcome": "reviews_unavailable", "latency_s": 6.0}]
requests:
  description: How many requests the task sent to the API server.
  returned: always
  type: int
  sample: 3
"""

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.analyze import analyze, apply_proposed
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.batch import Write, write_batch
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import same
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, task_warnings
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.expiry import utcnow
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module import MeshModule
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.parallel import run_all
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.planner import (
    check_unique, plan_objects, plan_service, want_destination_rule, want_virtual_service)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.subsets import check_namespace
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import (
    legacy_weights_for, validate_cross_refs, validate_destination_rule, validate_virtual_service)

SEVERITIES = ("error", "warning", "info")
# What a prediction returns per user; the full trace stays with the predict_outcome filter.
PREDICTION_KEYS = ("outcome", "stars", "latency_s", "mean_latency_s", "deterministic", "outcomes", "explanation",
                   "warnings")


def check_subsets(live_rules, wanted_rules, live_services, wanted_services, namespace):
    rule_specs = [o["spec"] for name, o in dict(live_rules, **wanted_rules).items() if o]
    found, texts = [], []
    for host, obj in wanted_services.items():
        if obj is not None and not same(live_services.get(host), obj):
            problems = validate_cross_refs(obj["spec"], rule_specs, path="spec", namespace=namespace)
            found.extend(problems.items)
            texts.extend("VirtualService %s %s" % (host, p) for p in problems.items)
    if found:
        raise MeshError("; ".join(texts), problems=found)


def istio_warnings(mesh, namespace, wanted_rules, wanted_services):
    """What Istio warns about in the objects as this task wants them: task warnings, each once."""
    warnings = task_warnings(mesh)
    legacy = legacy_weights_for(mesh.api_version)
    for kind, wanted in (("DestinationRule", wanted_rules), ("VirtualService", wanted_services)):
        for host, obj in sorted(wanted.items()):
            if obj is None:
                continue
            if kind == "DestinationRule":
                found = validate_destination_rule(obj.get("spec") or {}, path="spec", namespace=namespace)
            else:
                found = validate_virtual_service(obj.get("spec") or {}, path="spec", namespace=namespace,
                                                 legacy_weights=legacy)
            warnings.add(found, "%s %s/%s" % (kind, namespace, obj["metadata"]["name"]))


def with_kind(objects, kind):
    for obj in objects:
        obj.setdefault("kind", kind)
    return objects


def describe(finding):
    return "%s %s %s %s: %s" % (finding["code"], finding["severity"], finding["object"], finding["field"],
                                finding["message"])


def analysis(mesh, namespace, listed, wanted):
    """istioctl-analyze-style findings on the objects this task manages, as they will be after it."""
    proposed = [o for o in wanted if o is not None]
    objects = apply_proposed(listed, proposed, namespace)
    mine = set("%s/%s/%s" % (o["kind"], namespace, o["metadata"]["name"]) for o in proposed)
    findings = [f for f in analyze(objects, objects, namespace) if f["object"] in mine]
    findings.sort(key=lambda f: SEVERITIES.index(f["severity"]))
    fail_on = mesh.params["fail_on"]
    limit = SEVERITIES.index(fail_on) if fail_on != "never" else -1
    failing = [f for f in findings if SEVERITIES.index(f["severity"]) <= limit]
    if failing:
        raise MeshError("nothing was written: %d finding(s) of severity %s or worse: %s"
                        % (len(failing), fail_on, "; ".join(describe(f) for f in failing)), findings=findings)
    for finding in findings:
        if finding["severity"] == "warning":
            mesh.module.warn(describe(finding))
    return findings, objects


def predictions(users, objects, namespace):
    if not users:
        return []
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.budget import predict

    result = []
    for user in users:
        predicted = predict(objects, user=user or None, namespace=namespace)
        entry = dict((k, predicted.get(k)) for k in PREDICTION_KEYS)
        entry["user"] = user or None
        result.append(entry)
    return result


def run(mesh):
    params = mesh.params
    now = utcnow()
    namespace = mesh.namespace()
    rules = mesh.resources("DestinationRule")
    services = mesh.resources("VirtualService")
    # The weight rule depends on the Istio behind the served API version, so plan once it is known.
    plans = [plan_service(service, index, now=now, api_version=rules.api_version)
             for index, service in enumerate(params["services"])]
    check_unique(plans)
    listed_rules, listed_services = run_all([lambda: with_kind(rules.list(namespace), "DestinationRule"),
                                             lambda: with_kind(services.list(namespace), "VirtualService")])
    live_rules = dict((o["metadata"]["name"], o) for o in listed_rules)
    live_services = dict((o["metadata"]["name"], o) for o in listed_services)
    wanted_rules, wanted_services = plan_objects(plans, live_rules, live_services, rules.api_version, namespace, now)
    if params["check_subsets"]:
        try:
            check_subsets(live_rules, wanted_rules, live_services, wanted_services, namespace)
        except MeshError:
            if not listed_rules and not listed_services:
                # An empty namespace may be one that does not exist: that, not a missing subset, is the cause.
                check_namespace(mesh, namespace)
            raise
    istio_warnings(mesh, namespace, wanted_rules, wanted_services)
    findings, objects = analysis(mesh, namespace, listed_rules + listed_services,
                                 list(wanted_rules.values()) + list(wanted_services.values()))

    writes = []
    for plan in plans:
        def rule_change(live, plan=plan):
            return want_destination_rule(live, plan, rules.api_version, namespace)

        writes.append(Write(rules, namespace, plan["host"], live_rules.get(plan["host"]), rule_change, level=0))
    for plan in plans:
        def service_change(live, plan=plan):
            return want_virtual_service(live, plan, services.api_version, namespace, now)

        # After every DestinationRule: a route to a subset is written only once the subset exists.
        writes.append(Write(services, namespace, plan["host"], live_services.get(plan["host"]), service_change,
                            level=1))
    actions, diffs = write_batch(writes, check_mode=mesh.check_mode)

    changed = any(action != "unchanged" for action in actions.values())
    result = dict(changed=changed, api_version=mesh.api_version, objects=actions, findings=findings,
                  predictions=predictions(params["predict_for"], objects, namespace),
                  requests=mesh.client.requests_made)
    if mesh.diff_mode:
        result["diff"] = diffs
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
            fail_on=dict(type="str", choices=["error", "warning", "never"], default="error"),
            predict_for=dict(type="list", elements="raw", default=[]),
        ),
        supports_check_mode=True,
    )
    mesh.run(run)


if __name__ == "__main__":
    main()
