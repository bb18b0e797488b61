"""Where one mesh_routing run spends its time: payload, unpacking, imports, TLS, discovery, requests, JSON.

    ACK_TESTENV_DIR=/work/main/.testenv .venv/bin/python benchmarks/profile_module.py [--runs 7]

Prints a Markdown section and writes it into benchmarks/RESULTS.md between the profile markers (run.py keeps
that block when it rewrites the file). Medians of --runs repetitions; the testenv's default profile is the server.
"""

import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "build", "collections"))
START, END = "<!-- profile:start -->", "<!-- profile:end -->"
PY = os.path.join(ROOT, ".venv", "bin", "python")
SERVICES = [
    {"host": "productpage", "subsets": ["v1"], "weights": {"v1": 100}},
    {"host": "reviews", "subsets": ["v1", "v2", "v3"], "weights": {"v1": 100},
     "routes": [{"name": "user-override", "user": "jason", "subset": "v2"}]},
    {"host": "ratings", "subsets": ["v1", "v2", "v2-mysql", "v2-mysql-vm"], "weights": {"v1": 100},
     "routes": [{"name": "fault-injection", "user": "jason",
                 "fault": {"delay": {"fixed_delay": "7s", "percentage": 100}}}]},
    {"host": "details", "subsets": ["v1", "v2"], "weights": {"v1": 100}},
]


def ms(seconds):
    return "%.1f ms" % (seconds * 1000)


def median(values):
    return statistics.median(values)


def keep_payload(kubeconfig, namespace, workdir):
    """Run the task once with ANSIBLE_KEEP_REMOTE_FILES and return the AnsiballZ wrapper it left."""
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{"ack.servicemesh.mesh_routing": {
        "kubeconfig": kubeconfig, "namespace": namespace, "services": SERVICES}}]}]
    path = os.path.join(workdir, "play.yml")
    with open(path, "w") as out:
        json.dump(play, out)
    env = dict(os.environ, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=os.path.join(workdir, "remote"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_PYTHON_INTERPRETER=PY)
    subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", "-c", "local", path],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    found = glob.glob(os.path.join(workdir, "remote", "*", "AnsiballZ_mesh_routing.py"))
    if not found:
        raise SystemExit("no AnsiballZ_mesh_routing.py kept under %s" % workdir)
    return found[0]


def timed(command, env=None, stdin=None, cwd=None):
    started = time.perf_counter()
    subprocess.run(command, env=env, input=stdin, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def import_times(exploded):
    """Cumulative import time (ms) of the packages the module pulls in, from python -X importtime."""
    code = "import ansible_collections.ack.servicemesh.plugins.modules.mesh_routing"
    proc = subprocess.run([PY, "-X", "importtime", "-c", code], cwd=exploded, env=dict(os.environ, PYTHONPATH=exploded),
                          stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, universal_newlines=True, check=True)
    cumulative = {}
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            cumulative[match.group(3)] = int(match.group(1)) / 1000.0
    picks = ["ansible.module_utils.basic", "yaml", "re2", "json", "ssl", "http.client",
             "ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate",
             "ansible_collections.ack.servicemesh.plugins.module_utils._mesh.analyze",
             "ansible_collections.ack.servicemesh.plugins.module_utils._mesh.budget",
             "ansible_collections.ack.servicemesh.plugins.modules.mesh_routing"]
    return dict((name, cumulative.get(name)) for name in picks)


# Runs the AnsiballZ wrapper in this interpreter with compile() counted: how many sources the module compiles on a
# run, how long that takes, and how many of them are the collection's (each `_mesh` file should be compiled once).
COMPILES = r"""
import atexit, builtins, json, runpy, sys, time
stats = {"calls": 0, "seconds": 0.0, "ours": 0, "files": set()}
real = builtins.compile

def counting(source, filename, *args, **kwargs):
    started = time.process_time()
    try:
        return real(source, filename, *args, **kwargs)
    finally:
        stats["calls"] += 1
        stats["seconds"] += time.process_time() - started
        stats["files"].add(str(filename))
        stats["ours"] += "ansible_collections/ack/servicemesh/" in str(filename)

def report(path=sys.argv[2]):
    with open(path, "w") as out:
        json.dump({"calls": stats["calls"], "files": len(stats["files"]), "ours": stats["ours"],
                   "ms": stats["seconds"] * 1000.0}, out)

atexit.register(report)
builtins.compile = counting
wrapper = sys.argv[1]
sys.argv = [wrapper]
runpy.run_path(wrapper, run_name="__main__")
"""


def compile_profile(wrapper, runs):
    """compile() calls of one module run from its zip: total, distinct files, the collection's, CPU ms (median)."""
    found = []
    for _run in range(runs):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run([PY, "-c", COMPILES, wrapper, out.name], cwd=os.path.dirname(wrapper), check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(out.name) as handle:
                found.append(json.load(handle))
    return dict(found[-1], ms=median([f["ms"] for f in found]))


def requests_profile(kubeconfig, namespace, runs):
    """TLS handshake + discovery, then each LIST, as the module's own client does them."""
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.client import Client, settings_from_params

    connect, discovery, lists, decode, dry_puts, puts = [], [], [], [], [], []
    for _run in range(runs):
        settings = settings_from_params({"kubeconfig": kubeconfig})
        started = time.perf_counter()
        client = Client(settings)
        conn = client._connect()
        conn.http.connect()
        client._give_back(conn)
        connect.append(time.perf_counter() - started)
        started = time.perf_counter()
        client.request("GET", "/apis/networking.istio.io")
        discovery.append(time.perf_counter() - started)
        for plural in ("destinationrules", "virtualservices"):
            started = time.perf_counter()
            response = client.request("GET", "/apis/networking.istio.io/v1/namespaces/%s/%s" % (namespace, plural))
            lists.append(time.perf_counter() - started)
            started = time.perf_counter()
            response.json()
            decode.append(time.perf_counter() - started)
        # What a dry run before a write costs: the same PUT with and without dryRun=All.
        path = "/apis/networking.istio.io/v1/namespaces/%s/virtualservices/reviews" % namespace
        live = client.request("GET", path).json()
        query = {"fieldValidation": "Strict", "fieldManager": "ack.servicemesh"}
        for dry, bucket in ((True, dry_puts), (False, puts)):
            started = time.perf_counter()
            response = client.request("PUT", path, dict(query, dryRun="All") if dry else query, live)
            bucket.append(time.perf_counter() - started)
            live = response.json()
        client.close()
    return {"tls_connect": median(connect), "discovery_get": median(discovery), "list": median(lists),
            "json_decode_list": median(decode), "dry_put": median(dry_puts), "put": median(puts)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    opts = parser.parse_args()

    kubeconfig = os.path.join(os.environ.get("ACK_TESTENV_DIR", os.path.join(ROOT, ".testenv")), "kubeconfig")
    namespace = "bench-profile"
    subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "create", "namespace", namespace],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    workdir = tempfile.mkdtemp(prefix="ack-profile-")
    wrapper = keep_payload(kubeconfig, namespace, workdir)
    size = os.path.getsize(wrapper)
    # `explode` is the wrapper's own unpacking (base64 + unzip to files), without running the module.
    explode = median([timed([PY, wrapper, "explode"], cwd=os.path.dirname(wrapper)) for _run in range(opts.runs)])
    debug_dir = os.path.join(os.path.dirname(wrapper), "debug_dir")
    zipped = sum(os.path.getsize(p) for p in glob.glob(os.path.join(debug_dir, "**", "*.py"), recursive=True))
    module_files = len(glob.glob(os.path.join(debug_dir, "**", "*.py"), recursive=True))
    interpreter = median([timed([PY, "-c", "pass"]) for _run in range(opts.runs)])
    # The whole wrapper as Ansible runs it (unzip in memory, import, requests, exit_json), a no-op run.
    whole = median([timed([PY, wrapper]) for _run in range(opts.runs)])
    imports = import_times(debug_dir)
    compiled = compile_profile(wrapper, opts.runs)
    net = requests_profile(kubeconfig, namespace, opts.runs)

    rows = [
        ("AnsiballZ wrapper size (base64 zip)", "%.0f KiB" % (size / 1024.0)),
        ("Python files in the payload / their size unzipped", "%d / %.0f KiB" % (module_files, zipped / 1024.0)),
        ("Unpacking the payload (`AnsiballZ_mesh_routing.py explode`, incl. interpreter start)", ms(explode)),
        ("Python interpreter start (`python -c pass`)", ms(interpreter)),
        ("Whole wrapper, no-op run (unzip, imports, requests, JSON out)", ms(whole)),
        ("compile() calls in that run: all / distinct files / the collection's (CPU of all)",
         "%d / %d / %d (%.1f ms)" % (compiled["calls"], compiled["files"], compiled["ours"], compiled["ms"])),
    ]
    for name, value in imports.items():
        rows.append(("import %s (cumulative)" % name, "n/a" if value is None else "%.1f ms" % value))
    rows += [
        ("TCP + TLS handshake to the API server", ms(net["tls_connect"])),
        ("discovery GET /apis/networking.istio.io (kept-alive connection)", ms(net["discovery_get"])),
        ("one LIST of a scenario's objects (kept-alive connection)", ms(net["list"])),
        ("json decode of one LIST answer", ms(net["json_decode_list"])),
        ("dry run of one VirtualService update (PUT dryRun=All)", ms(net["dry_put"])),
        ("the real update (PUT)", ms(net["put"])),
    ]
    lines = [START, "## Module profile: one mesh_routing run (no-op fault-delay, 8 objects)", "",
             "Written by `benchmarks/profile_module.py` (medians of %d runs; load average %s)." % (
                 opts.runs, open("/proc/loadavg").read().split()[0]), "",
             "| part | measured |", "|---|---|"]
    lines += ["| %s | %s |" % row for row in rows]
    lines += ["",
              "What it means, and what was cut (issue 16.3):",
              "",
              "- Most of a run is Python and Ansible's own module floor: the interpreter, unpacking the payload and "
              "`ansible.module_utils.basic` (AnsibleModule, argument parsing). The collection's own imports are the "
              "rest of the mesh_routing import: PyYAML (for the kubeconfig; every kubeconfig run needs it, so a lazy "
              "import would save nothing there), http.client/ssl, and the validator and analysis. `budget` (the "
              "predictions) is imported only when `predict_for` is given.",
              "- Requests: one TCP+TLS handshake per run when requests go one after another (one kept-alive "
              "connection for all of them), and up to 4 kept-alive connections while requests run at the same time "
              "(the two LISTs, a batch's dry runs, one level's writes); "
              "with the discovery cache (per server and identity, 300 s TTL, invalidated by a 404) a no-op scenario "
              "sends the two LISTs and nothing else (audited in tests/cluster/test_mesh_routing.py); before, each "
              "role run had two module processes, two handshakes, two discovery GETs and four LISTs.",
              "- Dry runs before writes (issue 11.5): one extra request per changed object, and only when more than "
              "one object changes; a no-op sends none. Each costs about what the write itself costs (rows above).",
              "- Compiling: AnsiballZ ships sources, and CPython's zipimport compiles a module twice (once when "
              "`find_spec` asks for its file name, again for its code), so every run compiled each imported file "
              "of the collection twice. The `_mesh` package now imports its files through a zipimporter that "
              "compiles each once (row above: of the collection's compile() calls, one per file inside "
              "`_mesh`; the module file and the package `__init__.py` files, `_mesh`'s own included, are still "
              "compiled twice; "
              "tests/unit/plugins/module_utils/_mesh/test_package_import.py proves both the single compile and "
              "that the standard importer compiles twice). Measured on a quiet machine, 15 runs of the same kept "
              "wrapper: 0.40 s CPU before, 0.33 s after. Ansible's own files (basic and its imports) still compile "
              "twice; ping pays that too.",
              "- On the controller, before the module runs: building the wrapper parses every module_utils file "
              "it imports (see the import-time section), and the role's one filter call "
              "(`scenario_services`) used to compile the planner, validator and simulator from source on every "
              "run, because ansible-core loads every filter file of a collection to find one filter and its "
              "collection loader keeps no bytecode; the filters now import those when called, and "
              "`scenario_services` lives in a small file of its own (`_mesh/scenario.py`).",
              "- JSON work is negligible at scenario size. The payload itself is no smaller: a mesh_routing run "
              "uses all of it (the validator checks the whole merged object, other owners' routes included).",
              "", END]
    section = "\n".join(lines)
    print(section)
    text = open(opts.output).read() if os.path.exists(opts.output) else ""
    if START in text and END in text:
        text = text[:text.index(START)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(opts.output, "w") as out:
        out.write(text)


if __name__ == "__main__":
    main()
