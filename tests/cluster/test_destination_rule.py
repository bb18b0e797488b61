from ansible_run import run_module
from lifecycle import check_apply_reapply


def test_creates_subsets_then_changes_nothing(cluster, namespace):
    live = check_apply_reapply(cluster, namespace, "ack.servicemesh.destination_rule", {
        "name": "reviews", "host": "reviews",
        "subsets": {"v1": {"version": "v1"}, "v2": {"version": "v2"}, "v3": {"version": "v3"}},
    }, "DestinationRule", "reviews")
    assert live["spec"] == {"host": "reviews", "subsets": [
        {"name": "v1", "labels": {"version": "v1"}},
        {"name": "v2", "labels": {"version": "v2"}},
        {"name": "v3", "labels": {"version": "v3"}}]}


def test_list_form_with_traffic_policy(cluster, namespace):
    live = check_apply_reapply(cluster, namespace, "ack.servicemesh.destination_rule", {
        "name": "ratings", "host": "ratings",
        "subsets": [{"name": "v1", "labels": {"version": "v1"},
                     "traffic_policy": {"connectionPool": {"tcp": {"maxConnections": 10}}}}],
        "traffic_policy": {"loadBalancer": {"simple": "ROUND_ROBIN"}},
    }, "DestinationRule", "ratings")
    assert live["spec"]["subsets"][0]["trafficPolicy"] == {"connectionPool": {"tcp": {"maxConnections": 10}}}
    assert live["spec"]["trafficPolicy"] == {"loadBalancer": {"simple": "ROUND_ROBIN"}}


def test_keeps_labels_and_fields_it_does_not_own(cluster, namespace):
    cluster.create({"kind": "DestinationRule", "metadata": {"name": "details", "namespace": namespace,
                                                            "labels": {"team": "books"}},
                    "spec": {"host": "details", "subsets": [{"name": "v1", "labels": {"version": "v1"}}],
                             "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}}}})
    res = run_module("ack.servicemesh.destination_rule", {
        "name": "details", "namespace": namespace, "host": "details",
        "subsets": {"v1": {"version": "v1"}, "v2": {"version": "v2"}}, "labels": {"owner": "mesh"}},
        connection=cluster.connection())[0]
    assert res["changed"] is True
    live = cluster.get("DestinationRule", namespace, "details")
    assert live["metadata"]["labels"] == {"team": "books", "owner": "mesh"}
    assert live["spec"]["trafficPolicy"] == {"loadBalancer": {"simple": "LEAST_REQUEST"}}
    assert [s["name"] for s in live["spec"]["subsets"]] == ["v1", "v2"]


def test_absent_deletes_in_check_mode_only_virtually(cluster, namespace):
    conn = cluster.connection()
    run_module("ack.servicemesh.destination_rule", {"name": "gone", "namespace": namespace, "host": "gone",
                                                    "subsets": {"v1": {"version": "v1"}}}, connection=conn)
    args = {"name": "gone", "namespace": namespace, "state": "absent"}
    res = run_module("ack.servicemesh.destination_rule", args, check=True, connection=conn)[0]
    assert res["changed"] is True
    assert cluster.get("DestinationRule", namespace, "gone") is not None
    res = run_module("ack.servicemesh.destination_rule", args, connection=conn)[0]
    assert res["changed"] is True and res["action"] == "deleted"
    assert cluster.get("DestinationRule", namespace, "gone") is None
    res = run_module("ack.servicemesh.destination_rule", args, connection=conn)[0]
    assert res["changed"] is False
