"""Module start-up cost: import time of the collection's modules above ansible.module_utils.basic.

    .venv/bin/python benchmarks/import_time.py            # 21 fresh processes per case, updates RESULTS.md
    .venv/bin/python benchmarks/import_time.py --runs 5 --no-write

Each case runs in a fresh interpreter that first imports ansible.module_utils.basic (every module pays for
it), then times the import of one module file and its module_utils. The collection is imported the way the
AnsiballZ wrapper imports it: from a zip of its .py sources (zipimport compiles every source on every run and
caches no bytecode; the `_mesh` package's own importer compiles each of its files once instead of twice), so
the figure includes compiling. The same import with bytecode cached on disk is shown beside it. The section
between the markers in benchmarks/RESULTS.md is rewritten; run.py keeps it when it regenerates the rest of the
file.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TREE = os.path.join(ROOT, "build", "collections")
BEGIN, END = "<!-- import-time:begin -->", "<!-- import-time:end -->"
TARGET_MS = 50.0
CASES = [
    ("auth + client (`_mesh.module`)", "ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module"),
    ("module `traffic_shift`", "ansible_collections.ack.servicemesh.plugins.modules.traffic_shift"),
    ("module `mesh_routing`", "ansible_collections.ack.servicemesh.plugins.modules.mesh_routing"),
    ("for comparison: the `kubernetes` client", "kubernetes.client"),
]
# CPU time of the import (process_time), with wall time beside it: on a shared machine the wall clock mostly
# measures the other processes.
PROBE = ("import json, sys, time; sys.path.insert(0, sys.argv[2]); import importlib, ansible.module_utils.basic; "
         "before = set(sys.modules); "
         "w, c = time.perf_counter(), time.process_time(); importlib.import_module(sys.argv[1]); "
         "spent = [time.process_time() - c, time.perf_counter() - w]; "
         "print(json.dumps(spent + [sorted(set(sys.modules) - before)]))")
COLLECTION = os.path.join("ansible_collections", "ack", "servicemesh")
# What the controller does once per ansible-playbook run and module: find the module_utils the module imports
# (parsing each one), zip them with the module into the AnsiballZ wrapper. CPU time of the first build.
BUILD = ("import json, os, sys, time; os.environ['ANSIBLE_COLLECTIONS_PATH'] = sys.argv[2]; "
         "from ansible.plugins.loader import init_plugin_loader, module_loader; init_plugin_loader(); "
         "from ansible.executor import module_common; from ansible.template import Templar; "
         "from ansible.parsing.dataloader import DataLoader; "
         "ctx = module_loader.find_plugin_with_context(sys.argv[1]); c = time.process_time(); "
         "built = module_common.modify_module(module_name=ctx.resolved_fqcn, module_path=ctx.plugin_resolved_path, "
         "module_args={}, templar=Templar(loader=DataLoader()), "
         "task_vars={'ansible_python_interpreter': sys.executable}); "
         "print(json.dumps([time.process_time() - c, len(built.b_module_data)]))")
BUILD_CASES = ["ansible.builtin.ping", "ack.servicemesh.traffic_shift", "ack.servicemesh.mesh_routing"]


def build_times(runs):
    """(module, CPU median ms, wrapper size) of building each module's AnsiballZ wrapper, fresh processes."""
    rows = []
    for name in BUILD_CASES:
        cpu, size = [], 0
        for _run in range(runs):
            out = subprocess.run([sys.executable, "-c", BUILD, name, TREE], stdout=subprocess.PIPE, check=True,
                                 cwd=ROOT, env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg")))
            spent, size = json.loads(out.stdout.strip().splitlines()[-1])
            cpu.append(spent * 1000.0)
        rows.append((name, statistics.median(cpu), size))
    return rows


def payload_zip(path):
    """The collection's plugins as AnsiballZ packs them: .py sources in a zip, an __init__.py in every package."""
    names = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder, _dirs, files in os.walk(os.path.join(ROOT, "plugins")):
            for name in files:
                if name.endswith(".py"):
                    full = os.path.join(folder, name)
                    arcname = os.path.join(COLLECTION, os.path.relpath(full, ROOT))
                    archive.write(full, arcname)
                    names.append(arcname)
        packages = set()
        for name in names:
            folder = os.path.dirname(name)
            while folder:
                packages.add(folder)
                folder = os.path.dirname(folder)
        for folder in sorted(packages):
            if os.path.join(folder, "__init__.py") not in names:
                archive.writestr(os.path.join(folder, "__init__.py"), "")
    return path


def measure(module, runs, where, bytecode):
    """(CPU median, CPU min, wall median) in ms of importing `module` from `where` in fresh interpreters."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = bytecode
    cpu, wall, imported = [], [], []
    for _run in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE, module, where], stdout=subprocess.PIPE, check=True,
                             cwd=ROOT, env=env)
        sample = json.loads(out.stdout)
        cpu.append(sample[0] * 1000.0)
        wall.append(sample[1] * 1000.0)
        imported = sample[2]
    return statistics.median(cpu), min(cpu), statistics.median(wall), imported


def compile_times(runs=5):
    """(dotted name, size, ms to compile: best of `runs`) of the modules and module_utils, the slowest first."""
    rows = []
    for part in ("modules", os.path.join("module_utils", "_mesh")):
        folder = os.path.join(ROOT, "plugins", part)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                rows.append(_compile_time(os.path.join(folder, name), runs))
    return sorted(rows, key=lambda row: -row[2])


def _compile_time(path, runs):
    with open(path) as handle:
        source = handle.read()
    best = None
    for _run in range(runs):
        started = time.process_time()
        compile(source, path, "exec")
        spent = time.process_time() - started
        best = spent if best is None else min(best, spent)
    dotted = ".".join(["ansible_collections.ack.servicemesh"] + os.path.relpath(path, ROOT)[:-3].split(os.sep))
    return dotted, len(source), best * 1000.0


def section(rows, runs, compiled, load, built):
    lines = [BEGIN, "## Module start-up: import time above `ansible.module_utils.basic`", "",
             "`benchmarks/import_time.py --runs %d`: a fresh interpreter per sample imports "
             "`ansible.module_utils.basic`, then the module; CPU time of that import (median and minimum of %d "
             "samples) and its wall time (median); load average (1 min) %.1f at the start, %.1f at the end. "
             "*As AnsiballZ runs it*: the collection imported from a zip of its sources, as the module's payload "
             "is, so every run compiles every imported file (zipimport caches no bytecode); this is what a task "
             "pays and what the target is judged on. *Bytecode cached*: the same import from files with their "
             ".pyc present, for comparison. Target: at most %d ms above `ansible.module_utils.basic`." % (
                 runs, runs, load[0], load[1], TARGET_MS), "",
             "| import | as AnsiballZ runs it: CPU median | CPU min | wall median | bytecode cached: CPU median "
             "| compiling its files (sum) | target |", "|---|---|---|---|---|---|---|"]
    costs = dict((name, ms) for name, _size, ms in compiled)
    for label, module, zipped, cached in rows:
        target = "-" if module.startswith("kubernetes") else ("met" if zipped[0] <= TARGET_MS else "MISSED")
        ours = [name for name in zipped[3] if name in costs]
        if module.startswith("kubernetes"):
            label += " (site-packages, bytecode cached)"
        lines.append("| %s | %.1f ms | %.1f ms | %.1f ms | %s | %s | %s |" % (
            label, zipped[0], zipped[1], zipped[2], "%.1f ms" % cached[0] if cached else "-",
            "%.1f ms, %d files" % (sum(costs[n] for n in ours), len(ours)) if ours else "-", target))
    lines += ["", "Compiling the collection's files (best of 5, CPU, in one process), the slowest first:", "",
              "| file | size | compile |", "|---|---|---|"]
    lines += ["| `%s` | %.0f KiB | %.1f ms |" % (name.split(".servicemesh.")[1], size / 1024.0, ms)
              for name, size, ms in compiled[:8]]
    lines += ["", "Before any of that, the controller builds the module's AnsiballZ wrapper, once per "
              "`ansible-playbook` run and module: it parses every module_utils file the module imports (lazy "
              "imports too) to find theirs, and zips them. CPU median of %d fresh processes:" % max(1, runs // 4),
              "", "| module | building the wrapper | wrapper size |", "|---|---|---|"]
    lines += ["| %s | %.0f ms | %.0f KiB |" % (name, ms, size / 1024.0) for name, ms, size in built]
    missed = [(label, zipped, cached) for label, module, zipped, cached in rows
              if not module.startswith("kubernetes") and zipped[0] > TARGET_MS]
    if missed:
        lines += ["", "Why the target is missed: with bytecode cached the same imports cost %s; the rest is "
                  "compiling. AnsiballZ ships sources and zipimport compiles each imported file on every run "
                  "(the collection's files now once each: the standard zipimporter compiled them twice, see the "
                  "module profile), and the modules import on their common path what every run uses: the "
                  "validator (the largest file), routes, the client, and for mesh_routing also the planner, the "
                  "batch writer and, since it runs the analysis itself (issue 16.1), the analysis and the "
                  "simulator. Lazy imports cannot remove code every run executes, and splitting the validator by "
                  "object kind would not help mesh_routing, which validates whole DestinationRules and "
                  "VirtualServices, other owners' routes included; AnsiballZ ships no bytecode." % ", ".join(
                      "%s %.1f ms" % (label, cached[0]) for label, _zipped, cached in missed if cached)]
    lines.append(END)
    return "\n".join(lines) + "\n"


def replace_section(text, new):
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + new + rest.split(END, 1)[1].lstrip("\n")
    return text.rstrip("\n") + "\n\n" + new


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--no-write", action="store_true")
    opts = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        payload = payload_zip(os.path.join(tmp, "payload.zip"))
        pycache = os.path.join(tmp, "pycache")
        for label, module in CASES:
            if module.startswith("kubernetes"):
                rows.append((label, module, measure(module, opts.runs, ROOT, None), None))
                continue
            zipped = measure(module, opts.runs, payload, None)
            measure(module, 1, TREE, pycache)  # writes the bytecode the next runs read
            rows.append((label, module, zipped, measure(module, opts.runs, TREE, pycache)))
    built = build_times(max(1, opts.runs // 4))
    text = section(rows, opts.runs, compile_times(), (load_start, os.getloadavg()[0]), built)
    print(text)
    if not opts.no_write:
        path = os.path.join(HERE, "RESULTS.md")
        with open(path) as handle:
            current = handle.read()
        with open(path, "w") as out:
            out.write(replace_section(current, text))
    return 0 if all(zipped[0] <= TARGET_MS for _label, mod, zipped, _c in rows if not mod.startswith("kubernetes")) else 1


if __name__ == "__main__":
    sys.exit(main())
