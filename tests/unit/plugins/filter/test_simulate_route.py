"""The simulate_route filter; the documentation and playbook tests cover predict_outcome too (they share a play)."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ack.servicemesh.plugins.filter.simulate_route import FilterModule as SimulateFilters

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COLLECTIONS = os.path.join(REPO, "build", "collections")
BIN = os.path.dirname(sys.executable)

simulate_route = SimulateFilters().filters()["simulate_route"]


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


def test_simulate_route_filter():
    jason = simulate_route(reviews_for_jason("v2"), {"host": "reviews", "user": "jason"})
    assert [d["subset"] for d in jason["destinations"]] == ["v2"]
    other = simulate_route(reviews_for_jason("v2"), {"host": "reviews"}, namespace="default")
    assert [d["subset"] for d in other["destinations"]] == ["v1"]


def test_bad_input_becomes_a_filter_error_with_the_field():
    with pytest.raises(AnsibleFilterError) as caught:
        simulate_route(reviews_for_jason("v2"), {"host": "reviews", "port": "http"})
    assert "request.port" in str(caught.value) and "'http'" in str(caught.value)


def _ansible(tool):
    path = os.path.join(BIN, tool)
    if not os.path.exists(path):
        path = shutil.which(tool)
    if not path:
        pytest.skip("%s is not installed" % tool)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1")
    return path, env


@pytest.mark.parametrize("name", ["simulate_route", "predict_outcome"])
def test_documentation_parses(name):
    tool, env = _ansible("ansible-doc")
    proc = subprocess.run([tool, "-t", "filter", "--json", "ack.servicemesh." + name], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)["ack.servicemesh." + name]
    assert doc["doc"]["name"] == name
    assert "_input" in doc["doc"]["options"]
    assert doc["return"]["_value"]["type"] == "dict"
    assert doc["examples"].strip()


def test_filters_run_in_a_playbook(tmp_path):
    tool, env = _ansible("ansible-playbook")
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False,
        "vars": {"objects": reviews_for_jason("v2") + slow_ratings("7s")},
        "tasks": [{"ansible.builtin.assert": {"that": [
            "(objects | ack.servicemesh.simulate_route({'host': 'reviews', 'user': 'jason'})).destinations[0].subset"
            " == 'v2'",
            "(objects | ack.servicemesh.predict_outcome(user='jason')).outcome == 'reviews_unavailable'",
            "(objects | ack.servicemesh.predict_outcome).outcome == 'ok'",
        ]}}],
    }]))
    proc = subprocess.run([tool, "-i", "localhost,", "-c", "local", str(playbook)], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "failed=0" in proc.stdout
