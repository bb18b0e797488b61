"""Pure parts of the testenv's cluster: port offset, cache paths, version stamping, Istio's webhook setup."""

import os
import sys

import pytest

from ansible_collections.ack.servicemesh.tests.testenv import cluster, istio, versions
from ansible_collections.ack.servicemesh.tests.testenv.errors import TestenvError

TESTS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACK_TESTENV_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(cluster.PORT_OFFSET_VARIABLE, raising=False)
    return tmp_path / "cache"


def test_port_offset_moves_every_port_of_every_profile(cache, monkeypatch):
    before = {name: p.ports() for name, p in cluster.PROFILES.items()}
    monkeypatch.setenv(cluster.PORT_OFFSET_VARIABLE, "1000")
    after = {name: p.ports() for name, p in cluster.PROFILES.items()}

    assert after == {name: [port + 1000 for port in ports] for name, ports in before.items()}
    assert cluster.info("default")["server"] == "https://127.0.0.1:17443"
    assert cluster.info("default")["webhook"] == "https://127.0.0.1:17017/validate"


def test_every_port_of_both_profiles_is_distinct(cache):
    ports = [port for p in cluster.PROFILES.values() for port in p.ports()]
    assert len(ports) == len(set(ports)) == 10


@pytest.mark.parametrize("raw", ["-5", "1.5", "abc", "40001", "\uff11"])
def test_a_bad_port_offset_is_refused_naming_the_variable_and_value(cache, monkeypatch, raw):
    monkeypatch.setenv(cluster.PORT_OFFSET_VARIABLE, raw)
    with pytest.raises(TestenvError) as caught:
        cluster.PROFILES["default"].ports()
    assert "ACK_TESTENV_PORT_OFFSET" in str(caught.value) and repr(raw) in str(caught.value)


def test_ports_picked_at_run_time_are_not_shifted(cache, monkeypatch):
    monkeypatch.setenv(cluster.PORT_OFFSET_VARIABLE, "1000")
    bare = cluster.Profile("bare", 40001, 40002, 40003, 40004, shifted=False)
    assert bare.ports() == [40001, 40002, 40003, 40004]


def test_cache_paths_name_the_release_and_the_build_recipe(cache):
    recipe = versions.BUILD_RECIPE
    assert cluster.binary("etcd") == str(cache / ("etcd-v%s-r%d" % (versions.ETCD_VERSION, recipe)) / "etcd")
    for name in ("kube-apiserver", "kube-controller-manager"):
        assert cluster.binary(name) == str(
            cache / ("kubernetes-v%s-r%d" % (versions.KUBERNETES_VERSION, recipe)) / name)


def test_a_version_bump_changes_the_cache_path(cache, monkeypatch):
    before = {name: cluster.binary(name) for name in versions.BINARIES}
    monkeypatch.setitem(versions.RELEASES, "kube-apiserver", ("k8s.io/kubernetes", "1.34.5"))
    monkeypatch.setitem(versions.RELEASES, "etcd", ("go.etcd.io/etcd/server/v3", "3.6.5"))
    assert cluster.binary("kube-apiserver") != before["kube-apiserver"]
    assert cluster.binary("etcd") != before["etcd"]
    assert cluster.binary("kube-controller-manager") == before["kube-controller-manager"]


def _flags(text):
    parts = text.split()
    return dict(parts[i + 1].split("=", 1) for i, p in enumerate(parts) if p == "-X")


def test_kubernetes_binaries_are_stamped_like_the_upstream_build():
    stamped = _flags(cluster.ldflags("kube-apiserver", "2026-02-10T12:53:36Z"))
    major, minor = versions.KUBERNETES_VERSION.split(".")[:2]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert stamped[package + ".gitVersion"] == "v" + versions.KUBERNETES_VERSION
        assert (stamped[package + ".gitMajor"], stamped[package + ".gitMinor"]) == (major, minor)
        assert stamped[package + ".gitTreeState"] == "clean"
        assert stamped[package + ".buildDate"] == "2026-02-10T12:53:36Z"
        assert stamped[package + ".gitCommit"] == ""
    assert cluster.ldflags("kube-apiserver", "x").split()[:2] == ["-s", "-w"]


def test_etcd_is_stamped_the_way_its_build_script_does_without_git():
    assert _flags(cluster.ldflags("etcd", "ignored")) == {"go.etcd.io/etcd/api/v3/version.GitSHA": "GitNotFound"}


def test_webhook_configurations_are_the_charts_fail_open_start_for_istiod_to_patch():
    configs = dict(istio.webhook_configurations(16017))
    assert sorted(configs) == sorted(istio.WEBHOOKS)
    for name, config in configs.items():
        [hook] = config["webhooks"]
        assert hook["name"] == istio.WEBHOOKS[name]
        assert config["metadata"]["labels"]["istio.io/rev"] == "default"  # what istiod's controller selects
        assert hook["clientConfig"] == {"url": "https://127.0.0.1:16017/validate"}
        assert hook["failurePolicy"] == "Ignore" and hook["sideEffects"] == "None"
        assert hook["rules"][0]["apiGroups"] == list(istio.GROUPS)
    assert "objectSelector" not in configs["istiod-default-validator"]["webhooks"][0]
    assert configs["istio-validator-istio-system"]["webhooks"][0]["objectSelector"]["matchExpressions"][0] == {
        "key": "istio.io/rev", "operator": "In", "values": ["default"]}


def test_webhook_state_decodes_the_ca_bundle():
    config = {"webhooks": [{"name": "w", "failurePolicy": "Fail", "clientConfig": {"caBundle": "cGVt"}},
                           {"name": "x"}]}
    assert istio.webhook_state(config) == [("w", "Fail", b"pem"), ("x", None, b"")]


def test_the_validating_istiod_opens_only_its_two_ports_and_none_of_the_mesh_labs(cache):
    if TESTS not in sys.path:
        sys.path.insert(0, TESTS)
    from mesh import topology

    mesh_ports = {topology.XDS_PORT, topology.ISTIOD_HTTP_PORT, topology.ISTIOD_MONITORING_PORT,
                  topology.ISTIOD_CTRLZ_PORT}
    argv = istio.argv(cluster.Paths(cluster.PROFILES["default"]), 16080, 16017)
    addresses = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].endswith("Addr")}
    assert addresses == {"--httpAddr": "127.0.0.1:16080", "--httpsAddr": "127.0.0.1:16017", "--grpcAddr": "",
                         "--secureGRPCAddr": "", "--monitoringAddr": ""}
    assert argv[argv.index("--ctrlz_port") + 1] == "0"
    assert not mesh_ports & {16080, 16017}


def test_the_validating_istiod_runs_no_ca_and_patches_the_webhooks(cache):
    env = istio.env(cluster.Paths(cluster.PROFILES["default"]))
    assert env["ENABLE_CA_SERVER"] == "false"
    assert env["VALIDATION_WEBHOOK_CONFIG_NAME"] and env["REVISION"] == "default"
    assert env["INJECTION_WEBHOOK_CONFIG_NAME"] == ""


def test_the_controller_manager_runs_only_the_namespace_lifecycle_controllers(cache):
    profile = cluster.PROFILES["v1alpha3"]
    argv = cluster._controller_manager_argv(profile, cluster.Paths(profile))
    assert "--controllers=namespace,serviceaccount,serviceaccount-token" in argv
    assert "--secure-port=%d" % profile.controller_manager_port in argv
    assert "--bind-address=127.0.0.1" in argv and "--use-service-account-credentials=true" in argv
