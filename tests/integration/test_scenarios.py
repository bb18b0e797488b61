"""Every scenario playbook against the real API server, compared with Istio's own BookInfo objects."""

import copy
import os

import pytest
import yaml

from ansible_run import ROOT, run_playbook

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import canonical_vs_spec, normalize

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


def assert_conforms(cluster, namespace, expected):
    vs, dr = expected
    live_vs, live_dr = live_state(cluster, namespace)
    assert live_dr == dict((k, normalize(v)) for k, v in dr.items())
    assert live_vs == dict((k, canonical_vs_spec(v)) for k, v in vs.items())


def play(name, namespace, kubeconfig, **extra):
    extra_vars = dict(servicemesh_namespace=namespace, servicemesh_kubeconfig=kubeconfig, **extra)
    return run_playbook(os.path.join(ROOT, "playbooks", name + ".yml"), extra_vars)


SCENARIOS = ["all-v1", "user-v2", "fault-delay", "fault-abort", "shift-50-v3", "reset"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_equals_istio_sample_and_is_idempotent(cluster, scenario):
    namespace = cluster.new_namespace("sc")
    first = play(scenario, namespace, cluster.kubeconfig)
    assert not first.failed, first.proc.stdout[-4000:]
    assert first.changed > 0
    assert_conforms(cluster, namespace, expected_current(scenario))
    second = play(scenario, namespace, cluster.kubeconfig)
    assert not second.failed
    assert second.changed == 0


@pytest.mark.parametrize("first,then", [("fault-delay", "shift-50-v3"), ("shift-50-v3", "fault-abort"),
                                        ("fault-abort", "user-v2"), ("user-v2", "fault-delay"),
                                        ("fault-delay", "reset")])
def test_scenarios_in_sequence_end_as_if_applied_alone(cluster, first, then):
    namespace = cluster.new_namespace("seq")
    assert not play(first, namespace, cluster.kubeconfig).failed
    result = play(then, namespace, cluster.kubeconfig)
    assert not result.failed
    assert_conforms(cluster, namespace, expected_current(then))


@pytest.mark.parametrize("scenario", ["all-v1", "user-v2", "fault-delay", "fault-abort", "shift-50-v3"])
def test_old_istio_gets_v1alpha3_objects_equal_to_the_08_samples(old_cluster, scenario):
    namespace = old_cluster.new_namespace("old")
    result = play(scenario, namespace, old_cluster.kubeconfig, servicemesh_user_match="cookie")
    assert not result.failed, result.proc.stdout[-4000:]
    for kind in ("VirtualService", "DestinationRule"):
        for obj in old_cluster.list(kind, namespace):
            assert obj["apiVersion"] == "networking.istio.io/v1alpha3"
    assert_conforms(old_cluster, namespace, expected_08(scenario))
    assert play(scenario, namespace, old_cluster.kubeconfig, servicemesh_user_match="cookie").changed == 0


def test_check_mode_writes_nothing(cluster):
    namespace = cluster.new_namespace("chk")
    result = run_playbook(os.path.join(ROOT, "playbooks", "fault-delay.yml"),
                          dict(servicemesh_namespace=namespace, servicemesh_kubeconfig=cluster.kubeconfig),
                          check=True)
    assert not result.failed
    assert result.changed > 0
    assert cluster.versions(namespace) == {}


def test_expected_states_differ(cluster):
    """Guards the test data itself: the scenarios must not all reduce to the same objects."""
    states = [copy.deepcopy(expected_current(s)[0]) for s in SCENARIOS[:5]]
    assert len(set(yaml.safe_dump(s, sort_keys=True) for s in states)) == 5
