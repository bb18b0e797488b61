"""Start, reuse, inspect and stop the local control plane (etcd + kube-apiserver) of one profile."""

import base64
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Optional

from . import audit, crds, versions
from .apiclient import Client
from .errors import TestenvError

HERE = os.path.dirname(os.path.realpath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

LOOPBACK = "127.0.0.1"
ADMIN_USER = "testenv-admin"
RESTRICTED_USER = "mesh-operator"
RESTRICTED_NAMESPACE = "default"
SERVICE_CIDR = "10.96.0.0/16"

# Generous next to the measured ~10 s, for slow CI machines.
START_TIMEOUT = 120
STOP_TIMEOUT = 15

# Requests made by audit_events() to know the log is complete; never reported.
BARRIER_PREFIX = "ack-testenv-audit-barrier-"


@dataclass(frozen=True)
class Profile:
    name: str
    apiserver_port: int
    etcd_client_port: int
    etcd_peer_port: int
    # Emulates an old Istio that served networking.istio.io in this version only.
    only_networking_version: Optional[str] = None

    @property
    def server(self):
        return "https://%s:%d" % (LOOPBACK, self.apiserver_port)


# Fixed ports, so both profiles can run side by side (documented in README.md).
PROFILES = {
    p.name: p
    for p in (
        Profile("default", 16443, 12379, 12380),
        Profile("v1alpha3", 16444, 12381, 12382, only_networking_version="v1alpha3"),
    )
}


def state_root():
    return os.path.abspath(os.environ.get("ACK_TESTENV_DIR") or os.path.join(REPO, ".testenv"))


def cache_root():
    default = os.path.join(os.path.expanduser("~"), ".cache", "ack-servicemesh")
    return os.path.abspath(os.environ.get("ACK_TESTENV_CACHE") or default)


def binary(name):
    return os.path.join(cache_root(), "k8s-%s" % versions.KUBERNETES_VERSION, name)


class Paths:
    """Where a profile keeps its state. The default profile's directory also holds the others'."""

    def __init__(self, profile, directory=None):
        root = state_root()
        self.dir = directory or (root if profile.name == "default" else os.path.join(root, profile.name))
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.kubeconfig_restricted = os.path.join(self.dir, "kubeconfig-restricted")
        self.pki = os.path.join(self.dir, "pki")
        self.etcd_data = os.path.join(self.dir, "etcd-data")
        self.audit_log = os.path.join(self.dir, "audit.log")
        self.log = {name: os.path.join(self.dir, name + ".log") for name in versions.BINARIES}
        self.pid = {name: os.path.join(self.dir, name + ".pid") for name in versions.BINARIES}
        # Outside the state directory so that `down` can delete that directory
        # without pulling a lock file from under a waiting `up`.
        self.lock = os.path.join(cache_root(), "locks", "testenv-%s.lock" % profile.name)

    def cert(self, name):
        return os.path.join(self.pki, name + ".crt")

    def key(self, name):
        return os.path.join(self.pki, name + ".key")

    @property
    def service_account_key(self):
        return os.path.join(self.pki, "sa.key")

    @property
    def service_account_pub(self):
        return os.path.join(self.pki, "sa.pub")

    def entries(self):
        """Everything `up` creates, which is all `down` may delete."""
        return [self.kubeconfig, self.kubeconfig_restricted, self.pki, self.etcd_data, self.audit_log,
                *self.log.values(), *self.pid.values()]


def info(name="default"):
    """Where to reach a profile; the same whether or not it is running."""
    profile = PROFILES[name]
    paths = Paths(profile)
    return {
        "profile": name,
        "server": profile.server,
        "kubeconfig": paths.kubeconfig,
        "kubeconfig_restricted": paths.kubeconfig_restricted,
        "restricted_user": RESTRICTED_USER,
        "restricted_namespace": RESTRICTED_NAMESPACE,
        "audit_log": paths.audit_log,
        "ca_file": paths.cert("ca"),
        "admin_cert": paths.cert("admin"),
        "admin_key": paths.key("admin"),
        "restricted_cert": paths.cert(RESTRICTED_USER),
        "restricted_key": paths.key(RESTRICTED_USER),
        "state_dir": paths.dir,
    }


@contextlib.contextmanager
def _locked(path):
    """Serialises build/up/down across processes (e.g. parallel pytest workers)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _say(message):
    print("testenv: %s" % message, file=sys.stderr, flush=True)


# --- binaries -----------------------------------------------------------------


def find_go():
    go = os.environ.get("GO") or shutil.which("go") or "/usr/local/go/bin/go"
    if not os.access(go, os.X_OK):
        raise TestenvError("no Go toolchain found: install Go >= 1.24 or set GO=/path/to/go")
    return go


def build():
    """Compiles whichever binary is missing from the cache and fetches Istio's CRDs. Returns the names built."""
    built = []
    missing = [n for n in versions.BINARIES if not os.path.exists(binary(n))]
    if missing:
        go = find_go()
        with _locked(os.path.join(cache_root(), "locks", "build.lock")):
            for name in missing:
                if not os.path.exists(binary(name)):  # another process may have built it meanwhile
                    _build_one(go, name)
                    built.append(name)
    if not os.path.exists(crds.cache_path(cache_root())):
        _say("fetching %s@%s" % (versions.ISTIO_API_MODULE, versions.ISTIO_API_VERSION))
        crds.fetch(cache_root(), find_go())
    return built


def _build_one(go, name):
    target = binary(name)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    # Built under a temporary name: an interrupted build must not leave a file that looks complete.
    tmp = "%s.tmp-%d" % (target, os.getpid())
    _say("building %s from %s (several minutes the first time)" % (name, versions.BINARIES[name]))
    started = time.monotonic()
    proc = subprocess.run(
        [go, "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, versions.BINARIES[name]], cwd=HERE, check=False
    )
    if proc.returncode != 0:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise TestenvError("go build of %s failed (exit %d)" % (name, proc.returncode))
    os.replace(tmp, target)
    _say("built %s in %.0f s" % (target, time.monotonic() - started))


# --- processes ------------------------------------------------------------------


def _read_pid(pid_file):
    try:
        with open(pid_file) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _runs(pid, path):
    """True if process `pid` is alive and executing `path`.

    Comparing the command line guards against a recycled pid: we only ever
    signal a process that runs our own binary. A zombie has an empty command
    line, so it counts as gone.
    """
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv0 = f.read().split(b"\0", 1)[0]
    except OSError:
        return False
    return argv0 == os.fsencode(path)


def _running_pid(paths, name):
    pid = _read_pid(paths.pid[name])
    return pid if pid is not None and _runs(pid, binary(name)) else None


def _reap(pid):
    # Only possible when this very process started it (ensure_up() in a test run).
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _stop(paths):
    """Stops the processes recorded in the profile's pid files, the API server first."""
    for name in ("kube-apiserver", "etcd"):
        pid = _running_pid(paths, name)
        if pid is not None:
            _terminate(pid, binary(name))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(paths.pid[name])


def _terminate(pid, path):
    for sig, grace in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            _reap(pid)
            if not _runs(pid, path):
                return
            time.sleep(0.05)
    raise TestenvError("process %d (%s) did not exit after SIGKILL" % (pid, path))


def _spawn(paths, name, argv):
    """Starts a daemon that outlives this command: own session, output to its log file."""
    with open(paths.log[name], "ab") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=paths.dir, start_new_session=True, close_fds=True,
        )
    with open(paths.pid[name], "w") as f:
        f.write("%d\n" % proc.pid)
    return proc


def _etcd_argv(profile, paths):
    client = "http://%s:%d" % (LOOPBACK, profile.etcd_client_port)
    peer = "http://%s:%d" % (LOOPBACK, profile.etcd_peer_port)
    return [
        binary("etcd"),
        "--name=testenv",
        "--data-dir=" + paths.etcd_data,
        "--listen-client-urls=" + client,
        "--advertise-client-urls=" + client,
        "--listen-peer-urls=" + peer,
        "--initial-advertise-peer-urls=" + peer,
        "--initial-cluster=testenv=" + peer,
        # Throwaway test data: durability is not worth an fsync per write.
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def _apiserver_argv(profile, paths):
    return [
        binary("kube-apiserver"),
        "--bind-address=" + LOOPBACK,
        "--advertise-address=" + LOOPBACK,
        "--secure-port=%d" % profile.apiserver_port,
        "--etcd-servers=http://%s:%d" % (LOOPBACK, profile.etcd_client_port),
        "--tls-cert-file=" + paths.cert("apiserver"),
        "--tls-private-key-file=" + paths.key("apiserver"),
        "--client-ca-file=" + paths.cert("ca"),
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file=" + paths.service_account_pub,
        "--service-account-signing-key-file=" + paths.service_account_key,
        "--service-cluster-ip-range=" + SERVICE_CIDR,
        # There are no nodes or pods behind the `kubernetes` Service, and the
        # reconciler would keep logging that 127.0.0.1 is not a valid endpoint.
        "--endpoint-reconciler-type=none",
        "--audit-policy-file=" + audit.POLICY_FILE,
        "--audit-log-path=" + paths.audit_log,
        # Never rotate: audit_events() reads by byte offset.
        "--audit-log-maxsize=100000",
        "--profiling=false",
    ]


def _ports_free(profile, ports=None):
    for port in ports or (profile.apiserver_port, profile.etcd_client_port, profile.etcd_peer_port):
        with socket.socket() as s:
            # SO_REUSEADDR, as etcd and the API server use it: a port in TIME_WAIT is usable.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                raise TestenvError(
                    "%s:%d is in use by a process this testenv did not start "
                    "(another checkout's testenv?)" % (LOOPBACK, port)
                ) from None


# --- certificates and kubeconfigs -------------------------------------------------


def _ensure_pki(paths):
    names = ["ca", "apiserver", "admin", RESTRICTED_USER]
    files = [paths.cert(n) for n in names] + [paths.key(n) for n in names]
    files += [paths.service_account_key, paths.service_account_pub]
    if all(os.path.exists(f) for f in files):
        return
    # Imported here: reusing a running control plane needs no cryptography.
    from . import pki

    os.makedirs(paths.pki, mode=0o700, exist_ok=True)
    ca_key, ca = pki.make_ca("ack-servicemesh testenv CA")
    issued = {
        "apiserver": pki.issue(
            ca_key, ca, "kube-apiserver",
            dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                       "kubernetes.default.svc.cluster.local"),
            ip_addresses=(LOOPBACK, "10.96.0.1"),
        ),
        "admin": pki.issue(ca_key, ca, ADMIN_USER, organizations=("system:masters",)),
        # No organization: the user's only group is system:authenticated.
        RESTRICTED_USER: pki.issue(ca_key, ca, RESTRICTED_USER),
    }
    for name, (key, cert) in [("ca", (ca_key, ca))] + list(issued.items()):
        pki.write_private(paths.key(name), pki.key_pem(key))
        pki.write_private(paths.cert(name), pki.cert_pem(cert))
    sa = pki.new_key()
    pki.write_private(paths.service_account_key, pki.key_pem(sa))
    pki.write_private(paths.service_account_pub, pki.public_key_pem(sa))


def _b64(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def kubeconfig(profile, paths, user, namespace=None):
    """A self-contained kubeconfig (embedded certificates) for one user."""
    cluster = "testenv-%s" % profile.name
    context_name = cluster if user == ADMIN_USER else "%s-%s" % (cluster, user)
    context = {"cluster": cluster, "user": user}
    if namespace:
        context["namespace"] = namespace
    cert_name = "admin" if user == ADMIN_USER else user
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {
            "server": profile.server, "certificate-authority-data": _b64(paths.cert("ca"))}}],
        "users": [{"name": user, "user": {
            "client-certificate-data": _b64(paths.cert(cert_name)),
            "client-key-data": _b64(paths.key(cert_name))}}],
        "contexts": [{"name": context_name, "context": context}],
        "current-context": context_name,
    }


def _write_kubeconfigs(profile, paths):
    import yaml
    from .pki import write_private

    for path, user, namespace in (
        (paths.kubeconfig, ADMIN_USER, None),
        (paths.kubeconfig_restricted, RESTRICTED_USER, RESTRICTED_NAMESPACE),
    ):
        text = yaml.safe_dump(kubeconfig(profile, paths, user, namespace), default_flow_style=False)
        write_private(path, text.encode())


def _admin_client(profile, paths):
    return Client(profile.server, paths.cert("ca"), paths.cert("admin"), paths.key("admin"))


# --- bootstrapping the API server ---------------------------------------------------


def _poll(what, deadline, check, logs=()):
    """Calls check() -> (done, detail) until done; OSError counts as not done yet."""
    while True:
        try:
            done, detail = check()
        except OSError as exc:
            done, detail = False, str(exc)
        if done:
            return
        if time.monotonic() > deadline:
            raise TestenvError("timed out waiting for %s: %s" % (what, detail), logs)
        time.sleep(0.1)


def _wait_ready(client, procs, paths, deadline):
    def check():
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise TestenvError("%s exited with code %d" % (name, proc.returncode), [paths.log[name]])
        status, body = client.request("GET", "/readyz?verbose")
        return status == 200, body

    _poll("kube-apiserver /readyz", deadline, check, [paths.log["kube-apiserver"], paths.log["etcd"]])


def _apply(client, path, obj, deadline, logs):
    def check():
        status, body = client.apply(path, obj)
        if status in (200, 201):
            return True, None
        # Namespace `default` appears shortly after /readyz; conflicts and overload pass.
        if status in (404, 409, 429, 500, 503):
            return False, "%d %s" % (status, body)
        raise TestenvError("applying %s failed: %d %s" % (path, status, body), logs)

    _poll("PATCH " + path, deadline, check, logs)


def _rbac_objects():
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": RESTRICTED_USER, "namespace": RESTRICTED_NAMESPACE},
        "rules": [{
            "apiGroups": [crds.NETWORKING],
            "resources": ["virtualservices", "destinationrules"],
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        }],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": RESTRICTED_USER, "namespace": RESTRICTED_NAMESPACE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": RESTRICTED_USER},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": RESTRICTED_USER}],
    }
    base = "/apis/rbac.authorization.k8s.io/v1/namespaces/%s" % RESTRICTED_NAMESPACE
    return [("%s/roles/%s" % (base, RESTRICTED_USER), role),
            ("%s/rolebindings/%s" % (base, RESTRICTED_USER), binding)]


def _install(client, crd_list, paths, deadline):
    """Applies the CRDs and RBAC, then waits until the API server really serves them."""
    logs = [paths.log["kube-apiserver"]]
    for crd in crd_list:
        path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + crd["metadata"]["name"]
        _apply(client, path, crd, deadline, logs)
    for path, obj in _rbac_objects():
        _apply(client, path, obj, deadline, logs)
    _wait_served(client, crd_list, paths, deadline)


def _wait_served(client, crd_list, paths, deadline):
    """Waits until the CRDs are established and served and the restricted user's Role is in force."""
    logs = [paths.log["kube-apiserver"]]
    names = {crd["metadata"]["name"] for crd in crd_list}

    def established():
        status, body = client.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        if status != 200:
            return False, "%d %s" % (status, body)
        ready = {
            item["metadata"]["name"]
            for item in body["items"]
            if any(c["type"] == "Established" and c["status"] == "True"
                   for c in (item.get("status") or {}).get("conditions") or [])
        }
        return names <= ready, "not established: %s" % sorted(names - ready)

    _poll("CRDs to be Established", deadline, established, logs)

    # Established is not the end: discovery and the CRD handler catch up from
    # their own caches. Wait until each group lists exactly the expected
    # versions, each version lists its resources, and a LIST of each answers.
    served = crds.served_resources(crd_list)
    groups = {}
    for group, version in served:
        groups.setdefault(group, set()).add(version)

    def discovered():
        for group, expected in sorted(groups.items()):
            status, body = client.request("GET", "/apis/%s" % group)
            listed = {v["version"] for v in body.get("versions", [])} if status == 200 else set()
            if listed != expected:
                return False, "/apis/%s lists %s, expected %s" % (group, sorted(listed), sorted(expected))
        for (group, version), plurals in sorted(served.items()):
            status, body = client.request("GET", "/apis/%s/%s" % (group, version))
            listed = {r["name"] for r in body.get("resources", [])} if status == 200 else set()
            if not plurals <= listed:
                return False, "/apis/%s/%s lacks %s" % (group, version, sorted(plurals - listed))
            status, body = client.request("GET", "/apis/%s/%s/%s?limit=1" % (group, version, min(plurals)))
            if status != 200:
                return False, "LIST %s/%s/%s: %d" % (group, version, min(plurals), status)
        return True, None

    _poll("Istio API versions to be served", deadline, discovered, logs)

    # The RBAC authorizer reads roles from its own cache too.
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": RESTRICTED_USER,
            "groups": ["system:authenticated"],
            "resourceAttributes": {"namespace": RESTRICTED_NAMESPACE, "verb": "create",
                                   "group": crds.NETWORKING, "resource": "virtualservices"},
        },
    }

    def authorized():
        status, body = client.request(
            "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
        return status == 201 and body.get("status", {}).get("allowed") is True, body

    _poll("the %s Role to take effect" % RESTRICTED_USER, deadline, authorized, logs)


def _profile_crds(profile):
    crd_list = crds.load(cache_root())
    if profile.only_networking_version:
        crd_list = crds.keep_only_version(crd_list, crds.NETWORKING, profile.only_networking_version)
    return crd_list


# --- public operations ----------------------------------------------------------------


def is_up(name="default"):
    profile = PROFILES[name]
    return _healthy(profile, Paths(profile))


def _healthy(profile, paths):
    if any(_running_pid(paths, n) is None for n in versions.BINARIES):
        return False
    if not (os.path.exists(paths.kubeconfig) and os.path.exists(paths.kubeconfig_restricted)):
        return False
    client = _admin_client(profile, paths)
    try:
        status = client.request("GET", "/readyz")[0]
    except OSError:
        return False
    finally:
        client.close()
    return status == 200


def up(name="default"):
    """Starts the profile unless it already runs; returns info() plus `started` (False when reused)."""
    profile = PROFILES[name]
    paths = Paths(profile)
    with _locked(paths.lock):
        if _healthy(profile, paths):
            return dict(info(name), started=False)
        build()
        crd_list = _profile_crds(profile)
        _stop(paths)  # whatever is left of a crashed or half-started run
        # Always a fresh etcd: a CRD stored by an API server that died before
        # marking it Established is never re-queued by the next one, and would
        # stay unserved for good.
        shutil.rmtree(paths.etcd_data, ignore_errors=True)
        _ports_free(profile)
        os.makedirs(paths.dir, exist_ok=True)
        _ensure_pki(paths)
        _write_kubeconfigs(profile, paths)
        deadline = time.monotonic() + START_TIMEOUT
        # Started together: the API server retries etcd until it answers.
        procs = {
            "etcd": _spawn(paths, "etcd", _etcd_argv(profile, paths)),
            "kube-apiserver": _spawn(paths, "kube-apiserver", _apiserver_argv(profile, paths)),
        }
        client = _admin_client(profile, paths)
        try:
            _wait_ready(client, procs, paths, deadline)
            _install(client, crd_list, paths, deadline)
        except BaseException:
            _stop(paths)
            raise
        finally:
            client.close()
    return dict(info(name), started=True)


def _stop_apiserver(profile, paths):
    pid = _running_pid(paths, "kube-apiserver")
    if pid is None:
        raise TestenvError("the kube-apiserver of profile %s is not running" % profile.name)
    _terminate(pid, binary("kube-apiserver"))
    with contextlib.suppress(FileNotFoundError):
        os.unlink(paths.pid["kube-apiserver"])


def _start_apiserver(profile, paths):
    if _running_pid(paths, "etcd") is None:
        raise TestenvError("etcd of profile %s is not running: use `up`" % profile.name)
    _ports_free(profile, [profile.apiserver_port])
    deadline = time.monotonic() + START_TIMEOUT
    procs = {"kube-apiserver": _spawn(paths, "kube-apiserver", _apiserver_argv(profile, paths))}
    client = _admin_client(profile, paths)
    try:
        _wait_ready(client, procs, paths, deadline)
        # The CRDs are in etcd already; the new process still has to load them into discovery and the handlers.
        _wait_served(client, _profile_crds(profile), paths, deadline)
    finally:
        client.close()


@contextlib.contextmanager
def apiserver_stopped(name="v1alpha3"):
    """Stops the profile's kube-apiserver, keeping etcd and its data, and starts it again on leaving.

    Holds the profile's lock meanwhile, so a concurrent `up` waits instead of
    taking the stopped server for a crashed one and wiping etcd.
    """
    profile = PROFILES[name]
    paths = Paths(profile)
    with _locked(paths.lock):
        _stop_apiserver(profile, paths)
        try:
            yield info(name)
        finally:
            _start_apiserver(profile, paths)


def stop_apiserver(name="v1alpha3"):
    """Stops only the profile's kube-apiserver; etcd and the data stay (start_apiserver() brings it back)."""
    profile = PROFILES[name]
    paths = Paths(profile)
    with _locked(paths.lock):
        _stop_apiserver(profile, paths)


def start_apiserver(name="v1alpha3"):
    """Starts the profile's kube-apiserver again on the data etcd kept, and waits until Istio's API is served."""
    profile = PROFILES[name]
    paths = Paths(profile)
    with _locked(paths.lock):
        _start_apiserver(profile, paths)


def _free_port():
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def bare_control_plane(directory):
    """A throwaway etcd + kube-apiserver without Istio's CRDs, on free ports, with its state in `directory`.

    For tests of what happens on a cluster where Istio is not installed. Yields
    info()-like data (server, kubeconfig); everything is stopped and deleted on
    leaving.
    """
    profile = Profile("bare", _free_port(), _free_port(), _free_port())
    paths = Paths(profile, directory=os.path.abspath(directory))
    build()
    os.makedirs(paths.dir, exist_ok=True)
    _ensure_pki(paths)
    _write_kubeconfigs(profile, paths)
    deadline = time.monotonic() + START_TIMEOUT
    procs = {}
    try:
        procs["etcd"] = _spawn(paths, "etcd", _etcd_argv(profile, paths))
        procs["kube-apiserver"] = _spawn(paths, "kube-apiserver", _apiserver_argv(profile, paths))
        client = _admin_client(profile, paths)
        try:
            _wait_ready(client, procs, paths, deadline)
        finally:
            client.close()
        yield {"server": profile.server, "kubeconfig": paths.kubeconfig, "state_dir": paths.dir}
    finally:
        _stop(paths)
        shutil.rmtree(paths.dir, ignore_errors=True)


def ensure_up(profile="default"):
    """For tests: the profile's info(), starting it first when needed."""
    return up(profile)


def down(name="default"):
    """Stops the profile's processes and deletes its state. Returns True if anything was running."""
    profile = PROFILES[name]
    paths = Paths(profile)
    with _locked(paths.lock):
        was_running = any(_running_pid(paths, n) is not None for n in versions.BINARIES)
        _stop(paths)
        for entry in paths.entries():
            if os.path.isdir(entry):
                shutil.rmtree(entry)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry)
        # Left in place while another profile still lives inside it.
        with contextlib.suppress(FileNotFoundError, OSError):
            os.rmdir(paths.dir)
    return was_running


# --- audit log ----------------------------------------------------------------------------


def audit_offset(profile="default"):
    """The current end of the profile's audit log: pass it to audit_events() later."""
    try:
        return os.path.getsize(Paths(PROFILES[profile]).audit_log)
    except FileNotFoundError:
        return 0


def audit_events(profile="default", since_offset=0, barrier=True):
    """Audit events (see audit.summarize) logged at or after byte `since_offset`, oldest first.

    The API server writes an event after it has answered, so a test reading the
    log right after a request could miss it. With `barrier`, this first makes a
    marker request of its own and reads until the marker's event is there.
    """
    prof = PROFILES[profile]
    paths = Paths(prof)
    marker = None
    if barrier:
        marker = BARRIER_PREFIX + uuid.uuid4().hex[:12]
        client = _admin_client(prof, paths)
        try:
            client.request("GET", "/api/v1/namespaces/" + marker)
        finally:
            client.close()
    events, offset = audit.read(paths.audit_log, since_offset)
    deadline = time.monotonic() + 10
    while marker and not any(e["name"] == marker for e in events):
        if time.monotonic() > deadline:
            raise TestenvError("audit event of the barrier request never appeared in " + paths.audit_log)
        time.sleep(0.02)
        more, offset = audit.read(paths.audit_log, offset)
        events += more
    return [e for e in events if not (e["name"] or "").startswith(BARRIER_PREFIX)]
