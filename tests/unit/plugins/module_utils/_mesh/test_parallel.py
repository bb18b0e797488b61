"""run_all: independent calls at the same time, results in order, the first failure in order raised."""

import threading
import time

import pytest

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.parallel import run_all


class Meter:
    """Counts how many calls run at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.started = []

    def call(self, value, delay=0.05, fail=False):
        def run():
            with self.lock:
                self.started.append(value)
                self.running += 1
                self.peak = max(self.peak, self.running)
            try:
                time.sleep(delay)
                if fail:
                    raise MeshError("call %s failed" % value)
                return value
            finally:
                with self.lock:
                    self.running -= 1
        return run


def test_results_come_back_in_call_order_whatever_finishes_first():
    meter = Meter()
    calls = [meter.call(i, delay=0.01 * (5 - i)) for i in range(5)]
    assert run_all(calls, workers=5) == [0, 1, 2, 3, 4]
    assert meter.peak == 5


def test_never_more_than_workers_at_once():
    meter = Meter()
    assert run_all([meter.call(i) for i in range(10)], workers=4) == list(range(10))
    assert meter.peak == 4


def test_one_call_or_one_worker_runs_in_the_callers_thread():
    threads = []

    def call():
        threads.append(threading.current_thread())
    run_all([call], workers=4)
    run_all([call, call], workers=1)
    assert threads == [threading.main_thread()] * 3


def test_the_first_failure_in_order_is_raised_after_every_started_call_finished():
    meter = Meter()
    calls = [meter.call(0, delay=0.2), meter.call(1, delay=0.1, fail=True), meter.call(2, delay=0.0, fail=True)]
    with pytest.raises(MeshError) as info:
        run_all(calls, workers=3)
    assert info.value.msg == "call 1 failed"
    assert meter.running == 0


def test_no_call_starts_after_one_failed():
    meter = Meter()
    calls = [meter.call(0, delay=0.0, fail=True)] + [meter.call(i, delay=0.3) for i in range(1, 8)]
    with pytest.raises(MeshError):
        run_all(calls, workers=2)
    # The second worker may have taken call 1 before call 0 failed; nothing after that.
    assert set(meter.started) <= {0, 1}


def test_errors_other_than_mesh_errors_reach_the_caller():
    def boom():
        raise KeyError("x")
    with pytest.raises(KeyError):
        run_all([lambda: 1, boom], workers=2)
