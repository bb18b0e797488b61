"""The planner: scenario variables -> services -> wanted objects, pure and repeatable."""

import datetime

import pytest

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import same
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.expiry import PREFIX, UTC
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.planner import (
    compile_objects, plan_service, want_virtual_service)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.scenario import scenario_services

SERVICES = [{"name": "reviews", "subsets": ["v1", "v2", "v3"]}, {"name": "ratings", "subsets": ["v1"]}]
JASON_V2 = {"service": "reviews", "user": "jason", "subset": "v2"}
DELAY = {"delay": {"fixed_delay": "7s", "percentage": 100}}
NOW = datetime.datetime(2026, 12, 3, 0, 0, 0, tzinfo=UTC)
API = "networking.istio.io/v1"


def routes_of(services, host):
    return next(s["routes"] for s in services if s["host"] == host)


def test_a_fault_for_the_routed_user_on_the_same_service_joins_the_user_route():
    services = scenario_services(SERVICES, user_route=JASON_V2, fault=dict(DELAY, service="reviews", user="jason"))
    assert routes_of(services, "reviews") == [
        {"name": "user-override", "user": "jason", "user_match": "header", "subset": "v2",
         "fault": {"delay": {"fixed_delay": "7s", "percentage": 100}}},
        {"name": "fault-injection", "state": "absent"}]


@pytest.mark.parametrize("fault", [dict(DELAY, service="ratings", user="jason"),
                                   dict(DELAY, service="reviews", user="bob")])
def test_a_fault_elsewhere_or_for_another_user_keeps_its_own_route(fault):
    services = scenario_services(SERVICES, user_route=JASON_V2, fault=fault)
    route = routes_of(services, fault["service"])[1]
    assert (route["name"], route["user"], route["fault"]) == ("fault-injection", fault["user"], fault.get("fault")
                                                              or {"delay": DELAY["delay"]})


def reviews_object(live, expires_in, now):
    services = scenario_services(SERVICES, fault=dict(DELAY, service="reviews", user="jason"),
                                 fault_expires_in=expires_in)
    plan = plan_service(services[0], 0, now=now)
    return want_virtual_service(live, plan, API, "ns", now)


def test_the_expiry_is_written_kept_on_a_rerun_and_dropped_with_the_fault():
    first = reviews_object(None, 120, NOW)
    key = PREFIX + "fault-injection"
    assert first["metadata"]["annotations"] == {key: "2026-12-03T00:02:00Z"}
    # The same fault a minute later keeps the expiry it has: the re-run changes nothing.
    later = NOW + datetime.timedelta(seconds=60)
    assert same(first, reviews_object(first, 120, later))
    # Once the expiry passed, re-applying the fault sets a new one.
    assert reviews_object(first, 120, NOW + datetime.timedelta(seconds=300))["metadata"]["annotations"][key] == (
        "2026-12-03T00:07:00Z")
    # Without expires_in the expiry goes.
    assert key not in reviews_object(first, None, later)["metadata"].get("annotations", {})


def test_only_a_route_with_a_fault_can_expire():
    service = {"host": "reviews", "weights": {"v1": 100},
               "routes": [{"name": "r", "user": "jason", "subset": "v2", "expires_in": "1m"}]}
    with pytest.raises(MeshError) as caught:
        plan_service(service, 3, now=NOW)
    assert str(caught.value) == "services[3].routes[0].expires_in: only a route with a fault can expire (got '1m')"
    service["routes"][0].update(fault={"abort": {"http_status": 500}}, expires_in="soon")
    with pytest.raises(MeshError) as caught:
        plan_service(service, 3, now=NOW)
    assert str(caught.value).startswith("services[3].routes[0].expires_in: ")


def test_compiled_objects_carry_the_mark_of_created_objects_and_a_duplicate_service_fails():
    objects = compile_objects(scenario_services(SERVICES), API, "ns")
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("DestinationRule", "reviews"), ("DestinationRule", "ratings"),
        ("VirtualService", "reviews"), ("VirtualService", "ratings")]
    assert all(o["metadata"]["annotations"] == {"servicemesh.ack.io/managed-by": "ack.servicemesh"} for o in objects)
    with pytest.raises(MeshError) as caught:
        compile_objects(scenario_services(SERVICES + SERVICES[:1]), API, "ns")
    assert "each service may be listed once" in str(caught.value)


def _reviews_live(http):
    return {"apiVersion": API, "kind": "VirtualService", "metadata": {"name": "reviews", "namespace": "ns"},
            "spec": {"hosts": ["reviews"], "http": http}}


THEIRS = {"name": "theirs", "match": [{"headers": {"x-team": {"exact": "a"}}}],
          "route": [{"destination": {"host": "reviews", "subset": "v3"}}]}
MAIN = {"name": "main", "route": [{"destination": {"host": "reviews", "subset": "v1"}}]}


@pytest.mark.parametrize("live,index", [(None, 0), (_reviews_live([THEIRS, MAIN]), 1)])
def test_a_bad_route_is_named_by_the_index_it_gets_in_the_virtual_service(live, index):
    service = {"host": "reviews", "routes": [{"name": "slow", "user": "jason", "timeout": "0s"}]}
    plan = plan_service(service, 2)
    with pytest.raises(MeshError) as caught:
        want_virtual_service(live, plan, API, "ns") if live else compile_objects(
            [dict(service, weights={"v1": 100})], "v1", "ns")
    assert [p.field for p in caught.value.problems] == ["spec.http[%d].timeout" % index]
    assert caught.value.msg.startswith("services[%d].routes[0] (VirtualService reviews): spec.http[%d].timeout: "
                                       % (0 if live is None else 2, index)), caught.value.msg


def test_option_problems_of_a_service_name_the_whole_option_path():
    with pytest.raises(MeshError) as caught:
        plan_service({"host": "reviews", "weights": {"v1": -1},
                      "routes": [{"name": "r", "headers": {"x": {"glob": "a"}}}]}, 3)
    assert [p.field for p in caught.value.problems] == ["services[3].weights.v1"]
    with pytest.raises(MeshError) as caught:
        plan_service({"host": "reviews", "routes": [{"name": "r", "headers": {"x": {"glob": "a"}}}]}, 3)
    assert [p.field for p in caught.value.problems] == ["services[3].routes[0].headers.x"]


@pytest.mark.parametrize("api_version", ["v1alpha3", "networking.istio.io/v1alpha3"])
def test_istio_before_1_15_gets_weights_summing_to_100_however_its_version_is_given(api_version):
    with pytest.raises(MeshError) as caught:
        plan_service({"host": "reviews", "weights": {"v1": 101, "v3": 20}}, 0, api_version=api_version)
    assert "Istio before 1.15" in caught.value.msg
    relative = plan_service({"host": "reviews", "weights": {"v1": 101, "v3": 20}}, 0,
                            api_version=api_version.replace("v1alpha3", "v1"))
    assert [d["weight"] for d in relative["destinations"]] == [101, 20]
