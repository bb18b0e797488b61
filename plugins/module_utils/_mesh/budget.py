# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Timeout budget: what a user sees at the entry service, given the routing and a call graph.

``predict(virtual_services, user=None, graph=None, entry=None, namespace="default", headers=None)`` follows one
request from the entry service down the call graph. Each hop is routed by ``simulate()`` (so faults, subsets and
weights apply), and the callers' own client timeouts and retries decide what comes back. Weighted routes and
partial fault percentages give several branches; the result reports all of them::

    {"user": "jason" | None, "entry": "productpage",
     "outcome": "ok" | "<service>_unavailable" | "mixed",   # "mixed" when branches differ
     "stars": "none" | "black" | "red" | None | "mixed",      # None: no stars shown because a call failed
     "latency_s": 6.0,                                       # worst case over the branches
     "mean_latency_s": 6.0,
     "deterministic": True,                                  # one branch only
     "calls": [trace] | None,                                # the trace when deterministic
     "explanation": "...",
     "outcomes": {"reviews_unavailable": 1.0},               # probability per outcome
     "stars_distribution": {"unavailable": 1.0},             # probability per stars value; None is "unavailable"
     "distribution": [{"probability", "outcome", "stars", "shows", "latency_s", "unavailable", "calls",
                       "explanation"}],
     "warnings": [str]}

The outcome is ``ok`` when every call succeeded, else ``<service>_unavailable`` for the first service (in call
order) the page had to do without: ``reviews_unavailable`` when productpage got no reviews, ``ratings_unavailable``
when reviews answered without ratings. A trace entry is one attempt of one call::

    {"from": "productpage v1", "service": "reviews", "attempt": 1, "attempts": 2, "virtual_service": "reviews",
     "route_index": 0, "subset": "v2", "version": "v2", "fault": {"delay_s": 7.0} | {"abort": 500} | None,
     "timeout_s": 3.0, "upstream_s": 7.0, "elapsed_s": 3.0,
     "result": "ok" | "timeout" | "abort" | "no_route" | "no_endpoints" | "route_timeout" | "error",
     "status": 200 | 500 | None, "calls": [nested attempts]}

Call graph schema (``graph``; the default is BookInfo, ``BOOKINFO_GRAPH``)::

    entry: productpage              # optional: the service the user calls (default productpage)
    services:
      <service>:                    # Kubernetes service name in ``namespace``, or a fully qualified host
        versions:                   # the versions deployed; a subset routes to the version of the same name
          <version>:
            latency_s: 0            # own processing time (default 0)
            shows: {stars: black}   # what the version puts on the page when all of its calls succeed
            calls:                  # made one after another
              - service: ratings
                timeout_s: 10       # client timeout per attempt, seconds or a duration such as "2500ms"
                attempts: 1         # tries by the application on any failure (default 1: no retry)
                required: false     # true: the caller fails (HTTP 500) when this call fails; else it degrades

BookInfo's numbers come from its sources: productpage calls details (3 s timeout, no retry) and then reviews
(3 s timeout, two attempts: 6 s in all); reviews v1 calls nothing, v2 (black stars) calls ratings with a 10 s
timeout, v3 (red stars) with 2.5 s. Only the versions ``bookinfo.yaml`` deploys are listed (details v1, ratings v1,
reviews v1-v3): a subset with no pods gets 503.

Model: services answer at once apart from ``latency_s``; a fault delay comes first, then the abort, each sampled
independently; an aborted request is not retried by Envoy. A route's timeout and retries apply whether or not the
route has a fault (the mesh lab's istiod and Envoy do so). Envoy retries (per ``retries``, Istio's default when unset) re-sample the upstream; back-off
is ignored. A route timeout covers the upstream tries, not the fault delay, which Envoy injects before routing.
The user's identity (``end-user`` header and ``user`` cookie) is propagated on every hop, as BookInfo does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problems
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.simulate import (
    duration_ms,
    is_list,
    is_mapping,
    objects_of_kind,
    retries_answer,
    simulate,
)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.semantics import short_name

BOOKINFO_GRAPH = {
    "entry": "productpage",
    "services": {
        "productpage": {"versions": {"v1": {"calls": [
            {"service": "details", "timeout_s": 3.0},
            # productpage.py loops twice over a 3 s request: the bug the fault-delay scenario reveals.
            {"service": "reviews", "timeout_s": 3.0, "attempts": 2},
        ]}}},
        "details": {"versions": {"v1": {}}},
        "reviews": {"versions": {
            "v1": {"shows": {"stars": "none"}},
            "v2": {"shows": {"stars": "black"}, "calls": [{"service": "ratings", "timeout_s": 10.0}]},
            "v3": {"shows": {"stars": "red"}, "calls": [{"service": "ratings", "timeout_s": 2.5}]},
        }},
        "ratings": {"versions": {"v1": {}}},
    },
}

MAX_DEPTH = 16
MAX_BRANCHES = 4096
# Envoy retry policies that cover a per-try timeout (which answers by status: simulate.retries_answer).
_RETRY_ON_TIMEOUT = frozenset(("5xx", "gateway-error", "reset"))


# The call graph --------------------------------------------------------------------------------------------

def load_graph(graph=None):
    """The call graph, validated, with times in milliseconds; every problem is reported at once."""
    if graph is None:
        graph = BOOKINFO_GRAPH
    problems = Problems()
    if not is_mapping(graph) or not is_mapping(graph.get("services")) or not graph["services"]:
        raise MeshError("must be a mapping with services: {name: {versions: {...}}}", field="graph", value=graph)
    services = {}
    for name, service in graph["services"].items():
        where = "graph.services.%s" % name
        versions = service.get("versions") if is_mapping(service) else None
        if not is_mapping(versions) or not versions:
            problems.add(where + ".versions", "must map each deployed version to its behaviour", versions)
            continue
        services[name] = dict((version, _load_version(spec, "%s.versions.%s" % (where, version), problems))
                              for version, spec in versions.items())
    for name, versions in services.items():
        for version, spec in versions.items():
            for index, call in enumerate(spec["calls"]):
                if call["service"] not in services:
                    problems.add("graph.services.%s.versions.%s.calls[%d].service" % (name, version, index),
                                 "is not a service of the graph", call["service"])
    entry = graph.get("entry", "productpage")
    if entry not in services:
        problems.add("graph.entry", "is not a service of the graph", entry)
    problems.raise_if_any()
    return {"entry": entry, "services": services}


def _load_version(spec, where, problems):
    spec = {} if spec is None else spec
    if not is_mapping(spec):
        problems.add(where, "must be a mapping with calls, shows and latency_s", spec)
        spec = {}
    shows = spec.get("shows") or {}
    if not is_mapping(shows):
        problems.add(where + ".shows", "must be a mapping", shows)
        shows = {}
    calls = spec.get("calls") or []
    if not is_list(calls):
        problems.add(where + ".calls", "must be a list", calls)
        calls = []
    loaded = []
    for index, call in enumerate(calls):
        field = "%s.calls[%d]" % (where, index)
        if not is_mapping(call) or not isinstance(call.get("service"), str):
            problems.add(field + ".service", "is required", call.get("service") if is_mapping(call) else call)
            continue
        attempts = call.get("attempts", 1)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            problems.add(field + ".attempts", "must be an integer >= 1", attempts)
            attempts = 1
        loaded.append({
            "service": call["service"],
            "timeout_ms": _seconds(call.get("timeout_s"), field + ".timeout_s", problems),
            "attempts": attempts,
            "required": bool(call.get("required", False)),
        })
    return {"latency_ms": _seconds(spec.get("latency_s"), where + ".latency_s", problems) or 0,
            "shows": dict(shows), "calls": loaded}


def _seconds(value, field, problems):
    """Seconds (a number) or a duration string, in milliseconds; None stays None (no timeout)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return duration_ms(value, field)
        except MeshError as err:
            problems.extend(err.problems)
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        problems.add(field, "must be a number of seconds >= 0 or a duration such as '2500ms'", value)
        return None
    return value * 1000.0


# Branches: lists of (probability, outcome) -----------------------------------------------------------------

def _merge(branches):
    """Add up identical outcomes so retries over weighted routes do not multiply the work."""
    merged = {}
    order = []
    for probability, item in branches:
        if probability <= 0:
            continue
        key = json.dumps(item, sort_keys=True, default=str)
        if key in merged:
            merged[key][0] += probability
        else:
            merged[key] = [probability, item]
            order.append(key)
    if len(order) > MAX_BRANCHES:
        raise MeshError("more than %d distinct outcomes: simplify the weights, faults or retries" % MAX_BRANCHES,
                        field="graph")
    return [(merged[key][0], merged[key][1]) for key in order]


def _seconds_out(ms):
    return None if ms is None else round(ms / 1000.0, 6)


class _Predictor:
    def __init__(self, virtual_services, request, graph, namespace):
        self.virtual_services = virtual_services
        self.request = request
        self.graph = graph
        self.namespace = namespace
        self.routes = {}
        self.served = {}
        self.warnings = []

    def warn(self, message):
        if message not in self.warnings:
            self.warnings.append(message)

    def route(self, service):
        if service not in self.routes:
            result = simulate(self.virtual_services, dict(self.request, host=service), self.namespace)
            for message in result["warnings"]:
                self.warn(message)
            self.routes[service] = result
        return self.routes[service]

    # A version serving a request: its calls, one after another. The request is the same on every hop, so
    # what a version answers depends on nothing else and is worked out once.
    def serve(self, service, version, depth):
        if (service, version) not in self.served:
            self.served[(service, version)] = self._serve(service, version, depth)
        return self.served[(service, version)]

    def _serve(self, service, version, depth):
        if depth > MAX_DEPTH:
            raise MeshError("calls nest deeper than %d: is the call graph cyclic?" % MAX_DEPTH,
                            field="graph.services.%s" % service)
        spec = self.graph["services"][service][version]
        start = {"ok": True, "status": 200, "ms": spec["latency_ms"], "shows": {}, "unavailable": [],
                 "calls": [], "degraded": False}
        branches = [(1.0, start)]
        caller = "%s %s" % (service, version)
        for call in spec["calls"]:
            following = []
            for probability, state in branches:
                if not state["ok"]:
                    following.append((probability, state))
                    continue
                for share, reply in self.call(caller, call, depth):
                    following.append((probability * share, _after_call(state, reply, call)))
            branches = _merge(following)
        served = []
        for probability, state in branches:
            # A version shows its own part only when all of its calls succeeded (v2 without ratings: no stars).
            shows = {} if state["degraded"] or not state["ok"] else dict(spec["shows"])
            shows.update(state["shows"])
            served.append((probability, dict(state, shows=shows, version=version)))
        return served

    # One call with the caller's own retries: the application tries again on any failure.
    def call(self, caller, call, depth):
        single = self.attempt(caller, call, depth)
        results = []
        pending = [(1.0, 0, [])]
        for number in range(1, call["attempts"] + 1):
            following = []
            for probability, elapsed, traces in pending:
                for share, reply in single:
                    trace = dict(reply["trace"], attempt=number, attempts=call["attempts"])
                    total = elapsed + reply["ms"]
                    if reply["ok"] or number == call["attempts"]:
                        results.append((probability * share, dict(reply, ms=total, trace=traces + [trace])))
                    else:
                        following.append((probability * share, total, traces + [trace]))
            pending = following
        return _merge(results)

    # One attempt: routing, fault, upstream, client timeout.
    def attempt(self, caller, call, depth):
        service = call["service"]
        route = self.route(service)
        base = {"from": caller, "service": service, "virtual_service": route["virtual_service"],
                "route_index": route["route_index"], "subset": None, "version": None, "fault": None,
                "timeout_s": _seconds_out(call["timeout_ms"]), "upstream_s": None, "calls": []}
        outcome = route["outcome"]
        if outcome == "no_route":
            return [(1.0, _reply(base, False, 404, 0, "no_route"))]
        if outcome == "redirect":
            self.warn("%s answers %s with a redirect; redirects are not followed" % (route["virtual_service"], service))
            return [(1.0, _reply(base, False, route["status"], 0, "error"))]
        if outcome == "direct_response":
            status = route["status"]
            ok = isinstance(status, int) and 200 <= status < 300
            return [(1.0, _reply(base, ok, status, 0, "ok" if ok else "error"))]
        branches = []
        for dest in route["destinations"]:
            target = short_name(dest["fqdn"], self.namespace)
            for fault_share, delay_ms, abort in _fault_branches(route["fault"]):
                trace = dict(base, subset=dest["subset"], fault=_fault_trace(delay_ms, abort))
                if abort is not None:
                    reply = _reply(trace, False, abort, delay_ms, "abort")
                    branches.append((dest["share"] * fault_share, self._client_timeout(reply, call)))
                    continue
                for share, upstream in self.upstream(target, dest["subset"], route, depth):
                    trace_up = dict(trace, version=upstream.get("version"), calls=upstream["calls"],
                                    upstream_s=_seconds_out(upstream["served_ms"]))
                    reply = _reply(trace_up, upstream["ok"], upstream["status"], delay_ms + upstream["ms"],
                                   upstream["result"], upstream["shows"], upstream["unavailable"])
                    branches.append((dest["share"] * fault_share * share, self._client_timeout(reply, call)))
        return _merge(branches)

    def _client_timeout(self, reply, call):
        limit = call["timeout_ms"]
        if limit is None or reply["ms"] <= limit:
            return reply
        trace = dict(reply["trace"], elapsed_s=_seconds_out(limit), result="timeout", status=None)
        return dict(reply, ok=False, status=None, ms=limit, shows={}, unavailable=[], trace=trace)

    # The destination's pods behind Envoy: version choice, Envoy retries and route timeout.
    def upstream(self, target, subset, route, depth):
        versions = self.graph["services"].get(target)
        if versions is None:
            self.warn("host %s is not in the call graph: assumed to answer at once" % target)
            return [(1.0, _upstream_reply(True, 200, 0, 0, "ok"))]
        if subset is not None and subset not in versions:
            return [(1.0, _upstream_reply(False, 503, 0, None, "no_endpoints"))]
        # Without a subset the Kubernetes service spreads requests over the pods of every version.
        names = [subset] if subset is not None else sorted(versions)
        served = []
        for name in names:
            served.extend((p / len(names), reply) for p, reply in self.serve(target, name, depth + 1))
        served = _merge(served)
        return self._envoy(served, route["retries"] or {}, route["timeout_ms"])

    def _envoy(self, served, retries, timeout_ms):
        tries = 1 + (retries.get("attempts") or 0)
        per_try = retries.get("per_try_timeout_ms")
        tokens = set((retries.get("retry_on") or "").split(","))
        results = []
        pending = [(1.0, 0)]
        for number in range(1, tries + 1):
            following = []
            for probability, elapsed in pending:
                for share, reply in served:
                    if per_try is not None and reply["ms"] > per_try:
                        took, status, result = per_try, 504, "route_timeout"
                        retriable = bool(tokens & _RETRY_ON_TIMEOUT)
                    else:
                        took, status = reply["ms"], reply["status"]
                        result = "ok" if reply["ok"] else "error"
                        retriable = not reply["ok"] and retries_answer(retries, status)
                    total = elapsed + took
                    if timeout_ms is not None and total > timeout_ms:
                        results.append((probability * share, _from_served(reply, timeout_ms, 504, "route_timeout")))
                    elif result == "ok" or not retriable or number == tries:
                        results.append((probability * share, _from_served(reply, total, status, result)))
                    else:
                        following.append((probability * share, total))
            pending = following
        return _merge(results)


def _after_call(state, reply, call):
    state = dict(state, ms=state["ms"] + reply["ms"], calls=state["calls"] + reply["trace"],
                 shows=dict(state["shows"]), unavailable=list(state["unavailable"]))
    if reply["ok"]:
        state["shows"].update(reply["shows"])
        state["unavailable"].extend(reply["unavailable"])
    else:
        state["unavailable"].append(call["service"])
        state["degraded"] = True
        if call["required"]:
            state.update(ok=False, status=500)
    return state


def _fault_branches(fault):
    """(probability, delay ms, abort status or None): delay and abort are sampled independently."""
    fault = fault or {}
    delay = fault.get("delay")
    abort = fault.get("abort")
    delays = [(1.0, 0)]
    if delay:
        p = delay["percentage"] / 100.0
        delays = [(p, delay["fixed_delay_ms"]), (1.0 - p, 0)]
    aborts = [(1.0, None)]
    if abort:
        p = abort["percentage"] / 100.0
        status = abort.get("http_status") or abort.get("grpc_status") or abort.get("http2_error")
        aborts = [(p, status), (1.0 - p, None)]
    return [(pd * pa, d, a) for pd, d in delays for pa, a in aborts if pd * pa > 0]


def _fault_trace(delay_ms, abort):
    trace = {}
    if delay_ms:
        trace["delay_s"] = _seconds_out(delay_ms)
    if abort is not None:
        trace["abort"] = abort
    return trace or None


def _reply(trace, ok, status, ms, result, shows=None, unavailable=None):
    trace = dict(trace, elapsed_s=_seconds_out(ms), result=result, status=status)
    return {"ok": ok, "status": status, "ms": ms, "shows": shows or {}, "unavailable": unavailable or [],
            "trace": trace}


def _upstream_reply(ok, status, ms, served_ms, result):
    return {"ok": ok, "status": status, "ms": ms, "served_ms": served_ms, "result": result, "shows": {},
            "unavailable": [], "calls": [], "version": None}


def _from_served(served, ms, status, result):
    ok = result == "ok"
    return {"ok": ok, "status": status, "ms": ms, "served_ms": served["ms"], "result": result,
            "shows": served["shows"] if ok else {}, "unavailable": served["unavailable"] if ok else [],
            "calls": served["calls"], "version": served["version"]}


# The prediction --------------------------------------------------------------------------------------------

def predict(virtual_services, user=None, graph=None, entry=None, namespace="default", headers=None):
    """What ``user`` (None: anonymous) sees at the entry service; see the module docstring for the result."""
    loaded = load_graph(graph)
    entry = entry or loaded["entry"]
    if entry not in loaded["services"]:
        raise MeshError("is not a service of the graph", field="entry", value=entry)
    request = {"headers": headers or {}}
    if user is not None:
        if not isinstance(user, str) or not user:
            raise MeshError("must be a user name such as jason", field="user", value=user)
        request["user"] = user
    predictor = _Predictor(objects_of_kind(virtual_services, "VirtualService"), request, loaded, namespace)
    entry_call = {"service": entry, "timeout_ms": None, "attempts": 1, "required": True}
    branches = predictor.call("client", entry_call, 0)

    distribution = _group([_branch(probability, reply, entry) for probability, reply in branches])
    return _summary(distribution, user, entry, predictor.warnings)


def _branch(probability, reply, entry):
    if not reply["ok"]:
        outcome = "%s_unavailable" % entry
    elif reply["unavailable"]:
        outcome = "%s_unavailable" % reply["unavailable"][0]
    else:
        outcome = "ok"
    shows = reply["shows"] if reply["ok"] else {}
    branch = {"probability": probability, "outcome": outcome, "stars": shows.get("stars"), "shows": shows,
              "latency_s": _seconds_out(reply["ms"]), "unavailable": reply["unavailable"] if reply["ok"] else [entry],
              "calls": reply["trace"]}
    branch["explanation"] = _explain(branch, entry)
    return branch


def _group(distribution):
    """Branches that look the same to the user are one line of the distribution; the likeliest trace stays."""
    grouped = {}
    order = []
    for branch in sorted(distribution, key=lambda b: -b["probability"]):
        key = json.dumps([branch[k] for k in ("outcome", "stars", "shows", "latency_s", "unavailable")],
                         sort_keys=True)
        if key in grouped:
            grouped[key]["probability"] += branch["probability"]
        else:
            grouped[key] = dict(branch)
            order.append(key)
    result = [grouped[key] for key in order]
    for branch in result:
        branch["probability"] = round(branch["probability"], 6)
    result.sort(key=lambda b: (-b["probability"], b["outcome"], str(b["stars"])))
    return result


def _summary(distribution, user, entry, warnings):
    def common(key):
        values = set(json.dumps(b[key]) for b in distribution)
        return distribution[0][key] if len(values) == 1 else "mixed"

    deterministic = len(distribution) == 1
    outcomes = {}
    stars = {}
    for branch in distribution:
        outcomes[branch["outcome"]] = round(outcomes.get(branch["outcome"], 0) + branch["probability"], 6)
        label = branch["stars"] if branch["stars"] is not None else "unavailable"
        stars[label] = round(stars.get(label, 0) + branch["probability"], 6)
    if deterministic:
        explanation = distribution[0]["explanation"]
    else:
        explanation = " ".join("%g %% of requests: %s" % (round(b["probability"] * 100, 2), b["explanation"])
                               for b in distribution)
    explanation = "%s: %s" % (user or "anonymous user", explanation)
    return {
        "user": user,
        "entry": entry,
        "outcome": common("outcome"),
        "stars": common("stars"),
        "latency_s": max(b["latency_s"] for b in distribution),
        "mean_latency_s": round(sum(b["latency_s"] * b["probability"] for b in distribution), 6),
        "deterministic": deterministic,
        "calls": distribution[0]["calls"] if deterministic else None,
        "explanation": explanation,
        "outcomes": outcomes,
        "stars_distribution": stars,
        "distribution": distribution,
        "warnings": list(warnings),
    }


# Explanations ----------------------------------------------------------------------------------------------

def _explain(branch, entry):
    if branch["outcome"] == "ok":
        headline = "%s answers in %g s" % (entry, branch["latency_s"])
    else:
        headline = "%s shows %s unavailable after %g s" % (
            entry, branch["outcome"][:-len("_unavailable")], branch["latency_s"])
    stars = branch["stars"]
    if stars is not None:
        headline += " with no stars" if stars == "none" else " with %s stars" % stars
    sentences = [headline + "."]
    for trace in branch["calls"]:
        _explain_trace(trace, sentences)
    return " ".join(sentences)


def _explain_trace(trace, sentences):
    service = trace["service"]
    where = "VirtualService %s route %s" % (trace["virtual_service"], trace["route_index"])
    fault = trace["fault"] or {}
    said = []
    if "delay_s" in fault:
        said.append("%s is delayed %g s by fault injection (%s)" % (service, fault["delay_s"], where))
        if trace["result"] == "ok" and trace["timeout_s"] is not None:
            said.append("%s waits for it: its timeout is %g s" % (trace["from"], trace["timeout_s"]))
    result = trace["result"]
    if result == "abort":
        said.append("%s is aborted with %s by fault injection (%s)" % (service, _status(trace["status"]), where))
    elif result == "timeout":
        text = "%s gives up on %s after its %g s timeout (attempt %d of %d)" % (
            trace["from"], service, trace["timeout_s"], trace["attempt"], trace["attempts"])
        if trace["upstream_s"] is not None and trace["version"]:
            answered = (fault.get("delay_s") or 0) + trace["upstream_s"]
            text += ", although %s %s would have answered after %g s" % (service, trace["version"], answered)
        said.append(text)
    elif result == "no_route":
        said.append("no route of VirtualService %s matches the call to %s: HTTP 404"
                    % (trace["virtual_service"], service))
    elif result == "no_endpoints":
        said.append("%s has no pods for subset %s: HTTP 503" % (service, trace["subset"]))
    elif result == "route_timeout":
        said.append("the route to %s times out: HTTP 504 (%s)" % (service, where))
    elif result == "error":
        said.append("%s answers %s" % (service, _status(trace["status"])))
    for sentence in said:
        sentence += "."
        if sentence not in sentences:
            sentences.append(sentence)
    for nested in trace["calls"]:
        _explain_trace(nested, sentences)


def _status(status):
    return "HTTP %s" % status if isinstance(status, int) else "gRPC/HTTP2 error %s" % status
