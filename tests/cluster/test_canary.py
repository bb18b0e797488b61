"""Canary releases proven by real traffic: istiod + Envoy + Prometheus of the mesh lab (scripts/mesh).

A steady load (tests/mesh/load.py) calls reviews through productpage's Envoy the whole time, and the
canary's gate reads Envoy's own statistics of that proxy from a real Prometheus that scrapes it every
second. Each test starts from all-v1 and asserts by the weights the API server holds and by the traffic
the load saw: a healthy v3 is promoted through every step, a v3 failing a fifth of its requests is rolled
back at the first gate, and a run killed mid-way is resumed from the weight the cluster holds.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from ansible_run import ROOT, ansible_env, run_playbook

sys.path.insert(0, os.path.join(ROOT, "tests"))

from mesh import control, load, prometheus, topology  # noqa: E402

STATE_ANNOTATION = "servicemesh.ack.io/canary"
V3 = topology.workload("reviews-v3")
# Short steps for a test; the gate needs a few scrapes of the new weights (one per second).
GATE = [{"name": "success-rate", "template": "envoy_success_rate", "window": "5s", "threshold": 0.95,
         "failure_limit": 2}]


@pytest.fixture(scope="module")
def mesh():
    state = control.up()
    yield state
    _misbehave(fail=0)
    if state["started"]:
        control.down()


def _misbehave(fail=0.0, delay_ms=0):
    url = "%s/control?fail=%s&delay_ms=%s" % (V3.app_url, fail, delay_ms)
    with urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310 - loopback only
        return json.loads(resp.read())


def _vars(mesh, **extra):
    base = {"servicemesh_namespace": mesh["namespace"], "servicemesh_kubeconfig": mesh["kubeconfig"],
            "canary_prometheus_url": mesh["prometheus"], "canary_gates": GATE, "canary_interval": 1.5}
    base.update(extra)
    return base


def _reviews(cluster, mesh):
    vs = cluster.get("VirtualService", mesh["namespace"], "reviews")
    default = vs["spec"]["http"][-1]
    weights = {}
    for item in default["route"]:
        weights[item["destination"]["subset"]] = item.get("weight", 100)
    return weights, (vs["metadata"].get("annotations") or {}).get(STATE_ANNOTATION)


def _all_v1(mesh):
    _misbehave(fail=0)
    result = run_playbook(os.path.join(ROOT, "playbooks", "all-v1.yml"),
                          {"servicemesh_namespace": mesh["namespace"], "servicemesh_kubeconfig": mesh["kubeconfig"]})
    assert not result.failed, result.proc.stdout[-3000:]


def _task(result):
    return result.task("ack.servicemesh.canary : Shift traffic to the canary, checking the gates at every step")


def _descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill_tree(pid):
    """SIGKILL a process and all it started: ansible's workers run in sessions of their own."""
    for victim in [pid] + _descendants(pid):
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _only(records, workload, last_seconds=1.0):
    tail = [r for r in records if r[0] >= records[-1][0] - last_seconds]
    return tail and all(r[2] == workload and r[1] == 200 for r in tail)


def test_prometheus_scrapes_every_envoy(mesh):
    assert mesh["prometheus"] == prometheus.url()
    assert prometheus.ready()[0]
    assert prometheus.query('count(up{job="envoy"} == 1)') == len(topology.WORKLOADS)


def test_a_healthy_canary_is_promoted_through_every_step(cluster, mesh):
    _all_v1(mesh)
    with load.Load() as traffic:
        time.sleep(1.0)
        result = run_playbook(os.path.join(ROOT, "playbooks", "canary.yml"),
                              _vars(mesh, canary_steps=[25, 50, 100], canary_pause=4.5))
        time.sleep(1.5)
    assert not result.failed, result.proc.stdout[-4000:]
    task = _task(result)
    assert task["outcome"] == "promoted"
    assert [s["weight"] for s in task["steps"]] == [25, 50, 100]
    assert all(c["passed"] or c["failed_in_a_row"] < 2 for s in task["steps"] for c in s["checks"])
    assert any(c["passed"] and c["value"] >= 0.95 for c in task["steps"][0]["checks"])
    assert _reviews(cluster, mesh) == ({"v3": 100}, None)
    # The load saw v3 take over: some of it during the steps, all of it at the end.
    assert 0 < load.Load.share(traffic.records, "reviews-v3") < 1
    assert _only(traffic.records, "reviews-v3")


def test_a_failing_canary_is_rolled_back_at_the_first_gate(cluster, mesh):
    _all_v1(mesh)
    _misbehave(fail=0.2)
    with load.Load() as traffic:
        time.sleep(1.0)
        started = time.monotonic()
        result = run_playbook(os.path.join(ROOT, "playbooks", "canary.yml"),
                              _vars(mesh, canary_steps=[20, 50, 100], canary_pause=20))
        ended = time.monotonic()
        time.sleep(1.5)
    assert result.failed
    failure = _task(result)
    assert failure["outcome"] == "rolled_back"
    assert failure["failed_gate"]["step"] == 20 and failure["failed_gate"]["gate"] == "success-rate"
    assert failure["failed_gate"]["value"] < 0.95
    assert "gate 'success-rate' failed at step 1 of 3 (canary weight 20 %)" in failure["msg"]
    assert "threshold >= 0.95" in failure["msg"]
    assert [s["weight"] for s in failure["steps"]] == [20]
    # The gate ended the step long before its 20 s pause (checks every 1.5 s), and left nothing behind.
    assert failure["failed_gate"]["failed_in_a_row"] == 2
    assert len(failure["steps"][0]["checks"]) < 20 / 1.5
    assert _reviews(cluster, mesh) == ({"v1": 100}, None)
    during = traffic.between(started, ended)
    errors = [r for r in during if r[2] == "reviews-v3" and r[1] == 500]
    assert errors, "the bad canary got no traffic at all"
    assert _only(traffic.records, "reviews-v1")


def test_a_killed_canary_resumes_from_the_weight_in_the_cluster(cluster, mesh):
    _all_v1(mesh)
    playbook = os.path.join(ROOT, "playbooks", "canary.yml")
    extra = _vars(mesh, canary_steps=[10, 25, 50, 100], canary_pause=3)
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), playbook, "-e", json.dumps(extra)]
    with load.Load() as traffic:
        proc = subprocess.Popen(argv, cwd=ROOT, env=ansible_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while _reviews(cluster, mesh)[0].get("v3") != 25:
                assert time.monotonic() < deadline, "the canary never reached 25 %"
                assert proc.poll() is None, "the canary ended before it was killed"
                time.sleep(0.1)
        finally:
            # A job killed outright (a lost AWX node): nothing gets to roll back.
            _kill_tree(proc.pid)
            proc.wait()
        weights, state = _reviews(cluster, mesh)
        assert weights == {"v1": 75, "v3": 25}
        assert json.loads(state)["start"] == [{"destination": {"host": "reviews", "subset": "v1"}}]

        result = run_playbook(playbook, dict(extra, canary_pause=2))
        time.sleep(1.5)
    assert not result.failed, result.proc.stdout[-4000:]
    task = _task(result)
    assert task["resumed"] is True and task["start_weights"] == {"v1": 100}
    # It checks the weight it was killed at again and never jumps ahead.
    assert [s["weight"] for s in task["steps"]] == [25, 50, 100]
    assert _reviews(cluster, mesh) == ({"v3": 100}, None)
    assert _only(traffic.records, "reviews-v3")


def test_check_mode_prints_the_plan_and_writes_nothing(cluster, mesh):
    _all_v1(mesh)
    before = cluster.get("VirtualService", mesh["namespace"], "reviews")["metadata"]["resourceVersion"]
    result = run_playbook(os.path.join(ROOT, "playbooks", "canary.yml"), _vars(mesh, canary_steps=[50, 100]),
                          check=True)
    assert not result.failed, result.proc.stdout[-3000:]
    task = _task(result)
    assert task["outcome"] == "planned"
    assert [p["weights"] for p in task["plan"]] == [{"v1": 50, "v3": 50}, {"v3": 100}]
    assert [p["anonymous_canary_percent"] for p in task["plan"]] == [50, 100]
    assert cluster.get("VirtualService", mesh["namespace"], "reviews")["metadata"]["resourceVersion"] == before


def test_promote_and_abort_go_straight_to_the_end(cluster, mesh):
    _all_v1(mesh)
    playbook = os.path.join(ROOT, "playbooks", "canary.yml")
    promoted = run_playbook(playbook, _vars(mesh, canary_action="promote", canary_gates=[]))
    assert not promoted.failed, promoted.proc.stdout[-3000:]
    assert _reviews(cluster, mesh) == ({"v3": 100}, None)
    again = run_playbook(playbook, _vars(mesh, canary_action="promote", canary_gates=[]))
    assert again.changed == 0
    aborted = run_playbook(playbook, _vars(mesh, canary_action="abort"))
    assert not aborted.failed and aborted.changed == 0  # no canary in progress: nothing to undo
