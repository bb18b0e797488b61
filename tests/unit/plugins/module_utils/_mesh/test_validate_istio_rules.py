"""Rules of Istio that validate.py gained for the differential test: named fields, values, warnings."""

import pytest

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import (
    validate_destination_rule, validate_virtual_service)


def messages(problems):
    return [str(problem) for problem in problems.items]


def route(**extra):
    return dict({"route": [{"destination": {"host": "reviews"}}]}, **extra)


def test_weight_message_names_the_path_and_the_value():
    spec = {"hosts": ["reviews"], "http": [route(), route(route=[{"destination": {"host": "reviews"}, "weight": -5}])]}
    assert "spec.http[1].route[0].weight: must be >= 0 (got -5)" in messages(validate_virtual_service(spec))


def test_missing_fields_are_required_not_null_mappings():
    assert messages(validate_destination_rule({"subsets": [{"labels": {"version": "v1"}}]})) == [
        "spec.host: is required", "spec.subsets[0].name: is required"]
    spec = {"hosts": ["r"], "http": [route(mirrors=[{"percentage": {"value": 5}}])]}
    assert messages(validate_virtual_service(spec)) == ["spec.http[0].mirrors[0].destination: is required"]


@pytest.mark.parametrize("policy, problem", [
    ({}, "spec.trafficPolicy: must set at least one of"),
    ({"connectionPool": {}}, "spec.trafficPolicy.connectionPool: must set http and/or tcp"),
    ({"connectionPool": {"http": {"maxRetries": -1}}}, "spec.trafficPolicy.connectionPool.http.maxRetries: must be >= 0"),
    ({"outlierDetection": {"maxEjectionPercent": 101}}, "spec.trafficPolicy.outlierDetection.maxEjectionPercent"),
    ({"loadBalancer": {"consistentHash": {"maglev": {"tableSize": 65536}}}},
     "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: must be a prime number"),
    ({"tls": {"mode": "MUTUAL"}}, "spec.trafficPolicy.tls.clientCertificate: is required for MUTUAL TLS"),
    ({"portLevelSettings": [{"tls": {"mode": "SIMPLE"}}]}, "spec.trafficPolicy.portLevelSettings[0].port: is required"),
    ({"tunnel": {"targetHost": "bad host", "targetPort": 443}}, "spec.trafficPolicy.tunnel.targetHost"),
    ({"loadBalancer": {"localityLbSetting": {"distribute": [{"from": "a/*", "to": {"b": 60}}]}}},
     "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: weights must add up to 100 (got 60)"),
])
def test_traffic_policy_is_validated_in_full(policy, problem):
    found = messages(validate_destination_rule({"host": "reviews", "trafficPolicy": policy}))
    assert any(message.startswith(problem) for message in found), found


def test_subset_traffic_policy_is_validated_too():
    spec = {"host": "reviews", "subsets": [{"name": "v1", "trafficPolicy": {"connectionPool": {}}}]}
    assert messages(validate_destination_rule(spec)) == [
        "spec.subsets[0].trafficPolicy.connectionPool: must set http and/or tcp (got {})"]


@pytest.mark.parametrize("http, field", [
    ([route(headers={"request": {"set": {"x-a": "abc%123"}}})], "spec.http[0].headers.request.set[x-a]"),
    ([route(headers={"response": {"set": {"host": "a"}}})], "spec.http[0].headers.response.set[host]"),
    ([route(corsPolicy={"allowMethods": ["PURGE"]})], "spec.http[0].corsPolicy.allowMethods[0]"),
    ([route(mirror={"host": "a"}, mirrors=[{"destination": {"host": "b"}}])], "spec.http[0].mirror"),
    ([{"directResponse": {"status": 200, "body": {"string": "x" * (1024 * 1024 + 1)}}}],
     "spec.http[0].directResponse.body"),
])
def test_what_istio_refuses_in_http_routes(http, field):
    assert field in [problem.field for problem in validate_virtual_service({"hosts": ["r"], "http": http}).items]


def test_duplicate_hosts_and_export_to_are_refused():
    spec = {"hosts": ["a.example.com", "*.example.com"], "http": [route()], "exportTo": [".", "ns1", "*"]}
    fields = [problem.field for problem in validate_virtual_service(spec, namespace="ns1").items]
    assert fields == ["spec.hosts[1]", "spec.exportTo[1]", "spec.exportTo"]


def test_istio_warnings_are_warnings():
    spec = {"hosts": ["r"], "gateways": ["gw.ns1"], "http": [route(mirrorPercent=5)]}
    problems = validate_virtual_service(spec)
    assert messages(problems) == []
    assert [warning.field for warning in problems.warnings] == ["spec.gateways[0]", "spec.http[0].mirrorPercent"]
