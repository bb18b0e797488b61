"""What makes `make bench-smoke` fail besides a failed run: a no-op that changes or writes, a wrong end state."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import report  # noqa: E402
import run  # noqa: E402
from cluster import Requests  # noqa: E402


class FakeRun:
    def __init__(self, changed, events):
        self.changed = changed
        self.requests = Requests(events)


def event(verb, resource="virtualservices"):
    return {"verb": verb, "resource": resource, "code": 200, "user": "u", "namespace": "n"}


def bench():
    instance = run.Bench.__new__(run.Bench)
    instance.broken = []
    return instance


def test_a_quiet_noop_passes():
    b = bench()
    b.check_noop("re-run", FakeRun(False, [event("list"), event("list", "destinationrules")]))
    assert b.broken == []


def test_a_noop_that_writes_or_changes_breaks_the_run():
    b = bench()
    b.check_noop("re-run", FakeRun(False, [event("list"), event("update")]))
    b.check_noop("other", FakeRun(True, [event("list")]))
    assert len(b.broken) == 2
    assert "1 writes" in b.broken[0] and "changed=True" in b.broken[1]


def test_failed_checks_cover_wan_and_fleet():
    raw = {"sections": {"scenarios": {"checks": [{"ok": True}]}, "wan": {"checks": [{"ok": False, "n": 1}]},
                        "fleet": {"checks": [{"ok": False, "n": 2}]}}}
    assert [c["n"] for c in report.failed_checks(raw)] == [1, 2]


def test_smoke_has_no_warm_ups_and_a_small_fleet():
    opts = run.parse(["--smoke"])
    assert (opts.warm_up, opts.fleet, opts.runs, opts.scenarios) == (False, 2, 1, ["fault-delay"])
    assert run.parse([]).warm_up and run.parse([]).fleet == 10
    assert "wan" in opts.sections and "fleet" in opts.sections
