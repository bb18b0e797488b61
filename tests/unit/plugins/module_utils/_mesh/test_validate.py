import copy
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import validate
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problem, Problems
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.semantics import duration_ms
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import (
    GRPC_STATUS_NAMES,
    is_dns1123_label,
    validate_cross_refs,
    validate_destination_rule,
    validate_duration,
    validate_gateway_ref,
    validate_header_name,
    validate_host,
    validate_http_status,
    validate_labels,
    validate_percentage,
    validate_regex,
    validate_retry_on,
    validate_virtual_service,
)
from ansible_collections.ack.servicemesh.tests.reference import bookinfo


def load_bookinfo(release):
    """Every object of BookInfo's rules of one release (tests/reference/bookinfo.py), as (id, kind, spec)."""
    objects = []
    for path in bookinfo.names(release):
        for document in bookinfo.documents(path):
            name = "%s:%s/%s" % (os.path.basename(path), document["kind"], document["metadata"]["name"])
            objects.append((name, document["kind"], document["spec"]))
    return objects


def check(kind, spec, **kwargs):
    if kind == "VirtualService":
        return validate_virtual_service(spec, **kwargs)
    return validate_destination_rule(spec, **kwargs)


def messages(problems):
    return [str(problem) for problem in problems.items]


def find(problems, field):
    """The problems reported for exactly ``field``."""
    return [problem for problem in problems.items if problem.field == field]


def route_spec(**http):
    """A one-route VirtualService for reviews; keyword arguments are merged into the route."""
    route = {"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}
    route.update(http)
    return {"hosts": ["reviews"], "http": [route]}


def weighted(*weights):
    entries = []
    for number, weight in enumerate(weights):
        entry = {"destination": {"host": "reviews", "subset": "v%d" % (number + 1)}}
        if weight is not None:
            entry["weight"] = weight
        entries.append(entry)
    return route_spec(route=entries)


def delay(fixed_delay, percentage=100):
    return route_spec(fault={"delay": {"fixedDelay": fixed_delay, "percentage": {"value": percentage}}})


def abort(status, percentage=100):
    return route_spec(fault={"abort": {"httpStatus": status, "percentage": {"value": percentage}}})


def header_match(name, match):
    return route_spec(match=[{"headers": {name: match}}])


# A VirtualService that uses nearly every field the validators know, all valid.
KITCHEN_SINK = {
    "hosts": ["reviews", "reviews.prod.svc.cluster.local", "*.example.com", "10.0.0.1"],
    "gateways": ["mesh", "istio-system/public-gateway", "bookinfo-gateway"],
    "exportTo": [".", "prod"],
    "http": [
        {
            "name": "jason",
            "match": [
                {"name": "by-header", "headers": {"end-user": {"exact": "jason"}, "x-canary": {}},
                 "uri": {"prefix": "/api"}, "queryParams": {"debug": {"regex": "^(1|true)$"}},
                 "method": {"exact": "GET"}, "port": 9080, "sourceLabels": {"app": "productpage"},
                 "ignoreUriCase": True, "withoutHeaders": {"x-skip": {"exact": "1"}},
                 "sourceNamespace": "default", "gateways": ["mesh"]},
                {"headers": {"cookie": {"regex": "^(.*?;)?(user=jason)(;.*)?$"}}},
            ],
            "route": [
                {"destination": {"host": "reviews", "subset": "v2", "port": {"number": 9080}}, "weight": 75,
                 "headers": {"request": {"set": {"x-version": "v2"}}}},
                {"destination": {"host": "reviews", "subset": "v3"}, "weight": 25},
            ],
            "timeout": "6s",
            "retries": {"attempts": 1, "perTryTimeout": "3s", "retryOn": "5xx,connect-failure,503"},
            "fault": {"delay": {"fixedDelay": "7s", "percentage": {"value": 100.0}},
                      "abort": {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 0.5}}},
            "mirror": {"host": "reviews-shadow"},
            "mirrorPercentage": {"value": 10},
            "corsPolicy": {"allowOrigins": [{"exact": "https://example.com"}]},
            "headers": {"response": {"remove": ["x-debug"]}},
            "rewrite": {"uri": "/v2/api"},
        },
        {"match": [{"uri": {"exact": "/old"}}], "redirect": {"uri": "/new", "redirectCode": 301}},
        {"match": [{"uri": {"exact": "/health"}}], "directResponse": {"status": 200, "body": {"string": "ok"}}},
        {"route": [{"destination": {"host": "reviews", "subset": "v1"}}], "timeout": "1h2m3.5s"},
    ],
    "tcp": [{"route": [{"destination": {"host": "mysql", "port": {"number": 3306}}}]}],
}

KITCHEN_SINK_RULES = [
    {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                    {"name": "v2", "labels": {"version": "v2"}},
                                    {"name": "v3", "labels": {"version": "v3"}}]},
]


# ---------------------------------------------------------------------------
# The BookInfo samples


def test_current_bookinfo_samples_are_all_loaded():
    kinds = [kind for _name, kind, _spec in load_bookinfo("current")]
    assert kinds.count("DestinationRule") == 4
    assert kinds.count("VirtualService") == 8


@pytest.mark.parametrize("name", [name for name, _kind, _spec in load_bookinfo("current")])
def test_current_bookinfo_sample_validates_clean(name):
    objects = {entry[0]: entry for entry in load_bookinfo("current")}
    _name, kind, spec = objects[name]
    assert messages(check(kind, spec)) == []
    if kind == "VirtualService":
        # The samples predate Istio 1.15 too: their weights add up to 100.
        assert messages(check(kind, spec, legacy_weights=True)) == []


@pytest.mark.parametrize("name", [name for name, _kind, _spec in load_bookinfo("istio-0.8")])
def test_istio_08_sample_validates_clean_except_removed_abort_percent(name):
    objects = {entry[0]: entry for entry in load_bookinfo("istio-0.8")}
    _name, kind, spec = objects[name]
    problems = check(kind, spec)
    if name.startswith("route-rule-ratings-test-abort.yaml"):
        assert len(problems) == 1
        problem = problems.items[0]
        assert problem.field == "spec.http[0].fault.abort.percent"
        assert problem.value == 100
        assert "removed in Istio 1.5" in problem.message
        assert "never fire" in problem.message
        assert "percentage: {value: 100}" in problem.message
    else:
        assert messages(problems) == []


@pytest.mark.parametrize("release", ["current", "istio-0.8"])
def test_bookinfo_routes_only_use_defined_subsets(release):
    objects = load_bookinfo(release)
    rules = [spec for _name, kind, spec in objects if kind == "DestinationRule"]
    services = [spec for _name, kind, spec in objects if kind == "VirtualService"]
    assert rules and services
    for spec in services:
        assert messages(validate_cross_refs(spec, rules, namespace="default")) == []
        assert messages(validate_cross_refs(spec, rules)) == []


def test_bookinfo_route_to_undefined_subset_is_reported():
    objects = load_bookinfo("current")
    rules = [spec for _name, kind, spec in objects if kind == "DestinationRule"]
    spec = copy.deepcopy(next(spec for name, _kind, spec in objects if "reviews-50-v3" in name))
    spec["http"][0]["route"][1]["destination"]["subset"] = "v9"
    problems = validate_cross_refs(spec, rules)
    assert messages(problems) == [
        "spec.http[0].route[1].destination.subset: no DestinationRule for host 'reviews' defines subset 'v9' "
        "(defined: v1, v2, v3) (got 'v9')"]


def test_kitchen_sink_spec_validates_clean():
    assert messages(validate_virtual_service(KITCHEN_SINK)) == []
    assert messages(validate_cross_refs(KITCHEN_SINK, KITCHEN_SINK_RULES, namespace="prod")) == []


# ---------------------------------------------------------------------------
# The bad inputs every caller must hear about, by field and value


@pytest.mark.parametrize("spec, kwargs, field, value", [
    pytest.param(weighted(-5, 5), {}, "spec.http[0].route[0].weight", -5, id="negative-weight"),
    pytest.param(weighted(50, 60), {"legacy_weights": True}, "spec.http[0].route", 110, id="legacy-sum-110"),
    pytest.param(weighted(150), {"legacy_weights": True}, "spec.http[0].route[0].weight", 150,
                 id="legacy-weight-over-100"),
    pytest.param(weighted(None, None), {}, "spec.http[0].route", 0, id="several-destinations-no-weights"),
    pytest.param(weighted(0, 0), {}, "spec.http[0].route", 0, id="several-destinations-zero-weights"),
    pytest.param(weighted("50", 50), {}, "spec.http[0].route[0].weight", "50", id="weight-as-string"),
    pytest.param(delay("7"), {}, "spec.http[0].fault.delay.fixedDelay", "7", id="delay-without-unit"),
    pytest.param(delay(7), {}, "spec.http[0].fault.delay.fixedDelay", 7, id="delay-as-number"),
    pytest.param(delay("0s"), {}, "spec.http[0].fault.delay.fixedDelay", "0s", id="delay-zero"),
    pytest.param(delay("1.5ms"), {}, "spec.http[0].fault.delay.fixedDelay", "1.5ms", id="delay-sub-millisecond"),
    pytest.param(delay("7s", 150), {}, "spec.http[0].fault.delay.percentage.value", 150, id="percentage-150"),
    pytest.param(abort(500, 150), {}, "spec.http[0].fault.abort.percentage.value", 150, id="abort-percentage-150"),
    pytest.param(abort(99), {}, "spec.http[0].fault.abort.httpStatus", 99, id="http-status-99"),
    pytest.param(abort(700), {}, "spec.http[0].fault.abort.httpStatus", 700, id="http-status-700"),
    pytest.param(header_match("end-user", {"regex": "(?=jason)"}), {},
                 "spec.http[0].match[0].headers[end-user].regex", "(?=jason)", id="look-ahead-regex"),
    pytest.param(header_match("end user", {"exact": "jason"}), {},
                 "spec.http[0].match[0].headers[end user]", "end user", id="header-name-with-space"),
    pytest.param({"hosts": [""], "http": route_spec()["http"]}, {}, "spec.hosts[0]", "", id="empty-vs-host"),
    pytest.param(route_spec(route=[{"destination": {"host": ""}}]), {}, "spec.http[0].route[0].destination.host",
                 "", id="empty-destination-host"),
    pytest.param(route_spec(timeout="6"), {}, "spec.http[0].timeout", "6", id="timeout-without-unit"),
])
def test_bad_input_names_field_and_value(spec, kwargs, field, value):
    problems = validate_virtual_service(spec, **kwargs)
    found = find(problems, field)
    assert found, messages(problems)
    assert found[0].value == value
    assert str(found[0]).startswith(field + ": ")
    assert str(found[0]).endswith("(got %r)" % (value,))


def test_negative_weight_message_is_exact():
    # Istio adds the negative weight too: -5 + 5 is a total of 0, refused as well.
    assert messages(validate_virtual_service(weighted(-5, 5))) == [
        "spec.http[0].route[0].weight: must be >= 0 (got -5)",
        "spec.http[0].route: the total weight of several destinations must be more than 0 (got 0)"]


def test_weights_are_relative_since_istio_1_15():
    assert messages(validate_virtual_service(weighted(50, 60))) == []
    assert messages(validate_virtual_service(weighted(1, 0))) == []
    assert messages(validate_virtual_service(weighted(50, 50), legacy_weights=True)) == []


def test_a_single_destination_needs_no_weight():
    assert messages(validate_virtual_service(weighted(None))) == []
    assert messages(validate_virtual_service(weighted(None), legacy_weights=True)) == []


def test_bad_subset_name_message_is_exact():
    problems = validate_destination_rule({"host": "reviews", "subsets": [{"name": "V1!", "labels": {"v": "1"}}]})
    assert messages(problems) == [
        "spec.subsets[0].name: must be a DNS-1123 label (letters, digits and '-', starting and ending "
        "with a letter or digit, at most 63 characters) (got 'V1!')"]


def test_subset_labels_that_are_not_a_mapping_are_a_problem_not_an_exception():
    problems = validate_destination_rule({"host": "reviews", "subsets": [{"name": "v1", "labels": "version=v1"}]})
    assert messages(problems) == ["spec.subsets[0].labels: must be a mapping (got 'version=v1')"]


def test_empty_destination_rule_host_is_reported():
    assert messages(validate_destination_rule({"host": ""})) == ["spec.host: must not be empty (got '')"]
    assert messages(validate_destination_rule({})) == ["spec.host: is required"]


def test_every_problem_is_reported_at_once():
    spec = {"hosts": [""], "http": [{"route": [{"destination": {"host": "reviews", "subset": "V1!"},
                                                "weight": -5}, {"destination": {"host": "r"}}],
                                     "timeout": "0s"}]}
    fields = [problem.field for problem in validate_virtual_service(spec).items]
    assert fields == ["spec.hosts[0]", "spec.http[0].route[0].destination.subset", "spec.http[0].route[0].weight",
                      "spec.http[0].timeout"]
    with pytest.raises(MeshError) as raised:
        validate_virtual_service(spec).raise_if_any()
    assert len(raised.value.problems) == 4
    assert "spec.http[0].route[0].weight: must be >= 0 (got -5)" in str(raised.value)


def test_problems_are_added_to_the_given_collection_under_the_given_path():
    problems = Problems()
    returned = validate_virtual_service(weighted(-5, 5), path="virtual_service", problems=problems)
    assert returned is problems
    validate_destination_rule({"host": ""}, path="", problems=problems)
    assert [problem.field for problem in problems.items] == ["virtual_service.http[0].route[0].weight",
                                                             "virtual_service.http[0].route", "host"]


def test_spec_that_is_not_a_mapping_is_reported():
    assert messages(validate_virtual_service(["reviews"])) == ["spec: must be a mapping (got ['reviews'])"]
    # A missing spec is "required", not "must be a mapping (got null)".
    assert messages(validate_destination_rule(None)) == ["spec: is required"]


# ---------------------------------------------------------------------------
# VirtualService rules


@pytest.mark.parametrize("gateways, allowed", [
    (None, False), ([], False), (["mesh"], False), (["bookinfo-gateway", "mesh"], False),
    (["bookinfo-gateway"], True), (["istio-system/public"], True),
])
def test_star_host_is_only_for_gateway_virtual_services(gateways, allowed):
    spec = {"hosts": ["*"], "http": route_spec()["http"]}
    if gateways is not None:
        spec["gateways"] = gateways
    assert bool(find(validate_virtual_service(spec), "spec.hosts[0]")) is not allowed


@pytest.mark.parametrize("host, valid", [
    ("reviews", True), ("reviews.prod.svc.cluster.local", True), ("*.example.com", True), ("*", True),
    ("istio.io.", True), ("10.0.0.1", True), ("2001:db8::1", True), ("*example.com", True),
    ("foo.*.com", False), ("Reviews", True), ("reviews_v1", False), ("a.123", False), ("-reviews", False), ("a..b", False),
    ("a" * 64, False), (("a" * 60 + ".") * 5, False), ("", False), (None, False), (5, False),
])
def test_virtual_service_hosts(host, valid):
    spec = {"hosts": [host], "gateways": ["gw"], "http": route_spec()["http"]}
    assert (messages(validate_virtual_service(spec)) == []) is valid


def test_delegate_virtual_service_without_hosts_is_accepted():
    # Flagger and Argo Rollouts write delegates: http routes only, no hosts, no gateways.
    assert messages(validate_virtual_service({"http": route_spec()["http"]})) == []
    spec = {"gateways": ["gw"], "http": route_spec()["http"], "tcp": [{"route": [{"destination": {"host": "r"}}]}]}
    assert messages(validate_virtual_service(spec)) == [
        "spec.gateways: must be empty in a delegate VirtualService (one without hosts) (got ['gw'])",
        "spec.tcp: must be empty in a delegate VirtualService (one without hosts) "
        "(got [{'route': [{'destination': {'host': 'r'}}]}])"]


def test_delegate_routes_cannot_delegate_again():
    spec = {"http": [{"delegate": {"name": "other"}}]}
    assert "spec.http[0].delegate" in [problem.field for problem in validate_virtual_service(spec).items]


def test_destination_host_cannot_be_star_and_is_required():
    assert messages(validate_virtual_service(route_spec(route=[{"destination": {"host": "*"}}]))) == [
        "spec.http[0].route[0].destination.host: must name a service, not '*' (got '*')"]
    assert messages(validate_virtual_service(route_spec(route=[{"destination": {}}]))) == [
        "spec.http[0].route[0].destination.host: is required"]
    assert messages(validate_virtual_service(route_spec(route=[{"weight": 100}]))) == [
        "spec.http[0].route[0].destination: is required"]


@pytest.mark.parametrize("port, valid", [(1, True), (65535, True), (0, False), (65536, False), ("80", False)])
def test_destination_port(port, valid):
    spec = route_spec(route=[{"destination": {"host": "reviews", "port": {"number": port}}}])
    assert (messages(validate_virtual_service(spec)) == []) is valid


def test_routes_need_a_destination_of_some_kind():
    assert messages(validate_virtual_service({"hosts": ["a"], "http": [{"timeout": "1s"}]})) == [
        "spec.http[0].route: is required (or a redirect, directResponse or delegate)"]
    assert messages(validate_virtual_service({"hosts": ["a"]})) == ["spec: needs at least one http, tls or tcp route"]


@pytest.mark.parametrize("extra, field", [
    ({"redirect": {"uri": "/x"}}, "spec.http[0].redirect"),
    ({"directResponse": {"status": 503}}, "spec.http[0].directResponse"),
])
def test_redirect_and_direct_response_exclude_route_fault_and_rewrite(extra, field):
    spec = route_spec(fault={"abort": {"httpStatus": 500, "percentage": {"value": 1}}}, rewrite={"uri": "/"},
                      **extra)
    found = [problem.message for problem in find(validate_virtual_service(spec), field)]
    assert found == ["cannot be combined with route (it answers the request itself)",
                     "cannot be combined with fault (it answers the request itself)",
                     "cannot be combined with rewrite (it answers the request itself)"]


def test_redirect_excludes_direct_response():
    spec = {"hosts": ["a"], "http": [{"redirect": {"uri": "/x"}, "directResponse": {"status": 200}}]}
    assert messages(validate_virtual_service(spec)) == [
        "spec.http[0].redirect: cannot be combined with directResponse (it answers the request itself)"]


def test_redirect_and_direct_response_details():
    spec = {"hosts": ["a"], "http": [{"match": [{"uri": {"exact": "/old"}}], "redirect": {"redirectCode": 200}},
                                     {"directResponse": {"status": 99}}]}
    assert messages(validate_virtual_service(spec)) == [
        # Like Istio, a redirect reports its first problem only.
        "spec.http[0].redirect: must set at least one of uri, prefixRewrite, authority, scheme, port or derivePort "
        "(got {'redirectCode': 200})",
        "spec.http[1].directResponse.status: must be an HTTP status code from 200 to 599 (got 99)"]


def test_route_after_a_catch_all_is_a_warning_not_an_error():
    # Istio accepts the object and only warns: so do we.
    spec = {"hosts": ["reviews"], "http": [route_spec()["http"][0], route_spec(match=[{"uri": {"prefix": "/a"}}])
                                           ["http"][0]]}
    problems = validate_virtual_service(spec)
    assert messages(problems) == []
    assert [str(warning) for warning in problems.warnings] == [
        "spec.http[1]: can never be reached: spec.http[0] before it matches every request "
        "(move the catch-all route last)"]
    spec["http"].reverse()
    assert validate_virtual_service(spec).warnings == []


def test_prefix_slash_is_a_catch_all_too():
    first = route_spec(match=[{"uri": {"prefix": "/"}}])["http"][0]
    spec = {"hosts": ["reviews"], "http": [first, route_spec()["http"][0]]}
    assert [problem.field for problem in validate_virtual_service(spec).warnings] == ["spec.http[1]"]


# ---------------------------------------------------------------------------
# Matches


@pytest.mark.parametrize("where, match, problem", [
    ("uri", {"exact": "/a", "prefix": "/"}, "spec.http[0].match[0].uri: exact, prefix and regex are one-of: set "
                                            "only one (got ['exact', 'prefix'])"),
    ("uri", {"regex": ""}, "spec.http[0].match[0].uri.regex: must not be empty (got '')"),
    ("method", {"prefix": ""}, "spec.http[0].match[0].method.prefix: must not be empty (an empty prefix is only "
                               "allowed for uri) (got '')"),
    ("uri", {"exact": 5}, "spec.http[0].match[0].uri.exact: must be a string (got 5)"),
    ("uri", "/reviews", "spec.http[0].match[0].uri: must be a mapping (got '/reviews')"),
    ("port", 65536, "spec.http[0].match[0].port: must be a port number from 1 to 65535 (got 65536)"),
    ("sourceNamespace", "a_b", "spec.http[0].match[0].sourceNamespace: must be a DNS-1123 label (letters, digits "
                               "and '-', starting and ending with a letter or digit, at most 63 characters) "
                               "(got 'a_b')"),
])
def test_match_conditions(where, match, problem):
    assert messages(validate_virtual_service(route_spec(match=[{where: match}]))) == [problem]


def test_empty_uri_prefix_and_header_presence_are_allowed():
    spec = route_spec(match=[{"uri": {"prefix": ""}, "headers": {"x-canary": {}}}])
    assert messages(validate_virtual_service(spec)) == []


def test_header_prefix_must_not_be_empty():
    assert [problem.field for problem in validate_virtual_service(header_match("x", {"prefix": ""})).items] == [
        "spec.http[0].match[0].headers[x].prefix"]


def test_null_header_match_is_reported():
    assert [problem.field for problem in validate_virtual_service(header_match("x", None)).items] == [
        "spec.http[0].match[0].headers[x]"]


def test_old_cookie_regex_and_new_header_match_are_both_expressible():
    assert messages(validate_virtual_service(header_match("cookie", {"regex": "^(.*?;)?(user=jason)(;.*)?$"}))) == []
    assert messages(validate_virtual_service(header_match("end-user", {"exact": "jason"}))) == []


# ---------------------------------------------------------------------------
# Unknown fields: the API server prunes them silently


@pytest.mark.parametrize("spec, field", [
    (route_spec(fault={"delay": {"fixedDelay": "7s", "percentage": {"value": 100}, "fixed_delay": "7s"}}),
     "spec.http[0].fault.delay.fixed_delay"),
    (route_spec(fault={"abort": {"httpStatus": 500, "percentage": {"value": 100}, "status": 500}}),
     "spec.http[0].fault.abort.status"),
    (route_spec(fault={"delay": {"fixedDelay": "7s", "percentage": {"value": 100}}, "abrot": {}}),
     "spec.http[0].fault.abrot"),
    (route_spec(fault={"delay": {"fixedDelay": "7s", "percentage": {"value": 100, "percent": 5}}}),
     "spec.http[0].fault.delay.percentage.percent"),
    (route_spec(route=[{"destination": {"host": "reviews", "version": "v1"}}]),
     "spec.http[0].route[0].destination.version"),
    (route_spec(route=[{"destination": {"host": "reviews", "port": {"number": 80, "name": "http"}}}]),
     "spec.http[0].route[0].destination.port.name"),
    (route_spec(route=[{"destination": {"host": "reviews"}, "wieght": 100}]), "spec.http[0].route[0].wieght"),
    (route_spec(match=[{"header": {"end-user": {"exact": "jason"}}}]), "spec.http[0].match[0].header"),
    (route_spec(match=[{"uri": {"exact": "/a", "suffix": "b"}}]), "spec.http[0].match[0].uri.suffix"),
    (route_spec(retry={"attempts": 3}), "spec.http[0].retry"),
    (dict(route_spec(), host="reviews"), "spec.host"),
])
def test_unknown_fields_are_reported(spec, field):
    found = find(validate_virtual_service(spec), field)
    assert len(found) == 1
    assert found[0].message.startswith("unknown field")


def test_snake_case_field_gets_a_camel_case_hint():
    spec = route_spec(fault={"abort": {"http_status": 500, "percentage": {"value": 100}}})
    found = find(validate_virtual_service(spec), "spec.http[0].fault.abort.http_status")
    assert "did you mean 'httpStatus'?" in found[0].message


def test_header_operations_are_checked_for_shape():
    spec = route_spec(headers={"request": {"sett": {"x-a": "1"}, "add": {"x-b": 2}, "remove": [""]},
                               "responses": {}})
    assert [problem.field for problem in validate_virtual_service(spec).items] == [
        "spec.http[0].headers.responses", "spec.http[0].headers.request.sett",
        "spec.http[0].headers.request.add[x-b]", "spec.http[0].headers.request.remove[0]"]


def test_unknown_destination_rule_fields_are_reported():
    problems = validate_destination_rule({"host": "r", "subsets": [{"name": "v1", "label": {"version": "v1"}}],
                                          "subset": []})
    assert [problem.field for problem in problems.items] == ["spec.subset", "spec.subsets[0].label"]


# ---------------------------------------------------------------------------
# Faults


def test_removed_abort_percent_with_percentage_is_still_reported_but_only_once():
    spec = route_spec(fault={"abort": {"httpStatus": 500, "percent": 50, "percentage": {"value": 50}}})
    assert [problem.field for problem in validate_virtual_service(spec).items] == ["spec.http[0].fault.abort.percent"]


def test_deprecated_delay_percent_is_accepted():
    spec = route_spec(fault={"delay": {"fixedDelay": "7s", "percent": 100}})
    assert messages(validate_virtual_service(spec)) == []


@pytest.mark.parametrize("percent", [101, -1])
def test_deprecated_delay_percent_is_not_range_checked_by_istio(percent):
    spec = route_spec(fault={"delay": {"fixedDelay": "7s", "percent": percent}})
    assert messages(validate_virtual_service(spec)) == []


@pytest.mark.parametrize("percent", [50.5, "100", True])
def test_deprecated_delay_percent_must_be_an_integer(percent):
    spec = route_spec(fault={"delay": {"fixedDelay": "7s", "percent": percent}})
    assert [problem.value for problem in find(validate_virtual_service(spec), "spec.http[0].fault.delay.percent")] \
        == [percent]


def test_delay_percent_and_percentage_together_are_accepted_like_istio():
    spec = route_spec(fault={"delay": {"fixedDelay": "7s", "percent": 10, "percentage": {"value": 10}}})
    assert messages(validate_virtual_service(spec)) == []


def test_fault_without_a_percentage_would_never_fire_and_gets_a_warning():
    spec = route_spec(fault={"delay": {"fixedDelay": "7s"}, "abort": {"httpStatus": 500, "percentage": {}}})
    problems = validate_virtual_service(spec)
    assert messages(problems) == []
    assert [problem.field for problem in problems.warnings] == ["spec.http[0].fault.delay.percentage"]


@pytest.mark.parametrize("fault, field", [
    ({}, "spec.http[0].fault"),
    ({"delay": {"percentage": {"value": 1}}}, "warning spec.http[0].fault.delay.fixedDelay"),
    ({"delay": {"exponentialDelay": "1s", "percentage": {"value": 1}}}, "spec.http[0].fault.delay.exponentialDelay"),
    ({"abort": {"percentage": {"value": 1}}}, "warning spec.http[0].fault.abort"),
    ({"abort": {"httpStatus": 500, "grpcStatus": "INTERNAL", "percentage": {"value": 1}}}, "spec.http[0].fault.abort"),
    ({"abort": {"http2Error": "x", "percentage": {"value": 1}}}, "spec.http[0].fault.abort.http2Error"),
    ({"abort": {"grpcStatus": "unavailable", "percentage": {"value": 1}}}, "spec.http[0].fault.abort.grpcStatus"),
    ({"abort": {"grpcStatus": 14, "percentage": {"value": 1}}}, "spec.http[0].fault.abort.grpcStatus"),
    ({"delay": {"fixedDelay": "1s", "percentage": 100}}, "spec.http[0].fault.delay.percentage"),
    ("delay 7s", "spec.http[0].fault"),
])
def test_fault_shapes(fault, field):
    # What Istio accepts but does nothing (a delay without fixedDelay, an abort without error type) is a warning.
    problems = validate_virtual_service(route_spec(fault=fault))
    found = [problem.field for problem in problems.items] + ["warning " + w.field for w in problems.warnings]
    assert found == [field]


@pytest.mark.parametrize("name", GRPC_STATUS_NAMES)
def test_every_grpc_status_name_is_an_abort_error_type(name):
    spec = route_spec(fault={"abort": {"grpcStatus": name, "percentage": {"value": 100}}})
    assert messages(validate_virtual_service(spec)) == []


def test_there_are_seventeen_grpc_status_names():
    assert len(set(GRPC_STATUS_NAMES)) == 17


# ---------------------------------------------------------------------------
# Retries


@pytest.mark.parametrize("retries, field", [
    ({"attempts": 0, "retryOn": "5xx"}, "spec.http[0].retries.attempts"),
    ({"attempts": 0, "perTryTimeout": "1s"}, "spec.http[0].retries.attempts"),
    ({"perTryTimeout": "1s"}, "spec.http[0].retries.attempts"),
    ({"attempts": -1}, "spec.http[0].retries.attempts"),
    ({"attempts": 2, "perTryTimeout": "0.5ms"}, "spec.http[0].retries.perTryTimeout"),
    ({"attempts": 2, "retryOn": "5xx, connect-failure"}, "spec.http[0].retries.retryOn"),
    ({"attempts": 2, "retryOn": "5xx,bogus"}, "spec.http[0].retries.retryOn"),
    ({"attempts": 2, "retryOn": "5xx,"}, "spec.http[0].retries.retryOn"),
    ({"attempts": 2, "retryOn": "999"}, "spec.http[0].retries.retryOn"),
])
def test_bad_retries(retries, field):
    assert [problem.field for problem in validate_virtual_service(route_spec(retries=retries)).items] == [field]


@pytest.mark.parametrize("retries", [
    {"attempts": 0}, {"attempts": 3, "perTryTimeout": "2s", "retryOn": "gateway-error,connect-failure,refused-stream"},
    {"attempts": 1, "retryOn": "retriable-status-codes,503,429"},
    {"attempts": 1, "retryOn": ",".join(validate.RETRY_ON_POLICIES)},
])
def test_good_retries(retries):
    assert messages(validate_virtual_service(route_spec(retries=retries))) == []


def test_retry_on_messages_name_the_bad_tokens():
    problems = Problems()
    validate_retry_on("5xx,bogus,999", "retryOn", problems)
    assert len(problems) == 1
    assert "'bogus', '999'" in problems.items[0].message
    problems = Problems()
    validate_retry_on("5xx, reset", "retryOn", problems)
    assert messages(problems) == ["retryOn: must be comma-separated without spaces (got '5xx, reset')"]


# ---------------------------------------------------------------------------
# Durations


@pytest.mark.parametrize("text, milliseconds", [
    ("7s", 7000), ("1.5s", 1500), ("100ms", 100), ("1h2m", 3720000), ("1m0.5s", 60500), ("1000us", 1),
    (u"1000\u00b5s", 1), ("1000000ns", 1), ("0.001s", 1), ("2h", 7200000), ("5.s", 5000), (".5s", 500),
    ("0s", 0), ("-1s", -1000), ("+3ms", 3), ("1.5ms", 1.5), ("500us", 0.5), ("0", 0),
])
def test_duration_ms(text, milliseconds):
    assert duration_ms(text) == milliseconds


@pytest.mark.parametrize("text", ["7", "", "s", ".s", "5sec", "1h2", "-", "7 s", "1S", "1.5.5s",
                                  "1" * 70 + "s", "3000000h", 7, None, 1.5])
def test_duration_ms_rejects(text):
    with pytest.raises(ValueError):
        duration_ms(text)


@pytest.mark.parametrize("value, reason", [
    ("7", "needs a unit"), (7, "must be a duration string with a unit"), ("0s", "must be at least 1ms"),
    ("-5s", "must be at least 1ms"), ("1.5ms", "whole number of milliseconds"), ("5sec", "unknown unit 'sec'"),
])
def test_validate_duration_reasons(value, reason):
    problems = Problems()
    validate_duration(value, "timeout", problems)
    assert len(problems) == 1
    assert reason in problems.items[0].message
    assert problems.items[0].value == value


@given(hours=st.integers(0, 1000), minutes=st.integers(0, 59), seconds=st.integers(0, 59),
       millis=st.integers(0, 999))
def test_duration_ms_adds_the_parts(hours, minutes, seconds, millis):
    text = "%dh%dm%ds%dms" % (hours, minutes, seconds, millis)
    assert duration_ms(text) == ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis


@given(millis=st.integers(1, 10 ** 9))
def test_fractional_seconds_parse_like_milliseconds(millis):
    assert duration_ms("%d.%03ds" % (millis // 1000, millis % 1000)) == millis


# ---------------------------------------------------------------------------
# Regexes, with RE2 and with the fallback


VALID_REGEXES = ["^(.*?;)?(user=jason)(;.*)?$", "(?i)jason", "\\d+$", "(?P<name>a)", "[(?=]", "\\(?=x", "a{1000}",
                 "[\\]1]", "x*?"]
INVALID_REGEXES = [("(?=jason)", "look-ahead"), ("(?!x)", "look-ahead"), ("(?<=a)b", "look-behind"),
                   ("(?<!a)b", "look-behind"), ("(a)\\1", "back-reference"), ("(?P<n>a)(?P=n)", "back-reference"),
                   ("(?>a)", "atomic"), ("a*+", "possessive"), ("a{1001}", ""), ("[", ""), ("a)", ""),
                   ("(?#c)", "comment")]


@pytest.fixture(params=["re2", "fallback"])
def regex_backend(request, monkeypatch):
    if request.param == "re2":
        pytest.importorskip("re2")
    else:
        monkeypatch.setattr(validate, "_re2", None)
    return request.param


@pytest.mark.parametrize("pattern", VALID_REGEXES)
def test_valid_regexes(regex_backend, pattern):
    problems = Problems()
    validate_regex(pattern, "regex", problems)
    assert messages(problems) == []


@pytest.mark.parametrize("pattern, reason", INVALID_REGEXES)
def test_invalid_regexes(regex_backend, pattern, reason):
    problems = Problems()
    validate_regex(pattern, "regex", problems)
    assert len(problems) == 1
    assert problems.items[0].message.startswith("must be an RE2 regular expression")
    assert reason in problems.items[0].message
    assert problems.items[0].value == pattern


@pytest.mark.parametrize("value, message", [
    ("", "regex: must not be empty (got '')"), (None, "regex: must be a string (got null)"),
])
def test_regex_must_be_a_non_empty_string(regex_backend, value, message):
    problems = Problems()
    validate_regex(value, "regex", problems)
    assert messages(problems) == [message]


def test_regex_length_limit(regex_backend):
    problems = Problems()
    validate_regex("a" * 1024, "regex", problems)
    assert len(problems) == 0
    validate_regex("a" * 1025, "regex", problems)
    assert "at most 1024 characters" in problems.items[0].message


def test_re2_is_used_when_installed():
    pytest.importorskip("re2")
    problems = Problems()
    # \pN is RE2 syntax Python's re does not know: only RE2 itself accepts it.
    validate_regex("\\pN+", "regex", problems)
    assert messages(problems) == []


# ---------------------------------------------------------------------------
# Small validators


@pytest.mark.parametrize("value, valid", [
    ("v1", True), ("a", True), ("a-b", True), ("1", True), ("v2-mysql-vm", True), ("a" * 63, True),
    ("V1", True), ("-a", False), ("a-", False), ("", False), ("a" * 64, False), ("a.b", False), ("a_b", False),
    (None, False), (5, False), (["v1"], False),
])
def test_is_dns1123_label(value, valid):
    assert is_dns1123_label(value) is valid


@pytest.mark.parametrize("labels, fields", [
    ({"app": "reviews", "example.com/tier": "web", "empty": "", "a.b_c-d": "X.y_z-1"}, []),
    ({"-bad": "x"}, ["labels[-bad]"]),
    ({"Bad_Prefix/x": "y"}, ["labels[Bad_Prefix/x]"]),
    ({"/x": "y"}, ["labels[/x]"]),
    ({"a" * 64: "y"}, ["labels[%s]" % ("a" * 64)]),
    ({"version": "v" * 64}, []),  # Istio accepts it (a warning says no pod can carry it)
    ({"version": "-v1"}, ["labels[version]"]),
    ({"version": 1}, ["labels[version]"]),
    ({"version": None}, ["labels[version]"]),
    ({1: "x"}, ["labels[1]"]),
    ("version=v1", ["labels"]),
    (["version", "v1"], ["labels"]),
])
def test_validate_labels(labels, fields):
    problems = Problems()
    validate_labels(labels, "labels", problems)
    assert [problem.field for problem in problems.items] == fields


@pytest.mark.parametrize("name, valid", [
    ("end-user", True), ("x-request-id", True), ("Cookie", True), ("x_b3!#$%&'*+.^`|~", True),
    ("end user", False), ("a:b", False), (":authority", True), (":foo", False), ("", False), (None, False), ("caf\u00e9", False),
    ("@request.auth.claims.groups", False),
])
def test_validate_header_name(name, valid):
    problems = Problems()
    validate_header_name(name, "name", problems)
    assert (len(problems) == 0) is valid


def test_jwt_claim_routes_are_header_names_only_in_matches_of_gateways():
    spec = header_match("@request.auth.claims.groups", {"exact": "admin"})
    spec["gateways"] = ["istio-system/ingress"]
    assert messages(validate_virtual_service(spec)) == []
    # Sidecars never see JWT claims: Istio refuses claim routes on a mesh VirtualService.
    del spec["gateways"]
    assert [problem.field for problem in validate_virtual_service(spec).items] == [
        "spec.http[0].match[0].headers[@request.auth.claims.groups]"]
    assert len(validate_virtual_service(header_match("@request.auth.claims.", {"exact": "admin"}))) == 1


@pytest.mark.parametrize("value, valid", [
    (0, True), (0.0, True), (0.0001, True), (50, True), (100, True), (100.0, True),
    (0.00001, False), (-1, False), (100.5, False), (150, False), (True, False), ("50", False), (None, False),
    (float("nan"), False), (float("inf"), False), (10 ** 400, False),
])
def test_validate_percentage(value, valid):
    problems = Problems()
    validate_percentage(value, "percentage.value", problems)
    assert (len(problems) == 0) is valid


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_validate_percentage_matches_the_rule(value):
    problems = Problems()
    validate_percentage(value, "p", problems)
    expected_valid = not math.isnan(value) and (value == 0 or 0.0001 <= value <= 100)
    assert (len(problems) == 0) is expected_valid


@pytest.mark.parametrize("value, valid", [
    # Istio's range check lets 600 through.
    (200, True), (500, True), (599, True), (199, False), (600, True), (601, False), (99, False), (700, False), (True, False),
    ("500", False), (500.0, False),
])
def test_validate_http_status(value, valid):
    problems = Problems()
    validate_http_status(value, "httpStatus", problems)
    assert (len(problems) == 0) is valid


@pytest.mark.parametrize("ref, valid", [
    ("mesh", True), ("bookinfo-gateway", True), ("istio-system/public", True), ("gw.ns.svc.cluster.local", True),
    ("ns/gw.v1", False), ("Bad_Name", False), ("ns/", False), ("/gw", False), ("a/b/c", False), ("", False),
    (None, False), ("NS/gw", True),
])
def test_validate_gateway_ref(ref, valid):
    problems = Problems()
    validate_gateway_ref(ref, "gateways[0]", problems)
    assert (len(problems) == 0) is valid


def test_validate_host_ip_handling():
    problems = Problems()
    validate_host("10.0.0.1", "host", problems)
    validate_host("10.0.0.1", "host", problems, allow_ip=True)
    validate_host("*.example.com", "host", problems, allow_wildcard=False)
    assert [str(problem) for problem in problems.items] == [
        "host: must not end in an all-numeric label ('1') (got '10.0.0.1')",
        "host: wildcard '*' is only allowed as, or at the start of, the first label (got '*.example.com')"]


# ---------------------------------------------------------------------------
# DestinationRules


def test_destination_rule_subset_names_are_unique():
    spec = {"host": "reviews", "subsets": [{"name": "v1"}, {"name": "v2"}, {"name": "v1"}]}
    problems = validate_destination_rule(spec)
    assert messages(problems) == [
        "spec.subsets[2].name: must be unique: another subset already has this name (got 'v1')"]


def test_destination_rule_details():
    spec = {"host": "10.1.2.3", "subsets": [{"labels": {"version": "v1"}}, "v2"], "exportTo": ["*", "Bad"],
            "workloadSelector": {"matchLabels": {"app": "-x"}}, "trafficPolicy": "ROUND_ROBIN"}
    # Istio allows "Bad" (its DNS-1123 labels may be upper case) and "-x" in a workload selector, and
    # refuses '*' next to another namespace and exportTo beyond the namespace of a selector rule.
    assert [problem.field for problem in validate_destination_rule(spec).items] == [
        "spec.host", "spec.trafficPolicy", "spec.subsets[0].name", "spec.subsets[1]", "spec.exportTo",
        "spec.exportTo"]


def test_wildcard_destination_rule_host_is_valid():
    assert messages(validate_destination_rule({"host": "*.prod.svc.cluster.local"})) == []


# ---------------------------------------------------------------------------
# Cross references


def reviews_rule(host="reviews", names=("v1", "v2", "v3")):
    return {"host": host, "subsets": [{"name": name, "labels": {"version": name}} for name in names]}


def test_undefined_subset_message_is_exact():
    spec = route_spec(route=[{"destination": {"host": "reviews", "subset": "v9"}}])
    assert messages(validate_cross_refs(spec, [reviews_rule()])) == [
        "spec.http[0].route[0].destination.subset: no DestinationRule for host 'reviews' defines subset 'v9' "
        "(defined: v1, v2, v3) (got 'v9')"]


def test_subset_without_any_destination_rule_is_reported():
    spec = route_spec(route=[{"destination": {"host": "ratings", "subset": "v1"}}])
    assert messages(validate_cross_refs(spec, [reviews_rule()])) == [
        "spec.http[0].route[0].destination.subset: no DestinationRule for host 'ratings' defines subset 'v1' "
        "(no DestinationRule matches this host) (got 'v1')"]


def test_destination_without_subset_needs_no_destination_rule():
    spec = route_spec(route=[{"destination": {"host": "ratings"}}])
    assert messages(validate_cross_refs(spec, [])) == []


@pytest.mark.parametrize("route_host, rule_host, namespace, matches", [
    ("reviews", "reviews", None, True),
    ("reviews", "reviews", "prod", True),
    ("reviews", "reviews.prod", "prod", True),
    ("reviews", "reviews.prod.svc", "prod", True),
    ("reviews", "reviews.prod.svc.cluster.local", "prod", True),
    ("reviews.prod.svc.cluster.local", "reviews", "prod", True),
    ("reviews", "reviews.prod.svc.cluster.local.", "prod", True),
    ("reviews", "reviews.prod.svc.cluster.local", None, True),
    ("reviews.prod.svc.cluster.local", "reviews", None, True),
    ("reviews", "reviews.other.svc.cluster.local", "prod", False),
    ("reviews", "ratings", None, False),
    ("reviews", "*.prod.svc.cluster.local", "prod", True),
    ("reviews.example.com", "*.example.com", None, True),
    ("example.com", "*.example.com", None, False),
    ("reviews", "*", None, True),
])
def test_destination_rule_host_matching(route_host, rule_host, namespace, matches):
    spec = route_spec(route=[{"destination": {"host": route_host, "subset": "v1"}}])
    problems = validate_cross_refs(spec, [reviews_rule(rule_host)], namespace=namespace)
    assert (len(problems) == 0) is matches


def test_cross_refs_cover_mirrors_and_tcp_routes():
    spec = route_spec(mirror={"host": "reviews", "subset": "shadow"},
                      mirrors=[{"destination": {"host": "reviews", "subset": "v7"}}])
    spec["tcp"] = [{"route": [{"destination": {"host": "reviews", "subset": "v8"}}]}]
    assert [problem.field for problem in validate_cross_refs(spec, [reviews_rule()]).items] == [
        "spec.http[0].mirror.subset", "spec.http[0].mirrors[0].destination.subset",
        "spec.tcp[0].route[0].destination.subset"]


def test_subsets_of_every_rule_for_the_same_host_count():
    spec = weighted(1, 1, 1)
    rules = [reviews_rule(names=("v1",)), reviews_rule("reviews.default.svc.cluster.local", names=("v2", "v3"))]
    assert messages(validate_cross_refs(spec, rules, namespace="default")) == []


def test_the_most_specific_rule_applies_not_the_wildcard():
    # Istio applies the rule for reviews, not *.default.svc.cluster.local: the wildcard's v3 does not exist
    # for reviews (istioctl analyze reports IST0101), so validation reports it too.
    spec = weighted(1, 1, 1)
    rules = [reviews_rule(names=("v1", "v2")), reviews_rule("*.default.svc.cluster.local", names=("v3",))]
    assert [problem.field for problem in validate_cross_refs(spec, rules, namespace="default").items] == [
        "spec.http[0].route[2].destination.subset"]


# ---------------------------------------------------------------------------
# Fuzzing: no input makes a validator raise


KNOWN_KEYS = sorted(set(
    validate.VIRTUAL_SERVICE_KEYS + validate.HTTP_ROUTE_KEYS + validate.MATCH_KEYS + validate.STRING_MATCH_KEYS
    + validate.HTTP_ROUTE_DESTINATION_KEYS + validate.DESTINATION_KEYS + validate.PORT_SELECTOR_KEYS
    + validate.FAULT_KEYS + validate.DELAY_KEYS + validate.ABORT_KEYS + validate.PERCENTAGE_KEYS
    + validate.DESTINATION_RULE_KEYS + validate.SUBSET_KEYS
    + ("percent", "attempts", "perTryTimeout", "retryOn", "uri", "redirectCode", "status", "body", "string",
       "uriRegexRewrite", "match", "rewrite", "matchLabels", "namespace", "request", "set")))

SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-2, 700) | st.floats()
           | st.text(max_size=12) | st.sampled_from(["", "*", "mesh", "reviews", "v1", "7s", "0s", "1.5ms", "5xx",
                                                     "(?=x)", "[", "UNAVAILABLE", "end user", "a/b", "10.0.0.1"]))
KEYS = st.sampled_from(KNOWN_KEYS) | st.text(max_size=8) | st.integers(-1, 3)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                    max_leaves=30)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_only_problems(problems, prefix="spec"):
    assert isinstance(problems, Problems)
    for problem in problems.items:
        assert isinstance(problem, Problem)
        assert str(problem).startswith(prefix)


@FUZZ
@given(JSON)
def test_fuzz_virtual_service_never_raises(spec):
    assert_only_problems(validate_virtual_service(spec))
    assert_only_problems(validate_virtual_service(spec, legacy_weights=True))


@FUZZ
@given(JSON)
def test_fuzz_destination_rule_never_raises(spec):
    assert_only_problems(validate_destination_rule(spec))


@FUZZ
@given(JSON, JSON, st.none() | st.text(max_size=5))
def test_fuzz_cross_refs_never_raise(spec, rules, namespace):
    assert_only_problems(validate_cross_refs(spec, rules, namespace=namespace))
    assert_only_problems(validate_cross_refs(spec, [rules], namespace=namespace))


def positions(value, path=()):
    """Every position in a JSON-like value, as a path of keys and indexes."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from positions(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from positions(item, path + (index,))


def replaced(value, path, replacement):
    if not path:
        return replacement
    copied = copy.deepcopy(value)
    target = copied
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = replacement
    return copied


VS_POSITIONS = list(positions(KITCHEN_SINK))
DR_POSITIONS = list(positions(KITCHEN_SINK_RULES[0]))


@FUZZ
@given(st.sampled_from(VS_POSITIONS), JSON)
def test_fuzz_every_virtual_service_position(path, replacement):
    spec = replaced(KITCHEN_SINK, path, replacement)
    assert_only_problems(validate_virtual_service(spec))
    assert_only_problems(validate_cross_refs(spec, KITCHEN_SINK_RULES, namespace="prod"))


@FUZZ
@given(st.sampled_from(DR_POSITIONS), JSON)
def test_fuzz_every_destination_rule_position(path, replacement):
    rule = replaced(KITCHEN_SINK_RULES[0], path, replacement)
    assert_only_problems(validate_destination_rule(rule))
    assert_only_problems(validate_cross_refs(KITCHEN_SINK, [rule]))


# corsPolicy is only checked to be a mapping: its insides are left to the API server.
CHECKED_POSITIONS = [path for path in VS_POSITIONS[1:] if path[2:3] != ("corsPolicy",) or len(path) == 3]


@pytest.mark.parametrize("path", CHECKED_POSITIONS, ids=lambda path: ".".join(str(step) for step in path))
def test_a_wrong_type_at_any_checked_position_is_reported(path):
    # An object can stand nowhere in a spec, so replacing any value with one must produce a problem.
    spec = replaced(KITCHEN_SINK, path, object())
    assert len(validate_virtual_service(spec)) >= 1


@FUZZ
@given(JSON)
def test_fuzz_scalar_validators_never_raise(value):
    problems = Problems()
    for check_value in (validate_duration, validate_regex, validate_header_name, validate_labels,
                        validate_percentage, validate_http_status, validate_retry_on, validate_gateway_ref,
                        validate_host, validate.validate_grpc_status, validate.validate_port):
        check_value(value, "field", problems)
    assert_only_problems(problems, prefix="field")
    assert isinstance(is_dns1123_label(value), bool)


@FUZZ
@given(st.text(max_size=80))
def test_fuzz_parse_duration_only_raises_value_error(text):
    try:
        result = duration_ms(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert isinstance(result, (int, float))


@FUZZ
@given(st.text(max_size=40))
def test_fuzz_regex_fallback_never_raises(pattern):
    saved = validate._re2
    validate._re2 = None
    try:
        problems = Problems()
        validate_regex(pattern, "regex", problems)
    finally:
        validate._re2 = saved
    assert_only_problems(problems, prefix="regex")
