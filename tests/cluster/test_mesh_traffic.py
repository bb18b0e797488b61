"""Every scenario proven by real traffic: istiod + upstream Envoy + our BookInfo (scripts/mesh).

Each test applies a scenario playbook to the mesh's namespace while watching istiod push it
(/debug/syncz), then views the product page as jason and as an anonymous reader until the new
behaviour holds for several rounds in a row (bounded), and checks what they see. Propagation (API
server's last write -> every Envoy ACKed, from the audit log and syncz; playbook exit -> first page
view with the new behaviour) is printed and written to tests/output/mesh-propagation.json.

The tests run in file order (each one's wait is for its own target state, so the order only changes
what they wait from). The mesh is started if needed (istiod is compiled once, many minutes) and stopped
at the end only if these tests started it.
"""

import datetime
import json
import math
import os
import re
import sys
import time

import pytest

from ansible_run import ROOT, run_playbook

sys.path.insert(0, os.path.join(ROOT, "tests"))

from mesh import client, control  # noqa: E402
from testenv import cluster as testenv  # noqa: E402

PROPAGATION_TIMEOUT = 30.0
RESULTS = os.path.join(ROOT, "tests", "output", "mesh-propagation.json")
MEASURED = {}


@pytest.fixture(scope="module")
def mesh():
    state = control.up()
    yield state
    _write_results(state)
    if state["started"]:
        control.down()


def _write_results(state):
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump({"istio": state["istio"], "envoy": state["envoy"], "startup": state["timings"],
                   "scenarios": MEASURED}, f, indent=1)


def apply(mesh, scenario, **variables):
    """Runs the playbook while watching istiod push it. Returns (monotonic end of the playbook,
    number of changed tasks, seconds from the API server's last write to every proxy's ACK)."""
    offset = testenv.audit_offset()
    with control.PushWatch(mesh["namespace"]) as watch:
        result = run_playbook(os.path.join(ROOT, "playbooks", scenario.replace("-", "_") + ".yml"),
                              dict(variables, servicemesh_namespace=mesh["namespace"],
                                   servicemesh_kubeconfig=mesh["kubeconfig"]))
        ended = time.monotonic()
    assert not result.failed, result.proc.stdout[-4000:]
    writes = [e["time"] for e in testenv.audit_events(since_offset=offset)
              if e["namespace"] == mesh["namespace"] and e["api_group"] == "networking.istio.io"
              and e["verb"] in ("create", "update", "patch") and (e["code"] or 500) < 300]
    write_to_ack = None
    if writes and watch.acked_at is not None:
        last_write = max(datetime.datetime.fromisoformat(w.replace("Z", "+00:00")).timestamp() for w in writes)
        write_to_ack = watch.acked_at - last_write
    return ended, result.changed, write_to_ack


def settle(expect, rounds, timeout=PROPAGATION_TIMEOUT):
    """Views the page as each user in `expect` ({user: allowed outcomes}) until `rounds` rounds in a
    row show only allowed outcomes. Returns (monotonic time of the first view of that run, its views)."""
    deadline = time.monotonic() + timeout
    streak, first, views = 0, None, []
    while True:
        t = time.monotonic()
        seen = [client.request(user) for user in expect]
        if all(o.outcome in expect[o.user] for o in seen):
            if streak == 0:
                first, views = t, []
            streak += 1
            views += seen
            if streak >= rounds:
                return first, views
        else:
            streak = 0
        if time.monotonic() > deadline:
            pytest.fail("after %.0f s readers still see %s, expected %s"
                        % (timeout, ["%s: %s" % (o.user, o.outcome) for o in seen], expect))


def converge(mesh, scenario, expect, rounds, label=None, **variables):
    ended, changed, write_to_ack = apply(mesh, scenario, **variables)
    scenario = label or scenario
    first, views = settle(expect, rounds)
    MEASURED[scenario] = {
        "changed": changed,
        # From the API server's last write of the scenario's objects to every proxy's ACK of the push.
        "api_write_to_all_proxies_acked_s": None if write_to_ack is None else round(write_to_ack, 3),
        # From ansible-playbook's exit to the first page view showing the new behaviour (0: already there).
        "playbook_end_to_observed_s": round(max(0.0, first - ended), 3),
    }
    print("\n%s: %s" % (scenario, MEASURED[scenario]))
    for o in views[:4]:
        print("  " + o.line())
    return views


def by_user(views, user):
    return [o for o in views if o.user == user]


def test_all_v1_nobody_sees_stars(mesh):
    views = converge(mesh, "all-v1", {"jason": {"no stars"}, None: {"no stars"}}, rounds=10)
    assert {o.reviews_served_by for o in views} == {"reviews-v1"}
    assert all(o.status == 200 and not o.details_unavailable for o in views)


def test_user_v2_jason_sees_black_stars_others_none(mesh):
    views = converge(mesh, "user-v2", {"jason": {"black stars"}, None: {"no stars"}}, rounds=10)
    assert {o.reviews_served_by for o in by_user(views, "jason")} == {"reviews-v2"}
    assert {o.reviews_served_by for o in by_user(views, None)} == {"reviews-v1"}


def test_fault_delay_jason_gets_reviews_unavailable_after_about_6s(mesh):
    # The 7 s delay on ratings outlasts productpage's 3 s timeout and its one retry (6 s), although
    # reviews v2 would have waited 10 s: jason's page says reviews are unavailable.
    views = converge(mesh, "fault-delay", {"jason": {"reviews unavailable"}, None: {"no stars"}}, rounds=2)
    for o in by_user(views, "jason"):
        assert 5.5 <= o.elapsed <= 8.0, o.line()
    for o in by_user(views, None):
        assert o.elapsed < 2.0, o.line()


def test_fault_abort_jason_sees_ratings_unavailable(mesh):
    views = converge(mesh, "fault-abort", {"jason": {"ratings unavailable"}, None: {"no stars"}}, rounds=10)
    for o in by_user(views, "jason"):
        assert o.reviews_served_by == "reviews-v2" and o.elapsed < 2.0, o.line()


def test_a_fault_on_reviews_fires_for_jason_and_keeps_him_on_v2(mesh):
    # fault_delay_service=reviews: the delay goes into jason's own route to reviews v2. 1 s stays below
    # productpage's 3 s timeout, so every page jason gets shows v2's black stars, a second late.
    views = converge(mesh, "fault-delay", {"jason": {"black stars"}, None: {"no stars"}}, rounds=3,
                     label="fault-delay-on-reviews", fault_delay_service="reviews", fault_delay_fixed_delay="1s")
    for o in by_user(views, "jason"):
        assert o.reviews_served_by == "reviews-v2" and 0.95 <= o.elapsed < 2.5, o.line()
    for o in by_user(views, None):
        assert o.elapsed < 0.9, o.line()


def test_shift_50_v3_splits_within_binomial_tolerance(mesh):
    n = 200
    converge(mesh, "shift-50-v3", {"jason": {"no stars", "red stars"}, None: {"no stars", "red stars"}}, rounds=5)
    outcomes = [client.request(None).outcome for _view in range(n)]
    red = outcomes.count("red stars")
    assert red + outcomes.count("no stars") == n, outcomes
    # Binomial(200, 0.5): mean 100, sd 7.07; 4 sd leaves a false failure once in ~16000 runs.
    tolerance = 4 * math.sqrt(n * 0.25)
    MEASURED["shift-50-v3"]["split"] = {"requests": n, "v3_red_stars": red, "v1_no_stars": n - red}
    print("  split over %d: %d red stars (v3), %d no stars (v1)" % (n, red, n - red))
    assert abs(red - n / 2) <= tolerance, "%d of %d went to v3" % (red, n)


def test_envoy_accepted_every_update(mesh):
    from mesh import envoy, topology

    for w in topology.WORKLOADS:
        assert envoy.rejections(w) == {}, w.name
        dump = json.dumps(envoy.config_dump(w))
        istio_only = re.findall(r'"(?:name|@type)": "(?:type\.googleapis\.com/)?(istio\.[\w.]+)"', dump)
        assert istio_only == [], "Istio-only extensions reached %s: %s" % (w.name, sorted(set(istio_only)))
