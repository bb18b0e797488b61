"""The simulator against the real data plane: generated VirtualServices, probes through a sidecar, Envoy's stats.

For each configuration: replace the namespace's VirtualServices with it, wait until istiod has pushed every
proxy and every proxy has ACKed (/debug/syncz), send each probe through a source workload's outbound listener
(127.0.0.N:9080, the Host header as an application would send it), and read what Envoy did from its own
statistics (which cluster got the request, no_route, redirect, direct response, fault counters, route timeouts)
and from the response. `simulate()` is asked the same question; `compare()` says where they differ.

Deterministic outcomes must agree exactly; a weighted split or a partial fault is checked over repeated
requests against a binomial tolerance. A run is `seed` -> `generate(seed, n)`: the same seed gives the same
configurations and probes (ACK_DIFF_SEED replays a run).
"""

import concurrent.futures
import http.client
import json
import math
import os
import random
import re
import socket
import sys
import time
import urllib.parse

from . import control, envoy, topology

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NAMESPACE = "simdiff"
GROUP, VERSION = "networking.istio.io", "v1"
SUBSETS = {"reviews": ("v1", "v2", "v3"), "ratings": ("v1",), "details": ("v1",)}
SOURCES = ("productpage-v1", "reviews-v2")
PATHS = {"reviews": "/reviews/0", "ratings": "/ratings/0", "details": "/details/0"}
# Repeated requests for a probe whose outcome is a draw (weights, partial faults).
DRAWS = 20
# How far a count may stray from n*p: 4.5 standard deviations, plus one for rounding.
SIGMAS = 4.5


def _simulator():
    """Imports the collection's simulator (through the collection link `make link` creates)."""
    link = os.path.join(ROOT, "build", "collections")
    if link not in sys.path:
        sys.path.insert(0, link)
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import simulate, validate
    return simulate, validate


# --- the generator -------------------------------------------------------------------------------------------


def _string_match(rng, values, allow_regex_star=True):
    value = rng.choice(values)
    kind = rng.choice(("exact", "prefix", "regex"))
    if kind == "exact":
        return {"exact": value}
    if kind == "prefix":
        return {"prefix": value[:max(1, rng.randrange(1, len(value) + 1))]}
    choices = [re.escape(value), re.escape(value[:2]) + ".*", "[a-z]+", ".*", "(%s|other)" % re.escape(value)]
    if allow_regex_star:
        choices.append("*")
    return {"regex": rng.choice(choices)}


USERS = ("jason", "alice", "bob")
# The upstream latency a probe may ask for (x-test-latency-ms); route timeouts are 100 ms and 1 s.
LATENCY_MS = 250
METHODS = ("GET", "POST", "HEAD")


def _match_block(rng, service):
    block = {}
    for _block in range(rng.choice((1, 1, 2, 3))):
        what = rng.choice(("uri", "headers", "headers", "withoutHeaders", "queryParams", "method", "authority",
                           "port", "sourceLabels", "sourceNamespace", "ignoreUriCase", "scheme"))
        if what == "uri":
            path = PATHS[service]
            kind = rng.choice(("exact", "prefix", "prefix", "regex"))
            if kind == "exact":
                block["uri"] = {"exact": rng.choice((path, path.upper(), path + "x"))}
            elif kind == "prefix":
                block["uri"] = {"prefix": rng.choice(("/", path[:4], path[:4].upper(), path, "/other"))}
            else:
                block["uri"] = {"regex": rng.choice((r"/%s/\d+" % service, "/.*", "/[a-z]+/1"))}
        elif what == "ignoreUriCase":
            block["ignoreUriCase"] = True
        elif what == "headers":
            block.setdefault("headers", {})[rng.choice(("end-user", "x-canary", "x-request-id",
                                                        "x-forwarded-proto"))] = _string_match(
                rng, USERS + ("yes", "http"))
        elif what == "withoutHeaders":
            match = rng.choice(({"exact": "jason"}, {"regex": ".*"}, {"regex": "*"}, {"prefix": "ja"},
                                {"regex": "a.*"}))
            block.setdefault("withoutHeaders", {})[rng.choice(("end-user", "x-canary"))] = match
        elif what == "queryParams":
            block.setdefault("queryParams", {})[rng.choice(("v", "debug"))] = _string_match(
                rng, ("1", "true", "x"), allow_regex_star=True)
        elif what == "method":
            block["method"] = {"exact": rng.choice(METHODS)}
        elif what == "scheme":
            block["scheme"] = {"exact": rng.choice(("http", "https"))}
        elif what == "authority":
            block["authority"] = rng.choice(({"exact": "%s:9080" % service}, {"exact": service},
                                             {"prefix": service}, {"regex": "%s(:9080)?" % service}))
        elif what == "port":
            block["port"] = rng.choice((9080, 9080, 9999))
        elif what == "sourceLabels":
            block["sourceLabels"] = rng.choice(({"app": "productpage"}, {"app": "reviews"},
                                                {"app": "reviews", "version": "v2"}))
            if rng.random() < 0.2:
                block["gateways"] = ["mesh"]
        elif what == "sourceNamespace":
            block["sourceNamespace"] = rng.choice((NAMESPACE, "other"))
    return block


def _destinations(rng, service):
    subsets = SUBSETS[service]
    if len(subsets) == 1 or rng.random() < 0.5:
        dest = {"destination": {"host": service}}
        if rng.random() < 0.8:
            dest["destination"]["subset"] = rng.choice(subsets)
        return [dest]
    picked = rng.sample(subsets, rng.choice((2, 2, 3)))
    weights = [rng.choice((0, 10, 25, 50, 75, 90, 100)) for _dest in picked]
    if sum(weights) == 0:
        weights[0] = 100
    return [{"destination": {"host": service, "subset": s}, "weight": w} for s, w in zip(picked, weights)]


def _duration(ms):
    return "%dms" % ms if ms % 1000 else "%ds" % (ms // 1000)


def _route(rng, service, last):
    route = {}
    if not last or rng.random() < 0.3:
        route["match"] = [_match_block(rng, service) for _block in range(rng.choice((1, 1, 2)))]
    kind = rng.choices(("route", "redirect", "direct"), (8, 1, 1))[0]
    if kind == "redirect":
        route["redirect"] = rng.choice(({"uri": "/moved"}, {"authority": "elsewhere"},
                                        {"uri": "/moved", "redirectCode": 302}, {"uri": "/m?x=2", "port": 8080},
                                        {"scheme": "https", "redirectCode": 307}, {"port": 80},
                                        {"derivePort": "FROM_REQUEST_PORT", "authority": "a.example"},
                                        {"scheme": "https", "port": 443, "uri": "/s"}))
        return route
    if kind == "direct":
        route["directResponse"] = rng.choice(({"status": 418}, {"status": 503, "body": {"string": "closed"}},
                                              {"status": 200, "body": {"string": "ok"}}))
        return route
    route["route"] = _destinations(rng, service)
    for dest in route["route"]:
        if rng.random() < 0.12:
            dest["headers"] = _header_operations(rng)
    if rng.random() < 0.35:
        fault = {}
        if rng.random() < 0.6:
            # The delay's length decides nothing Envoy is asked (the route timeout starts after it): short.
            fault["delay"] = {"fixedDelay": _duration(rng.choice((50, 100))),
                              "percentage": {"value": rng.choice((100, 100, 50, 0))}}
        if "delay" not in fault or rng.random() < 0.4:
            fault["abort"] = {"httpStatus": rng.choice((500, 503, 418)),
                              "percentage": {"value": rng.choice((100, 100, 50, 0))}}
        route["fault"] = fault
    if rng.random() < 0.25:
        route["retries"] = rng.choice(({"attempts": 0}, {"attempts": 3, "perTryTimeout": "1s"},
                                       {"attempts": 2, "retryOn": "5xx,connect-failure"},
                                       {"attempts": 1, "retryOn": "503"}, {"attempts": 2, "retryOn": "gateway-error"},
                                       {"attempts": 1, "retryOn": "retriable-4xx,reset"}))
    if rng.random() < 0.3:
        # Probes ask for upstream latencies of 0 or LATENCY_MS: every timeout is >= 150 ms away from them. Retries
        # back off up to 25+50+100 ms: a route that may retry an answer (retryOn set) gets the long timeout only.
        retries = route.get("retries") or {}
        route["timeout"] = _duration(rng.choice((1000,) if retries.get("retryOn") else (100, 1000)))
    if rng.random() < 0.25:
        route["rewrite"] = rng.choice((
            {"uri": "/%s/1" % service}, {"uri": "/"}, {"uri": "/v2"}, {"authority": "%s.example" % service},
            {"uri": "/%s/" % service, "authority": "%s.example:8080" % service},
            {"uriRegexRewrite": {"match": "/([a-z]+)/", "rewrite": "/\\1-x/"}},
            {"uriRegexRewrite": {"match": "^/(.*)$", "rewrite": "/p/\\1"}, "authority": "re.example"}))
    if rng.random() < 0.3:
        route["headers"] = _header_operations(rng)
    if rng.random() < 0.15:
        mirror = {"host": service}
        if rng.random() < 0.7:
            mirror["subset"] = rng.choice(SUBSETS[service])
        if rng.random() < 0.5:
            route["mirror"] = mirror
            if rng.random() < 0.5:
                route["mirrorPercentage"] = {"value": rng.choice((100, 50, 0))}
        else:
            route["mirrors"] = [{"destination": mirror}]
            if rng.random() < 0.5:
                route["mirrors"][0]["percentage"] = {"value": rng.choice((100, 50))}
    return route


# Headers the lab's apps echo (x-op-* as received; x-op-resp is in every answer): operations on them are seen.
REQUEST_HEADERS = ("x-op-a", "x-op-b")
RESPONSE_HEADERS = ("x-op-resp", "x-op-c")


def _header_operations(rng):
    ops = {}
    for direction, names in (("request", REQUEST_HEADERS), ("response", RESPONSE_HEADERS)):
        if rng.random() < 0.4:
            continue
        part = {}
        for action in ("set", "add", "remove"):
            if rng.random() < 0.45:
                name = rng.choice(names)
                if action == "remove":
                    part["remove"] = [name]
                else:
                    part[action] = {name: rng.choice((action + "-1", action + "-2", ""))}
        if direction == "request" and rng.random() < 0.1:
            part.setdefault("set", {})[rng.choice(("host", ":authority"))] = "h.example"
        if part:
            ops[direction] = part
    return ops or {"request": {"set": {"x-op-a": "set-1"}}}


def _hosts(rng, service):
    full = "%s.%s.svc.cluster.local" % (service, NAMESPACE)
    return rng.choice(([service], [service], [full], [service, full], [full, "%s.example" % service]))


def generate_config(rng, index):
    """One VirtualService (and its probes) over one service."""
    service = rng.choice(("reviews", "reviews", "ratings", "details"))
    routes = [_route(rng, service, last=i == n - 1) for n in [rng.choice((1, 2, 3, 4))] for i in range(n)]
    vs = {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "VirtualService",
          "metadata": {"name": service, "namespace": NAMESPACE},
          "spec": {"hosts": _hosts(rng, service), "http": routes}}
    return {"name": "gen-%03d" % index, "service": service, "objects": [vs],
            "probes": [generate_probe(rng, service) for _probe in range(10)]}


def generate_probe(rng, service):
    path = PATHS[service]
    path = rng.choice((path, path, path.upper(), path + "?v=1", path + "?debug=true&v=x", path + "?v=1&v=x",
                       "/other", path.replace("/0", "/./0"), "/x/.." + path, path.replace("0", "%30")))
    headers = {}
    for name, values in (("end-user", USERS), ("x-canary", ("yes", "no"))):
        if rng.random() < 0.4:
            headers[name] = rng.choice(values)
    for name in REQUEST_HEADERS:
        if rng.random() < 0.3:
            headers[name] = "client"
    if rng.random() < 0.2:
        headers["x-test-latency-ms"] = str(LATENCY_MS)
    elif rng.random() < 0.2:
        headers["x-test-status"] = rng.choice(("500", "503", "409"))
    return {
        "source": rng.choice(SOURCES),
        "authority": rng.choice((service + ":9080", service + ":9080", service,
                                 "%s.%s:9080" % (service, NAMESPACE), "%s.%s.svc.cluster.local" % (service, NAMESPACE),
                                 "%s.%s.svc.cluster.local.:9080" % (service, NAMESPACE))),
        "method": rng.choice(("GET", "GET", "GET", "POST", "HEAD")),
        "path": path,
        "headers": headers,
    }


def accepted_by_validator(config):
    """Our own validator's verdict: an error text, or None when it accepts every object."""
    _simulate, validate = _simulator()
    for obj in config["objects"]:
        problems = validate.validate_virtual_service(obj["spec"], path="spec",
                                                     namespace=obj["metadata"]["namespace"])
        if problems:
            return str(problems)
    return None


def istio_errors(verdicts):
    """The errors of the Istio oracle's verdicts on one configuration's objects (tests/mesh/oracle.py)."""
    return [e for v in verdicts for e in list(v["errors"]) + ([v["decode_error"]] if v.get("decode_error") else [])]


def generate(seed, count, judge):
    """`count` configurations Istio's own validation accepts, reproducibly from `seed`.

    `judge(objects)` is the oracle's (one verdict per object). A configuration Istio refuses is counted and
    replaced by the next one the same RNG draws, so a seed replays. Our validator judges each one too: where
    it and Istio differ is a disagreement of the exact-rules work, returned for the caller to fail on.
    Returns (configurations, {"drawn", "refused_by_istio", "disagreements": [...]}).
    """
    rng = random.Random(seed)
    configs, index = [], 0
    counts = {"drawn": 0, "refused_by_istio": 0, "disagreements": []}
    while len(configs) < count:
        config = generate_config(rng, index)
        index += 1
        counts["drawn"] += 1
        istio = istio_errors(judge(config["objects"]))
        ours = accepted_by_validator(config)
        if bool(istio) != (ours is not None):
            counts["disagreements"].append({"name": config["name"], "istio": istio, "ours": ours,
                                            "objects": config["objects"]})
        if istio:
            counts["refused_by_istio"] += 1
            continue
        configs.append(config)
    return configs, counts


# --- the regression configurations: each one a cause the simulator once got wrong ------------------------------


def _vs(service, http, hosts=None, name=None):
    return {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "VirtualService",
            "metadata": {"name": name or service, "namespace": NAMESPACE},
            "spec": {"hosts": hosts or [service], "http": http}}


def _probe(path="/reviews/0", authority="reviews:9080", source="productpage-v1", method="GET", **headers):
    return {"source": source, "authority": authority, "method": method, "path": path,
            "headers": {k.replace("_", "-"): v for k, v in headers.items()}}


V1 = [{"destination": {"host": "reviews", "subset": "v1"}}]
V2 = [{"destination": {"host": "reviews", "subset": "v2"}}]
V3 = [{"destination": {"host": "reviews", "subset": "v3"}}]


def regressions():
    """Fixed configurations, one per cause found (issue 13 and the generator), each with its probes."""
    cases = [
        ("timeout-on-fault-route", [_vs("reviews", [
            {"route": V2, "fault": {"delay": {"fixedDelay": "300ms", "percentage": {"value": 100}}},
             "timeout": "100ms"}])], [_probe(), _probe(x_test_latency_ms="250")]),
        ("without-headers-empty-pattern-absent-header", [_vs("reviews", [
            {"match": [{"withoutHeaders": {"x-canary": {"regex": ".*"}}}], "route": V2},
            {"match": [{"withoutHeaders": {"end-user": {"prefix": "ja"}}}], "route": V3},
            {"route": V1}])], [_probe(), _probe(x_canary="yes"), _probe(x_canary="yes", end_user="jason")]),
        ("without-headers-regex-star", [_vs("reviews", [
            {"match": [{"withoutHeaders": {"x-canary": {"regex": "*"}}}], "route": V2}, {"route": V1}])],
         [_probe(), _probe(x_canary="")]),
        ("path-normalisation", [_vs("reviews", [
            {"match": [{"uri": {"exact": "/reviews/0"}}], "route": V2}, {"route": V1}])],
         [_probe(path="/reviews/./0"), _probe(path="/x/../reviews/0"), _probe(path="/reviews/%30"),
          _probe(path="/reviews//0"), _probe(path="/reviews/0?x=1")]),
        ("authority-with-port-and-vhost-forms", [_vs("reviews", [
            {"match": [{"authority": {"exact": "reviews:9080"}}], "route": V2}, {"route": V1}])],
         [_probe(), _probe(authority="reviews"), _probe(authority="reviews.%s" % NAMESPACE),
          _probe(authority="reviews.%s:9080" % NAMESPACE),
          _probe(authority="reviews.%s.svc.cluster.local." % NAMESPACE),
          _probe(authority="reviews.%s.svc:9080" % NAMESPACE)]),
        ("port-match-without-port-in-authority", [_vs("reviews", [
            {"match": [{"port": 9080}], "route": V2}, {"route": V1}])],
         [_probe(authority="reviews"), _probe()]),
        ("pseudo-headers-and-envoy-added-headers", [_vs("reviews", [
            {"match": [{"headers": {":method": {"exact": "POST"}}}], "route": V3},
            {"match": [{"headers": {":authority": {"exact": "reviews:9080"}, "x-forwarded-proto": {"exact": "http"},
                                    "x-request-id": {"regex": ".+"}}}], "route": V2},
            {"route": V1}])],
         [_probe(), _probe(method="POST"), _probe(authority="reviews")]),
        ("scheme-is-http", [_vs("reviews", [
            {"match": [{"scheme": {"exact": "http"}}], "route": V2}, {"route": V1}])], [_probe()]),
        ("repeated-and-raw-query-params", [_vs("reviews", [
            {"match": [{"queryParams": {"v": {"exact": "1"}}}], "route": V2},
            {"match": [{"queryParams": {"n": {"exact": "a%20b"}}}], "route": V3},
            {"route": V1}])],
         [_probe(path="/reviews/0?v=1&v=2"), _probe(path="/reviews/0?v=2&v=1"), _probe(path="/reviews/0?n=a%20b"),
          _probe(path="/reviews/0?n=a+b"), _probe(path="/reviews/0?%76=1")]),
        ("gateways-with-source-labels", [_vs("reviews", [
            {"match": [{"gateways": ["mesh"], "sourceLabels": {"app": "nobody"}}], "route": V2},
            {"match": [{"sourceLabels": {"app": "reviews"}, "sourceNamespace": NAMESPACE}], "route": V3},
            {"route": V1}])],
         [_probe(), _probe(source="reviews-v2")]),
        ("abort-with-percentage-without-error-type", [_vs("reviews", [
            {"route": V2, "fault": {"abort": {"percentage": {"value": 100}},
                                    "delay": {"fixedDelay": "150ms", "percentage": {"value": 100}}}}])],
         [_probe()]),
        ("abort-without-percentage", [_vs("reviews", [
            {"route": V2, "fault": {"abort": {"httpStatus": 500}}}])], [_probe()]),
        ("delay-percentage-zero-and-legacy-percent", [_vs("reviews", [
            {"match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": V2,
             "fault": {"delay": {"fixedDelay": "200ms", "percent": 100}}},
            {"route": V1, "fault": {"delay": {"fixedDelay": "200ms", "percentage": {"value": 0}}}}])],
         [_probe(end_user="jason"), _probe()]),
        ("ignore-uri-case-prefix-not-regex", [_vs("reviews", [
            {"match": [{"uri": {"regex": "/REVIEWS/.*"}, "ignoreUriCase": True}], "route": V3},
            {"match": [{"uri": {"prefix": "/REVIEWS"}, "ignoreUriCase": True}], "route": V2},
            {"route": V1}])], [_probe(), _probe(path="/REVIEWS/0")]),
        ("fqdn-host-short-request",
         [_vs("reviews", [{"route": V3}], hosts=["reviews.%s.svc.cluster.local" % NAMESPACE])],
         [_probe(), _probe(authority="reviews.%s.svc.cluster.local:9080" % NAMESPACE)]),
        ("redirect-and-direct-response", [_vs("reviews", [
            {"match": [{"uri": {"prefix": "/old"}}], "redirect": {"uri": "/reviews/0", "redirectCode": 302}},
            {"match": [{"uri": {"prefix": "/closed"}}],
             "directResponse": {"status": 503, "body": {"string": "closed"}}},
            {"route": V1}])], [_probe(path="/old/x"), _probe(path="/closed"), _probe()]),
        ("weighted-split", [_vs("reviews", [{"route": [
            {"destination": {"host": "reviews", "subset": "v1"}, "weight": 25},
            {"destination": {"host": "reviews", "subset": "v3"}, "weight": 75}]}])], [_probe()]),
        ("partial-abort", [_vs("reviews", [{"route": V2, "fault": {
            "abort": {"httpStatus": 503, "percentage": {"value": 50}}}}])], [_probe()]),
        ("redirect-location-forms", [_vs("reviews", [
            {"match": [{"uri": {"prefix": "/a"}}], "redirect": {"uri": "/moved"}},
            {"match": [{"uri": {"prefix": "/b"}}], "redirect": {"authority": "elsewhere", "redirectCode": 302}},
            {"match": [{"uri": {"prefix": "/c"}}], "redirect": {"port": 8080, "uri": "/m?x=2"}},
            {"match": [{"uri": {"prefix": "/d"}}], "redirect": {"scheme": "https", "redirectCode": 307}},
            {"match": [{"uri": {"prefix": "/e"}}], "redirect": {"port": 80}},
            {"match": [{"uri": {"prefix": "/f"}}], "redirect": {"derivePort": "FROM_REQUEST_PORT"}},
            {"route": V1}])],
         [_probe(path="/a/x?v=1"), _probe(path="/b/../b/1"), _probe(path="/c?v=1", authority="reviews"),
          _probe(path="/d"), _probe(path="/e"), _probe(path="/f", authority="reviews")]),
        ("retries-on-the-answer", [_vs("reviews", [
            {"match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": V1,
             "retries": {"attempts": 2, "retryOn": "gateway-error"}},
            {"match": [{"headers": {"end-user": {"exact": "bob"}}}], "route": V2,
             "retries": {"attempts": 1, "retryOn": "500,connect-failure"}},
            {"match": [{"headers": {"end-user": {"exact": "alice"}}}], "route": V2,
             "retries": {"attempts": 1, "retryOn": "retriable-4xx"}},
            {"route": V3}])],
         [_probe(end_user="jason", x_test_status="503"), _probe(end_user="jason", x_test_status="500"),
          _probe(end_user="bob", x_test_status="500"), _probe(end_user="alice", x_test_status="409"),
          _probe(x_test_status="503")]),
        # What the upstream receives (issue 13's rewrites, header operations and mirrors).
        ("rewrite-uri-replaces-what-the-match-consumed", [_vs("reviews", [
            {"match": [{"uri": {"prefix": "/rev"}}], "route": V1, "rewrite": {"uri": "/new"}},
            {"match": [{"uri": {"exact": "/x/1"}}, {"uri": {"regex": "/y/[0-9]+"}}], "route": V2,
             "rewrite": {"uri": "/reviews/1"}},
            {"match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": V3, "rewrite": {"uri": "/v2/"}},
            {"route": V1}])],
         [_probe(path="/reviews/0?v=1"), _probe(path="/REVIEWS/0"), _probe(path="/x/1?q"), _probe(path="/y/22"),
          _probe(path="/ratings/0", end_user="jason"), _probe(path="/x/../reviews/%30")]),
        ("uri-regex-rewrite-and-authority", [_vs("reviews", [
            {"match": [{"method": {"exact": "GET"}}], "route": V2,
             "rewrite": {"uriRegexRewrite": {"match": "/([a-z]+)/", "rewrite": "/\\1-x/"},
                         "authority": "reviews.example:8080"}},
            {"route": V1, "headers": {"request": {"set": {"host": "h.example"}}}}])],
         [_probe(path="/reviews/a/0?q=/b/"), _probe(method="HEAD")]),
        ("header-operations-on-route-and-lone-destination", [_vs("reviews", [{
            "route": [{"destination": {"host": "reviews", "subset": "v1"},
                       "headers": {"request": {"set": {"x-op-a": "dest"}, "remove": ["x-op-b"]},
                                   "response": {"add": {"x-op-resp": "dest"}}}}],
            "headers": {"request": {"set": {"x-op-b": "route", "x-op-a": "route"}, "add": {"x-op-a": "more"}},
                        "response": {"remove": ["x-op-resp"], "set": {"x-op-c": "route"}}}}])],
         [_probe(), _probe(x_op_a="client", x_op_b="client")]),
        ("header-operations-on-weighted-destination-run-first", [_vs("reviews", [{
            "route": [{"destination": {"host": "reviews", "subset": "v3"}, "weight": 100,
                       "headers": {"request": {"set": {"x-op-a": "dest"}, "remove": ["x-op-b"]},
                                   "response": {"set": {"x-op-resp": "dest"}}}},
                      {"destination": {"host": "reviews", "subset": "v2"}, "weight": 0}],
            "headers": {"request": {"set": {"x-op-b": "route"}, "add": {"x-op-a": "more"}},
                        "response": {"add": {"x-op-resp": "route"}}}}])],
         [_probe(), _probe(x_op_b="client")]),
        ("header-operations-with-empty-values", [_vs("reviews", [{
            "route": V2, "headers": {"request": {"set": {"x-op-a": ""}, "add": {"x-op-b": ""}},
                                     "response": {"set": {"x-op-resp": ""}}}}])],
         [_probe(x_op_a="client", x_op_b="client")]),
        ("mirror-and-mirrors", [_vs("reviews", [
            {"match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": V1,
             "mirrors": [{"destination": {"host": "reviews", "subset": "v3"}},
                         {"destination": {"host": "reviews", "subset": "v2"}, "percentage": {"value": 100}}]},
            {"match": [{"headers": {"end-user": {"exact": "bob"}}}], "route": V1,
             "mirror": {"host": "reviews", "subset": "v1"}, "mirrorPercentage": {"value": 0}},
            {"route": V2, "mirror": {"host": "reviews"}}])],
         [_probe(end_user="jason"), _probe(end_user="bob"), _probe()]),
    ]
    return [{"name": "regression-" + name, "service": "reviews", "objects": objects, "probes": probes}
            for name, objects, probes in cases]


# --- the lab ---------------------------------------------------------------------------------------------


def destination_rules():
    return [{"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "DestinationRule",
             "metadata": {"name": service, "namespace": NAMESPACE},
             "spec": {"host": service, "subsets": [{"name": s, "labels": {"version": s}} for s in subsets]}}
            for service, subsets in SUBSETS.items()]


def _path(plural, name=None):
    base = "/apis/%s/%s/namespaces/%s/%s" % (GROUP, VERSION, NAMESPACE, plural)
    return base + "/" + name if name else base


def setup(client):
    """The namespace's DestinationRules; no VirtualService."""
    for obj in destination_rules():
        status, body = client.apply(_path("destinationrules", obj["metadata"]["name"]), obj, manager="ack-diff")
        if status not in (200, 201):
            raise control.MeshError("applying DestinationRule %s: %s %s" % (obj["metadata"]["name"], status, body))
    remove_virtual_services(client)


def remove_virtual_services(client):
    status, body = client.request("GET", _path("virtualservices"))
    items = body.get("items", []) if status == 200 and isinstance(body, dict) else []
    for item in items:
        client.request("DELETE", _path("virtualservices", item["metadata"]["name"]))
    return bool(items)


def apply_config(client, config, timeout=10.0):
    """Replaces the namespace's VirtualServices with the configuration's and waits for every proxy's ACK."""
    before = control.push_marks(NAMESPACE)
    remove_virtual_services(client)
    for obj in config["objects"]:
        status, body = client.request("POST", _path("virtualservices"), obj)
        if status != 201:
            raise control.MeshError("creating %s of %s: %s %s"
                                    % (obj["metadata"]["name"], config["name"], status, body))
    return control.wait_pushed(NAMESPACE, before, timeout=timeout)


# What a probe's stat deltas on the source Envoy mean.
# Cluster stat names end the cluster name with ';' (Envoy's escaping of the '|'-separated name).
_CLUSTER_STAT = re.compile(r"^cluster\.outbound\|9080\|([^|]*)\|([^.|]+)\.[^|]*?;?\.(upstream_rq_total|"
                           r"upstream_rq_timeout|upstream_rq_retry)$")
# The outbound listener's HTTP connection manager (its stat prefix holds dots: outbound_127.0.0.N_9080).
_HTTP_STAT = re.compile(r"^http\.outbound_.+?\.(no_route|rq_redirect|rq_direct_response|fault\.aborts_injected|"
                        r"fault\.delays_injected)$")


# Asked of Envoy's admin server, so it sends only these few counters (two calls per request).
_STAT_FILTER = urllib.parse.quote(r"(upstream_rq_total|upstream_rq_timeout|upstream_rq_retry|no_route|rq_redirect|"
                                  r"rq_direct_response|injected)$")


def _stats(workload):
    stats = envoy.stats(workload, _STAT_FILTER)
    return {k: v for k, v in stats.items() if _CLUSTER_STAT.match(k) or _HTTP_STAT.match(k)}


def _delta(before, after):
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def _settled_stats(source, before, settle):
    """The source Envoy's counters once a probe is done; with `settle`, read until two reads agree.

    A mirrored copy is sent beside the request and may be counted after the answer is back.
    """
    after = _stats(source)
    for _read in range(10 if settle else 0):
        time.sleep(0.02)
        again = _stats(source)
        if again == after and _delta(before, again):
            break
        after = again
    return after


def send(probe, service, timeout=10.0, settle=False):
    """One request through the source workload's Envoy; what Envoy's stats and the response say happened."""
    source = topology.workload(probe["source"])
    before = _stats(source)
    conn = http.client.HTTPConnection(source.ip, topology.SERVICE_PORT, timeout=timeout)
    started = time.monotonic()
    try:
        conn.putrequest(probe["method"], probe["path"], skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", probe["authority"])
        for name, value in probe["headers"].items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        status, pairs = resp.status, resp.getheaders()
    except (OSError, http.client.HTTPException, socket.timeout) as exc:
        status, pairs, body = None, [], str(exc).encode()
    finally:
        conn.close()
    elapsed_ms = (time.monotonic() - started) * 1000
    # Envoy updates counters on its worker thread; the admin thread sees them once the stream is done.
    delta = _delta(before, _settled_stats(source, before, settle))
    return observe(status, pairs, body, elapsed_ms, delta, service)


def observe(status, pairs, body, elapsed_ms, delta, service):
    """Envoy's own account of one request (stats first; the response for what stats do not carry).

    `pairs` are the response's headers in order, repeated names included.
    """
    headers, ops = {}, {}
    for name, value in pairs:
        headers.setdefault(name.lower(), value)
        if name.lower() in RESPONSE_HEADERS:
            ops[name.lower()] = ops[name.lower()] + "," + value if name.lower() in ops else value
    try:
        echoed = json.loads(headers["x-seen-headers"]) if "x-seen-headers" in headers else None
    except ValueError:
        echoed = None
    seen = {"status": status, "elapsed_ms": round(elapsed_ms, 1), "stats": delta, "clusters": [], "service": None,
            "workload": headers.get("x-workload"), "location": headers.get("location"),
            "body": body.decode("utf-8", "replace")[:200],
            "upstream": {"path": headers.get("x-seen-path"), "authority": headers.get("x-seen-authority"),
                         "headers": echoed},
            "response_headers": ops}
    http_stats = {}
    for name, value in delta.items():
        m = _CLUSTER_STAT.match(name)
        if m and m.group(2) != service:
            continue  # a call the answering app made on its own (reviews v2/v3 call ratings)
        if m and m.group(3) == "upstream_rq_total":
            # Every request to a cluster of the service: the route's and any mirrored copy.
            seen["clusters"].extend([m.group(1)] * value)
            seen["service"] = m.group(2)
        elif m and m.group(3) == "upstream_rq_timeout":
            http_stats["route_timeout"] = value
        m = _HTTP_STAT.match(name)
        if m:
            http_stats[m.group(1)] = value
    seen["clusters"].sort()
    if http_stats.get("no_route"):
        outcome = "no_route"
    elif http_stats.get("rq_redirect") or (http_stats.get("rq_direct_response") and seen["location"]):
        # Envoy counts a redirect as a direct response too; the Location header tells them apart.
        outcome = "redirect"
    elif http_stats.get("rq_direct_response"):
        outcome = "direct_response"
    elif http_stats.get("fault.aborts_injected"):
        outcome = "abort"
    elif seen["service"] is not None:
        outcome = "route_timeout" if http_stats.get("route_timeout") or status == 504 else "routed"
    elif status == 504:
        outcome = "route_timeout"
    else:
        outcome = "unknown"
    seen["outcome"] = outcome
    seen["delayed"] = bool(http_stats.get("fault.delays_injected"))
    return seen


# --- the prediction and the comparison ------------------------------------------------------------------------


def simulator_request(probe):
    source = topology.workload(probe["source"])
    path = probe["path"]
    return {"host": probe["authority"], "authority": probe["authority"], "port": topology.SERVICE_PORT,
            "uri": path, "method": probe["method"], "headers": dict(probe["headers"]),
            "source_labels": source.labels(), "source_namespace": NAMESPACE}


def _mirror_draws(mirrors):
    """[(probability, [subsets mirrored])] over every combination of the mirrors firing (each independently)."""
    draws = [(1.0, [])]
    for mirror in mirrors:
        p = mirror["percentage"] / 100
        draws = [(q * p, hit + [mirror["subset"] or ""]) for q, hit in draws] + \
            [(q * (1 - p), hit) for q, hit in draws]
    return [(q, hit) for q, hit in draws if q > 0]


def predict(config, probe):
    """{outcome key: probability}: (outcome, clusters of the service requested, status, delayed).

    The clusters are the route's destination and every mirror that fires, each as its subset ('' for none).
    """
    simulate, _validate = _simulator()
    try:
        result = simulate.simulate(config["objects"], simulator_request(probe), NAMESPACE)
    except Exception as exc:  # noqa: BLE001 - a simulator that refuses a valid input disagrees with Envoy
        return {"outcome": "error", "error": str(exc)}, {("simulator error: %s" % exc, (), None, False): 1.0}
    outcomes = {}
    if result["outcome"] in ("no_route", "redirect", "direct_response"):
        return result, {(result["outcome"], (), result["status"], False): 1.0}
    fault = result["fault"] or {}
    delay = fault.get("delay")
    abort = fault.get("abort")
    delays = [(1.0, 0)] if not delay else [(delay["percentage"] / 100, delay["fixed_delay_ms"]),
                                           (1 - delay["percentage"] / 100, 0)]
    aborts = [(1.0, None)] if not abort else [(abort["percentage"] / 100, abort.get("http_status")),
                                              (1 - abort["percentage"] / 100, None)]
    timeout = result["timeout_ms"]
    latency = int(probe["headers"].get("x-test-latency-ms", "0"))
    answer = int(probe["headers"].get("x-test-status", "200"))
    # An upstream asked to fail is asked again as often as the route's retry policy says.
    tries = 1 + (result["retries"]["attempts"] if simulate.retries_answer(result["retries"], answer) else 0)
    for dest in result["destinations"]:
        for pd, delay_ms in delays:
            for pa, abort_status in aborts:
                if abort_status is not None:
                    # The fault filter answers before the router: no cluster, no mirror.
                    key = ("abort", (), abort_status, bool(delay_ms))
                    outcomes[key] = outcomes.get(key, 0) + dest["share"] * pd * pa
                    continue
                for pm, mirrored in _mirror_draws(result["mirrors"]):
                    p = dest["share"] * pd * pa * pm
                    clusters = tuple(sorted([dest["subset"] or ""] * tries + mirrored))
                    if timeout is not None and latency >= timeout:
                        # Envoy starts the route timeout after the fault delay: only the upstream counts.
                        key = ("route_timeout", clusters, 504, bool(delay_ms))
                    else:
                        key = ("routed", clusters, None, bool(delay_ms))
                    outcomes[key] = outcomes.get(key, 0) + p
    return result, {k: p for k, p in outcomes.items() if p > 0}


def observed_key(seen):
    if seen["outcome"] in ("no_route", "redirect", "direct_response", "abort"):
        return (seen["outcome"], tuple(seen["clusters"]), seen["status"],
                seen["delayed"] if seen["outcome"] == "abort" else False)
    if seen["outcome"] == "route_timeout":
        return ("route_timeout", tuple(seen["clusters"]), 504, seen["delayed"])
    return (seen["outcome"], tuple(seen["clusters"]), None, seen["delayed"])


def compare(predicted, observed):
    """Disagreements (strings) between {key: p} and a list of observed keys."""
    n = len(observed)
    counts = {}
    for key in observed:
        counts[key] = counts.get(key, 0) + 1
    problems = []
    for key, count in counts.items():
        if key not in predicted:
            problems.append("observed %s %d/%d times; predicted %s" % (_say(key), count, n, _say_all(predicted)))
    if problems or n == 1:
        return problems
    for key, p in predicted.items():
        expected = n * p
        slack = SIGMAS * math.sqrt(n * p * (1 - p)) + 1
        if abs(counts.get(key, 0) - expected) > slack:
            problems.append("%s: %d/%d, predicted %.0f%%" % (_say(key), counts.get(key, 0), n, 100 * p))
    return problems


def _say(key):
    outcome, clusters, status, delayed = key
    text = outcome + "".join(" " + (c or "(no subset)") for c in clusters) + (" %s" % status if status else "")
    return text + (" after a delay" if delayed else "")


def _say_all(predicted):
    return ", ".join("%s (%.0f%%)" % (_say(k), 100 * p) for k, p in sorted(predicted.items(), key=str))


def _has_mirror(config):
    return any("mirror" in route or "mirrors" in route
               for obj in config["objects"] for route in obj["spec"].get("http") or [])


def run_config(client, config, draws=DRAWS, sync_timeout=10.0):
    """Applies one configuration and sends its probes. Returns a report dict."""
    before = {w.name: envoy.rejections(w) for w in topology.WORKLOADS}
    try:
        push_s = apply_config(client, config, timeout=sync_timeout)
    except control.MeshError as exc:  # a NACK leaves the proxy behind istiod: syncz never shows the ACK
        push_s = None
        rejected = {"sync": str(exc)[:300]}
    else:
        rejected = {}
    for w in topology.WORKLOADS:
        delta = _delta(before[w.name], envoy.rejections(w))
        if delta:
            rejected[w.name] = delta
    if rejected:
        return {"name": config["name"], "push_s": None, "probes": [], "requests": 0, "rejected": rejected}
    report = {"name": config["name"], "push_s": round(push_s, 3), "probes": [], "requests": 0,
              "rejected": rejected}
    settle = _has_mirror(config)

    def run(probe):
        result, predicted = predict(config, probe)
        n = 1 if len(predicted) == 1 else draws
        seen = [send(probe, config["service"], settle=settle) for _draw in range(n)]
        problems = compare(predicted, [observed_key(s) for s in seen])
        problems.extend(_check_details(result, seen, probe))
        # Every answer is kept, so that another simulator can be judged on this run afterwards (rejudge()).
        return {"probe": probe, "predicted": _say_all(predicted), "requests": n, "problems": problems,
                "first": seen[0], "seen": seen[1:]}

    def run_source(source):
        return [(index, run(probe)) for index, probe in enumerate(config["probes"]) if probe["source"] == source]

    # Each source's probes in turn, the sources side by side: a probe reads only its source Envoy's counters,
    # and what the apps called meanwhile (reviews v2/v3 call ratings) never counts for the service probed.
    sources = sorted(set(p["source"] for p in config["probes"]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(sources)) as pool:
        done = sorted((item for items in pool.map(run_source, sources) for item in items), key=lambda i: i[0])
    report["probes"] = [entry for _index, entry in done]
    report["requests"] = sum(entry["requests"] for entry in report["probes"])
    return report


def _check_details(result, seen, probe):
    """What an outcome also fixes: the redirect's Location, the direct response's body, and for a routed
    request the path, authority and x-op-* headers the upstream received and the x-op-* response headers."""
    problems = []
    first = seen[0]
    if result["outcome"] == "redirect" and first["outcome"] == "redirect":
        if first["location"] != result["location"]:
            problems.append("redirect Location %s, predicted %s" % (first["location"], result["location"]))
    if result["outcome"] == "direct_response" and first["outcome"] == "direct_response":
        body = ((result["direct_response"] or {}).get("body") or {}).get("string")
        if body is not None and probe["method"] != "HEAD" and first["body"] != body:
            problems.append("direct response body %r, predicted %r" % (first["body"], body))
    if result["outcome"] in ("routed", "passthrough"):
        for one in seen:
            problem = _check_upstream(result, one)
            if problem and problem not in problems:
                problems.append(problem)
    return problems


def _check_upstream(result, seen):
    """For an answer from an app: did it get what the simulator says that destination gets?"""
    if seen["outcome"] != "routed" or not seen["workload"] or seen["upstream"]["headers"] is None:
        return None
    version = seen["workload"].rsplit("-", 1)[-1]
    candidates = [u for u in result.get("upstream") or [] if u["subset"] in (version, None)]
    if not candidates:
        return "answered by %s; predicted destinations %s" % (
            seen["workload"], [u["subset"] for u in result.get("upstream") or []])
    simulate, _validate = _simulator()
    said = []
    for upstream in candidates:
        predicted = {
            "path": upstream["path"], "authority": upstream["authority"],
            "headers": {k: v for k, v in upstream["headers"].items() if k.startswith("x-op-")},
            "response_headers": {k: ",".join(v) for k, v in simulate.apply_header_operations(
                {"x-op-resp": ["app"]}, upstream["response_header_operations"]).items() if k in RESPONSE_HEADERS}}
        observed = {"path": seen["upstream"]["path"], "authority": seen["upstream"]["authority"],
                    "headers": seen["upstream"]["headers"], "response_headers": seen["response_headers"]}
        if predicted == observed:
            return None
        said.append("%s: predicted %s" % (upstream["subset"], json.dumps(predicted, sort_keys=True)))
    return "upstream %s got %s; %s" % (seen["workload"], json.dumps(observed, sort_keys=True), "; ".join(said))


def rejudge(config, probe_report):
    """The problems `simulate()` as imported now has with a probe observed earlier (a saved report's entry)."""
    seen = [probe_report["first"]] + probe_report.get("seen", [])
    result, predicted = predict(config, probe_report["probe"])
    return compare(predicted, [observed_key(s) for s in seen]) + _check_details(result, seen, probe_report["probe"])


def seed_from_env():
    """ACK_DIFF_SEED replays a run; otherwise a new seed each run."""
    text = os.environ.get("ACK_DIFF_SEED")
    return int(text) if text else random.SystemRandom().randrange(2 ** 32)
