"""Turning raw benchmark results into benchmarks/RESULTS.md: medians, same-run ratios, targets."""

import os
import platform
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

OURS, K8S, KUBECTL, PING = "ack.servicemesh", "kubernetes.core.k8s", "kubectl apply", "one ping task"
SCENARIO_OBJECTS = 8
# Issue 16's targets; the per-task and bulk ones are issue 7's.
RATIO_TARGET, WAN_TARGET, PING_TARGET, NOOP_REQUESTS, FLEET_TARGET = 0.5, 0.4, 1.4, 2, 2.5
TASK_TARGET = 1.5
BULK_FIRST_TARGET, BULK_NOOP_TARGET = 15.0, 3.0


# --- machine ------------------------------------------------------------------------------------


def _cpu():
    models, mhz = [], []
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            key, _sep, value = line.partition(":")
            if key.strip() == "model name":
                models.append(value.strip())
            elif key.strip() == "cpu MHz":
                mhz.append(float(value))
    return {"model": models[0] if models else platform.processor(), "cpus": len(models),
            "mhz": round(statistics.mean(mhz)) if mhz else None}


def describe_machine(cluster_env, **versions):
    from testenv import versions as testenv_versions

    free = subprocess.run(["free", "-h"], stdout=subprocess.PIPE, universal_newlines=True, check=False).stdout
    info = {"cpu": _cpu(), "nproc": os.cpu_count(), "free": free.rstrip(), "kernel": platform.release(),
            "python": platform.python_version(), "kubernetes_server": testenv_versions.KUBERNETES_VERSION,
            "etcd": testenv_versions.ETCD_VERSION, "istio_api": testenv_versions.ISTIO_API_VERSION,
            "server": cluster_env["server"]}
    info.update(versions)
    return info


# --- statistics ---------------------------------------------------------------------------------


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, unit="s", digits=2):
    if value is None:
        return "—"
    return ("%." + str(digits) + "f%s") % (value, (" " + unit) if unit else "")


def fmt_ratio(value):
    if value is None:
        return "—"
    return ("%.3fx" if value < 0.1 else "%.2fx") % value


def by(records, **match):
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def paired_ratio(records, key, num, den, field="wall"):
    """Median over repetitions of num/den measured in the same repetition."""
    ratios = []
    for rep in sorted(set(r["rep"] for r in records)):
        a = by(records, rep=rep, **dict(key, tool=num))
        b = by(records, rep=rep, **dict(key, tool=den))
        if a and b and b[0][field]:
            ratios.append(a[0][field] / b[0][field])
    return median(ratios)


def req(records, field="total"):
    counts = [r["requests"][field] for r in records if r.get("requests")]
    return median(counts)


def req_text(records):
    """total (discovery / reads / writes), and the failed ones (404 before a create, 415 of a refused patch)."""
    text = "%d (%d / %d / %d)" % (req(records), req(records, "discovery"), req(records, "reads"),
                                  req(records, "writes"))
    errors = req(records, "errors")
    return text + (", %d failed" % errors if errors else "")


# --- sections -----------------------------------------------------------------------------------


def task_breakdown(rows):
    """(action, runs it appears in, median of its summed duration per run) for the tasks of the given runs."""
    per_action = {}
    for r in rows:
        totals = {}
        for action, duration, _requests in r.get("tasks") or []:
            totals[action] = totals.get(action, 0.0) + duration
        for action, total in totals.items():
            per_action.setdefault(action, []).append(total)
    return [(action, len(values), median(values)) for action, values in per_action.items()]


def load_line(data):
    """The machine's load while a section ran, for the line under its heading."""
    start, end = data.get("load_start"), data.get("load_end")
    if not start and not end:
        return []
    return ["Load average (1, 5, 15 min) while this section ran: %s at the start, %s at the end (2 cores)." % (
        " / ".join("%.1f" % v for v in start) if start else "?", " / ".join("%.1f" % v for v in end) if end else "?"),
        ""]


def phase_key(label):
    return {"first": "first", "re-run": "rerun"}[label]


def why_ratio(over, records, target, ping_records=None):
    """Why scenarios miss a wall-time ratio to kubernetes.core: what a collection whose module costs nothing
    (the one-ping-task playbook) would reach, and our own split of the time. With `ping_records` (the WAN
    section: ping sends no request, so it was measured on loopback only) the floor is a ratio of medians."""
    text = "over in: %s. " % ", ".join("%s %s" % case for case in sorted(over))
    if ping_records is None:
        floors = [paired_ratio(records, {"scenario": s, "phase": phase_key(p)}, PING, K8S) for s, p in over]
        how = "In the same repetitions"
    else:
        floors = []
        for s, p in over:
            ping = median(r["wall"] for r in by(ping_records, tool=PING, scenario=s, phase=phase_key(p)))
            theirs = median(r["wall"] for r in by(records, tool=K8S, scenario=s, phase=phase_key(p)))
            if ping and theirs:
                floors.append(ping / theirs)
        how = "Compared by medians (it sends no request, so it ran on loopback, section 1)"
    floors = [f for f in floors if f is not None]
    if floors:
        floor_met = max(floors) <= target
        text += ("%s, a playbook of one `ansible.builtin.ping` task (no API call at all) takes %s to %s of "
                 "kubernetes.core's time in these cases: ansible-playbook's own start-up and one task's fixed "
                 "cost are %s; " % (how, fmt_ratio(min(floors)), fmt_ratio(max(floors)),
                                    "most of the allowance" if floor_met else
                                    "more than %.1fx of kubernetes.core's wall time, so no module could meet "
                                    "the target here" % target))
    ours = [r for r in by(records, tool=OURS) if r.get("task_time")]
    routing = median(d for r in ours for action, d, _req in r.get("tasks") or []
                     if action == "ack.servicemesh.mesh_routing")
    if ours and routing:
        text += ("ours: start-up %s, the role's tasks %s, of which `mesh_routing` %s (medians)."
                 % (fmt(median(r["wall"] - r["task_time"] for r in ours)), fmt(median(r["task_time"] for r in ours)),
                    fmt(routing)))
    return text


def ratio_table(records, tools, scenarios, extra_ratios):
    head = "| scenario | phase | " + " | ".join(tools) + " | " + " | ".join(n for n, _t in extra_ratios) + " |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    ratios = dict((name, {}) for name, _t in extra_ratios)
    for scenario in scenarios:
        for phase, label in (("first", "first"), ("rerun", "re-run")):
            cells = [fmt(median(r["wall"] for r in by(records, tool=t, scenario=scenario, phase=phase)))
                     for t in tools]
            values = []
            for name, other in extra_ratios:
                value = paired_ratio(records, {"scenario": scenario, "phase": phase}, OURS, other)
                if value is not None:
                    ratios[name][(scenario, label)] = value
                values.append(fmt_ratio(value))
            lines.append("| %s | %s | %s | %s |" % (scenario, label, " | ".join(cells), " | ".join(values)))
    return lines, ratios


def ratio_target(targets, name, ratios, target, records, ping_records=None):
    if not ratios:
        return
    scenario, label = max(ratios, key=ratios.get)
    over = [k for k, v in ratios.items() if v > target]
    targets.append((name, "worst %s (%s %s); best %s" % (fmt_ratio(ratios[(scenario, label)]), scenario, label,
                                                         fmt_ratio(min(ratios.values()))),
                    not over,
                    "met in all %d cases" % len(ratios) if not over else
                    "%d of %d cases over, the worst by %s; %s" % (
                        len(over), len(ratios), fmt_ratio(ratios[(scenario, label)] - target),
                        why_ratio(over, records, target, ping_records))))


def section_scenarios(data, targets, older, memory=None):
    records, lines = data["records"], []
    tools = [t for t in (OURS, K8S, KUBECTL, PING) if by(records, tool=t)]
    scenarios = []
    for r in records:
        if r["scenario"] not in scenarios:
            scenarios.append(r["scenario"])
    runs = len(set(r["rep"] for r in by(records, phase="first")))
    lines += ["## 1. Scenario playbooks: wall time", "", *load_line(data),
              "Wall time of the whole process (`ansible-playbook` start to exit, or `kubectl apply`), median of %d "
              "runs, testenv on loopback. *first*: into a fresh namespace; *re-run*: the same command again. "
              "*%s*: `ansible-playbook` of a play with one `ansible.builtin.ping` task, the floor for any "
              "collection. Ratios are taken within each repetition (the contenders run interleaved, in a rotating "
              "order) and their median is shown." % (runs, PING), ""]
    extra = [(n, t) for n, t in (("ours / k8s", K8S), ("ours / kubectl", KUBECTL), ("ours / ping", PING))
             if t in tools]
    table, ratios = ratio_table(by(records, phase="first") + by(records, phase="rerun"), tools, scenarios, extra)
    lines += table
    lines += ["", "Where the time goes (medians over all scenarios and both phases): *tasks* is the sum of the play's "
              "task durations as the callback saw them, *start-up* the rest of the process (interpreter, loading "
              "plugins and the play, the callback's output).", "",
              "| contender | tasks per run (median) | tasks | start-up |", "|---|---|---|---|"]
    for tool in (OURS, K8S, PING):
        rows = [r for r in by(records, tool=tool) if r["phase"] in ("first", "rerun") and r.get("task_time")]
        if not rows:
            continue
        count = median(len(r.get("tasks") or []) for r in rows)
        lines.append("| %s | %g | %s | %s |" % (tool, count, fmt(median(r["task_time"] for r in rows)),
                                                fmt(median(r["wall"] - r["task_time"] for r in rows))))
    lines.append("")
    breakdown = task_breakdown(by(records, tool=OURS))
    if breakdown:
        lines += ["ack.servicemesh's tasks, by action (median of the summed duration per run over the runs the "
                  "action appears in):", "",
                  "| task action | runs it appears in | median duration |", "|---|---|---|"]
        lines += ["| %s | %d | %s |" % (action, seen, fmt(duration)) for action, seen, duration in breakdown]
        lines.append("")

    updates = by(records, phase="update")
    if updates:
        utools = [t for t in tools if t != PING]
        lines += ["### Changing scenario (update)", "",
                  "Each scenario reached from the one before it in the chain (fault-abort → all-v1 → user-v2 → "
                  "fault-delay → fault-abort → shift-50-v3 → reset), in one namespace per contender: objects are "
                  "updated, not created. %d run(s)." % len(set(r["rep"] for r in updates)), "",
                  "| scenario (from) | " + " | ".join(utools) + " | ours / k8s |",
                  "|" + "---|" * (len(utools) + 2)]
        for scenario in scenarios:
            rows = by(updates, scenario=scenario)
            if not rows:
                continue
            cells = [fmt(median(r["wall"] for r in by(rows, tool=t))) for t in utools]
            lines.append("| %s (%s) | %s | %s |" % (scenario, rows[0]["previous"], " | ".join(cells),
                                                    fmt_ratio(paired_ratio(rows, {}, OURS, K8S))))
        lines.append("")

    # Requests.
    rtools = [t for t in tools if t != PING]
    lines += ["## 2. API requests per run", "",
              "Counted on the server side: audit-log events of the benchmark's own service account "
              "(`system:serviceaccount:bench-auth:bench-runner`) on the run's namespace, plus its discovery requests "
              "(`/api`, `/apis`, `/apis/networking.istio.io...`). Medians over runs (they barely vary). Per object = "
              "divided by the %d objects of a scenario's end state (4 DestinationRules, 4 VirtualServices). "
              "Format: total (discovery / reads / writes), then how many of them failed (a 404 GET before a create, "
              "a 415 to a strategic-merge PATCH, which custom resources do not support)." % SCENARIO_OBJECTS, ""]
    head = "| scenario | phase | " + " | ".join(rtools) + " | ours per object |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    per_object = {}
    for scenario in scenarios:
        for phase, label in (("first", "create"), ("rerun", "no-op"), ("update", "update")):
            rows = by(records, scenario=scenario, phase=phase)
            if not rows:
                continue
            cells = [req_text(by(rows, tool=t)) if by(rows, tool=t) else "—" for t in rtools]
            ours = by(rows, tool=OURS)
            ratio = req(ours) / SCENARIO_OBJECTS if ours else None
            per_object[(scenario, label)] = (ours, ratio)
            lines.append("| %s | %s | %s | %s |" % (scenario, label, " | ".join(cells), fmt(ratio, "", 2)))
    ours_rows = [r for r in by(records, tool=OURS) if r.get("requests")]
    lines += ["", "For ack.servicemesh the `requests` that `mesh_routing` itself reports were a median %s (create) "
              "and %s (no-op), against the audit log's %s and %s for the whole playbook (the role runs one module "
              "task)." % (
                  fmt(median(r["module_requests"] for r in by(ours_rows, phase="first")), "", 0),
                  fmt(median(r["module_requests"] for r in by(ours_rows, phase="rerun")), "", 0),
                  fmt(req(by(ours_rows, phase="first")), "", 0), fmt(req(by(ours_rows, phase="rerun")), "", 0)),
              "Not in the audit policy, hence not counted for anyone: `/version` and `/openapi/*` (kubectl apply "
              "fetches OpenAPI schemas; every discovery cache was warm, as in day-to-day use: a warm-up run before "
              "measuring).", ""]
    checks = data.get("checks") or []
    bad = [c for c in checks if not c["ok"]]
    lines += ["End state checked against Istio's sample objects after the first apply of each scenario and each "
              "update step (first run): %d checks, %s." % (len(checks), "all equal" if not bad else
                                                           "DIFFERENT: %s" % bad), ""]

    # Targets.
    ratio_target(targets, "Every scenario, first apply and re-run: at most %.1fx kubernetes.core's wall time on "
                 "loopback" % RATIO_TARGET, ratios.get("ours / k8s"), RATIO_TARGET, records)
    pings = ratios.get("ours / ping")
    if pings:
        scenario, label = max(pings, key=pings.get)
        over = [k for k, v in pings.items() if v > PING_TARGET]
        ours = [r for r in by(records, tool=OURS) if r.get("task_time")]
        ping_rows = [r for r in by(records, tool=PING) if r.get("task_time")]
        detail = "met in all %d cases" % len(pings)
        if over:
            routing = median(d for r in ours for action, d, _req in r.get("tasks") or []
                             if action == "ack.servicemesh.mesh_routing")
            bare_ping, bare_ours = module_process_times(memory)
            bare = ("a bare no-op mesh_routing process takes %s against ping's %s (section 5)" % (
                fmt(bare_ours), fmt(bare_ping))) if bare_ping and bare_ours else "see section 5"
            detail = ("%d of %d cases over, the worst by %s: over in %s. Measured split (medians per run): "
                      "tasks %s for ours against %s for ping's one task, of which `mesh_routing` %s; start-up "
                      "outside the tasks %s against %s (loading the role, its argument specs and filter plugins). "
                      "Inside the mesh_routing task the controller first builds the AnsiballZ wrapper, parsing "
                      "every module_utils file the module imports (about twice ping's CPU, see the import-time "
                      "section), then the module process runs: %s, for compiling the collection's sources (each "
                      "once since issue 16, see the module profile), the kubeconfig, one TLS connection, the two "
                      "LISTs, the plan and the analysis; the fault scenarios also compute the predictions. These "
                      "costs follow the code the module ships and runs, not its requests" % (
                          len(over), len(pings), fmt_ratio(pings[(scenario, label)] - PING_TARGET),
                          ", ".join("%s %s" % k for k in sorted(over)), fmt(median(r["task_time"] for r in ours)),
                          fmt(median(r["task_time"] for r in ping_rows)), fmt(routing),
                          fmt(median(r["wall"] - r["task_time"] for r in ours)),
                          fmt(median(r["wall"] - r["task_time"] for r in ping_rows)), bare))
        targets.append(("Every scenario: at most %.1fx the wall time of a one-ping-task playbook on loopback"
                        % PING_TARGET, "worst %s (%s %s); best %s" % (
                            fmt_ratio(pings[(scenario, label)]), scenario, label, fmt_ratio(min(pings.values()))),
                        not over, detail))
    noops = [v[0] for k, v in per_object.items() if k[1] == "no-op" and v[0]]
    fixed = None
    if noops:
        writes = max(req(v, "writes") for v in noops)
        discovery = max(req(v, "discovery") for v in noops)
        total = max(req(v) for v in noops)
        fixed = discovery + max(req(v, "reads") for v in noops)
        ok = writes == 0 and total <= NOOP_REQUESTS
        targets.append(("No-op scenario: at most %d requests with a warm discovery cache, 0 writes" % NOOP_REQUESTS,
                        "at most %d requests (%d discovery, %d reads), %d writes, over the %d scenarios" % (
                            total, discovery, fixed - discovery, writes, len(noops)), ok,
                        "met: the two LISTs (DestinationRules, VirtualServices) and nothing else" if ok else
                        "missed by %d requests" % (total - NOOP_REQUESTS)))
    changes = [(k, v) for k, v in per_object.items() if k[1] in ("create", "update") and v[0]]
    if changes:
        worst_change = max(v[1] for _k, v in changes)
        per_written = []
        for _k, (rows, _ratio) in changes:
            for r in rows:
                if r["requests"]["writes"]:
                    per_written.append(r["requests"]["total"] / r["requests"]["writes"])
        older.append(("Change: at most two requests per object",
                      "at most %.2f per object of the scenario; per object actually written: %.2f to %.2f"
                      % (worst_change, min(per_written), max(per_written)) if per_written else "%.2f" % worst_change,
                      worst_change <= 2,
                      ("met: %s fixed requests (the no-op's reads), then one write per changed object, plus one "
                       "dry run per changed object when more than one changes" % fixed)
                      if worst_change <= 2 else
                      "missed by %.2f requests per object: since issue 11.5 every changed object is first dry-run "
                      "(PUT or POST with dryRun=All) when more than one object changes, so that the API server "
                      "and Istio's webhook refuse a bad batch before any write; a create of the 8 objects is the "
                      "%s reads, 8 dry runs and 8 writes" % (worst_change - 2, fixed)))
    return lines


def section_wan(data, targets, loopback=None):
    records, latency = data["records"], data["latency_ms"]
    tools = [t for t in (OURS, K8S) if by(records, tool=t)]
    scenarios = []
    for r in records:
        if r["scenario"] not in scenarios:
            scenarios.append(r["scenario"])
    runs = len(set(r["rep"] for r in records))
    toxics = ", ".join("%s %s ms" % (t["stream"], t["attributes"]["latency"]) for t in data.get("toxics") or [])
    lines = ["## 1b. Scenario playbooks over a WAN (%d ms each way)" % latency, "", *load_line(data),
             "The same scenarios, with Toxiproxy %s (built from its Go module) between the contenders and the API "
             "server: a TCP proxy on 127.0.0.1 with latency toxics on both streams (%s), so every round trip "
             "takes %d ms more and TLS passes through untouched (the kubeconfig names the proxy's port; the API "
             "server's certificate has 127.0.0.1 in its SANs and still verifies). Median of %d runs, "
             "contenders interleaved in a rotating order, ratios paired per repetition."
             % (data.get("toxiproxy", "?"), toxics, 2 * latency, runs), ""]
    table, ratios = ratio_table(records, tools, scenarios, [("ours / k8s", K8S)] if K8S in tools else [])
    lines += table + [""]
    if loopback:
        lrecords = loopback["records"]
        lines += ["What the latency costs each side (median WAN wall time minus median loopback wall time, both from "
                  "this report), and the requests it sent (audit log, medians):", "",
                  "| scenario | phase | ours: + latency | ours: requests | k8s: + latency | k8s: requests |",
                  "|---|---|---|---|---|---|"]
        for scenario in scenarios:
            for phase, label in (("first", "first"), ("rerun", "re-run")):
                cells = []
                for tool in (OURS, K8S):
                    wan = median(r["wall"] for r in by(records, tool=tool, scenario=scenario, phase=phase))
                    local = median(r["wall"] for r in by(lrecords, tool=tool, scenario=scenario, phase=phase))
                    rows = by(records, tool=tool, scenario=scenario, phase=phase)
                    cells += [fmt(wan - local) if wan is not None and local is not None else "—",
                              "%d" % req(rows) if rows and rows[0].get("requests") else "—"]
                lines.append("| %s | %s | %s |" % (scenario, label, " | ".join(cells)))
        lines += ["", "The two sections ran at different loads (under each heading): where the difference is "
                  "negative, the loopback runs were slowed more by the load than the WAN runs by the latency, so "
                  "only the ratios within this section are comparable."]
        firsts = [r for r in by(records, tool=OURS, phase="first") if r.get("requests")]
        if firsts:
            sent = req(firsts)
            lines += ["ours sends %d requests per first apply (the two LISTs, then a dry run and a write per "
                      "object, issue 11.5), %.1f s of round trips at %d ms each if sent one after another; they go "
                      "out at the same time where they do not depend on each other (issue 16: both LISTs, then every "
                      "dry run, then the DestinationRules, then the VirtualServices, at most 4 at once over up to 4 "
                      "kept-alive connections), about 5 rounds plus the extra connections' handshakes; a re-run "
                      "sends the two LISTs, together." % (sent, sent * 2 * latency / 1000.0, 2 * latency)]
        lines.append("")
    checks = data.get("checks") or []
    bad = [c for c in checks if not c["ok"]]
    lines += ["End state after the first apply over the WAN (first run): %d checks, %s." % (
        len(checks), "all equal to Istio's sample objects" if not bad else "DIFFERENT: %s" % bad), ""]
    ratio_target(targets, "Every scenario, first apply and re-run: at most %.1fx kubernetes.core's wall time with "
                 "%d ms added each way" % (WAN_TARGET, latency), ratios.get("ours / k8s"), WAN_TARGET,
                 records, ping_records=(loopback or {}).get("records", []))
    return lines


def section_fleet(data, targets):
    records, size, cores = data["records"], data["size"], data.get("cores") or 2
    reps = sorted(set(r["rep"] for r in records))
    lines = ["## 6. Fleet: %d API servers at once" % size, "", *load_line(data),
             "The `%s` scenario as one `ansible-playbook` over an inventory of %d hosts, forks %d, each host its "
             "own testenv (etcd + kube-apiserver + kube-controller-manager + istiod, ports shifted by "
             "`ACK_TESTENV_PORT_OFFSET`), against the same playbook limited to one host. *first* into a fresh "
             "namespace on every cluster, *re-run* the same again. CPU is the user + system time of "
             "ansible-playbook and every process it waited for (workers, modules); peak memory the largest sum of "
             "the resident sets of its process tree (sampled every 0.1 s). %d run(s), the two interleaved in a "
             "rotating order; the %d testenvs themselves run beside it on the same 2 cores."
             % (data["scenario"], size, size, len(reps), size), "",
             "| playbook | phase | wall | CPU | testenvs' CPU meanwhile | peak memory (process tree) "
             "| fleet / one (paired) | CPU-bound floor of the ratio |", "|---|---|---|---|---|---|---|---|"]
    results = {}
    for phase, label in (("first", "first"), ("rerun", "re-run")):
        one = by(records, mode="one", phase=phase)
        many = by(records, mode="fleet", phase=phase)
        ratio = median([a["wall"] / b["wall"] for rep in reps for a in by(many, rep=rep) for b in by(one, rep=rep)])
        # The fleet run cannot take less wall time than its CPU work spread over the cores: the playbook's own
        # (controller, workers, modules) plus what the API servers and the rest of the testenvs spent meanwhile,
        # which runs on the same cores. As a ratio to one cluster's wall time, paired per repetition.
        floor = median([max(b["wall"], (a["cpu"] + a["server_cpu"]) / cores) / b["wall"]
                        for rep in reps for a in by(many, rep=rep) for b in by(one, rep=rep)])
        results[label] = (ratio, floor)
        for mode, rows, name in (("one", one, "1 cluster"), ("fleet", many, "%d clusters" % size)):
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                name, label, fmt(median(r["wall"] for r in rows)), fmt(median(r["cpu"] for r in rows)),
                fmt(median(r["server_cpu"] for r in rows)),
                fmt(median(r["peak_rss_kib"] for r in rows) / 1024, "MiB", 0),
                fmt_ratio(ratio) if mode == "fleet" else "—", fmt_ratio(floor) if mode == "fleet" else "—"))
    mem = data.get("testenv_rss_kib") or {}
    per = mem.get("per_component_after") or {}
    lines += ["", "CPU-bound floor: the fleet run's CPU time (the playbook's, plus what the %d testenvs' processes "
              "used while it ran: API servers, etcd, controller managers, istiod, all on the same machine) / %d "
              "cores, as a ratio to one cluster's wall time in the same repetition (1x when that is less than "
              "the wall time): the fleet cannot be faster than that while the work is what limits it. The "
              "playbook's CPU alone is not the floor: the %d API servers serve the requests on the same cores."
              % (size, cores, size), "",
              "Memory of the %d testenvs (resident, summed): %s with nothing running, %s after the runs (%s). "
              "Starting them took %s." % (
                  size, fmt(mem.get("idle", 0) / 1048576.0, "GiB", 1), fmt(mem.get("after", 0) / 1048576.0, "GiB", 1),
                  ", ".join("%s %s" % (k, fmt(v / 1048576.0, "GiB", 2)) for k, v in sorted(per.items())),
                  fmt(data.get("up_seconds"))), ""]
    checks = data.get("checks") or []
    bad = [c for c in checks if not c["ok"]]
    lines += ["End state on every cluster after the first apply (first run): %d checks, %s." % (
        len(checks), "all equal to Istio's sample objects" if not bad else "DIFFERENT: %s" % bad), ""]
    worst = max(results, key=lambda k: results[k][0] or 0)
    ratio, floor = results[worst]
    if ratio is not None:
        met = all((v[0] or 0) <= FLEET_TARGET for v in results.values())
        targets.append(("Fleet of %d on %d cores: at most %.1fx the wall time of one cluster" % (
            size, cores, FLEET_TARGET),
            "first %s, re-run %s (CPU-bound floor %s and %s)" % (
                fmt_ratio(results["first"][0]), fmt_ratio(results["re-run"][0]), fmt_ratio(results["first"][1]),
                fmt_ratio(results["re-run"][1])),
            met, ("met with %s to spare (worst: %s)" % (fmt_ratio(FLEET_TARGET - ratio), worst)) if met else
            ("missed in %s by %s; the CPU-bound floor of %s is itself over the target: the work (playbook and "
             "API servers) needs more than %d cores; the remaining %s above the floor is time not bound by CPU "
             "(the %d forks waiting on their requests and on each other)"
             % (worst, fmt_ratio(ratio - FLEET_TARGET), fmt_ratio(floor), cores, fmt_ratio(ratio - floor), size)
             if floor > FLEET_TARGET else
             "missed in %s by %s, above the CPU-bound floor of %s" % (
                 worst, fmt_ratio(ratio - FLEET_TARGET), fmt_ratio(floor)))))
    return lines


def module_process_times(memory):
    """Median wall time of a bare module process (section 5): ping's and mesh_routing's no-op on BookInfo."""
    if not memory:
        return None, None
    records = memory["records"]
    ping = median(r["wall"] for r in by(records, module="ansible.builtin.ping"))
    ours = median(r["wall"] for r in records
                  if r["module"] == "ack.servicemesh.mesh_routing" and r["phase"] == "noop" and "BookInfo" in r["case"])
    return ping, ours


def why_tasks(ratio, ours, ping, memory):
    text = ("missed by %s: %.2f s per task against %.2f s for ping. A mesh task ships a bigger module with its "
            "module_utils, starts Python in a new process, loads the kubeconfig, opens a TLS connection and reads "
            "the object(s) (discovery comes from its cache); ping does none of that"
            % (fmt_ratio(ratio - TASK_TARGET), ours, ping))
    bare_ping, bare_ours = module_process_times(memory)
    if bare_ping and bare_ours and ours > ping:
        gap, bare_gap = ours - ping, bare_ours - bare_ping
        text += (". Run bare (section 5), a mesh_routing no-op process takes %.2f s and ping's %.2f s: that "
                 "%.2f s difference is %d %% of the %.2f s gap per task; the rest is Ansible building and shipping "
                 "the bigger AnsiballZ payload (module plus module_utils)"
                 % (bare_ours, bare_ping, bare_gap, round(100 * bare_gap / gap), gap))
    return text + "."


def section_tasks(data, targets, memory=None):
    records, (n1, n2) = data["records"], data["counts"]
    kinds = []
    for r in records:
        if r["kind"] not in kinds:
            kinds.append(r["kind"])
    reps = sorted(set(r["rep"] for r in records))

    def slope(kind, rep, field="wall"):
        a, b = by(records, kind=kind, rep=rep, n=n1), by(records, kind=kind, rep=rep, n=n2)
        if not a or not b:
            return None
        return (b[0][field] - a[0][field]) / (n2 - n1)

    lines = ["## 3. Per-task overhead", "", *load_line(data),
             "Playbooks of %d and of %d identical tasks, each task a no-op against a namespace holding the all-v1 "
             "scenario (ping: no API call). Time per task = slope between the two playbooks' wall times, "
             "(T(%d) − T(%d)) / %d, so play start-up cancels out; also the tasks' own durations as the callback "
             "saw them (task start to result, per task). Medians of %d runs; ratios to ping within each run."
             % (n1, n2, n2, n1, n2 - n1, len(reps)), "",
             "| task | wall, %d tasks | wall, %d tasks | per task (slope) | per task (callback) | ratio to ping "
             "(slope) | ratio to ping (callback) |" % (n1, n2), "|---|---|---|---|---|---|---|"]
    results = {}
    for kind in kinds:
        per_slope = [slope(kind, rep) for rep in reps]
        per_cb = [r["task_time"] / r["n"] for r in by(records, kind=kind, n=n2)]
        ratio_slope = median([slope(kind, rep) / slope("ping", rep) for rep in reps
                              if slope(kind, rep) is not None and slope("ping", rep)])
        ratio_cb = median([a["task_time"] / b["task_time"] for rep in reps
                           for a in by(records, kind=kind, rep=rep, n=n2)
                           for b in by(records, kind="ping", rep=rep, n=n2)])
        results[kind] = (ratio_slope, ratio_cb, median(per_slope), median(per_cb))
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            kind, fmt(median(r["wall"] for r in by(records, kind=kind, n=n1))),
            fmt(median(r["wall"] for r in by(records, kind=kind, n=n2))),
            fmt(median(per_slope), digits=3), fmt(median(per_cb), digits=3), fmt_ratio(ratio_slope),
            fmt_ratio(ratio_cb)))
    changed = [r for r in records if r["kind"] != "ping" and r.get("changed")]
    lines += ["", "Runs in which a supposedly no-op task reported a change: %d." % len(changed), ""]
    ours = [k for k in results if k not in ("ping", K8S)]
    if ours:
        worst = max(ours, key=lambda k: results[k][1] or 0)
        ratio = results[worst][1]
        met = all((results[k][1] or 0) <= TASK_TARGET for k in ours)
        # The ratio of the medians, from runs that other engineers' bursts hit differently, as a cross-check.
        loose = dict((k, results[k][3] / results["ping"][3]) for k in ours)
        caveat = ""
        if any(v > TASK_TARGET for v in loose.values()):
            caveat = (" Caution: the ratio of the per-task medians, which pairs no runs, is higher (%s): the "
                      "10-task playbooks last seconds and other engineers' bursts of load hit some of them and not "
                      "others, so the margin is within the noise." % ", ".join(
                          "%s %s" % (k, fmt_ratio(v)) for k, v in sorted(loose.items())))
        targets.append(("Per-task time at most %.1fx ping's" % TASK_TARGET,
                        "%s (worst, %s; callback durations, paired per run); slope: %s" % (
                            fmt_ratio(ratio), worst, ", ".join("%s %s" % (k, fmt_ratio(results[k][0])) for k in ours)),
                        met,
                        ("met with %s to spare." % fmt_ratio(TASK_TARGET - ratio) if met else
                         why_tasks(ratio, results[worst][3], results["ping"][3], memory)) + caveat))
    return lines


def section_bulk(data, targets):
    records, count, loop = data["records"], data["services"], data["loop_services"]
    tools = []
    for r in records:
        if r["tool"] not in tools:
            tools.append(r["tool"])
    lines = ["## 4. Bulk: %d services (%d objects) in one task" % (count, 2 * count), "", *load_line(data),
             "Each service has a DestinationRule (subsets v1, v2) and a VirtualService (all traffic to v1). *first*: "
             "fresh namespace; *no-op*: the same again; *10 %% changed*: %d services' traffic split 50/50 between v1 "
             "and v2. ack.servicemesh: one `mesh_routing` task with all services; kubernetes.core.k8s: one task "
             "whose `definition` is the list of all objects (multi-document), or one task looping over the objects; "
             "kubectl: `kubectl apply -f` of one file holding all objects. *task* is the task's own duration (the "
             "callback's), *wall* the whole process." % max(1, count // 10), ""]
    loop_rows = by(records, tool="kubernetes.core.k8s loop")
    if loop != count and loop_rows:
        per_item = median(r["task_time"] / (2 * loop) for r in loop_rows if r.get("task_time"))
        lines += ["The loop was measured with %d services (%d objects) and is extrapolated linearly to %d "
                  "services (x%.0f): at %s per loop item on this machine, each full-size run would take about "
                  "%.0f min, and the section makes %d such runs."
                  % (loop, 2 * loop, count, count / loop, fmt(per_item), per_item * 2 * count / 60, len(loop_rows)),
                  ""]
    lines += ["| contender | runs | phase | task | wall | requests (discovery / reads / writes) |",
              "|---|---|---|---|---|---|"]
    ours_rows = {}
    for tool in tools:
        rows = by(records, tool=tool)
        n = rows[0]["services"]
        scale = count / n
        for phase, label in (("first", "first"), ("noop", "no-op"), ("changed", "10 % changed")):
            mine = by(rows, phase=phase)
            task = median(r.get("task_time") for r in mine)
            wall = median(r["wall"] for r in mine)
            text_task, text_wall = fmt(task), fmt(wall)
            if scale != 1:
                text_task = "%s (%d svc: %s)" % (fmt(task * scale if task else None), n, fmt(task))
                text_wall = "%s (%d svc: %s)" % (fmt(wall * scale), n, fmt(wall))
            requests = req_text(mine)
            if scale != 1:
                requests += " for %d svc" % n
            if tool == OURS:
                ours_rows[phase] = (task, wall, mine)
            lines.append("| %s | %d | %s | %s | %s | %s |" % (tool, len(mine), label, text_task, text_wall,
                                                              requests))
    lines.append("")
    ratios = []
    for tool in tools:
        if tool == OURS:
            continue
        n = by(records, tool=tool)[0]["services"]
        for phase in ("first", "noop", "changed"):
            ours = median(r["wall"] for r in by(records, tool=OURS, phase=phase))
            theirs = median(r["wall"] for r in by(records, tool=tool, phase=phase)) * count / n
            ratios.append("%s %s: %s" % (tool, phase, fmt_ratio(ours / theirs)))
    if ratios:
        lines += ["Wall-time ratios, ours / theirs (medians; the loop extrapolated): " + "; ".join(ratios) + ".", ""]
    if "first" in ours_rows and "noop" in ours_rows and count >= 500:
        first_task, first_wall = ours_rows["first"][:2]
        noop_task, noop_wall, noop_rows = ours_rows["noop"]
        targets.append(("Bulk %d services: first apply under %.0f s" % (count, BULK_FIRST_TARGET),
                        "task %s, whole playbook %s" % (fmt(first_task), fmt(first_wall)),
                        first_task < BULK_FIRST_TARGET,
                        ("met, task with %s to spare" % fmt(BULK_FIRST_TARGET - first_task)
                         if first_task < BULK_FIRST_TARGET else "missed by %s" % fmt(first_task - BULK_FIRST_TARGET))
                        + ("; the whole process %s" % ("also under" if first_wall < BULK_FIRST_TARGET else
                                                       "over, by %s" % fmt(first_wall - BULK_FIRST_TARGET)))))
        targets.append(("Bulk %d services: no-op under %.0f s" % (count, BULK_NOOP_TARGET),
                        "task %s, whole playbook %s; %d requests, %d writes" % (
                            fmt(noop_task), fmt(noop_wall), req(noop_rows), req(noop_rows, "writes")),
                        noop_task < BULK_NOOP_TARGET,
                        ("met, task with %s to spare" % fmt(BULK_NOOP_TARGET - noop_task)
                         if noop_task < BULK_NOOP_TARGET else "missed by %s" % fmt(noop_task - BULK_NOOP_TARGET))
                        + ("; the whole process also under" if noop_wall < BULK_NOOP_TARGET else
                           "; the whole process over, by %s (ansible-playbook start-up and templating the "
                           "%d-service list are outside the task)" % (fmt(noop_wall - BULK_NOOP_TARGET), count))))
        targets.append(("Bulk no-op: one LIST per namespace, zero writes",
                        "%d requests: %d discovery, %d LISTs, %d writes" % (
                            req(noop_rows), req(noop_rows, "discovery"), req(noop_rows, "reads"),
                            req(noop_rows, "writes")),
                        req(noop_rows, "writes") == 0 and req(noop_rows, "reads") <= 2,
                        "met as one LIST per kind (DestinationRules and VirtualServices are separate resources: "
                        "no single request lists both)" if req(noop_rows, "reads") == 2 else ""))
    return lines


def section_memory(data):
    records = data["records"]
    lines = ["## 5. Peak memory of a module process", "", *load_line(data),
             "The module file run directly (`python <module> args.json`, no Ansible controller), under "
             "`/usr/bin/time -v`: maximum resident set size and wall time, medians of %d runs. *first* into a fresh "
             "namespace, *no-op* the same again. `ansible.builtin.ping` (`python -m ansible.modules.ping`) is the "
             "floor: an AnsibleModule that does nothing." % len(set(r["rep"] for r in records)), "",
             "| module | case | phase | max RSS | wall |", "|---|---|---|---|---|"]
    seen = []
    for r in records:
        key = (r["module"], r["case"], r["phase"])
        if key in seen:
            continue
        seen.append(key)
        rows = by(records, module=r["module"], case=r["case"], phase=r["phase"])
        lines.append("| %s | %s | %s | %s | %s |" % (
            r["module"], r["case"], r["phase"], fmt(median(x["max_rss_kib"] for x in rows) / 1024, "MiB", 1),
            fmt(median(x["wall"] for x in rows))))
    lines.append("")
    return lines


def render(raw, smoke=False):
    machine = raw.get("machine", {})
    sections = raw.get("sections", {})
    cpu = machine.get("cpu", {})
    lines = ["# Benchmarks", "",
             "Written by `benchmarks/run.py` (`make bench`); raw figures in build/bench/raw.json. How and why: "
             "benchmarks/README.md.", ""]
    if smoke:
        lines += ["**Smoke run**: one repetition of a reduced set; the figures only show that the benchmark works.",
                  ""]
    lines += ["## Machine", "",
              "- CPU: %s, %s logical CPUs at ~%s MHz (nproc %s), shared with other engineers' test runs: the "
              "load average of each section is at the end of this file." % (
                  cpu.get("model"), cpu.get("cpus"), cpu.get("mhz"), machine.get("nproc")),
              "- Memory (`free -h`):", "", "```", machine.get("free", ""), "```", "",
              "- Linux %s, Python %s." % (machine.get("kernel"), machine.get("python")),
              "- ack.servicemesh: project venv, ansible-core %s." % machine.get("ansible_core"),
              "- kubernetes.core: %s" % ("%s from the `ansible` package %s (ansible-core %s), Kubernetes Python client "
                                         "%s, in build/bench-venv." % (
                                             machine.get("kubernetes_core"), machine.get("ansible"),
                                             machine.get("bench_core"), machine.get("kubernetes_client"))
                                         if machine.get("bench_venv") else "skipped (no bench venv)."),
              "- kubectl: %s." % (machine.get("kubectl") or "absent, column skipped"),
              "- API server: the testenv, kube-apiserver %s + etcd %s on %s, Istio CRDs %s, with "
              "kube-controller-manager and istiod's validating webhook." % (
                  machine.get("kubernetes_server"), machine.get("etcd"), machine.get("server"),
                  machine.get("istio_api")), ""]
    targets, older, body = [], [], []
    if "scenarios" in sections:
        body += section_scenarios(sections["scenarios"], targets, older, sections.get("memory"))
    if "wan" in sections:
        body += section_wan(sections["wan"], targets, sections.get("scenarios"))
    if "tasks" in sections:
        body += section_tasks(sections["tasks"], older, sections.get("memory"))
    if "bulk" in sections:
        body += section_bulk(sections["bulk"], older)
    if "memory" in sections:
        body += section_memory(sections["memory"])
    if "fleet" in sections:
        body += section_fleet(sections["fleet"], targets)
    for title, rows in (("Targets (issue 16)", targets), ("Earlier targets (issue 7)", older)):
        if not rows:
            continue
        lines += ["## " + title, "", "| target | measured | result |", "|---|---|---|"]
        for name, measured, met, detail in rows:
            lines.append("| %s | %s | **%s**: %s |" % (name, measured, "met" if met else "missed", detail))
        lines.append("")
    lines += ["The load average of each section is under its heading and in the table at the end.", ""] + body
    lines += ["## Runs", "", "| section | finished | took | --runs | load average (1 min) at start / end | command |",
              "|---|---|---|---|---|---|"]
    for name in ("scenarios", "wan", "tasks", "memory", "fleet", "bulk"):
        if name not in sections:
            continue
        s = sections[name]
        loads = " / ".join("%.1f" % s[key][0] if s.get(key) else "?" for key in ("load_start", "load_end"))
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            name, s.get("finished", "?"), fmt(s.get("seconds", 0) / 60, "min", 1), s.get("runs", "?"), loads,
            "`%s`" % s["command"] if s.get("command") else "—"))
    lines.append("")
    return "\n".join(lines)


def failed_checks(raw):
    sections = raw.get("sections", {})
    checks = [c for name in ("scenarios", "wan", "fleet") for c in (sections.get(name) or {}).get("checks") or []]
    return [c for c in checks if not c["ok"]]
