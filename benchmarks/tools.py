"""Running the contenders as a user would, timing each process from start to exit."""

import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT_VENV = os.path.join(ROOT, ".venv")
BENCH_VENV = os.path.join(ROOT, "build", "bench-venv")
BENCH_REQUIREMENTS = os.path.join(ROOT, "benchmarks", "requirements.txt")
CALLBACKS = os.path.join(ROOT, "benchmarks", "callback")
COLLECTIONS = os.path.join(ROOT, "build", "collections")
TIMEOUT = 3600


class BenchError(Exception):
    pass


class Run:
    """One timed process."""

    def __init__(self, wall, proc, play=None):
        self.wall = wall
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.play = play
        self.requests = None  # filled from the audit log by the caller

    @property
    def tasks(self):
        return (self.play or {}).get("tasks", [])

    @property
    def changed(self):
        return any(task.get("changed") for task in self.tasks)

    def module_requests(self):
        counts = [t["requests"] for t in self.tasks if "requests" in t]
        return sum(counts) if counts else None

    def check(self, what):
        failed = [t for t in self.tasks if t.get("failed")]
        if self.rc != 0 or failed:
            detail = failed[0].get("msg") if failed else (self.stderr or self.stdout)[-3000:]
            raise BenchError("%s failed (rc=%s): %s" % (what, self.rc, detail))
        return self


def timed(cmd, env=None, cwd=ROOT):
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=TIMEOUT, check=False)
    return time.perf_counter() - start, proc


def ansible_env(extra=None):
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("ANSIBLE_") or name.startswith("K8S_AUTH_"):
            del env[name]
    # As on a user's machine: the controller caches the bytecode of the plugins it loads. kubernetes.core comes
    # with its .pyc from pip; without this, only our filters and module_utils would be compiled on every run.
    # (Modules are unaffected: AnsiballZ imports them from a zip, which is never cached, for both sides.)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "ANSIBLE_STDOUT_CALLBACK": "bench_json",
        "ANSIBLE_CALLBACK_PLUGINS": CALLBACKS,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    })
    env.update(extra or {})
    return env


class Playbook:
    """ansible-playbook of one venv."""

    def __init__(self, venv):
        self.venv = venv
        self.binary = os.path.join(venv, "bin", "ansible-playbook")
        self.python = os.path.join(venv, "bin", "python")

    def run(self, playbook, extra_vars=(), what=None):
        cmd = [self.binary, playbook]
        for item in extra_vars:
            cmd += ["-e", item]
        wall, proc = timed(cmd, env=ansible_env())
        try:
            play = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else None
        except ValueError:
            play = None
        return Run(wall, proc, play).check(what or os.path.basename(playbook))


class Ours:
    name = "ack.servicemesh"

    def __init__(self, kubeconfig):
        self.playbook = Playbook(PROJECT_VENV)
        self.kubeconfig = kubeconfig

    def scenario(self, scenario, namespace):
        return self.playbook.run(os.path.join(ROOT, "playbooks", scenario.replace("-", "_") + ".yml"), [
            "servicemesh_namespace=" + namespace, "servicemesh_kubeconfig=" + self.kubeconfig],
            what="%s %s" % (self.name, scenario))


class PingPlay:
    """The floor for any collection: ansible-playbook running one ansible.builtin.ping task."""

    name = "one ping task"

    def __init__(self, playbook):
        self.playbook = Playbook(PROJECT_VENV)
        self.book = playbook

    def scenario(self, scenario, namespace):
        return self.playbook.run(self.book, what=self.name)


class KubernetesCore:
    name = "kubernetes.core.k8s"

    def __init__(self, kubeconfig, playbooks):
        self.playbook = Playbook(BENCH_VENV)
        self.kubeconfig = kubeconfig
        self.playbooks = playbooks

    def scenario(self, scenario, namespace):
        return self.playbook.run(self.playbooks[scenario], [
            "bench_namespace=" + namespace, "bench_kubeconfig=" + self.kubeconfig],
            what="%s %s" % (self.name, scenario))


class Kubectl:
    name = "kubectl apply"

    def __init__(self, kubeconfig, cache_dir, files):
        self.binary = shutil.which("kubectl")
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir
        self.files = files

    def apply(self, namespace, files, what):
        cmd = [self.binary, "--kubeconfig", self.kubeconfig, "--cache-dir", self.cache_dir, "-n", namespace,
               "apply"]
        for path in files:
            cmd += ["-f", path]
        wall, proc = timed(cmd)
        run = Run(wall, proc)
        if run.rc != 0:
            raise BenchError("%s failed (rc=%s): %s" % (what, run.rc, run.stderr[-3000:]))
        return run

    def scenario(self, scenario, namespace):
        return self.apply(namespace, self.files[scenario], "kubectl apply %s" % scenario)

    @staticmethod
    def version():
        if not shutil.which("kubectl"):
            return None
        proc = subprocess.run(["kubectl", "version", "--client", "-o", "json"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, universal_newlines=True, check=False)
        try:
            return json.loads(proc.stdout)["clientVersion"]["gitVersion"]
        except (ValueError, KeyError):
            return None


def ensure_bench_venv(log=print):
    """The venv with the `ansible` package (kubernetes.core), made on first use. None when it cannot be made."""
    python = os.path.join(BENCH_VENV, "bin", "python")
    marker = os.path.join(BENCH_VENV, ".installed")
    if os.path.exists(marker) and os.path.getmtime(marker) >= os.path.getmtime(BENCH_REQUIREMENTS):
        return BENCH_VENV
    log("creating %s (ansible + kubernetes, once)" % os.path.relpath(BENCH_VENV, ROOT))
    interpreter = shutil.which("python3.11") or sys.executable
    steps = [[interpreter, "-m", "venv", BENCH_VENV],
             [python, "-m", "pip", "install", "-q", "-r", BENCH_REQUIREMENTS]]
    if os.path.exists(python):
        steps = steps[1:]
    for cmd in steps:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              check=False)
        if proc.returncode != 0:
            log("could not create the bench venv, kubernetes.core is skipped:\n" + proc.stdout[-2000:])
            return None
    open(marker, "w").close()
    return BENCH_VENV


def package_version(venv, name):
    proc = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                           "import importlib.metadata as m; print(m.version(%r))" % name],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, check=False)
    return proc.stdout.strip() or None


def collection_version(venv, namespace, name):
    proc = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                           "import json, ansible_collections.%s.%s as c, os; "
                           "print(json.load(open(os.path.join(list(c.__path__)[0], 'MANIFEST.json')))"
                           "['collection_info']['version'])" % (namespace, name)],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, check=False)
    return proc.stdout.strip() or None


def measure_module(python, module, args_file, pythonpath=None):
    """Run a module directly under /usr/bin/time -v: (wall seconds, max RSS in KiB, result).

    `module` is a file, or a dotted name run with -m (ansible's own modules: their directory would shadow the
    standard library's copy and tempfile).
    """
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    target = [module] if module.endswith(".py") else ["-m", module]
    cmd = ["/usr/bin/time", "-v", python] + target + [args_file]
    module_file = module
    wall, proc = timed(cmd, env=env)
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if not match:
        raise BenchError("no /usr/bin/time report for %s: %s" % (module_file, proc.stderr[-2000:]))
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError("%s printed no JSON: %s %s" % (module_file, proc.stdout[-2000:], proc.stderr[-2000:]))
    if result.get("failed"):
        raise BenchError("%s failed: %s" % (module_file, str(result.get("msg"))[:2000]))
    return wall, int(match.group(1)), result
