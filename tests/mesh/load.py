"""A steady load on one service, sent through productpage's Envoy as productpage would send it.

Every request is recorded with its time, status and the workload that answered (the apps name
themselves in `X-Workload`), so a test can say which share of requests hit a canary, and when.
The load is bounded: it stops by itself after `max_seconds`.
"""

import http.client
import threading
import time

from . import topology


class Load:
    def __init__(self, service="reviews", path="/reviews/0", rate=40.0, max_seconds=300.0,
                 caller="productpage-v1", timeout=5.0):
        self.service = service
        self.path = path
        self.interval = 1.0 / rate
        self.max_seconds = max_seconds
        self.caller = topology.workload(caller)
        self.timeout = timeout
        self.records = []  # (monotonic time, status or None, workload or None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=self.timeout + 2)

    def _one(self):
        conn = http.client.HTTPConnection(self.caller.ip, topology.SERVICE_PORT, timeout=self.timeout)
        try:
            conn.request("GET", self.path, headers={"Host": "%s:%d" % (self.service, topology.SERVICE_PORT)})
            resp = conn.getresponse()
            resp.read()
            return resp.status, resp.getheader("X-Workload")
        except (OSError, http.client.HTTPException):
            return None, None
        finally:
            conn.close()

    def _run(self):
        started = time.monotonic()
        next_at = started
        while not self._stop.is_set() and time.monotonic() - started < self.max_seconds:
            status, workload = self._one()
            self.records.append((time.monotonic(), status, workload))
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def between(self, since=None, until=None):
        return [r for r in list(self.records)
                if (since is None or r[0] >= since) and (until is None or r[0] <= until)]

    @staticmethod
    def share(records, workload):
        return sum(1 for r in records if r[2] == workload) / float(len(records)) if records else 0.0
