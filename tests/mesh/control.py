"""Build, start, inspect and stop the local Istio data plane on top of the testenv.

Processes (istiod, one BookInfo app and one Envoy per workload) run in their own session
and outlive the command; their pids are in the state directory (default .testenv/mesh/).
`down` signals only a pid from those files whose command line is still the one `up` started.
"""

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from . import envoy, prometheus, topology, versions

HERE = os.path.dirname(os.path.realpath(__file__))
TESTS = os.path.dirname(HERE)
REPO = os.path.dirname(TESTS)

if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from testenv import cluster as testenv  # noqa: E402
from testenv.apiclient import Client  # noqa: E402

START_TIMEOUT = 120
STOP_TIMEOUT = 10
ISTIOD_USER = "ack-mesh-istiod"


class MeshError(Exception):
    def __init__(self, message, logs=()):
        super().__init__(message)
        self.logs = tuple(logs)


def _say(message):
    print("mesh: %s" % message, file=sys.stderr, flush=True)


# --- where things are -------------------------------------------------------------------


def state_dir():
    return os.path.abspath(os.environ.get("ACK_MESH_DIR") or os.path.join(testenv.state_root(), "mesh"))


def cache_dir():
    return os.path.join(testenv.cache_root(), "istio-%s" % versions.ISTIO_MODULE_VERSION)


def istiod_binary():
    return os.path.join(cache_dir(), "pilot-discovery")


def _path(name):
    return os.path.join(state_dir(), name)


def pid_file(name):
    return _path(name + ".pid")


def log_file(name):
    return _path(name + ".log")


def istiod_url(path=""):
    return "http://%s:%d%s" % (topology.ISTIOD_HOST, topology.ISTIOD_HTTP_PORT, path)


@contextlib.contextmanager
def _locked(name="mesh"):
    """Serialises build/up/down across processes (parallel pytest workers, two shells)."""
    path = os.path.join(testenv.cache_root(), "locks", name + ".lock")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# --- build ----------------------------------------------------------------------------------


def build():
    """Compiles pilot-discovery into the cache unless it is there. Returns the seconds spent, or None."""
    target = istiod_binary()
    if os.path.exists(target):
        return None
    go = testenv.find_go()
    with _locked("mesh-build"):
        if os.path.exists(target):
            return None
        os.makedirs(cache_dir(), exist_ok=True)
        tmp = "%s.tmp-%d" % (target, os.getpid())
        ldflags = "-s -w -X istio.io/istio/pkg/version.buildVersion=%s -X istio.io/istio/pkg/version.buildGitRevision=%s" % (
            versions.ISTIO_RELEASE, versions.ISTIO_COMMIT)
        _say("building pilot-discovery from %s@%s (many minutes the first time)"
             % (versions.ISTIO_MODULE, versions.ISTIO_MODULE_VERSION))
        started = time.monotonic()
        env = dict(os.environ, GOFLAGS="-mod=readonly")  # go.sum pins every dependency
        argv = ["nice", "-n", "19", go, "build", "-trimpath", "-ldflags=" + ldflags, "-o", tmp,
                versions.BINARIES["pilot-discovery"]]
        proc = subprocess.run(argv, cwd=HERE, env=env, check=False)
        if proc.returncode != 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise MeshError("go build of pilot-discovery failed (exit %d)" % proc.returncode)
        os.replace(tmp, target)
        took = time.monotonic() - started
        _say("built %s in %.0f s" % (target, took))
        return took


# --- processes ------------------------------------------------------------------------------


def _read_pid(name):
    try:
        with open(pid_file(name)) as f:
            data = json.load(f)
        return int(data["pid"]), data["argv"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def _cmdline(pid, patience=5.0):
    """The argv of a live process, or None. A process still inside execve() shows an empty
    command line for a moment (long for a 130 MB binary on a busy machine): wait for it."""
    deadline = time.monotonic() + patience
    while True:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                raw = f.read()
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return None
        if state in ("Z", "X"):
            return None
        if raw:
            return raw.split(b"\0")[:-1]
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def _runs(pid, argv):
    """True if `pid` is alive and runs exactly `argv`: a recycled pid is never signalled."""
    return _cmdline(pid) == [os.fsencode(a) for a in argv]


def running(name):
    pid, argv = _read_pid(name)
    return pid if pid is not None and _runs(pid, argv) else None


def _spawn(name, argv, env=None):
    with open(log_file(name), "wb") as log:  # a fresh log per start
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=state_dir(),
            env=env, start_new_session=True, close_fds=True,
        )
    with open(pid_file(name), "w") as f:
        json.dump({"pid": proc.pid, "argv": argv}, f)
    return proc


def _stop(name):
    pid, argv = _read_pid(name)
    stopped = False
    if pid is not None and _runs(pid, argv):
        stopped = True
        for sig, grace in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and _runs(pid, argv):
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, os.WNOHANG)
                time.sleep(0.05)
            if not _runs(pid, argv):
                break
        # A zombie counts as stopped; reap it if it is our own child (up() ran in this process, as in tests).
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(pid_file(name))
    return stopped


def _poll(what, deadline, check, logs=(), interval=0.2):
    detail = None
    while True:
        try:
            done, detail = check()
        except OSError as exc:
            done, detail = False, str(exc)
        if done:
            return detail
        if time.monotonic() > deadline:
            raise MeshError("timed out waiting for %s: %s" % (what, detail), logs)
        time.sleep(interval)


def _http(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def _port_free(host, port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


# --- the API server -------------------------------------------------------------------------


def _admin():
    info = testenv.info("default")
    return Client(info["server"], info["ca_file"], info["admin_cert"], info["admin_key"])


def _istiod_kubeconfig():
    """A kubeconfig of istiod's own (cluster admin), so its requests are told apart in the audit log."""
    import yaml

    path = _path("istiod.kubeconfig")
    paths = testenv.Paths(testenv.PROFILES["default"])
    if os.path.exists(path):
        # Reused only while the testenv keeps the CA it was issued by: a testenv started afresh has a new PKI,
        # and istiod would then fail every request with "certificate signed by unknown authority".
        import base64
        with open(path) as f, open(paths.cert("ca"), "rb") as g:
            issued_by = base64.b64decode(yaml.safe_load(f)["clusters"][0]["cluster"]["certificate-authority-data"])
            if issued_by == g.read():
                return path
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from testenv import pki

    with open(paths.key("ca"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    with open(paths.cert("ca"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    key, cert = pki.issue(ca_key, ca, ISTIOD_USER, organizations=("system:masters",))
    config = testenv.kubeconfig(testenv.PROFILES["default"], paths, testenv.ADMIN_USER)
    import base64
    config["users"][0]["user"] = {
        "client-certificate-data": base64.b64encode(pki.cert_pem(cert)).decode(),
        "client-key-data": base64.b64encode(pki.key_pem(key)).decode(),
    }
    pki.write_private(path, yaml.safe_dump(config).encode())
    return path


def _ensure_namespace(client, name):
    status, body = client.request("POST", "/api/v1/namespaces",
                                  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    if status not in (201, 409):
        raise MeshError("creating namespace %s: %s %s" % (name, status, body))


def _object_path(group, plural, obj):
    version = obj["apiVersion"].split("/")[1]
    return "/apis/%s/%s/namespaces/%s/%s/%s" % (
        group, version, obj["metadata"]["namespace"], plural, obj["metadata"]["name"])


def apply_registry(namespace):
    client = _admin()
    try:
        for ns in (topology.ROOT_NAMESPACE, namespace):
            _ensure_namespace(client, ns)
        for plural, group, obj in topology.registry_objects(namespace):
            status, body = client.apply(_object_path(group, plural, obj), obj, manager="ack-mesh")
            if status not in (200, 201):
                raise MeshError("applying %s %s: %s %s" % (obj["kind"], obj["metadata"]["name"], status, body))
    finally:
        client.close()


def delete_registry(namespace):
    client = _admin()
    try:
        for plural, group, obj in topology.registry_objects(namespace):
            with contextlib.suppress(OSError):
                client.request("DELETE", _object_path(group, plural, obj))
    finally:
        client.close()


# --- istiod ---------------------------------------------------------------------------------


def _istiod_argv():
    mesh_path = _path("mesh.yaml")
    import yaml

    with open(mesh_path, "w") as f:
        yaml.safe_dump(topology.mesh_config(), f)
    host = topology.ISTIOD_HOST
    return [
        istiod_binary(), "discovery",
        "--kubeconfig", _istiod_kubeconfig(),
        "--meshConfig", mesh_path,
        "--grpcAddr", "%s:%d" % (host, topology.XDS_PORT),
        "--httpAddr", "%s:%d" % (host, topology.ISTIOD_HTTP_PORT),
        "--monitoringAddr", "%s:%d" % (host, topology.ISTIOD_MONITORING_PORT),
        # No TLS servers: no webhooks (nothing calls them) and no mTLS xDS (no proxy has a certificate).
        "--httpsAddr", "",
        "--secureGRPCAddr", "",
        "--ctrlz_address", host, "--ctrlz_port", str(topology.ISTIOD_CTRLZ_PORT),
        "--domain", topology.DOMAIN,
        "--clusterID", topology.CLUSTER_ID,
        "--keepaliveMaxServerConnectionAge", "10000h",
        "--shutdownDuration", "1s",
        "--log_output_level", "default:info",
    ]


def _istiod_env():
    env = dict(os.environ)
    env.update({
        "POD_NAMESPACE": topology.ROOT_NAMESPACE,
        "POD_NAME": "istiod-local",
        "REVISION": "default",
        "ENABLE_LEADER_ELECTION": "false",
        "INJECT_ENABLED": "false",
        "INJECTION_WEBHOOK_CONFIG_NAME": "",
        "VALIDATION_WEBHOOK_CONFIG_NAME": "",
        # Istio-only Envoy filters that upstream Envoy does not have.
        "PILOT_ENABLE_METADATA_EXCHANGE": "false",
        "PILOT_ENABLE_ALPN_FILTER": "false",
        "KUBECONFIG": _istiod_kubeconfig(),
    })
    return env


def syncz():
    """istiod's view of every connected proxy: [{proxy, proxy_version, cluster_*, *_sent, *_acked}]."""
    status, body = _http(istiod_url("/debug/syncz"), timeout=5)
    if status != 200:
        raise OSError("syncz answered %s" % status)
    return json.loads(body)


# --- the whole mesh -------------------------------------------------------------------------


def _state():
    try:
        with open(_path("state.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def names():
    out = ["istiod"]
    for w in topology.WORKLOADS:
        out += ["app-" + w.name, "envoy-" + w.name]
    return out + ["prometheus"]


def is_up():
    state = _state()
    if state is None or not state.get("complete") or any(running(n) is None for n in names()):
        return False
    try:
        return _http(istiod_url("/ready"))[0] == 200
    except OSError:
        return False


def up(namespace=topology.DEFAULT_NAMESPACE):
    """Starts istiod, the apps and their Envoys, or reuses them. Returns a dict of timings and where things are."""
    with _locked():
        return _up(namespace)


def _up(namespace):
    state = _state()
    if is_up() and state["namespace"] == namespace:
        return dict(state, started=False)
    if state is not None or any(running(n) is not None for n in names()):
        _down()
    build()
    info = testenv.ensure_up("default")
    os.makedirs(state_dir(), exist_ok=True)
    for host, port in [(topology.ISTIOD_HOST, p) for p in (
            topology.XDS_PORT, topology.ISTIOD_HTTP_PORT, topology.ISTIOD_MONITORING_PORT,
            topology.ISTIOD_CTRLZ_PORT, prometheus.PORT)] + [
            (w.ip, p) for w in topology.WORKLOADS for p in (topology.SERVICE_PORT, topology.APP_PORT,
                                                            topology.ADMIN_PORT)]:
        if not _port_free(host, port):
            raise MeshError("%s:%d is taken by another process" % (host, port))
    timings = {}
    started = time.monotonic()
    _write_state({"namespace": namespace, "complete": False})  # so that down() knows what to clean up
    try:
        apply_registry(namespace)
        t0 = time.monotonic()
        _spawn("istiod", _istiod_argv(), env=_istiod_env())
        deadline = time.monotonic() + START_TIMEOUT

        def istiod_ready():
            if running("istiod") is None:
                raise MeshError("istiod exited", [log_file("istiod")])
            status, body = _http(istiod_url("/ready"))
            return status == 200, "%s %s" % (status, body.strip()[:200])
        _poll("istiod /ready", deadline, istiod_ready, [log_file("istiod")])
        timings["istiod_ready_s"] = round(time.monotonic() - t0, 2)

        python = sys.executable
        for w in topology.WORKLOADS:
            env = dict(os.environ, PYTHONPATH=TESTS + os.pathsep + os.environ.get("PYTHONPATH", ""),
                       PYTHONUNBUFFERED="1")
            _spawn("app-" + w.name, [python, "-m", "mesh.bookinfo", w.name, "--namespace", namespace], env=env)
        t1 = time.monotonic()
        for w in topology.WORKLOADS:
            boot = _path("envoy-%s.json" % w.name)
            envoy.write_bootstrap(boot, w, namespace)
            _spawn("envoy-" + w.name, envoy.argv(boot))
        for w in topology.WORKLOADS:
            def app_ready(w=w):
                if running("app-" + w.name) is None:
                    raise MeshError("%s exited" % w.name, [log_file("app-" + w.name)])
                return _http(w.app_url + "/health")[0] == 200, "not answering"
            _poll("%s on %s" % (w.name, w.app_url), deadline, app_ready, [log_file("app-" + w.name)])

            def envoy_ready(w=w):
                if running("envoy-" + w.name) is None:
                    raise MeshError("envoy of %s exited" % w.name, [log_file("envoy-" + w.name)])
                return envoy.listening(w), "no listener on %s:%d yet" % (w.ip, topology.SERVICE_PORT)
            _poll("Envoy of %s listening" % w.name, deadline, envoy_ready,
                  [log_file("envoy-" + w.name), log_file("istiod")])
        timings["envoys_listening_s"] = round(time.monotonic() - t1, 2)
        _poll("every proxy in sync", deadline, lambda: all_synced(namespace), [log_file("istiod")])
        bad = {w.name: envoy.rejections(w) for w in topology.WORKLOADS}
        bad = {k: v for k, v in bad.items() if v}
        if bad:
            raise MeshError("Envoy rejected istiod's config: %s" % bad,
                            [log_file("envoy-" + n) for n in bad] + [log_file("istiod")])
        t2 = time.monotonic()
        _spawn("prometheus", prometheus.argv(state_dir()))
        _poll("Prometheus scraping every Envoy", deadline, prometheus.ready, [log_file("prometheus")])
        timings["prometheus_ready_s"] = round(time.monotonic() - t2, 2)
    except BaseException:
        _down()
        raise
    timings["up_s"] = round(time.monotonic() - started, 2)
    state = {
        "namespace": namespace,
        "kubeconfig": info["kubeconfig"],
        "istiod": istiod_url(),
        "xds": "%s:%d" % (topology.ISTIOD_HOST, topology.XDS_PORT),
        "productpage": topology.workload("productpage-v1").app_url + "/productpage",
        "prometheus": prometheus.url(),
        "istio": "%s@%s" % (versions.ISTIO_MODULE, versions.ISTIO_MODULE_VERSION),
        "envoy": versions.ENVOY_VERSION,
        "timings": timings,
        "complete": True,
    }
    _write_state(state)
    return dict(state, started=True)


def _write_state(state):
    tmp = _path("state.json.tmp")
    with open(tmp, "w") as f:
        json.dump(state, f, indent=1)
    os.replace(tmp, _path("state.json"))


def proxies(namespace):
    """The proxy id istiod gives each workload's Envoy (<name>.<namespace>, from the node id)."""
    return {"%s.%s" % (w.name, namespace): w for w in topology.WORKLOADS}


def all_synced(namespace, since=None):
    """(done, detail): every workload's proxy is connected and has ACKed the latest push of every type."""
    entries = {e.get("proxy"): e for e in syncz()}
    missing, behind = [], []
    for node in proxies(namespace):
        entry = entries.get(node)
        if entry is None:
            missing.append(node)
            continue
        for kind in ("cluster", "listener", "route", "endpoint"):
            sent, acked = entry.get(kind + "_sent"), entry.get(kind + "_acked")
            if sent and sent != acked:
                behind.append("%s %s" % (node, kind))
    if missing or behind:
        return False, "not connected: %s; not acked: %s" % (missing, behind)
    return True, "all %d proxies in sync" % len(entries)


def down():
    """Stops what up started (Envoys, apps, istiod) and removes the mesh's own registry objects."""
    with _locked():
        return _down()


def _down():
    state = _state()
    stopped = []
    for name in reversed(names()):
        if _stop(name):
            stopped.append(name)
    if state is not None:
        with contextlib.suppress(OSError, MeshError):
            if testenv.is_up("default"):
                delete_registry(state["namespace"])
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_path("state.json"))
    return stopped


def status():
    state = _state() or {}
    out = {"up": is_up(), "namespace": state.get("namespace"), "processes": {}}
    for n in names():
        out["processes"][n] = running(n)
    if out["up"]:
        with contextlib.suppress(OSError, ValueError):
            out["syncz"] = all_synced(state["namespace"])[1]
        out["rejected"] = {}
        for w in topology.WORKLOADS:
            with contextlib.suppress(OSError):
                r = envoy.rejections(w)
                if r:
                    out["rejected"][w.name] = r
    return out


# --- propagation ----------------------------------------------------------------------------


def push_marks(namespace):
    """{proxy: (cluster, listener, route) nonces istiod last sent}: take it before changing a rule."""
    entries = {e.get("proxy"): e for e in syncz()}
    return {p: tuple(entries.get(p, {}).get(k + "_sent") for k in ("cluster", "listener", "route"))
            for p in proxies(namespace)}


def wait_pushed(namespace, before, timeout=30.0):
    """Waits until istiod has pushed every proxy something new since `before` and every proxy ACKed it.

    Returns the seconds waited. Raises MeshError after `timeout` (also when the change pushed nothing).
    """
    started = time.monotonic()

    def check():
        now = push_marks(namespace)
        pending = [p for p in now if now[p] == before.get(p)]
        if pending:
            return False, "no push yet to %s" % pending
        return all_synced(namespace)
    # A push takes ~0.15 s: polled every 20 ms, the wait ends within 20 ms of the last ACK.
    _poll("istiod to push and every proxy to ACK", started + timeout, check, [log_file("istiod")], interval=0.02)
    return time.monotonic() - started


class PushWatch:
    """Polls /debug/syncz in a thread while a change is made; records (wall clock, time.time()) when
    istiod had sent every proxy a new push and when every proxy had ACKed it.

        with PushWatch(namespace) as watch:
            ...write a rule...
        watch.pushed_at, watch.acked_at   # None if nothing was pushed before the block ended + grace
    """

    def __init__(self, namespace, interval=0.01, grace=10.0):
        import threading

        self.namespace = namespace
        self.interval = interval
        self.grace = grace
        self.before = push_marks(namespace)
        self.pushed_at = self.acked_at = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        # Keep watching a little after the block: the push may still be on its way.
        deadline = time.monotonic() + self.grace
        while self.acked_at is None and time.monotonic() < deadline and exc[0] is None:
            time.sleep(self.interval)
        self._stop.set()
        self._thread.join()
        return False

    def _run(self):
        while not self._stop.is_set():
            try:
                entries = {e.get("proxy"): e for e in syncz()}
            except (OSError, ValueError):
                entries = {}
            now = time.time()
            marks = {p: tuple(entries.get(p, {}).get(k + "_sent") for k in ("cluster", "listener", "route"))
                     for p in proxies(self.namespace)}
            if entries and all(marks[p] != self.before.get(p) for p in marks):
                if self.pushed_at is None:
                    self.pushed_at = now
                acked = all(entries[p].get(k + "_sent") == entries[p].get(k + "_acked")
                            for p in marks for k in ("cluster", "listener", "route", "endpoint"))
                if acked:
                    self.acked_at = now
                    return
            self._stop.wait(self.interval)
