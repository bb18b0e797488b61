"""Scenarios and route modules composed in ways the article's defaults never try (issue 12)."""

import os

import pytest

from ansible_run import ROOT, run_module, run_playbook
from lifecycle import check_apply_reapply

MOD = "ack.servicemesh."
DEFAULT_ROUTE_FAULT = "servicemesh.ack.io/default-route-fault"
EXPIRES = "servicemesh.ack.io/fault-expires."
DELAY = {"delay": {"fixedDelay": "7s", "percentage": {"value": 100}}}


def _run(cluster, module, args, **kw):
    return run_module(MOD + module, args, connection=cluster.connection(), **kw)[0]


def _subsets(cluster, namespace, host="ratings", names=("v1", "v2", "v3")):
    res = _run(cluster, "destination_rule", {"name": host, "namespace": namespace, "host": host,
                                             "subsets": dict((n, {"version": n}) for n in names)})
    assert not res.get("failed"), res.get("msg")


def _vs(cluster, namespace, name):
    return cluster.get("VirtualService", namespace, name)


def _play(name, namespace, kubeconfig, **extra):
    extra_vars = dict(servicemesh_namespace=namespace, servicemesh_kubeconfig=kubeconfig, **extra)
    return run_playbook(os.path.join(ROOT, "playbooks", name + ".yml"), extra_vars)


# 2. An unscoped fault is on the default route, and comes off it exactly -------------------------------------

def test_unscoped_fault_is_on_the_default_route_and_removing_it_restores_the_route_exactly(cluster, namespace):
    _subsets(cluster, namespace)
    cluster.create({"kind": "VirtualService", "metadata": {"name": "ratings", "namespace": namespace}, "spec": {
        "hosts": ["ratings"], "http": [
            {"name": "team", "match": [{"uri": {"prefix": "/team"}}],
             "route": [{"destination": {"host": "ratings", "subset": "v2"}}]},
            {"name": "main", "route": [{"destination": {"host": "ratings", "subset": "v1"}}], "timeout": "4s"}]}})
    before = _vs(cluster, namespace, "ratings")["spec"]
    args = {"host": "ratings", "allow_unscoped_fault": True, "delay": {"fixed_delay": "7s"}}
    live = check_apply_reapply(cluster, namespace, MOD + "fault_injection", args, "VirtualService", "ratings")
    assert live["spec"]["http"] == [before["http"][0], dict(before["http"][1], fault=DELAY)]
    assert live["metadata"]["annotations"][DEFAULT_ROUTE_FAULT] == "fault-injection"
    analysis = _run(cluster, "mesh_analyze", {"namespace": namespace, "fail_on": "never"})
    assert [f["code"] for f in analysis["findings"] if f["severity"] != "info"] == []

    res = _run(cluster, "fault_injection", {"host": "ratings", "namespace": namespace, "state": "absent"})
    assert res["changed"], res.get("msg")
    after = _vs(cluster, namespace, "ratings")
    assert after["spec"] == before
    assert DEFAULT_ROUTE_FAULT not in (after["metadata"].get("annotations") or {})


def test_unscoped_fault_never_replaces_a_fault_someone_else_put_on_the_default_route(cluster, namespace):
    _subsets(cluster, namespace)
    cluster.create({"kind": "VirtualService", "metadata": {"name": "ratings", "namespace": namespace}, "spec": {
        "hosts": ["ratings"], "http": [{"route": [{"destination": {"host": "ratings", "subset": "v1"}}],
                                        "fault": {"abort": {"httpStatus": 503, "percentage": {"value": 5}}}}]}})
    version = _vs(cluster, namespace, "ratings")["metadata"]["resourceVersion"]
    res = _run(cluster, "fault_injection", {"host": "ratings", "namespace": namespace, "allow_unscoped_fault": True,
                                            "delay": {"fixed_delay": "7s"}})
    assert res.get("failed") and "already has a fault that this collection did not put there" in res["msg"]
    assert _vs(cluster, namespace, "ratings")["metadata"]["resourceVersion"] == version


def test_a_fault_role_with_an_empty_user_says_which_variables_to_set_and_writes_nothing(cluster):
    namespace = cluster.new_namespace("nouser")
    result = _play("fault-delay", namespace, cluster.kubeconfig, fault_delay_user="")
    assert result.failed
    text = result.proc.stdout
    assert "fault_delay_user" in text and "user_route.user" not in text and "fault.user" not in text
    assert cluster.versions(namespace) == {}


# 3. The last route never leaves http: [] ------------------------------------------------------------------------

def test_removing_the_last_route_of_our_own_virtual_service_removes_it(cluster, namespace):
    _subsets(cluster, namespace)
    res = _run(cluster, "http_route", {"host": "ratings", "namespace": namespace, "name": "beta",
                                       "headers": {"x-beta": "1"}, "subset": "v2"})
    assert res["action"] == "created", res.get("msg")
    res = _run(cluster, "http_route", {"host": "ratings", "namespace": namespace, "name": "beta", "state": "absent"},
               check=True)
    assert res["action"] == "deleted" and _vs(cluster, namespace, "ratings") is not None
    res = _run(cluster, "http_route", {"host": "ratings", "namespace": namespace, "name": "beta", "state": "absent"})
    assert res["action"] == "deleted"
    assert _vs(cluster, namespace, "ratings") is None
    res = _run(cluster, "http_route", {"host": "ratings", "namespace": namespace, "name": "beta", "state": "absent"})
    assert res["changed"] is False


def test_removing_the_last_route_of_someone_elses_virtual_service_restores_its_saved_spec(cluster, namespace):
    _subsets(cluster, namespace)
    original = {"hosts": ["ratings"], "http": [{"name": "theirs", "match": [{"headers": {"x": {"exact": "1"}}}],
                                                "route": [{"destination": {"host": "ratings", "subset": "v3"}}]}]}
    cluster.create({"kind": "VirtualService", "metadata": {"name": "ratings", "namespace": namespace},
                    "spec": original})
    assert not _run(cluster, "http_route", {"host": "ratings", "namespace": namespace, "name": "ours",
                                            "headers": {"y": "1"}, "subset": "v2"}).get("failed")
    assert not _run(cluster, "http_route", {"host": "ratings", "namespace": namespace, "name": "theirs",
                                            "state": "absent"}).get("failed")
    res = _run(cluster, "http_route", {"host": "ratings", "namespace": namespace, "name": "ours", "state": "absent"})
    assert res["action"] == "updated", res.get("msg")
    live = _vs(cluster, namespace, "ratings")
    assert live["spec"] == original
    assert "servicemesh.ack.io/previous-spec" not in (live["metadata"].get("annotations") or {})


def test_removing_the_only_route_of_a_foreign_virtual_service_fails_and_writes_nothing(cluster, namespace):
    _subsets(cluster, namespace)
    cluster.create({"kind": "VirtualService", "metadata": {"name": "ratings", "namespace": namespace}, "spec": {
        "hosts": ["ratings"], "http": [{"name": "only", "route": [{"destination": {"host": "ratings"}}]}]}})
    version = _vs(cluster, namespace, "ratings")["metadata"]["resourceVersion"]
    res = _run(cluster, "http_route", {"host": "ratings", "namespace": namespace, "name": "only", "state": "absent"})
    assert res.get("failed") and "would be left without any HTTP route, which Istio refuses" in res["msg"]
    assert _vs(cluster, namespace, "ratings")["metadata"]["resourceVersion"] == version


# 4. One rule for weights, per served Istio version --------------------------------------------------------------

RELATIVE = {"v1": 101, "v3": 20}


def test_relative_weights_are_written_where_istio_takes_them(cluster, namespace):
    _subsets(cluster, namespace, "reviews")
    res = _run(cluster, "traffic_shift", {"host": "reviews", "namespace": namespace, "weights": RELATIVE})
    assert not res.get("failed"), res.get("msg")
    res = _run(cluster, "http_route", {"host": "reviews", "namespace": namespace, "name": "beta",
                                       "headers": {"x": "1"}, "destinations": [{"subset": "v1", "weight": 101},
                                                                               {"subset": "v3", "weight": 20}]})
    assert not res.get("failed"), res.get("msg")
    weights = [[d.get("weight") for d in r["route"]] for r in _vs(cluster, namespace, "reviews")["spec"]["http"]]
    assert weights == [[101, 20], [101, 20]]


@pytest.mark.parametrize("module,args", [
    ("traffic_shift", {"host": "reviews", "weights": RELATIVE}),
    ("traffic_shift", {"host": "reviews", "weights": {"v1": 50, "v3": 50}, "relative_weights": True}),
    ("http_route", {"host": "reviews", "name": "beta", "headers": {"x": "1"},
                    "destinations": [{"subset": "v1", "weight": 101}, {"subset": "v3", "weight": 20}]}),
    ("virtual_service", {"name": "reviews", "hosts": ["reviews"], "http": [{"route": [
        {"destination": {"host": "reviews", "subset": "v1"}, "weight": 101},
        {"destination": {"host": "reviews", "subset": "v3"}, "weight": 20}]}]}),
    ("mesh_routing", {"services": [{"host": "reviews", "weights": RELATIVE}]}),
    ("mesh_routing", {"services": [{"host": "reviews", "weights": {"v1": 50, "v3": 50}, "relative_weights": True}]}),
])
def test_istio_before_1_15_gets_no_relative_weights_from_any_module(old_cluster, module, args):
    namespace = old_cluster.new_namespace("w")
    _subsets(old_cluster, namespace, "reviews")
    before = old_cluster.versions(namespace)
    res = _run(old_cluster, module, dict(args, namespace=namespace))
    assert res.get("failed"), res
    assert "1.15" in res["msg"], res["msg"]
    assert old_cluster.versions(namespace) == before


# 5. Cookies as browsers send them -------------------------------------------------------------------------------

@pytest.mark.parametrize("user_match,regex", [("cookie", "^(.*?; *)?(user=jason)(;.*)?$"),
                                              ("cookie-0.8", "^(.*?;)?(user=jason)(;.*)?$")])
def test_cookie_match_is_written_for_browsers_and_08_only_on_request(cluster, namespace, user_match, regex):
    _subsets(cluster, namespace, "reviews")
    res = _run(cluster, "http_route", {"host": "reviews", "namespace": namespace, "name": "user-override",
                                       "user": "jason", "user_match": user_match, "subset": "v2"})
    assert not res.get("failed"), res.get("msg")
    match = _vs(cluster, namespace, "reviews")["spec"]["http"][0]["match"]
    assert match == [{"headers": {"cookie": {"regex": regex}}}]


# 6. Errors point at the cause -----------------------------------------------------------------------------------

@pytest.mark.parametrize("module,args", [
    ("http_route", {"host": "reviews", "name": "user-override", "user": "jason", "subset": "v2"}),
    ("fault_injection", {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "7s"}}),
    ("traffic_shift", {"host": "reviews", "weights": {"v1": 100}}),
    ("virtual_service", {"name": "reviews", "hosts": ["reviews"],
                         "http": [{"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]}),
    ("mesh_routing", {"services": [{"host": "reviews", "weights": {"v1": 100},
                                    "routes": [{"name": "user-override", "user": "jason", "subset": "v2"}]}]}),
])
def test_a_missing_namespace_is_reported_as_such(cluster, module, args):
    res = _run(cluster, module, dict(args, namespace="no-such-ns-c0mp"))
    assert res.get("failed")
    assert res["msg"].startswith("namespace: the namespace does not exist"), res["msg"]
    assert "subset" not in res["msg"].split("(got")[0]


def test_route_problems_name_the_route_by_its_index(cluster, namespace):
    _subsets(cluster, namespace, "reviews")
    _run(cluster, "traffic_shift", {"host": "reviews", "namespace": namespace, "weights": {"v1": 100}})
    _run(cluster, "http_route", {"host": "reviews", "namespace": namespace, "name": "a", "headers": {"x": "a"},
                                 "subset": "v2"})
    version = _vs(cluster, namespace, "reviews")["metadata"]["resourceVersion"]
    res = _run(cluster, "http_route", {"host": "reviews", "namespace": namespace, "name": "b", "headers": {"x": "b"},
                                       "subset": "v2", "fault": {"delay": {"fixed_delay": "0s"}}})
    assert res.get("failed")
    assert [p["field"] for p in res["problems"]] == ["spec.http[1].fault.delay.fixedDelay"], res["problems"]
    assert _vs(cluster, namespace, "reviews")["metadata"]["resourceVersion"] == version


# 7. Variables that say what they do -----------------------------------------------------------------------------

def test_user_v2_sends_everyone_else_where_one_variable_says(cluster):
    namespace = cluster.new_namespace("others")
    result = _play("user-v2", namespace, cluster.kubeconfig, user_v2_others_subset="v3")
    assert not result.failed, result.proc.stdout[-3000:]
    reviews = _vs(cluster, namespace, "reviews")["spec"]["http"]
    assert [r["route"][0]["destination"]["subset"] for r in reviews] == ["v2", "v3"]
    for other in ("productpage", "ratings", "details"):
        assert _vs(cluster, namespace, other)["spec"]["http"][0]["route"][0]["destination"]["subset"] == "v1"
    assert _play("user-v2", namespace, cluster.kubeconfig, user_v2_others_subset="v3").changed == 0


# 2. The all-users fault through the roles, and its expiry ------------------------------------------------------

FAULTS = {"fault-delay": {"delay": {"fixedDelay": "7s", "percentage": {"value": 100}}},
          "fault-abort": {"abort": {"httpStatus": 500, "percentage": {"value": 100}}}}


def _findings(cluster, namespace):
    analysis = _run(cluster, "mesh_analyze", {"namespace": namespace, "fail_on": "never"})
    return [(f["code"], f["object"], f["field"]) for f in analysis["findings"] if f["severity"] != "info"]


@pytest.mark.parametrize("scenario", ["fault-delay", "fault-abort"])
def test_an_all_users_fault_through_the_role_is_on_the_default_route_and_reset_restores_it_exactly(cluster,
                                                                                                   scenario):
    namespace = cluster.new_namespace("allusers")
    assert not _play("all-v1", namespace, cluster.kubeconfig).failed
    before = _vs(cluster, namespace, "ratings")["spec"]
    assert [r.get("match") for r in before["http"]] == [None]
    variables = {scenario.replace("-", "_") + "_all_users": True}
    result = _play(scenario, namespace, cluster.kubeconfig, **variables)
    assert not result.failed, result.proc.stdout[-3000:]
    live = _vs(cluster, namespace, "ratings")
    # One route, the default one, with the fault: no catch-all fault route above it.
    assert live["spec"]["http"] == [dict(before["http"][0], fault=FAULTS[scenario])]
    assert live["metadata"]["annotations"][DEFAULT_ROUTE_FAULT] == "fault-injection"
    assert _findings(cluster, namespace) == []
    assert _play(scenario, namespace, cluster.kubeconfig, **variables).changed == 0

    assert not _play("reset", namespace, cluster.kubeconfig).failed
    after = _vs(cluster, namespace, "ratings")
    assert after["spec"] == before
    assert DEFAULT_ROUTE_FAULT not in (after["metadata"].get("annotations") or {})
    assert _findings(cluster, namespace) == []


def test_fault_expiry_takes_an_unscoped_fault_off_the_default_route_and_restores_it_exactly(cluster, namespace):
    _subsets(cluster, namespace)
    assert not _run(cluster, "traffic_shift", {"host": "ratings", "namespace": namespace,
                                               "weights": {"v1": 100}}).get("failed")
    before = _vs(cluster, namespace, "ratings")
    res = _run(cluster, "fault_injection", {"host": "ratings", "namespace": namespace, "allow_unscoped_fault": True,
                                            "delay": {"fixed_delay": "7s"}, "expires_in": "1h"})
    assert not res.get("failed"), res.get("msg")
    assert _vs(cluster, namespace, "ratings")["spec"]["http"] == [dict(before["spec"]["http"][0], fault=DELAY)]
    # Not yet expired: nothing happens.
    pending = _run(cluster, "fault_expiry", {"namespace": namespace})
    assert not pending["changed"] and [e["route"] for e in pending["pending"]] == ["fault-injection"]
    cluster.custom.patch_namespaced_custom_object("networking.istio.io", cluster.version, namespace,
                                                  "virtualservices", "ratings", {"metadata": {"annotations": {
                                                      EXPIRES + "fault-injection": "2020-01-01T00:00:00Z"}}})
    res = _run(cluster, "fault_expiry", {"namespace": namespace}, check=True)
    assert res["changed"] and _vs(cluster, namespace, "ratings")["spec"]["http"][0]["fault"] == DELAY, "check wrote"
    res = _run(cluster, "fault_expiry", {"namespace": namespace})
    assert res["changed"] and [e["route"] for e in res["expired"]] == ["fault-injection"], res
    after = _vs(cluster, namespace, "ratings")
    assert after["spec"] == before["spec"]
    annotations = after["metadata"].get("annotations") or {}
    assert DEFAULT_ROUTE_FAULT not in annotations
    assert not [k for k in annotations if k.startswith(EXPIRES)]
    again = _run(cluster, "fault_expiry", {"namespace": namespace})
    assert not again["changed"] and not again["expired"] and not again["stale"]


# Issue 11: what Istio only warns about is a task warning, once, naming the field; the write goes through ---------

SAME_MATCH = [{"headers": {"x-team": {"exact": "a"}}}]


@pytest.mark.parametrize("module,args", [
    ("http_route", {"host": "reviews", "name": "ours", "headers": {"x-ours": "1"}, "subset": "v2"}),
    ("fault_injection", {"host": "reviews", "user": "jason", "abort": {"http_status": 503}}),
    ("traffic_shift", {"host": "reviews", "weights": {"v1": 50, "v3": 50}}),
    ("mesh_routing", {"services": [{"host": "reviews", "weights": {"v1": 50, "v3": 50}}]}),
    ("virtual_service", {"name": "reviews", "labels": {"team": "a"}}),
])
def test_what_istio_warns_about_is_one_task_warning_naming_the_field_and_is_written(cluster, namespace, module,
                                                                                    args):
    _subsets(cluster, namespace, "reviews")
    cluster.create({"kind": "VirtualService", "metadata": {"name": "reviews", "namespace": namespace}, "spec": {
        "hosts": ["reviews"], "http": [
            {"name": "team", "match": SAME_MATCH, "route": [{"destination": {"host": "reviews", "subset": "v3"}}]},
            {"name": "team-again", "match": SAME_MATCH,
             "route": [{"destination": {"host": "reviews", "subset": "v2"}}]},
            {"name": "default", "route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]}})
    version = _vs(cluster, namespace, "reviews")["metadata"]["resourceVersion"]
    res = _run(cluster, module, dict(args, namespace=namespace))
    assert not res.get("failed"), res.get("msg")
    istio = [w for w in res.get("warnings") or [] if w.startswith("Istio warns: ")]
    # Istio's own verdict on this object (tests/oracle/test_warnings.py): the second rule's match is unused and the
    # rule is never reached.
    assert len([w for w in istio if "spec.http[1].match[0]: is never used" in w]) == 1, istio
    assert len([w for w in istio if "spec.http[1]: can never be reached" in w]) == 1, istio
    assert _vs(cluster, namespace, "reviews")["metadata"]["resourceVersion"] != version
