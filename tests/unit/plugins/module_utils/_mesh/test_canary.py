"""The canary's pure rules: steps, weights, state, gate templates and verdicts."""

import json
import math

import pytest

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import canary
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problems


def _steps(value):
    problems = Problems()
    return canary.validate_steps(value, problems), [str(p) for p in problems.items]


def test_steps_must_increase_and_end_at_100():
    assert _steps([10, 25, 50, 100]) == ([10, 25, 50, 100], [])
    assert _steps(["5", 100]) == ([5, 100], [])
    _clean, errors = _steps([10, 10, 100])
    assert errors == ["steps[1]: must be above the step before it (10) (got 10)"]
    _clean, errors = _steps([10, 50])
    assert errors == ["steps[1]: the last step must be 100 (a full promotion) (got 50)"]
    _clean, errors = _steps([0, 101])
    assert errors == ["steps[0]: must be an integer from 1 to 100 (got 0)",
                      "steps[1]: must be an integer from 1 to 100 (got 101)"]
    _clean, errors = _steps([])
    assert errors[0].startswith("steps: is required")


def test_remaining_steps_never_skip_and_resume_at_the_current_weight():
    assert canary.remaining_steps([10, 25, 50, 100], 0, resumed=False) == [10, 25, 50, 100]
    assert canary.remaining_steps([10, 25, 50, 100], 25, resumed=False) == [50, 100]
    # A resumed canary checks the weight it stopped at again before going on.
    assert canary.remaining_steps([10, 25, 50, 100], 25, resumed=True) == [25, 50, 100]
    assert canary.remaining_steps([10, 25, 50, 100], 30, resumed=True) == [30, 50, 100]
    assert canary.remaining_steps([10, 25, 50, 100], 100, resumed=False) == []


def test_step_destinations_keep_host_and_port():
    template = {"host": "reviews", "subset": "v1", "port": {"number": 9080}}
    assert canary.step_destinations(template, "v1", "v3", 10) == [
        {"destination": {"host": "reviews", "port": {"number": 9080}, "subset": "v1"}, "weight": 90},
        {"destination": {"host": "reviews", "port": {"number": 9080}, "subset": "v3"}, "weight": 10},
    ]
    assert canary.step_destinations(template, "v1", "v3", 100) == [
        {"destination": {"host": "reviews", "port": {"number": 9080}, "subset": "v3"}}]
    assert template["subset"] == "v1"


def test_weights_and_share_of_routes():
    lone = {"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}
    split = {"route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 3},
                       {"destination": {"host": "reviews", "subset": "v3"}, "weight": 1}]}
    assert canary.subset_weights(lone) == {"v1": 100}
    assert canary.canary_share(lone, "v3") == 0
    assert canary.canary_share(split, "v3") == 25


def test_state_round_trips_and_is_removed_cleanly():
    obj = {"metadata": {"name": "reviews"}}
    state = canary.new_state({"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}, "v1", "v3")
    canary.write_state(obj, state)
    assert json.loads(obj["metadata"]["annotations"][canary.STATE_ANNOTATION])["canary"] == "v3"
    assert canary.read_state(obj) == state
    canary.write_state(obj, None)
    assert "annotations" not in obj["metadata"]
    other = {"metadata": {"annotations": {"keep": "me", canary.STATE_ANNOTATION: "{}"}}}
    with pytest.raises(MeshError, match="not a canary state"):
        canary.read_state(other)
    canary.write_state(other, None)
    assert other["metadata"]["annotations"] == {"keep": "me"}


def test_templates_select_the_canary_subset_of_the_service():
    query = canary.render_template("envoy_success_rate", "reviews", "bookinfo", "v3", "30s")
    assert 'cluster_name=~"outbound\\\\|[0-9]+\\\\|v3\\\\|reviews\\\\.bookinfo\\\\.svc\\\\.cluster\\\\.local"' \
        in query
    assert "[30s]" in query and "{window}" not in query
    istio = canary.render_template("latency_p99", "reviews", "bookinfo", "v3", "1m")
    assert istio.startswith("histogram_quantile(0.99, ")
    assert 'destination_service_name="reviews"' in istio and 'destination_version="v3"' in istio


def test_gates_are_normalized_and_every_problem_reported():
    problems = Problems()
    gates = canary.normalize_gates([
        {"name": "ok", "template": "envoy_success_rate", "window": "1m"},
        {"name": "p99", "template": "latency_p99", "threshold": 800},
        {"name": "probe", "url": "http://127.0.0.1:1/health", "expect_status": [200]},
        {"template": "nope"},
        {"query": "up"},
        {"template": "success_rate", "window": "soon"},
    ], "reviews", "bookinfo", "v3", problems)
    assert [g["name"] for g in gates] == ["ok", "p99", "probe", "gate-4"]
    assert gates[0]["comparison"] == ">=" and gates[0]["threshold"] == 0.99
    assert gates[1]["comparison"] == "<=" and gates[1]["threshold"] == 800.0
    assert gates[2]["type"] == "http"
    messages = [str(p) for p in problems.items]
    assert messages[0].startswith("gates[3].template: must be one of envoy_latency_p99")
    assert "gates[4].comparison: is required for a query" in messages[1]
    assert messages[2] == "gates[4].threshold: is required for a query"
    assert messages[3] == "gates[5].window: must be a PromQL duration such as 30s or 1m (got 'soon')"


def test_metric_verdicts_and_no_data():
    gate = {"comparison": ">=", "threshold": 0.99, "no_data": "fail"}
    assert canary.judge_metric(gate, 0.995) == (True, "0.995, needs >= 0.99")
    assert canary.judge_metric(gate, 0.8)[0] is False
    assert canary.judge_metric(gate, None) == (False, "no data (counted as failed)")
    assert canary.judge_metric(gate, math.nan)[0] is False
    assert canary.judge_metric(dict(gate, no_data="pass"), None)[0] is True


def test_probe_verdicts():
    gate = {"expect_status": [200], "max_latency_ms": 100}
    assert canary.judge_probe(gate, 200, 20)[0] is True
    assert canary.judge_probe(gate, 503, 20) == (False, "status 503, expected [200]")
    assert canary.judge_probe(gate, 200, 250) == (False, "latency 250 ms above 100 ms")
    assert canary.judge_probe(gate, None, 0) == (False, "no answer")


def test_a_gate_fails_only_after_its_limit_in_a_row():
    gate = {"name": "sr", "failure_limit": 2}
    tracker = canary.GateTracker([gate])
    tracker.record(gate, 0.5, False, "")
    assert tracker.failed() is None
    tracker.record(gate, 1.0, True, "")
    tracker.record(gate, 0.5, False, "")
    assert tracker.failed() is None
    check = tracker.record(gate, 0.5, False, "")
    assert tracker.failed() is gate and check["failed_in_a_row"] == 2


def test_failure_message_names_gate_value_threshold_and_step():
    gate = {"name": "sr", "type": "prometheus", "query": "q", "comparison": ">=", "threshold": 0.99}
    check = {"value": 0.8123, "detail": "0.8123, needs >= 0.99", "failed_in_a_row": 2}
    message = canary.failure_message(gate, check, 10, 0, 4)
    assert "gate 'sr' failed at step 1 of 4 (canary weight 10 %)" in message
    assert "value 0.8123" in message and "threshold >= 0.99" in message and "metric: q" in message


def test_plan_problems_need_prometheus_for_queries():
    params = {"host": "reviews", "steps": [50, 100], "stable_subset": "v1", "canary_subset": "v1",
              "pause": 1, "interval": 0, "gates": [{"template": "envoy_success_rate", "window": "1m"}],
              "prometheus": None}
    with pytest.raises(MeshError) as err:
        canary.plan_problems(params)
    text = str(err.value)
    assert "canary_subset: must differ from stable_subset (got 'v1')" in text
    assert "interval: must be above 0 seconds (got 0)" in text
    assert "prometheus.url: is required when a gate queries Prometheus" in text
