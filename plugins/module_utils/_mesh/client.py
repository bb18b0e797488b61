# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Authentication and a small REST client for the Kubernetes API.

The collection talks to the API server with the standard library only: no
client library to import on every task, one keep-alive connection per module
run, and the exact request shapes (dry runs, preconditions, field validation)
that the service layer needs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import random
import socket
import ssl
import subprocess
import tempfile
import time

try:
    from urllib.parse import urlencode, urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported, but sanity imports it
    from urllib import urlencode  # type: ignore
    from urlparse import urlsplit  # type: ignore

try:
    import http.client as http_client
except ImportError:  # pragma: no cover
    import httplib as http_client  # type: ignore

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML
    HAS_YAML = False

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

IN_CLUSTER_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
RETRIABLE_STATUS = frozenset([429, 500, 502, 503, 504])
CONNECTION_ERRORS = (ConnectionError, socket.timeout, http_client.HTTPException, ssl.SSLEOFError, OSError)


class Settings:
    """Where the API server is and how to prove who we are."""

    def __init__(self):
        self.server = None
        self.token = None
        self.ca_file = None
        self.ca_data = None
        self.cert_file = None
        self.key_file = None
        self.cert_data = None
        self.key_data = None
        self.verify = True
        self.namespace = None
        self.user = None
        self.source = None


def _b64(text):
    return base64.b64decode(text).decode("utf-8")


def _resolve(base_dir, path):
    if path and not os.path.isabs(path):
        return os.path.join(base_dir, path)
    return path


def _pick(items, name, what, kubeconfig):
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            return item.get(what.rstrip("s")) or {}
    raise MeshError("%s %r is not defined in the kubeconfig" % (what.rstrip("s"), name),
                    field="context", value=name, kubeconfig=kubeconfig)


def _run_exec_plugin(spec, kubeconfig):
    """Run a client-go credential plugin (users[].user.exec) and return its status."""
    command = [spec.get("command")] + list(spec.get("args") or [])
    env = dict(os.environ)
    for item in spec.get("env") or []:
        env[item["name"]] = item["value"]
    try:
        out = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise MeshError("the kubeconfig's exec credential plugin %r failed: %s" % (command[0], exc),
                        kubeconfig=kubeconfig)
    try:
        return json.loads(out.stdout.decode("utf-8")).get("status") or {}
    except ValueError:
        raise MeshError("the kubeconfig's exec credential plugin %r did not print an ExecCredential" % command[0])


def load_kubeconfig(path, context=None, settings=None):
    """Fill Settings from a kubeconfig file; errors name the option and the value."""
    settings = settings or Settings()
    if not HAS_YAML:
        raise MeshError("PyYAML is required to read a kubeconfig")
    if not os.path.isfile(path):
        raise MeshError("the kubeconfig file does not exist", field="kubeconfig", value=path)
    try:
        with open(path, "rb") as handle:
            config = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise MeshError("cannot read the kubeconfig: %s" % exc, field="kubeconfig", value=path)
    if not isinstance(config, dict):
        raise MeshError("the kubeconfig is not a mapping", field="kubeconfig", value=path)
    base_dir = os.path.dirname(os.path.abspath(path))
    context_name = context or config.get("current-context")
    if not context_name:
        raise MeshError("the kubeconfig has no current-context; set the context option", field="kubeconfig", value=path)
    ctx = _pick(config.get("contexts"), context_name, "contexts", path)
    cluster = _pick(config.get("clusters"), ctx.get("cluster"), "clusters", path)
    user = _pick(config.get("users"), ctx.get("user"), "users", path) if ctx.get("user") else {}

    settings.server = settings.server or cluster.get("server")
    settings.namespace = ctx.get("namespace")
    settings.user = ctx.get("user")
    settings.source = "kubeconfig %s (context %s)" % (path, context_name)
    if cluster.get("insecure-skip-tls-verify"):
        settings.verify = False
    if cluster.get("certificate-authority-data"):
        settings.ca_data = _b64(cluster["certificate-authority-data"])
    elif cluster.get("certificate-authority"):
        settings.ca_file = _resolve(base_dir, cluster["certificate-authority"])
    if user.get("token"):
        settings.token = user["token"]
    elif user.get("tokenFile"):
        with open(_resolve(base_dir, user["tokenFile"])) as handle:
            settings.token = handle.read().strip()
    if user.get("client-certificate-data"):
        settings.cert_data = _b64(user["client-certificate-data"])
    elif user.get("client-certificate"):
        settings.cert_file = _resolve(base_dir, user["client-certificate"])
    if user.get("client-key-data"):
        settings.key_data = _b64(user["client-key-data"])
    elif user.get("client-key"):
        settings.key_file = _resolve(base_dir, user["client-key"])
    if user.get("exec"):
        status = _run_exec_plugin(user["exec"], path)
        settings.token = status.get("token") or settings.token
        settings.cert_data = status.get("clientCertificateData") or settings.cert_data
        settings.key_data = status.get("clientKeyData") or settings.key_data
    return settings


def settings_from_params(params):
    """Build Settings from module options, then the kubeconfig, then in-cluster."""
    settings = Settings()
    kubeconfig = params.get("kubeconfig")
    host = params.get("server")
    if not kubeconfig and not host:
        env_path = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        default_path = os.path.expanduser("~/.kube/config")
        if env_path:
            kubeconfig = env_path
        elif os.path.isfile(default_path):
            kubeconfig = default_path
        elif os.environ.get("KUBERNETES_SERVICE_HOST") and os.path.isdir(IN_CLUSTER_DIR):
            settings.server = "https://%s:%s" % (os.environ["KUBERNETES_SERVICE_HOST"],
                                                 os.environ.get("KUBERNETES_SERVICE_PORT", "443"))
            with open(os.path.join(IN_CLUSTER_DIR, "token")) as handle:
                settings.token = handle.read().strip()
            settings.ca_file = os.path.join(IN_CLUSTER_DIR, "ca.crt")
            with open(os.path.join(IN_CLUSTER_DIR, "namespace")) as handle:
                settings.namespace = handle.read().strip()
            settings.source = "in-cluster service account"
        else:
            raise MeshError("no cluster to talk to: set kubeconfig or server (or K8S_AUTH_KUBECONFIG / K8S_AUTH_HOST)")
    if kubeconfig:
        load_kubeconfig(kubeconfig, params.get("context"), settings)
    if host:
        settings.server = host
        settings.source = settings.source or "server %s" % host
    if params.get("api_key"):
        settings.token = params["api_key"]
    if params.get("ca_cert"):
        settings.ca_file, settings.ca_data = params["ca_cert"], None
    if params.get("client_cert"):
        settings.cert_file, settings.cert_data = params["client_cert"], None
    if params.get("client_key"):
        settings.key_file, settings.key_data = params["client_key"], None
    if params.get("validate_certs") is False:
        settings.verify = False
    for option, path in (("ca_cert", settings.ca_file), ("client_cert", settings.cert_file),
                         ("client_key", settings.key_file)):
        if path and not os.path.isfile(path):
            raise MeshError("the file does not exist", field=option, value=path)
    if not settings.server:
        raise MeshError("the cluster has no server address", field="server", value=host)
    parts = urlsplit(settings.server)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise MeshError("must be an http(s) URL", field="server", value=settings.server)
    return settings


def _load_chain(context, cert_file, key_file, cert_data, key_data):
    """ssl only loads client certificates from files: write inline data to private temp files."""
    created = []
    try:
        if cert_data:
            cert_file = _private_temp(cert_data)
            created.append(cert_file)
        if key_data:
            key_file = _private_temp(key_data)
            created.append(key_file)
        context.load_cert_chain(cert_file, key_file)
    except ssl.SSLError as exc:
        raise MeshError("cannot load the client certificate and key: %s" % exc)
    finally:
        for path in created:
            os.unlink(path)


def _private_temp(data):
    handle, path = tempfile.mkstemp(prefix="ack-servicemesh-", suffix=".pem")
    with os.fdopen(handle, "w") as out:
        out.write(data)
    return path


class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        if not self.body:
            return {}
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return {"message": self.body.decode("utf-8", "replace")[:500]}


class Client:
    """One keep-alive connection to the API server, with retries in one place."""

    def __init__(self, settings, timeout=30, retries=5, backoff_base=0.25, backoff_cap=8.0, sleep=time.sleep):
        self.settings = settings
        self.timeout = timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sleep = sleep
        self.requests_made = 0
        parts = urlsplit(settings.server)
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        self._conn = None
        self._ssl = self._ssl_context() if parts.scheme == "https" else None

    def _ssl_context(self):
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file, cadata=s.ca_data)
        if not s.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if s.cert_file or s.cert_data:
            _load_chain(context, s.cert_file, s.key_file, s.cert_data, s.key_data)
        return context

    def _connect(self):
        if self._scheme == "https":
            return http_client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=self._ssl)
        return http_client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send_once(self, method, url, payload, headers):
        if self._conn is None:
            self._conn = self._connect()
        reused = self.requests_made > 0
        try:
            self._conn.request(method, url, body=payload, headers=headers)
            raw = self._conn.getresponse()
            body = raw.read()
        except (http_client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # A kept-alive connection the server closed while idle: reconnect once, not a retry.
            self.close()
            if not reused:
                raise
            self._conn = self._connect()
            self._conn.request(method, url, body=payload, headers=headers)
            raw = self._conn.getresponse()
            body = raw.read()
        finally:
            self.requests_made += 1
        return Response(raw.status, body, dict((k.lower(), v) for k, v in raw.getheaders()))

    def _delay(self, attempt, response=None):
        if response is not None:
            retry_after = response.headers.get("retry-after")
            if retry_after and retry_after.strip().isascii() and retry_after.strip().isdigit():
                return min(float(retry_after), self.backoff_cap * 4)
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** attempt))
        return random.uniform(ceiling / 2, ceiling)

    def request(self, method, path, query=None, body=None, content_type="application/json"):
        """Send one API request; retry 429, 5xx and connection errors; return a Response."""
        url = self._prefix + path
        if query:
            url += "?" + urlencode([(k, v) for k, v in query.items() if v is not None])
        headers = {"Accept": "application/json", "User-Agent": "ack.servicemesh"}
        payload = None
        if body is not None:
            payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = content_type
        if self.settings.token:
            headers["Authorization"] = "Bearer %s" % self.settings.token
        attempt = 0
        while True:
            try:
                response = self._send_once(method, url, payload, headers)
            except ssl.SSLCertVerificationError as exc:
                self.close()
                raise MeshError("TLS verification of the API server at %s failed: %s; give the cluster's CA with "
                                "ca_cert (or, for a throwaway cluster only, validate_certs=false)"
                                % (self.settings.server, exc.verify_message or exc), reason="TLSVerificationFailed")
            except CONNECTION_ERRORS as exc:
                self.close()
                if attempt >= self.retries:
                    raise MeshError("cannot reach the Kubernetes API server at %s: %s" % (self.settings.server, exc),
                                    reason="Unreachable", server=self.settings.server)
                self.sleep(self._delay(attempt))
                attempt += 1
                continue
            if response.status in RETRIABLE_STATUS and attempt < self.retries:
                self.sleep(self._delay(attempt, response))
                attempt += 1
                continue
            return response
