"""http_route, fault_injection and traffic_shift against the real API server."""

import threading

from ansible_run import run_module
from lifecycle import check_apply_reapply

MOD = "ack.servicemesh."


def _bookinfo_subsets(cluster, namespace):
    for host, names in (("reviews", ["v1", "v2", "v3"]), ("ratings", ["v1"])):
        res = run_module(MOD + "destination_rule", {
            "name": host, "namespace": namespace, "host": host,
            "subsets": dict((n, {"version": n}) for n in names)}, connection=cluster.connection())[0]
        assert not res.get("failed"), res.get("msg")


def _run(cluster, module, args, **kw):
    res = run_module(MOD + module, args, connection=cluster.connection(), **kw)[0]
    return res


def test_traffic_shift_creates_then_changes_weights(cluster, namespace):
    _bookinfo_subsets(cluster, namespace)
    live = check_apply_reapply(cluster, namespace, MOD + "traffic_shift",
                               {"host": "reviews", "weights": {"v1": 50, "v3": 50}}, "VirtualService", "reviews")
    assert live["spec"]["http"] == [{"name": "default", "route": [
        {"destination": {"host": "reviews", "subset": "v1"}, "weight": 50},
        {"destination": {"host": "reviews", "subset": "v3"}, "weight": 50}]}]
    res = _run(cluster, "traffic_shift", {"host": "reviews", "namespace": namespace, "weights": {"v1": 100}})
    assert res["changed"]
    http = cluster.get("VirtualService", namespace, "reviews")["spec"]["http"]
    assert http == [{"name": "default", "route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]


def test_http_route_goes_above_default_and_keeps_others(cluster, namespace):
    _bookinfo_subsets(cluster, namespace)
    foreign = {"name": "mirror-team", "match": [{"uri": {"prefix": "/team"}}],
               "route": [{"destination": {"host": "reviews", "subset": "v3"}}], "timeout": "2s"}
    cluster.create({"kind": "VirtualService", "metadata": {"name": "reviews", "namespace": namespace},
                    "spec": {"hosts": ["reviews"], "http": [
                        foreign, {"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]}})
    check_apply_reapply(cluster, namespace, MOD + "http_route",
                        {"host": "reviews", "name": "user-override", "user": "jason", "subset": "v2"},
                        "VirtualService", "reviews")
    http = cluster.get("VirtualService", namespace, "reviews")["spec"]["http"]
    assert [r.get("name") for r in http] == ["mirror-team", "user-override", None]
    assert http[0] == foreign
    assert http[1]["match"] == [{"headers": {"end-user": {"exact": "jason"}}}]

    res = _run(cluster, "http_route", {"host": "reviews", "namespace": namespace, "name": "user-override",
                                       "state": "absent"})
    assert res["changed"]
    http = cluster.get("VirtualService", namespace, "reviews")["spec"]["http"]
    assert [r.get("name") for r in http] == ["mirror-team", None]


def test_http_route_before_named_route_and_refuses_after_catch_all(cluster, namespace):
    _bookinfo_subsets(cluster, namespace)
    _run(cluster, "traffic_shift", {"host": "reviews", "namespace": namespace, "weights": {"v1": 100}})
    _run(cluster, "http_route", {"host": "reviews", "namespace": namespace, "name": "b", "headers": {"x": "b"},
                                 "subset": "v2"})
    res = _run(cluster, "http_route", {"host": "reviews", "namespace": namespace, "name": "a", "headers": {"x": "a"},
                                       "subset": "v3", "before": "b"})
    assert res["changed"] and res["position"] == 0
    live = cluster.get("VirtualService", namespace, "reviews")
    res = _run(cluster, "http_route", {"host": "reviews", "namespace": namespace, "name": "c", "headers": {"x": "c"},
                                       "subset": "v3", "after": "default"})
    assert res.get("failed") and "after" in res["msg"] and "'default'" in res["msg"]
    again = cluster.get("VirtualService", namespace, "reviews")
    assert again["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]


def test_fault_injection_adds_then_restores_exactly(cluster, namespace):
    _bookinfo_subsets(cluster, namespace)
    _run(cluster, "traffic_shift", {"host": "ratings", "namespace": namespace, "weights": {"v1": 100}})
    before = cluster.get("VirtualService", namespace, "ratings")["spec"]
    live = check_apply_reapply(cluster, namespace, MOD + "fault_injection",
                               {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "7s"}},
                               "VirtualService", "ratings")
    assert live["spec"]["http"][0] == {
        "name": "fault-injection", "match": [{"headers": {"end-user": {"exact": "jason"}}}],
        "fault": {"delay": {"fixedDelay": "7s", "percentage": {"value": 100}}},
        "route": [{"destination": {"host": "ratings", "subset": "v1"}}]}
    res = _run(cluster, "fault_injection", {"host": "ratings", "namespace": namespace, "state": "absent"})
    assert res["changed"]
    assert cluster.get("VirtualService", namespace, "ratings")["spec"] == before


def test_fault_without_user_needs_explicit_consent(cluster, namespace):
    _bookinfo_subsets(cluster, namespace)
    _run(cluster, "traffic_shift", {"host": "ratings", "namespace": namespace, "weights": {"v1": 100}})
    rv = cluster.versions(namespace)
    res = _run(cluster, "fault_injection", {"host": "ratings", "namespace": namespace,
                                            "abort": {"http_status": 500}})
    assert res.get("failed") and "allow_unscoped_fault" in res["msg"]
    assert cluster.versions(namespace) == rv


def test_concurrent_writers_lose_nothing(cluster, namespace):
    """Ten jobs each add their own route to one VirtualService at the same time; all routes survive."""
    _bookinfo_subsets(cluster, namespace)
    _run(cluster, "traffic_shift", {"host": "reviews", "namespace": namespace, "weights": {"v1": 100}})
    results = {}

    def writer(i):
        results[i] = _run(cluster, "http_route", {
            "host": "reviews", "namespace": namespace, "name": "writer-%d" % i,
            "headers": {"x-writer": str(i)}, "subset": "v2"})

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(not r.get("failed") for r in results.values()), [r.get("msg") for r in results.values()]
    http = cluster.get("VirtualService", namespace, "reviews")["spec"]["http"]
    names = [r.get("name") for r in http]
    assert sorted(n for n in names if n.startswith("writer-")) == sorted("writer-%d" % i for i in range(10))
    assert names[-1] == "default"
