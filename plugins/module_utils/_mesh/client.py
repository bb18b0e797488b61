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
run (a few more only while requests run at the same time), and the exact
request shapes (dry runs, preconditions, field validation) that the service
layer needs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import random
import socket
import ssl
import tempfile
import threading
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

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

IN_CLUSTER_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
RETRIABLE_STATUS = frozenset([429, 500, 502, 503, 504])
CONNECTION_ERRORS = (ConnectionError, socket.timeout, http_client.HTTPException, ssl.SSLEOFError, OSError)
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
# kubeconfig entries whose relative file paths client-go resolves against the file that defines them.
_CLUSTER_PATHS = ("certificate-authority",)
_USER_PATHS = ("client-certificate", "client-key", "tokenFile")


class Settings:
    """Where the API server is, how to reach it and how to prove who we are."""

    def __init__(self):
        self.server = None
        self.tls_server_name = None
        self.token = None
        self.username = None
        self.password = None
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
        self.credential = None
        self.proxy = None
        self.proxy_source = None
        self.no_proxy = None
        self.proxy_headers = {}
        self.impersonate_user = None
        self.impersonate_uid = None
        self.impersonate_groups = []
        self.impersonate_extra = {}
        # How an exec credential plugin is run: ``run_command(argv, environ_update)`` returning
        # ``(rc, stdout, stderr)`` as text, raising OSError when the command cannot start. Inside a module it is
        # AnsibleModule.run_command (see module.py); without one, a kubeconfig with an exec user cannot be used.
        self.run_command = None

    def describe(self):
        """Who we are to the API server and where that came from, for error messages (never the secret)."""
        parts = ["credentials: %s" % (self.credential or "none (anonymous)")]
        if self.impersonate_user:
            parts.append("impersonating %r" % self.impersonate_user)
        if self.source:
            parts.append("from %s" % self.source)
        return "; ".join(parts)


def _b64(text, field=None, kubeconfig=None):
    try:
        return base64.b64decode(text).decode("utf-8")
    except (TypeError, ValueError) as exc:
        raise MeshError("is not base64-encoded PEM data (%s)" % exc, field=field, value="<%d characters>" % len(text),
                        kubeconfig=kubeconfig)


def _resolve(base_dir, path):
    if path and not os.path.isabs(path):
        return os.path.join(base_dir, path)
    return path


def kubeconfig_paths(value):
    """Split a KUBECONFIG-style list (``a:b``) into expanded paths, empty entries dropped."""
    if isinstance(value, (list, tuple)):
        items = value
    else:
        items = str(value).split(os.pathsep)
    return [os.path.expanduser(os.path.expandvars(item)) for item in items if item]


def _read_kubeconfig(path):
    # PyYAML costs a third of the client's import time; runs given server and token never read a file.
    try:
        import yaml
    except ImportError:  # pragma: no cover - ansible-core depends on PyYAML
        raise MeshError("PyYAML is required to read a kubeconfig file", field="kubeconfig", value=path)
    try:
        with open(path, "rb") as handle:
            config = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise MeshError("cannot read the kubeconfig: %s" % exc, field="kubeconfig", value=path)
    if not isinstance(config, dict):
        raise MeshError("the kubeconfig is not a mapping", field="kubeconfig", value=path)
    return config


def _named(config, section, path):
    """{name: entry} of one section, relative file paths resolved against the file's own directory."""
    base_dir = os.path.dirname(os.path.abspath(path))
    what = section.rstrip("s")
    entries = {}
    for item in config.get(section) or []:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        entry = dict(item.get(what) or {})
        if section == "clusters":
            for key in _CLUSTER_PATHS:
                entry[key] = _resolve(base_dir, entry.get(key))
        elif section == "users":
            for key in _USER_PATHS:
                entry[key] = _resolve(base_dir, entry.get(key))
            if isinstance(entry.get("exec"), dict):
                command = entry["exec"].get("command") or ""
                if os.sep in command:
                    # client-go: a command with a path separator is relative to the kubeconfig, not the cwd.
                    entry["exec"] = dict(entry["exec"], command=_resolve(base_dir, command))
        entry["_file"] = path
        entries.setdefault(item["name"], entry)
    return entries


def merge_kubeconfigs(paths, required=False):
    """Read every file of a KUBECONFIG list and merge them as client-go does: the first file that defines
    a cluster, user or context (or current-context) wins; missing files are skipped."""
    merged = {"clusters": {}, "users": {}, "contexts": {}, "current-context": None, "files": []}
    for path in paths:
        if not os.path.isfile(path):
            if required:
                raise MeshError("the kubeconfig file does not exist", field="kubeconfig", value=path)
            continue
        config = _read_kubeconfig(path)
        merged["files"].append(path)
        for section in ("clusters", "users", "contexts"):
            for name, entry in _named(config, section, path).items():
                merged[section].setdefault(name, entry)
        if not merged["current-context"] and config.get("current-context"):
            merged["current-context"] = config["current-context"]
    return merged


def _pick(merged, section, name, where):
    entry = merged[section].get(name)
    if entry is None:
        raise MeshError("%s %r is not defined in the kubeconfig (%s)" % (section.rstrip("s"), name, where),
                        field="context" if section == "contexts" else "kubeconfig", value=name,
                        kubeconfig=":".join(merged["files"]))
    return entry


def _exec_info(spec, cluster, interactive):
    """The ExecCredential client-go hands a plugin in KUBERNETES_EXEC_INFO."""
    info = {"apiVersion": spec.get("apiVersion"), "kind": "ExecCredential", "spec": {"interactive": interactive}}
    if spec.get("provideClusterInfo"):
        ca_data = cluster.get("certificate-authority-data")
        if not ca_data and cluster.get("certificate-authority"):
            with open(cluster["certificate-authority"], "rb") as handle:
                ca_data = base64.b64encode(handle.read()).decode("ascii")
        described = {"server": cluster.get("server")}
        for key in ("tls-server-name", "insecure-skip-tls-verify", "proxy-url", "disable-compression"):
            if cluster.get(key):
                described[key] = cluster[key]
        if ca_data:
            described["certificate-authority-data"] = ca_data
        extension = [e.get("extension") for e in cluster.get("extensions") or []
                     if isinstance(e, dict) and e.get("name") == "client.authentication.k8s.io/exec"]
        if extension:
            described["config"] = extension[0]
        info["spec"]["cluster"] = described
    return info


def exec_runner(module):
    """A `Settings.run_command` from an AnsibleModule: argv as given, with no ``~`` or ``$VAR`` expansion (as
    client-go runs a plugin), the kubeconfig's env on top of ours, and an OSError raised (not a failed task) when
    the command cannot start, so the error can name the kubeconfig. Like client-go, no time limit of its own: the
    task's ``timeout`` keyword bounds a plugin that hangs."""
    def run(argv, environ_update):
        return module.run_command(argv, environ_update=environ_update, expand_user_and_vars=False,
                                  handle_exceptions=False)
    return run


def run_exec_plugin(spec, cluster, kubeconfig, run_command=None):
    """Run a client-go credential plugin (users[].user.exec) and return its ExecCredential status."""
    command = spec.get("command")
    api_version = spec.get("apiVersion")
    if not command:
        raise MeshError("the exec credential plugin has no command", field="users[].user.exec.command",
                        value=command, kubeconfig=kubeconfig)
    if api_version not in EXEC_API_VERSIONS:
        raise MeshError("unsupported exec plugin apiVersion; use one of %s" % ", ".join(EXEC_API_VERSIONS),
                        field="users[].user.exec.apiVersion", value=api_version, kubeconfig=kubeconfig)
    mode = spec.get("interactiveMode") or ("IfAvailable" if api_version.endswith("v1beta1") else None)
    if mode not in ("Never", "IfAvailable", "Always"):
        raise MeshError("must be Never, IfAvailable or Always (required for exec apiVersion v1)",
                        field="users[].user.exec.interactiveMode", value=mode, kubeconfig=kubeconfig)
    if mode == "Always":
        # A module has no terminal: a plugin that must prompt would hang or fail without saying why.
        raise MeshError("the exec credential plugin %r needs an interactive terminal (interactiveMode: Always), "
                        "which an Ansible module does not have; log in first or use a non-interactive plugin"
                        % command, field="users[].user.exec.interactiveMode", value=mode, kubeconfig=kubeconfig)
    if run_command is None:
        raise MeshError("the kubeconfig's exec credential plugin %r can only be run from a module (no command runner "
                        "was given)" % command, field="users[].user.exec.command", value=command, kubeconfig=kubeconfig)
    env = {}
    for item in spec.get("env") or []:
        env[item["name"]] = item["value"]
    env["KUBERNETES_EXEC_INFO"] = json.dumps(_exec_info(spec, cluster, False), separators=(",", ":"))
    argv = [command] + list(spec.get("args") or [])
    try:
        returncode, stdout, stderr = run_command(argv, env)
    except OSError as exc:
        hint = " (%s)" % spec["installHint"].strip() if spec.get("installHint") else ""
        raise MeshError("the kubeconfig's exec credential plugin %r could not run: %s%s" % (command, exc, hint),
                        kubeconfig=kubeconfig)
    if returncode != 0:
        stderr = (stderr or "").strip()[-2000:]
        raise MeshError("the kubeconfig's exec credential plugin %r failed with exit code %d: %s"
                        % (command, returncode, stderr or "(no output on stderr)"), kubeconfig=kubeconfig)
    try:
        credential = json.loads(stdout)
    except ValueError:
        raise MeshError("the kubeconfig's exec credential plugin %r did not print an ExecCredential" % command,
                        kubeconfig=kubeconfig)
    if not isinstance(credential, dict) or credential.get("apiVersion") != api_version:
        raise MeshError("the exec credential plugin %r answered apiVersion %r, the kubeconfig asks for %r"
                        % (command, credential.get("apiVersion") if isinstance(credential, dict) else None,
                           api_version), kubeconfig=kubeconfig)
    status = credential.get("status") or {}
    if not (status.get("token") or status.get("clientCertificateData") or status.get("clientKeyData")):
        raise MeshError("the exec credential plugin %r returned no token and no certificate" % command,
                        kubeconfig=kubeconfig)
    if bool(status.get("clientCertificateData")) != bool(status.get("clientKeyData")):
        raise MeshError("the exec credential plugin %r returned a certificate or a key, not both" % command,
                        kubeconfig=kubeconfig)
    return status


def _jwt_expiry(token):
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8"))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def oidc_token(provider, kubeconfig):
    """The id-token of an ``auth-provider: oidc`` user, if it is still valid."""
    config = provider.get("config") or {}
    token = config.get("id-token")
    expiry = _jwt_expiry(token) if token else None
    if token and (expiry is None or expiry > time.time() + 10):
        return token
    state = "has expired" if token else "is missing"
    if config.get("refresh-token") and config.get("idp-issuer-url"):
        raise MeshError("the kubeconfig's oidc id-token %s and refreshing it is not supported by this collection; "
                        "refresh it with kubectl (or kubelogin) first, or switch the user to an exec plugin" % state,
                        field="users[].user.auth-provider.config.id-token", kubeconfig=kubeconfig)
    raise MeshError("the kubeconfig's oidc id-token %s and there is no refresh-token and idp-issuer-url to "
                    "refresh it with" % state, field="users[].user.auth-provider.config.id-token",
                    kubeconfig=kubeconfig)


def _apply_user(settings, user, cluster, where, kubeconfig):
    name = settings.user
    if user.get("token") and user.get("username"):
        raise MeshError("a kubeconfig user may have a token or a username/password, not both",
                        field="users[%s].user" % name, kubeconfig=kubeconfig)
    if user.get("token"):
        settings.token = user["token"]
        settings.credential = "bearer token of kubeconfig user %r" % name
    elif user.get("tokenFile"):
        try:
            with open(user["tokenFile"]) as handle:
                settings.token = handle.read().strip()
        except OSError as exc:
            raise MeshError("cannot read the token file: %s" % exc, field="users[%s].user.tokenFile" % name,
                            value=user["tokenFile"], kubeconfig=kubeconfig)
        settings.credential = "bearer token from file %s (kubeconfig user %r)" % (user["tokenFile"], name)
    if user.get("username") is not None:
        settings.username, settings.password = str(user["username"]), str(user.get("password") or "")
        settings.credential = "basic auth as %r (kubeconfig user %r)" % (settings.username, name)
    if user.get("client-certificate-data"):
        settings.cert_data = _b64(user["client-certificate-data"], "users[%s].user.client-certificate-data" % name,
                                  kubeconfig)
    elif user.get("client-certificate"):
        settings.cert_file = user["client-certificate"]
    if user.get("client-key-data"):
        settings.key_data = _b64(user["client-key-data"], "users[%s].user.client-key-data" % name, kubeconfig)
    elif user.get("client-key"):
        settings.key_file = user["client-key"]
    if bool(settings.cert_file or settings.cert_data) != bool(settings.key_file or settings.key_data):
        raise MeshError("a kubeconfig user needs both a client certificate and its key",
                        field="users[%s].user" % name, kubeconfig=kubeconfig)
    if settings.cert_file or settings.cert_data:
        settings.credential = settings.credential or "client certificate of kubeconfig user %r" % name
    provider = user.get("auth-provider")
    if provider:
        if not isinstance(provider, dict) or provider.get("name") != "oidc":
            raise MeshError("unsupported auth-provider; only oidc is supported (the gcp and azure providers were "
                            "removed from kubectl too: use their exec plugins)",
                            field="users[%s].user.auth-provider.name" % name,
                            value=provider.get("name") if isinstance(provider, dict) else provider,
                            kubeconfig=kubeconfig)
        settings.token = oidc_token(provider, kubeconfig)
        settings.credential = "oidc id-token of kubeconfig user %r" % name
    if user.get("exec"):
        status = run_exec_plugin(user["exec"], cluster, kubeconfig, settings.run_command)
        if status.get("token"):
            settings.token = status["token"]
        if status.get("clientCertificateData"):
            settings.cert_file = settings.key_file = None
            settings.cert_data, settings.key_data = status["clientCertificateData"], status["clientKeyData"]
        settings.credential = "exec plugin %r of kubeconfig user %r" % (user["exec"].get("command"), name)
    if user.get("as"):
        settings.impersonate_user = user["as"]
    if user.get("as-uid"):
        settings.impersonate_uid = user["as-uid"]
    settings.impersonate_groups = list(user.get("as-groups") or [])
    settings.impersonate_extra = dict(user.get("as-user-extra") or {})


def load_kubeconfig(path, context=None, settings=None, required=True):
    """Fill Settings from a kubeconfig (a path, a ``a:b`` list, or the loaded mapping)."""
    settings = settings or Settings()
    if isinstance(path, dict):
        merged = {"clusters": {}, "users": {}, "contexts": {}, "files": ["<kubeconfig option>"],
                  "current-context": path.get("current-context")}
        for section in ("clusters", "users", "contexts"):
            merged[section] = _named(path, section, os.path.join(os.getcwd(), "kubeconfig"))
    else:
        paths = kubeconfig_paths(path)
        merged = merge_kubeconfigs(paths, required=required and len(paths) == 1)
        if not merged["files"]:
            raise MeshError("none of the kubeconfig files exists", field="kubeconfig", value=path)
    kubeconfig = ":".join(merged["files"])
    context_name = context or merged["current-context"]
    if not context_name:
        raise MeshError("the kubeconfig has no current-context; set the context option", field="kubeconfig",
                        value=kubeconfig)
    where = "kubeconfig %s, context %r" % (kubeconfig, context_name)
    ctx = _pick(merged, "contexts", context_name, where)
    cluster = _pick(merged, "clusters", ctx.get("cluster"), where)
    user = _pick(merged, "users", ctx.get("user"), where) if ctx.get("user") else {}
    settings.server = settings.server or cluster.get("server")
    settings.namespace = ctx.get("namespace")
    settings.user = ctx.get("user")
    settings.source = where
    settings.tls_server_name = cluster.get("tls-server-name")
    if cluster.get("proxy-url"):
        settings.proxy, settings.proxy_source = cluster["proxy-url"], "proxy-url of kubeconfig cluster %r" % (
            ctx.get("cluster"))
    if cluster.get("insecure-skip-tls-verify"):
        settings.verify = False
    if cluster.get("certificate-authority-data"):
        settings.ca_data = _b64(cluster["certificate-authority-data"],
                                "clusters[%s].cluster.certificate-authority-data" % ctx.get("cluster"), kubeconfig)
    elif cluster.get("certificate-authority"):
        settings.ca_file = cluster["certificate-authority"]
    _apply_user(settings, user, cluster, where, kubeconfig)
    return settings


def in_cluster_settings(settings=None, directory=None):
    """The pod's service account, as client-go's InClusterConfig reads it."""
    settings = settings or Settings()
    directory = directory or IN_CLUSTER_DIR
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    settings.server = "https://%s:%s" % (host, port)
    token_file = os.path.join(directory, "token")
    try:
        with open(token_file) as handle:
            settings.token = handle.read().strip()
    except OSError as exc:
        raise MeshError("running in a pod, but cannot read the service account token: %s" % exc,
                        field="in-cluster token", value=token_file)
    settings.ca_file = os.path.join(directory, "ca.crt")
    try:
        with open(os.path.join(directory, "namespace")) as handle:
            settings.namespace = handle.read().strip() or "default"
    except OSError:
        settings.namespace = "default"
    settings.source = "in-cluster service account (%s)" % directory
    settings.credential = "service account token from %s" % token_file
    return settings


def _in_cluster_available():
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST") and os.environ.get("KUBERNETES_SERVICE_PORT")
                and os.path.isfile(os.path.join(IN_CLUSTER_DIR, "token")))


def _default_kubeconfig():
    """KUBECONFIG (a list) or ~/.kube/config, as kubectl looks for them; None when neither exists."""
    env_paths = kubeconfig_paths(os.environ.get("KUBECONFIG", ""))
    if env_paths:
        return env_paths if any(os.path.isfile(p) for p in env_paths) else None
    default_path = os.path.expanduser("~/.kube/config")
    return [default_path] if os.path.isfile(default_path) else None


def settings_from_params(params, run_command=None):
    """Settings from module options, a kubeconfig and the pod's service account, in kubernetes.core's order.

    1. ``server`` with a complete credential (token, username/password or certificate and key) is used alone;
    2. else an explicit ``kubeconfig``/``context`` (or K8S_AUTH_KUBECONFIG / K8S_AUTH_CONTEXT) is loaded;
    3. else ``KUBECONFIG`` when set, then the in-cluster service account, then ``~/.kube/config``.
    Options given then override what was loaded, so ``server`` alone only moves the endpoint.
    ``run_command`` runs exec credential plugins (`Settings.run_command`).
    """
    settings = Settings()
    settings.run_command = run_command
    host = params.get("server")
    complete = bool(params.get("api_key") or (params.get("username") and params.get("password"))
                    or (params.get("client_cert") and params.get("client_key")))
    if host and complete:
        settings.source = "module options (server %s)" % host
    elif params.get("kubeconfig") or params.get("context"):
        load_kubeconfig(params.get("kubeconfig") or _default_kubeconfig() or os.path.expanduser("~/.kube/config"),
                        params.get("context"), settings)
    elif os.environ.get("KUBECONFIG") and _default_kubeconfig():
        load_kubeconfig(_default_kubeconfig(), None, settings, required=False)
    elif _in_cluster_available():
        in_cluster_settings(settings)
    elif _default_kubeconfig():
        load_kubeconfig(_default_kubeconfig(), None, settings)
    elif not host:
        raise MeshError("no cluster to talk to: set kubeconfig or server (or K8S_AUTH_KUBECONFIG / K8S_AUTH_HOST); "
                        "no KUBECONFIG, ~/.kube/config or in-cluster service account was found")
    _apply_options(settings, params)
    return settings


def _apply_options(settings, params):
    host = params.get("server")
    if host:
        settings.server = host.rstrip("/")
        settings.source = settings.source or "module options (server %s)" % host
    if params.get("api_key"):
        settings.token, settings.username, settings.password = params["api_key"], None, None
        settings.credential = "bearer token from the api_key option"
    if params.get("username"):
        settings.token = None
        settings.username, settings.password = params["username"], params.get("password") or ""
        settings.credential = "basic auth as %r from the username option" % params["username"]
    if params.get("ca_cert"):
        settings.ca_file, settings.ca_data = params["ca_cert"], None
    if params.get("client_cert"):
        settings.cert_file, settings.cert_data = params["client_cert"], None
        settings.credential = settings.credential or "client certificate %s" % params["client_cert"]
    if params.get("client_key"):
        settings.key_file, settings.key_data = params["client_key"], None
    if params.get("validate_certs") is False:
        settings.verify = False
    if params.get("proxy"):
        settings.proxy, settings.proxy_source = params["proxy"], "proxy option"
    if params.get("no_proxy"):
        settings.no_proxy = params["no_proxy"]
    headers = params.get("proxy_headers") or {}
    if headers.get("proxy_basic_auth"):
        settings.proxy_headers["Proxy-Authorization"] = "Basic " + base64.b64encode(
            headers["proxy_basic_auth"].encode("utf-8")).decode("ascii")
    if headers.get("user_agent"):
        settings.proxy_headers["User-Agent"] = headers["user_agent"]
    if headers.get("basic_auth") and not (settings.token or settings.username):
        settings.username, _sep, settings.password = headers["basic_auth"].partition(":")
        settings.credential = "basic auth as %r from proxy_headers.basic_auth" % settings.username
    if params.get("impersonate_user"):
        settings.impersonate_user = params["impersonate_user"]
        settings.impersonate_uid, settings.impersonate_extra = None, {}
        settings.impersonate_groups = []
    if params.get("impersonate_groups"):
        settings.impersonate_groups = list(params["impersonate_groups"])
    if (settings.impersonate_groups or settings.impersonate_extra or settings.impersonate_uid) \
            and not settings.impersonate_user:
        raise MeshError("impersonating groups, a uid or extra fields needs a user to impersonate too "
                        "(impersonate_user, or the kubeconfig's as)", field="impersonate_groups",
                        value=settings.impersonate_groups)
    for option, path in (("ca_cert", settings.ca_file), ("client_cert", settings.cert_file),
                         ("client_key", settings.key_file)):
        if path and not os.path.isfile(path):
            raise MeshError("the file does not exist", field=option, value=path)
    if not settings.server:
        raise MeshError("the cluster has no server address", field="server", value=host)
    parts = urlsplit(settings.server)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise MeshError("must be an http(s) URL", field="server", value=settings.server)
    if settings.proxy:
        proxy = _proxy_url(settings.proxy)
        if urlsplit(proxy).scheme != "http":
            parts = urlsplit(proxy)
            shown = proxy.replace(parts.netloc, parts.netloc.rpartition("@")[2]) if "@" in parts.netloc else proxy
            raise MeshError("only http:// proxies are supported (an https CONNECT tunnel through them is); "
                            "https:// and socks5:// proxies are not", field=settings.proxy_source, value=shown)


def _proxy_url(value):
    return value if "://" in value else "http://" + value


def _no_proxy_match(host, port, no_proxy):
    """Go's NO_PROXY rules: '*', IPs and CIDRs, domains matching themselves and their subdomains, optional :port."""
    import ipaddress  # only on the proxy path

    host = host.lower().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (no_proxy or "").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry and address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, entry_port = entry, None
        if entry.startswith("[") and "]" in entry:
            name, _sep, rest = entry[1:].partition("]")
            entry_port = rest.lstrip(":") or None
        elif entry.count(":") == 1:
            name, entry_port = entry.split(":")
        if entry_port and entry_port != str(port):
            continue
        if address is not None:
            try:
                if address == ipaddress.ip_address(name):
                    return True
            except ValueError:
                pass
            continue
        name = name.lstrip("*").lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def proxy_for(settings, scheme, host, port):
    """The proxy URL a request to host:port goes through, or None (kubeconfig/option first, then the environment)."""
    if settings.proxy:
        if settings.proxy_source == "proxy option" and _no_proxy_match(host, port, settings.no_proxy):
            return None
        return _proxy_url(settings.proxy)
    names = ("HTTPS_PROXY", "https_proxy") if scheme == "https" else ("HTTP_PROXY", "http_proxy")
    value = next((os.environ[n] for n in names if os.environ.get(n)), None)
    if not value:
        return None
    # Go's ProxyFromEnvironment never proxies localhost or loopback IPs.
    bare = host.strip("[]").lower()
    if bare == "localhost" or bare.startswith("127.") or bare == "::1":
        return None
    no_proxy = ",".join(v for v in (settings.no_proxy, os.environ.get("NO_PROXY") or os.environ.get("no_proxy"))
                        if v)
    if _no_proxy_match(host, port, no_proxy):
        return None
    return _proxy_url(value)


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


def auth_headers(settings):
    """The credential and impersonation headers every request carries."""
    headers = []
    if settings.token:
        headers.append(("Authorization", "Bearer %s" % settings.token))
    elif settings.username is not None:
        pair = "%s:%s" % (settings.username, settings.password or "")
        headers.append(("Authorization", "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")))
    if settings.impersonate_user:
        headers.append(("Impersonate-User", settings.impersonate_user))
        if settings.impersonate_uid:
            headers.append(("Impersonate-Uid", settings.impersonate_uid))
        headers.extend(("Impersonate-Group", group) for group in settings.impersonate_groups)
        for key in sorted(settings.impersonate_extra):
            values = settings.impersonate_extra[key]
            for value in values if isinstance(values, list) else [values]:
                headers.append(("Impersonate-Extra-%s" % _quote_header_key(key), value))
    return headers


def _quote_header_key(key):
    """client-go percent-encodes extra keys that are not legal header name characters."""
    legal = "!#$&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "".join(c if c in legal else "".join("%%%02X" % b for b in c.encode("utf-8")) for c in key)


class _HTTPSConnection(http_client.HTTPSConnection):
    """HTTPS that can present (SNI) and verify another name than the host it dials: tls-server-name."""

    def __init__(self, host, port, server_name=None, **kwargs):
        super(_HTTPSConnection, self).__init__(host, port, **kwargs)
        self._server_name = server_name

    def connect(self):
        http_client.HTTPConnection.connect(self)
        name = self._server_name or self._tunnel_host or self.host
        self.sock = self._context.wrap_socket(self.sock, server_hostname=name.strip("[]"))


class Response:
    identity = None

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


class _Connection:
    """One kept-alive connection and how requests are addressed on it; one request at a time uses it."""

    def __init__(self, http, absolute=None, proxy_headers=None):
        self.http = http
        # Plain http through a proxy: the absolute URL prefix and the headers the proxy wants on each request.
        self.absolute = absolute
        self.proxy_headers = proxy_headers or {}
        self.used = False

    def close(self):
        self.http.close()


# At most this many connections per run, only when requests really run at the same time (parallel.run_all).
MAX_CONNECTIONS = 4


class Client:
    """Kept-alive connections to the API server, with retries in one place.

    Requests one after another share one connection, so a sequential run makes
    one TLS handshake. http.client connections are not thread safe: a request
    takes an idle connection for itself, or opens another when every open one
    is in use, at most ``max_connections`` at once; each is made by
    ``_connect`` with the same TLS, client certificate, proxy and headers.
    """

    def __init__(self, settings, timeout=30, retries=5, backoff_base=0.25, backoff_cap=8.0, sleep=time.sleep,
                 max_connections=MAX_CONNECTIONS):
        self.settings = settings
        self.timeout = timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sleep = sleep
        self.requests_made = 0
        self.connections_opened = 0
        self.max_connections = max_connections
        parts = urlsplit(settings.server)
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        self._idle = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._ssl = self._ssl_context() if parts.scheme == "https" else None
        self._auth_headers = auth_headers(settings)

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
        """A new (not yet connected) connection; http.client connects on the first request."""
        with self._lock:
            self.connections_opened += 1
        proxy = proxy_for(self.settings, self._scheme, self._host, self._port)
        if proxy is None:
            if self._scheme == "https":
                return _Connection(_HTTPSConnection(self._host, self._port, timeout=self.timeout, context=self._ssl,
                                                    server_name=self.settings.tls_server_name))
            return _Connection(http_client.HTTPConnection(self._host, self._port, timeout=self.timeout))
        parts = urlsplit(proxy)
        headers = dict(self.settings.proxy_headers)
        if parts.username is not None and "Proxy-Authorization" not in headers:
            from urllib.parse import unquote  # only on the proxy path

            pair = "%s:%s" % (unquote(parts.username), unquote(parts.password or ""))
            headers["Proxy-Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        if self._scheme == "https":
            conn = _HTTPSConnection(parts.hostname, parts.port or 80, timeout=self.timeout, context=self._ssl,
                                    server_name=self.settings.tls_server_name)
            conn.set_tunnel(self._host, self._port, headers=headers)
            return _Connection(conn)
        # Plain http through a proxy: the absolute URL goes to the proxy, which forwards it.
        return _Connection(http_client.HTTPConnection(parts.hostname, parts.port or 80, timeout=self.timeout),
                           absolute="http://%s:%d" % (self._host, self._port), proxy_headers=headers)

    def close(self):
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _take(self):
        with self._lock:
            return self._idle.pop() if self._idle else None

    def _give_back(self, conn):
        with self._lock:
            self._idle.append(conn)

    def _send_once(self, conn, method, url, payload, headers):
        """(connection, response) over ``conn`` (None: a new one); a connection an exception leaves is closed."""
        if conn is None:
            conn = self._connect()
        try:
            try:
                raw, body = self._exchange(conn, method, url, payload, headers)
            except (http_client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server closed while idle: reconnect once, not a retry.
                conn.close()
                if not conn.used:
                    raise
                conn = self._connect()
                raw, body = self._exchange(conn, method, url, payload, headers)
        except BaseException:
            conn.close()
            raise
        finally:
            with self._lock:
                self.requests_made += 1
        conn.used = True
        response = Response(raw.status, body, dict((k.lower(), v) for k, v in raw.getheaders()))
        if raw.status == 401:
            response.identity = "API server %s; %s" % (self.settings.server, self.settings.describe())
        return conn, response

    def _exchange(self, conn, method, url, payload, headers):
        """One request; headers is a list of pairs because Impersonate-Group may repeat."""
        if conn.absolute:
            url = conn.absolute + url
            headers = headers + list(conn.proxy_headers.items())
        http = conn.http
        http.putrequest(method, url, skip_accept_encoding=True)
        for name, value in headers:
            http.putheader(name, value)
        if payload is not None:
            http.putheader("Content-Length", str(len(payload)))
        http.endheaders(payload)
        raw = http.getresponse()
        return raw, raw.read()

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
        headers = [("Accept", "application/json"), ("User-Agent", "ack.servicemesh")]
        payload = None
        if body is not None:
            payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
            headers.append(("Content-Type", content_type))
        headers.extend(self._auth_headers)
        with self._slots:
            return self._request(self._take(), method, url, payload, headers)

    def _request(self, conn, method, url, payload, headers):
        attempt = 0
        while True:
            try:
                conn, response = self._send_once(conn, method, url, payload, headers)
            except ssl.SSLCertVerificationError as exc:
                raise MeshError("TLS verification of the API server at %s failed: %s; give the cluster's CA with "
                                "ca_cert (or, for a throwaway cluster only, validate_certs=false)"
                                % (self.settings.server, exc.verify_message or exc), reason="TLSVerificationFailed")
            except CONNECTION_ERRORS as exc:
                conn = None
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
            self._give_back(conn)
            return response
