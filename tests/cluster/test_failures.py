"""When the cluster misbehaves: clear messages, no tracebacks, retries where they help, and nothing half-done.

Everything runs against real API servers: the testenv's, a throwaway one without Istio, and the v1alpha3
profile's, stopped in the middle of a scenario. The small local servers below only stand in for the network
(a closed port, a socket that never answers, a proxy that slows or refuses requests on their way to the real
API server); none of them imitates Kubernetes.
"""

import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from ansible_run import ROOT, ansible_env, run_module, run_playbook
from conformance import assert_conforms
from identities import write_private

sys.path.insert(0, os.path.join(ROOT, "tests"))

from testenv import info  # noqa: E402
from testenv.cluster import PROFILES, apiserver_stopped, bare_control_plane  # noqa: E402

M = "ack.servicemesh."
DR_ARGS = {"name": "reviews", "host": "reviews", "subsets": {"v1": {"version": "v1"}}}


def no_traceback(result):
    text = result.proc.stdout + result.proc.stderr
    assert "Traceback" not in text and "MODULE FAILURE" not in text, text[-3000:]


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Silent:
    """Accepts TCP connections and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


class SlowProxy:
    """Forwards TCP to the real API server, holding each chunk from the client back for `delay` seconds.

    TLS passes through untouched. It spreads a module's requests out in time, so that a test can stop the API
    server between two writes of one task.
    """

    def __init__(self, upstream_port, delay):
        self.upstream_port = upstream_port
        self.delay = delay
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client = self.sock.accept()[0]
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            self.conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, self.delay), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, 0), daemon=True).start()

    @staticmethod
    def _pump(source, target, delay):
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                time.sleep(delay)
                target.sendall(chunk)
        except OSError:
            pass
        for conn in (source, target):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def close(self):
        self.sock.close()
        for conn in self.conns:
            conn.close()


class FaultyFront:
    """Plain HTTP in front of the real API server that answers the first requests with canned errors.

    Each entry of `faults` is (status, Retry-After or None); once they are used up, requests go through to the
    API server (authenticated as the testenv admin). `seen` records (time, method, path, status) per request.
    """

    def __init__(self, faults):
        env = info("default")
        context = ssl.create_default_context(cafile=env["ca_file"])
        context.load_cert_chain(env["admin_cert"], env["admin_key"])
        upstream = PROFILES["default"].apiserver_port
        front = self
        self.faults = list(faults)
        self.seen = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if front.faults:
                    status, retry_after = front.faults.pop(0)
                    payload = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                          "message": "injected by the test", "code": status}).encode()
                    self.send_response(status)
                    if retry_after is not None:
                        self.send_header("Retry-After", str(retry_after))
                    headers = {"Content-Type": "application/json"}
                else:
                    conn = http.client.HTTPSConnection("127.0.0.1", upstream, context=context, timeout=30)
                    forwarded = dict((k, v) for k, v in self.headers.items()
                                     if k.lower() in ("content-type", "accept", "user-agent"))
                    conn.request(self.command, self.path, body=body, headers=forwarded)
                    answer = conn.getresponse()
                    status, payload = answer.status, answer.read()
                    conn.close()
                    self.send_response(status)
                    headers = {"Content-Type": answer.getheader("Content-Type", "application/json")}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                front.seen.append((time.monotonic(), self.command, self.path.split("?")[0], status))

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- the API server cannot be reached ----------------------------------------------------------------------------


def test_a_closed_port_is_reported_with_the_server_address():
    server = "https://127.0.0.1:%d" % closed_port()
    started = time.monotonic()
    res, result = run_module(M + "destination_rule", dict(DR_ARGS, namespace="default"),
                             connection={"server": server, "validate_certs": False})
    assert res.get("failed")
    assert res["msg"].startswith("cannot reach the Kubernetes API server at %s" % server), res["msg"]
    assert "refused" in res["msg"]
    assert res["reason"] == "Unreachable"
    no_traceback(result)
    # Connection errors are retried with a capped backoff (5 retries), not for ever.
    assert time.monotonic() - started < 60


def test_a_server_that_never_answers_times_out_after_request_timeout():
    silent = Silent()
    try:
        server = "https://127.0.0.1:%d" % silent.port
        started = time.monotonic()
        res, result = run_module(M + "destination_rule", dict(DR_ARGS, namespace="default"),
                                 connection={"server": server, "validate_certs": False, "request_timeout": 1})
        took = time.monotonic() - started
    finally:
        silent.close()
    assert res.get("failed")
    assert res["msg"].startswith("cannot reach the Kubernetes API server at %s" % server), res["msg"]
    assert "timed out" in res["msg"]
    no_traceback(result)
    # Six tries of one second plus at most ~8 s of backoff, well below the 30 s default of a single try.
    assert took < 45, took
    assert len(silent.held) >= 2, "a timed-out request is retried"


# --- throttling and server errors ---------------------------------------------------------------------------------


def test_429_and_503_are_retried_honouring_retry_after(cluster, namespace):
    front = FaultyFront([(429, 1), (503, 2)])
    try:
        res, result = run_module(M + "destination_rule", dict(DR_ARGS, namespace=namespace),
                                 connection={"server": front.url})
    finally:
        front.close()
    assert not res.get("failed"), res.get("msg")
    assert cluster.get("DestinationRule", namespace, "reviews")["spec"]["subsets"] == [
        {"name": "v1", "labels": {"version": "v1"}}]
    # The first request (discovery) answered 429, then 503, then went through: the same request three times.
    assert [s for _t, _m, _p, s in front.seen[:2]] == [429, 503], front.seen
    assert len(set((m, p) for _t, m, p, _s in front.seen[:3])) == 1, front.seen
    times = [t for t, _m, _p, _s in front.seen]
    assert times[1] - times[0] >= 0.9 and times[2] - times[1] >= 1.9, "Retry-After was not honoured"
    no_traceback(result)


def test_a_server_error_that_persists_fails_with_its_status_after_the_retries(namespace):
    front = FaultyFront([(503, 0)] * 20)
    try:
        # Pinned: no discovery request, so the failing request is the read of the object.
        res, result = run_module(M + "destination_rule", dict(DR_ARGS, namespace=namespace, api_version="v1"),
                                 connection={"server": front.url})
    finally:
        front.close()
    assert res.get("failed")
    assert "HTTP 503" in res["msg"] and "DestinationRule %s/reviews" % namespace in res["msg"], res["msg"]
    assert len(front.seen) == 6, "one try and five retries: %s" % front.seen
    no_traceback(result)


# --- a cluster without Istio, a namespace that does not exist, the API server's own rejection ---------------------


def test_a_cluster_without_istio_says_so(tmp_path):
    with bare_control_plane(str(tmp_path / "bare")) as bare:
        results = [run_module(M + module, dict(args, namespace="default"), connection={"kubeconfig": bare["kubeconfig"]})
                   for module, args in (("destination_rule", DR_ARGS),
                                        ("destination_rule", dict(DR_ARGS, api_version="v1")),
                                        ("fault_expiry", {}))]
    for res, result in results:
        assert res.get("failed")
        assert "Istio's CRDs are not installed" in res["msg"], res["msg"]
        assert bare["server"] in res["msg"]
        assert res["reason"] == "IstioNotInstalled"
        no_traceback(result)


def test_a_namespace_that_does_not_exist_is_named(cluster):
    missing = "no-such-namespace-%d" % os.getpid()
    for check in (True, False):
        res, result = run_module(M + "destination_rule", dict(DR_ARGS, namespace=missing), check=check,
                                 connection=cluster.connection())
        assert res.get("failed")
        assert 'namespaces "%s" not found' % missing in res["msg"], res["msg"]
        assert res["status"] == 404
        no_traceback(result)


@pytest.mark.parametrize("check", [True, False])
def test_a_duration_the_crd_refuses_is_refused_before_any_write(cluster, namespace, check):
    """The CRD's CEL rule refuses a sub-millisecond interval; Istio's rules do too, so the validator says it first."""
    args = dict(DR_ARGS, namespace=namespace, traffic_policy={"outlierDetection": {"interval": "500us"}})
    res, result = run_module(M + "destination_rule", args, check=check, connection=cluster.connection())
    assert res.get("failed")
    assert "spec.trafficPolicy.outlierDetection.interval: must be at least 1ms (got '500us')" in res["msg"]
    assert cluster.versions(namespace) == {}
    no_traceback(result)


# --- the API server stops in the middle of a scenario ------------------------------------------------------------


def _scenario(name, namespace, kubeconfig):
    return run_playbook(os.path.join(ROOT, "playbooks", name.replace("-", "_") + ".yml"),
                        dict(servicemesh_namespace=namespace, servicemesh_kubeconfig=kubeconfig,
                             servicemesh_user_match="cookie-0.8"))


def _user_route(obj):
    return obj is not None and any(r.get("name") == "user-override" for r in obj["spec"].get("http") or [])


@pytest.mark.serial  # every other test on the v1alpha3 profile would fail while its API server is down
def test_api_server_stopped_mid_scenario_then_a_rerun_converges_with_nothing_lost_or_duplicated(
        old_cluster, tmp_path):
    namespace = old_cluster.new_namespace("stop")
    assert not _scenario("all-v1", namespace, old_cluster.kubeconfig).failed
    # Writes of one level go out together, so "mid-scenario" is between the levels: without ratings'
    # DestinationRule, fault-delay creates it first and changes reviews and ratings only once it is written.
    old_cluster.custom.delete_namespaced_custom_object("networking.istio.io", old_cluster.version, namespace,
                                                       "destinationrules", "ratings")
    before = dict(((o["kind"], o["metadata"]["name"]), o["metadata"]["uid"])
                  for kind in ("VirtualService", "DestinationRule") for o in old_cluster.list(kind, namespace))

    proxy = SlowProxy(PROFILES["v1alpha3"].apiserver_port, delay=1.0)
    with open(old_cluster.kubeconfig) as handle:
        config = yaml.safe_load(handle)
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:%d" % proxy.port
    slow = write_private(str(tmp_path / "kubeconfig-slow"), yaml.safe_dump(config))
    extra = dict(servicemesh_namespace=namespace, servicemesh_kubeconfig=slow, servicemesh_user_match="cookie")
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
               os.path.join(ROOT, "playbooks", "fault_delay.yml"), "-e", json.dumps(extra)]
    play = subprocess.Popen(command, cwd=ROOT, env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "default"}),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    try:
        # Stop the API server once the DestinationRule is written, before the VirtualServices are.
        deadline = time.monotonic() + 120
        while old_cluster.get("DestinationRule", namespace, "ratings") is None:
            assert play.poll() is None, "the play ended before its first write:\n" + play.stdout.read()
            assert time.monotonic() < deadline, "ratings' DestinationRule was never created"
            time.sleep(0.05)
        with apiserver_stopped("v1alpha3"):
            output = play.communicate(timeout=300)[0]
    finally:
        if play.poll() is None:
            play.kill()
            play.wait()
        proxy.close()

    assert play.returncode != 0, output
    assert "cannot reach the Kubernetes API server at https://127.0.0.1:%d" % proxy.port in output, output
    assert "Traceback" not in output and "MODULE FAILURE" not in output, output
    ratings = old_cluster.get("VirtualService", namespace, "ratings")
    assert not any(r.get("fault") for r in ratings["spec"]["http"]), "the stop came too late to be mid-scenario"
    assert not _user_route(old_cluster.get("VirtualService", namespace, "reviews")), "a level was written early"
    created = old_cluster.get("DestinationRule", namespace, "ratings")["metadata"]["uid"]

    rerun = _scenario("fault-delay", namespace, old_cluster.kubeconfig)
    assert not rerun.failed, rerun.proc.stdout[-3000:]
    assert_conforms(old_cluster, namespace, "fault-delay", legacy=True)
    for obj in old_cluster.list("VirtualService", namespace):
        names = [r.get("name") for r in obj["spec"]["http"]]
        assert len(names) == len(set(names)), "duplicated routes in %s: %s" % (obj["metadata"]["name"], names)
    after = dict(((o["kind"], o["metadata"]["name"]), o["metadata"]["uid"])
                 for kind in ("VirtualService", "DestinationRule") for o in old_cluster.list(kind, namespace))
    before[("DestinationRule", "ratings")] = created
    assert after == before, "objects were lost or replaced"
    assert _scenario("fault-delay", namespace, old_cluster.kubeconfig).changed == 0
