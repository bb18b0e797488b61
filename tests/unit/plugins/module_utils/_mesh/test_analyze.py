import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import analyze as analyze_module
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.analyze import analyze, apply_proposed
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

from ansible_collections.ack.servicemesh.tests.reference import bookinfo

# BookInfo's rules as Istio's samples state them (our own reference data, tests/reference/bookinfo.py).
samples = bookinfo.documents
sample_names = bookinfo.names


def vs(name="reviews", http=None, hosts=None, namespace=None, created=None, gateways=None, **routes):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if created:
        meta["creationTimestamp"] = created
    spec = dict(hosts=hosts or [name], **routes)
    if http is not None:
        spec["http"] = http
    if gateways:
        spec["gateways"] = gateways
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": meta, "spec": spec}


def dr(host="reviews", names=("v1", "v2", "v3"), name=None, namespace=None):
    meta = {"name": name or host}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": meta,
            "spec": {"host": host, "subsets": [{"name": n, "labels": {"version": n}} for n in names]}}


def to(subset=None, host="reviews", weight=None):
    dest = {"destination": {"host": host}}
    if subset:
        dest["destination"]["subset"] = subset
    if weight is not None:
        dest["weight"] = weight
    return dest


def codes(findings):
    return [(f["code"], f["severity"], f["field"]) for f in findings]


JASON = {"headers": {"end-user": {"exact": "jason"}}}


# The samples are clean ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sample_names("current"))
def test_current_samples_have_no_findings(name):
    rules = samples("current/destination-rule-all.yaml")
    assert analyze(samples(name), rules) == []


def test_all_scenarios_composed_have_no_findings():
    rules = samples("current/destination-rule-all.yaml")
    objects = samples("current/virtual-service-all-v1.yaml")
    for change in ("virtual-service-reviews-test-v2.yaml", "virtual-service-ratings-test-delay.yaml",
                   "virtual-service-ratings-test-abort.yaml", "virtual-service-reviews-50-v3.yaml"):
        objects = apply_proposed(objects, samples("current/" + change))
        assert len(objects) == 4  # each change replaces an object of the same name
        assert analyze(objects, rules) == []


def test_istio_08_samples_report_only_their_fault_percent_fields():
    rules = samples("current/destination-rule-all.yaml")
    assert analyze(samples("istio-0.8/route-rule-all-v1.yaml"), samples("istio-0.8/route-rule-all-v1.yaml")) == []
    assert codes(analyze(samples("istio-0.8/route-rule-ratings-test-delay.yaml"), rules)) == [
        ("ACK1002", "warning", "spec.http[0].fault.delay.percent")]
    abort = analyze(samples("istio-0.8/route-rule-ratings-test-abort.yaml"), rules)
    assert codes(abort) == [("ACK1003", "error", "spec.http[0].fault.abort.percent")]
    assert abort[0]["object"] == "VirtualService/default/ratings"
    assert "never fires" in abort[0]["message"]


# IST0101 --------------------------------------------------------------------------------------------------

def test_unknown_subset_is_an_error():
    findings = analyze([vs(http=[{"route": [to("v1", weight=90), to("v4", weight=10)]}])], [dr()])
    assert codes(findings) == [("IST0101", "error", "spec.http[0].route[1].destination.subset")]
    assert "v4" in findings[0]["message"] and "DestinationRule/default/reviews" in findings[0]["message"]


def test_subset_without_any_destination_rule_is_an_error():
    findings = analyze([vs(http=[{"route": [to("v1")]}])], [dr("ratings")])
    assert codes(findings) == [("IST0101", "error", "spec.http[0].route[0].destination.subset")]
    assert "no DestinationRule" in findings[0]["message"]


def test_no_subset_needs_no_destination_rule():
    assert analyze([vs(http=[{"route": [to()]}])], []) == []


def test_destination_rule_in_another_namespace_does_not_define_the_short_host():
    findings = analyze([vs(http=[{"route": [to("v1")]}])], [dr(namespace="other")])
    assert [f["code"] for f in findings] == ["IST0101"]
    assert analyze([vs(http=[{"route": [to("v1", host="reviews.other.svc.cluster.local")]}])],
                   [dr(namespace="other")]) == []


def test_mirror_and_tcp_destinations_are_checked():
    objects = [vs(http=[{"route": [to("v1")], "mirror": {"host": "reviews", "subset": "v9"}}],
                  tcp=[{"route": [to("v8")]}])]
    assert codes(analyze(objects, [dr()])) == [
        ("IST0101", "error", "spec.http[0].mirror.subset"),
        ("IST0101", "error", "spec.tcp[0].route[0].destination.subset")]


# IST0109 --------------------------------------------------------------------------------------------------

def test_two_mesh_virtual_services_for_one_host_flag_the_newer():
    older = vs("reviews", http=[{"route": [to("v1")]}], created="2024-01-01T00:00:00Z")
    newer = vs("reviews-canary", hosts=["reviews.default.svc.cluster.local"], http=[{"route": [to("v2")]}],
               created="2024-02-01T00:00:00Z")
    findings = analyze([newer, older], [dr()])
    assert codes(findings) == [("IST0109", "error", "spec.hosts[0]")]
    assert findings[0]["object"] == "VirtualService/default/reviews-canary"
    assert "claimed by VirtualService/default/reviews, which wins" in findings[0]["message"]


def test_gateway_virtual_services_may_share_a_host():
    public = vs("public", hosts=["reviews"], gateways=["bookinfo-gateway"], http=[{"route": [to("v1")]}])
    assert analyze([vs(http=[{"route": [to("v1")]}]), public], [dr()]) == []


# IST0130 / IST0131 ----------------------------------------------------------------------------------------

def test_routes_after_a_catch_all_are_unreachable():
    http = [{"match": [JASON], "route": [to("v2")]}, {"route": [to("v1")]}, {"match": [JASON], "route": [to("v3")]},
            {"route": [to("v3")]}]
    assert codes(analyze([vs(http=http)], [dr()])) == [("IST0130", "warning", "spec.http[2]"),
                                                       ("IST0130", "warning", "spec.http[3]")]


def test_a_match_on_every_path_is_a_catch_all():
    http = [{"match": [{"uri": {"prefix": "/"}}], "route": [to("v1")]}, {"match": [JASON], "route": [to("v2")]}]
    assert codes(analyze([vs(http=http)], [dr()])) == [("IST0130", "warning", "spec.http[1]")]


def test_duplicate_and_narrower_matches_are_never_hit():
    http = [
        {"match": [JASON], "route": [to("v2")]},
        {"match": [dict(JASON, uri={"prefix": "/api"}), {"headers": {"end-user": {"exact": "mary"}}}],
         "route": [to("v3")]},
        {"match": [{"headers": {"End-User": {"exact": "jason"}}}], "route": [to("v3")]},
        {"match": [{"uri": {"prefix": "/api"}}], "route": [to("v1")]},
        {"match": [{"uri": {"exact": "/api/v1"}}], "route": [to("v1")]},
        {"route": [to("v1")]},
    ]
    assert codes(analyze([vs(http=http)], [dr()])) == [
        ("IST0131", "warning", "spec.http[1].match[0]"),
        ("IST0131", "warning", "spec.http[2].match[0]"),
        ("IST0131", "warning", "spec.http[4].match[0]")]


def test_regex_shadows_exact_values_it_matches():
    http = [{"match": [{"headers": {"end-user": {"regex": "ja.*"}}}], "route": [to("v2")]},
            {"match": [JASON], "route": [to("v3")]},
            {"match": [{"headers": {"end-user": {"exact": "mary"}}}], "route": [to("v3")]}]
    assert codes(analyze([vs(http=http)], [dr()])) == [("IST0131", "warning", "spec.http[1].match[0]")]


def test_contradictory_block_never_matches():
    http = [{"match": [{"headers": {"x-test": {"exact": "1"}}, "withoutHeaders": {"x-test": {"exact": "1"}}},
                       {"uri": {"exact": "api"}}], "route": [to("v2")]},
            {"route": [to("v1")]}]
    findings = analyze([vs(http=http)], [dr()])
    assert codes(findings) == [("IST0131", "warning", "spec.http[0].match[0]"),
                               ("IST0131", "warning", "spec.http[0].match[1]")]
    assert "both required and excluded" in findings[0]["message"]


def test_different_case_handling_does_not_shadow():
    http = [{"match": [{"uri": {"prefix": "/api"}}], "route": [to("v2")]},
            {"match": [{"uri": {"prefix": "/API/x"}, "ignoreUriCase": True}], "route": [to("v3")]},
            {"match": [{"uri": {"prefix": "/api/x"}, "withoutHeaders": {"x": {}}}], "route": [to("v3")]}]
    assert codes(analyze([vs(http=http)], [dr()])) == [("IST0131", "warning", "spec.http[2].match[0]")]


@settings(max_examples=50, deadline=None)
@given(before=st.integers(min_value=0, max_value=3), after=st.integers(min_value=1, max_value=3))
def test_every_route_after_a_catch_all_is_reported(before, after):
    http = ([{"match": [{"headers": {"end-user": {"exact": "u%d" % i}}}], "route": [to("v2")]} for i in range(before)]
            + [{"route": [to("v1")]}]
            + [{"match": [{"headers": {"end-user": {"exact": "w%d" % i}}}], "route": [to("v3")]} for i in range(after)])
    findings = analyze([vs(http=http)], [dr()])
    assert codes(findings) == [("IST0130", "warning", "spec.http[%d]" % (before + 1 + i)) for i in range(after)]


# Weights and faults ---------------------------------------------------------------------------------------

def test_weights_not_summing_to_100_warn_or_fail_with_legacy_weights():
    objects = [vs(http=[{"route": [to("v1", weight=1), to("v3", weight=3)]}])]
    findings = analyze(objects, [dr()])
    assert codes(findings) == [("ACK1001", "warning", "spec.http[0].route")]
    assert "v1 25%" in findings[0]["message"] and "v3 75%" in findings[0]["message"]
    assert codes(analyze(objects, [dr()], legacy_weights=True)) == [("ACK1001", "error", "spec.http[0].route")]


def test_several_destinations_without_weights_are_rejected():
    findings = analyze([vs(http=[{"route": [to("v1"), to("v2")]}])], [dr()])
    assert codes(findings) == [("ACK1004", "error", "spec.http[0].route")]


def test_fault_without_percentage_and_catch_all_fault():
    http = [{"match": [JASON], "fault": {"abort": {"httpStatus": 500}}, "route": [to("v1", "ratings")]},
            {"fault": {"delay": {"fixedDelay": "2s", "percentage": {"value": 100}}}, "route": [to("v1", "ratings")]}]
    findings = analyze([vs("ratings", http=http)], [dr("ratings", ["v1"])])
    assert codes(findings) == [("ACK1005", "warning", "spec.http[0].fault.abort"),
                               ("ACK1006", "info", "spec.http[1].fault")]


def test_every_code_is_documented():
    used = set(["IST0101", "IST0109", "IST0130", "IST0131"] + ["ACK100%d" % i for i in range(1, 7)])
    for code in used:
        assert code in analyze_module.__doc__


# Bad input and proposed changes ---------------------------------------------------------------------------

def test_negative_weight_is_bad_input():
    with pytest.raises(MeshError) as caught:
        analyze([vs(http=[{"route": [to("v1", weight=-5), to("v2", weight=105)]}])], [dr()])
    assert "spec.http[0].route[0].weight" in str(caught.value) and "-5" in str(caught.value)


def test_object_without_name_is_bad_input():
    with pytest.raises(MeshError) as caught:
        analyze([{"kind": "VirtualService", "spec": {}}], [])
    assert caught.value.problems[0].field == "virtual_services[0].metadata.name"


def test_apply_proposed_replaces_by_kind_namespace_and_name():
    existing = [vs(http=[{"route": [to("v1")]}]), dr(), vs("reviews", namespace="other", http=[])]
    change = vs(http=[{"route": [to("v9")]}])
    change["apiVersion"] = "networking.istio.io/v1alpha3"
    merged = apply_proposed(existing, [change, dr("ratings", ["v1"])])
    assert merged[0] is change and merged[1] is existing[1] and merged[2] is existing[2]
    assert merged[3]["metadata"]["name"] == "ratings"
    assert existing[0]["spec"]["http"][0]["route"][0]["destination"]["subset"] == "v1"  # input untouched
    findings = analyze(merged, merged)
    assert codes(findings) == [("IST0101", "error", "spec.http[0].route[0].destination.subset")]
