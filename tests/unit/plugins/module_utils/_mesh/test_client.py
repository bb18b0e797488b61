"""Pure parts of the connection layer: kubeconfig merging, proxy selection, in-cluster, exec info, headers."""

import base64
import json
import os
import time

import pytest
import yaml

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import client
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError


def write(path, config):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return str(path)


def config(clusters=(), users=(), contexts=(), current=None):
    data = {"clusters": [{"name": n, "cluster": c} for n, c in clusters],
            "users": [{"name": n, "user": u} for n, u in users],
            "contexts": [{"name": n, "context": c} for n, c in contexts]}
    if current:
        data["current-context"] = current
    return data


def test_kubeconfig_paths_split_expand_and_drop_empty(monkeypatch):
    monkeypatch.setenv("HOME", "/home/x")
    assert client.kubeconfig_paths("~/a::/b/c:") == ["/home/x/a", "/b/c"]
    assert client.kubeconfig_paths(["/one", ""]) == ["/one"]


def test_merge_first_file_wins_and_paths_resolve_per_file(tmp_path):
    first = write(tmp_path / "a" / "config", config(users=[("u", {"token": "one"})], current="c1"))
    second = write(tmp_path / "b" / "config", config(
        clusters=[("k", {"server": "https://x", "certificate-authority": "ca.crt"})],
        users=[("u", {"token": "two"}), ("v", {"tokenFile": "tok", "client-certificate": "/abs.crt"})],
        contexts=[("c1", {"cluster": "k", "user": "u"})], current="c2"))
    merged = client.merge_kubeconfigs([first, str(tmp_path / "missing"), second])
    assert merged["files"] == [first, second]
    assert merged["current-context"] == "c1"
    assert merged["users"]["u"]["token"] == "one"
    assert merged["clusters"]["k"]["certificate-authority"] == str(tmp_path / "b" / "ca.crt")
    assert merged["users"]["v"]["tokenFile"] == str(tmp_path / "b" / "tok")
    assert merged["users"]["v"]["client-certificate"] == "/abs.crt"


def test_merge_required_single_missing_file_names_it(tmp_path):
    with pytest.raises(MeshError) as info:
        client.merge_kubeconfigs([str(tmp_path / "nope")], required=True)
    assert info.value.problems[0].value == str(tmp_path / "nope")


def test_exec_command_with_separator_is_relative_to_the_kubeconfig(tmp_path):
    path = write(tmp_path / "k" / "config", config(users=[
        ("rel", {"exec": {"command": "bin/login"}}), ("onpath", {"exec": {"command": "aws"}})]))
    users = client.merge_kubeconfigs([path])["users"]
    assert users["rel"]["exec"]["command"] == str(tmp_path / "k" / "bin" / "login")
    assert users["onpath"]["exec"]["command"] == "aws"


def test_load_kubeconfig_from_a_mapping():
    data = config(clusters=[("k", {"server": "https://10.0.0.1:6443"})], users=[("u", {"token": "t"})],
                  contexts=[("c", {"cluster": "k", "user": "u", "namespace": "ns"})], current="c")
    settings = client.load_kubeconfig(data)
    assert (settings.server, settings.token, settings.namespace) == ("https://10.0.0.1:6443", "t", "ns")


def test_undefined_context_is_an_error_naming_it(tmp_path):
    path = write(tmp_path / "config", config(current="ghost"))
    with pytest.raises(MeshError) as info:
        client.load_kubeconfig(path)
    assert "'ghost'" in info.value.msg and info.value.problems[0].field == "context"


@pytest.mark.parametrize("host,port,rules,expected", [
    ("api.example.com", 443, "example.com", True),
    ("api.example.com", 443, ".example.com", True),
    ("example.com", 443, ".example.com", True),
    ("badexample.com", 443, "example.com", False),
    ("api.example.com", 443, "example.com:6443", False),
    ("api.example.com", 6443, "example.com:6443", True),
    ("10.1.2.3", 443, "10.0.0.0/8", True),
    ("192.168.1.1", 443, "10.0.0.0/8", False),
    ("10.1.2.3", 443, "10.1.2.3", True),
    ("anything", 1, "*", True),
    ("fd00::1", 443, "[fd00::1]:443", True),
    ("host", 443, "", False),
])
def test_no_proxy_rules_follow_go(host, port, rules, expected):
    assert client._no_proxy_match(host, port, rules) is expected


def test_environment_proxy_skips_loopback_and_no_proxy(monkeypatch):
    settings = client.Settings()
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("https_proxy", "proxy.corp:3128")
    assert client.proxy_for(settings, "https", "api.corp", 443) == "http://proxy.corp:3128"
    assert client.proxy_for(settings, "https", "127.0.0.5", 443) is None
    assert client.proxy_for(settings, "https", "localhost", 443) is None
    assert client.proxy_for(settings, "http", "api.corp", 80) is None
    monkeypatch.setenv("NO_PROXY", "corp")
    assert client.proxy_for(settings, "https", "api.corp", 443) is None


def test_explicit_proxy_beats_the_environment_and_only_the_option_honours_no_proxy(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://env:1")
    settings = client.Settings()
    settings.proxy, settings.proxy_source, settings.no_proxy = "http://opt:2", "proxy option", "127.0.0.1"
    assert client.proxy_for(settings, "https", "api", 443) == "http://opt:2"
    assert client.proxy_for(settings, "https", "127.0.0.1", 443) is None
    settings.proxy_source = "proxy-url of kubeconfig cluster 'k'"
    assert client.proxy_for(settings, "https", "127.0.0.1", 443) == "http://opt:2"


@pytest.mark.parametrize("proxy", ["socks5://127.0.0.1:1080", "https://proxy:443"])
def test_unsupported_proxy_schemes_are_refused(proxy):
    with pytest.raises(MeshError) as info:
        client.settings_from_params({"server": "https://api:6443", "api_key": "t", "proxy": proxy})
    assert info.value.problems[0].field == "proxy option" and info.value.problems[0].value == proxy


def test_in_cluster_brackets_ipv6_and_defaults_the_namespace(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("tok\n")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    settings = client.in_cluster_settings(directory=str(tmp_path))
    assert settings.server == "https://[fd00:10:96::1]:443"
    assert (settings.token, settings.namespace) == ("tok", "default")
    (tmp_path / "namespace").write_text("awx\n")
    assert client.in_cluster_settings(directory=str(tmp_path)).namespace == "awx"


def test_in_cluster_without_token_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    with pytest.raises(MeshError) as info:
        client.in_cluster_settings(directory=str(tmp_path))
    assert "service account token" in info.value.msg


def test_exec_info_with_and_without_cluster(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_bytes(b"PEM")
    spec = {"apiVersion": "client.authentication.k8s.io/v1", "provideClusterInfo": True}
    cluster = {"server": "https://s", "certificate-authority": str(ca), "tls-server-name": "n",
               "extensions": [{"name": "client.authentication.k8s.io/exec", "extension": {"audience": "a"}}]}
    info = client._exec_info(spec, cluster, False)
    assert info["spec"]["cluster"] == {"server": "https://s", "tls-server-name": "n", "config": {"audience": "a"},
                                       "certificate-authority-data": base64.b64encode(b"PEM").decode()}
    assert client._exec_info({"apiVersion": spec["apiVersion"]}, cluster, False)["spec"] == {"interactive": False}


def _module_runner():
    from ansible.module_utils.basic import AnsibleModule
    from ansible.module_utils.testing import patch_module_args
    with patch_module_args({}):
        return client.exec_runner(AnsibleModule(argument_spec={}))


def test_exec_plugin_runs_through_the_modules_runner_with_its_env_and_stderr(tmp_path):
    script = tmp_path / "p"
    script.write_text("#!/bin/sh\necho \"$EXTRA $KUBERNETES_EXEC_INFO\" >&2\nexit 4\n")
    script.chmod(0o700)
    with pytest.raises(MeshError) as info:
        client.run_exec_plugin({"apiVersion": "client.authentication.k8s.io/v1", "command": str(script),
                                "interactiveMode": "Never", "env": [{"name": "EXTRA", "value": "x1"}]}, {}, "k",
                               _module_runner())
    assert "exit code 4" in info.value.msg and "x1" in info.value.msg and "ExecCredential" in info.value.msg


def test_exec_plugin_without_a_runner_is_a_clear_error():
    with pytest.raises(MeshError) as info:
        client.run_exec_plugin({"apiVersion": "client.authentication.k8s.io/v1", "command": "x",
                                "interactiveMode": "Never"}, {}, "k")
    assert info.value.problems[0].field == "users[].user.exec.command"


def test_missing_exec_command_names_it():
    with pytest.raises(MeshError) as info:
        client.run_exec_plugin({"apiVersion": "client.authentication.k8s.io/v1", "command": "/nonexistent/cred",
                                "interactiveMode": "Never"}, {}, "k", _module_runner())
    assert "could not run" in info.value.msg and "/nonexistent/cred" in info.value.msg


def test_exec_v1_needs_interactive_mode():
    with pytest.raises(MeshError) as info:
        client.run_exec_plugin({"apiVersion": "client.authentication.k8s.io/v1", "command": "x"}, {}, "k")
    assert info.value.problems[0].field == "users[].user.exec.interactiveMode"


def test_exec_plugin_answering_another_api_version_is_refused(tmp_path):
    script = tmp_path / "p"
    script.write_text("#!/bin/sh\necho '%s'\n" % json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1",
                                                            "status": {"token": "t"}}))
    script.chmod(0o700)
    with pytest.raises(MeshError) as info:
        client.run_exec_plugin({"apiVersion": "client.authentication.k8s.io/v1", "command": str(script),
                                "interactiveMode": "Never"}, {}, "k", _module_runner())
    assert "v1beta1" in info.value.msg


def _jwt(exp):
    body = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
    return "e30.%s.s" % body


def test_oidc_valid_expired_and_missing_tokens():
    valid = _jwt(time.time() + 600)
    assert client.oidc_token({"config": {"id-token": valid}}, "k") == valid
    with pytest.raises(MeshError) as info:
        client.oidc_token({"config": {"id-token": _jwt(time.time() - 1)}}, "k")
    assert "has expired" in info.value.msg and "no refresh-token" in info.value.msg
    with pytest.raises(MeshError) as info:
        client.oidc_token({"config": {"refresh-token": "r", "idp-issuer-url": "https://i"}}, "k")
    assert "is missing" in info.value.msg and "not supported" in info.value.msg


def test_auth_headers_token_basic_and_impersonation():
    settings = client.Settings()
    settings.username, settings.password = "u", "p:w"
    settings.impersonate_user, settings.impersonate_uid = "jane", "42"
    settings.impersonate_groups = ["a", "b"]
    settings.impersonate_extra = {"scopes.example/x y": ["r", "w"]}
    assert client.auth_headers(settings) == [
        ("Authorization", "Basic " + base64.b64encode(b"u:p:w").decode()), ("Impersonate-User", "jane"),
        ("Impersonate-Uid", "42"), ("Impersonate-Group", "a"), ("Impersonate-Group", "b"),
        ("Impersonate-Extra-scopes.example%2Fx%20y", "r"), ("Impersonate-Extra-scopes.example%2Fx%20y", "w")]
    settings.token = "t"
    assert client.auth_headers(settings)[0] == ("Authorization", "Bearer t")


def test_describe_names_credential_and_source_never_the_secret():
    settings = client.Settings()
    assert settings.describe() == "credentials: none (anonymous)"
    settings.token, settings.credential = "s3cret", "bearer token from the api_key option"
    settings.source, settings.impersonate_user = "kubeconfig /k, context 'c'", "bob"
    text = settings.describe()
    assert "s3cret" not in text
    assert text == ("credentials: bearer token from the api_key option; impersonating 'bob'; "
                    "from kubeconfig /k, context 'c'")


def test_server_with_complete_credentials_reads_no_kubeconfig(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", write(tmp_path / "config", config(current="missing")))
    settings = client.settings_from_params({"server": "https://api:6443/", "api_key": "t"})
    assert (settings.server, settings.token) == ("https://api:6443", "t")


def test_sources_order_kubeconfig_env_before_in_cluster(tmp_path, monkeypatch):
    (tmp_path / "sa").mkdir()
    (tmp_path / "sa" / "token").write_text("pod")
    (tmp_path / "sa" / "ca.crt").write_text("PEM")
    monkeypatch.setattr(client, "IN_CLUSTER_DIR", str(tmp_path / "sa"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    write(tmp_path / ".kube" / "config", config(clusters=[("k", {"server": "https://home"})],
                                                contexts=[("c", {"cluster": "k"})], current="c"))
    assert client.settings_from_params({}).server == "https://10.96.0.1:443"
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / ".kube" / "config"))
    assert client.settings_from_params({}).server == "https://home"
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    assert client.settings_from_params({}).server == "https://10.96.0.1:443"


def test_groups_without_a_user_to_impersonate_are_refused():
    with pytest.raises(MeshError) as info:
        client.settings_from_params({"server": "https://a", "api_key": "t", "impersonate_groups": ["g"]})
    assert info.value.problems[0].field == "impersonate_groups"


def test_importing_the_client_adds_no_import_beyond_the_common_path():
    """Proxies, oidc and kubeconfig files import what they need lazily; start-up loads only http.client and ssl.

    What http.client and ssl pull in themselves differs between Python versions (3.13's ansible-core no longer
    imports urllib.parse first), so it is measured, not listed: the collection may add nothing beyond it.
    """
    import subprocess
    import sys

    def added(statement):
        code = ("import sys; import ansible.module_utils.basic; before = set(sys.modules); "
                + statement + "; print(' '.join(sorted(set(sys.modules) - before)))")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        out = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, check=True)
        return set(out.stdout.decode().split())

    common = added("import http.client, ssl, base64, calendar, email.utils")
    ours = added("import ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module")
    extra = sorted(m for m in ours - common if m.split(".")[0] != "ansible_collections")
    assert extra == []


def test_refused_proxy_url_does_not_show_its_credentials():
    with pytest.raises(MeshError) as info:
        client.settings_from_params({"server": "https://api:6443", "api_key": "t", "proxy": "socks5://u:pw@p:1"})
    assert "pw" not in info.value.msg and "socks5://p:1" in info.value.msg


class _Recorder:
    """A keep-alive HTTP/1.1 server on loopback that records which connection carried each request."""

    def __init__(self, delay=0.0, fail_first=0):
        import http.server
        import threading

        recorder = self
        self.lock = threading.Lock()
        self.requests = []
        self.paths = []
        self.delay = delay
        self.fail_first = fail_first

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with recorder.lock:
                    recorder.requests.append((self.client_address[1], self.headers.get("Authorization"),
                                              self.headers.get("Impersonate-User")))
                    recorder.paths.append(self.path)
                    failing = recorder.fail_first > 0
                    recorder.fail_first -= 1
                time.sleep(recorder.delay)
                body = b'{"kind": "Status"}' if failing else b'{"items": []}'
                self.send_response(503 if failing else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def connections(self):
        return set(port for port, _auth, _as in self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    servers = []

    def start(**kwargs):
        servers.append(_Recorder(**kwargs))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


def _client(url, **kwargs):
    settings = client.Settings()
    settings.server, settings.token, settings.impersonate_user = url, "secret", "jason"
    return client.Client(settings, sleep=lambda s: None, **kwargs)


def test_requests_one_after_another_share_one_connection(recorder):
    server = recorder()
    api = _client(server.url)
    for _attempt in range(5):
        assert api.request("GET", "/apis").status == 200
    api.close()
    assert len(server.requests) == 5 and len(server.connections()) == 1
    assert api.connections_opened == 1 and api.requests_made == 5


def test_concurrent_requests_get_connections_of_their_own_up_to_the_bound(recorder):
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.parallel import run_all

    server = recorder(delay=0.1)
    api = _client(server.url, max_connections=4)
    results = run_all([lambda: api.request("GET", "/apis").status] * 10, workers=10)
    assert results == [200] * 10
    # Ten threads, four connections: the bound is the client's own, whoever calls it.
    assert len(server.connections()) == 4 and api.connections_opened == 4
    # Every connection carries the same credentials and impersonation.
    assert set((auth, as_) for _port, auth, as_ in server.requests) == {("Bearer secret", "jason")}
    # Sequential work afterwards stays on one kept-alive connection.
    before = len(server.requests)
    for _attempt in range(3):
        api.request("GET", "/apis")
    assert len(set(port for port, _a, _b in server.requests[before:])) == 1
    api.close()


def test_every_connection_retries_a_503(recorder):
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.parallel import run_all

    server = recorder(delay=0.05, fail_first=4)
    api = _client(server.url)
    assert run_all([lambda: api.request("GET", "/apis").status] * 4, workers=4) == [200] * 4
    assert len(server.requests) == 8 and api.requests_made == 8
    api.close()


def test_concurrent_requests_through_a_plain_http_proxy_all_carry_the_absolute_url(recorder):
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.parallel import run_all

    proxy = recorder(delay=0.1)
    api = _client("http://127.0.0.9:6443")
    api.settings.proxy, api.settings.proxy_source = proxy.url, "proxy option"
    run_all([lambda: api.request("GET", "/apis")] * 4, workers=4)
    assert proxy.paths == ["http://127.0.0.9:6443/apis"] * 4 and len(proxy.connections()) == 4
    api.close()
