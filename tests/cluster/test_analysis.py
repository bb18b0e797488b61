"""mesh_analyze, route_simulate and the servicemesh role's analyze step against the real API server."""

import copy
import os
import sys
import tempfile
import time

import yaml

from ansible_run import ROOT, run_module, run_playbook

sys.path.insert(0, os.path.join(ROOT, "tests"))

from testenv import audit_events, audit_offset  # noqa: E402

from ansible_collections.ack.servicemesh.plugins.filter.scenario_objects import build_scenario_objects  # noqa: E402
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import strip  # noqa: E402

MOD = "ack.servicemesh."
with open(os.path.join(ROOT, "roles", "servicemesh", "defaults", "main.yml")) as _handle:
    SERVICES = yaml.safe_load(_handle)["servicemesh_services"]
JASON_V2 = {"service": "reviews", "user": "jason", "subset": "v2"}
DELAY_7S = {"service": "ratings", "user": "jason", "delay": {"fixed_delay": "7s", "percentage": 100}}


def _run(cluster, module, args, **kw):
    return run_module(MOD + module, args, connection=cluster.connection(), **kw)[0]


def vs(namespace, name, http, hosts=None):
    return {"kind": "VirtualService", "metadata": {"name": name, "namespace": namespace},
            "spec": {"hosts": hosts or [name], "http": http}}


def dr(namespace, host, subsets):
    return {"kind": "DestinationRule", "metadata": {"name": host, "namespace": namespace},
            "spec": {"host": host, "subsets": [{"name": s, "labels": {"version": s}} for s in subsets]}}


def to(host, subset=None):
    dest = {"host": host}
    if subset:
        dest["subset"] = subset
    return {"destination": dest}


def codes(result):
    return [(f["code"], f["severity"], f["object"], f["field"]) for f in result["findings"]]


def requests_made(namespace, start):
    """(verb, resource) of each request for the namespace since the audit log offset ``start``.

    Cluster-wide requests are left out: other tests share the API server and make them too.
    """
    return sorted((e["verb"], e["resource"]) for e in audit_events("default", start)
                  if e["user_agent"] == "ack.servicemesh" and e["namespace"] == namespace)


def create_scenario(cluster, namespace, **variables):
    for obj in build_scenario_objects(SERVICES, namespace=namespace, **variables):
        cluster.create(obj)


# mesh_analyze ---------------------------------------------------------------------------------------------

def test_subset_missing_from_the_destination_rule_fails_with_ist0101(cluster, namespace):
    cluster.create(dr(namespace, "reviews", ["v1"]))
    cluster.create(vs(namespace, "reviews", [{"route": [to("reviews", "v2")]}]))
    before = cluster.versions(namespace)

    res = _run(cluster, "mesh_analyze", {"namespace": namespace})
    assert res.get("failed")
    assert codes(res) == [("IST0101", "error", "VirtualService/%s/reviews" % namespace,
                           "spec.http[0].route[0].destination.subset")]
    assert "IST0101" in res["msg"] and "spec.http[0].route[0].destination.subset" in res["msg"]
    assert "subset v2 is not defined by DestinationRule/%s/reviews" % namespace in res["msg"]
    assert res["counts"] == {"error": 1, "warning": 0, "info": 0}

    reported = _run(cluster, "mesh_analyze", {"namespace": namespace, "fail_on": "never"})
    assert not reported.get("failed") and not reported["changed"]
    assert codes(reported) == codes(res)
    assert reported["objects"] == {"VirtualService": 1, "DestinationRule": 1}
    assert cluster.versions(namespace) == before


def test_host_without_any_destination_rule_is_an_error(cluster, namespace):
    cluster.create(vs(namespace, "ratings", [{"route": [to("ratings", "v1")]}]))
    res = _run(cluster, "mesh_analyze", {"namespace": namespace, "fail_on": "never"})
    assert codes(res) == [("IST0101", "error", "VirtualService/%s/ratings" % namespace,
                           "spec.http[0].route[0].destination.subset")]
    assert "no DestinationRule for host ratings.%s.svc.cluster.local" % namespace in res["findings"][0]["message"]


def test_two_virtual_services_for_one_host_flag_the_newer_one(cluster, namespace):
    cluster.create(dr(namespace, "reviews", ["v1", "v2"]))
    # Named so that name order and age disagree: the older object wins although its name sorts last.
    cluster.create(vs(namespace, "z-older", [{"route": [to("reviews", "v1")]}], hosts=["reviews"]))
    time.sleep(1.1)  # creationTimestamp has a resolution of one second
    cluster.create(vs(namespace, "a-newer", [{"route": [to("reviews", "v2")]}], hosts=["reviews"]))
    res = _run(cluster, "mesh_analyze", {"namespace": namespace})
    assert res.get("failed")
    assert codes(res) == [("IST0109", "error", "VirtualService/%s/a-newer" % namespace, "spec.hosts[0]")]
    assert "VirtualService/%s/z-older, which wins" % namespace in res["msg"]

    # A proposed update of the older object keeps its age, as the API server would: the newer one still loses.
    change = vs(namespace, "z-older", [{"route": [to("reviews", "v2")]}], hosts=["reviews"])
    res = _run(cluster, "mesh_analyze", {"namespace": namespace, "proposed": [change], "fail_on": "never"})
    assert codes(res) == [("IST0109", "error", "VirtualService/%s/a-newer" % namespace, "spec.hosts[0]")]


def test_proposed_objects_fix_and_break_the_analysis_without_writing(cluster, namespace):
    cluster.create(dr(namespace, "reviews", ["v1"]))
    cluster.create(vs(namespace, "reviews", [{"route": [to("reviews", "v2")]}]))
    before = cluster.versions(namespace)

    fixed = _run(cluster, "mesh_analyze", {"namespace": namespace,
                                           "proposed": [dr(namespace, "reviews", ["v1", "v2"])]})
    assert not fixed.get("failed") and fixed["findings"] == [] and not fixed["changed"]

    unreachable = vs(namespace, "reviews", [{"route": [to("reviews", "v1")]},
                                            {"match": [{"uri": {"prefix": "/api"}}], "route": [to("reviews", "v1")]}])
    # Objects of other kinds may come along, from a whole manifest; they are ignored.
    gateway = {"kind": "Gateway", "metadata": {"name": "bookinfo"}, "spec": {}}
    warned = _run(cluster, "mesh_analyze", {"namespace": namespace, "proposed": [unreachable, gateway]})
    assert not warned.get("failed")
    assert codes(warned) == [("IST0130", "warning", "VirtualService/%s/reviews" % namespace, "spec.http[1]")]
    assert any("IST0130" in w and "spec.http[1]" in w for w in warned.get("warnings", []))

    strict = _run(cluster, "mesh_analyze", {"namespace": namespace, "proposed": [unreachable], "fail_on": "warning"})
    assert strict.get("failed") and "IST0130" in strict["msg"]
    assert cluster.versions(namespace) == before


def test_weights_not_summing_to_100_fail_only_with_legacy_weights(cluster, namespace):
    cluster.create(dr(namespace, "reviews", ["v1", "v3"]))
    cluster.create(vs(namespace, "reviews", [{"route": [dict(to("reviews", "v1"), weight=1),
                                                        dict(to("reviews", "v3"), weight=3)]}]))
    current = _run(cluster, "mesh_analyze", {"namespace": namespace})
    assert not current.get("failed") and codes(current)[0][:2] == ("ACK1001", "warning")
    legacy = _run(cluster, "mesh_analyze", {"namespace": namespace, "legacy_weights": True})
    assert legacy.get("failed") and codes(legacy)[0][:2] == ("ACK1001", "error")
    assert "v1 25%, v3 75%" in legacy["msg"]


def test_analyze_in_check_mode_reports_the_same(cluster, namespace):
    create_scenario(cluster, namespace, user_route=JASON_V2, fault=DELAY_7S)
    res = _run(cluster, "mesh_analyze", {"namespace": namespace}, check=True)
    assert not res.get("failed") and not res["changed"] and res["findings"] == []
    assert res["objects"] == {"VirtualService": 4, "DestinationRule": 4}


def test_analysis_and_simulation_cost_one_list_per_kind(cluster, namespace):
    create_scenario(cluster, namespace, user_route=JASON_V2, fault=DELAY_7S)
    start = audit_offset()
    res = _run(cluster, "mesh_analyze", {"namespace": namespace, "api_version": "v1"})
    assert not res.get("failed"), res.get("msg")
    assert requests_made(namespace, start) == [("list", "destinationrules"), ("list", "virtualservices")]

    start = audit_offset()
    res = _run(cluster, "route_simulate", {"namespace": namespace, "api_version": "v1", "users": ["jason", None],
                                           "requests": [{"host": "reviews", "user": "jason"}, {"host": "ratings"}]})
    assert not res.get("failed"), res.get("msg")
    assert requests_made(namespace, start) == [("list", "virtualservices")]


def test_proposed_object_without_kind_is_refused(cluster, namespace):
    res = _run(cluster, "mesh_analyze", {"namespace": namespace, "proposed": [{"metadata": {"name": "reviews"}}]})
    assert res.get("failed") and "proposed[0].kind" in res["msg"]


# route_simulate -------------------------------------------------------------------------------------------

def test_simulate_jason_on_the_fault_delay_objects(cluster, namespace):
    create_scenario(cluster, namespace, user_route=JASON_V2, fault=DELAY_7S)
    res = _run(cluster, "route_simulate", {"namespace": namespace, "request": {"host": "ratings", "user": "jason"}},
               check=True)
    assert not res.get("failed") and not res["changed"]
    result = res["result"]
    assert (result["outcome"], result["virtual_service"], result["route_name"]) == (
        "routed", "ratings", "fault-injection")
    assert result["fault"]["delay"] == {"fixed_delay_ms": 7000, "percentage": 100}
    assert [(d["subset"], d["share"]) for d in result["destinations"]] == [("v1", 1.0)]
    assert "predictions" not in res and "results" not in res


def test_simulate_several_requests_headers_and_cookies(cluster, namespace):
    create_scenario(cluster, namespace, user_route=JASON_V2, user_match="cookie",
                    weights={"productpage": {"v1": 100}, "details": {"v1": 100}})
    res = _run(cluster, "route_simulate", {"namespace": namespace, "requests": [
        {"host": "reviews", "cookies": {"session": "abc", "user": "jason"}},
        {"host": "reviews", "headers": {"Cookie": "session=abc; xuser=jason"}},  # another cookie's name
        {"host": "reviews.%s.svc.cluster.local" % namespace, "user": "jason", "uri": "/reviews/0?x=1"},
        {"host": "unknown-service"},
    ]})
    assert not res.get("failed"), res.get("msg")
    results = res["results"]
    assert [r["route_name"] for r in results] == ["user-override", "default", "user-override", None]
    assert [[d["subset"] for d in r["destinations"]] for r in results] == [["v2"], ["v1"], ["v2"], [None]]
    assert results[3]["outcome"] == "passthrough"


def test_predict_the_article_fault_delay_for_jason_and_everyone_else(cluster, namespace):
    create_scenario(cluster, namespace, user_route=JASON_V2, fault=DELAY_7S)
    res = _run(cluster, "route_simulate", {"namespace": namespace, "users": ["jason", None]})
    assert not res.get("failed"), res.get("msg")
    jason, anonymous = res["predictions"]
    assert (jason["user"], jason["outcome"], jason["latency_s"]) == ("jason", "reviews_unavailable", 6.0)
    assert jason["explanation"].startswith("jason: productpage shows reviews unavailable after 6 s.")
    assert "reviews v2 would have answered after 7 s" in jason["explanation"]
    assert (anonymous["user"], anonymous["outcome"], anonymous["stars"], anonymous["latency_s"]) == (
        None, "ok", "none", 0.0)


def test_predict_follows_the_requests_users_and_a_proposed_change(cluster, namespace):
    create_scenario(cluster, namespace)  # all-v1 in the cluster
    proposed = build_scenario_objects(SERVICES, namespace=namespace, user_route=dict(JASON_V2, subset="v3"),
                                      fault=dict(DELAY_7S, delay={"fixed_delay": "3s"}))
    live = _run(cluster, "route_simulate", {"namespace": namespace, "request": {"host": "reviews", "user": "jason"},
                                            "predict": True})
    assert [p["user"] for p in live["predictions"]] == ["jason", None]
    assert live["result"]["route_name"] == "default"
    assert live["predictions"][0]["outcome"] == "ok"

    changed = _run(cluster, "route_simulate", {"namespace": namespace, "request": {"host": "reviews", "user": "jason"},
                                               "predict": True, "proposed": proposed})
    assert changed["result"]["route_name"] == "user-override"
    jason = changed["predictions"][0]
    assert (jason["outcome"], jason["stars"], jason["latency_s"]) == ("ratings_unavailable", None, 2.5)


def test_simulate_needs_something_to_do(cluster, namespace):
    res = _run(cluster, "route_simulate", {"namespace": namespace})
    assert res.get("failed") and "request" in res["msg"]
    res = _run(cluster, "route_simulate", {"namespace": namespace, "request": {"host": "reviews", "port": "http"}})
    assert res.get("failed") and "port" in res["msg"]


# The servicemesh role's one task analyzes and predicts ---------------------------------------------------------

def _role_play(cluster, namespace, **variables):
    play = [{"name": "scenario", "hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "run the servicemesh role",
        "ansible.builtin.include_role": {"name": "ack.servicemesh.servicemesh"},
        "vars": dict(servicemesh_namespace=namespace, servicemesh_kubeconfig=cluster.kubeconfig, **variables)}]}]
    handle, path = tempfile.mkstemp(suffix=".yml", prefix="play-", dir=os.path.join(ROOT, "build"))
    with os.fdopen(handle, "w") as out:
        yaml.safe_dump(play, out)
    try:
        return run_playbook(path)
    finally:
        os.unlink(path)


def _task(result, suffix):
    found = [res for name, res in result.tasks() if name.endswith(suffix)]
    assert found, "no task ending in %r: %s" % (suffix, [name for name, _res in result.tasks()])
    return found[-1]


ROLE_TASK = "Converge BookInfo's routing to the requested scenario"


def test_the_roles_one_task_returns_the_fault_delay_prediction(cluster, namespace):
    result = _role_play(cluster, namespace, servicemesh_user_route=JASON_V2, servicemesh_fault=DELAY_7S)
    assert not result.failed, result.proc.stdout[-3000:]
    modules = [name for name, _res in result.tasks()
               if "Validating arguments" not in name and name != "run the servicemesh role"]
    assert len(modules) == 1 and modules[0].endswith(ROLE_TASK), modules
    predictions = _task(result, ROLE_TASK)["predictions"]
    assert [p["user"] for p in predictions] == ["jason", None]
    assert predictions[0]["explanation"].startswith("jason: productpage shows reviews unavailable after 6 s.")
    assert predictions[1]["explanation"] == "anonymous user: productpage answers in 0 s with no stars."


def test_an_analysis_error_stops_the_role_before_any_write_and_no_fault_means_no_prediction(cluster, namespace):
    cluster.create(vs(namespace, "reviews-canary", [{"route": [to("reviews", "v3")]}], hosts=["reviews"]))
    before = cluster.versions(namespace)
    result = _role_play(cluster, namespace)
    assert result.failed
    res = _task(result, ROLE_TASK)
    assert [(f["code"], f["object"]) for f in res["findings"]] == [
        ("IST0109", "VirtualService/%s/reviews" % namespace)]
    assert "nothing was written" in res["msg"]
    assert cluster.versions(namespace) == before

    result = _role_play(cluster, cluster.new_namespace(), servicemesh_services=SERVICES[:2])
    assert not result.failed, result.proc.stdout[-3000:]
    assert _task(result, ROLE_TASK)["predictions"] == []


def test_the_role_reports_bad_variables_before_reading(cluster, namespace):
    result = _role_play(cluster, namespace, servicemesh_weights={"reviews": {"v1": -5, "v3": 40}})
    assert result.failed
    assert "weights.v1: must be an integer >= 0 (got -5)" in _task(result, ROLE_TASK)["msg"]
    assert cluster.versions(namespace) == {}


def test_scenario_objects_equal_what_the_role_writes(cluster, namespace):
    """The analysis checks the objects the role will write: the filter and the role agree field for field."""
    result = run_playbook(os.path.join(ROOT, "playbooks", "fault_delay.yml"),
                          dict(servicemesh_namespace=namespace, servicemesh_kubeconfig=cluster.kubeconfig))
    assert not result.failed, result.proc.stdout[-3000:]
    expected = build_scenario_objects(SERVICES, namespace=namespace, user_route=JASON_V2, fault=DELAY_7S)
    for obj in expected:
        live = strip(cluster.get(obj["kind"], namespace, obj["metadata"]["name"]))
        want = strip(copy.deepcopy(obj))
        # The filter is the module's planner on an empty namespace: even the managed-by annotation is the same.
        assert (live["metadata"], live["spec"]) == (want["metadata"], want["spec"])
