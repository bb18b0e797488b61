"""Fuzzing the pure entry points of the modules: any input returns or raises MeshError, never anything else.

Parameters are generated the way AnsibleModule hands them over: every option
of the argument spec present, typed as declared (None when unset), with the
values of `raw` and `dict` options arbitrary YAML data.
"""

import datetime
import os
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import expiry, planner, routes, spec
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.converge import PREVIOUS_SPEC, prepare_write
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problems
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import (
    validate_destination_rule, validate_virtual_service)
from ansible_collections.ack.servicemesh.plugins.modules import destination_rule, fault_injection, mesh_routing

# FUZZ_EXAMPLES=5000 for a longer hunt than `make test` can afford.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

# Strings that reach interesting branches more often than random text does.
INTERESTING = ["", " ", "v1", "v2", "reviews", "ratings.default.svc.cluster.local", "*", "jason", "user", "end-user",
               "7s", "0s", "1.5ms", "-5s", "1h2m", "100000000h", "(?=x)", "^a$", "a" * 300, "default",
               "UNAVAILABLE", "5xx,connect-failure", "V1!", "version=v1", "\x00", "é", "2026-08-01T18:00:00Z",
               "9999-12-31T23:59:59Z", "2026-02-30T00:00:00Z", "0001-01-01T00:00:00+23:59"]
texts = st.one_of(st.sampled_from(INTERESTING), st.text(max_size=20))
opt_text = st.none() | texts
numbers = st.one_of(st.integers(min_value=-(2 ** 70), max_value=2 ** 70), st.floats(allow_nan=True),
                    st.sampled_from([0, 50, 100, 100.0, 101, -1, 0.5]))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
data = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
                    max_leaves=12)
opt_int = st.none() | st.integers(min_value=-(2 ** 40), max_value=2 ** 40) | st.sampled_from([0, 1, 100, 200, 500, 599])
opt_float = st.none() | st.floats(allow_nan=True) | st.sampled_from([0.0, 0.5, 50.0, 100.0, 100.5])
opt_dict = st.none() | st.dictionaries(texts, data, max_size=3)

percentages = {"percentage": opt_float, "percent": opt_int}
delay = st.none() | st.fixed_dictionaries(dict(fixed_delay=texts, **percentages))
abort = st.none() | st.fixed_dictionaries(dict(http_status=opt_int, grpc_status=opt_text, **percentages))
destination = st.fixed_dictionaries({"subset": opt_text, "weight": opt_int, "port": opt_int, "host": opt_text})
route_options = {
    "name": texts,
    "state": st.sampled_from(["present", "absent"]),
    "user": opt_text,
    "user_match": st.sampled_from(["header", "cookie"]),
    "user_header": texts,
    "user_cookie": texts,
    "headers": opt_dict,
    "uri": st.none() | data,
    "query_params": opt_dict,
    "method": opt_text,
    "match": st.none() | st.lists(data, max_size=3),
    "subset": opt_text,
    "destinations": st.none() | st.lists(destination, max_size=3),
    "fault": st.none() | st.fixed_dictionaries({"delay": delay, "abort": abort}),
    "timeout": opt_text,
    "retries": st.none() | st.fixed_dictionaries({"attempts": st.integers(-5, 20), "per_try_timeout": opt_text,
                                                  "retry_on": opt_text}),
    "before": opt_text,
    "after": opt_text,
    "host": texts,
}
http_route_params = st.fixed_dictionaries(route_options)
fault_params = st.fixed_dictionaries({
    "host": texts, "virtual_service": opt_text, "namespace": opt_text, "check_subsets": st.booleans(),
    "name": texts, "state": st.sampled_from(["present", "absent"]), "user": opt_text,
    "user_match": st.sampled_from(["header", "cookie"]), "user_header": texts, "user_cookie": texts,
    "delay": delay, "abort": abort, "subset": opt_text, "allow_unscoped_fault": st.booleans(),
    "percentage_threshold": st.none() | st.floats(allow_nan=True) | st.sampled_from([0.0, 50.0, 100.0]),
    "expires_in": opt_text, "expires_at": opt_text,
})
destination_rule_params = st.fixed_dictionaries({
    "name": texts, "namespace": opt_text, "state": st.sampled_from(["present", "absent"]), "host": opt_text,
    "subsets": st.none() | data, "traffic_policy": opt_dict,
    "export_to": st.none() | st.lists(texts, max_size=3), "labels": opt_dict, "annotations": opt_dict,
})
route_entry = st.fixed_dictionaries({"name": texts}, optional=dict(
    (k, v) for k, v in route_options.items() if k not in ("name", "host")))
service = st.fixed_dictionaries({
    "host": texts, "subsets": st.none() | data | st.lists(texts, max_size=4), "subset_label": texts,
    "weights": st.none() | st.dictionaries(texts, st.one_of(numbers, texts, st.none()), max_size=3),
    "relative_weights": st.booleans(),
    "routes": st.lists(st.one_of(route_entry, data), max_size=3),
    "allow_unscoped_fault": st.booleans(),
})
# What the API server can hold: its schema makes every route and match block an object.
match_blocks = st.none() | st.lists(st.dictionaries(texts, data, max_size=2), max_size=2)
http_lists = st.lists(st.fixed_dictionaries({}, optional={"name": texts, "match": match_blocks, "route": data}),
                      max_size=4)


# The one form of a problem's field (as in test_routes.py): spec.<Istio path> or a module option's path, lists
# indexed by number (a route never by its name).
ONE_FORM = re.compile(r"^(spec|[a-z][a-z_]*)([.\[]|$)")
LISTS_BY_NAME = re.compile(r"^spec\.(http|tcp|tls)\[(?!\d+\])|^services\[(?!\d+\])|^services\[\d+\]\.routes\[(?!\d+\])")


def one_form(problems):
    for problem in problems:
        assert problem.field is None or (ONE_FORM.match(problem.field) and not LISTS_BY_NAME.search(problem.field)), (
            problem.field)


def accepts(call, *args):
    """Run call(*args); returning and raising MeshError (naming fields in one form) are the two allowed outcomes."""
    try:
        result = call(*args)
    except MeshError as err:
        assert err.msg and isinstance(err.msg, str)
        one_form(err.problems)
        return None
    for item in result if isinstance(result, tuple) else (result,):
        if isinstance(item, Problems):
            one_form(item.items + item.warnings)
    return result


@FUZZ
@given(http_route_params)
def test_build_match_only_collects_problems(params):
    problems = Problems()
    blocks = accepts(routes.build_match, params, problems)
    assert blocks is None or isinstance(blocks, list)


@FUZZ
@given(texts, st.none() | st.lists(st.one_of(destination, data), max_size=3), opt_text)
def test_build_destinations(host, destinations, subset):
    problems = Problems()
    result = accepts(routes.build_destinations, host, destinations, subset, problems)
    assert result is None or isinstance(result, list)


@FUZZ
@given(st.one_of(delay, data), st.one_of(abort, data))
def test_build_fault(delay_value, abort_value):
    accepts(routes.build_fault, delay_value, abort_value, Problems())


@FUZZ
@given(http_lists, st.fixed_dictionaries({"name": texts}, optional={"match": match_blocks}), opt_text, opt_text)
def test_place_route(http, route, before, after):
    result = accepts(routes.place_route, http, route, before, after)
    if result is not None:
        placed, position = result
        assert placed[position] == route


@FUZZ
@given(texts, st.one_of(data, st.dictionaries(texts, st.one_of(numbers, texts, st.booleans()), max_size=4)),
       opt_int, st.booleans())
@example("reviews", {"v1": "50", "v3": "50"}, None, False)
@example("reviews", {"v1": "-0"}, None, True)
@example("reviews", {"v1": " 7"}, None, True)
@example("reviews", {"v1": "\u00b9"}, None, True)
@example("reviews", {"v1": "--7"}, None, True)
@example("reviews", {"v1": 100}, 70000, False)
@example("reviews", {"v1": 2 ** 40}, None, True)
def test_weighted_destinations(host, weights, port, relative):
    result = accepts(routes.weighted_destinations, host, weights, port, relative)
    if result is not None:
        assert all(isinstance(d.get("weight", 0), int) for d in result)
        # What the builder accepts, Istio's rules accept: traffic_shift writes it without further checks.
        assert not validate_virtual_service({"hosts": [host], "http": [{"route": result}]}, legacy_weights=not relative)


@FUZZ
@given(st.one_of(data, st.lists(st.dictionaries(st.sampled_from(["name", "labels", "traffic_policy", "x"]), data,
                                                max_size=4), max_size=3)))
def test_subsets_from_param(value):
    result = accepts(spec.subsets_from_param, value)
    if result is not None:
        subsets, problems = result
        if subsets is not None:
            accepts(validate_destination_rule, {"host": "reviews", "subsets": subsets})


@FUZZ
@given(destination_rule_params)
def test_destination_rule_wanted_spec(params):
    accepts(destination_rule.wanted_spec, params)


@FUZZ
@given(http_route_params, st.booleans())
def test_http_route_build_route(params, follow_default):
    route = accepts(routes.build_http_route, params, follow_default)
    if route is not None and route.get("route") is not None:
        # What the builder accepts, Istio's rules accept.
        assert not validate_virtual_service({"hosts": [params["host"]], "http": [route]})


@FUZZ
@given(fault_params)
@example({"host": "ratings", "virtual_service": None, "namespace": None, "check_subsets": True,
          "name": "fault-injection", "state": "present", "user": None, "user_match": "header",
          "user_header": "end-user", "user_cookie": "user", "delay": None,
          "abort": {"http_status": 500, "grpc_status": None, "percentage": float("nan"), "percent": None},
          "subset": None, "allow_unscoped_fault": False, "percentage_threshold": float("nan"),
          "expires_in": None, "expires_at": None})
def test_fault_injection_build_fault_route(params):
    result = accepts(fault_injection.build_fault_route, params)
    if result is not None and not result[1] and not params["allow_unscoped_fault"]:
        assert params["user"], "a fault without a user needs allow_unscoped_fault"
    now = datetime.datetime(2026, 8, 1, tzinfo=datetime.timezone.utc)
    expires = accepts(expiry.expiry_from_params, params, now)
    assert expires is None or expires > now
    accepts(fault_injection.expiry_key, params, expires)


@FUZZ
@given(st.lists(service, min_size=1, max_size=2))
def test_mesh_routing_plan_service(services):
    for index, item in enumerate(services):
        plan = accepts(mesh_routing.plan_service, item, index, item["allow_unscoped_fault"])
        if plan is None:
            continue
        # Placed in an empty namespace and beside two routes someone else wrote: Istio's rules name each route by
        # its index there.
        live = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                "metadata": {"name": plan["host"], "namespace": "ns"}, "spec": {"hosts": [plan["host"]], "http": [
                    {"name": "theirs", "match": [{"headers": {"x": {"exact": "1"}}}],
                     "route": [{"destination": {"host": plan["host"]}}]},
                    {"name": "main", "route": [{"destination": {"host": plan["host"]}}]}]}}
        for current in (None, live):
            accepts(planner.want_virtual_service, current, plan, "networking.istio.io/v1", "ns")


@FUZZ
@given(st.dictionaries(texts, texts, max_size=4), opt_text)
def test_expiry_annotations_never_crash(annotations, route_name):
    assert isinstance(expiry.expiries(annotations), dict)
    key = expiry.annotation_key(route_name)
    assert key is None or (key.startswith(expiry.PREFIX) and len(key.split("/", 1)[1]) <= 63)
    for _key, value in expiry.expiries(annotations).values():
        try:
            expiry.parse_time(value)
        except ValueError:
            pass


@FUZZ
@given(st.none() | st.dictionaries(st.sampled_from(["metadata", "spec"]), data, max_size=2),
       st.none() | st.fixed_dictionaries({"metadata": st.fixed_dictionaries({}), "spec": data}))
def test_prepare_write_saves_a_foreign_spec_once(live, wanted):
    if live is not None and not isinstance(live.get("metadata", {}), dict):
        live["metadata"] = {}
    result = prepare_write("VirtualService", live, wanted)
    if wanted is None:
        assert result is None
    elif live is None:
        assert result["metadata"]["annotations"]["servicemesh.ack.io/managed-by"] == "ack.servicemesh"
    else:
        again = prepare_write("VirtualService", dict(live, metadata=result["metadata"]), wanted)
        assert again["metadata"].get("annotations", {}).get(PREVIOUS_SPEC) == \
            result["metadata"].get("annotations", {}).get(PREVIOUS_SPEC)


@pytest.mark.parametrize("text,expected", [
    ("2026-08-01T18:00:00Z", "2026-08-01T18:00:00Z"),
    ("2026-08-01T20:00:00+02:00", "2026-08-01T18:00:00Z"),
    ("2026-08-01t18:00:00.123z", "2026-08-01T18:00:00Z"),
])
def test_expiry_times_are_written_in_utc(text, expected):
    assert expiry.format_time(expiry.parse_time(text)) == expected
