"""The demo's canary part: reviews v3 released in steps, once healthy (promoted), once failing (rolled back).

Run by `make demo` after scripts/demo.py, against the data plane that it leaves running (scripts/mesh,
with Prometheus scraping every Envoy). A steady load calls reviews the whole time; each step's gate
checks are printed with the success rate the gate saw.
"""

import json
import os
import subprocess
import sys
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from mesh import load, prometheus, topology  # noqa: E402

NAMESPACE = os.environ.get("DEMO_NAMESPACE", "bookinfo")
KUBECONFIG = os.environ.get("DEMO_KUBECONFIG", os.path.join(ROOT, ".testenv", "kubeconfig"))
GATES = [{"name": "success-rate", "template": "envoy_success_rate", "window": "5s", "threshold": 0.95,
          "failure_limit": 2}]


def misbehave(fail):
    url = "%s/control?fail=%s" % (topology.workload("reviews-v3").app_url, fail)
    with urllib.request.urlopen(url, timeout=3):  # noqa: S310 - loopback only
        pass


def playbook(name, extra):
    env = dict(os.environ)
    env["ANSIBLE_CALLBACK_PLUGINS"] = os.path.join(ROOT, "tests", "cluster", "callback")
    env["ANSIBLE_STDOUT_CALLBACK"] = "results_json"
    vars_ = {"servicemesh_namespace": NAMESPACE, "servicemesh_kubeconfig": KUBECONFIG}
    vars_.update(extra)
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                           os.path.join(ROOT, "playbooks", name + ".yml"), "-e", json.dumps(vars_)],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    data = json.loads(proc.stdout)
    for play in data["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].endswith("Shift traffic to the canary, checking the gates at every step"):
                return task["hosts"]["localhost"]
    return None


def show(title, result, traffic):
    print("\n=== %s: %s" % (title, result["outcome"]))
    if result is None or "outcome" not in result:
        raise SystemExit("the canary playbook did not run: %s" % result)
    for step in result["steps"]:
        seen = ", ".join("%s" % c["detail"] for c in step["checks"])
        print("  step %3d %%  weights %-22s gate success-rate: %s" % (step["weight"], step["weights"], seen))
    if result.get("msg"):
        print("  %s" % result["msg"].split("; metric:")[0])
    v3 = [r for r in traffic.records if r[2] == "reviews-v3"]
    errors = sum(1 for r in v3 if r[1] != 200)
    print("  load: %d requests, %d to v3 (%d errors); reviews now %s"
          % (len(traffic.records), len(v3), errors, result["final_weights"]))
    failed = [r for r in v3 if r[1] != 200]
    if failed:
        # From the first error the load saw to the last request that still reached v3 (the rollback in effect).
        print("  first v3 error -> last request to v3: %.1f s; share of all requests that hit v3: %.1f %%"
              % (v3[-1][0] - failed[0][0], 100.0 * len(v3) / len(traffic.records)))


def main():
    common = {"canary_prometheus_url": prometheus.url(), "canary_gates": GATES, "canary_interval": 1.5,
              "canary_steps": [10, 25, 50, 100], "canary_pause": 4}
    for title, fail in (("Canary of a healthy reviews v3", 0.0), ("Canary of a reviews v3 failing 20 %", 0.2)):
        playbook("all-v1", {})
        misbehave(fail)
        with load.Load(max_seconds=120) as traffic:
            result = playbook("canary", common)
        show(title, result, traffic)
    misbehave(0)
    playbook("all-v1", {})


if __name__ == "__main__":
    main()
