"""The predict_outcome filter (its documentation and a playbook run are in test_simulate_route.py)."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ack.servicemesh.plugins.filter.predict_outcome import FilterModule as PredictFilters

predict_outcome = PredictFilters().filters()["predict_outcome"]


def reviews_for_jason(subset):
    return [{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "reviews"},
             "spec": {"hosts": ["reviews"], "http": [
                 {"match": [{"headers": {"end-user": {"exact": "jason"}}}],
                  "route": [{"destination": {"host": "reviews", "subset": subset}}]},
                 {"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]}}]


def slow_ratings(delay):
    return [{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "ratings"},
             "spec": {"hosts": ["ratings"], "http": [
                 {"fault": {"delay": {"fixedDelay": delay, "percentage": {"value": 100}}},
                  "route": [{"destination": {"host": "ratings", "subset": "v1"}}]}]}}]


def test_predict_outcome_filter():
    objects = reviews_for_jason("v2") + slow_ratings("7s")
    assert predict_outcome(objects, user="jason")["outcome"] == "reviews_unavailable"
    assert predict_outcome(objects)["stars"] == "none"
    assert predict_outcome(reviews_for_jason("v3") + slow_ratings("3s"), "jason")["latency_s"] == 2.5


def test_bad_input_becomes_a_filter_error_with_the_field():
    with pytest.raises(AnsibleFilterError) as caught:
        predict_outcome(slow_ratings("7 seconds"), user="jason")
    assert "fixedDelay" in str(caught.value) and "'7 seconds'" in str(caught.value)
