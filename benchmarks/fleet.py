"""A fleet of API servers for the benchmark: N testenvs, each its own etcd and kube-apiserver on its own ports.

Cluster i (1..N) keeps its state in build/bench/fleet/<i> (or $ACK_BENCH_FLEET_DIR/<i>) and runs with
ACK_TESTENV_PORT_OFFSET = the session's offset + 100, + 200, ..., skipping offsets whose ports another process
holds, so the fleet never touches the testenv the rest of the benchmark uses nor anyone else's. The fleet is an
inventory of N hosts (local connection, one kubeconfig each) that one ansible-playbook runs with forks N.
"""

import contextlib
import os
import resource
import socket
import subprocess
import sys
import threading
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from testenv import cluster as testenv_cluster  # noqa: E402

OFFSET_STEP = 100


class FleetError(Exception):
    pass


def ports(offset):
    """Every port the default profile's testenv takes with this offset."""
    profile = testenv_cluster.PROFILES["default"]
    bases = (profile.apiserver_base, profile.etcd_client_base, profile.etcd_peer_base,
             profile.controller_manager_base) + tuple(profile.istiod_bases)
    return [base + offset for base in bases]


def port_free(port):
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def offsets(count, free=port_free):
    """The session's offset + 100, + 200, ...: `count` of them whose ports are all free (other engineers'
    testenvs on this machine run at offsets of their own)."""
    found, offset = [], testenv_cluster.port_offset()
    while len(found) < count:
        offset += OFFSET_STEP
        if offset > testenv_cluster.MAX_PORT_OFFSET:
            raise FleetError("no free port offset for %d testenvs" % count)
        if all(free(port) for port in ports(offset)):
            found.append(offset)
    return found


class Member:
    def __init__(self, index, root, offset):
        self.index = index
        self.name = "cluster%02d" % index
        self.dir = os.path.join(root, str(index))
        self.offset = offset
        self.env = dict(os.environ, ACK_TESTENV_DIR=self.dir, ACK_TESTENV_PORT_OFFSET=str(offset))
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.server = "https://127.0.0.1:%d" % (testenv_cluster.PROFILES["default"].apiserver_base + offset)

    def testenv(self, command):
        proc = subprocess.run([os.path.join(ROOT, "scripts", "testenv"), command], env=self.env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        if proc.returncode != 0:
            raise FleetError("%s: scripts/testenv %s failed:\n%s" % (self.name, command, proc.stdout[-3000:]))
        return proc.stdout

    def pids(self):
        """component -> pid, from the testenv's pid files."""
        pids = {}
        for name in testenv_cluster.COMPONENTS:
            try:
                with open(os.path.join(self.dir, "%s.pid" % name)) as handle:
                    pids[name] = int(handle.read().strip())
            except (OSError, ValueError):
                continue
        return pids

    def client(self):
        from kubernetes import client as k8s, config as k8s_config

        return k8s_config.new_client_from_config(config_file=self.kubeconfig)


class Fleet:
    def __init__(self, size, root, log=print, free=port_free):
        self.members = [Member(i, root, offset) for i, offset in enumerate(offsets(size, free), 1)]
        self.root = root
        self.log = log

    def up(self):
        """One at a time: on 2 cores, parallel start-ups would only contend; ~10 s each with cached binaries."""
        for member in self.members:
            started = time.monotonic()
            member.testenv("up")
            self.log("fleet: %s up on %s (%.0f s)" % (member.name, member.server, time.monotonic() - started))

    def down(self):
        errors = []
        for member in self.members:
            try:
                member.testenv("down")
            except FleetError as exc:
                errors.append(str(exc))
        if errors:
            raise FleetError("\n".join(errors))

    def cpu_seconds(self):
        """User + system CPU time used so far by every testenv process of the fleet (the API servers, etcd,
        controller managers, istiod): what competes with the playbook for the cores."""
        return sum(process_cpu_seconds(pid) for member in self.members for pid in member.pids().values())

    def memory_kib(self):
        """Resident memory of every testenv process of the fleet (etcd, kube-apiserver, controller manager,
        istiod), summed, and per component."""
        per = {}
        for member in self.members:
            for name, pid in member.pids().items():
                per[name] = per.get(name, 0) + rss_kib(pid)
        return sum(per.values()), per

    def inventory(self, path, namespace):
        python = os.path.join(ROOT, ".venv", "bin", "python")
        hosts = dict((m.name, {"servicemesh_kubeconfig": m.kubeconfig, "servicemesh_namespace": namespace})
                     for m in self.members)
        data = {"fleet": {"hosts": hosts, "vars": {"ansible_connection": "local",
                                                   "ansible_python_interpreter": python}}}
        with open(path, "w") as out:
            yaml.safe_dump(data, out, default_flow_style=False)
        return path

    def namespace(self, name):
        from kubernetes import client as k8s
        from kubernetes.client.rest import ApiException

        for member in self.members:
            api = k8s.CoreV1Api(member.client())
            try:
                api.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
            except ApiException as exc:
                if exc.status != 409:
                    raise
        return name


def playbook(workdir, scenario):
    """The scenario's role on every host of the inventory's `fleet` group."""
    path = os.path.join(workdir, "fleet-%s.yml" % scenario)
    role = "ack.servicemesh." + scenario.replace("-", "_")
    with open(path, "w") as out:
        yaml.safe_dump([{"name": "fleet " + scenario, "hosts": "fleet", "gather_facts": False,
                         "roles": [{"role": role}]}], out, default_flow_style=False, sort_keys=False)
    return path


def process_cpu_seconds(pid):
    """utime + stime of one process from /proc/<pid>/stat, in seconds (0 when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # After the command name: state is field 3, utime and stime are fields 14 and 15 of the whole line.
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children():
    """parent pid -> child pids, from /proc."""
    tree = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_rss_kib(root):
    tree, total, todo = _children(), 0, [root]
    while todo:
        pid = todo.pop()
        total += rss_kib(pid)
        todo += tree.get(pid, [])
    return total


def run_sampled(cmd, env, interval=0.1):
    """Runs cmd; returns (wall s, CPU s of it and every descendant it waited for, peak summed RSS KiB of its
    process tree sampled every `interval`, the completed process's stdout, stderr, returncode)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_kib(proc.pid))
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate(timeout=3600)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, peak[0], stdout, stderr, proc.returncode
