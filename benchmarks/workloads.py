"""What the benchmarks apply: the scenarios, BookInfo's reference files for them, the bulk mesh, the per-task plays."""

import json
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))

import bookinfo  # noqa: E402  (the project's reference end states, equal to Istio's sample files)

SCENARIOS = ["all-v1", "user-v2", "fault-delay", "fault-abort", "shift-50-v3", "reset"]
SAMPLES = os.path.join(ROOT, "build", "bench", "bookinfo")


def sample_files(scenario):
    """The files (named like Istio's) that reach a scenario's end state, in the order they are applied; the
    overlays replace the VirtualServices of virtual-service-all-v1.yaml."""
    return [bookinfo.write(SAMPLES, name) for name in bookinfo.scenario_files(scenario)]


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as out:
        if path.endswith(".json"):
            json.dump(data, out)
        else:
            yaml.safe_dump(data, out, default_flow_style=False, sort_keys=False)
    return os.path.abspath(path)


def _play(tasks, name="bench", **extra):
    play = {"name": name, "hosts": "localhost", "gather_facts": False, "tasks": tasks}
    play.update(extra)
    return [play]


K8S_AUTH = {"namespace": "{{ bench_namespace }}", "kubeconfig": "{{ bench_kubeconfig }}"}


def k8s_scenario_playbook(workdir, scenario):
    """kubernetes.core.k8s applying Istio's files for the scenario, one task per file (src + namespace)."""
    tasks = [{"name": "apply %s" % os.path.basename(path), "kubernetes.core.k8s": dict(K8S_AUTH, src=path)}
             for path in sample_files(scenario)]
    return _write(os.path.join(workdir, "k8s-%s.yml" % scenario), _play(tasks))


# --- bulk ------------------------------------------------------------------------------------------


def _subsets(*names):
    return [{"name": name, "labels": {"version": name}} for name in names]


def bulk_names(count):
    return ["svc-%03d" % index for index in range(count)]


def bulk_changed(count):
    """The services whose traffic the '10 % changed' run splits between v1 and v2."""
    return set(bulk_names(count)[:max(1, count // 10)])


def bulk_services(count, changed=False):
    """mesh_routing's services option for the bulk mesh."""
    moved = bulk_changed(count) if changed else set()
    return [{"host": name, "subsets": ["v1", "v2"], "weights": {"v1": 50, "v2": 50} if name in moved else {"v1": 100}}
            for name in bulk_names(count)]


def bulk_objects(count, changed=False, namespace=None):
    """The same mesh as plain Istio objects (what one would template for kubernetes.core or kubectl)."""
    moved = bulk_changed(count) if changed else set()
    objects = []
    for name in bulk_names(count):
        meta = {"name": name}
        if namespace:
            meta["namespace"] = namespace
        objects.append({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": dict(meta),
                        "spec": {"host": name, "subsets": _subsets("v1", "v2")}})
    for name in bulk_names(count):
        meta = {"name": name}
        if namespace:
            meta["namespace"] = namespace
        if name in moved:
            route = [{"destination": {"host": name, "subset": s}, "weight": 50} for s in ("v1", "v2")]
        else:
            route = [{"destination": {"host": name, "subset": "v1"}}]
        objects.append({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": dict(meta),
                        "spec": {"hosts": [name], "http": [{"route": route}]}})
    return objects


def bulk_vars(workdir, count, changed):
    """Vars file holding both shapes of the bulk mesh, passed with -e @file."""
    tag = "%d-%s" % (count, "changed" if changed else "base")
    return _write(os.path.join(workdir, "bulk-vars-%s.json" % tag), {
        "bench_services": bulk_services(count, changed), "bench_objects": bulk_objects(count, changed)})


def bulk_manifest(workdir, count, changed):
    tag = "%d-%s" % (count, "changed" if changed else "base")
    path = os.path.join(workdir, "bulk-%s.yaml" % tag)
    with open(path, "w") as out:
        yaml.safe_dump_all(bulk_objects(count, changed), out, default_flow_style=False)
    return os.path.abspath(path)


def bulk_playbooks(workdir):
    ours = _play([{"name": "converge the mesh", "ack.servicemesh.mesh_routing": {
        "namespace": "{{ bench_namespace }}", "kubeconfig": "{{ bench_kubeconfig }}",
        "services": "{{ bench_services }}"}}])
    multi = _play([{"name": "converge the mesh", "kubernetes.core.k8s": dict(
        K8S_AUTH, definition="{{ bench_objects }}")}])
    loop = _play([{"name": "converge the mesh", "kubernetes.core.k8s": dict(K8S_AUTH, definition="{{ item }}"),
                   "loop": "{{ bench_objects }}",
                   "loop_control": {"label": "{{ item.kind }}/{{ item.metadata.name }}"}}])
    return {
        "ours": _write(os.path.join(workdir, "bulk-ours.yml"), ours),
        "k8s-multi": _write(os.path.join(workdir, "bulk-k8s-multi.yml"), multi),
        "k8s-loop": _write(os.path.join(workdir, "bulk-k8s-loop.yml"), loop),
    }


# --- per-task overhead -------------------------------------------------------------------------------

REVIEWS_DR = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "reviews"},
              "spec": {"host": "reviews", "subsets": _subsets("v1", "v2", "v3")}}

# One no-op task of each kind, against a namespace holding the all-v1 scenario.
TASK_KINDS = {
    "ping": ("ansible.builtin.ping", {}),
    "traffic_shift": ("ack.servicemesh.traffic_shift", {"host": "reviews", "weights": {"v1": 100}}),
    "destination_rule": ("ack.servicemesh.destination_rule", {
        "name": "reviews", "host": "reviews",
        "subsets": _subsets("v1", "v2", "v3")}),
    "mesh_routing": ("ack.servicemesh.mesh_routing", {
        "services": [{"host": "reviews", "subsets": ["v1", "v2", "v3"], "weights": {"v1": 100}}]}),
    "kubernetes.core.k8s": ("kubernetes.core.k8s", {"definition": REVIEWS_DR}),
}


def task_playbook(workdir, kind, count):
    module, args = TASK_KINDS[kind]
    tasks = [{"name": "%s %d" % (kind, index), module: args} for index in range(count)]
    extra = {}
    if module.startswith("ack.servicemesh."):
        extra["module_defaults"] = {"group/ack.servicemesh.mesh": {
            "namespace": "{{ bench_namespace }}", "kubeconfig": "{{ bench_kubeconfig }}"}}
    elif module.startswith("kubernetes.core."):
        extra["module_defaults"] = {"kubernetes.core.k8s": K8S_AUTH}
    return _write(os.path.join(workdir, "tasks-%s-%d.yml" % (kind.replace(".", "_"), count)),
                  _play(tasks, **extra))


# --- direct module runs (peak memory) ----------------------------------------------------------------


def scenario_module_args(scenario="fault-delay"):
    """mesh_routing's services for a BookInfo scenario, exactly as the role's filter builds them."""
    from ansible_collections.ack.servicemesh.plugins.filter.scenario_services import scenario_services

    services = [{"name": "productpage", "subsets": ["v1"]}, {"name": "reviews", "subsets": ["v1", "v2", "v3"]},
                {"name": "ratings", "subsets": ["v1", "v2", "v2-mysql", "v2-mysql-vm"]},
                {"name": "details", "subsets": ["v1", "v2"]}]
    user_route = {"service": "reviews", "user": "jason", "subset": "v2"}
    fault = {"service": "ratings", "user": "jason", "delay": {"fixed_delay": "7s", "percentage": 100}}
    if scenario != "fault-delay":
        raise ValueError(scenario)
    return scenario_services(services, user_route=user_route, fault=fault)


def scenario_objects_for_k8s(scenario="fault-delay"):
    """Istio's objects for the scenario's end state (each name once, overlays applied)."""
    by_key = {}
    for path in sample_files(scenario):
        with open(path) as handle:
            for doc in yaml.safe_load_all(handle):
                if doc:
                    by_key[(doc["kind"], doc["metadata"]["name"])] = doc
    return list(by_key.values())


def module_args_file(workdir, name, args):
    return _write(os.path.join(workdir, "args-%s.json" % name), {"ANSIBLE_MODULE_ARGS": args})
