"""Every scenario playbook against the real API server, compared with Istio's own BookInfo objects."""

import copy
import os

import pytest
import yaml

from ansible_run import ROOT, run_playbook
from conformance import assert_conforms, expected_current


def play(name, namespace, kubeconfig, **extra):
    extra_vars = dict(servicemesh_namespace=namespace, servicemesh_kubeconfig=kubeconfig, **extra)
    return run_playbook(os.path.join(ROOT, "playbooks", name.replace("-", "_") + ".yml"), extra_vars)


SCENARIOS = ["all-v1", "user-v2", "fault-delay", "fault-abort", "shift-50-v3", "reset"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_equals_istio_sample_and_is_idempotent(cluster, scenario):
    namespace = cluster.new_namespace("sc")
    first = play(scenario, namespace, cluster.kubeconfig)
    assert not first.failed, first.proc.stdout[-4000:]
    assert first.changed > 0
    assert_conforms(cluster, namespace, scenario)
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
    assert_conforms(cluster, namespace, then)


@pytest.mark.parametrize("scenario", ["all-v1", "user-v2", "fault-delay", "fault-abort", "shift-50-v3"])
def test_old_istio_gets_v1alpha3_objects_equal_to_the_08_samples(old_cluster, scenario):
    namespace = old_cluster.new_namespace("old")
    result = play(scenario, namespace, old_cluster.kubeconfig, servicemesh_user_match="cookie-0.8")
    assert not result.failed, result.proc.stdout[-4000:]
    for kind in ("VirtualService", "DestinationRule"):
        for obj in old_cluster.list(kind, namespace):
            assert obj["apiVersion"] == "networking.istio.io/v1alpha3"
    assert_conforms(old_cluster, namespace, scenario, legacy=True)
    assert play(scenario, namespace, old_cluster.kubeconfig, servicemesh_user_match="cookie-0.8").changed == 0


def test_check_mode_writes_nothing(cluster):
    """fault-delay in check mode on top of all-v1 predicts changes and leaves every object as it was."""
    namespace = cluster.new_namespace("chk")
    assert not play("all-v1", namespace, cluster.kubeconfig).failed
    before = cluster.versions(namespace)
    result = run_playbook(os.path.join(ROOT, "playbooks", "fault_delay.yml"),
                          dict(servicemesh_namespace=namespace, servicemesh_kubeconfig=cluster.kubeconfig),
                          check=True)
    assert not result.failed, result.proc.stdout[-3000:]
    assert result.changed > 0
    assert cluster.versions(namespace) == before


def test_expected_states_differ(cluster):
    """Guards the test data itself: the scenarios must not all reduce to the same objects."""
    states = [copy.deepcopy(expected_current(s)[0]) for s in SCENARIOS[:5]]
    assert len(set(yaml.safe_dump(s, sort_keys=True) for s in states)) == 5
