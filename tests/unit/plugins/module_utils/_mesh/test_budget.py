import copy

import pytest

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.analyze import apply_proposed
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.budget import BOOKINFO_GRAPH, load_graph, predict
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

from ansible_collections.ack.servicemesh.tests.reference import bookinfo

# Each scenario is the all-v1 baseline with changes applied on top, as the playbooks do.
SCENARIOS = {
    "current": {
        "all-v1": ["virtual-service-all-v1.yaml"],
        "user-v2": ["virtual-service-all-v1.yaml", "virtual-service-reviews-test-v2.yaml"],
        "fault-delay": ["virtual-service-all-v1.yaml", "virtual-service-reviews-test-v2.yaml",
                        "virtual-service-ratings-test-delay.yaml"],
        "fault-abort": ["virtual-service-all-v1.yaml", "virtual-service-reviews-test-v2.yaml",
                        "virtual-service-ratings-test-abort.yaml"],
        "50-v3": ["virtual-service-all-v1.yaml", "virtual-service-reviews-50-v3.yaml"],
    },
    "istio-0.8": {
        "all-v1": ["route-rule-all-v1.yaml"],
        "user-v2": ["route-rule-all-v1.yaml", "route-rule-reviews-test-v2.yaml"],
        "fault-delay": ["route-rule-all-v1.yaml", "route-rule-reviews-test-v2.yaml",
                        "route-rule-ratings-test-delay.yaml"],
        "fault-abort": ["route-rule-all-v1.yaml", "route-rule-reviews-test-v2.yaml",
                        "route-rule-ratings-test-abort.yaml"],
        "50-v3": ["route-rule-all-v1.yaml", "route-rule-reviews-50-v3.yaml"],
    },
}

# (outcome, stars, latency_s) per scenario and user; None stars: not shown because a call failed.
PINNED = {
    ("all-v1", "jason"): ("ok", "none", 0.0),
    ("all-v1", None): ("ok", "none", 0.0),
    ("user-v2", "jason"): ("ok", "black", 0.0),
    ("user-v2", None): ("ok", "none", 0.0),
    # The article's bug: productpage gives up on reviews after 3 s, twice, although reviews v2 would wait 10 s.
    ("fault-delay", "jason"): ("reviews_unavailable", None, 6.0),
    ("fault-delay", None): ("ok", "none", 0.0),
    ("fault-abort", "jason"): ("ratings_unavailable", None, 0.0),
    ("fault-abort", None): ("ok", "none", 0.0),
}


def scenario(version, name):
    objects = []
    for filename in SCENARIOS[version][name]:
        objects = apply_proposed(objects, bookinfo.documents("%s/%s" % (version, filename)))
    return objects


def with_delay(objects, fixed_delay):
    objects = copy.deepcopy(objects)
    for obj in objects:
        if obj["kind"] == "VirtualService" and obj["metadata"]["name"] == "ratings":
            obj["spec"]["http"][0]["fault"]["delay"]["fixedDelay"] = fixed_delay
    return objects


def jason_on(objects, subset):
    objects = copy.deepcopy(objects)
    for obj in objects:
        if obj["kind"] == "VirtualService" and obj["metadata"]["name"] == "reviews":
            obj["spec"]["http"][0]["route"][0]["destination"]["subset"] = subset
    return objects


def brief(prediction):
    return prediction["outcome"], prediction["stars"], prediction["latency_s"]


# Pinned predictions ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, user", sorted(PINNED, key=str))
def test_current_samples_pinned(name, user):
    prediction = predict(scenario("current", name), user=user)
    assert brief(prediction) == PINNED[(name, user)]
    assert prediction["deterministic"] and prediction["warnings"] == []


@pytest.mark.parametrize("user", ["jason", None])
def test_fifty_fifty_half_no_stars_half_red(user):
    for version in ("current", "istio-0.8"):
        prediction = predict(scenario(version, "50-v3"), user=user)
        assert prediction["outcome"] == "ok" and prediction["stars"] == "mixed"
        assert prediction["stars_distribution"] == {"none": 0.5, "red": 0.5}
        assert prediction["outcomes"] == {"ok": 1.0}
        assert not prediction["deterministic"] and prediction["calls"] is None
        assert [(b["probability"], b["stars"]) for b in prediction["distribution"]] == [(0.5, "none"), (0.5, "red")]


@pytest.mark.parametrize("name, user", sorted(PINNED, key=str))
def test_istio_08_cookie_samples_pinned(name, user):
    prediction = predict(scenario("istio-0.8", name), user=user)
    if (name, user) == ("fault-abort", "jason"):
        # abort.percent was removed in Istio 1.5 and pruned: the old abort never fires, jason gets black stars.
        assert brief(prediction) == ("ok", "black", 0.0)
        assert any("abort.percent" in w for w in prediction["warnings"])
    else:
        assert brief(prediction) == PINNED[(name, user)]


def test_fault_delay_explanation_names_the_bug():
    prediction = predict(scenario("current", "fault-delay"), user="jason")
    text = prediction["explanation"]
    assert text.startswith("jason: productpage shows reviews unavailable after 6 s.")
    assert "ratings is delayed 7 s by fault injection" in text
    assert "after its 3 s timeout (attempt 2 of 2)" in text
    assert "reviews v2 would have answered after 7 s" in text
    assert "its timeout is 10 s" in text


def test_fault_delay_trace():
    page = predict(scenario("current", "fault-delay"), user="jason")["calls"][0]
    assert (page["service"], page["version"], page["elapsed_s"]) == ("productpage", "v1", 6.0)
    details, first, second = page["calls"]
    assert (details["service"], details["result"]) == ("details", "ok")
    for attempt, number in ((first, 1), (second, 2)):
        assert (attempt["service"], attempt["subset"], attempt["attempt"], attempt["attempts"]) == (
            "reviews", "v2", number, 2)
        assert (attempt["result"], attempt["elapsed_s"], attempt["upstream_s"]) == ("timeout", 3.0, 7.0)
        ratings = attempt["calls"][0]
        assert (ratings["service"], ratings["fault"], ratings["result"], ratings["elapsed_s"]) == (
            "ratings", {"delay_s": 7.0}, "ok", 7.0)


def test_two_second_delay_is_absorbed():
    prediction = predict(with_delay(scenario("current", "fault-delay"), "2s"), user="jason")
    assert brief(prediction) == ("ok", "black", 2.0)
    assert brief(predict(with_delay(scenario("current", "fault-delay"), "2s"))) == ("ok", "none", 0.0)


def test_reviews_v3_gives_up_on_ratings_after_two_and_a_half_seconds():
    objects = jason_on(with_delay(scenario("current", "fault-delay"), "3s"), "v3")
    prediction = predict(objects, user="jason")
    assert brief(prediction) == ("ratings_unavailable", None, 2.5)
    ratings = prediction["calls"][0]["calls"][1]["calls"][0]
    assert (ratings["from"], ratings["result"], ratings["elapsed_s"]) == ("reviews v3", "timeout", 2.5)


def test_abort_is_seen_by_jason_only_and_not_retried():
    prediction = predict(scenario("current", "fault-abort"), user="jason")
    reviews = prediction["calls"][0]["calls"][1]
    assert (reviews["subset"], reviews["result"]) == ("v2", "ok")  # reviews degrades, it does not fail
    assert [(c["service"], c["result"], c["status"]) for c in reviews["calls"]] == [("ratings", "abort", 500)]
    assert "aborted with HTTP 500 by fault injection" in prediction["explanation"]


def test_productpage_retries_reviews_when_reviews_is_aborted():
    objects = apply_proposed(scenario("current", "all-v1"), [{
        "kind": "VirtualService", "metadata": {"name": "reviews"},
        "spec": {"hosts": ["reviews"], "http": [{"fault": {"abort": {"httpStatus": 503, "percentage": {"value": 100}}},
                                                 "route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]}}])
    prediction = predict(objects)
    assert brief(prediction) == ("reviews_unavailable", None, 0.0)
    assert [c["attempt"] for c in prediction["calls"][0]["calls"] if c["service"] == "reviews"] == [1, 2]


def test_partial_abort_gives_a_distribution():
    objects = apply_proposed(scenario("current", "user-v2"), [{
        "kind": "VirtualService", "metadata": {"name": "ratings"},
        "spec": {"hosts": ["ratings"], "http": [{"fault": {"abort": {"httpStatus": 500, "percentage": {"value": 25}}},
                                                 "route": [{"destination": {"host": "ratings", "subset": "v1"}}]}]}}])
    prediction = predict(objects, user="jason")
    assert prediction["outcomes"] == {"ok": 0.75, "ratings_unavailable": 0.25}
    assert prediction["stars_distribution"] == {"black": 0.75, "unavailable": 0.25}
    assert prediction["outcome"] == "mixed"


def test_no_virtual_services_spread_reviews_over_every_version():
    prediction = predict([])
    assert prediction["stars_distribution"] == {"none": 0.333333, "black": 0.333333, "red": 0.333333}


def test_subset_without_pods_gets_503_and_the_page_degrades():
    # bookinfo.yaml deploys ratings v1 only; the DestinationRule's v2 subset selects no pods.
    objects = apply_proposed(scenario("current", "user-v2"), [{
        "kind": "VirtualService", "metadata": {"name": "ratings"},
        "spec": {"hosts": ["ratings"], "http": [{"route": [{"destination": {"host": "ratings", "subset": "v2"}}]}]}}])
    prediction = predict(objects, user="jason")
    assert brief(prediction) == ("ratings_unavailable", None, 0.0)
    assert "no pods for subset v2" in prediction["explanation"]


def test_route_timeout_cuts_reviews_short():
    objects = copy.deepcopy(scenario("current", "fault-delay"))
    for obj in objects:
        if obj["metadata"]["name"] == "reviews":
            obj["spec"]["http"][0]["timeout"] = "1s"
    prediction = predict(with_delay(objects, "2s"), user="jason")
    # The route gives up after 1 s (504); productpage tries twice.
    assert brief(prediction) == ("reviews_unavailable", None, 2.0)
    assert prediction["calls"][0]["calls"][1]["result"] == "route_timeout"


# A graph of one's own ------------------------------------------------------------------------------------

SHOP = {
    "entry": "frontend",
    "services": {
        "frontend": {"versions": {"v1": {"calls": [{"service": "cart", "timeout_s": "1s", "attempts": 3,
                                                    "required": True}]}}},
        "cart": {"versions": {"v1": {"latency_s": 0.2, "shows": {"cart": "old"}},
                              "v2": {"latency_s": 1.5, "shows": {"cart": "new"}}}},
    },
}


def test_custom_graph_required_call_and_client_retries():
    slow = [{"kind": "VirtualService", "metadata": {"name": "cart", "namespace": "shop"},
             "spec": {"hosts": ["cart"], "http": [{"route": [{"destination": {"host": "cart", "subset": "v2"}}]}]}}]
    prediction = predict(slow, graph=SHOP, namespace="shop")
    assert (prediction["entry"], prediction["outcome"], prediction["latency_s"]) == ("frontend", "frontend_unavailable",
                                                                                     3.0)
    fast = predict([], graph=SHOP, namespace="shop")
    # Passthrough: half the tries hit v2 and time out, so up to three tries are needed.
    assert fast["outcomes"] == {"ok": 0.875, "frontend_unavailable": 0.125}
    assert fast["latency_s"] == 3.0
    assert [(b["probability"], b["latency_s"], b["outcome"]) for b in fast["distribution"]] == [
        (0.5, 0.2, "ok"), (0.25, 1.2, "ok"), (0.125, 3.0, "frontend_unavailable"), (0.125, 2.2, "ok")]
    assert fast["distribution"][0]["shows"] == {"cart": "old"}


def test_bookinfo_graph_is_valid_and_unchanged_by_loading():
    before = copy.deepcopy(BOOKINFO_GRAPH)
    loaded = load_graph()
    assert loaded["services"]["reviews"]["v3"]["calls"][0]["timeout_ms"] == 2500
    assert BOOKINFO_GRAPH == before


def one_service(calls, entry="a"):
    graph = {"services": {"a": {"versions": {"v1": {"calls": calls}}}}}
    if entry:
        graph["entry"] = entry
    return graph


@pytest.mark.parametrize("graph, field", [
    (one_service([], entry=None), "graph.entry"),
    (one_service([{"service": "b"}]), "graph.services.a.versions.v1.calls[0].service"),
    (one_service([{"service": "a", "timeout_s": -1}]), "graph.services.a.versions.v1.calls[0].timeout_s"),
    (one_service([{"service": "a", "timeout_s": "soon"}]), "graph.services.a.versions.v1.calls[0].timeout_s"),
    (one_service([{"service": "a", "attempts": 0}]), "graph.services.a.versions.v1.calls[0].attempts"),
    ({"entry": "a", "services": {"a": {"versions": {}}}}, "graph.services.a.versions"),
])
def test_bad_graph_names_the_field(graph, field):
    with pytest.raises(MeshError) as caught:
        predict([], graph=graph)
    assert field in [p.field for p in caught.value.problems]


def test_cyclic_graph_is_reported():
    with pytest.raises(MeshError) as caught:
        predict([], graph=one_service([{"service": "a"}]))
    assert "cyclic" in str(caught.value)


def test_bad_user_is_reported():
    with pytest.raises(MeshError) as caught:
        predict([], user={"name": "jason"})
    assert caught.value.problems[0].field == "user"
