"""predict_outcome against real page views: fault delays below, at and above every client timeout, route timeouts
with and without faults, Envoy retries. Each case applies its VirtualServices to the mesh lab, waits for every
proxy's ACK, views the product page as jason once, and compares what the page shows and how long it took with
budget.predict() (the code behind the predict_outcome filter): the same outcome, latency within 10 %.

A delay exactly at a client timeout ("at") is a race in the lab (seen both ways): the page must show what the
prediction (the reply wins) or the prediction for a delay 10 ms longer (the reply loses) says, and take the latency
of one of them (a retry can lose one race and win the next).
"""

import os
import sys

import pytest

from ansible_run import ROOT

sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "build", "collections"))

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import budget  # noqa: E402
from mesh import client, control, differential  # noqa: E402

NS = differential.NAMESPACE
JASON = [{"headers": {"end-user": {"exact": "jason"}}}]
TOLERANCE = 0.10


def vs(service, http):
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": service, "namespace": NS}, "spec": {"hosts": [service], "http": http}}


def to(service, subset):
    return [{"destination": {"host": service, "subset": subset}}]


def delay(seconds):
    return {"delay": {"fixedDelay": "%dms" % int(seconds * 1000), "percentage": {"value": 100}}}


def reviews_for_jason(subset, **extra):
    return vs("reviews", [dict({"match": JASON, "route": to("reviews", subset)}, **extra),
                          {"route": to("reviews", "v1")}])


def ratings_delay(seconds):
    return vs("ratings", [{"match": JASON, "route": to("ratings", "v1"), "fault": delay(seconds)},
                          {"route": to("ratings", "v1")}])


def details_delay(seconds):
    return vs("details", [{"match": JASON, "route": to("details", "v1"), "fault": delay(seconds)},
                          {"route": to("details", "v1")}])


# (name, objects, losing): `losing` is the same case with the delay 10 ms past the client timeout, for a delay
# exactly at it.
CASES = [
    ("ratings-below-v3-timeout", [reviews_for_jason("v3"), ratings_delay(2.0)], None),
    ("ratings-at-v3-timeout", [reviews_for_jason("v3"), ratings_delay(2.5)],
     [reviews_for_jason("v3"), ratings_delay(2.51)]),
    ("ratings-above-v3-timeout", [reviews_for_jason("v3"), ratings_delay(3.0)], None),
    ("ratings-below-reviews-client-timeout", [reviews_for_jason("v2"), ratings_delay(2.0)], None),
    ("ratings-above-reviews-client-timeout", [reviews_for_jason("v2"), ratings_delay(4.0)], None),
    ("reviews-delay-below-client-timeout", [reviews_for_jason("v1", fault=delay(2.0))], None),
    ("reviews-delay-at-client-timeout", [reviews_for_jason("v1", fault=delay(3.0))],
     [reviews_for_jason("v1", fault=delay(3.01))]),
    ("reviews-delay-above-client-timeout", [reviews_for_jason("v1", fault=delay(3.5))], None),
    ("details-delay-below-client-timeout", [reviews_for_jason("v1"), details_delay(2.0)], None),
    ("details-delay-above-client-timeout", [reviews_for_jason("v1"), details_delay(3.5)], None),
    # reviews v2 waits 2 s for ratings; the reviews route gives up after 1 s (504), productpage tries twice.
    ("route-timeout-without-fault", [reviews_for_jason("v2", timeout="1s"), ratings_delay(2.0)], None),
    # The route timeout starts after the fault delay: 0.5 s delay + 1 s timeout per attempt.
    ("route-timeout-with-fault", [reviews_for_jason("v2", timeout="1s", fault=delay(0.5)), ratings_delay(2.0)],
     None),
    # Envoy retries a per-try timeout (gateway-error): 2 tries of 0.8 s, then 504; productpage tries twice.
    ("retries-per-try-timeout", [reviews_for_jason("v2", retries={"attempts": 1, "perTryTimeout": "800ms",
                                                                  "retryOn": "gateway-error"}),
                                 ratings_delay(2.0)], None),
    ("retries-within-client-timeout", [reviews_for_jason("v2", retries={"attempts": 2, "perTryTimeout": "2800ms",
                                                                        "retryOn": "gateway-error"}),
                                       ratings_delay(2.0)], None),
]


@pytest.fixture(scope="module")
def lab():
    state = control.up(namespace=NS)
    admin = control._admin()  # noqa: SLF001 - the lab's own admin client
    differential.setup(admin)
    yield admin
    differential.remove_virtual_services(admin)
    admin.close()
    if state["started"]:
        control.down()


def _seen(observation):
    unavailable = set()
    for service, flag in (("details", observation.details_unavailable), ("reviews", observation.reviews_unavailable),
                          ("ratings", observation.ratings_unavailable)):
        if flag:
            unavailable.add(service)
    return unavailable, observation.stars


def _predicted(branch):
    stars = branch["stars"]
    return set(branch["unavailable"]), (None if stars in (None, "none") else stars)


@pytest.mark.parametrize("name,objects,losing", CASES, ids=[c[0] for c in CASES])
def test_prediction_matches_page_view(lab, name, objects, losing):
    differential.apply_config(lab, {"name": name, "objects": objects})
    prediction = budget.predict(objects, user="jason", namespace=NS)
    view = client.request("jason")
    assert view.status == 200, view
    seen = _seen(view)
    branches = prediction["distribution"]
    if losing is not None:
        # The race is run per attempt: productpage's first try may lose and its retry win (6 s, no stars).
        other = budget.predict(losing, user="jason", namespace=NS)
        sides = (prediction, other)
        assert seen in [_predicted(p["distribution"][0]) for p in sides], (name, view.line())
        assert any(abs(view.elapsed - p["latency_s"]) <= TOLERANCE * p["latency_s"] for p in sides), (
            name, view.line(), prediction["explanation"], other["explanation"])
        return
    assert prediction["deterministic"], prediction
    assert seen == _predicted(branches[0]), (name, view.line(), prediction["explanation"])
    assert abs(view.elapsed - prediction["latency_s"]) <= TOLERANCE * max(prediction["latency_s"], 0.1), (
        name, round(view.elapsed, 3), prediction["latency_s"], prediction["explanation"])
