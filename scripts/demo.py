"""The demo: every scenario against the local control plane, with what changed in the API server.

Run through `make demo` (it starts the testenv first). Reads the objects back with the
official Kubernetes client, not with the collection's own code. With the data plane, two
headless Chromium readers (jason signed in, nobody signed out) look at the product page after
each scenario; their screenshots and a one-page report land in build/demo/ (index.html).
"""

import difflib
import html
import json
import math
import os
import re
import subprocess
import sys
import time

import yaml
from kubernetes import client as k8s, config as k8s_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "build", "collections"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import budget  # noqa: E402
from mesh import browser, control  # noqa: E402

KUBECONFIG = os.environ.get("DEMO_KUBECONFIG", os.path.join(ROOT, ".testenv", "kubeconfig"))
NAMESPACE = os.environ.get("DEMO_NAMESPACE", "bookinfo")
# With the local data plane (scripts/mesh: real istiod + Envoy), each scenario is also shown by real traffic.
TRAFFIC = os.environ.get("DEMO_TRAFFIC", "1") != "0"
SCENARIOS = ["all-v1", "user-v2", "fault-delay", "fault-abort", "shift-50-v3", "reset"]
GROUP = "networking.istio.io"
REPORT_DIR = os.environ.get("DEMO_REPORT_DIR", os.path.join(ROOT, "build", "demo"))
# Who looks at the page in the browser: (reader, user the routing sees; None: nobody signed in).
READERS = (("jason", "jason"), ("nobody", None))
SPLIT_VIEWS = 50   # browser views per reader where the outcome is a share, not a certainty


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


def changed_count(recap):
    found = re.search(r"changed=(\d+)", recap)
    return int(found.group(1)) if found else None


def predicted_outcomes(prediction):
    """{what the reader sees, in the client's words: probability} of a budget prediction."""
    out = {}
    for branch in prediction["distribution"]:
        if branch["outcome"] == "ok":
            words = "no stars" if branch["stars"] in (None, "none") else "%s stars" % branch["stars"]
        elif branch["outcome"] == "productpage_unavailable":
            words = "error"
        else:
            words = branch["outcome"].replace("_", " ")
        out[words] = round(out.get(words, 0) + branch["probability"], 6)
    return out


def observed_outcomes(observations):
    """{outcome: share} of page views."""
    out = {}
    for o in observations:
        words = "error" if o.outcome.startswith("error") else o.outcome
        out[words] = out.get(words, 0) + 1
    return {k: round(v / len(observations), 4) for k, v in out.items()}


def agree(predicted, observed, views):
    """Same outcomes, each share within 4 binomial standard deviations of the predicted one."""
    if set(k for k, p in predicted.items() if p > 0) != set(observed):
        return False
    return all(abs(observed.get(k, 0) - p) <= 4 * math.sqrt(p * (1 - p) / views) + 1e-9
               for k, p in predicted.items())


def shares(outcomes):
    return ", ".join("%s %g %%" % (k, round(v * 100, 1)) for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1]))


class Readers:
    """The demo's browsers: one per reader, each with its own profile; jason signs in, nobody in and out."""

    def __init__(self):
        self.browsers = {}

    def __enter__(self):
        for reader, user in READERS:
            b = browser.Browser().__enter__()
            self.browsers[reader] = b
            b.sign_in(user or reader)
            if user is None:
                b.sign_out()
        return self

    def __exit__(self, *exc):
        for b in self.browsers.values():
            b.__exit__(*exc)

    def look(self, name, views):
        """Screenshot and views per reader: {reader: {"screenshot", "observations"}}."""
        seen = {}
        for reader, b in self.browsers.items():
            first = b.view()
            shot = b.screenshot(os.path.join(REPORT_DIR, "%s-%s.png" % (name, reader)))
            observations = [first] + [b.view() for _view in range(views - 1)]
            seen[reader] = {"screenshot": os.path.basename(shot), "observations": observations}
        return seen


def show_traffic(name):
    count = "200" if name == "shift-50-v3" else "1"
    print("  what a reader sees (real requests through Envoy, %s per user):" % count)
    for line in mesh("client", "--user", "jason", "--user", "anonymous", "--count", count).splitlines():
        print("    " + line)


def main():
    api = k8s.CustomObjectsApi(k8s_config.new_client_from_config(config_file=KUBECONFIG))
    os.makedirs(REPORT_DIR, exist_ok=True)
    for old in os.listdir(REPORT_DIR):
        if old.endswith(".png") or old == "index.html":
            os.remove(os.path.join(REPORT_DIR, old))
    if TRAFFIC:
        print("starting the local data plane (istiod + Envoy; the first run builds istiod, which takes minutes)")
        mesh("up", "--namespace", NAMESPACE)
    readers = Readers().__enter__() if TRAFFIC else None
    try:
        entries = run_scenarios(api, readers)
    finally:
        if readers is not None:
            readers.__exit__(None, None, None)
    write_report(os.path.join(REPORT_DIR, "index.html"), entries)
    print("\n=== Predicted outcome at productpage (timeout budget analysis)")
    print("  %-12s %-10s %-44s %s" % ("scenario", "user", "outcome", "latency"))
    for entry in entries:
        for user in ("jason", None):
            print("  %-12s %-10s %-44s %s" % ((entry["name"], user or "anonymous")
                                              + describe(entry["predictions"][user])))
    print("\nReport: %s" % os.path.join(REPORT_DIR, "index.html"))
    if TRAFFIC:
        print("\nThe data plane keeps running: `scripts/mesh client --user jason` to look again, `scripts/mesh down` "
              "to stop it.")


def run_scenarios(api, readers):
    before = read_objects(api)
    entries = []
    for name in SCENARIOS:
        print("\n=== %s: ansible-playbook playbooks/%s.yml" % (name, name.replace("-", "_")))
        marks = control.push_marks(NAMESPACE) if readers else None
        recap = run_playbook(name)
        print("  recap: %s" % recap)
        after = read_objects(api)
        diff = list(difflib.unified_diff(as_yaml(before), as_yaml(after), "before", "after", lineterm="", n=1))
        print("  routing now:")
        print("\n".join(summary(after)))
        print("  what changed in the API server:" if diff else "  nothing changed in the API server")
        for line in diff[2:]:
            print("    " + line)
        vs = [obj for key, obj in after.items() if key.startswith("VirtualService/")]
        entry = {"name": name, "recap": recap, "routing": summary(after), "diff": diff[2:],
                 "virtual_services": {key: obj["spec"] for key, obj in sorted(after.items())},
                 "predictions": {user: budget.predict(vs, user=user, namespace=NAMESPACE)
                                 for user in ("jason", None)}}
        if readers:
            if diff and (changed_count(recap) or 0) > 0:
                entry["pushed_s"] = round(control.wait_pushed(NAMESPACE, marks), 3)
            show_traffic(name)
            deterministic = all(p["deterministic"] for p in entry["predictions"].values())
            entry["seen"] = readers.look(name, 1 if deterministic else SPLIT_VIEWS)
            print("  what the browsers show:")
            for reader, user in READERS:
                observations = entry["seen"][reader]["observations"]
                slowest = max(o.elapsed for o in observations)
                print("    %-9s %s (%.2f s)" % (reader, shares(observed_outcomes(observations)), slowest))
        entries.append(entry)
        before = after
    return entries


def write_report(path, entries):
    """build/demo/index.html: per scenario the routing read back, predicted vs observed, and the screenshots."""
    e = html.escape
    out = ["<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>ack.servicemesh demo</title><style>",
           "body{font-family:sans-serif;margin:2em;max-width:75em} table{border-collapse:collapse;margin:.5em 0}",
           "td,th{border:1px solid #bbb;padding:.3em .6em;text-align:left;vertical-align:top}",
           "pre{background:#f4f4f4;padding:.6em;overflow-x:auto;font-size:.85em} .ok{color:#070} .bad{color:#b00}",
           "figure{display:inline-block;margin:0 1em 1em 0} img{width:420px;border:1px solid #999}</style></head>",
           "<body><h1>ack.servicemesh: the BookInfo scenarios</h1>",
           "<p>Each scenario playbook ran against the local kube-apiserver; the routing below is read back from it "
           "with the Kubernetes client. The prediction is the collection's timeout budget analysis "
           "(<code>predict_outcome</code>); the observation is headless Chromium loading the product page through "
           "productpage's Envoy (real istiod and Envoy), as jason (signed in) and as nobody (signed out).</p>",
           "<p>Generated %s.</p>" % e(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))]
    for entry in entries:
        out.append("<h2 id=\"%s\">%s</h2>" % (e(entry["name"]), e(entry["name"])))
        out.append("<p><code>ansible-playbook playbooks/%s.yml</code>: %s%s</p>"
                   % (e(entry["name"]), e(entry["recap"]),
                      "; every Envoy had the change %.3f s after the playbook" % entry["pushed_s"]
                      if "pushed_s" in entry else ""))
        out.append("<h3>Routing in the API server</h3><pre>%s</pre>" % e("\n".join(entry["routing"])))
        if entry["diff"]:
            out.append("<details><summary>what changed</summary><pre>%s</pre></details>" % e("\n".join(entry["diff"])))
        out.append("<table><tr><th>reader</th><th>predicted</th><th>observed</th><th>predicted latency</th>"
                   "<th>observed latency</th><th>views</th><th></th></tr>")
        for reader, user in READERS:
            prediction = entry["predictions"][user]
            predicted = predicted_outcomes(prediction)
            seen = entry.get("seen", {}).get(reader)
            if seen:
                observations = seen["observations"]
                observed = observed_outcomes(observations)
                ok = agree(predicted, observed, len(observations))
                latencies = [o.elapsed for o in observations]
                observed_cells = (shares(observed), "%.2f s" % max(latencies) if len(latencies) == 1 else
                                  "%.2f-%.2f s" % (min(latencies), max(latencies)), str(len(observations)),
                                  "<span class=\"%s\">%s</span>" % (("ok", "agree") if ok else ("bad", "DIFFER")))
            else:
                observed_cells = ("not observed (DEMO_TRAFFIC=0)", "", "", "")
            out.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
                       % (e(reader), e(shares(predicted)), e(observed_cells[0]), e(describe(prediction)[1]),
                          e(observed_cells[1]), e(observed_cells[2]), observed_cells[3]))
        out.append("</table>")
        for reader, _user in READERS:
            seen = entry.get("seen", {}).get(reader)
            if seen:
                out.append("<figure><img src=\"%s\" alt=\"%s, %s\"><figcaption>%s: %s</figcaption></figure>"
                           % (e(seen["screenshot"]), e(entry["name"]), e(reader), e(reader),
                              e(seen["observations"][0].outcome)))
        out.append("<details><summary>VirtualServices and DestinationRules (spec)</summary><pre>%s</pre></details>"
                   % e(yaml.safe_dump(entry["virtual_services"], sort_keys=True, default_flow_style=False)))
    out.append("</body></html>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    return path


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
