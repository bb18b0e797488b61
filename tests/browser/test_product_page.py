"""What the article shows, in a real browser: every scenario read by headless Chromium, in both user-match modes.

Two readers with their own browser profile: jason, who signs in with the page's form (the browser
then holds a session cookie and `user=jason`, and sends them as `session=...; user=jason`), and
nobody, who signs in and out again (the session cookie stays, `user` is gone). They load the
product page through productpage's Envoy. Each scenario playbook is applied with
`servicemesh_user_match` header or cookie; then both readers reload until what they see holds
for several rounds in a row (bounded), and the test checks what the page shows, how long the
reader waited, and for 50-v3 the share of red stars. A screenshot of every reader's last view is
kept in tests/output/browser/, the numbers in tests/output/browser.json.

The cookie-mode tests for jason need a cookie regex that matches `session=...; user=jason` (a
space after the ';'): Istio 0.8's own regex does not.
"""

import json
import math
import os
import time

import pytest

from ansible_run import ROOT, run_playbook
from mesh import browser, control

OUTPUT = os.path.join(ROOT, "tests", "output")
SETTLE_TIMEOUT = 40.0
SPLIT_VIEWS = 100      # per reader, for 50-v3
MEASURED = {}


@pytest.fixture(scope="module")
def mesh():
    missing = browser.available()
    assert missing is None, "the browser tests need %s: run `make browser-deps`" % missing
    state = control.up()
    yield state
    os.makedirs(OUTPUT, exist_ok=True)
    with open(os.path.join(OUTPUT, "browser.json"), "w") as f:
        json.dump(MEASURED, f, indent=1, sort_keys=True)
    run_playbook(os.path.join(ROOT, "playbooks", "reset.yml"),
                 {"servicemesh_namespace": state["namespace"], "servicemesh_kubeconfig": state["kubeconfig"]})
    if state["started"]:
        control.down()


@pytest.fixture(scope="module")
def readers(mesh):
    with browser.Browser() as jason, browser.Browser() as nobody:
        landed = jason.sign_in("jason")
        assert landed.status == 200, landed
        nobody.sign_in("nobody")
        nobody.sign_out()
        yield {"jason": jason, "nobody": nobody}


@pytest.fixture(scope="module", params=["header", "cookie"])
def mode(request, mesh):
    return request.param


def test_signed_in_browser_holds_session_and_user_cookies(readers):
    assert sorted(readers["jason"].cookie_names()) == ["session", "user"]
    assert readers["nobody"].cookie_names() == ["session"]


def apply(mesh, scenario, mode):
    result = run_playbook(os.path.join(ROOT, "playbooks", scenario + ".yml"),
                          {"servicemesh_namespace": mesh["namespace"], "servicemesh_kubeconfig": mesh["kubeconfig"],
                           "servicemesh_user_match": mode})
    assert not result.failed, result.proc.stdout[-4000:]


def settle(readers, expect, rounds):
    """Reloads the page in every reader until `rounds` rounds in a row show only what `expect` allows.

    Returns {reader: [observations of that run]}; fails after SETTLE_TIMEOUT with what they saw.
    """
    deadline = time.monotonic() + SETTLE_TIMEOUT
    streak, run = 0, {name: [] for name in expect}
    while True:
        seen = {name: readers[name].view() for name in expect}
        if all(seen[name].outcome in expect[name] for name in expect):
            streak += 1
            for name in expect:
                run[name].append(seen[name])
            if streak >= rounds:
                return run
        else:
            streak, run = 0, {name: [] for name in expect}
        if time.monotonic() > deadline:
            pytest.fail("after %.0f s the browsers show %s, expected %s"
                        % (SETTLE_TIMEOUT, {n: o.outcome for n, o in seen.items()}, expect))


def scenario(mesh, readers, name, mode, expect, rounds):
    apply(mesh, name, mode)
    run = settle(readers, expect, rounds)
    for reader, browser_ in readers.items():
        browser_.screenshot(os.path.join(OUTPUT, "browser", "%s-%s-%s.png" % (name, mode, reader)))
    MEASURED["%s/%s" % (name, mode)] = {
        reader: {"outcomes": sorted({o.outcome for o in seen}),
                 "elapsed_s": [round(o.elapsed, 3) for o in seen]} for reader, seen in run.items()}
    return run


def test_all_v1_nobody_sees_stars(mesh, readers, mode):
    run = scenario(mesh, readers, "all-v1", mode, {"jason": {"no stars"}, "nobody": {"no stars"}}, rounds=5)
    for seen in run.values():
        assert {o.reviews_served_by for o in seen} == {"reviews-v1"}
        assert all(o.status == 200 and not o.details_unavailable for o in seen)


def test_user_v2_jason_sees_black_stars(mesh, readers, mode):
    run = scenario(mesh, readers, "user-v2", mode, {"jason": {"black stars"}, "nobody": {"no stars"}}, rounds=5)
    assert {o.reviews_served_by for o in run["jason"]} == {"reviews-v2"}
    assert {o.reviews_served_by for o in run["nobody"]} == {"reviews-v1"}


def test_fault_delay_jason_sees_reviews_unavailable_after_about_6s(mesh, readers, mode):
    # ratings waits 7 s for jason; productpage gives up on reviews after 3 s and one retry.
    run = scenario(mesh, readers, "fault-delay", mode,
                   {"jason": {"reviews unavailable"}, "nobody": {"no stars"}}, rounds=2)
    for o in run["jason"]:
        assert o.status == 200 and 5.8 <= o.elapsed <= 8.0, o.line()
    for o in run["nobody"]:
        assert o.elapsed < 2.0, o.line()


def test_fault_abort_jason_sees_ratings_unavailable(mesh, readers, mode):
    run = scenario(mesh, readers, "fault-abort", mode,
                   {"jason": {"ratings unavailable"}, "nobody": {"no stars"}}, rounds=5)
    for o in run["jason"]:
        assert o.reviews_served_by == "reviews-v2" and o.elapsed < 2.0, o.line()


def test_shift_50_v3_red_stars_about_half_the_time(mesh, readers, mode):
    either = {"no stars", "red stars"}
    scenario(mesh, readers, "shift-50-v3", mode, {"jason": either, "nobody": either}, rounds=3)
    # Binomial(n, 0.5): 4 standard deviations leave a false failure about once in 16000 runs.
    tolerance = 4 * math.sqrt(SPLIT_VIEWS * 0.25)
    for name, reader in readers.items():
        outcomes = [reader.view().outcome for _view in range(SPLIT_VIEWS)]
        red = outcomes.count("red stars")
        assert red + outcomes.count("no stars") == SPLIT_VIEWS, outcomes
        MEASURED["shift-50-v3/%s" % mode][name]["red_share"] = red / SPLIT_VIEWS
        assert abs(red - SPLIT_VIEWS / 2) <= tolerance, \
            "%s: %d of %d views showed red stars" % (name, red, SPLIT_VIEWS)
