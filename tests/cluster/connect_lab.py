"""A loopback TLS server that records what each request carried, and a real forward proxy (tinyproxy).

The connection battery (test_connect.py) points kubeconfigs at these to see exactly which credentials,
TLS name, client certificate and impersonation headers arrive, and whether a request went through the proxy.
"""

import base64
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ansible_run import ROOT

import sys

sys.path.insert(0, os.path.join(ROOT, "tests"))

from testenv import pki  # noqa: E402

SERVER_NAME = "apiserver.internal"  # only in the certificate served for this SNI name: tests tls-server-name
LAB_NAMES = ("localhost", "vm")  # /etc/hosts maps vm to 127.0.0.1: a loopback name Go's env proxy rules use
VERSION = {"major": "1", "minor": "34", "gitVersion": "v1.34.4", "gitCommit": "lab", "gitTreeState": "clean",
           "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25", "compiler": "gc", "platform": "linux/amd64"}


def exec_runner():
    """The runner a module gives the client for exec credential plugins: AnsibleModule.run_command itself."""
    from ansible.module_utils.basic import AnsibleModule
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import client
    with patch_module_args({}):
        module = AnsibleModule(argument_spec={})
    return client.exec_runner(module)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Pki:
    """A CA, the lab's two server certificates and a client certificate (CN alice, O devs)."""

    def __init__(self, directory):
        self.directory = directory
        self.ca_key, self.ca_cert = pki.make_ca("connect-lab-ca")
        self.ca_pem = pki.cert_pem(self.ca_cert).decode()
        self.ca_file = self._write("ca.crt", pki.cert_pem(self.ca_cert))
        key, cert = pki.issue(self.ca_key, self.ca_cert, "lab", dns_names=LAB_NAMES, ip_addresses=["127.0.0.1"])
        self.server_cert, self.server_key = self._pair("server", key, cert)
        key, cert = pki.issue(self.ca_key, self.ca_cert, "named", dns_names=[SERVER_NAME])
        self.named_cert, self.named_key = self._pair("named", key, cert)
        self.client_cert, self.client_key = self.client("alice", ["devs"])
        other_key, other_ca = pki.make_ca("someone-else")
        self.other_ca_file = self._write("other-ca.crt", pki.cert_pem(other_ca))

    def client(self, name, groups=()):
        key, cert = pki.issue(self.ca_key, self.ca_cert, name, organizations=groups)
        return self._pair("client-" + name, key, cert)

    def _pair(self, name, key, cert):
        return self._write(name + ".crt", pki.cert_pem(cert)), self._write(name + ".key", pki.key_pem(key))

    def _write(self, name, data):
        path = os.path.join(self.directory, name)
        pki.write_private(path, data)
        return path

    @staticmethod
    def data(path):
        with open(path, "rb") as handle:
            return base64.b64encode(handle.read()).decode("ascii")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        conn = self.connection
        peer = conn.getpeercert() if isinstance(conn, ssl.SSLSocket) else None
        subject = dict(item[0] for item in (peer or {}).get("subject", ()))
        self.server.records.append({
            "path": self.path,
            "headers": list(self.headers.items()),
            "sni": getattr(conn, "lab_sni", None),
            "cert_cn": subject.get("commonName"),
            "cert_o": subject.get("organizationName"),
        })
        if self.path.endswith("/unauthorized"):
            status, body = 401, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                 "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
        else:
            status, body = 200, VERSION
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class RecordingServer:
    """HTTPS on 127.0.0.1 that asks for (but does not require) a client certificate and records each request."""

    def __init__(self, lab_pki):
        self.port = free_port()
        default = self._context(lab_pki, lab_pki.server_cert, lab_pki.server_key)
        named = self._context(lab_pki, lab_pki.named_cert, lab_pki.named_key)

        def pick(sock, name, _context):
            sock.lab_sni = name
            if name == SERVER_NAME:
                sock.context = named

        default.sni_callback = pick
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = default.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.records = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def _context(lab_pki, cert, key):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.load_verify_locations(lab_pki.ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
        return context

    @property
    def records(self):
        return self.httpd.records

    def url(self, host="127.0.0.1", path=""):
        return "https://%s:%d%s" % (host, self.port, path)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def tinyproxy_binary():
    for path in (shutil.which("tinyproxy"), "/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"):
        if path and os.path.exists(path):
            return path
    raise AssertionError("tinyproxy is not installed: run `make proxy-tools` (apt-get install tinyproxy)")


class Tinyproxy:
    """A real forward proxy on 127.0.0.1; its log tells which CONNECT tunnels it opened."""

    def __init__(self, directory, basic_auth=None):
        self.port = free_port()
        self.log = os.path.join(directory, "tinyproxy-%d.log" % self.port)
        conf = os.path.join(directory, "tinyproxy-%d.conf" % self.port)
        lines = ["Port %d" % self.port, "Listen 127.0.0.1", "Timeout 60", "LogFile \"%s\"" % self.log,
                 "LogLevel Info", "MaxClients 20", "Allow 127.0.0.1"]
        if basic_auth:
            lines.append("BasicAuth %s %s" % basic_auth)
        with open(conf, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        self.process = subprocess.Popen([tinyproxy_binary(), "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise AssertionError("tinyproxy did not start on port %d" % self.port)

    def url(self, credentials=None):
        return "http://%s127.0.0.1:%d" % (credentials + "@" if credentials else "", self.port)

    def tunnels(self):
        """The CONNECT requests the proxy received, as host:port strings."""
        if not os.path.exists(self.log):
            return []
        with open(self.log) as handle:
            return re.findall(r"Request \(file descriptor \d+\): CONNECT (\S+)", handle.read())

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
