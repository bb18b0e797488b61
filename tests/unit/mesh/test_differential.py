"""The lab differential's own logic (tests/mesh/differential.py): the oracle-checked generator, predictions with
mirrors, and what a response says reached the upstream. The lab itself is in tests/cluster."""

import json

from ansible_collections.ack.servicemesh.tests.mesh import differential


def _refusing(every):
    """A judge that refuses every `every`-th configuration it sees, in Istio's verdict format."""
    seen = []

    def judge(objects):
        seen.append(objects)
        bad = len(seen) % every == 0
        return [{"errors": ["refused"] if bad else [], "warnings": []} for _obj in objects]
    return judge


def test_refused_configurations_are_counted_and_replaced_from_the_same_rng():
    configs, counts = differential.generate(7, 12, _refusing(3))
    assert len(configs) == 12 and counts["refused_by_istio"] == counts["drawn"] - 12 >= 4
    again, _counts = differential.generate(7, 12, _refusing(3))
    assert [c["objects"] for c in configs] == [c["objects"] for c in again]
    # Istio refused what our validator accepted: each one is a disagreement to fail on.
    refused = [d for d in counts["disagreements"] if d["istio"]]
    assert refused and all(d["istio"] == ["refused"] and d["ours"] is None for d in refused)


def test_a_configuration_our_validator_refuses_but_istio_accepts_is_a_disagreement_and_kept():
    config = differential.generate_config(__import__("random").Random(1), 0)
    config["objects"][0]["spec"]["http"][0]["timeout"] = "0s"  # our validator refuses 0s
    calls = iter([config])
    original = differential.generate_config
    try:
        differential.generate_config = lambda rng, index: next(calls)
        configs, counts = differential.generate(1, 1, _refusing(10 ** 6))
    finally:
        differential.generate_config = original
    assert configs == [config] and counts["disagreements"][0]["ours"]


def _config(route, service="reviews"):
    return {"name": "t", "service": service, "objects": [differential._vs(service, [route])]}


def test_mirror_adds_its_cluster_to_the_prediction_unless_the_fault_aborts():
    route = {"route": differential.V1, "mirror": {"host": "reviews", "subset": "v3"},
             "mirrorPercentage": {"value": 50}}
    _result, predicted = differential.predict(_config(route), differential._probe())
    assert predicted == {("routed", ("v1", "v3"), None, False): 0.5, ("routed", ("v1",), None, False): 0.5}
    route["fault"] = {"abort": {"httpStatus": 503, "percentage": {"value": 100}}}
    _result, predicted = differential.predict(_config(route), differential._probe())
    assert predicted == {("abort", (), 503, False): 1.0}


def _pairs(**extra):
    pairs = [("x-workload", "reviews-v1"), ("x-seen-path", "/new/0"), ("x-seen-authority", "reviews:9080"),
             ("x-seen-headers", json.dumps({"x-op-a": "client,add-1"})), ("x-op-resp", "app")]
    return pairs + list(extra.items())


def test_observe_counts_every_cluster_request_and_joins_repeated_response_headers():
    delta = {"cluster.outbound|9080|v1|reviews.simdiff.svc.cluster.local;.upstream_rq_total": 1,
             "cluster.outbound|9080||reviews.simdiff.svc.cluster.local;.upstream_rq_total": 1,
             "cluster.outbound|9080|v1|ratings.simdiff.svc.cluster.local;.upstream_rq_total": 1}
    seen = differential.observe(200, _pairs(**{"x-op-c": "x"}) + [("x-op-resp", "more")], b"{}", 3.0, delta,
                                "reviews")
    assert seen["outcome"] == "routed" and seen["clusters"] == ["", "v1"]
    assert seen["response_headers"] == {"x-op-resp": "app,more", "x-op-c": "x"}
    assert differential.observed_key(seen) == ("routed", ("", "v1"), None, False)


def test_upstream_check_compares_path_authority_and_header_operations():
    route = {"match": [{"uri": {"prefix": "/reviews"}}], "route": differential.V1, "rewrite": {"uri": "/new"},
             "headers": {"request": {"add": {"x-op-a": "add-1"}}, "response": {"add": {"x-op-resp": "more"}}}}
    probe = differential._probe(x_op_a="client")
    result, _predicted = differential.predict(_config(route), probe)
    delta = {"cluster.outbound|9080|v1|reviews.simdiff.svc.cluster.local;.upstream_rq_total": 1}
    good = differential.observe(200, _pairs() + [("x-op-resp", "more")], b"{}", 3.0, delta, "reviews")
    assert differential._check_upstream(result, good) is None
    bad = differential.observe(200, _pairs(), b"{}", 3.0, delta, "reviews")
    assert "x-op-resp" in differential._check_upstream(result, bad)
    other = differential.observe(200, [("x-workload", "reviews-v3")] + _pairs()[1:], b"{}", 3.0, delta, "reviews")
    assert "answered by reviews-v3" in differential._check_upstream(result, other)


def test_regressions_cover_what_the_upstream_sees():
    names = [case["name"] for case in differential.regressions()]
    assert len(names) == len(set(names)) >= 26
    specs = json.dumps([case["objects"] for case in differential.regressions()])
    for field in ("rewrite", "uriRegexRewrite", "mirror", "mirrors", "headers"):
        assert '"%s"' % field in specs


def test_an_upstream_asked_to_fail_is_tried_as_often_as_the_retry_policy_says():
    probe = differential._probe(x_test_status="503")
    for retries, clusters in (({"attempts": 2, "retryOn": "gateway-error"}, ("v1",) * 3),
                              ({"attempts": 1, "retryOn": "500"}, ("v1",)), (None, ("v1",)),
                              ({"attempts": 0}, ("v1",))):
        route = {"route": differential.V1}
        if retries:
            route["retries"] = retries
        _result, predicted = differential.predict(_config(route), probe)
        assert predicted == {("routed", clusters, None, False): 1.0}, retries


def test_run_config_sends_each_probe_and_reports_in_probe_order(monkeypatch):
    config = {"name": "t", "service": "reviews", "objects": [differential._vs("reviews", [{"route": differential.V2}])],
              "probes": [differential._probe(source=s, path="/reviews/%d" % i)
                         for i, s in enumerate(["productpage-v1", "reviews-v2"] * 3)]}
    sent = []

    def send(probe, service, settle=False):
        sent.append(probe["path"])
        delta = {"cluster.outbound|9080|v2|reviews.simdiff.svc.cluster.local;.upstream_rq_total": 1}
        pairs = [("x-workload", "reviews-v2"), ("x-seen-path", probe["path"]),
                 ("x-seen-authority", probe["authority"]), ("x-seen-headers", "{}"), ("x-op-resp", "app")]
        return differential.observe(200, pairs, b"{}", 1.0, delta, service)

    monkeypatch.setattr(differential, "apply_config", lambda client, config, timeout: 0.1)
    monkeypatch.setattr(differential.envoy, "rejections", lambda workload: {})
    monkeypatch.setattr(differential, "send", send)
    report = differential.run_config(None, config)
    assert [p["probe"]["path"] for p in report["probes"]] == ["/reviews/%d" % i for i in range(6)]
    assert sorted(sent) == sorted(p["probe"]["path"] for p in report["probes"])
    assert report["requests"] == 6 and not any(p["problems"] for p in report["probes"])
