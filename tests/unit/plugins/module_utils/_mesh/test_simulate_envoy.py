"""What the mesh lab's istiod and Envoy did, pinned: one test per cause the differential test found (issue 13).

Each case is also a regression configuration of tests/mesh/differential.py, checked there against real Envoy.
"""

import pytest

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.simulate import (
    normalize_path, parse_query, simulate)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.budget import predict

NS = "simdiff"


def vs(http, hosts=("reviews",), name="reviews"):
    return {"kind": "VirtualService", "metadata": {"name": name, "namespace": NS},
            "spec": {"hosts": list(hosts), "http": http}}


def to(subset, service="reviews"):
    return [{"destination": {"host": service, "subset": subset}}]


def subset_for(objects, **request):
    request.setdefault("host", "reviews:9080")
    request.setdefault("port", 9080)
    result = simulate(objects, request, NS)
    return result["destinations"][0]["subset"] if result["destinations"] else result["outcome"]


def test_fault_route_keeps_its_timeout_and_retries():
    result = simulate([vs([{"route": to("v2"), "timeout": "100ms", "retries": {"attempts": 1},
                            "fault": {"delay": {"fixedDelay": "300ms", "percentage": {"value": 100}}}}])],
                      {"host": "reviews"}, NS)
    assert result["timeout_ms"] == 100
    assert result["retries"]["attempts"] == 1
    assert result["warnings"] == []


def test_route_timeout_starts_after_the_fault_delay():
    # reviews v2 waits 2 s for ratings; 0.5 s delay + 1 s route timeout per attempt; productpage tries twice.
    objects = [vs([{"match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": to("v2"), "timeout": "1s",
                    "fault": {"delay": {"fixedDelay": "500ms", "percentage": {"value": 100}}}},
                   {"route": to("v1")}]),
               vs([{"route": to("v1", "ratings"),
                    "fault": {"delay": {"fixedDelay": "2s", "percentage": {"value": 100}}}}],
                  hosts=("ratings",), name="ratings")]
    outcome = predict(objects, user="jason", namespace=NS)
    assert outcome["outcome"] == "reviews_unavailable"
    assert outcome["latency_s"] == 3.0


@pytest.mark.parametrize("headers,expected", [({}, "v3"), ({"x-canary": "yes"}, "v3"),
                                              ({"x-canary": "yes", "end-user": "jason"}, "v1")])
def test_without_headers_treats_a_missing_header_as_empty(headers, expected):
    objects = [vs([{"match": [{"withoutHeaders": {"x-canary": {"regex": ".*"}}}], "route": to("v2")},
                   {"match": [{"withoutHeaders": {"end-user": {"prefix": "ja"}}}], "route": to("v3")},
                   {"route": to("v1")}])]
    assert subset_for(objects, headers=headers) == expected


@pytest.mark.parametrize("headers,expected", [({}, "v2"), ({"x-canary": ""}, "v1")])
def test_regex_star_is_a_presence_match(headers, expected):
    objects = [vs([{"match": [{"withoutHeaders": {"x-canary": {"regex": "*"}}}], "route": to("v2")},
                   {"route": to("v1")}])]
    assert subset_for(objects, headers=headers) == expected


@pytest.mark.parametrize("path,expected", [
    ("/reviews/./0", "/reviews/0"), ("/x/../reviews/0", "/reviews/0"), ("/reviews/%30", "/reviews/0"),
    ("/reviews//0", "/reviews//0"), ("/a%2fb", "/a%2Fb"), ("/..", "/"), ("/a/b/..", "/a/")])
def test_path_normalisation(path, expected):
    assert normalize_path(path) == expected


def test_exact_uri_matches_the_normalised_path():
    objects = [vs([{"match": [{"uri": {"exact": "/reviews/0"}}], "route": to("v2")}, {"route": to("v1")}])]
    for uri in ("/reviews/./0", "/x/../reviews/0", "/reviews/%30"):
        assert subset_for(objects, uri=uri) == "v2"
    assert subset_for(objects, uri="/reviews//0") == "v1"


@pytest.mark.parametrize("host,expected", [
    ("reviews:9080", "v2"), ("reviews", "v1"), ("reviews.simdiff", "v1"), ("reviews.simdiff:9080", "v1"),
    ("reviews.simdiff.svc.cluster.local.", "v1"), ("reviews.simdiff.svc:9080", "v1")])
def test_authority_keeps_its_port_and_every_vhost_form_reaches_the_service(host, expected):
    objects = [vs([{"match": [{"authority": {"exact": "reviews:9080"}}], "route": to("v2")}, {"route": to("v1")}])]
    assert subset_for(objects, host=host) == expected


def test_port_match_uses_the_listener_port_not_the_authority():
    objects = [vs([{"match": [{"port": 9080}], "route": to("v2")}, {"route": to("v1")}])]
    assert subset_for(objects, host="reviews", port=9080) == "v2"


def test_routes_for_another_port_or_source_are_not_sent_so_the_default_route_serves():
    objects = [vs([{"match": [{"sourceNamespace": "other", "uri": {"prefix": "/"}}], "route": to("v2")}])]
    result = simulate(objects, {"host": "reviews", "port": 9080}, NS)
    assert result["outcome"] == "passthrough"
    assert any("no route for this caller" in w for w in result["warnings"])


@pytest.mark.parametrize("method,host,expected", [("GET", "reviews:9080", "v2"), ("POST", "reviews:9080", "v3"),
                                                  ("GET", "reviews", "v1")])
def test_pseudo_headers_and_headers_envoy_adds(method, host, expected):
    objects = [vs([
        {"match": [{"headers": {":method": {"exact": "POST"}}}], "route": to("v3")},
        {"match": [{"headers": {":authority": {"exact": "reviews:9080"}, "x-forwarded-proto": {"exact": "http"},
                                "x-request-id": {"regex": ".+"}}}], "route": to("v2")},
        {"route": to("v1")}])]
    assert subset_for(objects, host=host, method=method) == expected


def test_query_parameters_are_raw_and_the_first_value_wins():
    assert parse_query("v=1&v=2&n=a%20b&%76=x&flag") == {"v": "1", "n": "a%20b", "%76": "x", "flag": ""}
    objects = [vs([{"match": [{"queryParams": {"v": {"exact": "1"}}}], "route": to("v2")},
                   {"match": [{"queryParams": {"n": {"exact": "a%20b"}}}], "route": to("v3")},
                   {"route": to("v1")}])]
    assert [subset_for(objects, uri=u) for u in ("/r?v=1&v=2", "/r?v=2&v=1", "/r?n=a%20b", "/r?n=a+b", "/r?%76=1")] \
        == ["v2", "v1", "v3", "v1", "v1"]


@pytest.mark.parametrize("source,expected", [({"app": "productpage"}, "v2"), ({"app": "reviews"}, "v2")])
def test_match_gateways_override_source_selectors(source, expected):
    objects = [vs([{"match": [{"gateways": ["mesh"], "sourceLabels": {"app": "nobody"}}], "route": to("v2")},
                   {"match": [{"sourceLabels": {"app": "reviews"}}], "route": to("v3")}, {"route": to("v1")}])]
    assert subset_for(objects, source_labels=source) == expected


def test_abort_without_error_type_is_dropped_and_the_delay_still_fires():
    result = simulate([vs([{"route": to("v2"), "fault": {
        "abort": {"percentage": {"value": 100}},
        "delay": {"fixedDelay": "150ms", "percentage": {"value": 100}}}}])], {"host": "reviews"}, NS)
    assert result["fault"] == {"delay": {"fixed_delay_ms": 150, "percentage": 100.0}}
    assert any("istiod drops this abort" in w for w in result["warnings"])
