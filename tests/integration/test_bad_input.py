"""Bad input fails with a message naming the field and the value, and nothing is written."""

import pytest

from ansible_run import run_module

M = "ack.servicemesh."

CASES = [
    ("traffic_shift", {"host": "reviews", "weights": {"v1": -5, "v3": 105}}, ["weights.v1", "-5"]),
    ("traffic_shift", {"host": "reviews", "weights": {"v1": 50, "v3": 60}}, ["weights", "sum to 110"]),
    ("traffic_shift", {"host": "reviews", "weights": {"v1": 50, "v9": 50}}, ["subset", "'v9'"]),
    ("fault_injection", {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "7"}}, ["fixedDelay", "'7'"]),
    ("fault_injection", {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "0s"}}, ["fixedDelay", "'0s'"]),
    ("fault_injection", {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "1.5ms"}},
     ["fixedDelay", "'1.5ms'"]),
    ("fault_injection", {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "7s", "percentage": 150}},
     ["percentage", "150"]),
    ("fault_injection", {"host": "ratings", "user": "jason", "abort": {"http_status": 99}}, ["httpStatus", "99"]),
    ("fault_injection", {"host": "ratings", "user": "jason", "abort": {"http_status": 700}}, ["httpStatus", "700"]),
    ("http_route", {"host": "reviews", "name": "r", "headers": {"end-user": {"regex": "(?=jason)"}}, "subset": "v2"},
     ["regex", "'(?=jason)'"]),
    ("http_route", {"host": "reviews", "name": "r", "headers": {"end user": "jason"}, "subset": "v2"},
     ["end user"]),
    ("http_route", {"host": "reviews", "name": "r", "headers": {"x": "y"}, "subset": "v2", "after": "default"},
     ["after", "'default'"]),
    ("destination_rule", {"name": "reviews", "host": "reviews", "subsets": {"V1!": {"version": "v1"}}},
     ["subsets[0].name", "'V1!'"]),
    ("destination_rule", {"name": "reviews", "host": "reviews", "subsets": [{"name": "v1", "labels": "version=v1"}]},
     ["labels", "'version=v1'"]),
    ("destination_rule", {"name": "reviews", "host": "", "subsets": {"v1": {"version": "v1"}}}, ["host", "''"]),
    ("destination_rule", {"name": "reviews", "host": "reviews", "api_version": "v1beta1", "kubeconfig": "/nope"},
     ["kubeconfig", "'/nope'"]),
]


@pytest.fixture(scope="module")
def bookinfo(cluster):
    namespace = cluster.new_namespace("bad")
    conn = cluster.connection()
    for host, names in (("reviews", ["v1", "v2", "v3"]), ("ratings", ["v1"])):
        run_module(M + "destination_rule", {"name": host, "namespace": namespace, "host": host,
                                            "subsets": dict((n, {"version": n}) for n in names)}, connection=conn)
        run_module(M + "traffic_shift", {"host": host, "namespace": namespace, "weights": {"v1": 100}},
                   connection=conn)
    return namespace


@pytest.mark.parametrize("module,args,words", CASES, ids=["%s-%d" % (c[0], i) for i, c in enumerate(CASES)])
def test_bad_input_names_field_and_value_and_writes_nothing(cluster, bookinfo, module, args, words):
    before = cluster.versions(bookinfo)
    assert before
    res = run_module(M + module, dict(args, namespace=bookinfo), connection=cluster.connection())[0]
    assert res.get("failed"), res
    for word in words:
        assert word in res["msg"], res["msg"]
    assert cluster.versions(bookinfo) == before


def test_api_version_the_cluster_does_not_serve(old_cluster):
    namespace = old_cluster.new_namespace("bad")
    res = run_module(M + "destination_rule", {"name": "reviews", "namespace": namespace, "host": "reviews",
                                              "api_version": "v1"}, connection=old_cluster.connection())[0]
    assert res.get("failed")
    assert "api_version" in res["msg"] and "'v1'" in res["msg"] and "v1alpha3" in res["msg"]
    assert old_cluster.versions(namespace) == {}
