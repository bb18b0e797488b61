import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.ack.servicemesh.plugins.filter.scenario_objects import FilterModule
from ansible_collections.ack.servicemesh.plugins.filter.scenario_services import scenario_services
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.analyze import analyze
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.budget import predict
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import canonical_vs_spec, normalize
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.converge import prepare_write
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.simulate import simulate
from ansible_collections.ack.servicemesh.plugins.modules import mesh_routing
from ansible_collections.ack.servicemesh.tests.reference import bookinfo

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

scenario_objects = FilterModule().filters()["scenario_objects"]

with open(os.path.join(REPO, "roles", "servicemesh", "defaults", "main.yml")) as _handle:
    DEFAULTS = yaml.safe_load(_handle)
SERVICES = DEFAULTS["servicemesh_services"]

JASON_V2 = {"service": "reviews", "user": "jason", "subset": "v2"}
# The variables each scenario role hands the servicemesh role, with the scenario roles' defaults.
SCENARIOS = {
    "all-v1": {},
    "user-v2": {"user_route": JASON_V2},
    "fault-delay": {"user_route": JASON_V2, "fault": {"service": "ratings", "user": "jason",
                                                      "delay": {"fixed_delay": "7s", "percentage": 100}}},
    "fault-abort": {"user_route": JASON_V2, "fault": {"service": "ratings", "user": "jason",
                                                      "abort": {"http_status": 500, "percentage": 100}}},
    "shift-50-v3": {"weights": {"reviews": {"v1": 50, "v3": 50}}},
}
# The Istio samples each scenario must equal, on top of virtual-service-all-v1.yaml.
SAMPLE_FILES = {
    "all-v1": [],
    "user-v2": ["virtual-service-reviews-test-v2.yaml"],
    "fault-delay": ["virtual-service-reviews-test-v2.yaml", "virtual-service-ratings-test-delay.yaml"],
    "fault-abort": ["virtual-service-reviews-test-v2.yaml", "virtual-service-ratings-test-abort.yaml"],
    "shift-50-v3": ["virtual-service-reviews-50-v3.yaml"],
}


def sample_specs(kind, names):
    specs = {}
    for name in names:
        specs.update((d["metadata"]["name"], d["spec"])
                     for d in bookinfo.documents("current/" + name) if d["kind"] == kind)
    return specs


def by_name(objects, kind):
    return dict((o["metadata"]["name"], o) for o in objects if o["kind"] == kind)


def reviews_routes(objects):
    return by_name(objects, "VirtualService")["reviews"]["spec"]["http"]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_each_scenario_equals_istios_sample(scenario):
    objects = scenario_objects(SERVICES, **SCENARIOS[scenario])
    want_vs = sample_specs("VirtualService", ["virtual-service-all-v1.yaml"] + SAMPLE_FILES[scenario])
    want_dr = sample_specs("DestinationRule", ["destination-rule-all.yaml"])
    assert dict((n, canonical_vs_spec(o["spec"])) for n, o in by_name(objects, "VirtualService").items()) == dict(
        (n, canonical_vs_spec(s)) for n, s in want_vs.items())
    assert dict((n, normalize(o["spec"])) for n, o in by_name(objects, "DestinationRule").items()) == dict(
        (n, normalize(s)) for n, s in want_dr.items())


def written_by_the_role(namespace, **variables):
    """What the servicemesh role's mesh_routing task writes into an empty namespace, by the module's own functions."""
    plans = [mesh_routing.plan_service(service, index) for index, service in
             enumerate(scenario_services(SERVICES, **variables))]
    rules, services = mesh_routing.plan_objects(plans, {}, {}, "networking.istio.io/v1", namespace)
    return ([prepare_write("DestinationRule", None, o) for o in rules.values()]
            + [prepare_write("VirtualService", None, o) for o in services.values()])


@pytest.mark.parametrize("variables", list(SCENARIOS.values()) + [
    {"user_route": dict(JASON_V2, service="ratings"), "user_match": "cookie",
     "fault": {"service": "ratings", "user": "jason", "abort": {"http_status": "503", "percentage": "10"}},
     "user_route_name": "mine", "fault_route_name": "boom"},
    {"fault": {"service": "reviews", "user": "jason", "delay": {"fixed_delay": "2s", "percent": 50}},
     "weights": {"reviews": {"v1": 20, "v2": 80}, "details": {}}, "default_subset": "v2", "subset_label": "track"},
], ids=lambda variables: "-".join(sorted(variables)) or "defaults")
def test_objects_equal_what_the_role_writes(variables):
    """The analysis checks the objects the role will write: both builders must agree field for field."""
    assert normalize(scenario_objects(SERVICES, namespace="ns", **variables)) == normalize(
        written_by_the_role("ns", **variables))


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_each_scenario_has_no_findings(scenario):
    objects = scenario_objects(SERVICES, namespace="bookinfo", **SCENARIOS[scenario])
    assert analyze(objects, objects, "bookinfo") == []


def test_objects_are_named_and_placed_in_the_namespace():
    objects = scenario_objects(SERVICES, namespace="bookinfo")
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == (
        [("DestinationRule", s["name"]) for s in SERVICES] + [("VirtualService", s["name"]) for s in SERVICES])
    assert set(o["metadata"]["namespace"] for o in objects) == {"bookinfo"}
    assert set(o["apiVersion"] for o in objects) == {"networking.istio.io/v1"}


def test_routes_are_ordered_and_named_as_the_role_places_them():
    objects = scenario_objects(SERVICES, user_route=dict(JASON_V2, service="ratings", subset="v2"),
                               fault={"service": "ratings", "user": "bob", "abort": {"http_status": 503}},
                               user_route_name="mine", fault_route_name="boom")
    ratings = by_name(objects, "VirtualService")["ratings"]["spec"]["http"]
    assert [r["name"] for r in ratings] == ["mine", "boom", "default"]
    # The fault route keeps its user where the default route sends everybody.
    assert ratings[1]["route"] == ratings[2]["route"] == [{"destination": {"host": "ratings", "subset": "v1"}}]
    assert ratings[1]["fault"] == {"abort": {"httpStatus": 503, "percentage": {"value": 100}}}


@pytest.mark.parametrize("user_match", ["header", "cookie"])
def test_a_fault_for_the_routed_user_goes_into_the_user_route_and_keeps_its_destination(user_match):
    """fault-delay with fault_delay_service=reviews: jason is routed to v2 by user-override; the fault joins it."""
    fault = {"service": "reviews", "user": "jason", "delay": {"fixed_delay": "7s", "percentage": 100}}
    objects = scenario_objects(SERVICES, user_route=JASON_V2, fault=fault, user_match=user_match)
    reviews = reviews_routes(objects)
    assert [r["name"] for r in reviews] == ["user-override", "default"]
    assert reviews[0]["route"] == [{"destination": {"host": "reviews", "subset": "v2"}}]
    assert reviews[0]["fault"] == {"delay": {"fixedDelay": "7s", "percentage": {"value": 100.0}}}
    assert analyze(objects, objects) == []
    headers = {"end-user": "jason"} if user_match == "header" else {}
    cookies = {"user": "jason"} if user_match == "cookie" else {}
    routed = simulate(objects, {"host": "reviews", "headers": headers, "cookies": cookies})
    assert (routed["route_name"], [d["subset"] for d in routed["destinations"]]) == ("user-override", ["v2"])
    assert routed["fault"]
    # The delay now fires for jason, before reviews v2 answers: productpage gives up on reviews after 2 x 3 s.
    jason = predict(objects, user="jason")
    assert (jason["outcome"], jason["latency_s"]) == ("reviews_unavailable", 6.0)
    assert predict(objects)["outcome"] == "ok"


def test_cookie_match_finds_the_user_in_what_browsers_send():
    objects = scenario_objects(SERVICES, user_route=JASON_V2, user_match="cookie")
    assert reviews_routes(objects)[0]["match"] == [{"headers": {"cookie": {"regex": "^(.*?; *)?(user=jason)(;.*)?$"}}}]
    for cookie, route in (("a=b; user=jason", "user-override"), ("user=jason; a=b", "user-override"),
                          ("a=b;user=jason", "user-override"), ("xuser=jason", "default"),
                          ("a=b; xuser=jason", "default"), ("a=b; user=jasonx", "default")):
        request = {"host": "reviews", "headers": {"cookie": cookie}}
        assert simulate(objects, request)["route_name"] == route, cookie
    assert simulate(objects, {"host": "reviews", "cookies": {"session": "x", "user": "jason"}})["route_name"] == (
        "user-override")


def test_cookie_08_is_the_samples_exact_regex_only_when_asked_for():
    objects = scenario_objects(SERVICES, user_route=JASON_V2, user_match="cookie-0.8")
    assert reviews_routes(objects)[0]["match"] == [{"headers": {"cookie": {"regex": "^(.*?;)?(user=jason)(;.*)?$"}}}]
    # What a browser sends misses it; the simulator sends cookies as browsers do.
    assert simulate(objects, {"host": "reviews", "cookies": {"session": "x", "user": "jason"}})["route_name"] == (
        "default")


def test_a_fault_for_all_users_is_on_the_default_route_and_the_analysis_finds_nothing():
    fault = {"service": "ratings", "all_users": True, "delay": {"fixed_delay": "7s"}}
    objects = scenario_objects(SERVICES, fault=fault)
    ratings = [o for o in objects if o["kind"] == "VirtualService" and o["metadata"]["name"] == "ratings"][0]
    assert ratings["spec"]["http"] == [{"name": "default", "route": [{"destination": {"host": "ratings",
                                                                                      "subset": "v1"}}],
                                        "fault": {"delay": {"fixedDelay": "7s", "percentage": {"value": 100}}}}]
    assert ratings["metadata"]["annotations"]["servicemesh.ack.io/default-route-fault"] == "fault-injection"
    assert [f for f in analyze(objects, objects) if f["severity"] != "info"] == []


def test_a_fault_without_user_names_the_role_variables():
    with pytest.raises(AnsibleFilterError) as caught:
        scenario_objects(SERVICES, fault={"service": "ratings", "user": "", "delay": {"fixed_delay": "7s"}})
    assert "fault_delay_user" in str(caught.value) and "fault_delay_all_users" in str(caught.value)
    assert "fault.user" not in str(caught.value)


def test_weights_and_default_subset():
    objects = scenario_objects(SERVICES, weights={"reviews": {"v1": 20, "v3": "80"}}, default_subset="v2")
    routes = reviews_routes(objects)
    assert routes == [{"name": "default", "route": [
        {"destination": {"host": "reviews", "subset": "v1"}, "weight": 20},
        {"destination": {"host": "reviews", "subset": "v3"}, "weight": 80}]}]
    details = by_name(objects, "VirtualService")["details"]["spec"]["http"]
    assert details[0]["route"] == [{"destination": {"host": "details", "subset": "v2"}}]


def test_subset_label_selects_the_pods():
    objects = scenario_objects([{"name": "cart", "subsets": ["blue", "green"]}], subset_label="track")
    assert by_name(objects, "DestinationRule")["cart"]["spec"] == {"host": "cart", "subsets": [
        {"name": "blue", "labels": {"track": "blue"}}, {"name": "green", "labels": {"track": "green"}}]}


def test_templated_strings_are_converted_like_the_module_arguments():
    fault = {"service": "ratings", "user": "jason", "delay": {"fixed_delay": "2s", "percentage": "50"},
             "abort": {"http_status": "500", "percentage": 10.0}}
    ratings = by_name(scenario_objects(SERVICES, fault=fault), "VirtualService")["ratings"]["spec"]["http"][0]
    assert ratings["fault"] == {"delay": {"fixedDelay": "2s", "percentage": {"value": 50.0}},
                                "abort": {"httpStatus": 500, "percentage": {"value": 10.0}}}


@pytest.mark.parametrize("delay,latency,outcome", [("7s", 6.0, "reviews_unavailable"), ("2s", 2.0, "ok")])
def test_fault_delay_predictions_match_the_article(delay, latency, outcome):
    fault = {"service": "ratings", "user": "jason", "delay": {"fixed_delay": delay, "percentage": 100}}
    objects = scenario_objects(SERVICES, user_route=JASON_V2, fault=fault)
    jason = predict(objects, user="jason")
    assert (jason["outcome"], jason["latency_s"]) == (outcome, latency)
    anonymous = predict(objects)
    assert (anonymous["outcome"], anonymous["latency_s"], anonymous["stars"]) == ("ok", 0.0, "none")


def test_reviews_v3_gives_up_on_a_3s_delay_after_2_5s():
    fault = {"service": "ratings", "user": "jason", "delay": {"fixed_delay": "3s"}}
    objects = scenario_objects(SERVICES, user_route=dict(JASON_V2, subset="v3"), fault=fault)
    jason = predict(objects, user="jason")
    assert (jason["outcome"], jason["latency_s"]) == ("ratings_unavailable", 2.5)


@pytest.mark.parametrize("kwargs,expected", [
    ({"weights": {"reviews": {"v1": 50, "v3": 40}}}, "weights.reviews: must sum to 100"),
    ({"weights": {"reviews": {"v1": -1, "v3": 101}}}, "weights.reviews.v1: must be an integer >= 0 (got -1)"),
    ({"weights": {"nope": {"v1": 100}}}, "weights.nope: is not one of the services"),
    ({"user_route": {"service": "revues", "user": "jason", "subset": "v2"}}, "user_route.service: is not one"),
    ({"user_route": {"service": "reviews", "subset": "v2"}}, "the user route has no user: set the user the role sends to reviews v2"),
    ({"fault": {"service": "ratings", "user": "jason"}}, "fault: give delay and/or abort"),
    ({"fault": {"service": "ratings", "delay": {"fixed_delay": "7s"}}}, "the fault has no user: set the user whose requests to ratings"),
    ({"fault": {"service": "ratings", "user": "jason", "delay": {"fixed_delay": "7 s"}}},
     "services[ratings].routes[1] (VirtualService ratings): spec.http[0].fault.delay.fixedDelay: must be a duration"),
    ({"fault": {"service": "ratings", "user": "jason", "delay": {"percentage": 100}}},
     "fault.delay.fixed_delay: is required"),
    ({"fault": {"service": "ratings", "user": "jason", "delay": {"fixed_delay": "7s", "percentage": "all"}}},
     "fault.delay.percentage: must be a number (got 'all')"),
    ({"fault": {"service": "ratings", "user": "jason", "abort": {"http_status": 500, "percent": 12.5}}},
     "fault.abort.percent: must be an integer (got 12.5)"),
    ({"fault": {"service": "ratings", "user": "jason", "abort": {"status": 500}}}, "fault.abort.status: unknown key"),
    ({"user_match": "query"}, "user_match: must be one of header, cookie, cookie-0.8"),
])
def test_bad_variables_are_reported_with_their_path(kwargs, expected):
    with pytest.raises(AnsibleFilterError) as caught:
        scenario_objects(SERVICES, **kwargs)
    assert expected in str(caught.value)


@pytest.mark.parametrize("services,expected", [
    ([], "services: must be a non-empty list"),
    ([{"subsets": ["v1"]}], "services[0]: must be a mapping with name and subsets"),
    ([{"name": "a", "subsets": ["v1"]}, {"name": "a", "subsets": ["v1"]}], "services[1].name: is listed twice"),
    ([{"name": "a", "subsets": "v1"}], "services[a].subsets: must be a list"),
    ([{"name": "a", "subsets": ["V_1"]}], "services[a].subsets[0].name: must be a DNS-1123 label"),
])
def test_bad_services_are_reported_with_their_path(services, expected):
    with pytest.raises(AnsibleFilterError) as caught:
        scenario_objects(services)
    assert expected in str(caught.value)
