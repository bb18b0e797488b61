"""Stdout callback for the benchmarks: per task its duration, changed/failed and the module's request count.

Prints one JSON document at the end. Keeps results small (a bulk kubernetes.core result holds every object),
so that printing them costs both sides the same little.
"""

import json
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "bench_json"

    def __init__(self):
        super().__init__()
        self.started = time.monotonic()
        self.tasks = []
        self._task_start = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_start = time.monotonic()
        self.tasks.append({"name": task.get_name(), "action": task.action})

    def _record(self, result, failed=False):
        """With several hosts (the fleet), a task is changed or failed if it is on any host; requests add up."""
        data = result._result
        entry = self.tasks[-1]
        entry.update({
            "duration": time.monotonic() - self._task_start,
            "changed": entry.get("changed", False) or bool(data.get("changed")),
            "failed": entry.get("failed", False) or failed or bool(data.get("failed")),
        })
        if "requests" in data:
            entry["requests"] = entry.get("requests", 0) + data["requests"]
        if entry["failed"]:
            entry["msg"] = str(data.get("msg") or data.get("results") or data)[:2000]

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, failed=True)

    def v2_playbook_on_stats(self, stats):
        summary = dict((host, stats.summarize(host)) for host in sorted(stats.processed))
        self._display.display(json.dumps({"tasks": self.tasks, "stats": summary,
                                          "elapsed": time.monotonic() - self.started}))
