# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A local stand-in for the Container Service (ACK) and Service Mesh (ASM) OpenAPI.

It answers the few calls the collection makes the way the real endpoints do
(paths, parameters, JSON shapes, error bodies), checks the ACS3-HMAC-SHA256
signature of every request with the secret it knows, and records what it got,
so tests can drive the real SDKs over HTTP on 127.0.0.1.

Run it by hand for a demo: ``python fake_openapi.py --port 8080``.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

ACCESS_KEY_ID = "LTAI5tFakeAccessKeyId01"
ACCESS_KEY_SECRET = "fakeSecretDoNotLeak0123456789abcd"
SECURITY_TOKEN = "CAISfakeStsTokenDoNotLeak0123456789"

_ACS3 = "ACS3-HMAC-SHA256"


def _random_b64(size=48):
    return base64.b64encode(os.urandom(size)).decode("ascii")


def _pem_b64(label):
    body = base64.b64encode(os.urandom(96)).decode("ascii")
    pem = "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, body, label)
    return base64.b64encode(pem.encode("ascii")).decode("ascii")


def _expiry(minutes):
    moment = datetime.now(timezone.utc) + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def cluster_kubeconfig(cluster_id, server, user="272384733372837", client_cert=None, client_key=None):
    """A kubeconfig shaped like the ones ACK hands out (client certificate auth)."""
    return (
        "apiVersion: v1\n"
        "clusters:\n"
        "- cluster:\n"
        "    server: %(server)s\n"
        "    certificate-authority-data: %(ca)s\n"
        "  name: kubernetes\n"
        "contexts:\n"
        "- context:\n"
        "    cluster: kubernetes\n"
        "    user: \"%(user)s\"\n"
        "  name: %(user)s-%(cluster)s\n"
        "current-context: %(user)s-%(cluster)s\n"
        "kind: Config\n"
        "preferences: {}\n"
        "users:\n"
        "- name: \"%(user)s\"\n"
        "  user:\n"
        "    client-certificate-data: %(cert)s\n"
        "    client-key-data: %(key)s\n"
    ) % dict(server=server, ca=_pem_b64("CERTIFICATE"), user=user, cluster=cluster_id,
             cert=client_cert or _pem_b64("CERTIFICATE"), key=client_key or _pem_b64("RSA PRIVATE KEY"))


def mesh_kubeconfig(mesh_id, server, token):
    """A kubeconfig shaped like the ones ASM hands out for its control plane."""
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        "- name: %(mesh)s\n"
        "  cluster:\n"
        "    server: %(server)s\n"
        "    certificate-authority-data: %(ca)s\n"
        "users:\n"
        "- name: asm-%(mesh)s\n"
        "  user:\n"
        "    token: %(token)s\n"
        "contexts:\n"
        "- name: asm-%(mesh)s\n"
        "  context:\n"
        "    cluster: %(mesh)s\n"
        "    user: asm-%(mesh)s\n"
        "current-context: asm-%(mesh)s\n"
    ) % dict(mesh=mesh_id, server=server, ca=_pem_b64("CERTIFICATE"), token=token)


class Recorded:
    """One request as the server saw it."""

    def __init__(self, method, path, query, headers, body, action, request_id):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.action = action
        self.request_id = request_id

    def __repr__(self):
        return "Recorded(%s %s %s %r)" % (self.action, self.method, self.path, self.query)


class _Fault:
    def __init__(self, action, status, code, message, times, headers):
        self.action = action
        self.status = status
        self.code = code
        self.message = message
        self.times = times
        self.headers = headers or {}


class FakeOpenAPI:
    """State of the fake cloud plus the HTTP server that serves it."""

    def __init__(self, credentials=None):
        # access key id -> (secret, security token or None)
        self.credentials = dict(credentials or {ACCESS_KEY_ID: (ACCESS_KEY_SECRET, None)})
        self.clusters = []
        self.cluster_kubeconfigs = {}
        self.mesh_kubeconfigs = {}
        self.requests = []
        self._faults = []
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    # ---- state -----------------------------------------------------------

    def add_cluster(self, cluster_id, name, region="cn-hangzhou", state="running", cluster_type="ManagedKubernetes",
                    version="1.30.1-aliyun.1", tags=None, **extra):
        record = dict(
            cluster_id=cluster_id, name=name, region_id=region, state=state, cluster_type=cluster_type,
            current_version=version, init_version=version, cluster_spec="ack.pro.small", profile="Default",
            vpc_id="vpc-bp1fake", size=3, created="2024-05-01T10:00:00+08:00",
            tags=[{"key": k, "value": v} for k, v in (tags or {}).items()],
        )
        record.update(extra)
        self.clusters.append(record)
        self.cluster_kubeconfigs[cluster_id] = {
            False: cluster_kubeconfig(cluster_id, "https://47.96.1.%d:6443" % len(self.clusters)),
            True: cluster_kubeconfig(cluster_id, "https://192.168.0.%d:6443" % len(self.clusters)),
        }
        return record

    def add_mesh(self, mesh_id, token=None):
        token = token or "eyJhbGciOiJSUzI1NiJ9.%s.sig" % _random_b64(24).replace("/", "_").replace("+", "-")
        self.mesh_kubeconfigs[mesh_id] = {
            False: mesh_kubeconfig(mesh_id, "https://121.40.2.3:6443", token),
            True: mesh_kubeconfig(mesh_id, "https://192.168.10.3:6443", token),
        }
        return token

    def fail(self, action, status, code, message, times=1, headers=None):
        """Answer the next ``times`` calls of ``action`` with an error."""
        self._faults.append(_Fault(action, status, code, message, times, headers))

    def calls(self, action):
        return [r for r in self.requests if r.action == action]

    # ---- server ----------------------------------------------------------

    def start(self, port=0):
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-openapi",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    @property
    def endpoint(self):
        return "127.0.0.1:%d" % self._server.server_address[1]

    # ---- request handling ------------------------------------------------

    def _take_fault(self, action):
        with self._lock:
            for fault in self._faults:
                if fault.action == action and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def handle(self, method, raw_path, headers, body):
        split = urlsplit(raw_path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded") and body:
            query.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        action = headers.get("x-acs-action") or query.get("Action")
        request_id = str(uuid.uuid4()).upper()
        with self._lock:
            self.requests.append(Recorded(method, split.path, query, headers, body, action, request_id))
        rpc = split.path == "/"

        problem = self._check_signature(method, split, headers, body)
        if problem:
            return self._error(rpc, request_id, *problem)
        fault = self._take_fault(action)
        if fault:
            return self._error(rpc, request_id, fault.status, fault.code, fault.message, fault.headers)

        if method == "GET" and action == "DescribeClusterUserKubeconfig":
            match = re.match(r"^/k8s/([^/]+)/user_config$", split.path)
            if match:
                return self._cluster_kubeconfig(match.group(1), query, request_id)
        if method == "GET" and action == "DescribeClustersV1" and split.path == "/api/v1/clusters":
            return self._clusters(query, request_id)
        if rpc and action == "DescribeServiceMeshKubeconfig":
            return self._mesh_kubeconfig(query, request_id)
        return self._error(rpc, request_id, 404, "InvalidAction.NotFound",
                           "Specified api is not found, please check your url and method.")

    def _check_signature(self, method, split, headers, body):
        auth = headers.get("authorization", "")
        match = re.match(r"^%s Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]+)$" % _ACS3, auth)
        if not match:
            return 400, "IncompleteSignature", "The request signature does not conform to Aliyun standards."
        key_id, signed, signature = match.groups()
        if key_id not in self.credentials:
            return 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        secret, token = self.credentials[key_id]
        if token is not None and headers.get("x-acs-security-token") != token:
            return 400, "InvalidSecurityToken.Mismatch", "Specified SecurityToken mismatch with the AccessKey."
        payload = hashlib.sha256(body or b"").hexdigest()
        if headers.get("x-acs-content-sha256") != payload:
            return 400, "IncompleteSignature", "The payload hash does not match x-acs-content-sha256."
        query = sorted(parse_qsl(split.query, keep_blank_values=True))
        canonical_query = "&".join("%s=%s" % (k, quote(v, safe="~")) for k, v in query)
        names = signed.split(";")
        canonical_headers = "".join("%s:%s\n" % (n, headers.get(n, "").strip()) for n in names)
        canonical = "\n".join([method, split.path, canonical_query, canonical_headers, signed, payload])
        to_sign = "%s\n%s" % (_ACS3, hashlib.sha256(canonical.encode("utf-8")).hexdigest())
        expected = hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return 400, "SignatureDoesNotMatch", "Specified signature does not match our calculation."
        return None

    def _cluster_kubeconfig(self, cluster_id, query, request_id):
        if cluster_id not in self.cluster_kubeconfigs:
            return self._error(False, request_id, 404, "ErrorClusterNotFound",
                               "cluster %s not found." % cluster_id)
        private = query.get("PrivateIpAddress", "").lower() == "true"
        minutes = query.get("TemporaryDurationMinutes")
        if minutes:
            # A temporary kubeconfig carries a freshly issued client certificate every time.
            server = self.cluster_kubeconfigs[cluster_id][private].split("server: ", 1)[1].split("\n", 1)[0]
            config = cluster_kubeconfig(cluster_id, server)
            expiration = _expiry(int(minutes))
        else:
            config = self.cluster_kubeconfigs[cluster_id][private]
            expiration = _expiry(3 * 365 * 24 * 60)
        return 200, {"x-acs-request-id": request_id}, {"config": config, "expiration": expiration}

    def _clusters(self, query, request_id):
        found = self.clusters
        if query.get("region_id"):
            found = [c for c in found if c["region_id"] == query["region_id"]]
        if query.get("name"):
            found = [c for c in found if query["name"] in c["name"]]
        if query.get("cluster_type"):
            found = [c for c in found if c["cluster_type"] == query["cluster_type"]]
        size = int(query.get("page_size") or 10)
        number = int(query.get("page_number") or 1)
        page = found[(number - 1) * size:number * size]
        body = {"clusters": page,
                "page_info": {"page_number": number, "page_size": size, "total_count": len(found)}}
        return 200, {"x-acs-request-id": request_id}, body

    def _mesh_kubeconfig(self, query, request_id):
        mesh_id = query.get("ServiceMeshId")
        if mesh_id not in self.mesh_kubeconfigs:
            return self._error(True, request_id, 404, "ServiceMesh.NotFound",
                               "The specified service mesh %s does not exist." % mesh_id)
        private = query.get("PrivateIpAddress", "").lower() == "true"
        return 200, {}, {"RequestId": request_id, "Kubeconfig": self.mesh_kubeconfigs[mesh_id][private],
                         "ExpireTime": _expiry(3 * 365 * 24 * 60)}

    @staticmethod
    def _error(rpc, request_id, status, code, message, headers=None):
        if rpc:
            body = {"RequestId": request_id, "HostId": "servicemesh.aliyuncs.com", "Code": code,
                    "Message": message, "Recommend": "https://api.aliyun.com/troubleshoot?q=%s" % code}
        else:
            body = {"requestId": request_id, "code": code, "message": message, "status": status}
        out = {"x-acs-request-id": request_id}
        out.update(headers or {})
        return status, out, body


def _make_handler(fake):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra_headers, payload = fake.handle(self.command, self.path, headers, body)
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra_headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, *args):
            pass

    return Handler


def main():
    import argparse
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = FakeOpenAPI()
    fake.add_cluster("c1a2b3c4d5e6f7", "demo", tags={"env": "dev"})
    fake.add_mesh("m1a2b3c4d5e6f7")
    fake.start(args.port)
    print("endpoint=%s access_key_id=%s access_key_secret=%s" % (fake.endpoint, ACCESS_KEY_ID, ACCESS_KEY_SECRET))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
