"""The pure parts of tests/testenv: version pins, CRD reshaping, audit parsing, certificates, kubeconfigs."""

import base64
import copy
import json
import os
import re

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from ansible_collections.ack.servicemesh.tests.testenv import audit, cluster, crds, pki, versions
from ansible_collections.ack.servicemesh.tests.testenv.__main__ import _parser, _profiles

GO_MOD = os.path.join(os.path.dirname(os.path.realpath(cluster.__file__)), "go.mod")


def _crd(group, plural, names, storage):
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "%s.%s" % (plural, group)},
        "spec": {
            "group": group,
            "names": {"plural": plural},
            "versions": [{"name": n, "served": True, "storage": n == storage, "schema": {"x": n}}
                         for n in names],
        },
    }


ISTIO_LIKE = [
    _crd("networking.istio.io", "virtualservices", ["v1", "v1alpha3", "v1beta1"], "v1"),
    _crd("networking.istio.io", "proxyconfigs", ["v1beta1"], "v1beta1"),
    _crd("security.istio.io", "peerauthentications", ["v1", "v1beta1"], "v1"),
]


def test_go_mod_builds_the_versions_the_cache_is_named_after():
    with open(GO_MOD) as f:
        text = f.read()
    assert re.search(r"^\s*k8s\.io/kubernetes v%s$" % re.escape(versions.KUBERNETES_VERSION), text, re.M)
    assert re.search(r"^\s*go\.etcd\.io/etcd/server/v3 v%s$" % re.escape(versions.ETCD_VERSION), text, re.M)


def test_v1alpha3_profile_keeps_only_v1alpha3_served_and_stored():
    original = copy.deepcopy(ISTIO_LIKE)
    result = crds.keep_only_version(ISTIO_LIKE, "networking.istio.io", "v1alpha3")

    vs = result[0]
    assert vs["spec"]["versions"] == [
        {"name": "v1alpha3", "served": True, "storage": True, "schema": {"x": "v1alpha3"}}]
    assert ISTIO_LIKE == original, "the input was modified"


def test_v1alpha3_profile_drops_kinds_that_had_no_v1alpha3_and_keeps_other_groups():
    result = crds.keep_only_version(ISTIO_LIKE, "networking.istio.io", "v1alpha3")

    assert [c["metadata"]["name"] for c in result] == [
        "virtualservices.networking.istio.io", "peerauthentications.security.istio.io"]
    assert result[1] == ISTIO_LIKE[2]


def test_served_resources_lists_every_served_group_version():
    assert crds.served_resources(ISTIO_LIKE) == {
        ("networking.istio.io", "v1"): {"virtualservices"},
        ("networking.istio.io", "v1alpha3"): {"virtualservices"},
        ("networking.istio.io", "v1beta1"): {"virtualservices", "proxyconfigs"},
        ("security.istio.io", "v1"): {"peerauthentications"},
        ("security.istio.io", "v1beta1"): {"peerauthentications"},
    }


def _event(verb, name, stage="ResponseComplete"):
    return {
        "kind": "Event", "stage": stage, "verb": verb, "auditID": "id-" + name,
        "requestURI": "/apis/networking.istio.io/v1/namespaces/default/virtualservices/" + name,
        "user": {"username": "mesh-operator", "groups": ["system:authenticated"]},
        "objectRef": {"resource": "virtualservices", "namespace": "default", "name": name,
                      "apiGroup": "networking.istio.io", "apiVersion": "v1"},
        "responseStatus": {"code": 200},
    }


def test_audit_read_returns_complete_lines_and_the_offset_to_continue_from(tmp_path):
    log = tmp_path / "audit.log"
    first = json.dumps(_event("create", "a")) + "\n"
    log.write_text(first + json.dumps(_event("patch", "b"))[:40])

    events, offset = audit.read(str(log), 0)
    assert [(e["verb"], e["name"], e["user"], e["code"]) for e in events] == [("create", "a", "mesh-operator", 200)]
    assert offset == len(first)

    log.write_text(first + json.dumps(_event("patch", "b")) + "\n")
    events = audit.read(str(log), offset)[0]
    assert [(e["verb"], e["resource"], e["namespace"]) for e in events] == [("patch", "virtualservices", "default")]


def test_audit_summary_of_a_discovery_request_has_no_resource():
    event = {"verb": "get", "requestURI": "/apis/networking.istio.io", "stage": "ResponseComplete",
             "user": {"username": "testenv-admin"}, "responseStatus": {"code": 200}}
    summary = audit.summarize(event)
    assert summary["resource"] is None and summary["uri"] == "/apis/networking.istio.io"


def test_audit_read_of_a_missing_log_is_empty(tmp_path):
    assert audit.read(str(tmp_path / "none.log"), 7) == ([], 7)


def test_certificates_chain_to_the_ca_and_name_the_users():
    ca_key, ca = pki.make_ca("test CA")
    server_key, server = pki.issue(ca_key, ca, "kube-apiserver", dns_names=("localhost",), ip_addresses=("127.0.0.1",))
    admin_key, admin = pki.issue(ca_key, ca, "testenv-admin", organizations=("system:masters",))

    server.verify_directly_issued_by(ca)
    admin.verify_directly_issued_by(ca)
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "testenv-admin"


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("ACK_TESTENV_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ACK_TESTENV_CACHE", str(tmp_path / "cache"))
    return tmp_path / "state"


def test_profiles_have_separate_state_and_ports(state):
    default, old = (cluster.info(n) for n in ("default", "v1alpha3"))
    assert default["kubeconfig"] == str(state / "kubeconfig")
    assert old["kubeconfig_restricted"] == str(state / "v1alpha3" / "kubeconfig-restricted")
    ports = [(p.apiserver_port, p.etcd_client_port, p.etcd_peer_port) for p in cluster.PROFILES.values()]
    flat = [port for triple in ports for port in triple]
    assert len(set(flat)) == len(flat)


def test_restricted_kubeconfig_embeds_the_users_certificate_and_namespace(state):
    profile = cluster.PROFILES["v1alpha3"]
    paths = cluster.Paths(profile)
    os.makedirs(paths.pki)
    for name in ("ca", cluster.RESTRICTED_USER):
        for path in (paths.cert(name), paths.key(name)):
            with open(path, "w") as f:
                f.write("pem of " + os.path.basename(path))

    config = yaml.safe_load(yaml.safe_dump(
        cluster.kubeconfig(profile, paths, cluster.RESTRICTED_USER, cluster.RESTRICTED_NAMESPACE)))

    assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:16444"
    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
    assert ca == b"pem of ca.crt"
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-key-data"]) == b"pem of mesh-operator.key"
    context = config["contexts"][0]
    assert context["name"] == config["current-context"]
    assert context["context"]["namespace"] == "default"


def test_down_and_status_cover_every_profile_unless_one_is_named():
    parser = _parser()
    assert _profiles(parser.parse_args(["down"])) == sorted(cluster.PROFILES)
    assert _profiles(parser.parse_args(["status"])) == sorted(cluster.PROFILES)
    assert _profiles(parser.parse_args(["up"])) == ["default"]
    assert _profiles(parser.parse_args(["down", "--profile", "v1alpha3"])) == ["v1alpha3"]
