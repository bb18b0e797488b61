from ansible_run import run_module
from lifecycle import check_apply_reapply


def _subsets(cluster, namespace, host, names):
    run_module("ack.servicemesh.destination_rule", {
        "name": host, "namespace": namespace, "host": host,
        "subsets": dict((n, {"version": n}) for n in names)}, connection=cluster.connection())


def test_whole_object_lifecycle(cluster, namespace):
    _subsets(cluster, namespace, "reviews", ["v1", "v2"])
    http = [{"match": [{"headers": {"end-user": {"exact": "jason"}}}],
             "route": [{"destination": {"host": "reviews", "subset": "v2"}}]},
            {"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]
    live = check_apply_reapply(cluster, namespace, "ack.servicemesh.virtual_service",
                               {"name": "reviews", "hosts": ["reviews"], "http": http},
                               "VirtualService", "reviews")
    assert live["spec"] == {"hosts": ["reviews"], "http": http}


def test_legacy_abort_percent_is_written_as_percentage(cluster, namespace):
    _subsets(cluster, namespace, "ratings", ["v1"])
    http = [{"match": [{"headers": {"end-user": {"exact": "jason"}}}],
             "fault": {"abort": {"percent": 100, "httpStatus": 500}},
             "route": [{"destination": {"host": "ratings", "subset": "v1"}}]},
            {"route": [{"destination": {"host": "ratings", "subset": "v1"}}]}]
    res = run_module("ack.servicemesh.virtual_service", {"name": "ratings", "namespace": namespace,
                                                         "hosts": ["ratings"], "http": http},
                     connection=cluster.connection())[0]
    assert res["changed"] is True
    abort = cluster.get("VirtualService", namespace, "ratings")["spec"]["http"][0]["fault"]["abort"]
    assert abort == {"httpStatus": 500, "percentage": {"value": 100}}


def test_unknown_subset_is_refused_and_nothing_written(cluster, namespace):
    _subsets(cluster, namespace, "reviews", ["v1"])
    res = run_module("ack.servicemesh.virtual_service", {
        "name": "reviews", "namespace": namespace, "hosts": ["reviews"],
        "http": [{"route": [{"destination": {"host": "reviews", "subset": "v9"}}]}]},
        connection=cluster.connection())[0]
    assert res.get("failed")
    assert "v9" in res["msg"] and "subset" in res["msg"]
    assert cluster.get("VirtualService", namespace, "reviews") is None
