"""What each scenario must leave in the API server: Istio's own BookInfo objects, normalised.

Shared by the integration tests and the molecule verify step.
"""

import os

import yaml

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import canonical_vs_spec, normalize

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SHARED = os.path.join(ROOT, "..", "shared", "istio-bookinfo")


def _load(*parts):
    with open(os.path.join(SHARED, *parts)) as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def _by_name(docs, kind):
    return dict((d["metadata"]["name"], d["spec"]) for d in docs if d["kind"] == kind)


def expected_current(scenario):
    vs = _by_name(_load("current", "virtual-service-all-v1.yaml"), "VirtualService")
    dr = _by_name(_load("current", "destination-rule-all.yaml"), "DestinationRule")
    overlay = {
        "all-v1": [], "reset": [],
        "user-v2": ["virtual-service-reviews-test-v2.yaml"],
        "fault-delay": ["virtual-service-reviews-test-v2.yaml", "virtual-service-ratings-test-delay.yaml"],
        "fault-abort": ["virtual-service-reviews-test-v2.yaml", "virtual-service-ratings-test-abort.yaml"],
        "shift-50-v3": ["virtual-service-reviews-50-v3.yaml"],
    }[scenario]
    for name in overlay:
        vs.update(_by_name(_load("current", name), "VirtualService"))
    return vs, dr


def expected_08(scenario):
    base = _load("istio-0.8", "route-rule-all-v1.yaml")
    vs, dr = _by_name(base, "VirtualService"), _by_name(base, "DestinationRule")
    # The 0.8 sample also binds productpage to the bookinfo ingress Gateway; the gateway belongs to the app's
    # deployment, not to these traffic rules, so the comparison is about mesh routing only.
    vs["productpage"].pop("gateways")
    overlay = {
        "all-v1": [], "reset": [],
        "user-v2": ["route-rule-reviews-test-v2.yaml"],
        "fault-delay": ["route-rule-reviews-test-v2.yaml", "route-rule-ratings-test-delay.yaml"],
        "fault-abort": ["route-rule-reviews-test-v2.yaml", "route-rule-ratings-test-abort.yaml"],
        "shift-50-v3": ["route-rule-reviews-50-v3.yaml"],
    }[scenario]
    for name in overlay:
        vs.update(_by_name(_load("istio-0.8", name), "VirtualService"))
    for spec in vs.values():
        for route in spec.get("http", []):
            abort = (route.get("fault") or {}).get("abort")
            if abort and "percent" in abort:
                # The one intended difference: the removed abort.percent is written as percentage.
                abort["percentage"] = {"value": abort.pop("percent")}
    return vs, dr


def live_state(cluster, namespace):
    vs = dict((o["metadata"]["name"], canonical_vs_spec(o["spec"])) for o in cluster.list("VirtualService", namespace))
    dr = dict((o["metadata"]["name"], normalize(o["spec"])) for o in cluster.list("DestinationRule", namespace))
    return vs, dr


def expected_state(scenario, legacy=False):
    vs, dr = expected_08(scenario) if legacy else expected_current(scenario)
    return (dict((k, canonical_vs_spec(v)) for k, v in vs.items()),
            dict((k, normalize(v)) for k, v in dr.items()))


def assert_conforms(cluster, namespace, scenario, legacy=False):
    want_vs, want_dr = expected_state(scenario, legacy)
    live_vs, live_dr = live_state(cluster, namespace)
    assert live_dr == want_dr
    assert live_vs == want_vs
