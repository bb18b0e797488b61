"""Issue 12 by real traffic (istiod + Envoy, scripts/mesh): browser cookies match, an unscoped fault fires.

Run under the mesh lock: ``flock /tmp/ack-mesh.lock bash -c 'scripts/mesh up && pytest ...; scripts/mesh down'``.
"""

import http.client
import os
import sys
import time

import pytest

from ansible_run import ROOT, run_module, run_playbook

sys.path.insert(0, os.path.join(ROOT, "tests"))

from mesh import client, control, topology  # noqa: E402

TIMEOUT = 30.0


@pytest.fixture(scope="module")
def mesh():
    state = control.up()
    yield state
    if state["started"]:
        control.down()


def page(cookie):
    """One product page view with this Cookie header, as a browser sends it."""
    workload = topology.workload("productpage-v1")
    headers = {"User-Agent": "ack-mesh-client"}
    if cookie:
        headers["Cookie"] = cookie
    started = time.monotonic()
    conn = http.client.HTTPConnection(workload.ip, topology.APP_PORT, timeout=client.PAGE_TIMEOUT)
    try:
        conn.request("GET", "/productpage", headers=headers)
        resp = conn.getresponse()
        body, status = resp.read().decode("utf-8", "replace"), resp.status
    finally:
        conn.close()
    return client.parse(cookie, status, time.monotonic() - started, body)


def settle(expect, rounds=5):
    """Views the page with each cookie of ``expect`` until ``rounds`` rounds in a row see what it says."""
    deadline = time.monotonic() + TIMEOUT
    streak = 0
    while True:
        seen = dict((cookie, page(cookie)) for cookie in expect)
        if all(seen[c].outcome == outcome for c, outcome in expect.items()):
            streak += 1
            if streak >= rounds:
                return seen
        else:
            streak = 0
        if time.monotonic() > deadline:
            outcomes = dict((c, o.outcome) for c, o in seen.items())
            pytest.fail("after %.0f s: %s, expected %s" % (TIMEOUT, outcomes, expect))


def scenario(mesh, name, **extra):
    result = run_playbook(os.path.join(ROOT, "playbooks", name + ".yml"),
                          dict(servicemesh_namespace=mesh["namespace"], servicemesh_kubeconfig=mesh["kubeconfig"],
                               **extra))
    assert not result.failed, result.proc.stdout[-4000:]


def test_cookie_mode_routes_jason_whatever_cookies_the_browser_sends_before_his(mesh):
    scenario(mesh, "user-v2", servicemesh_user_match="cookie")
    seen = settle({"user=jason": "black stars", "session=abc; user=jason": "black stars",
                   "session=abc; user=jason; theme=dark": "black stars", "session=abc; xuser=jason": "no stars",
                   None: "no stars"})
    assert seen["session=abc; user=jason"].reviews_served_by == "reviews-v2"


def test_the_08_regex_misses_jason_after_a_space_as_istio_08_did(mesh):
    scenario(mesh, "user-v2", servicemesh_user_match="cookie-0.8")
    settle({"user=jason": "black stars", "session=abc;user=jason": "black stars",
            "session=abc; user=jason": "no stars"})


def test_an_unscoped_fault_fires_for_everyone_and_goes_without_trace(mesh):
    scenario(mesh, "all-v1")
    connection = {"kubeconfig": mesh["kubeconfig"]}
    target = {"host": "details", "namespace": mesh["namespace"]}
    res = run_module("ack.servicemesh.fault_injection", dict(target, allow_unscoped_fault=True,
                                                             abort={"http_status": 503}), connection=connection)[0]
    assert not res.get("failed"), res.get("msg")
    http = res["result"]["spec"]["http"]
    assert len(http) == 1 and "match" not in http[0] and http[0]["fault"]["abort"]["httpStatus"] == 503
    seen = settle({"user=jason": "no stars", None: "no stars"}, rounds=1)
    deadline = time.monotonic() + TIMEOUT
    while not all(o.details_unavailable for o in seen.values()):
        assert time.monotonic() < deadline, dict((c, o.line()) for c, o in seen.items())
        seen = dict((cookie, page(cookie)) for cookie in ("user=jason", None))
    res = run_module("ack.servicemesh.fault_injection", dict(target, state="absent"), connection=connection)[0]
    assert res["changed"] and "fault" not in res["result"]["spec"]["http"][0]
    deadline = time.monotonic() + TIMEOUT
    while any(o.details_unavailable for o in seen.values()):
        assert time.monotonic() < deadline, dict((c, o.line()) for c, o in seen.items())
        seen = dict((cookie, page(cookie)) for cookie in ("user=jason", None))
