"""Pure route editing: unscoped faults, the last route, the weight rule, cookies, field paths."""

import copy
import re

import pytest

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problems
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.routes import (
    DEFAULT_ROUTE_FAULT, apply_route, at_index, build_http_route, check_route, has_fault, intended_index,
    place_route, put_default_fault, remove_fault, user_condition, weighted_destinations, without_routes)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.converge import MANAGED_BY, MANAGER, PREVIOUS_SPEC
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import (
    legacy_weights_for, validate_virtual_service)

DEFAULT = {"name": "default", "route": [{"destination": {"host": "ratings", "subset": "v1"}}], "timeout": "3s"}
DELAY = {"delay": {"fixedDelay": "7s", "percentage": {"value": 100}}}


def test_an_unscoped_fault_goes_on_the_default_route_and_comes_off_exactly():
    user = {"name": "user-override", "match": [{"headers": {"end-user": {"exact": "jason"}}}],
            "route": [{"destination": {"host": "ratings", "subset": "v1"}}]}
    http = [user, copy.deepcopy(DEFAULT)]
    annotations = {}
    faulted = put_default_fault(http, annotations, "fault-injection", DELAY)
    assert faulted == [user, dict(DEFAULT, fault=DELAY)]
    assert annotations == {DEFAULT_ROUTE_FAULT: "fault-injection"}
    assert has_fault(faulted, annotations, "fault-injection")
    assert validate_virtual_service({"hosts": ["ratings"], "http": faulted}).items == []
    assert remove_fault(faulted, annotations, "fault-injection") == http
    assert annotations == {}


def test_someone_elses_fault_on_the_default_route_is_never_replaced_or_removed():
    http = [dict(DEFAULT, fault=DELAY)]
    with pytest.raises(MeshError) as caught:
        put_default_fault(http, {}, "fault-injection", {"abort": {"httpStatus": 500}})
    assert "spec.http[0] already has a fault that this collection did not put there" in caught.value.msg
    assert remove_fault(http, {}, "fault-injection") == http
    assert not has_fault(http, {}, "fault-injection")


def test_a_planner_route_that_faults_every_request_lands_on_the_default_route():
    http = [copy.deepcopy(DEFAULT)]
    annotations = {}
    catch_all = {"name": "fault-injection", "match": [{"uri": {"prefix": "/"}}], "fault": DELAY, "route": None}
    faulted = apply_route(http, annotations, "fault-injection", catch_all)
    assert faulted == [dict(DEFAULT, fault=DELAY)]
    assert apply_route(faulted, annotations, "fault-injection", None) == http
    # A fault for one user is still its own route above the default route.
    scoped = dict(catch_all, match=[{"headers": {"end-user": {"exact": "jason"}}}])
    assert [r["name"] for r in apply_route(http, {}, "fault-injection", scoped)] == ["fault-injection", "default"]


def test_the_last_route_removed_deletes_our_object_or_restores_the_saved_spec():
    ours = {"metadata": {"annotations": {MANAGED_BY: MANAGER}}, "spec": {"hosts": ["r"], "http": []}}
    assert without_routes(ours, "VirtualService ns/r") is None
    saved = {"hosts": ["r"], "http": [copy.deepcopy(DEFAULT)]}
    theirs = {"metadata": {"annotations": {PREVIOUS_SPEC: '{"hosts":["r"],"http":[%s]}' % (
        '{"name":"default","route":[{"destination":{"host":"ratings","subset":"v1"}}],"timeout":"3s"}'),
        "team": "x"}}, "spec": {"hosts": ["r"], "http": []}}
    restored = without_routes(theirs, "VirtualService ns/r")
    assert restored["spec"] == saved and restored["metadata"]["annotations"] == {"team": "x"}
    with pytest.raises(MeshError) as caught:
        without_routes({"metadata": {}, "spec": {"hosts": ["r"], "http": []}}, "VirtualService ns/r")
    assert "VirtualService ns/r would be left without any HTTP route, which Istio refuses" in caught.value.msg


@pytest.mark.parametrize("version,legacy", [("v1", False), ("v1beta1", False), ("v1alpha3", True)])
def test_the_weight_rule_follows_the_served_version(version, legacy):
    assert legacy_weights_for(version) is legacy


def test_relative_weights_are_refused_for_istio_before_1_15_with_the_version_named():
    with pytest.raises(MeshError) as caught:
        weighted_destinations("reviews", {"v1": 101, "v3": 20}, relative=False)
    assert "weights: must sum to 100 (they sum to 121): Istio before 1.15" in caught.value.msg
    assert [d["weight"] for d in weighted_destinations("reviews", {"v1": 101, "v3": 20}, relative=True)] == [101, 20]
    params = {"name": "beta", "host": "reviews", "headers": {"x": "1"},
              "destinations": [{"subset": "v1", "weight": 101}, {"subset": "v3", "weight": 20}]}
    build_http_route(params)
    with pytest.raises(MeshError) as caught:
        build_http_route(params, legacy_weights=True)
    assert "spec.http[0].route[0].weight: must be an integer from 0 to 100 before Istio 1.15" in caught.value.msg
    assert "(route 'beta' is not in the VirtualService yet)" in caught.value.msg


def test_problems_name_the_route_by_its_index_once_placed():
    problems = Problems()
    build_http_route({"name": "slow", "host": "reviews", "headers": {"x": "1"}, "subset": "v1", "timeout": "0s"},
                     problems=problems)
    assert [p.field for p in at_index(problems, "slow", 2).items] == ["spec.http[2].timeout"]


def _matches(regex, cookie):
    return re.fullmatch(regex, cookie) is not None


@pytest.mark.parametrize("cookie,found", [
    ("user=jason", True), ("a=b; user=jason", True), ("a=b;user=jason", True), ("user=jason; a=b", True),
    ("a=b; user=jason; c=d", True), ("xuser=jason", False), ("a=b; xuser=jason", False), ("user=jasonx", False),
    ("a=b; user=jason2; c=d", False)])
def test_the_cookie_regex_matches_what_browsers_send_and_only_that_cookie(cookie, found):
    regex = user_condition("jason", "cookie")["cookie"]["regex"]
    assert _matches(regex, cookie) is found


def test_the_08_regex_is_kept_verbatim_on_request():
    regex = user_condition("jason", "cookie-0.8")["cookie"]["regex"]
    assert regex == "^(.*?;)?(user=jason)(;.*)?$"
    assert not _matches(regex, "a=b; user=jason")


# One form for field paths: spec.<Istio path>, or a module option's path; routes and services are indexed by number
# (a route is never named by its name), a map's key is in brackets (headers[end-user]).
ONE_FORM = re.compile(r"^(spec|[a-z][a-z_]*)([.\[]|$)")
LISTS_BY_NAME = re.compile(r"^spec\.(http|tcp|tls)\[(?!\d+\])|^services\[(?!\d+\])|^services\[\d+\]\.routes\[(?!\d+\])")


def one_form(field):
    return bool(ONE_FORM.match(field)) and not LISTS_BY_NAME.search(field)


TWO_ROUTES = [{"name": "a", "match": [{"headers": {"x": {"exact": "a"}}}],
               "route": [{"destination": {"host": "reviews", "subset": "v2"}}]},
              {"name": "default", "route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]


def test_a_route_checked_before_it_is_placed_says_so_and_is_named_by_index_once_placed():
    problems = Problems()
    params = {"name": "b", "host": "reviews", "headers": {"x": "b"}, "subset": "v2", "timeout": "0s"}
    route = build_http_route(params, problems=problems)
    assert [p.field for p in problems.items] == ["spec.http[0].timeout"]
    assert "(route 'b' is not in the VirtualService yet)" in str(problems.items[0])
    http, position = place_route(TWO_ROUTES, route)
    assert position == 1
    assert [str(p) for p in at_index(problems, "b", position).items] == [
        "spec.http[1].timeout: must be at least 1ms (got '0s')"]


def test_a_route_that_cannot_be_placed_is_named_by_the_index_it_would_get():
    problems = Problems()
    build_http_route({"name": "b", "host": "reviews", "headers": {"x": "b"}, "subset": "v2", "timeout": "0s"},
                     problems=problems)
    assert intended_index(TWO_ROUTES, "b", before="a") == 0
    assert intended_index(TWO_ROUTES, "b") == 1
    assert intended_index(TWO_ROUTES, "a") == 0
    at_index(problems, "b", intended_index(TWO_ROUTES, "b"), placed=False)
    assert problems.items[0].field == "spec.http[1].timeout"
    assert "not in the VirtualService yet" in str(problems.items[0])


def test_check_route_keeps_istio_warnings_with_the_route_index():
    problems = Problems()
    route = {"name": "r", "match": [{"uri": {"prefix": "/a"}}, {"uri": {"prefix": "/a"}}],
             "route": [{"destination": {"host": "reviews"}}]}
    check_route(route, "reviews", problems, index=3)
    assert not problems.items
    assert [w.field for w in problems.warnings] == ["spec.http[3].match[1]"]


@pytest.mark.parametrize("params", [
    {"name": "b", "headers": {"x": "b"}, "subset": "V_2", "timeout": "0s", "retries": {"attempts": -1}},
    {"name": "b", "uri": {"glob": "/x"}, "subset": "v2"},
    {"name": "b", "headers": {"end user": "x"}, "fault": {"delay": {"fixed_delay": "7"}}},
    {"name": "b", "match": [{}], "destinations": [{"subset": "v1", "weight": -5}, "v2"]},
    {"name": "b", "headers": {"x": "b"}, "fault": {"abort": {"http_status": 99, "percent": 5, "percentage": 5}}},
])
def test_every_problem_of_a_route_has_one_field_form(params):
    assert not one_form("spec.http[b].timeout") and not one_form("VirtualService reviews spec.http[0]")
    problems = Problems()
    route = build_http_route(dict(params, host="reviews"), follow_default=True, problems=problems)
    assert problems
    try:
        position = place_route(TWO_ROUTES, dict(route, route=route["route"] or TWO_ROUTES[1]["route"]))[1]
        at_index(problems, "b", position)
    except MeshError:
        # A bad match can make the route look like a catch-all: named where it would go.
        at_index(problems, "b", intended_index(TWO_ROUTES, "b"), placed=False)
    for problem in problems.items:
        assert one_form(problem.field), problem.field
        assert not problem.field.startswith("spec.http[") or problem.field.startswith("spec.http[1]"), problem
