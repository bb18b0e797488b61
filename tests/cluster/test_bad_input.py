"""Bad input fails with a message naming the field and the value, and nothing is written.

Each case runs a module against a namespace holding BookInfo's reviews and ratings and checks that the message
names the field (and the value given), and that no object's resourceVersion moved.
"""

import re

import pytest

from ansible_run import run_module

M = "ack.servicemesh."

# One form for a problem's field: spec.<Istio path> or a module option's path; routes and services indexed by number
# (a route is never named by its name, an object never prefixed to the path).
ONE_FORM = re.compile(r"^(spec|[a-z][a-z_]*)([.\[]|$)")
LISTS_BY_NAME = re.compile(r"^spec\.(http|tcp|tls)\[(?!\d+\])|^services\[(?!\d+\])|^services\[\d+\]\.routes\[(?!\d+\])")


def one_form(field):
    return field is None or (bool(ONE_FORM.match(field)) and not LISTS_BY_NAME.search(field))


CASES = [
    ("traffic_shift", {"host": "reviews", "weights": {"v1": -5, "v3": 105}}, ["weights.v1", "-5"]),
    ("traffic_shift", {"host": "reviews", "weights": {"v1": 50, "v3": -10}}, ["weights.v3", "-10"]),
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
    # fault_injection: guardrails, expiry, Istio's rules
    ("fault_injection", {"host": "ratings", "abort": {"http_status": 500}}, ["user", "allow_unscoped_fault", "null"]),
    ("fault_injection", {"host": "ratings", "user": "jason", "abort": {"http_status": 500, "percentage": 80},
                         "percentage_threshold": 50}, ["abort.percentage", "80", "percentage_threshold (50"]),
    ("fault_injection", {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "7s"},
                         "percentage_threshold": 150}, ["percentage_threshold", "150"]),
    ("fault_injection", {"host": "ratings", "user": "jason"}, ["delay", "give delay and/or abort"]),
    ("fault_injection", {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "7s"}, "expires_in": "soon"},
     ["expires_in", "'soon'"]),
    ("fault_injection", {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "7s"}, "expires_in": "-5m"},
     ["expires_in", "'-5m'", "at least 1s"]),
    ("fault_injection", {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "7s"},
                         "expires_at": "2020-01-01T00:00:00Z"}, ["expires_at", "'2020-01-01T00:00:00Z'", "future"]),
    ("fault_injection", {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "7s"},
                         "expires_at": "tomorrow"}, ["expires_at", "'tomorrow'", "RFC 3339"]),
    ("fault_injection", {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "7s"}, "expires_in": "1h",
                         "name": "f" * 60}, ["name", "'%s'" % ("f" * 60)]),
    ("fault_injection", {"host": "ratings", "user": "jason", "abort": {"grpc_status": "NOPE"}},
     ["grpcStatus", "'NOPE'"]),
    ("fault_injection", {"host": "ratings", "user": "jason",
                         "delay": {"fixed_delay": "7s", "percent": 10, "percentage": 10}},
     ["fault.delay.percent", "10"]),
    ("fault_injection", {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "7s"}, "subset": "v7"},
     ["subset", "'v7'"]),
    # http_route
    ("http_route", {"host": "reviews", "name": "r", "uri": {"glob": "/x"}, "subset": "v2"}, ["uri", "'glob'"]),
    ("http_route", {"host": "reviews", "name": "r", "headers": {"x": "y"},
                    "destinations": [{"subset": "v1", "weight": -5}, {"subset": "v2", "weight": 105}]},
     ["weight", "-5"]),
    ("http_route", {"host": "reviews", "name": "r", "headers": {"x": "y"}, "subset": "v2", "timeout": "soon"},
     ["timeout", "'soon'"]),
    ("http_route", {"host": "reviews", "name": "r", "headers": {"x": "y"}, "subset": "v2",
                    "retries": {"attempts": -1}}, ["attempts", "-1"]),
    ("http_route", {"host": "reviews", "name": "r", "headers": {"x": "y"}, "subset": "v2",
                    "retries": {"attempts": 2, "retry_on": "sometimes"}}, ["retryOn", "'sometimes'"]),
    ("http_route", {"host": "reviews", "name": "r", "headers": {"x": "y"}, "subset": "v2", "before": "nope"},
     ["before", "'nope'"]),
    ("http_route", {"host": "reviews", "name": "r", "headers": {"x": "y"}, "subset": "v9"}, ["subset", "'v9'"]),
    ("http_route", {"host": "reviews", "name": "r", "match": [{}], "subset": "v2"}, ["match[0]", "{}"]),
    ("http_route", {"host": "reviews", "name": "r", "headers": {"end-user": {"exact": "a", "prefix": "b"}},
                    "subset": "v2"}, ["headers.end-user", "'prefix'"]),
    # traffic_shift
    ("traffic_shift", {"host": "reviews", "weights": {}}, ["weights", "{}"]),
    ("traffic_shift", {"host": "reviews", "weights": {"v1": "abc"}}, ["weights.v1", "'abc'"]),
    ("traffic_shift", {"host": "reviews", "weights": {"v1": 0, "v3": 0}}, ["weights", "above 0"]),
    ("traffic_shift", {"host": "reviews", "weights": {"v1": 100}, "port": 70000}, ["port", "70000"]),
    # Istio takes upper case in subset names; no DestinationRule defines this one.
    ("traffic_shift", {"host": "reviews", "weights": {"V1": 100}}, ["subset", "'V1'"]),
    # destination_rule
    ("destination_rule", {"name": "reviews", "host": "reviews", "subsets": [{"name": "v1", "lables": {}}]},
     ["subsets[0]", "lables"]),
    ("destination_rule", {"name": "reviews", "host": "reviews", "subsets": {"v1": {"ver sion": "v1"}}},
     ["subsets[0].labels", "'ver sion'"]),
    ("destination_rule", {"name": "reviews", "host": "reviews", "subsets": {"v1": {"version": "v1"}},
                          "export_to": ["bad ns!"]}, ["exportTo", "'bad ns!'"]),
    ("destination_rule", {"name": "reviews", "host": "reviews",
                          "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                      {"name": "v1", "labels": {"version": "v2"}}]}, ["subsets[1].name", "'v1'"]),
    # virtual_service
    ("virtual_service", {"name": "reviews", "hosts": ["reviews"], "http": [
        {"route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": -1}]}]}, ["weight", "-1"]),
    ("virtual_service", {"name": "reviews", "hosts": ["reviews"], "http": [
        {"fualt": {}, "route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]}, ["fualt"]),
    ("virtual_service", {"name": "reviews", "hosts": ["bad host!"]}, ["hosts[0]", "'bad host!'"]),
    ("virtual_service", {"name": "nope", "restore": True}, ["name", "'nope'", "nothing to restore"]),
    ("virtual_service", {"name": "reviews", "restore": True, "state": "absent"}, ["state", "'absent'"]),
    ("virtual_service", {"name": "reviews", "restore": True, "hosts": ["reviews"]}, ["restore", "hosts"]),
    # mesh_routing
    # Relative weights (60/60) are valid where v1 is served (Istio 1.15 and later); a negative one never is.
    ("mesh_routing", {"services": [{"host": "reviews", "weights": {"v1": -1, "v2": 60}}]},
     ["services[0]", "weights.v1", "-1"]),
    ("mesh_routing", {"services": [{"host": "reviews", "routes": [{"name": "r", "user": "jason", "subset": "v9"}]}]},
     ["subset", "'v9'"]),
    ("mesh_routing", {"services": [{"host": "reviews"}, {"host": "reviews"}]}, ["services", "'reviews'"]),
    ("mesh_routing", {"services": [{"host": "ratings", "routes": [
        {"name": "f", "fault": {"abort": {"http_status": 500}}}]}]},
     ["services[0].routes[0].user", "allow_unscoped_fault"]),
    ("mesh_routing", {"services": [{"host": "reviews", "routes": [{"name": "r", "colour": "blue"}]}]},
     ["services[0].routes[0]", "colour"]),
    # Istio's rules name a route by the index it gets: above ratings' default route (spec.http[0]) ...
    ("fault_injection", {"host": "ratings", "user": "jason", "delay": {"fixed_delay": "0s"}},
     ["spec.http[0].fault.delay.fixedDelay: must be at least 1ms (got '0s')"]),
    ("fault_injection", {"host": "ratings", "allow_unscoped_fault": True, "delay": {"fixed_delay": "0s"}},
     ["spec.http[0].fault.delay.fixedDelay"]),
    ("mesh_routing", {"services": [{"host": "reviews", "routes": [
        {"name": "r", "user": "jason", "subset": "v2", "timeout": "0s"}]}]},
     ["services[0].routes[0] (VirtualService reviews): spec.http[0].timeout: must be at least 1ms"]),
    # fault_expiry
    ("fault_expiry", {"api_version": "v2"}, ["api_version", "v2"]),
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
    for problem in res.get("problems") or []:
        assert one_form(problem["field"]), problem
    assert cluster.versions(bookinfo) == before


def test_api_version_the_cluster_does_not_serve(old_cluster):
    namespace = old_cluster.new_namespace("bad")
    res = run_module(M + "destination_rule", {"name": "reviews", "namespace": namespace, "host": "reviews",
                                              "api_version": "v1"}, connection=old_cluster.connection())[0]
    assert res.get("failed")
    assert "api_version" in res["msg"] and "'v1'" in res["msg"] and "v1alpha3" in res["msg"]
    assert old_cluster.versions(namespace) == {}
