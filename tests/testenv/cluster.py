"""Start, reuse, inspect and stop the local control plane of one profile.

etcd, kube-apiserver and kube-controller-manager (namespace lifecycle), plus in the default profile
istiod serving Istio's validating webhook (istio.py).
"""

import base64
import contextlib
import fcntl
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Optional, Tuple

from . import audit, crds, istio, versions
from .apiclient import Client
from .errors import TestenvError

HERE = os.path.dirname(os.path.realpath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

LOOPBACK = "127.0.0.1"
ADMIN_USER = "testenv-admin"
RESTRICTED_USER = "mesh-operator"
RESTRICTED_NAMESPACE = "default"
SERVICE_CIDR = "10.96.0.0/16"
# The user the bootstrap RBAC policy binds to the controller manager's ClusterRole.
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
# Only what a namespace's lifecycle needs: deletion, and the `default` ServiceAccount every namespace gets.
CONTROLLERS = ("namespace", "serviceaccount", "serviceaccount-token")

PORT_OFFSET_VARIABLE = "ACK_TESTENV_PORT_OFFSET"
MAX_PORT_OFFSET = 40000

# Everything a profile may run, in start order.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "istiod")

# Generous next to the measured ~10 s, for slow CI machines.
START_TIMEOUT = 120
STOP_TIMEOUT = 15

# Requests made by audit_events() to know the log is complete; never reported.
BARRIER_PREFIX = "ack-testenv-audit-barrier-"


def port_offset():
    """ACK_TESTENV_PORT_OFFSET, added to every fixed port, so a second testenv can run beside the first."""
    raw = os.environ.get(PORT_OFFSET_VARIABLE, "").strip()
    if not raw:
        return 0
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_PORT_OFFSET:
        raise TestenvError("%s must be a whole number from 0 to %d (got %r)"
                           % (PORT_OFFSET_VARIABLE, MAX_PORT_OFFSET, raw))
    return int(raw)


@dataclass(frozen=True)
class Profile:
    name: str
    apiserver_base: int
    etcd_client_base: int
    etcd_peer_base: int
    controller_manager_base: int
    # Emulates an old Istio that served networking.istio.io in this version only.
    only_networking_version: Optional[str] = None
    # istiod's webhook (HTTPS) and HTTP ports, for profiles with Istio's validating webhook.
    istiod_bases: Optional[Tuple[int, int]] = None
    # False for ports picked free at run time, which the offset must not move.
    shifted: bool = True

    def _port(self, base):
        return base + (port_offset() if self.shifted else 0)

    @property
    def apiserver_port(self):
        return self._port(self.apiserver_base)

    @property
    def etcd_client_port(self):
        return self._port(self.etcd_client_base)

    @property
    def etcd_peer_port(self):
        return self._port(self.etcd_peer_base)

    @property
    def controller_manager_port(self):
        return self._port(self.controller_manager_base)

    @property
    def webhook(self):
        return self.istiod_bases is not None

    @property
    def istiod_webhook_port(self):
        return self._port(self.istiod_bases[0]) if self.webhook else None

    @property
    def istiod_http_port(self):
        return self._port(self.istiod_bases[1]) if self.webhook else None

    @property
    def server(self):
        return "https://%s:%d" % (LOOPBACK, self.apiserver_port)

    def components(self):
        return [c for c in COMPONENTS if c != "istiod" or self.webhook]

    def ports(self):
        ports = [self.apiserver_port, self.etcd_client_port, self.etcd_peer_port, self.controller_manager_port]
        return ports + ([self.istiod_webhook_port, self.istiod_http_port] if self.webhook else [])


# Fixed ports (plus ACK_TESTENV_PORT_OFFSET), so both profiles can run side by side (README.md).
PROFILES = {
    p.name: p
    for p in (
        Profile("default", 16443, 12379, 12380, 16257, istiod_bases=(16017, 16080)),
        # No webhook: the pinned istiod watches networking.istio.io/v1, which this profile does not serve.
        Profile("v1alpha3", 16444, 12381, 12382, 16258, only_networking_version="v1alpha3"),
    )
}


def state_root():
    return os.path.abspath(os.environ.get("ACK_TESTENV_DIR") or os.path.join(REPO, ".testenv"))


def cache_root():
    default = os.path.join(os.path.expanduser("~"), ".cache", "ack-servicemesh")
    return os.path.abspath(os.environ.get("ACK_TESTENV_CACHE") or default)


def binary(name):
    """Where a component's binary is cached. The directory names the release and the build recipe, so a
    version bump or a change in how it is built never reuses an old binary."""
    if name == "istiod":
        return istio.binary()
    version = versions.RELEASES[name][1]
    family = "etcd" if name == "etcd" else "kubernetes"
    return os.path.join(cache_root(), "%s-v%s-r%d" % (family, version, versions.BUILD_RECIPE), name)


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
        self.log = {name: os.path.join(self.dir, name + ".log") for name in COMPONENTS}
        self.pid = {name: os.path.join(self.dir, name + ".pid") for name in COMPONENTS}
        self.istiod_mesh_config = os.path.join(self.dir, "istiod-mesh.yaml")
        # Outside the state directory so that `down` can delete that directory
        # without pulling a lock file from under a waiting `up`.
        self.lock = os.path.join(cache_root(), "locks", "testenv-%s.lock" % profile.name)

    def cert(self, name):
        return os.path.join(self.pki, name + ".crt")

    def key(self, name):
        return os.path.join(self.pki, name + ".key")

    def component_kubeconfig(self, name):
        return os.path.join(self.dir, name + ".kubeconfig")

    @property
    def service_account_key(self):
        return os.path.join(self.pki, "sa.key")

    @property
    def service_account_pub(self):
        return os.path.join(self.pki, "sa.pub")

    def entries(self):
        """Everything `up` creates, which is all `down` may delete."""
        return [self.kubeconfig, self.kubeconfig_restricted, self.pki, self.etcd_data, self.audit_log,
                self.istiod_mesh_config, *[self.component_kubeconfig(n) for n in ("kube-controller-manager", "istiod")],
                *self.log.values(), *self.pid.values()]


def info(name="default"):
    """Where to reach a profile; the same whether or not it is running."""
    profile = PROFILES[name]
    paths = Paths(profile)
    return {
        "profile": name,
        "server": profile.server,
        "webhook": istio.webhook_url(profile.istiod_webhook_port) if profile.webhook else None,
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


def build(with_istiod=True):
    """Compiles whichever binary is missing from the cache and fetches Istio's CRDs. Returns the names built.

    With `with_istiod`, also istiod (tests/mesh builds it) for the default profile's webhook.
    """
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
    if with_istiod and not os.path.exists(binary("istiod")):
        istio.build()
        built.append("istiod")
    return built


def _release_time(go, module):
    """When the module proxy published the pinned release: the build date stamped into the binaries, so
    that a rebuild of the same release reports the same date."""
    proc = subprocess.run([go, "list", "-m", "-json", module], cwd=HERE, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TestenvError("go list -m %s failed: %s" % (module, proc.stderr.strip()))
    return json.loads(proc.stdout)["Time"]


def ldflags(name, release_time):
    """The linker flags that stamp a binary with its release, as the upstream build scripts do.

    Kubernetes (hack/lib/version.sh) sets k8s.io/component-base/version and k8s.io/client-go/pkg/version;
    the module zip carries no git metadata, so gitCommit stays empty rather than invented, and the tree is
    the release's own (clean). etcd's version is a constant of its module already; its build script
    stamps GitSHA, with "GitNotFound" when there is no checkout, as here.
    """
    flags = ["-s", "-w"]
    if name == "etcd":
        return " ".join(flags + ["-X", "go.etcd.io/etcd/api/v3/version.GitSHA=GitNotFound"])
    version = versions.RELEASES[name][1]
    major, minor = version.split(".")[:2]
    values = {"gitVersion": "v" + version, "gitMajor": major, "gitMinor": minor, "gitCommit": "",
              "gitTreeState": "clean", "buildDate": release_time}
    for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        for key in sorted(values):
            flags += ["-X", "%s.%s=%s" % (package, key, values[key])]
    return " ".join(flags)


def _build_one(go, name):
    target = binary(name)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    # Built under a temporary name: an interrupted build must not leave a file that looks complete.
    tmp = "%s.tmp-%d" % (target, os.getpid())
    _say("building %s from %s (several minutes the first time)" % (name, versions.BINARIES[name]))
    started = time.monotonic()
    flags = ldflags(name, _release_time(go, versions.RELEASES[name][0]))
    env = dict(os.environ, GOFLAGS="-mod=readonly")  # go.sum pins every dependency
    proc = subprocess.run(
        ["nice", "-n", "10", go, "build", "-trimpath", "-ldflags=" + flags, "-o", tmp, versions.BINARIES[name]],
        cwd=HERE, env=env, check=False,
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


def _legacy_binary(name):
    """Where builds before BUILD_RECIPE 2 cached etcd and kube-apiserver: such processes are still ours to
    stop, so that `up` after an upgrade replaces them instead of finding their ports taken."""
    return os.path.join(cache_root(), "k8s-%s" % versions.KUBERNETES_VERSION, name)


def _executable(pid, name):
    """The path of our binary that process `pid` runs, or None if it runs none of ours."""
    for path in (binary(name), _legacy_binary(name)):
        if _runs(pid, path):
            return path
    return None


def _running_pid(paths, name):
    pid = _read_pid(paths.pid[name])
    return pid if pid is not None and _executable(pid, name) == binary(name) else None


def _reap(pid):
    # Only possible when this very process started it (ensure_up() in a test run).
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _stop(paths, names=None):
    """Stops the processes recorded in the profile's pid files, in reverse start order (etcd last)."""
    for name in reversed(names or COMPONENTS):
        pid = _read_pid(paths.pid[name])
        path = _executable(pid, name) if pid is not None else None
        if path is not None:
            _terminate(pid, path)
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


def _spawn(paths, name, argv, env=None):
    """Starts a daemon that outlives this command: own session, output to its log file."""
    with open(paths.log[name], "ab") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=paths.dir, env=env, start_new_session=True, close_fds=True,
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


def _controller_manager_argv(profile, paths):
    kubeconfig = paths.component_kubeconfig("kube-controller-manager")
    return [
        binary("kube-controller-manager"),
        "--kubeconfig=" + kubeconfig,
        # Its own HTTPS port serves /healthz; delegated authentication and authorization, as in a cluster.
        "--authentication-kubeconfig=" + kubeconfig,
        "--authorization-kubeconfig=" + kubeconfig,
        "--bind-address=" + LOOPBACK,
        "--secure-port=%d" % profile.controller_manager_port,
        "--tls-cert-file=" + paths.cert("kube-controller-manager"),
        "--tls-private-key-file=" + paths.key("kube-controller-manager"),
        "--controllers=" + ",".join(CONTROLLERS),
        # Each controller acts as its own ServiceAccount (kube-system/namespace-controller, ...), with
        # tokens from the TokenRequest API, as kubeadm clusters run it.
        "--use-service-account-credentials=true",
        "--service-account-private-key-file=" + paths.service_account_key,
        "--root-ca-file=" + paths.cert("ca"),
        "--leader-elect=false",
        "--profiling=false",
    ]


def _ports_free(profile, ports=None):
    for port in ports or profile.ports():
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


def _leaves():
    """Every certificate the CA issues: file name -> keyword arguments of pki.issue."""
    return {
        "apiserver": dict(
            common_name="kube-apiserver",
            dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                       "kubernetes.default.svc.cluster.local"),
            ip_addresses=(LOOPBACK, "10.96.0.1"),
        ),
        "admin": dict(common_name=ADMIN_USER, organizations=("system:masters",)),
        # No organization: the user's only group is system:authenticated.
        RESTRICTED_USER: dict(common_name=RESTRICTED_USER),
        "kube-controller-manager-client": dict(common_name=CONTROLLER_MANAGER_USER),
        "kube-controller-manager": dict(common_name="kube-controller-manager", dns_names=("localhost",),
                                        ip_addresses=(LOOPBACK,)),
        "istiod-client": dict(common_name=istio.USER, organizations=("system:masters",)),
        "istiod": dict(common_name="istiod", dns_names=("istiod.istio-system.svc", "localhost"),
                       ip_addresses=(LOOPBACK,)),
    }


def _ensure_pki(paths):
    """The profile's CA, service-account key and every certificate; issues only what is missing, so a
    state directory from an older version gets the new certificates under the CA it already has."""
    leaves = _leaves()
    names = ["ca"] + list(leaves)
    files = [paths.cert(n) for n in names] + [paths.key(n) for n in names]
    files += [paths.service_account_key, paths.service_account_pub]
    if all(os.path.exists(f) for f in files):
        return
    # Imported here: reusing a running control plane needs no cryptography.
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from . import pki

    os.makedirs(paths.pki, mode=0o700, exist_ok=True)
    if os.path.exists(paths.cert("ca")) and os.path.exists(paths.key("ca")):
        with open(paths.key("ca"), "rb") as f:
            ca_key = serialization.load_pem_private_key(f.read(), None)
        with open(paths.cert("ca"), "rb") as f:
            ca = x509.load_pem_x509_certificate(f.read())
    else:
        ca_key, ca = pki.make_ca("ack-servicemesh testenv CA")
        pki.write_private(paths.key("ca"), pki.key_pem(ca_key))
        pki.write_private(paths.cert("ca"), pki.cert_pem(ca))
        for name in leaves:  # issued by the CA just replaced
            for path in (paths.cert(name), paths.key(name)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
    for name, args in leaves.items():
        if os.path.exists(paths.cert(name)) and os.path.exists(paths.key(name)):
            continue
        key, cert = pki.issue(ca_key, ca, **args)
        pki.write_private(paths.key(name), pki.key_pem(key))
        pki.write_private(paths.cert(name), pki.cert_pem(cert))
    if not (os.path.exists(paths.service_account_key) and os.path.exists(paths.service_account_pub)):
        sa = pki.new_key()
        pki.write_private(paths.service_account_key, pki.key_pem(sa))
        pki.write_private(paths.service_account_pub, pki.public_key_pem(sa))


def _b64(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def kubeconfig(profile, paths, user, namespace=None, cert_name=None):
    """A self-contained kubeconfig (embedded certificates) for one user."""
    cluster = "testenv-%s" % profile.name
    context_name = cluster if user == ADMIN_USER else "%s-%s" % (cluster, user)
    context = {"cluster": cluster, "user": user}
    if namespace:
        context["namespace"] = namespace
    cert_name = cert_name or ("admin" if user == ADMIN_USER else user)
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

    for path, user, namespace, cert_name in (
        (paths.kubeconfig, ADMIN_USER, None, None),
        (paths.kubeconfig_restricted, RESTRICTED_USER, RESTRICTED_NAMESPACE, None),
        (paths.component_kubeconfig("kube-controller-manager"), CONTROLLER_MANAGER_USER, None,
         "kube-controller-manager-client"),
        (paths.component_kubeconfig("istiod"), istio.USER, None, "istiod-client"),
    ):
        text = yaml.safe_dump(kubeconfig(profile, paths, user, namespace, cert_name), default_flow_style=False)
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


def _istio_objects(profile):
    """istiod's namespace and, where the profile has the webhook, its two webhook configurations."""
    if not profile.webhook:
        return []
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": istio.NAMESPACE}}
    out = [("/api/v1/namespaces/" + istio.NAMESPACE, namespace)]
    for name, obj in istio.webhook_configurations(profile.istiod_webhook_port):
        out.append(("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/" + name, obj))
    return out


def _install(client, crd_list, profile, paths, deadline):
    """Applies the CRDs, RBAC and Istio's webhook configurations (_wait_served then waits until the API
    server really serves the CRDs)."""
    logs = [paths.log["kube-apiserver"]]
    for crd in crd_list:
        path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + crd["metadata"]["name"]
        _apply(client, path, crd, deadline, logs)
    for path, obj in _rbac_objects() + _istio_objects(profile):
        _apply(client, path, obj, deadline, logs)


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


# --- controller manager and istiod ---------------------------------------------------------


def _https_status(port, path, ca_file):
    """Status of a GET to a loopback HTTPS endpoint whose certificate the profile's CA issued."""
    context = ssl.create_default_context(cafile=ca_file)
    conn = http.client.HTTPSConnection(LOOPBACK, port, timeout=5, context=context)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")[:300]
    except http.client.HTTPException as exc:
        raise ConnectionError(str(exc)) from exc
    finally:
        conn.close()


def _http_status(port, path):
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")[:300]
    except http.client.HTTPException as exc:
        raise ConnectionError(str(exc)) from exc
    finally:
        conn.close()


def _alive(proc, name, paths):
    if proc is not None and proc.poll() is not None:
        raise TestenvError("%s exited with code %d" % (name, proc.returncode), [paths.log[name]])


def _spawn_controller_manager(profile, paths):
    return _spawn(paths, "kube-controller-manager", _controller_manager_argv(profile, paths))


def _wait_controller_manager(profile, paths, proc, deadline):
    def healthy():
        _alive(proc, "kube-controller-manager", paths)
        status, body = _https_status(profile.controller_manager_port, "/healthz", paths.cert("ca"))
        return status == 200, "%d %s" % (status, body)

    _poll("kube-controller-manager /healthz", deadline, healthy, [paths.log["kube-controller-manager"]])


def _spawn_istiod(profile, paths):
    with open(paths.istiod_mesh_config, "w") as f:
        f.write("rootNamespace: %s\n" % istio.NAMESPACE)
    return _spawn(paths, "istiod", istio.argv(paths, profile.istiod_http_port, profile.istiod_webhook_port),
                  env=istio.env(paths))


def _wait_istiod(profile, paths, proc, client, deadline):
    """Waits until istiod is ready and Istio's webhook refuses an invalid object, fail-closed."""
    logs = [paths.log["istiod"], paths.log["kube-apiserver"]]

    def ready():
        _alive(proc, "istiod", paths)
        status, body = _http_status(profile.istiod_http_port, "/ready")
        return status == 200, "%d %s" % (status, body)

    _poll("istiod /ready", deadline, ready, logs)
    _wait_fail_closed(client, paths, deadline, logs, proc)


def _wait_fail_closed(client, paths, deadline, logs, proc=None):
    """Waits until istiod has patched both webhook configurations (our CA, failurePolicy Fail) and the API
    server refuses an invalid VirtualService through the webhook."""
    with open(paths.cert("ca"), "rb") as f:
        ca = f.read()

    def patched():
        _alive(proc, "istiod", paths)
        for name in istio.WEBHOOKS:
            status, body = client.request(
                "GET", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/" + name)
            if status != 200:
                return False, "%s: %d %s" % (name, status, body)
            state = istio.webhook_state(body)
            if not state or any(policy != "Fail" or bundle != ca for _name, policy, bundle in state):
                return False, "%s not patched yet: %s" % (name, [(n, p, bool(b)) for n, p, b in state])
        return True, None

    _poll("istiod to switch its webhooks to failurePolicy Fail", deadline, patched, logs)
    probe = istio.invalid_probe()
    path = "/apis/networking.istio.io/v1/namespaces/%s/virtualservices?dryRun=All" % istio.NAMESPACE

    def refused():
        status, body = client.request("POST", path, probe)
        message = body.get("message", "") if isinstance(body, dict) else str(body)
        return status == 400 and "denied the request" in message, "%d %s" % (status, message)

    _poll("Istio's webhook to refuse an invalid VirtualService", deadline, refused, logs)


def _start_missing_components(profile, paths, deadline):
    """Starts the controller manager and istiod if they are not running beside a healthy API server
    (after a crash, or a state directory from before they existed), without touching etcd's data."""
    started = []
    if _running_pid(paths, "kube-controller-manager") is None:
        _ensure_pki(paths)
        _write_kubeconfigs(profile, paths)
        build(with_istiod=profile.webhook)
        _ports_free(profile, [profile.controller_manager_port])
        _wait_controller_manager(profile, paths, _spawn_controller_manager(profile, paths), deadline)
        started.append("kube-controller-manager")
    if profile.webhook and _running_pid(paths, "istiod") is None:
        _ensure_pki(paths)
        _write_kubeconfigs(profile, paths)
        build()
        _ports_free(profile, [profile.istiod_webhook_port, profile.istiod_http_port])
        client = _admin_client(profile, paths)
        try:
            for path, obj in _istio_objects(profile):
                status, body = client.request("GET", path)
                if status == 404:
                    _apply(client, path, obj, deadline, [paths.log["kube-apiserver"]])
            _wait_istiod(profile, paths, _spawn_istiod(profile, paths), client, deadline)
        finally:
            client.close()
        started.append("istiod")
    return started


# --- public operations ----------------------------------------------------------------


def is_up(name="default"):
    profile = PROFILES[name]
    return _healthy(profile, Paths(profile))


def _healthy(profile, paths, components=None):
    if any(_running_pid(paths, n) is None for n in components or profile.components()):
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
        if _healthy(profile, paths, ["etcd", "kube-apiserver"]):
            # The API server and its data are fine: only start what is missing beside them.
            started = _start_missing_components(profile, paths, time.monotonic() + START_TIMEOUT)
            return dict(info(name), started=False, restarted=started)
        build(with_istiod=profile.webhook)
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
            _install(client, crd_list, profile, paths, deadline)
            # Both start while the API server catches up with the CRDs: they wait for what they need.
            manager = _spawn_controller_manager(profile, paths)
            validator = _spawn_istiod(profile, paths) if profile.webhook else None
            _wait_served(client, crd_list, paths, deadline)
            _wait_controller_manager(profile, paths, manager, deadline)
            if validator is not None:
                _wait_istiod(profile, paths, validator, client, deadline)
        except BaseException:
            _stop(paths)
            raise
        finally:
            client.close()
    return dict(info(name), started=True, restarted=[])


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
    profile = Profile("bare", _free_port(), _free_port(), _free_port(), _free_port(), shifted=False)
    paths = Paths(profile, directory=os.path.abspath(directory))
    build(with_istiod=False)
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
        pids = {n: _read_pid(paths.pid[n]) for n in COMPONENTS}
        was_running = any(pid is not None and _executable(pid, n) for n, pid in pids.items())
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
