"""Pure route editing: unscoped faults, the last route, the weight rule, cookies, field paths."""

import copy
import re

import pytest

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problems
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.routes import (
    DEFAULT_ROUTE_FAULT, apply_route, at_index, build_http_route, has_fault, put_default_fault, remove_fault,
    user_condition, weighted_destinations, without_routes)
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
