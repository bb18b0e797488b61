"""A WAN between the contenders and the testenv: Toxiproxy, built from its Go module, adding latency each way.

Toxiproxy is a TCP proxy, so TLS passes through it untouched: the kubeconfig for the WAN runs names the proxy's
port on 127.0.0.1, and the API server's certificate still verifies because its SANs hold 127.0.0.1.

    .venv/bin/python benchmarks/wan.py build     # build the binary into the testenv cache (once)
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from testenv import cluster as testenv_cluster  # noqa: E402

MODULE = "github.com/Shopify/toxiproxy/v2"
VERSION = "v2.12.0"
PACKAGE = MODULE + "/cmd/server"
# Bumped when the build changes, so that a cached binary of an older recipe is not reused. 1: version stamped.
RECIPE = 1
LOOPBACK = "127.0.0.1"
# The proxy's ports, beside the API server's (which already carries ACK_TESTENV_PORT_OFFSET): +50 for the
# proxied API server, +51 for Toxiproxy's own control API. No testenv port of any offset step lands there.
LISTEN_SHIFT, CONTROL_SHIFT = 50, 51


class WanError(Exception):
    pass


def binary():
    return os.path.join(testenv_cluster.cache_root(), "toxiproxy-%s-r%d" % (VERSION, RECIPE), "toxiproxy-server")


def build(log=print):
    """`go install` of the pinned release (its own go.mod and go.sum, checked against the Go checksum database)
    into the cache; only when the binary is missing."""
    target = binary()
    if os.path.exists(target):
        return target
    go = testenv_cluster.find_go()
    lock = os.path.join(testenv_cluster.cache_root(), "locks", "build.lock")
    with testenv_cluster._locked(lock):
        if os.path.exists(target):
            return target
        tmp = "%s.tmp-%d" % (os.path.dirname(target), os.getpid())
        log("building toxiproxy %s from %s" % (VERSION, PACKAGE))
        env = dict(os.environ, GOBIN=tmp, GOFLAGS="-mod=readonly")
        # The release's version, as its own Makefile stamps it (the module zip has no git metadata).
        flags = "-s -w -X %s.Version=%s" % (MODULE, VERSION.lstrip("v"))
        proc = subprocess.run(["nice", "-n", "10", go, "install", "-trimpath", "-ldflags=" + flags,
                               "%s@%s" % (PACKAGE, VERSION)], env=env, cwd=ROOT, check=False)
        if proc.returncode != 0:
            raise WanError("go install of %s@%s failed (exit %d)" % (PACKAGE, VERSION, proc.returncode))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(os.path.join(tmp, "server"), target)
        os.rmdir(tmp)
    return target


def server_sans(cert_file):
    """The IP addresses in a PEM certificate's subjectAltName."""
    from cryptography import x509

    with open(cert_file, "rb") as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]


class Wan:
    """One Toxiproxy process in front of one API server, with `latency_ms` added to each direction."""

    def __init__(self, server, workdir, latency_ms=50, cert_file=None):
        parsed = urllib.parse.urlsplit(server)
        if parsed.hostname != LOOPBACK:
            raise WanError("the WAN proxy only fronts API servers on %s (got %s)" % (LOOPBACK, server))
        if cert_file and LOOPBACK not in server_sans(cert_file):
            raise WanError("%s has no subjectAltName IP %s: TLS through the proxy would not verify"
                           % (cert_file, LOOPBACK))
        self.upstream = "%s:%d" % (LOOPBACK, parsed.port)
        self.listen_port = parsed.port + LISTEN_SHIFT
        self.control = "http://%s:%d" % (LOOPBACK, parsed.port + CONTROL_SHIFT)
        self.server = "https://%s:%d" % (LOOPBACK, self.listen_port)
        self.latency_ms = latency_ms
        self.workdir = workdir
        self.proc = None

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.control + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read()
        return json.loads(text) if text else None

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        log = open(os.path.join(self.workdir, "toxiproxy.log"), "ab")
        port = self.control.rsplit(":", 1)[1]
        self.proc = subprocess.Popen([build(), "-host", LOOPBACK, "-port", port], stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                self._call("GET", "/version")
                break
            except (urllib.error.URLError, OSError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise WanError("toxiproxy did not start on %s (see %s/toxiproxy.log)"
                                   % (self.control, self.workdir))
                time.sleep(0.1)
        self._call("POST", "/proxies", {"name": "apiserver", "listen": "%s:%d" % (LOOPBACK, self.listen_port),
                                        "upstream": self.upstream, "enabled": True})
        for stream in ("upstream", "downstream"):
            self._call("POST", "/proxies/apiserver/toxics", {
                "name": "latency_" + stream, "type": "latency", "stream": stream, "toxicity": 1.0,
                "attributes": {"latency": self.latency_ms, "jitter": 0}})
        return self

    def toxics(self):
        return self._call("GET", "/proxies/apiserver/toxics")

    def stop(self):
        """Stops the Toxiproxy this object started (by its pid) and nothing else."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kubeconfig(self, source, path):
        """A copy of `source` whose clusters point at the proxy (mode 0600: it holds a token)."""
        with open(source) as handle:
            config = yaml.safe_load(handle)
        for entry in config["clusters"]:
            entry["cluster"]["server"] = self.server
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(handle, "w") as out:
            yaml.safe_dump(config, out, default_flow_style=False)
        return path


@contextlib.contextmanager
def running(server, workdir, latency_ms=50, cert_file=None):
    wan = Wan(server, workdir, latency_ms, cert_file).start()
    try:
        yield wan
    finally:
        wan.stop()


if __name__ == "__main__":
    if sys.argv[1:] == ["build"]:
        print(build())
    else:
        sys.exit(__doc__)
