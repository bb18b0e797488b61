"""mesh_routing: a whole scenario in one task, with its request budget counted by the API server."""

import json
import os
import sys

from ansible_run import ROOT, run_module, run_playbook
from conformance import assert_conforms

sys.path.insert(0, os.path.join(ROOT, "tests"))

from testenv import audit_events, audit_offset  # noqa: E402

M = "ack.servicemesh.mesh_routing"
FAULT_DELAY = [
    {"host": "productpage", "subsets": ["v1"], "weights": {"v1": 100}},
    {"host": "reviews", "subsets": ["v1", "v2", "v3"], "weights": {"v1": 100},
     "routes": [{"name": "user-override", "user": "jason", "subset": "v2"}]},
    {"host": "ratings", "subsets": ["v1", "v2", "v2-mysql", "v2-mysql-vm"], "weights": {"v1": 100},
     "routes": [{"name": "fault-injection", "user": "jason",
                 "fault": {"delay": {"fixed_delay": "7s", "percentage": 100}}}]},
    {"host": "details", "subsets": ["v1", "v2"], "weights": {"v1": 100}},
]


def _requests(namespace, start):
    events = audit_events("default", start)
    mine = [e for e in events if e["user_agent"] == "ack.servicemesh"]
    # Other engineers' runs share the API server: requests without a namespace (discovery) cannot be told apart,
    # so the module's own count (res["requests"]) covers those.
    return [(e["verb"], e["resource"]) for e in mine if e["namespace"] == namespace]


def test_whole_scenario_in_one_task_equals_the_sample(cluster, namespace):
    args = {"namespace": namespace, "services": FAULT_DELAY}
    conn = cluster.connection()
    res = run_module(M, args, check=True, diff=True, connection=conn)[0]
    assert res["changed"] and not res.get("failed"), res.get("msg")
    assert cluster.versions(namespace) == {}
    res = run_module(M, args, connection=conn)[0]
    assert res["changed"], res.get("msg")
    assert set(res["objects"].values()) == {"created"}
    assert_conforms(cluster, namespace, "fault-delay")
    versions = cluster.versions(namespace)
    res = run_module(M, args, connection=conn)[0]
    assert res["changed"] is False
    assert cluster.versions(namespace) == versions


def test_no_op_costs_two_lists_and_a_change_one_write_per_changed_object(cluster, namespace):
    conn = cluster.connection()
    args = {"namespace": namespace, "services": FAULT_DELAY, "api_version": "v1"}
    run_module(M, args, connection=conn)

    start = audit_offset()
    res = run_module(M, args, connection=conn)[0]
    assert res["changed"] is False and res["requests"] == 2
    assert sorted(_requests(namespace, start)) == [("list", "destinationrules"), ("list", "virtualservices")]

    changed = [dict(s) for s in FAULT_DELAY]
    changed[1] = dict(changed[1], weights={"v1": 50, "v3": 50}, routes=[])
    start = audit_offset()
    res = run_module(M, dict(args, services=changed), connection=conn)[0]
    assert res["objects"]["VirtualService/reviews"] == "updated" and res["requests"] == 3
    assert sorted(_requests(namespace, start)) == [
        ("list", "destinationrules"), ("list", "virtualservices"), ("update", "virtualservices")]


def test_bad_route_in_any_service_writes_nothing(cluster, namespace):
    conn = cluster.connection()
    run_module(M, {"namespace": namespace, "services": FAULT_DELAY}, connection=conn)
    before = cluster.versions(namespace)
    bad = [dict(s) for s in FAULT_DELAY]
    bad[0] = dict(bad[0], weights={"v1": 100}, routes=[{"name": "x", "headers": {"x": "1"}, "subset": "v9"}])
    bad[2] = dict(bad[2], routes=[{"name": "fault-injection", "user": "jason",
                                   "fault": {"delay": {"fixed_delay": "1.5ms"}}}])
    res = run_module(M, {"namespace": namespace, "services": bad}, connection=conn)[0]
    assert res.get("failed")
    assert "services[2].routes[0]" in res["msg"] and "'1.5ms'" in res["msg"]
    assert cluster.versions(namespace) == before


def _writes(namespace, start):
    """(verb, resource, name, dry run) of every write this collection sent into the namespace."""
    events = audit_events("default", start)
    return [(e["verb"], e["resource"], e["name"], "dryRun=All" in (e["uri"] or "")) for e in events
            if e["user_agent"] == "ack.servicemesh" and e["namespace"] == namespace
            and e["verb"] not in ("get", "list", "watch")]


def test_several_changes_are_dry_run_first_and_one_refusal_writes_nothing(cluster, namespace):
    conn = cluster.connection()
    args = {"namespace": namespace, "services": FAULT_DELAY, "api_version": "v1"}
    run_module(M, args, connection=conn)
    before = cluster.versions(namespace)

    # Two changes; the second passes Istio's rules (a host may have upper case) but not Kubernetes' (an object
    # name may not), so the API server refuses it.
    bad = [dict(s) for s in FAULT_DELAY]
    bad[0] = dict(bad[0], weights={"v1": 100}, subsets=[{"name": "v1", "labels": {"version": "v1"}},
                                                        {"name": "v9", "labels": {"version": "v9"}}])
    refused = bad + [{"host": "Upper", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}]
    start = audit_offset()
    res = run_module(M, dict(args, services=refused), connection=conn)[0]
    assert res.get("failed")
    assert res["msg"].startswith("nothing was written: the API server refused DestinationRule %s/Upper in a dry "
                                 "run" % namespace), res["msg"]
    assert res["status"] == 422
    assert cluster.versions(namespace) == before
    writes = _writes(namespace, start)
    assert writes and all(dry for _verb, _resource, _name, dry in writes), writes

    # The same two changes, valid: each is sent as a dry run, then written.
    good = [dict(s) for s in bad]
    good[3] = dict(FAULT_DELAY[3], weights={"v2": 100})
    start = audit_offset()
    res = run_module(M, dict(args, services=good), connection=conn)[0]
    assert res["changed"] and not res.get("failed"), res.get("msg")
    # Both dry runs (sent together, in either order), then the DestinationRule, then the VirtualService.
    writes = _writes(namespace, start)
    assert sorted(writes[:2]) == [("update", "destinationrules", "productpage", True),
                                  ("update", "virtualservices", "details", True)]
    assert writes[2:] == [("update", "destinationrules", "productpage", False),
                          ("update", "virtualservices", "details", False)]
    # A no-op sends neither dry runs nor writes.
    start = audit_offset()
    assert run_module(M, dict(args, services=good), connection=conn)[0]["changed"] is False
    assert _writes(namespace, start) == []


def test_analysis_errors_fail_before_any_write_and_warnings_are_task_warnings(cluster, namespace):
    conn = cluster.connection()
    args = {"namespace": namespace, "services": FAULT_DELAY}
    run_module(M, args, connection=conn)
    before = cluster.versions(namespace)
    shadowed = [dict(s) for s in FAULT_DELAY]
    # A route after a route for the same user can never be hit (IST0131, a warning).
    shadowed[1] = dict(shadowed[1], routes=[{"name": "user-override", "user": "jason", "subset": "v2"},
                                            {"name": "jason-v3", "user": "jason", "subset": "v3"}])
    res = run_module(M, dict(args, services=shadowed, fail_on="warning"), connection=conn)[0]
    assert res.get("failed") and res["msg"].startswith("nothing was written: 1 finding(s)"), res["msg"]
    assert [(f["code"], f["object"]) for f in res["findings"]] == [
        ("IST0131", "VirtualService/%s/reviews" % namespace)]
    assert cluster.versions(namespace) == before
    res = run_module(M, dict(args, services=shadowed), connection=conn)[0]
    assert res["changed"] and not res.get("failed"), res.get("msg")
    assert any("IST0131" in w for w in res.get("warnings") or []), res.get("warnings")


def test_predictions_per_user_come_with_the_write(cluster, namespace):
    res = run_module(M, {"namespace": namespace, "services": FAULT_DELAY, "predict_for": ["jason", None]},
                     connection=cluster.connection())[0]
    assert not res.get("failed"), res.get("msg")
    jason, anonymous = res["predictions"]
    assert (jason["user"], jason["outcome"], jason["latency_s"]) == ("jason", "reviews_unavailable", 6.0)
    assert (anonymous["user"], anonymous["outcome"], anonymous["stars"]) == (None, "ok", "none")


def test_a_fault_on_the_service_the_user_is_routed_on_joins_the_users_route(cluster, namespace):
    """fault-delay with fault_delay_service=reviews: the delay fires for jason, who stays on reviews v2."""
    variables = dict(servicemesh_namespace=namespace, servicemesh_kubeconfig=cluster.kubeconfig,
                     fault_delay_service="reviews")
    result = run_playbook(os.path.join(ROOT, "playbooks", "fault-delay.yml"), variables)
    assert not result.failed, result.proc.stdout[-3000:]
    reviews = cluster.get("VirtualService", namespace, "reviews")["spec"]["http"]
    assert reviews == [
        {"name": "user-override", "match": [{"headers": {"end-user": {"exact": "jason"}}}],
         "route": [{"destination": {"host": "reviews", "subset": "v2"}}],
         "fault": {"delay": {"fixedDelay": "7s", "percentage": {"value": 100}}}},
        {"name": "default", "route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]
    assert [r["name"] for r in cluster.get("VirtualService", namespace, "ratings")["spec"]["http"]] == ["default"]
    versions = cluster.versions(namespace)
    again = run_playbook(os.path.join(ROOT, "playbooks", "fault-delay.yml"), variables)
    assert not again.failed and again.changed == 0
    assert cluster.versions(namespace) == versions
    # Taking the fault out (user-v2) keeps jason's route and its destination.
    assert not run_playbook(os.path.join(ROOT, "playbooks", "user-v2.yml"), variables).failed
    assert_conforms(cluster, namespace, "user-v2")


def _settled_offset(profile="default"):
    """An audit offset after every event of the requests made so far (the barrier waits for them)."""
    audit_events(profile, audit_offset(profile))
    return audit_offset(profile)


def _all_requests(profile, start, namespace):
    """This namespace's requests; a discovery GET has no namespace, so the module's own count covers it."""
    return [(e["verb"], e["resource"], e["code"]) for e in audit_events(profile, start)
            if e["user_agent"] == "ack.servicemesh" and e["namespace"] == namespace]


def test_a_no_op_with_a_warm_discovery_cache_sends_only_the_two_lists(cluster, namespace, tmp_path):
    env = {"ACK_SERVICEMESH_CACHE_DIR": str(tmp_path)}
    conn = cluster.connection()
    args = {"namespace": namespace, "services": FAULT_DELAY}
    res = run_module(M, args, env=env, connection=conn)[0]
    # Cold: one discovery, two LISTs, eight creates, each first as a dry run.
    assert res["changed"] and res["requests"] == 19, res.get("msg")
    entries = list((tmp_path / "discovery").iterdir())
    assert len(entries) == 1 and oct(entries[0].stat().st_mode & 0o777) == "0o600"

    start = _settled_offset()
    res = run_module(M, args, env=env, connection=conn)[0]
    assert res["changed"] is False and res["requests"] == 2
    assert sorted(_all_requests("default", start, namespace)) == [
        ("list", "destinationrules", 200), ("list", "virtualservices", 200)]


def test_a_stale_discovery_cache_is_invalidated_by_the_404(old_cluster, tmp_path):
    """The cache says v1 is served; the old API server serves only v1alpha3: a 404 per kind, one discovery, then on."""
    namespace = old_cluster.new_namespace("cache")
    env = {"ACK_SERVICEMESH_CACHE_DIR": str(tmp_path)}
    conn = old_cluster.connection()
    args = {"namespace": namespace, "services": FAULT_DELAY[:1]}
    assert run_module(M, args, env=env, connection=conn)[0]["api_version"] == "v1alpha3"
    entry = next((tmp_path / "discovery").iterdir())
    cached = json.loads(entry.read_text())
    entry.write_text(json.dumps(dict(cached, served=["v1"])))

    start = _settled_offset("v1alpha3")
    res = run_module(M, args, env=env, connection=conn)[0]
    assert not res.get("failed") and res["changed"] is False and res["api_version"] == "v1alpha3", res.get("msg")
    # Both LISTs go out at the same time: each that left before the rediscovery gets a 404 (usually both), then
    # one discovery (it has no namespace) and each LIST again.
    audited = _all_requests("v1alpha3", start, namespace)
    missed = [e for e in audited if e[2] == 404]
    listed = sorted(e for e in audited if e[2] == 200)
    assert listed == [("list", "destinationrules", 200), ("list", "virtualservices", 200)]
    assert 1 <= len(missed) <= 2 and len(set(missed)) == len(missed)
    assert res["requests"] == 3 + len(missed)
    assert json.loads(entry.read_text())["served"] == cached["served"]
