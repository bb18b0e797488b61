"""The demo: every scenario against the local control plane, with what changed in the API server.

Run through `make demo` (it starts the testenv first). Reads the objects back with the
official Kubernetes client, not with the collection's own code.
"""

import difflib
import json
import os
import subprocess
import sys

import yaml
from kubernetes import client as k8s, config as k8s_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "build", "collections"))

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import budget  # noqa: E402

KUBECONFIG = os.environ.get("DEMO_KUBECONFIG", os.path.join(ROOT, ".testenv", "kubeconfig"))
NAMESPACE = os.environ.get("DEMO_NAMESPACE", "bookinfo")
# With the local data plane (scripts/mesh: real istiod + Envoy), each scenario is also shown by real traffic.
TRAFFIC = os.environ.get("DEMO_TRAFFIC", "1") != "0"
SCENARIOS = ["all-v1", "user-v2", "fault-delay", "fault-abort", "shift-50-v3", "reset"]
GROUP = "networking.istio.io"


def read_objects(api):
    version = "v1"
    state = {}
    for kind, plural in (("DestinationRule", "destinationrules"), ("VirtualService", "virtualservices")):
        for obj in api.list_namespaced_custom_object(GROUP, version, NAMESPACE, plural)["items"]:
            state["%s/%s" % (kind, obj["metadata"]["name"])] = obj
    return state


def describe_route(route):
    parts = []
    for block in route.get("match") or []:
        for header, match in (block.get("headers") or {}).items():
            kind, value = next(iter(match.items()))
            parts.append("%s %s %s" % (header, kind, value))
    fault = route.get("fault") or {}
    if "delay" in fault:
        parts.append("delay %s (%s%%)" % (fault["delay"].get("fixedDelay"),
                                          (fault["delay"].get("percentage") or {}).get("value")))
    if "abort" in fault:
        parts.append("abort HTTP %s (%s%%)" % (fault["abort"].get("httpStatus"),
                                               (fault["abort"].get("percentage") or {}).get("value")))
    dests = ", ".join("%s%s" % (d["destination"].get("subset"),
                                " %s%%" % d["weight"] if "weight" in d else "") for d in route.get("route") or [])
    condition = " and ".join(parts) if parts else "everyone else"
    return "[%s] %s -> %s" % (route.get("name", "-"), condition, dests)


def summary(state):
    lines = []
    for key in sorted(state):
        if key.startswith("VirtualService/"):
            routes = " | ".join(describe_route(r) for r in state[key]["spec"].get("http") or [])
            lines.append("  %-12s %s" % (key.split("/")[1], routes))
    return lines


def as_yaml(state):
    shown = {}
    for key, obj in state.items():
        shown[key] = obj.get("spec")
    return yaml.safe_dump(shown, sort_keys=True, default_flow_style=False).splitlines()


def run_playbook(name):
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
           os.path.join("playbooks", name.replace("-", "_") + ".yml"),
           "-e", json.dumps({"servicemesh_kubeconfig": KUBECONFIG, "servicemesh_namespace": NAMESPACE})]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False)
    recap = [line for line in proc.stdout.splitlines() if line.startswith("localhost ")]
    if proc.returncode != 0:
        print(proc.stdout)
        raise SystemExit("ansible-playbook %s failed" % name)
    return recap[-1].split(":", 1)[1].strip() if recap else ""


def mesh(*args):
    cmd = [os.path.join(ROOT, "scripts", "mesh")] + list(args)
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False)
    if proc.returncode != 0:
        print(proc.stdout)
        raise SystemExit("scripts/mesh %s failed" % " ".join(args))
    return proc.stdout


def show_traffic(name):
    count = "200" if name == "shift-50-v3" else "1"
    print("  what a reader sees (real requests through Envoy, %s per user):" % count)
    for line in mesh("client", "--user", "jason", "--user", "anonymous", "--count", count).splitlines():
        print("    " + line)


def main():
    api = k8s.CustomObjectsApi(k8s_config.new_client_from_config(config_file=KUBECONFIG))
    if TRAFFIC:
        print("starting the local data plane (istiod + Envoy; the first run builds istiod, which takes minutes)")
        mesh("up", "--namespace", NAMESPACE)
    before = read_objects(api)
    predictions = []
    for name in SCENARIOS:
        print("\n=== %s: ansible-playbook playbooks/%s.yml" % (name, name.replace("-", "_")))
        print("  recap: %s" % run_playbook(name))
        after = read_objects(api)
        diff = list(difflib.unified_diff(as_yaml(before), as_yaml(after), "before", "after", lineterm="", n=1))
        print("  routing now:")
        print("\n".join(summary(after)))
        print("  what changed in the API server:" if diff else "  nothing changed in the API server")
        for line in diff[2:]:
            print("    " + line)
        if TRAFFIC:
            show_traffic(name)
        vs = [obj for key, obj in after.items() if key.startswith("VirtualService/")]
        for user in ("jason", None):
            predictions.append((name, user or "anonymous", budget.predict(vs, user=user, namespace=NAMESPACE)))
        before = after
    print("\n=== Predicted outcome at productpage (timeout budget analysis)")
    print("  %-12s %-10s %-44s %s" % ("scenario", "user", "outcome", "latency"))
    for name, user, prediction in predictions:
        print("  %-12s %-10s %-44s %s" % ((name, user) + describe(prediction)))
    if TRAFFIC:
        print("\nThe data plane keeps running: `scripts/mesh client --user jason` to look again, `scripts/mesh down` "
              "to stop it.")


def describe(prediction):
    """One table cell for the outcome and one for the latency."""
    if prediction["deterministic"]:
        if prediction["outcome"] == "ok":
            seen = "page ok, %s stars" % prediction["stars"]
        else:
            seen = prediction["outcome"].replace("_", " ")
        return (seen, "%.1f s" % prediction["latency_s"])
    shares = ", ".join("%g %% %s stars" % (share * 100, stars)
                       for stars, share in sorted(prediction["stars_distribution"].items()))
    return (shares, "up to %.1f s" % prediction["latency_s"])


if __name__ == "__main__":
    main()
