"""Connects wherever kubectl connects: a battery of kubeconfig shapes, end to end over real TLS on loopback.

Every shape is run twice against the lab's recording HTTPS server (connect_lab.py), once by the collection's
client and once by the ``kubernetes`` package's loader as a second opinion, and the test asserts what arrived at
the server: the Authorization header, the client certificate, the TLS server name, Impersonate-* headers, the
URL path and whether a real forward proxy (tinyproxy) carried the request. A shape that must fail must fail
before any request leaves: the server records nothing.

Where the ``kubernetes`` loader differs, the case says so and why; client-go (kubectl) is the reference:

- it ignores ``as``/``as-groups`` (client-go's ImpersonationConfig sends them);
- it proxies loopback servers from HTTPS_PROXY (Go's ProxyFromEnvironment never proxies localhost or 127.x);
- it ignores ``interactiveMode`` and runs an ``Always`` plugin without a terminal (client-go refuses);
- it keeps a token file's trailing newline and cannot send the header (client-go trims the file);
- it sends both token and username, or a certificate without its key, into a failure or a silent choice where
  client-go's validation refuses the kubeconfig; we refuse it before any request.

The shapes the testenv's real kube-apiserver can judge (who it thinks we are, impersonation under RBAC) are in
test_connect_testenv.py.
"""

import base64
import json
import os
import stat
import sys
import time

import pytest
import yaml

from connect_lab import SERVER_NAME, Pki, RecordingServer, Tinyproxy, exec_runner

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import api, client
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module import AUTH_ARG_SPEC

SAME = "same"
PARAMS = ("kubeconfig", "context", "server", "api_key", "username", "password", "ca_cert", "client_cert",
          "client_key", "proxy", "no_proxy", "proxy_headers", "impersonate_user", "impersonate_groups")
CLEARED_ENV = ("KUBECONFIG", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
               "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")


class Lab:
    def __init__(self, directory):
        self.dir = directory
        self.pki = Pki(directory)
        self.server = RecordingServer(self.pki)
        self.proxy = Tinyproxy(directory)
        self.auth_proxy = Tinyproxy(directory, basic_auth=("squiduser", "s3cret"))

    def close(self):
        self.server.close()
        self.proxy.close()
        self.auth_proxy.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(str(tmp_path_factory.mktemp("connect-lab")))
    yield lab
    lab.close()


def write_config(path, clusters, users, contexts, current="main"):
    """contexts: {name: (cluster, user, namespace)}."""
    config = {"apiVersion": "v1", "kind": "Config",
              "clusters": [{"name": k, "cluster": v} for k, v in clusters.items()],
              "users": [{"name": k, "user": v} for k, v in users.items()],
              "contexts": [{"name": k, "context": dict(dict(cluster=c, user=u), **({"namespace": n} if n else {}))}
                           for k, (c, u, n) in contexts.items()]}
    if current:
        config["current-context"] = current
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        yaml.safe_dump(config, handle)
    os.chmod(path, 0o600)
    return path


def simple(lab, tmp, user, cluster=None, namespace=None, name="config"):
    cluster = cluster if cluster is not None else {"server": lab.server.url(),
                                                   "certificate-authority": lab.pki.ca_file}
    return write_config(os.path.join(tmp, name), {"lab": cluster}, {"u": user}, {"main": ("lab", "u", namespace)})


def bearer(token):
    return "Bearer " + token


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def jwt(exp):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return "%s.%s.sig" % (part({"alg": "RS256"}), part({"iss": "https://idp.internal", "sub": "alice", "exp": exp}))


PLUGIN = r'''#!{python}
import base64, json, os, sys
mode, version = sys.argv[1], sys.argv[2]
if mode == "fail":
    sys.stderr.write("token expired: run 'sso login --profile prod' first\n")
    sys.exit(3)
status = {{}}
if mode == "token":
    status["token"] = sys.argv[3] + os.environ.get("EXTRA", "")
elif mode == "cert":
    status["clientCertificateData"] = open(sys.argv[3]).read()
    status["clientKeyData"] = open(sys.argv[4]).read()
elif mode == "info":
    status["token"] = base64.urlsafe_b64encode(os.environ["KUBERNETES_EXEC_INFO"].encode()).decode().rstrip("=")
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/" + version, "kind": "ExecCredential",
                  "status": status}}))
'''


def plugin(directory, name="cred"):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, "w") as handle:
        handle.write(PLUGIN.format(python=sys.executable))
    os.chmod(path, stat.S_IRWXU)
    return path


def exec_user(command, args, version="v1", **extra):
    spec = {"apiVersion": "client.authentication.k8s.io/" + version, "command": command, "args": args}
    if version == "v1":
        spec["interactiveMode"] = "Never"
    spec.update(extra)
    return {"exec": spec}


def decode_info(token):
    return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


class Case:
    """One kubeconfig shape: build(lab, tmp) -> dict(kubeconfig=..., params=..., env=..., context=...)."""

    def __init__(self, name, build, expect=None, error=None, k8s=SAME, k8s_expect=None, k8s_error=None):
        self.name = name
        self.build = build
        self.expect = expect or {}
        self.error = error
        self.k8s = k8s  # SAME, or the reason the kubernetes loader's result differs (k8s_expect/k8s_error), or
        self.k8s_expect = k8s_expect  # "n/a: ..." for module options the loader has no equivalent of
        self.k8s_error = k8s_error


def _prefixed(lab, tmp):
    return {"kubeconfig": simple(lab, tmp, {"token": "t-prefix"},
                                 {"server": lab.server.url(path="/k8s/clusters/c-1"),
                                  "certificate-authority": lab.pki.ca_file})}


def _contexts(lab, tmp):
    clusters = {"lab": {"server": lab.server.url(), "certificate-authority": lab.pki.ca_file},
                "gone": {"server": "https://127.0.0.1:9"}}
    path = write_config(os.path.join(tmp, "config"), clusters,
                        {"dev": {"token": "t-dev"}, "ops": {"token": "t-ops"}},
                        {"main": ("gone", "dev", None), "ops@lab": ("lab", "ops", "team-ops")})
    return {"kubeconfig": path, "context": "ops@lab"}


def _relative(lab, tmp):
    sub = os.path.join(tmp, "nested", "kube")
    os.makedirs(os.path.join(sub, "pki"))
    copies = ((lab.pki.ca_file, "ca.crt"), (lab.pki.client_cert, "alice.crt"), (lab.pki.client_key, "alice.key"))
    for src, dst in copies:
        with open(src, "rb") as handle, open(os.path.join(sub, "pki", dst), "wb") as out:
            out.write(handle.read())
    path = simple(lab, sub, {"client-certificate": "pki/alice.crt", "client-key": "pki/alice.key"},
                  {"server": lab.server.url(), "certificate-authority": "pki/ca.crt"})
    return {"kubeconfig": path}


def _token_file(lab, tmp):
    with open(os.path.join(tmp, "token"), "w") as handle:
        handle.write("t-from-file\n")
    return {"kubeconfig": simple(lab, tmp, {"tokenFile": "token"})}


def _merged(lab, tmp):
    # First file: the context and a user named "u" with one token. Second: the cluster, the same user name
    # with another token (loses), and a current-context (loses to the first file's).
    first = write_config(os.path.join(tmp, "a", "config"), {}, {"u": {"token": "t-first"}},
                         {"main": ("lab", "u", "from-first")}, current="main")
    with open(os.path.join(tmp, "ca-copy.crt"), "wb") as out, open(lab.pki.ca_file, "rb") as handle:
        out.write(handle.read())
    second = write_config(os.path.join(tmp, "b", "config"),
                          {"lab": {"server": lab.server.url(), "certificate-authority": "../ca-copy.crt"}},
                          {"u": {"token": "t-second"}}, {"other": ("lab", "u", None)}, current="other")
    missing = os.path.join(tmp, "missing", "config")
    return {"env": {"KUBECONFIG": os.pathsep.join([first, missing, second])}}


def _auth_kubeconfig_list(lab, tmp):
    first = write_config(os.path.join(tmp, "a", "config"), {}, {}, {}, current=None)
    second = simple(lab, os.path.join(tmp, "b"), {"token": "t-list"})
    return {"params": {"kubeconfig": first + os.pathsep + second}}


def _exec(command_for, args_for, version="v1", **extra):
    def build(lab, tmp):
        path = plugin(os.path.join(tmp, "bin"))
        command = command_for(path)
        user = exec_user(command, args_for(lab, version), version, **extra)
        return {"kubeconfig": simple(lab, tmp, user), "cwd": os.path.dirname(lab.dir)}
    return build


def _in_cluster(lab, tmp, monkeypatch=None):
    directory = os.path.join(tmp, "serviceaccount")
    os.makedirs(directory)
    with open(os.path.join(directory, "token"), "w") as handle:
        handle.write("t-pod")  # kubelet's projected tokens have no newline; client-go would send one as is
    with open(lab.pki.ca_file, "rb") as handle, open(os.path.join(directory, "ca.crt"), "wb") as out:
        out.write(handle.read())
    return {"in_cluster": directory,
            "env": {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(lab.server.port)}}


def _host_override(lab, tmp):
    path = simple(lab, tmp, {"client-certificate": lab.pki.client_cert, "client-key": lab.pki.client_key},
                  {"server": "https://127.0.0.1:9", "certificate-authority": lab.pki.ca_file})
    return {"env": {"KUBECONFIG": path, "K8S_AUTH_HOST": lab.server.url()}}


def _server_and_token(lab, tmp):
    # A kubeconfig with a client certificate is on KUBECONFIG; server + api_key must not pick it up.
    path = simple(lab, tmp, {"client-certificate": lab.pki.client_cert, "client-key": lab.pki.client_key})
    return {"env": {"KUBECONFIG": path}, "params": {"server": lab.server.url(), "api_key": "t-option",
                                                    "ca_cert": lab.pki.ca_file}}


def _ack(lab, tmp):
    # The shape ACK's DescribeClusterUserKubeconfig returns: numeric user and context names, inline PEM data.
    text = """apiVersion: v1
clusters:
- cluster:
    server: {server}
    certificate-authority-data: {ca}
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: "27461234567890"
  name: 27461234567890-c0123456789abcdef
current-context: 27461234567890-c0123456789abcdef
kind: Config
preferences: {{}}
users:
- name: "27461234567890"
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
""".format(server=lab.server.url(), ca=Pki.data(lab.pki.ca_file), cert=Pki.data(lab.pki.client_cert),
           key=Pki.data(lab.pki.client_key))
    path = os.path.join(tmp, "ack-kubeconfig")
    with open(path, "w") as handle:
        handle.write(text)
    return {"kubeconfig": path}


def _proxied(server_host="127.0.0.1", via="kubeconfig", credentials=None, no_proxy=None):
    def build(lab, tmp):
        proxy = lab.auth_proxy if credentials else lab.proxy
        cluster = {"server": lab.server.url(host=server_host), "certificate-authority": lab.pki.ca_file}
        out = {"env": {}, "params": {}, "proxy": proxy}
        if via == "kubeconfig":
            cluster["proxy-url"] = proxy.url(credentials)
        elif via == "env":
            out["env"]["HTTPS_PROXY"] = proxy.url(credentials)
            if no_proxy:
                out["env"]["NO_PROXY"] = no_proxy
        elif via == "option":
            out["env"]["K8S_AUTH_PROXY"] = proxy.url()
            if credentials:
                out["params"]["proxy_headers"] = {"proxy_basic_auth": credentials}
            if no_proxy:
                out["env"]["K8S_AUTH_NO_PROXY"] = no_proxy
        out["kubeconfig"] = simple(lab, tmp, {"token": "t-proxied"}, cluster)
        return out
    return build


def _expired_oidc(lab, tmp):
    config = {"id-token": jwt(time.time() - 60), "refresh-token": "r", "client-id": "kube",
              "idp-issuer-url": "https://127.0.0.1:9"}
    return {"kubeconfig": simple(lab, tmp, {"auth-provider": {"name": "oidc", "config": config}})}


def _cert_args(lab, version):
    return ["cert", version, lab.pki.client_cert, lab.pki.client_key]


def _token_t(lab, version):
    return ["token", version, "t"]


EXTRA_ENV = {"name": "EXTRA", "value": "-plus"}
LOOPBACK_ENV_PROXY = ("client-go never uses HTTPS_PROXY for localhost or loopback addresses "
                      "(ProxyFromEnvironment); the kubernetes package sends it through the proxy")
NO_IMPERSONATION = "the kubernetes package ignores as/as-groups; client-go sends Impersonate-* headers"
MODULE_OPTION = "n/a: a module option (kubernetes.core-level), not a kubeconfig shape the loader reads"
CERT = {"cert_cn": "alice", "cert_o": "devs", "auth": None}

CASES = [
    Case("token", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {"token": "t-inline"})},
         {"auth": bearer("t-inline"), "cert_cn": None}),
    Case("token-file-trailing-newline", _token_file, {"auth": bearer("t-from-file")},
         k8s="the kubernetes package keeps the newline and cannot send the header; client-go trims the file",
         k8s_error="Invalid header value"),
    Case("cert-key-files", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {
        "client-certificate": lab.pki.client_cert, "client-key": lab.pki.client_key})}, CERT),
    Case("cert-key-data", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {
        "client-certificate-data": Pki.data(lab.pki.client_cert),
        "client-key-data": Pki.data(lab.pki.client_key)})}, CERT),
    Case("relative-cert-and-ca-paths", _relative, CERT),
    Case("ca-data", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {"token": "t-ca"}, {
        "server": lab.server.url(), "certificate-authority-data": Pki.data(lab.pki.ca_file)})},
        {"auth": bearer("t-ca")}),
    Case("wrong-ca-refused", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {"token": "t-x"}, {
        "server": lab.server.url(), "certificate-authority": lab.pki.other_ca_file})},
        error="TLS verification", k8s_error="CERTIFICATE_VERIFY_FAILED", k8s="the loader's error names urllib3"),
    Case("insecure-skip-tls-verify", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {"token": "t-insecure"}, {
        "server": lab.server.url(), "insecure-skip-tls-verify": True})}, {"auth": bearer("t-insecure")}),
    Case("server-path-prefix", _prefixed, {"auth": bearer("t-prefix"), "path": "/k8s/clusters/c-1/version"}),
    Case("named-context-and-namespace", _contexts, {"auth": bearer("t-ops"), "namespace": "team-ops"}),
    Case("ack-style-numeric-names", _ack, CERT),
    Case("kubeconfig-list-first-wins", _merged, {"auth": bearer("t-first"), "namespace": "from-first"}),
    Case("k8s-auth-kubeconfig-list", _auth_kubeconfig_list, {"auth": bearer("t-list")}, k8s=MODULE_OPTION),
    Case("tls-server-name", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {"token": "t-sni"}, {
        "server": lab.server.url(), "certificate-authority": lab.pki.ca_file, "tls-server-name": SERVER_NAME})},
        {"auth": bearer("t-sni"), "sni": SERVER_NAME}),
    Case("tls-server-name-mismatch-refused", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {"token": "t"}, {
        "server": lab.server.url(), "certificate-authority": lab.pki.ca_file,
        "tls-server-name": "other.internal"})}, error="TLS verification",
        k8s="the loader's error names urllib3", k8s_error="certificate"),
    Case("basic-auth", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {"username": "bob", "password": "pw:1"})},
         {"auth": basic("bob", "pw:1")}),
    Case("basic-auth-options", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {"token": "t-replaced"}),
                                                 "env": {"K8S_AUTH_USERNAME": "carol", "K8S_AUTH_PASSWORD": "p"}},
         {"auth": basic("carol", "p")}, k8s=MODULE_OPTION),
    Case("token-and-basic-refused", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {
        "token": "t", "username": "bob", "password": "pw"})}, error="a token or a username/password",
        k8s="the loader silently sends the token and drops the username", k8s_expect={"auth": bearer("t")}),
    Case("cert-without-key-refused", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {
        "client-certificate": lab.pki.client_cert})}, error="both a client certificate and its key",
        k8s="the loader fails too, but inside the TLS layer with an opaque 'PEM lib' error", k8s_error="PEM lib"),
    Case("oidc-id-token", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {"auth-provider": {
        "name": "oidc", "config": {"id-token": jwt(time.time() + 3600), "client-id": "kube"}}})},
        {"auth": "oidc"}),
    Case("oidc-expired-refresh-unsupported", _expired_oidc, error="refreshing it is not supported",
         k8s="the loader tries the refresh and fails to reach the issuer", k8s_error=""),
    Case("auth-provider-gcp-refused", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {"auth-provider": {
        "name": "gcp", "config": {}}})}, error="unsupported auth-provider",
        k8s="the loader's gcp provider needs google-auth", k8s_error=""),
    Case("exec-v1-token", _exec(lambda p: p, lambda lab, v: ["token", v, "t-exec"]), {"auth": bearer("t-exec")}),
    Case("exec-v1beta1-cert", _exec(lambda p: p, _cert_args, "v1beta1"), CERT),
    Case("exec-relative-command", _exec(lambda p: "./bin/cred", lambda lab, v: ["token", v, "t-rel"]),
         {"auth": bearer("t-rel")}),
    Case("exec-env", _exec(lambda p: p, lambda lab, v: ["token", v, "t-env"], env=[EXTRA_ENV]),
         {"auth": bearer("t-env-plus")}),
    Case("exec-provide-cluster-info", _exec(lambda p: p, lambda lab, v: ["info", v], provideClusterInfo=True),
         {"exec_info": "cluster"}),
    Case("exec-no-cluster-info", _exec(lambda p: p, lambda lab, v: ["info", v]), {"exec_info": "bare"}),
    Case("exec-failing-plugin-stderr", _exec(lambda p: p, lambda lab, v: ["fail", v]),
         error="run 'sso login --profile prod' first", k8s_error="sso login"),
    Case("exec-interactive-always-refused", _exec(lambda p: p, _token_t, interactiveMode="Always"),
         error="needs an interactive terminal", k8s=("the kubernetes package ignores interactiveMode and runs the "
                                                     "plugin without a terminal"), k8s_expect={"auth": bearer("t")}),
    Case("kubeconfig-as-groups", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {
        "token": "t-admin", "as": "mesh-bot", "as-groups": ["ops", "audit"], "as-user-extra": {"scopes": ["a"]}})},
        {"auth": bearer("t-admin"), "impersonate": [("Impersonate-User", "mesh-bot"), ("Impersonate-Group", "ops"),
                                                    ("Impersonate-Group", "audit"),
                                                    ("Impersonate-Extra-scopes", "a")]},
        k8s=NO_IMPERSONATION, k8s_expect={"impersonate": []}),
    Case("impersonate-options", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {"token": "t", "as": "ignored"}),
                                                  "env": {"K8S_AUTH_IMPERSONATE_USER": "jane",
                                                          "K8S_AUTH_IMPERSONATE_GROUPS": "g1,g2"}},
         {"impersonate": [("Impersonate-User", "jane"), ("Impersonate-Group", "g1"), ("Impersonate-Group", "g2")]},
         k8s=MODULE_OPTION),
    Case("as-groups-without-as-refused", lambda lab, tmp: {"kubeconfig": simple(lab, tmp, {
        "token": "t", "as-groups": ["ops"]})}, error="needs a user to impersonate",
        k8s=NO_IMPERSONATION, k8s_expect={"impersonate": []}),
    Case("in-cluster-no-namespace-file", _in_cluster, {"auth": bearer("t-pod"), "namespace": "default"},
         k8s=("the loader spells the scheme 'bearer' (the API server compares it case-insensitively) and leaves "
              "the namespace to the caller"), k8s_expect={"auth": "bearer t-pod"}),
    Case("k8s-auth-host-keeps-credentials", _host_override, CERT, k8s=MODULE_OPTION),
    Case("server-and-api-key-ignore-kubeconfig", _server_and_token, {"auth": bearer("t-option"), "cert_cn": None},
         k8s=MODULE_OPTION),
    Case("proxy-url", _proxied(), {"auth": bearer("t-proxied"), "proxied": True}),
    Case("proxy-url-with-credentials", _proxied(credentials="squiduser:s3cret"), {"proxied": True},
         k8s="the kubernetes package does not send proxy-url credentials as Proxy-Authorization",
         k8s_error="407"),
    Case("https-proxy-env", _proxied("vm", "env"), {"auth": bearer("t-proxied"), "proxied": True}),
    Case("https-proxy-env-no-proxy", _proxied("vm", "env", no_proxy="example.com,.vm,vm"), {"proxied": False}),
    Case("https-proxy-env-loopback-direct", _proxied("127.0.0.1", "env"), {"proxied": False},
         k8s=LOOPBACK_ENV_PROXY, k8s_expect={"proxied": True}),
    Case("proxy-option", _proxied(via="option"), {"proxied": True}, k8s=MODULE_OPTION),
    Case("proxy-option-basic-auth", _proxied(via="option", credentials="squiduser:s3cret"), {"proxied": True},
         k8s=MODULE_OPTION),
    Case("proxy-option-no-proxy", _proxied(via="option", no_proxy="10.0.0.0/8,127.0.0.0/8"), {"proxied": False},
         k8s=MODULE_OPTION),
]


@pytest.fixture
def shape(request, lab, tmp_path, monkeypatch):
    case = request.param
    for name in CLEARED_ENV + tuple(k for k in os.environ if k.startswith("K8S_AUTH_")):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    built = case.build(lab, str(tmp_path))
    for name, value in (built.get("env") or {}).items():
        monkeypatch.setenv(name, value)
    if built.get("in_cluster"):
        monkeypatch.setattr(client, "IN_CLUSTER_DIR", built["in_cluster"])
    monkeypatch.chdir(built.get("cwd") or str(tmp_path))
    return case, built


def arrived(lab, built, send):
    """Run send(); return (what the server recorded, tunnels the proxy opened, error text)."""
    proxy = built.get("proxy") or lab.proxy
    before_records, before_tunnels = len(lab.server.records), len(proxy.tunnels())
    error = None
    try:
        send()
    except Exception as exc:  # the kubernetes package raises several types; ours raises MeshError only
        error = "%s: %s" % (type(exc).__name__, exc)
    records = lab.server.records[before_records:]
    tunnels = proxy.tunnels()[before_tunnels:]
    return records, tunnels, error


def check(expect, record, tunnels, namespace, lab):
    headers = [(k.title(), v) for k, v in record["headers"]]
    if "auth" in expect:
        auth = dict(headers).get("Authorization")
        if expect["auth"] == "oidc":
            assert auth and auth.startswith("Bearer ey"), auth
        else:
            assert auth == expect["auth"]
    for key in ("cert_cn", "cert_o", "sni"):
        if key in expect:
            assert record[key] == expect[key], key
    if "impersonate" in expect:
        assert [(k, v) for k, v in headers if k.startswith("Impersonate-")] == [
            (k.title(), v) for k, v in expect["impersonate"]]
    if "path" in expect:
        assert record["path"].rstrip("/") == expect["path"]
    if "proxied" in expect:
        want = ["127.0.0.1:%d" % lab.server.port, "vm:%d" % lab.server.port]
        assert bool(tunnels) == expect["proxied"], tunnels
        assert all(t in want for t in tunnels), tunnels
    if "namespace" in expect and namespace is not None:
        assert namespace == expect["namespace"]
    if "exec_info" in expect:
        info = decode_info(dict(headers)["Authorization"].split(" ", 1)[1])
        assert info["kind"] == "ExecCredential" and info["spec"]["interactive"] is False
        if expect["exec_info"] == "cluster":
            assert info["spec"]["cluster"]["server"] == lab.server.url()
        else:
            assert "cluster" not in info["spec"]


def run_ours(built):
    params = dict((name, None) for name in PARAMS)
    params.update(validate_certs=True, request_timeout=10)
    # The modules' own argument spec decides which environment variable feeds which option.
    for name, spec in AUTH_ARG_SPEC.items():
        for env in (spec.get("fallback") or (None, []))[1]:
            if env in os.environ:
                value = os.environ[env]
                params[name] = value.split(",") if spec["type"] == "list" else value
                break
    if built.get("kubeconfig"):
        params["kubeconfig"] = built["kubeconfig"]
    params["context"] = built.get("context")
    params.update(built.get("params") or {})
    holder = {}

    def send():
        settings = client.settings_from_params(params, run_command=exec_runner())
        holder["namespace"] = settings.namespace or "default"
        conn = client.Client(settings, timeout=10, retries=0)
        try:
            response = conn.request("GET", "/version")
        finally:
            conn.close()
        assert response.status == 200
    return send, holder


@pytest.mark.parametrize("shape", CASES, ids=[c.name for c in CASES], indirect=True)
def test_collection_client(shape, lab):
    case, built = shape
    send, holder = run_ours(built)
    records, tunnels, error = arrived(lab, built, send)
    if case.error:
        assert error is not None and case.error in error, error
        assert error.startswith("MeshError"), error
        assert records == [], "a refused shape must not send any request"
        return
    assert error is None, error
    assert len(records) == 1
    check(case.expect, records[0], tunnels, holder.get("namespace"), lab)


def run_kubernetes_loader(built):
    from kubernetes import client as k8s, config as k8s_config
    from kubernetes.config import incluster_config

    def send():
        configuration = k8s.Configuration()
        if built.get("in_cluster"):
            incluster_config.InClusterConfigLoader(
                token_filename=os.path.join(built["in_cluster"], "token"),
                cert_filename=os.path.join(built["in_cluster"], "ca.crt")).load_and_set(configuration)
        else:
            k8s_config.load_kube_config(config_file=built.get("kubeconfig") or os.environ["KUBECONFIG"],
                                        context=built.get("context"), client_configuration=configuration)
        configuration.retries = 0
        with k8s.ApiClient(configuration) as api_client:
            k8s.VersionApi(api_client).get_code(_request_timeout=10)
    return send


LOADER_CASES = [c for c in CASES if not c.k8s.startswith("n/a")]


@pytest.mark.parametrize("shape", LOADER_CASES, ids=[c.name for c in LOADER_CASES], indirect=True)
def test_kubernetes_loader_second_opinion(shape, lab):
    case, built = shape
    records, tunnels, error = arrived(lab, built, run_kubernetes_loader(built))
    want_error = case.error if case.k8s == SAME else case.k8s_error
    want = case.expect if case.k8s == SAME else case.k8s_expect
    if case.k8s == SAME and case.error:
        want_error = case.k8s_error if case.k8s_error is not None else ""
    if want_error is not None and want is None:
        assert error is not None and want_error.lower() in error.lower(), error
        return
    assert error is None, error
    assert len(records) == 1
    check(want, records[0], tunnels, None, lab)


def test_battery_size():
    assert len(CASES) >= 30 and len(LOADER_CASES) >= 30


def test_401_names_server_credentials_and_kubeconfig(lab, tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    path = simple(lab, str(tmp_path), {"client-certificate": lab.pki.client_cert, "client-key": lab.pki.client_key})
    settings = client.settings_from_params({"kubeconfig": path, "context": None, "validate_certs": True})
    conn = client.Client(settings, retries=0)
    try:
        error = api.api_error(conn.request("GET", "/unauthorized"), "list VirtualServices")
    finally:
        conn.close()
    assert isinstance(error, MeshError) and error.status == 401
    for part in (lab.server.url(), "client certificate of kubeconfig user 'u'", path, "context 'main'"):
        assert part in error.msg, (part, error.msg)


def test_missing_single_kubeconfig_names_the_path(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(MeshError) as info:
        client.settings_from_params({"kubeconfig": missing, "context": None, "validate_certs": True})
    assert info.value.problems[0].field == "kubeconfig" and info.value.problems[0].value == missing
