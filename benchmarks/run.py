"""`make bench`: measure ack.servicemesh against kubernetes.core.k8s and kubectl apply on the testenv.

    .venv/bin/python benchmarks/run.py                 # everything, 5 runs, writes benchmarks/RESULTS.md
    .venv/bin/python benchmarks/run.py --smoke         # 1 run, 1 scenario, 20 bulk services (for make test)
    .venv/bin/python benchmarks/run.py --runs 7 --sections scenarios,tasks
    .venv/bin/python benchmarks/run.py --report-only   # rewrite RESULTS.md from the last raw results

Raw results go to build/bench/raw.json (each section replaces its own part), so a section can be rerun alone.
See benchmarks/README.md for what is measured and how.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cluster as cluster_mod  # noqa: E402
import report  # noqa: E402
import tools  # noqa: E402
import workloads  # noqa: E402
from conformance import expected_state, live_state  # noqa: E402  (tests/cluster, put on sys.path by cluster)

ROOT = tools.ROOT
OURS = tools.Ours.name
WORKDIR = os.path.join(ROOT, "build", "bench")
SECTIONS = ["scenarios", "wan", "tasks", "memory", "fleet", "bulk"]  # the longest last
CHAIN = ["fault-abort"] + workloads.SCENARIOS  # the first one only sets the start state of the update chain


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def rotate(items, rep):
    """Each repetition starts with the next contender, so none always runs first (or right after another)."""
    shift = rep % len(items)
    return items[shift:] + items[:shift]


class Bench:
    def __init__(self, opts):
        self.opts = opts
        self.cluster = cluster_mod.Cluster()
        os.makedirs(WORKDIR, exist_ok=True)
        self.kubeconfig = self.cluster.bench_kubeconfig(os.path.join(WORKDIR, "kubeconfig"))
        venv = None if opts.no_baselines else tools.ensure_bench_venv(log)
        if opts.require_baselines and not venv:
            raise tools.BenchError("--require-baselines: no bench venv, so no kubernetes.core to compare with")
        self.ours = tools.Ours(self.kubeconfig)
        self.k8s = None
        if venv:
            playbooks = dict((s, workloads.k8s_scenario_playbook(WORKDIR, s)) for s in workloads.SCENARIOS)
            self.k8s = tools.KubernetesCore(self.kubeconfig, playbooks)
        self.kubectl = None
        if not opts.no_baselines and tools.Kubectl.version():
            files = dict((s, workloads.sample_files(s)) for s in workloads.SCENARIOS)
            self.kubectl = tools.Kubectl(self.kubeconfig, os.path.join(WORKDIR, "kube-cache"), files)
        self.contenders = [c for c in (self.ours, self.k8s, self.kubectl) if c]
        self.ping = tools.PingPlay(workloads.task_playbook(WORKDIR, "ping", 1))
        # Runs that broke the benchmark's promises without failing (a no-op that changed or wrote).
        self.broken = []

    # --- helpers --------------------------------------------------------------------------------

    def measured(self, namespace, func, *args, **kwargs):
        """Run func(*args, **kwargs) and attach the requests the benchmark user sent for the namespace meanwhile."""
        mark = self.cluster.audit_mark()
        run = func(*args, **kwargs)
        run.requests = self.cluster.requests_since(mark, namespace)
        return run

    def conforms(self, namespace, scenario):
        return live_state(self.cluster, namespace) == expected_state(scenario)

    def check_noop(self, what, run):
        """ack.servicemesh's re-run of a converged state: changed=false and no write in the audit log."""
        writes = run.requests.writes if run.requests else None
        if run.changed or writes:
            self.broken.append("%s: a no-op reported changed=%s with %s writes" % (what, run.changed, writes))

    @staticmethod
    def record(run, **fields):
        fields.update({"wall": run.wall, "changed": run.changed if run.play is not None else None,
                       "requests": run.requests.as_dict() if run.requests else None,
                       "module_requests": run.module_requests()})
        if run.play is not None:
            fields["task_time"] = sum(t.get("duration", 0.0) for t in run.tasks)
            fields["tasks"] = [[t["action"], t.get("duration", 0.0), t.get("requests")] for t in run.tasks]
        return fields

    def loadavg(self):
        with open("/proc/loadavg") as handle:
            return float(handle.read().split()[0])

    # --- 1 + 2: scenarios ------------------------------------------------------------------------

    def scenarios(self):
        scenarios = self.opts.scenarios
        records, checks = [], []
        if self.opts.warm_up:
            log("scenarios: warm-up (discovery caches), not recorded")
            warm = self.cluster.fresh_namespace("warm")
            for tool in self.contenders:
                tool.scenario("all-v1", warm)
        for rep in range(self.opts.runs):
            order = rotate(self.contenders + [self.ping], rep)
            for scenario in scenarios:
                for tool in order:
                    namespace = self.cluster.fresh_namespace("s")
                    first = self.measured(namespace, tool.scenario, scenario, namespace)
                    if rep == 0 and tool is not self.ping:
                        checks.append({"tool": tool.name, "scenario": scenario, "phase": "first",
                                       "ok": self.conforms(namespace, scenario)})
                    again = self.measured(namespace, tool.scenario, scenario, namespace)
                    if tool is self.ours:
                        self.check_noop("scenario %s re-run" % scenario, again)
                    for phase, run in (("first", first), ("rerun", again)):
                        records.append(self.record(run, rep=rep, tool=tool.name, scenario=scenario, phase=phase))
                    log("rep %d %-12s %-20s first %5.2f s  rerun %5.2f s  (load %.1f)"
                        % (rep, scenario, tool.name, first.wall, again.wall, self.loadavg()))
            if rep < self.opts.update_runs:
                records += self.update_chain(rep, [t for t in order if t is not self.ping], checks)
        return {"records": records, "checks": checks}

    def update_chain(self, rep, order, checks):
        """Each scenario reached from the one before it (a change of some objects, not a create)."""
        namespaces = dict((tool.name, self.cluster.fresh_namespace("u")) for tool in order)
        records = []
        for step, scenario in enumerate(CHAIN):
            for tool in order:
                namespace = namespaces[tool.name]
                run = self.measured(namespace, tool.scenario, scenario, namespace)
                if step == 0:
                    continue
                if rep == 0:
                    checks.append({"tool": tool.name, "scenario": scenario, "phase": "update",
                                   "ok": self.conforms(namespace, scenario)})
                records.append(self.record(run, rep=rep, tool=tool.name, scenario=scenario, phase="update",
                                           previous=CHAIN[step - 1]))
            log("rep %d update to %s done" % (rep, scenario))
        return records

    # --- 1b: the same over a WAN -------------------------------------------------------------------

    def wan(self):
        """Every scenario, first apply and re-run, ours and kubernetes.core interleaved, through Toxiproxy adding
        `--latency` ms each way between the contenders and the API server."""
        import wan as wan_mod

        latency = self.opts.latency
        cert = os.path.join(self.cluster.env["state_dir"], "pki", "apiserver.crt")
        records, checks = [], []
        with wan_mod.running(self.cluster.env["server"], os.path.join(WORKDIR, "wan"), latency, cert) as proxy:
            kubeconfig = proxy.kubeconfig(self.kubeconfig, os.path.join(WORKDIR, "kubeconfig-wan"))
            contenders = [tools.Ours(kubeconfig)]
            if self.k8s:
                contenders.append(tools.KubernetesCore(kubeconfig, self.k8s.playbooks))
            log("wan: %d ms each way through %s" % (latency, proxy.server))
            if self.opts.warm_up:
                log("wan: warm-up (discovery caches), not recorded")
                warm = self.cluster.fresh_namespace("wanwarm")
                for tool in contenders:
                    tool.scenario("all-v1", warm)
            for rep in range(self.opts.runs):
                for scenario in self.opts.scenarios:
                    for tool in rotate(contenders, rep):
                        namespace = self.cluster.fresh_namespace("w")
                        first = self.measured(namespace, tool.scenario, scenario, namespace)
                        if rep == 0:
                            checks.append({"tool": tool.name, "scenario": scenario, "phase": "wan first",
                                           "ok": self.conforms(namespace, scenario)})
                        again = self.measured(namespace, tool.scenario, scenario, namespace)
                        if tool.name == OURS:
                            self.check_noop("wan scenario %s re-run" % scenario, again)
                        for phase, run in (("first", first), ("rerun", again)):
                            records.append(self.record(run, rep=rep, tool=tool.name, scenario=scenario,
                                                       phase=phase))
                        log("wan rep %d %-12s %-20s first %5.2f s  rerun %5.2f s  (load %.1f)"
                            % (rep, scenario, tool.name, first.wall, again.wall, self.loadavg()))
            toxics = proxy.toxics()
        return {"records": records, "checks": checks, "latency_ms": latency, "toxics": toxics,
                "toxiproxy": wan_mod.VERSION}

    # --- 3: per-task overhead -----------------------------------------------------------------------

    def tasks(self):
        namespace = self.cluster.fresh_namespace("t")
        self.ours.scenario("all-v1", namespace)
        kinds = ["ping", "traffic_shift", "destination_rule", "mesh_routing"]
        if self.k8s:
            kinds.append("kubernetes.core.k8s")
        counts = self.opts.task_counts
        books = dict(((kind, n), workloads.task_playbook(WORKDIR, kind, n)) for kind in kinds for n in counts)
        extra = ["bench_namespace=" + namespace, "bench_kubeconfig=" + self.kubeconfig]

        def play(kind, n):
            runner = self.k8s.playbook if kind == "kubernetes.core.k8s" else self.ours.playbook
            return self.measured(namespace, runner.run, books[(kind, n)], extra, what="%s x%d" % (kind, n))

        if self.opts.warm_up:
            log("tasks: warm-up, not recorded")
            for kind in kinds:
                play(kind, counts[0])
        records = []
        for rep in range(self.opts.runs):
            for kind in rotate(kinds, rep):
                for n in counts:
                    run = play(kind, n)
                    if kind not in ("ping", "kubernetes.core.k8s"):
                        self.check_noop("%s x%d" % (kind, n), run)
                    records.append(self.record(run, rep=rep, kind=kind, n=n))
            log("tasks rep %d done (load %.1f)" % (rep, self.loadavg()))
        return {"records": records, "counts": counts}

    # --- 5b: a fleet of API servers ----------------------------------------------------------------

    def fleet(self):
        """One scenario against N testenvs at once (an inventory of N hosts, forks N) against the same playbook
        limited to one of them; wall time, CPU time, peak memory of the whole process tree."""
        import fleet as fleet_mod

        size, scenario = self.opts.fleet, self.opts.fleet_scenario
        root = os.environ.get("ACK_BENCH_FLEET_DIR") or os.path.join(WORKDIR, "fleet")
        group = fleet_mod.Fleet(size, root, log)
        book = fleet_mod.playbook(WORKDIR, scenario)
        binary = self.ours.playbook.binary
        records, checks = [], []
        started = time.time()
        try:
            group.up()
            up_seconds = time.time() - started
            idle_kib, idle_per = group.memory_kib()
            log("fleet: %d testenvs up in %.0f s, %.0f MiB resident" % (size, up_seconds, idle_kib / 1024))

            def play(namespace, mode):
                inventory = group.inventory(os.path.join(WORKDIR, "fleet-inventory.yml"), namespace)
                cmd = [binary, "-i", inventory, "-f", str(size), book]
                if mode == "one":
                    cmd += ["--limit", group.members[0].name]
                servers_before = group.cpu_seconds()
                wall, cpu, peak, stdout, stderr, rc = fleet_mod.run_sampled(cmd, tools.ansible_env())
                server_cpu = group.cpu_seconds() - servers_before
                try:
                    result = json.loads(stdout.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    result = {}
                stats = result.get("stats") or {}
                hosts = 1 if mode == "one" else size
                bad = [h for h, s in stats.items() if s.get("failures") or s.get("unreachable")]
                if rc != 0 or bad or len(stats) != hosts:
                    raise tools.BenchError("fleet %s %s failed (rc=%s, hosts %s, failed %s): %s" % (
                        mode, scenario, rc, sorted(stats), bad, (stderr or stdout)[-3000:]))
                changed = sorted(h for h, s in stats.items() if s.get("changed"))
                return {"wall": wall, "cpu": cpu, "server_cpu": server_cpu, "peak_rss_kib": peak,
                        "changed_hosts": changed,
                        "task_time": sum(t.get("duration", 0.0) for t in result.get("tasks") or [])}

            if self.opts.warm_up:
                log("fleet: warm-up (discovery caches of every member), not recorded")
                play(group.namespace("bench-fleet-warm"), "fleet")
            for rep in range(self.opts.fleet_runs):
                for mode in rotate(["one", "fleet"], rep):
                    namespace = group.namespace("bench-fleet-%d-%s" % (rep, mode))
                    first = play(namespace, mode)
                    again = play(namespace, mode)
                    if again["changed_hosts"]:
                        self.broken.append("fleet %s re-run changed on %s" % (mode, again["changed_hosts"]))
                    members = group.members[:1] if mode == "one" else group.members
                    if rep == 0:
                        for member in members:
                            checks.append({"tool": OURS, "scenario": scenario, "phase": "fleet %s" % member.name,
                                           "ok": live_state(FleetCluster(member), namespace)
                                           == expected_state(scenario)})
                    for phase, run in (("first", first), ("rerun", again)):
                        records.append(dict(run, rep=rep, mode=mode, phase=phase))
                    log("fleet rep %d %-5s first %5.2f s (cpu %5.2f s, servers %5.2f s, peak %4.0f MiB)  rerun %5.2f s"
                        "  (load %.1f)" % (rep, mode, first["wall"], first["cpu"], first["server_cpu"],
                                           first["peak_rss_kib"] / 1024, again["wall"], self.loadavg()))
            busy_kib, busy_per = group.memory_kib()
        finally:
            group.down()
        return {"records": records, "checks": checks, "size": size, "scenario": scenario, "cores": os.cpu_count(),
                "up_seconds": up_seconds,
                "testenv_rss_kib": {"idle": idle_kib, "after": busy_kib, "per_component_after": busy_per}}

    # --- 4: bulk -------------------------------------------------------------------------------

    def bulk(self):
        count, loop_count = self.opts.bulk, min(self.opts.loop_services, self.opts.bulk)
        books = workloads.bulk_playbooks(WORKDIR)
        varfiles = dict(((n, changed), workloads.bulk_vars(WORKDIR, n, changed))
                        for n in (count, loop_count) for changed in (False, True))
        manifests = dict((changed, workloads.bulk_manifest(WORKDIR, count, changed)) for changed in (False, True))

        def ours(namespace, changed):
            return self.ours.playbook.run(books["ours"], ["@" + varfiles[(count, changed)],
                                                          "bench_namespace=" + namespace,
                                                          "bench_kubeconfig=" + self.kubeconfig], what="bulk ours")

        def k8s(book, n):
            def run(namespace, changed):
                return self.k8s.playbook.run(books[book], ["@" + varfiles[(n, changed)],
                                                           "bench_namespace=" + namespace,
                                                           "bench_kubeconfig=" + self.kubeconfig], what="bulk " + book)
            return run

        def kubectl(namespace, changed):
            return self.kubectl.apply(namespace, [manifests[changed]], "bulk kubectl")

        baseline_runs = min(self.opts.runs, self.opts.bulk_baseline_runs)
        contenders = [("ack.servicemesh", ours, count, self.opts.runs)]
        if self.k8s:
            contenders += [("kubernetes.core.k8s multi-document", k8s("k8s-multi", count), count, baseline_runs),
                           ("kubernetes.core.k8s loop", k8s("k8s-loop", loop_count), loop_count,
                            min(baseline_runs, self.opts.loop_runs))]
        if self.kubectl:
            contenders.append(("kubectl apply", kubectl, count, baseline_runs))
        records = []
        for rep in range(self.opts.runs):
            for name, action, n, reps in rotate(contenders, rep):
                if rep >= reps:
                    continue
                namespace = self.cluster.fresh_namespace("b")
                for phase, changed in (("first", False), ("noop", False), ("changed", True)):
                    run = self.measured(namespace, action, namespace, changed)
                    if name == OURS and phase == "noop":
                        self.check_noop("bulk no-op", run)
                    records.append(self.record(run, rep=rep, tool=name, services=n, phase=phase))
                    log("bulk rep %d %-36s %3d services %-8s %6.2f s" % (rep, name, n, phase, run.wall))
                held = self.cluster.count(namespace)
                if held != 2 * n:
                    raise tools.BenchError("%s left %d objects for %d services" % (name, held, n))
                self.cluster.empty(namespace)
        return {"records": records, "services": count, "loop_services": loop_count}

    # --- 5: peak memory ----------------------------------------------------------------------------

    def memory(self):
        sys.path.insert(0, tools.COLLECTIONS)
        ours_py = os.path.join(tools.PROJECT_VENV, "bin", "python")
        module = os.path.join(ROOT, "plugins", "modules", "mesh_routing.py")
        cases = []
        for label, services in (("BookInfo fault-delay, 4 services", workloads.scenario_module_args()),
                                ("bulk, %d services" % self.opts.bulk, workloads.bulk_services(self.opts.bulk))):
            cases.append(("ack.servicemesh.mesh_routing", label, ours_py, module, tools.COLLECTIONS,
                          {"kubeconfig": self.kubeconfig, "services": services}))
        if self.k8s:
            k8s_py = os.path.join(tools.BENCH_VENV, "bin", "python")
            k8s_module = os.path.join(tools.BENCH_VENV, "lib", "python3.11", "site-packages", "ansible_collections",
                                      "kubernetes", "core", "plugins", "modules", "k8s.py")
            for label, objects in (("BookInfo fault-delay, 8 objects", workloads.scenario_objects_for_k8s()),
                                   ("bulk, %d objects" % (2 * self.opts.bulk), workloads.bulk_objects(self.opts.bulk))):
                cases.append(("kubernetes.core.k8s", label, k8s_py, k8s_module, None,
                              {"kubeconfig": self.kubeconfig, "definition": objects}))
        # kubernetes.core with the bulk mesh takes minutes per run here: once, first apply only.
        once = cases[-1][1] if self.k8s else None
        records = []
        for rep in range(min(self.opts.runs, self.opts.memory_runs)):
            args = workloads.module_args_file(WORKDIR, "ping", {})
            wall, rss = tools.measure_module(ours_py, "ansible.modules.ping", args)[:2]
            records.append({"rep": rep, "module": "ansible.builtin.ping", "case": "no API call", "phase": "-",
                            "wall": wall, "max_rss_kib": rss})
            for index, (name, label, python, path, pythonpath, args) in enumerate(rotate(cases, rep)):
                if label == once and rep > 0:
                    continue
                namespace = self.cluster.fresh_namespace("m")
                args_file = workloads.module_args_file(WORKDIR, "mem-%d" % index, dict(args, namespace=namespace))
                for phase in (("first",) if label == once else ("first", "noop")):
                    wall, rss, result = tools.measure_module(python, path, args_file, pythonpath)
                    if name.startswith(OURS) and phase == "noop" and result.get("changed"):
                        self.broken.append("memory %s: the no-op module run reported changed" % label)
                    records.append({"rep": rep, "module": name, "case": label, "phase": phase, "wall": wall,
                                    "max_rss_kib": rss, "changed": result.get("changed")})
                self.cluster.empty(namespace)
            log("memory rep %d done" % rep)
        return {"records": records}


class FleetCluster:
    """What conformance.live_state needs of one fleet member: its objects, read with its admin kubeconfig."""

    def __init__(self, member):
        from kubernetes import client as k8s

        self.custom = k8s.CustomObjectsApi(member.client())

    def list(self, kind, namespace):
        return self.custom.list_namespaced_custom_object(cluster_mod.GROUP, "v1", namespace,
                                                         cluster_mod.PLURALS[kind])["items"]


def machine(bench):
    return report.describe_machine(
        ansible_core=tools.package_version(tools.PROJECT_VENV, "ansible-core"),
        bench_venv=bool(bench.k8s),
        ansible=tools.package_version(tools.BENCH_VENV, "ansible") if bench.k8s else None,
        bench_core=tools.package_version(tools.BENCH_VENV, "ansible-core") if bench.k8s else None,
        kubernetes_core=tools.collection_version(tools.BENCH_VENV, "kubernetes", "core") if bench.k8s else None,
        kubernetes_client=tools.package_version(tools.BENCH_VENV if bench.k8s else tools.PROJECT_VENV, "kubernetes"),
        kubectl=tools.Kubectl.version(),
        cluster_env=bench.cluster.env,
    )


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="1 run, 1 scenario, 20 bulk services, a fleet of 2, no warm-ups; no RESULTS.md")
    parser.add_argument("--runs", type=int, default=5, help="repetitions of each measurement (default 5)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help="comma-separated subset of " + ",".join(SECTIONS))
    parser.add_argument("--bulk", type=int, default=500, help="services in the bulk case (default 500)")
    parser.add_argument("--loop-services", type=int, default=10,
                        help="services for kubernetes.core.k8s in a loop, extrapolated to --bulk (default 10)")
    parser.add_argument("--loop-runs", type=int, default=3, help="repetitions of the k8s loop (default 3)")
    parser.add_argument("--bulk-baseline-runs", type=int, default=3,
                        help="repetitions of the bulk kubernetes.core and kubectl runs (minutes each; default 3)")
    parser.add_argument("--memory-runs", type=int, default=3, help="repetitions of the memory runs (default 3)")
    parser.add_argument("--update-runs", type=int, default=1, help="repetitions of the update chain (default 1)")
    parser.add_argument("--task-counts", default="2,10", help="two task counts for the per-task slope (default 2,10)")
    parser.add_argument("--no-baselines", action="store_true",
                        help="only ack.servicemesh (no kubernetes.core, kubectl)")
    parser.add_argument("--require-baselines", action="store_true",
                        help="fail when kubernetes.core cannot be compared (no bench venv)")
    parser.add_argument("--latency", type=int, default=50, help="ms added each way in the wan section (default 50)")
    parser.add_argument("--fleet", type=int, default=10, help="API servers in the fleet section (default 10)")
    parser.add_argument("--fleet-runs", type=int, default=3, help="repetitions of the fleet runs (default 3)")
    parser.add_argument("--fleet-scenario", default="fault-delay", choices=workloads.SCENARIOS,
                        help="the scenario the fleet applies (default fault-delay)")
    parser.add_argument("--output", help="default benchmarks/RESULTS.md (smoke: build/bench/RESULTS-smoke.md)")
    parser.add_argument("--raw", help="raw results file (default build/bench/raw.json, smoke: raw-smoke.json)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from the raw results")
    parser.add_argument("--keep", action="store_true", help="leave the bench-* namespaces in place")
    opts = parser.parse_args(argv)
    opts.scenarios = list(workloads.SCENARIOS)
    # Warm-ups make the measured runs look like daily use; a smoke run only checks that nothing breaks.
    opts.warm_up = not opts.smoke
    if opts.smoke:
        opts.runs, opts.bulk, opts.loop_services, opts.loop_runs, opts.update_runs = 1, 20, 1, 1, 0
        opts.fleet, opts.fleet_runs = 2, 1
        opts.scenarios = ["fault-delay"]
        opts.task_counts = "1,2"
    opts.task_counts = [int(n) for n in opts.task_counts.split(",")]
    if len(opts.task_counts) != 2 or opts.task_counts[0] >= opts.task_counts[1]:
        parser.error("--task-counts takes two increasing numbers")
    opts.sections = [s for s in opts.sections.split(",") if s]
    unknown = set(opts.sections) - set(SECTIONS)
    if unknown:
        parser.error("unknown sections: %s" % ", ".join(sorted(unknown)))
    suffix = "-smoke" if opts.smoke else ""
    opts.output = opts.output or (os.path.join(WORKDIR, "RESULTS-smoke.md") if opts.smoke
                                  else os.path.join(HERE, "RESULTS.md"))
    opts.raw = opts.raw or os.path.join(WORKDIR, "raw%s.json" % suffix)
    return opts


def main(argv=None):
    opts = parse(sys.argv[1:] if argv is None else argv)
    raw = {}
    if os.path.exists(opts.raw) and (opts.report_only or not opts.smoke):
        with open(opts.raw) as handle:
            raw = json.load(handle)
    if not opts.report_only:
        started = time.time()
        bench = Bench(opts)
        raw.setdefault("sections", {})
        raw["machine"] = machine(bench)
        raw["machine"]["load_start"] = os.getloadavg()
        try:
            for section in opts.sections:
                log("section %s" % section)
                t0, load_start = time.time(), os.getloadavg()
                data = getattr(bench, section)()
                data.update({"runs": opts.fleet_runs if section == "fleet" else opts.runs, "seconds": time.time() - t0, "load_start": load_start,
                             "command": "benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
                             "finished": time.strftime("%Y-%m-%d %H:%M"),
                             "load_end": os.getloadavg()})
                raw["sections"][section] = data
                with open(opts.raw, "w") as out:
                    json.dump(raw, out, indent=1)
        finally:
            if not opts.keep:
                bench.cluster.remove_namespaces()
        raw["machine"]["load_end"] = os.getloadavg()
        raw["machine"]["seconds"] = time.time() - started
        raw["command"] = "benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
        with open(opts.raw, "w") as out:
            json.dump(raw, out, indent=1)
    text = report.render(raw, smoke=opts.smoke)
    text = keep_sections(opts.output, text)
    with open(opts.output, "w") as out:
        out.write(text)
    log("wrote %s" % os.path.relpath(opts.output, ROOT))
    failures = report.failed_checks(raw)
    if failures:
        log("end state differs from Istio's sample: %s" % failures)
    broken = [] if opts.report_only else bench.broken
    for problem in broken:
        log("BROKEN: " + problem)
    return 1 if failures or broken else 0


# Sections other scripts write into RESULTS.md, between their markers, carried over when run.py rewrites it.
KEPT_SECTIONS = (("<!-- profile:start -->", "<!-- profile:end -->"),
                 ("<!-- import-time:begin -->", "<!-- import-time:end -->"),
                 ("<!-- canary:begin -->", "<!-- canary:end -->"))


def keep_sections(path, text):
    """Carry over the marked sections of the existing report (profile, import time, canary) into the new one."""
    try:
        with open(path) as handle:
            old = handle.read()
    except OSError:
        return text
    for start, end in KEPT_SECTIONS:
        if start in old and end in old and start not in text:
            text = text.rstrip("\n") + "\n\n" + old[old.index(start):old.index(end) + len(end)] + "\n"
    return text


if __name__ == "__main__":
    sys.exit(main())
