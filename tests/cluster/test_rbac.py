"""Least privilege: docs/rbac grants exactly what the modules use, and a denial says who, what and where."""

import os
import sys
import time

import pytest
from kubernetes import client as k8s

from ansible_run import ROOT, run_module, run_playbook
from conformance import assert_conforms
from identities import ServiceAccount, granted, manifest

sys.path.insert(0, os.path.join(ROOT, "tests"))

from testenv import audit_events, audit_offset  # noqa: E402
from testenv.cluster import RESTRICTED_NAMESPACE, RESTRICTED_USER  # noqa: E402

M = "ack.servicemesh."
SCENARIOS = ["all-v1", "user-v2", "fault-delay", "fault-abort", "shift-50-v3", "reset"]


def play(name, namespace, kubeconfig, **extra):
    return run_playbook(os.path.join(ROOT, "playbooks", name.replace("-", "_") + ".yml"),
                        dict(servicemesh_namespace=namespace, servicemesh_kubeconfig=kubeconfig, **extra))


def clear(cluster, namespace):
    for kind, plural in (("VirtualService", "virtualservices"), ("DestinationRule", "destinationrules")):
        for obj in cluster.list(kind, namespace):
            cluster.custom.delete_namespaced_custom_object("networking.istio.io", cluster.version, namespace, plural,
                                                           obj["metadata"]["name"])


@pytest.fixture
def restricted_namespace(cluster):
    """The one namespace the testenv's restricted user may write, emptied before and after."""
    clear(cluster, RESTRICTED_NAMESPACE)
    yield RESTRICTED_NAMESPACE
    clear(cluster, RESTRICTED_NAMESPACE)


@pytest.fixture
def automation(cluster, namespace, tmp_path):
    account = ServiceAccount(cluster, namespace, str(tmp_path))
    yield account
    account.delete()


def test_every_scenario_runs_green_with_the_restricted_kubeconfig(cluster, restricted_namespace):
    for scenario in SCENARIOS:
        result = play(scenario, restricted_namespace, cluster.restricted_kubeconfig)
        assert not result.failed, "%s: %s" % (scenario, result.proc.stdout[-3000:])
        assert_conforms(cluster, restricted_namespace, scenario)


def test_a_write_outside_its_namespace_names_the_user_the_verb_and_the_resource(cluster):
    elsewhere = cluster.new_namespace("rbac")
    conn = {"kubeconfig": cluster.restricted_kubeconfig}
    args = {"name": "reviews", "namespace": elsewhere, "host": "reviews", "subsets": {"v1": {"version": "v1"}}}

    res = run_module(M + "destination_rule", args, connection=conn)[0]

    assert res.get("failed")
    for word in ('"%s"' % RESTRICTED_USER, "cannot get", '"destinationrules"', elsewhere, "403 Forbidden"):
        assert word in res["msg"], res["msg"]
    assert "Traceback" not in str(res)

    # Allowed to read there but not to write: the denial is for the write itself.
    role = {"metadata": {"name": "read-only"},
            "rules": [{"apiGroups": ["networking.istio.io"], "resources": ["virtualservices", "destinationrules"],
                       "verbs": ["get", "list"]}]}
    binding = {"metadata": {"name": "read-only"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-only"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": RESTRICTED_USER}]}
    rbac = k8s.RbacAuthorizationV1Api(cluster.api)
    rbac.create_namespaced_role(elsewhere, role)
    rbac.create_namespaced_role_binding(elsewhere, binding)
    review = {"spec": {"user": RESTRICTED_USER, "resourceAttributes": {
        "namespace": elsewhere, "verb": "get", "group": "networking.istio.io", "resource": "destinationrules"}}}
    deadline = time.monotonic() + 30
    while not k8s.AuthorizationV1Api(cluster.api).create_subject_access_review(review).status.allowed:
        assert time.monotonic() < deadline
        time.sleep(0.1)

    res = run_module(M + "destination_rule", args, connection=conn)[0]

    assert res.get("failed")
    for word in ('"%s"' % RESTRICTED_USER, "cannot create", '"destinationrules"', elsewhere):
        assert word in res["msg"], res["msg"]
    assert cluster.versions(elsewhere) == {}


def test_the_manifest_grants_exactly_the_verbs_a_full_run_uses(cluster, namespace, automation):
    """Every scenario and every module, with a service account bound to docs/rbac only; the audit log is the judge."""
    assert manifest("rolebinding.yaml")["roleRef"]["name"] == manifest("clusterrole.yaml")["metadata"]["name"]
    start = audit_offset("default")
    conn = {"kubeconfig": automation.kubeconfig}

    for scenario in SCENARIOS:
        result = play(scenario, namespace, automation.kubeconfig)
        assert not result.failed, "%s: %s" % (scenario, result.proc.stdout[-3000:])
        assert_conforms(cluster, namespace, scenario)
        if scenario == "all-v1":
            assert play(scenario, namespace, automation.kubeconfig).changed == 0

    def ok(module, args, **kwargs):
        res = run_module(M + module, dict(args, namespace=namespace), connection=conn, **kwargs)[0]
        assert not res.get("failed"), "%s: %s" % (module, res.get("msg"))
        return res

    # The other modules, each in check mode and for real, reading and writing as they do in use.
    ok("fault_injection", {"host": "ratings", "user": "jason", "abort": {"http_status": 503}, "expires_in": "1h"},
       check=True)
    ok("fault_injection", {"host": "ratings", "user": "jason", "abort": {"http_status": 503}, "expires_in": "1h"})
    cluster.custom.patch_namespaced_custom_object(
        "networking.istio.io", "v1", namespace, "virtualservices", "ratings",
        {"metadata": {"annotations": {"servicemesh.ack.io/fault-expires.fault-injection": "2020-01-01T00:00:00Z"}}})
    assert ok("fault_expiry", {})["expired"]
    ok("http_route", {"host": "reviews", "name": "beta", "headers": {"x-beta": "1"}, "subset": "v3"})
    ok("traffic_shift", {"host": "reviews", "weights": {"v1": 90, "v3": 10}})
    ok("virtual_service", {"name": "reviews", "restore": True})
    ok("destination_rule", {"name": "reviews", "host": "reviews",
                            "subsets": dict((v, {"version": v}) for v in ("v1", "v2", "v3", "v4"))})
    ok("mesh_analyze", {})
    ok("route_simulate", {"request": {"host": "reviews", "user": "jason"}})
    ok("http_route", {"host": "reviews", "name": "beta", "state": "absent"})
    ok("virtual_service", {"name": "reviews", "state": "absent"}, check=True)
    ok("virtual_service", {"name": "reviews", "state": "absent"})
    ok("destination_rule", {"name": "reviews", "state": "absent"})

    events = [e for e in audit_events("default", start) if e["user"] == automation.username]
    assert events, "the audit log holds no request of %s" % automation.username
    assert not [e for e in events if e["code"] == 403]
    seen = set((e["resource"], e["verb"]) for e in events if e["api_group"] == "networking.istio.io"
               and e["resource"])
    assert seen == granted(automation.role)
