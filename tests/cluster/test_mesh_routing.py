"""mesh_routing: a whole scenario in one task, with its request budget counted by the API server."""

import os
import sys

from ansible_run import ROOT, run_module
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
    return [(e["verb"], e["resource"]) for e in mine if e["namespace"] in (namespace, None)]


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
    assert res["changed"] is False
    assert sorted(_requests(namespace, start)) == [("list", "destinationrules"), ("list", "virtualservices")]

    changed = [dict(s) for s in FAULT_DELAY]
    changed[1] = dict(changed[1], weights={"v1": 50, "v3": 50}, routes=[])
    start = audit_offset()
    res = run_module(M, dict(args, services=changed), connection=conn)[0]
    assert res["objects"]["VirtualService/reviews"] == "updated"
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
