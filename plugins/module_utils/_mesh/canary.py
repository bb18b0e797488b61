# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""A canary release as pure functions: the plan, the weights of a step, the state we keep, the gates.

Nothing here talks to a server. The module feeds in what it read (the live
VirtualService, metric values, probe results) and a clock, so the whole release
logic is tested without a cluster and replays the same way after a conflict.

The state lives in one annotation on the VirtualService, written together with
the first step's weights: where the canary started (the default route's
destinations before it) and which subsets it moves between. A run that finds
the annotation resumes from the weight the cluster holds, and a rollback
restores exactly the destinations saved there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import math
import re

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problems

STATE_ANNOTATION = "servicemesh.ack.io/canary"

COMPARISONS = {
    ">=": lambda value, threshold: value >= threshold,
    ">": lambda value, threshold: value > threshold,
    "<=": lambda value, threshold: value <= threshold,
    "<": lambda value, threshold: value < threshold,
}

# PromQL for the usual gates. Istio's standard metrics come from the sidecars' istio.stats filter;
# the envoy_* ones read Envoy's own cluster statistics of the calling proxies, for meshes (and the
# local lab) whose Envoys do not run Istio's stats extension.
_ISTIO_SELECTOR = ('reporter="destination",destination_service_name="{service}",'
                   'destination_service_namespace="{namespace}",destination_version="{canary}"')
_ENVOY_SELECTOR = 'cluster_name=~"outbound\\\\|[0-9]+\\\\|{canary}\\\\|{fqdn_regex}"'
TEMPLATES = {
    "success_rate": {
        "query": ("sum(rate(istio_requests_total{%s,response_code!~\"5..\"}[{window}])) / "
                  "sum(rate(istio_requests_total{%s}[{window}]))") % (_ISTIO_SELECTOR, _ISTIO_SELECTOR),
        "comparison": ">=", "threshold": 0.99,
    },
    "latency_p99": {
        "query": ("histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{%s}[{window}])) "
                  "by (le))") % _ISTIO_SELECTOR,
        "comparison": "<=", "threshold": 500,
    },
    "envoy_success_rate": {
        "query": ("1 - (sum(rate(envoy_cluster_upstream_rq{%s,response_code_class=\"5xx\"}[{window}])) or vector(0)) "
                  "/ sum(rate(envoy_cluster_upstream_rq_completed{%s}[{window}]))") % (_ENVOY_SELECTOR, _ENVOY_SELECTOR),
        "comparison": ">=", "threshold": 0.99,
    },
    "envoy_latency_p99": {
        "query": ("histogram_quantile(0.99, sum(rate(envoy_cluster_upstream_rq_time_bucket{%s}[{window}])) "
                  "by (le))") % _ENVOY_SELECTOR,
        "comparison": "<=", "threshold": 500,
    },
}
_WINDOW = re.compile(r"^[0-9]+(ms|s|m|h)$")


def _regex_escape(text):
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\\\1", text)


def render_template(name, service, namespace, canary, window, domain="cluster.local"):
    """The PromQL of a named template for one service and canary subset."""
    fqdn = "%s.%s.svc.%s" % (service, namespace, domain)
    values = {"service": service, "namespace": namespace, "canary": canary, "window": window,
              "fqdn_regex": _regex_escape(fqdn)}
    query = TEMPLATES[name]["query"]
    # str.format would trip over PromQL's own braces: substitute our placeholders only.
    return re.sub(r"\{(service|namespace|canary|window|fqdn_regex)\}", lambda m: values[m.group(1)], query)


def validate_steps(steps, problems, field="steps"):
    """Steps are canary weights in percent, strictly increasing, ending at 100."""
    if not isinstance(steps, list) or not steps:
        problems.add(field, "is required: a list of canary weights in percent, for example [10, 25, 50, 100]",
                     steps)
        return []
    clean = []
    for index, step in enumerate(steps):
        where = "%s[%d]" % (field, index)
        if isinstance(step, str) and step.strip().isdigit():
            step = int(step.strip())
        if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= 100:
            problems.add(where, "must be an integer from 1 to 100", step)
            continue
        if clean and step <= clean[-1]:
            problems.add(where, "must be above the step before it (%d)" % clean[-1], step)
            continue
        clean.append(step)
    if clean and clean[-1] != 100 and len(clean) == len(steps):
        problems.add("%s[%d]" % (field, len(steps) - 1), "the last step must be 100 (a full promotion)", steps[-1])
    return clean


def normalize_gates(gates, service, namespace, canary, problems):
    """Fill in template queries and defaults; report every bad field at once."""
    out = []
    for index, gate in enumerate(gates or []):
        where = "gates[%d]" % index
        if not isinstance(gate, dict):
            problems.add(where, "must be a mapping", gate)
            continue
        gate = dict(gate)
        name = gate.get("name") or "gate-%d" % index
        kind = gate.get("type") or ("http" if gate.get("url") else "prometheus")
        result = {"name": name, "type": kind, "failure_limit": gate.get("failure_limit") or 1,
                  "no_data": gate.get("no_data") or "fail"}
        if kind == "prometheus":
            template = gate.get("template")
            query = gate.get("query")
            if template and query:
                problems.add(where, "takes query or template, not both", {"query": query, "template": template})
            elif template:
                if template not in TEMPLATES:
                    problems.add(where + ".template", "must be one of %s" % ", ".join(sorted(TEMPLATES)), template)
                    continue
                window = gate.get("window") or "1m"
                if not _WINDOW.match(str(window)):
                    problems.add(where + ".window", "must be a PromQL duration such as 30s or 1m", window)
                    continue
                query = render_template(template, service, namespace, canary, window)
                result.setdefault("comparison", TEMPLATES[template]["comparison"])
                result.setdefault("threshold", TEMPLATES[template]["threshold"])
            elif not query:
                problems.add(where + ".query", "is required for a prometheus gate (or give a template)", query)
                continue
            result["query"] = query
            if gate.get("comparison") is not None:
                result["comparison"] = gate["comparison"]
            if gate.get("threshold") is not None:
                result["threshold"] = gate["threshold"]
            if result.get("comparison") is None:
                problems.add(where + ".comparison", "is required for a query (one of %s)" % ", ".join(COMPARISONS))
            elif result["comparison"] not in COMPARISONS:
                problems.add(where + ".comparison", "must be one of %s" % ", ".join(COMPARISONS), result["comparison"])
            if result.get("threshold") is None:
                problems.add(where + ".threshold", "is required for a query")
            else:
                try:
                    result["threshold"] = float(result["threshold"])
                except (TypeError, ValueError):
                    problems.add(where + ".threshold", "must be a number", result["threshold"])
        elif kind == "http":
            if not gate.get("url"):
                problems.add(where + ".url", "is required for an http gate", gate.get("url"))
                continue
            result.update(url=gate["url"], expect_status=gate.get("expect_status") or [200],
                          max_latency_ms=gate.get("max_latency_ms"), headers=gate.get("headers") or {})
        else:
            problems.add(where + ".type", "must be prometheus or http", kind)
            continue
        if result["no_data"] not in ("fail", "pass"):
            problems.add(where + ".no_data", "must be fail or pass", result["no_data"])
        limit = result["failure_limit"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            problems.add(where + ".failure_limit", "must be an integer >= 1", limit)
        out.append(result)
    return out


def subset_weights(route):
    """{subset: weight} of a route's destinations; a lone destination has all of it."""
    items = [item for item in (route or {}).get("route") or [] if isinstance(item, dict)]
    weights = {}
    for item in items:
        subset = (item.get("destination") or {}).get("subset")
        weight = item.get("weight")
        weights[subset] = weights.get(subset, 0) + (100 if len(items) == 1 and weight is None else (weight or 0))
    return weights


def canary_share(route, canary):
    """Percent of a route's traffic that goes to the canary subset."""
    weights = subset_weights(route)
    total = sum(weights.values())
    return 0 if not total else int(round(100.0 * weights.get(canary, 0) / total))


def step_destinations(template, stable, canary, weight):
    """The default route's destinations at one step: the stable subset gets what the canary does not."""
    base = dict(template or {})
    base.pop("subset", None)
    base.pop("weight", None)

    def dest(subset):
        return dict(copy.deepcopy(base), subset=subset)

    if weight >= 100:
        return [{"destination": dest(canary)}]
    if weight <= 0:
        return [{"destination": dest(stable)}]
    return [{"destination": dest(stable), "weight": 100 - weight}, {"destination": dest(canary), "weight": weight}]


def read_state(obj):
    raw = (((obj or {}).get("metadata") or {}).get("annotations") or {}).get(STATE_ANNOTATION)
    if not raw:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        raise MeshError("the annotation %s is not JSON; remove it to start the canary afresh" % STATE_ANNOTATION,
                        value=raw)
    if not isinstance(state, dict) or not isinstance(state.get("start"), list):
        raise MeshError("the annotation %s is not a canary state of this collection" % STATE_ANNOTATION, value=raw)
    return state


def write_state(obj, state):
    annotations = obj.setdefault("metadata", {}).setdefault("annotations", {}) or {}
    obj["metadata"]["annotations"] = annotations
    if state is None:
        annotations.pop(STATE_ANNOTATION, None)
        if not annotations:
            del obj["metadata"]["annotations"]
    else:
        annotations[STATE_ANNOTATION] = json.dumps(state, sort_keys=True, separators=(",", ":"))
    return obj


def new_state(default_route, stable, canary):
    return {"stable": stable, "canary": canary, "start": copy.deepcopy(default_route.get("route") or [])}


def remaining_steps(steps, current, resumed):
    """Steps still to take from the canary weight the cluster holds.

    A fresh canary takes every step above the current weight. A resumed one
    first re-checks the weight it stopped at (its gates never passed there, as
    far as we know), then goes on: it never skips a step.
    """
    if resumed and 0 < current < 100:
        return [current] + [s for s in steps if s > current]
    return [s for s in steps if s > current]


class GateTracker:
    """Counts failed checks in a row per gate; says which gate has failed for good."""

    def __init__(self, gates):
        self.gates = gates
        self.in_a_row = {g["name"]: 0 for g in gates}
        self.checks = []

    def record(self, gate, value, passed, detail):
        self.in_a_row[gate["name"]] = 0 if passed else self.in_a_row[gate["name"]] + 1
        check = {"gate": gate["name"], "value": value, "passed": passed, "detail": detail,
                 "failed_in_a_row": self.in_a_row[gate["name"]]}
        self.checks.append(check)
        return check

    def failed(self):
        for gate in self.gates:
            if self.in_a_row[gate["name"]] >= gate["failure_limit"]:
                return gate
        return None


def judge_metric(gate, value):
    """(passed, detail) for a Prometheus value; None or NaN is no data."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        passed = gate["no_data"] == "pass"
        return passed, "no data (counted as %s)" % ("passed" if passed else "failed")
    passed = COMPARISONS[gate["comparison"]](value, gate["threshold"])
    return passed, "%s, needs %s %s" % (_number(value), gate["comparison"], _number(gate["threshold"]))


def judge_probe(gate, status, latency_ms):
    """(passed, detail) for one HTTP probe; status None means no answer."""
    if status is None:
        return False, "no answer"
    if int(status) not in [int(s) for s in gate["expect_status"]]:
        return False, "status %s, expected %s" % (status, gate["expect_status"])
    limit = gate.get("max_latency_ms")
    if limit is not None and latency_ms > float(limit):
        return False, "latency %.0f ms above %s ms" % (latency_ms, _number(limit))
    return True, "status %s in %.0f ms" % (status, latency_ms)


def failure_message(gate, check, step, index, total):
    what = gate.get("query") if gate["type"] == "prometheus" else gate["url"]
    threshold = ""
    if gate["type"] == "prometheus":
        threshold = ", threshold %s %s" % (gate["comparison"], _number(gate["threshold"]))
    return ("canary rolled back: gate %r failed at step %d of %d (canary weight %d %%) after %d failed check(s) "
            "in a row: value %s (%s)%s; metric: %s"
            % (gate["name"], index + 1, total, step, check["failed_in_a_row"], _number(check["value"]),
               check["detail"], threshold, what))


def _number(value):
    if value is None:
        return "none"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return ("%.4f" % value).rstrip("0").rstrip(".")
    return str(value)


def plan_problems(params):
    """Validate everything the canary needs before any request."""
    problems = Problems()
    steps = validate_steps(params.get("steps"), problems)
    for key in ("stable_subset", "canary_subset"):
        if not params.get(key):
            problems.add(key, "is required", params.get(key))
    if params.get("stable_subset") and params.get("stable_subset") == params.get("canary_subset"):
        problems.add("canary_subset", "must differ from stable_subset", params.get("canary_subset"))
    for key in ("pause", "interval"):
        value = params.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            problems.add(key, "must be a number of seconds >= 0", value)
    if params.get("interval") is not None and params["interval"] <= 0:
        problems.add("interval", "must be above 0 seconds", params["interval"])
    service = params["host"].split(".")[0]
    gates = normalize_gates(params.get("gates"), service, params.get("namespace_resolved") or "default",
                            params.get("canary_subset"), problems)
    if any(g["type"] == "prometheus" for g in gates) and not (params.get("prometheus") or {}).get("url"):
        problems.add("prometheus.url", "is required when a gate queries Prometheus", None)
    problems.raise_if_any()
    return steps, gates
