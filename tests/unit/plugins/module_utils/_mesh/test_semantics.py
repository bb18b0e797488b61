"""semantics: the one definition of hosts, catch-all routes, destinations and durations."""

import pytest

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import analyze, routes, validate
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.semantics import (
    canonical_host, destinations, duration_ms, is_catch_all, most_specific, parse_duration_ns)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.simulate import duration_ms as simulate_ms


@pytest.mark.parametrize("route, catch_all", [
    ({}, True), ({"match": []}, True), ({"match": [{}]}, True), ({"match": [{"name": "all"}]}, True),
    ({"match": [{"uri": {"prefix": "/"}}]}, True), ({"match": [{"uri": {"regex": ".*"}}]}, True),
    ({"match": [{"uri": {"prefix": "/"}, "ignoreUriCase": True}]}, True),
    ({"match": [{"uri": {"prefix": "/a"}}, {}]}, True),
    ({"match": [{"uri": {"prefix": "/a"}}]}, False), ({"match": [{"headers": {"end-user": {"exact": "j"}}}]}, False),
    ({"match": [{"uri": {"prefix": "/"}, "port": 80}]}, False),
])
def test_catch_all_is_one_definition_for_routes_validation_and_analysis(route, catch_all):
    assert is_catch_all(route) is catch_all
    assert routes.is_catch_all(route) is catch_all  # the very same function
    later = {"match": [{"uri": {"exact": "/x"}}], "route": [{"destination": {"host": "r"}}]}
    first = dict(route, route=[{"destination": {"host": "r"}}])
    problems = validate.validate_virtual_service({"hosts": ["r"], "http": [first, later]})
    assert ("spec.http[1]" in [warning.field for warning in problems.warnings]) is catch_all
    findings = analyze.analyze([{"metadata": {"name": "r"}, "spec": {"hosts": ["r"], "http": [first, later]}}], [])
    assert any(f["code"] == "IST0130" for f in findings) is catch_all


def test_the_wildcard_rule_does_not_lend_subsets_to_a_host_with_its_own_rule():
    # The disagreement the issue names: validation passed what analysis reported as IST0101.
    rules = [{"metadata": {"name": "exact"}, "spec": {"host": "reviews", "subsets": [{"name": "v1"}]}},
             {"metadata": {"name": "wild"}, "spec": {"host": "*.default.svc.cluster.local",
                                                     "subsets": [{"name": "v2"}]}}]
    vs_spec = {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews", "subset": "v2"}}]}]}
    problems = validate.validate_cross_refs(vs_spec, [rule["spec"] for rule in rules], namespace="default")
    assert [problem.field for problem in problems.items] == ["spec.http[0].route[0].destination.subset"]
    findings = analyze.analyze([{"metadata": {"name": "reviews"}, "spec": vs_spec}], rules, namespace="default")
    assert [f["code"] for f in findings if f["code"] == "IST0101"] == ["IST0101"]


def test_most_specific_prefers_exact_then_longer_wildcards():
    candidates = [("*", "star"), ("*.svc.cluster.local", "svc"), ("*.ns.svc.cluster.local", "ns"),
                  ("reviews.ns.svc.cluster.local", "exact")]
    assert most_specific("reviews.ns.svc.cluster.local", candidates) == ["exact"]
    assert most_specific("ratings.ns.svc.cluster.local", candidates) == ["ns"]
    assert most_specific("ratings.other.svc.cluster.local", candidates) == ["svc"]
    assert most_specific("example.com", candidates) == ["star"]
    assert most_specific("example.com", candidates[1:]) == []


@pytest.mark.parametrize("host, namespace, canonical", [
    ("reviews", "prod", "reviews.prod.svc.cluster.local"), ("reviews.prod", "prod", "reviews.prod.svc.cluster.local"),
    ("reviews.prod.svc", None, "reviews.prod.svc.cluster.local"), ("Reviews.Example.com.", None, "reviews.example.com"),
    ("*.prod.svc.cluster.local", "prod", "*.prod.svc.cluster.local"), ("reviews", None, "reviews"),
])
def test_canonical_host(host, namespace, canonical):
    assert canonical_host(host, namespace) == canonical


def test_destinations_walks_routes_and_mirrors():
    route = {"route": [{"destination": {"host": "a"}}, {"weight": 1}], "mirror": {"host": "m"},
             "mirrors": [{"destination": {"host": "n"}}, "junk"]}
    assert [field for field, _dest in destinations(route, "spec.http[0]")] == [
        "spec.http[0].route[0].destination", "spec.http[0].mirror", "spec.http[0].mirrors[0].destination"]


@pytest.mark.parametrize("text, nanoseconds", [
    ("1.5ms", 1500000), ("1h2m3.5s", 3723500000000), ("0", 0), ("-1s", -10 ** 9), (".5us", 500),
    (u"1\u00b5s", 1000), ("1.0000000001ms", 1000000),  # Go truncates below a nanosecond
])
def test_durations_parse_like_go(text, nanoseconds):
    assert parse_duration_ns(text) == nanoseconds


def test_one_duration_parser_for_validation_and_simulation():
    # The disagreement the issue names: validation refused 1.5ms that simulation accepted. Both parse it now;
    # validation still refuses it as a value, because Istio only takes whole milliseconds.
    assert duration_ms("1.5ms") == simulate_ms("1.5ms", "timeout") == 1.5
    problems = validate.Problems()
    validate.validate_duration("1.5ms", "timeout", problems)
    assert [str(problem) for problem in problems.items] == [
        "timeout: must be a whole number of milliseconds (Istio's precision) (got '1.5ms')"]


@pytest.mark.parametrize("text", ["", "1", "1x", "1 s", ".s", "9223372037s", None, 5])
def test_bad_durations_raise_value_error(text):
    with pytest.raises(ValueError):
        parse_duration_ns(text)
