"""Fault guardrails, fault expiry, revert_after and undo, against the real API server."""

import calendar
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_run import ROOT, ansible_env, run_module, run_playbook
from conformance import assert_conforms
from lifecycle import check_apply_reapply

M = "ack.servicemesh."
EXPIRES = "servicemesh.ack.io/fault-expires."
PREVIOUS = "servicemesh.ack.io/previous-spec"
MANAGED = "servicemesh.ack.io/managed-by"


def ok(cluster, module, args, **kwargs):
    res = run_module(M + module, args, connection=cluster.connection(), **kwargs)[0]
    assert not res.get("failed"), res.get("msg")
    return res


def annotations(cluster, namespace, name):
    return cluster.get("VirtualService", namespace, name)["metadata"].get("annotations") or {}


def set_annotation(cluster, namespace, name, key, value):
    cluster.custom.patch_namespaced_custom_object("networking.istio.io", cluster.version, namespace,
                                                  "virtualservices", name,
                                                  {"metadata": {"annotations": {key: value}}})


@pytest.fixture
def ratings(cluster, namespace):
    ok(cluster, "destination_rule", {"name": "ratings", "namespace": namespace, "host": "ratings",
                                     "subsets": {"v1": {"version": "v1"}}})
    ok(cluster, "traffic_shift", {"host": "ratings", "namespace": namespace, "weights": {"v1": 100}})
    return namespace


def play(name, namespace, cluster, **extra):
    return run_playbook(os.path.join(ROOT, "playbooks", name.replace("-", "_") + ".yml"),
                        dict(servicemesh_namespace=namespace, servicemesh_kubeconfig=cluster.kubeconfig, **extra))


# --- guardrails ------------------------------------------------------------------------------------------------


def test_a_fault_above_the_threshold_needs_consent_and_then_goes_through(cluster, ratings):
    args = {"host": "ratings", "namespace": ratings, "user": "jason", "percentage_threshold": 50,
            "abort": {"http_status": 503, "percentage": 80}}
    before = cluster.versions(ratings)
    res = run_module(M + "fault_injection", args, connection=cluster.connection())[0]
    assert res.get("failed") and "allow_unscoped_fault" in res["msg"] and "abort.percentage" in res["msg"]
    assert cluster.versions(ratings) == before
    ok(cluster, "fault_injection", dict(args, allow_unscoped_fault=True))
    fault = cluster.get("VirtualService", ratings, "ratings")["spec"]["http"][0]["fault"]
    assert fault == {"abort": {"httpStatus": 503, "percentage": {"value": 80}}}


def test_an_unscoped_fault_with_consent_matches_every_request(cluster, ratings):
    ok(cluster, "fault_injection", {"host": "ratings", "namespace": ratings, "allow_unscoped_fault": True,
                                    "delay": {"fixed_delay": "1s", "percentage": 5}})
    http = cluster.get("VirtualService", ratings, "ratings")["spec"]["http"]
    # On the default route itself: a catch-all fault route above it would leave it unreachable.
    assert len(http) == 1 and "match" not in http[0]
    assert http[0]["fault"]["delay"] == {"fixedDelay": "1s", "percentage": {"value": 5}}


# --- expiry ------------------------------------------------------------------------------------------------------


def test_a_fault_with_an_expiry_is_idempotent_and_keeps_its_first_expiry(cluster, ratings):
    args = {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "7s"}, "expires_in": "2h"}
    live = check_apply_reapply(cluster, ratings, M + "fault_injection", args, "VirtualService", "ratings")
    first = live["metadata"]["annotations"][EXPIRES + "fault-injection"]
    assert 7100 < calendar.timegm(time.strptime(first, "%Y-%m-%dT%H:%M:%SZ")) - time.time() <= 7200
    time.sleep(1.1)
    res = ok(cluster, "fault_injection", dict(args, namespace=ratings))
    assert not res["changed"] and res["expires_at"] == first

    # A changed fault starts a new expiry; moving it is what expires_at is for.
    res = ok(cluster, "fault_injection", dict(args, namespace=ratings, delay={"fixed_delay": "5s"}))
    assert res["changed"] and res["expires_at"] != first
    unlimited = dict((k, v) for k, v in args.items() if k != "expires_in")
    res = ok(cluster, "fault_injection", dict(unlimited, namespace=ratings, delay={"fixed_delay": "5s"},
                                              expires_at="2099-01-01T02:00:00+02:00"))
    assert annotations(cluster, ratings, "ratings")[EXPIRES + "fault-injection"] == "2099-01-01T00:00:00Z"

    # Without an expiry, and when the fault is removed, the annotation goes too.
    ok(cluster, "fault_injection", dict(unlimited, namespace=ratings, delay={"fixed_delay": "5s"}))
    assert EXPIRES + "fault-injection" not in annotations(cluster, ratings, "ratings")
    ok(cluster, "fault_injection", dict(args, namespace=ratings, expires_in="1h"))
    ok(cluster, "fault_injection", {"host": "ratings", "namespace": ratings, "state": "absent"})
    assert EXPIRES + "fault-injection" not in annotations(cluster, ratings, "ratings")


def test_fault_expiry_removes_only_what_has_expired(cluster, ratings):
    for name, user in (("old", "jason"), ("new", "kate")):
        ok(cluster, "fault_injection", {"host": "ratings", "namespace": ratings, "name": name, "user": user,
                                        "abort": {"http_status": 500}, "expires_in": "1h"})
    set_annotation(cluster, ratings, "ratings", EXPIRES + "old", "2020-01-01T00:00:00Z")
    set_annotation(cluster, ratings, "ratings", EXPIRES + "gone", "2020-01-01T00:00:00Z")
    set_annotation(cluster, ratings, "ratings", EXPIRES + "new-typo", "next tuesday")
    before = cluster.versions(ratings)

    res = ok(cluster, "fault_expiry", {"namespace": ratings}, check=True, diff=True)
    assert res["changed"] and [e["route"] for e in res["expired"]] == ["old"]
    assert [e["route"] for e in res["stale"]] == ["gone", "new-typo"]
    assert res["diff"][0]["after"]["spec"]["http"][0]["name"] == "new"
    assert cluster.versions(ratings) == before, "check mode wrote"

    res = ok(cluster, "fault_expiry", {"namespace": ratings})
    assert res["changed"] and [e["route"] for e in res["expired"]] == ["old"]
    assert [e["route"] for e in res["pending"]] == ["new"]
    live = cluster.get("VirtualService", ratings, "ratings")
    assert [r["name"] for r in live["spec"]["http"]] == ["new", "default"]
    assert sorted(k for k in live["metadata"]["annotations"] if k.startswith(EXPIRES)) == [EXPIRES + "new"]

    again = ok(cluster, "fault_expiry", {"namespace": ratings})
    assert not again["changed"] and not again["expired"]
    assert cluster.get("VirtualService", ratings, "ratings")["metadata"]["resourceVersion"] == \
        live["metadata"]["resourceVersion"]


def test_an_unreadable_expiry_leaves_the_fault_and_warns(cluster, ratings):
    ok(cluster, "fault_injection", {"host": "ratings", "namespace": ratings, "user": "jason",
                                    "abort": {"http_status": 500}, "expires_in": "1h"})
    set_annotation(cluster, ratings, "ratings", EXPIRES + "fault-injection", "next tuesday")
    res = ok(cluster, "fault_expiry", {"namespace": ratings})
    assert not res["changed"]
    assert any("next tuesday" in w for w in res.get("warnings", []))


def test_the_expire_faults_playbook_cleans_the_namespace(cluster, ratings):
    ok(cluster, "fault_injection", {"host": "ratings", "namespace": ratings, "user": "jason",
                                    "abort": {"http_status": 500}, "expires_in": "1s"})
    time.sleep(1.5)
    result = run_playbook(os.path.join(ROOT, "playbooks", "expire_faults.yml"),
                          dict(servicemesh_namespace=ratings, servicemesh_kubeconfig=cluster.kubeconfig))
    assert not result.failed and result.changed == 1
    assert [r["name"] for r in cluster.get("VirtualService", ratings, "ratings")["spec"]["http"]] == ["default"]
    again = run_playbook(os.path.join(ROOT, "playbooks", "expire_faults.yml"),
                         dict(expire_faults_namespaces=[ratings], servicemesh_kubeconfig=cluster.kubeconfig))
    assert not again.failed and again.changed == 0


# --- revert_after -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["fault-delay", "fault-abort"])
def test_revert_after_takes_the_fault_out_again(cluster, namespace, scenario):
    role = scenario.replace("-", "_")
    result = play(scenario, namespace, cluster, **{role + "_revert_after": 2})
    assert not result.failed, result.proc.stdout[-3000:]
    names = [name for name, _res in result.tasks()]
    assert any(name.endswith("Inject the fault with its expiry") for name in names), names
    assert_conforms(cluster, namespace, "user-v2")
    assert not any(k.startswith(EXPIRES) for k in annotations(cluster, namespace, "ratings"))


def _descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def test_an_interrupted_fault_run_restores_the_routing(cluster, namespace):
    """The wait of fault-delay is killed: the play fails, and its always section takes the delay out."""
    extra = dict(servicemesh_namespace=namespace, servicemesh_kubeconfig=cluster.kubeconfig,
                 fault_delay_revert_after=300)
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
               os.path.join(ROOT, "playbooks", "fault_delay.yml"), "-e", json.dumps(extra)]
    proc = subprocess.Popen(command, cwd=ROOT, env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "default"}),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    try:
        deadline = time.monotonic() + 120
        waiting = []
        while not waiting:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the play never reached its wait"
            waiting = [p for p in _descendants(proc.pid) if "AnsiballZ_wait_for" in _cmdline(p)]
            time.sleep(0.2)
        vs = cluster.get("VirtualService", namespace, "ratings")
        assert any(r.get("fault") for r in vs["spec"]["http"])
        assert EXPIRES + "fault-injection" in vs["metadata"]["annotations"]
        for pid in waiting:
            os.kill(pid, signal.SIGTERM)
        output = proc.communicate(timeout=300)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0, output
    assert "Route as before the fault" in output
    assert_conforms(cluster, namespace, "user-v2")
    assert not any(k.startswith(EXPIRES) for k in annotations(cluster, namespace, "ratings"))


# --- undo ---------------------------------------------------------------------------------------------------------


FOREIGN = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
           "metadata": {"name": "reviews", "annotations": {"owner": "team-reviews"}},
           "spec": {"hosts": ["reviews"], "http": [
               {"name": "canary", "match": [{"headers": {"x-canary": {"exact": "1"}}}],
                "route": [{"destination": {"host": "reviews", "subset": "v3"}}]},
               {"name": "default", "route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]}}


def test_objects_the_collection_creates_are_marked_as_its_own(cluster, ratings):
    assert annotations(cluster, ratings, "ratings")[MANAGED] == "ack.servicemesh"
    ok(cluster, "http_route", {"host": "ratings", "namespace": ratings, "name": "r", "headers": {"x": "y"},
                               "subset": "v1"})
    assert PREVIOUS not in annotations(cluster, ratings, "ratings")
    assert cluster.get("DestinationRule", ratings, "ratings")["metadata"]["annotations"][MANAGED] == \
        "ack.servicemesh"


def test_a_foreign_virtual_service_is_saved_once_and_restored(cluster, namespace):
    ok(cluster, "destination_rule", {"name": "reviews", "namespace": namespace, "host": "reviews",
                                     "subsets": dict((v, {"version": v}) for v in ("v1", "v2", "v3"))})
    cluster.create(dict(FOREIGN, metadata=dict(FOREIGN["metadata"], namespace=namespace)))
    original = cluster.get("VirtualService", namespace, "reviews")

    first = check_apply_reapply(cluster, namespace, M + "http_route",
                                {"host": "reviews", "name": "jason", "user": "jason", "subset": "v2"},
                                "VirtualService", "reviews")
    saved = first["metadata"]["annotations"][PREVIOUS]
    assert json.loads(saved) == original["spec"]
    ok(cluster, "traffic_shift", {"host": "reviews", "namespace": namespace, "weights": {"v1": 50, "v3": 50}})
    ok(cluster, "fault_injection", {"host": "reviews", "namespace": namespace, "user": "kate",
                                    "abort": {"http_status": 500}})
    assert annotations(cluster, namespace, "reviews")[PREVIOUS] == saved, "the first saved spec is kept"

    before = cluster.versions(namespace)
    res = ok(cluster, "virtual_service", {"name": "reviews", "namespace": namespace, "restore": True}, check=True,
             diff=True)
    assert res["changed"] and res["restored"] and res["diff"]["after"]["spec"] == original["spec"]
    assert cluster.versions(namespace) == before

    res = ok(cluster, "virtual_service", {"name": "reviews", "namespace": namespace, "restore": True})
    assert res["changed"] and res["restored"]
    live = cluster.get("VirtualService", namespace, "reviews")
    assert live["spec"] == original["spec"]
    assert live["metadata"]["annotations"] == {"owner": "team-reviews"}

    again = ok(cluster, "virtual_service", {"name": "reviews", "namespace": namespace, "restore": True})
    assert not again["changed"] and again["restored"] is False
    assert any("nothing to restore" in w for w in again.get("warnings", []))
    assert cluster.get("VirtualService", namespace, "reviews")["metadata"]["resourceVersion"] == \
        live["metadata"]["resourceVersion"]
