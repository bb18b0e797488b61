import random

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.simulate import (
    HAS_RE2,
    cookie_header,
    distribute,
    duration_ms,
    sample,
    simulate,
)

from ansible_collections.ack.servicemesh.tests.reference import bookinfo

# BookInfo's rules as Istio's samples state them (our own reference data, tests/reference/bookinfo.py).
samples = bookinfo.documents


def vs(name="reviews", http=None, hosts=None, namespace=None, created=None, gateways=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if created:
        meta["creationTimestamp"] = created
    spec = {"hosts": hosts or [name], "http": http or []}
    if gateways:
        spec["gateways"] = gateways
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": meta, "spec": spec}


def to(subset, host="reviews", weight=None):
    dest = {"destination": {"host": host, "subset": subset}}
    if weight is not None:
        dest["weight"] = weight
    return dest


def subsets(result):
    return [d["subset"] for d in result["destinations"]]


# BookInfo samples ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["current/virtual-service-reviews-test-v2.yaml",
                                     "istio-0.8/route-rule-reviews-test-v2.yaml"])
def test_jason_goes_to_v2_and_everyone_else_to_v1(version):
    objects = samples(version)
    jason = simulate(objects, {"host": "reviews", "user": "jason"})
    assert (jason["outcome"], jason["route_index"], subsets(jason)) == ("routed", 0, ["v2"])
    assert jason["destinations"][0]["share"] == 1.0
    other = simulate(objects, {"host": "reviews", "user": "mary"})
    assert (other["route_index"], subsets(other)) == (1, ["v1"])
    anonymous = simulate(objects, {"host": "reviews"})
    assert subsets(anonymous) == ["v1"]


def test_cookie_regex_of_istio_08_needs_no_space_after_semicolon():
    objects = samples("istio-0.8/route-rule-reviews-test-v2.yaml")
    # Cookies are sent as browsers send them, which the 0.8 regex misses after the first cookie.
    assert cookie_header({"session": "x", "user": "jason"}) == "session=x; user=jason"
    assert subsets(simulate(objects, {"host": "reviews", "cookies": {"session": "x", "user": "jason"}})) == ["v1"]
    assert subsets(simulate(objects, {"host": "reviews", "cookies": {"user": "jason"}})) == ["v2"]
    assert subsets(simulate(objects, {"host": "reviews", "headers": {"Cookie": "session=x; user=jason"}})) == ["v1"]
    assert subsets(simulate(objects, {"host": "reviews", "headers": {"Cookie": "session=x;user=jason"}})) == ["v2"]


def test_delay_sample_injects_seven_seconds_for_jason_only():
    objects = samples("current/virtual-service-ratings-test-delay.yaml")
    jason = simulate(objects, {"host": "ratings", "user": "jason"})
    assert jason["fault"] == {"delay": {"fixed_delay_ms": 7000, "percentage": 100.0}}
    assert jason["warnings"] == []
    assert simulate(objects, {"host": "ratings"})["fault"] is None


def test_istio_08_delay_percent_still_counts():
    jason = simulate(samples("istio-0.8/route-rule-ratings-test-delay.yaml"), {"host": "ratings", "user": "jason"})
    assert jason["fault"]["delay"] == {"fixed_delay_ms": 7000, "percentage": 100.0}


def test_istio_08_abort_percent_never_fires_and_says_so():
    jason = simulate(samples("istio-0.8/route-rule-ratings-test-abort.yaml"), {"host": "ratings", "user": "jason"})
    assert jason["fault"]["abort"] == {"http_status": 500, "percentage": 0.0}
    assert len(jason["warnings"]) == 1 and "abort.percent" in jason["warnings"][0]
    assert "never fires" in jason["warnings"][0]


def test_current_abort_sample_fires_for_jason():
    jason = simulate(samples("current/virtual-service-ratings-test-abort.yaml"), {"host": "ratings", "user": "jason"})
    assert jason["fault"] == {"abort": {"http_status": 500, "percentage": 100.0}}


def test_fifty_fifty_split_shares():
    result = simulate(samples("current/virtual-service-reviews-50-v3.yaml"), {"host": "reviews"})
    assert [(d["subset"], d["weight"], d["share"]) for d in result["destinations"]] == [("v1", 50, 0.5),
                                                                                        ("v3", 50, 0.5)]


def test_multi_document_file_with_destination_rules_and_empty_documents():
    objects = samples("istio-0.8/route-rule-all-v1.yaml") + [None]
    result = simulate(objects, {"host": "ratings"})
    assert (result["virtual_service"], subsets(result)) == ("ratings", ["v1"])


# Host selection --------------------------------------------------------------------------------------------

def test_no_virtual_service_means_passthrough_to_every_endpoint():
    result = simulate([vs("ratings")], {"host": "reviews:9080"})
    assert result["outcome"] == "passthrough" and result["virtual_service"] is None
    assert result["destinations"] == [{"host": "reviews", "fqdn": "reviews.default.svc.cluster.local",
                                       "subset": None, "port": 9080, "weight": 100, "share": 1.0}]


def test_virtual_service_whose_routes_all_miss_answers_404():
    objects = [vs(http=[{"match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": [to("v2")]}])]
    result = simulate(objects, {"host": "reviews"})
    assert (result["outcome"], result["status"], result["matched"], result["destinations"]) == (
        "no_route", 404, False, [])


def test_short_names_expand_in_the_object_namespace():
    objects = [vs(http=[{"route": [to("v2")]}], namespace="shop")]
    assert simulate(objects, {"host": "reviews"})["outcome"] == "passthrough"
    assert subsets(simulate(objects, {"host": "reviews"}, namespace="shop")) == ["v2"]
    assert subsets(simulate(objects, {"host": "reviews.shop.svc.cluster.local"})) == ["v2"]
    assert subsets(simulate(objects, {"host": "reviews.shop.svc"})) == ["v2"]


def test_oldest_virtual_service_wins_a_shared_host():
    older = vs("a", hosts=["reviews"], http=[{"route": [to("v1")]}], created="2024-01-01T00:00:00Z")
    newer = vs("b", hosts=["reviews"], http=[{"route": [to("v2")]}], created="2023-01-01T00:00:00Z")
    result = simulate([older, newer], {"host": "reviews"})
    assert result["virtual_service"] == "b"
    assert "VirtualService/default/a" in result["warnings"][0]
    # Without timestamps the name decides, as in Istio.
    untimed = simulate([vs("z", hosts=["reviews"], http=[{"route": [to("v1")]}]),
                        vs("m", hosts=["reviews"], http=[{"route": [to("v2")]}])], {"host": "reviews"})
    assert untimed["virtual_service"] == "m"


def test_exact_host_beats_wildcard_whatever_the_age():
    wildcard = vs("wild", hosts=["*.example.com"], http=[{"route": [to("v1", "a.example.com")]}],
                  created="2020-01-01T00:00:00Z")
    exact = vs("exact", hosts=["shop.example.com"], http=[{"route": [to("v2", "shop.example.com")]}])
    assert simulate([wildcard, exact], {"host": "shop.example.com"})["virtual_service"] == "exact"
    assert simulate([wildcard, exact], {"host": "cart.example.com"})["virtual_service"] == "wild"
    assert simulate([wildcard, exact], {"host": "example.com"})["outcome"] == "passthrough"


def test_gateway_bound_virtual_service_does_not_route_sidecars():
    objects = [vs(http=[{"route": [to("v2")]}], gateways=["bookinfo-gateway"])]
    assert simulate(objects, {"host": "reviews"})["outcome"] == "passthrough"
    assert subsets(simulate(objects, {"host": "reviews", "gateway": "bookinfo-gateway"})) == ["v2"]


# Matching --------------------------------------------------------------------------------------------------

def test_first_matching_route_wins_and_blocks_are_ored():
    http = [
        {"name": "canary", "match": [{"headers": {"x-canary": {"exact": "1"}}}, {"uri": {"prefix": "/beta"}}],
         "route": [to("v3")]},
        {"name": "jason", "match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": [to("v2")]},
        {"name": "default", "route": [to("v1")]},
    ]
    objects = [vs(http=http)]
    beta = simulate(objects, {"host": "reviews", "uri": "/beta/x", "user": "jason"})
    assert (beta["route_name"], beta["match_index"]) == ("canary", 1)
    assert simulate(objects, {"host": "reviews", "headers": {"X-Canary": "1"}})["route_name"] == "canary"
    assert simulate(objects, {"host": "reviews", "user": "jason"})["route_name"] == "jason"
    fallback = simulate(objects, {"host": "reviews"})
    assert (fallback["route_name"], fallback["match_index"]) == ("default", None)


def test_conditions_in_one_block_are_anded():
    http = [{"match": [{"headers": {"end-user": {"exact": "jason"}}, "method": {"exact": "POST"},
                        "queryParams": {"debug": {"exact": "1"}}}], "route": [to("v2")]},
            {"route": [to("v1")]}]
    objects = [vs(http=http)]
    assert subsets(simulate(objects, {"host": "reviews", "user": "jason", "method": "POST",
                                      "uri": "/r?debug=1"})) == ["v2"]
    assert subsets(simulate(objects, {"host": "reviews", "user": "jason", "method": "POST"})) == ["v1"]
    assert subsets(simulate(objects, {"host": "reviews", "user": "jason", "uri": "/r?debug=1"})) == ["v1"]


def test_regex_is_a_whole_value_match():
    objects = [vs(http=[{"match": [{"headers": {"end-user": {"regex": "ja.on"}}}], "route": [to("v2")]},
                        {"route": [to("v1")]}])]
    assert subsets(simulate(objects, {"host": "reviews", "user": "jason"})) == ["v2"]
    assert subsets(simulate(objects, {"host": "reviews", "user": "jason2"})) == ["v1"]


def test_without_headers_and_presence():
    http = [{"match": [{"withoutHeaders": {"end-user": {}}}], "route": [to("v1")]},
            {"match": [{"headers": {"end-user": {}}}], "route": [to("v2")]}]
    objects = [vs(http=http)]
    assert subsets(simulate(objects, {"host": "reviews"})) == ["v1"]
    assert subsets(simulate(objects, {"host": "reviews", "user": "anyone"})) == ["v2"]


def test_uri_match_kinds_and_ignore_case():
    http = [{"match": [{"uri": {"exact": "/productpage"}}], "route": [to("v1")]},
            {"match": [{"uri": {"prefix": "/API/"}, "ignoreUriCase": True}], "route": [to("v2")]},
            {"match": [{"uri": {"regex": "/reviews/[0-9]+"}}], "route": [to("v3")]}]
    objects = [vs(http=http)]
    assert subsets(simulate(objects, {"host": "reviews", "uri": "/productpage?u=normal"})) == ["v1"]
    assert subsets(simulate(objects, {"host": "reviews", "uri": "/api/v1"})) == ["v2"]
    assert subsets(simulate(objects, {"host": "reviews", "uri": "/reviews/12"})) == ["v3"]
    assert simulate(objects, {"host": "reviews", "uri": "/reviews/12/x"})["outcome"] == "no_route"


def test_route_timeout_retries_and_fault_keeps_its_timeout():
    http = [{"route": [to("v1")], "timeout": "1.5s", "retries": {"attempts": 3, "perTryTimeout": "500ms",
                                                                 "retryOn": "5xx"}}]
    result = simulate([vs(http=http)], {"host": "reviews"})
    assert result["timeout_ms"] == 1500
    assert result["retries"] == {"attempts": 3, "per_try_timeout_ms": 500, "retry_on": "5xx", "default": False}
    faulty = [vs(http=[{"route": [to("v1")], "timeout": "1s",
                        "fault": {"abort": {"httpStatus": 503, "percentage": {"value": 10}}}}])]
    result = simulate(faulty, {"host": "reviews"})
    assert result["fault"] == {"abort": {"http_status": 503, "percentage": 10.0}}
    # The mesh lab: istiod keeps a fault route's timeout (issue 13).
    assert result["timeout_ms"] == 1000
    assert not any("timeout" in w for w in result["warnings"])


def test_fault_without_percentage_never_fires():
    objects = [vs(http=[{"fault": {"delay": {"fixedDelay": "2s"}}, "route": [to("v1")]}])]
    result = simulate(objects, {"host": "reviews"})
    assert result["fault"]["delay"] == {"fixed_delay_ms": 2000, "percentage": 0.0}
    assert "never fires" in result["warnings"][0]


def test_redirect_and_direct_response():
    objects = [vs(http=[{"match": [{"uri": {"exact": "/old"}}], "redirect": {"uri": "/new"}},
                        {"directResponse": {"status": 418}}])]
    assert (simulate(objects, {"host": "reviews", "uri": "/old"})["outcome"],
            simulate(objects, {"host": "reviews", "uri": "/old"})["status"]) == ("redirect", 301)
    teapot = simulate(objects, {"host": "reviews"})
    assert (teapot["outcome"], teapot["status"], teapot["destinations"]) == ("direct_response", 418, [])


@pytest.mark.skipif(not HAS_RE2, reason="google-re2 is not installed")
def test_regex_is_checked_by_re2_like_istio():
    # Python's re accepts look-ahead; RE2, and so Istio, rejects it.
    objects = [vs(http=[{"match": [{"headers": {"end-user": {"regex": "(?=j)jason"}}}], "route": [to("v2")]}])]
    with pytest.raises(MeshError) as caught:
        simulate(objects, {"host": "reviews", "user": "jason"})
    assert "not a valid RE2 regular expression" in str(caught.value)


@pytest.mark.parametrize("text, expected", [("7s", 7000), ("300ms", 300), ("1.5s", 1500), ("1m30s", 90000),
                                            ("2h", 7200000), ("0.5ms", 0.5)])
def test_durations(text, expected):
    assert duration_ms(text, "timeout") == expected


# Bad input -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("objects, request_, field, value", [
    ([], {"host": ""}, "request.host", ""),
    ([], {"host": "reviews", "colour": "red"}, "request.colour", "red"),
    ([], {"host": "reviews", "port": 70000}, "request.port", 70000),
    ([vs(http=[{"route": [to("v1", weight=-5), to("v2", weight=105)]}])], {"host": "reviews"},
     "VirtualService/default/reviews spec.http[0].route[0].weight", -5),
    ([vs(http=[{"route": [to("v1"), to("v2")]}])], {"host": "reviews"},
     "VirtualService/default/reviews spec.http[0].route", None),
    ([vs(http=[{"match": [{"headers": {"end-user": {"regex": "(x"}}}], "route": [to("v1")]}])],
     {"host": "reviews"}, "VirtualService/default/reviews spec.http[0].match[0].headers.end-user.regex", "(x"),
    ([vs(http=[{"route": [to("v1")], "timeout": "3 seconds"}])], {"host": "reviews"},
     "VirtualService/default/reviews spec.http[0].timeout", "3 seconds"),
    ([vs(http=[{"match": [{"uri": {"exact": "/a", "prefix": "/"}}], "route": [to("v1")]}])], {"host": "reviews"},
     "VirtualService/default/reviews spec.http[0].match[0].uri", None),
])
def test_bad_input_names_field_and_value(objects, request_, field, value):
    with pytest.raises(MeshError) as caught:
        simulate(objects, request_)
    problem = caught.value.problems[0]
    assert problem.field == field
    if value is not None:
        assert problem.value == value
        assert repr(value) in str(caught.value)


# Properties ------------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(weights=st.lists(st.integers(min_value=0, max_value=100), min_size=2, max_size=5).filter(lambda w: sum(w) > 0),
       seed=st.integers(min_value=0, max_value=2 ** 32))
def test_weighted_draws_follow_the_weights(weights, seed):
    objects = [vs(http=[{"route": [to("v%d" % i, weight=w) for i, w in enumerate(weights)]}])]
    result = simulate(objects, {"host": "reviews"})
    kept = [("v%d" % i, w) for i, w in enumerate(weights) if w > 0]
    assert [(d["subset"], d["weight"]) for d in result["destinations"]] == kept
    n = 3000
    counts = distribute(result, n, seed)
    assert sum(counts) == n
    total = float(sum(weights))
    for (_subset, weight), count in zip(kept, counts):
        p = weight / total
        # Six standard deviations of the binomial: a false alarm is rarer than one in 10^8 per check.
        assert abs(count - n * p) <= 6 * (n * p * (1 - p)) ** 0.5 + 1


def test_sample_uses_the_rng_it_is_given():
    result = simulate(samples("current/virtual-service-reviews-50-v3.yaml"), {"host": "reviews"})
    first = [sample(result, random.Random(7))["subset"] for _draw in range(5)]
    again = [sample(result, random.Random(7))["subset"] for _draw in range(5)]
    assert first == again
    assert set(sample(result, random.Random(i))["subset"] for i in range(50)) == {"v1", "v3"}


USERS = ["jason", "mary", None]
PATHS = ["/", "/a", "/a/b", "/b"]


@st.composite
def match_blocks(draw):
    block = {}
    if draw(st.booleans()):
        block["headers"] = {"end-user": {draw(st.sampled_from(["exact", "prefix", "regex"])):
                                         draw(st.sampled_from(["jason", "ja", "m.*", "mary"]))}}
    if draw(st.booleans()):
        block["uri"] = {draw(st.sampled_from(["exact", "prefix"])): draw(st.sampled_from(PATHS))}
    if draw(st.booleans()):
        block["method"] = {"exact": draw(st.sampled_from(["GET", "POST"]))}
    return block


def routes(min_size=0):
    route = st.builds(lambda match, subset: dict({"route": [to(subset)]}, **({"match": match} if match else {})),
                      st.lists(match_blocks(), max_size=2), st.sampled_from(["v1", "v2", "v3"]))
    return st.lists(route, min_size=min_size, max_size=4)


@settings(max_examples=80, deadline=None)
@given(before=routes(), after=routes(), extra=routes(min_size=1), position=st.integers(min_value=0),
       catch_all=st.sampled_from([{}, {"match": [{"uri": {"prefix": "/"}}]}]))
def test_a_route_after_a_catch_all_never_changes_any_outcome(before, after, extra, position, catch_all):
    http = before + [dict(catch_all, route=[to("v9")])] + after
    insert_at = len(before) + 1 + position % (len(after) + 1)
    changed = http[:insert_at] + extra + http[insert_at:]
    for user in USERS:
        for path in PATHS:
            for method in ("GET", "POST"):
                request = {"host": "reviews", "user": user, "uri": path, "method": method}
                assert simulate([vs(http=changed)], request) == simulate([vs(http=http)], request)


# --- what reaches the upstream: rewrite, header operations, mirrors ---------------------------------------------


def _routed(route, **request):
    request.setdefault("host", "reviews:9080")
    return simulate([vs(http=[route])], request)


def test_rewrite_uri_replaces_the_prefix_the_match_consumed_and_keeps_the_query():
    route = {"match": [{"uri": {"prefix": "/rev"}}], "route": [to("v1")], "rewrite": {"uri": "/new"}}
    assert _routed(route, uri="/reviews/0?x=1")["upstream"][0]["path"] == "/newiews/0?x=1"


def test_rewrite_uri_replaces_the_whole_path_of_an_exact_or_regex_match():
    for match in ({"exact": "/reviews/0"}, {"regex": "/reviews/[0-9]"}):
        route = {"match": [{"uri": match}], "route": [to("v1")], "rewrite": {"uri": "/ratings/1"}}
        assert _routed(route, uri="/reviews/0?v=2")["upstream"][0]["path"] == "/ratings/1?v=2"


def test_rewrite_uri_without_uri_match_replaces_the_leading_slash():
    route = {"match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": [to("v1")],
             "rewrite": {"uri": "/v2/"}}
    assert _routed(route, uri="/reviews/0", user="jason")["upstream"][0]["path"] == "/v2/reviews/0"
    assert _routed({"route": [to("v1")], "rewrite": {"uri": "/x"}}, uri="/a")["upstream"][0]["path"] == "/xa"


def test_rewrite_uri_sees_the_normalised_path():
    route = {"match": [{"uri": {"prefix": "/reviews/"}}], "route": [to("v1")], "rewrite": {"uri": "/r/"}}
    assert _routed(route, uri="/x/../reviews/%30")["upstream"][0]["path"] == "/r/0"


def test_uri_regex_rewrite_replaces_every_match_with_groups():
    route = {"route": [to("v1")], "rewrite": {"uriRegexRewrite": {"match": "/([a-z]+)/", "rewrite": "/\\1-x/"}}}
    assert _routed(route, uri="/reviews/0?q=/a/")["upstream"][0]["path"] == "/reviews-x/0?q=/a/"


def test_authority_rewrite_wins_over_header_operations_and_passes_through_otherwise():
    route = {"route": [to("v1")], "rewrite": {"authority": "r.example"},
             "headers": {"request": {"set": {":authority": "other"}}}}
    assert _routed(route)["upstream"][0]["authority"] == "r.example"
    route = {"route": [to("v1")], "headers": {"request": {"set": {"host": "h.example"}}}}
    assert _routed(route)["upstream"][0]["authority"] == "h.example"
    assert _routed({"route": [to("v1")]}, host="reviews")["upstream"][0]["authority"] == "reviews"


def test_request_header_operations_remove_first_then_set_then_add():
    route = {"route": [to("v1")], "headers": {"request": {
        "set": {"x-a": "set", "x-empty": ""}, "add": {"x-b": "added", "x-a": "more"}, "remove": ["x-c", "x-a"]}}}
    headers = _routed(route, headers={"x-a": "client", "x-b": "client", "x-c": "client",
                                      "x-empty": "kept"})["upstream"][0]["headers"]
    assert headers["x-a"] == "set,more" and headers["x-b"] == "client,added" and "x-c" not in headers
    # An add listed before a set of the same header still comes after it.
    route = {"route": [to("v1")], "headers": {"request": {"add": {"x-a": "added"}}}}
    route["route"][0]["headers"] = {"request": {"set": {"x-a": "dest"}}}
    assert _routed(route, headers={"x-a": "client"})["upstream"][0]["headers"]["x-a"] == "dest,added"
    assert headers["x-empty"] == "kept"  # Envoy skips an empty value


def test_lone_destination_headers_join_the_route_level_weighted_ones_run_first():
    # As a static Envoy 1.40 did with the config istiod generates: within a level removes, sets, then adds.
    dest_ops = {"request": {"set": {"x-a": "dest"}, "remove": ["x-b"]}}
    route_ops = {"request": {"set": {"x-a": "route", "x-b": "route"}, "add": {"x-a": "more"}}}
    single = {"route": [dict(to("v1"), headers=dest_ops)], "headers": route_ops}
    headers = _routed(single)["upstream"][0]["headers"]
    assert headers["x-a"] == "dest,more" and headers["x-b"] == "route"
    weighted = {"route": [dict(to("v1", weight=50), headers=dest_ops), to("v3", weight=50)], "headers": route_ops}
    upstream = _routed(weighted)["upstream"]
    assert [u["subset"] for u in upstream] == ["v1", "v3"]
    assert upstream[0]["headers"]["x-a"] == "route,more" and upstream[0]["headers"]["x-b"] == "route"
    assert upstream[1]["headers"]["x-a"] == "route,more"


def test_response_header_operations_apply_to_the_answer():
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.simulate import apply_header_operations
    response = {"add": {"x-r": "envoy"}, "remove": ["x-gone"], "set": {"X-New": "1"}}
    route = {"route": [to("v1")], "headers": {"response": response}}
    levels = _routed(route)["upstream"][0]["response_header_operations"]
    answer = apply_header_operations({"x-r": ["app"], "x-gone": ["1"]}, levels)
    assert answer == {"x-r": ["app", "envoy"], "x-new": ["1"]}


def test_zero_weight_destinations_have_no_upstream():
    route = {"route": [to("v1", weight=0), to("v3", weight=10)]}
    assert [u["subset"] for u in _routed(route)["upstream"]] == ["v3"]


def test_mirrors_with_their_percentages():
    route = {"route": [to("v1")], "mirror": {"host": "reviews", "subset": "v2"},
             "mirrors": [{"destination": {"host": "reviews", "subset": "v3"}, "percentage": {"value": 25}},
                         {"destination": {"host": "ratings"}, "percentage": {"value": 0}}]}
    assert [(m["subset"], m["percentage"]) for m in _routed(route)["mirrors"]] == [("v2", 100.0), ("v3", 25.0)]
    route = {"route": [to("v1")], "mirror": {"host": "reviews"}, "mirrorPercentage": {"value": 0}}
    assert _routed(route)["mirrors"] == []
    route = {"route": [to("v1")], "mirror": {"host": "reviews"}, "mirrorPercent": 40}
    assert _routed(route)["mirrors"][0]["percentage"] == 40.0


def test_mirror_without_host_is_bad_input():
    with pytest.raises(MeshError, match="host is required"):
        _routed({"route": [to("v1")], "mirror": {"subset": "v2"}})


def test_retries_answer_follows_envoys_retry_on_policies():
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.simulate import retries_answer
    policy = {"attempts": 2, "retry_on": "gateway-error,409"}
    assert [s for s in (500, 502, 503, 504, 409, 404) if retries_answer(policy, s)] == [502, 503, 504, 409]
    assert retries_answer({"attempts": 1, "retry_on": "5xx"}, 500)
    assert not retries_answer({"attempts": 0, "retry_on": None}, 500)
    assert retries_answer({"attempts": 1, "retry_on": "retriable-4xx"}, 409)
    default = _routed({"route": [to("v1")]})["retries"]
    assert not any(retries_answer(default, s) for s in (500, 503, 409))


def _location(redirect, **request):
    request.setdefault("host", "reviews:9080")
    route = {"match": [{"uri": {"prefix": "/"}}], "redirect": redirect}
    result = _routed(route, **request)
    assert result["outcome"] == "redirect"
    return result["location"]


def test_redirect_location_keeps_what_the_redirect_does_not_set():
    assert _location({"uri": "/moved"}, uri="/reviews/0?v=1") == "http://reviews:9080/moved?v=1"
    assert _location({"uri": "/moved?x=2"}, uri="/reviews/0?v=1") == "http://reviews:9080/moved?x=2"
    assert _location({"authority": "elsewhere"}, uri="/x/../reviews/0") == "http://elsewhere/reviews/0"
    assert _location({"uri": "/m"}, host="reviews") == "http://reviews/m"


def test_redirect_location_port_and_scheme_as_istiod_and_envoy_write_them():
    assert _location({"port": 8080}) == "http://reviews:8080/"
    # istiod drops port 80 for http: Envoy then has no port to set and keeps the Host's own.
    assert _location({"port": 80}) == "http://reviews:9080/"
    assert _location({"derivePort": "FROM_REQUEST_PORT"}) == "http://reviews:9080/"
    assert _location({"derivePort": "FROM_PROTOCOL_DEFAULT"}) == "http://reviews:9080/"
    assert _location({"scheme": "https"}) == "https://reviews:9080/"
    assert _location({"scheme": "https"}, host="reviews:80") == "https://reviews/"
    assert _location({"scheme": "https", "port": 443, "authority": "a.example"}) == "https://a.example/"
