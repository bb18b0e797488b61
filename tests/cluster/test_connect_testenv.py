"""Connection shapes the real kube-apiserver judges: who it says we are, and impersonation under RBAC.

A SelfSubjectReview answers with the user and groups the API server authenticated (after impersonation), so
each case asserts what the server made of the credentials, not what the client meant to send.
"""

import base64
import os
import stat
import sys
import time
import uuid

import pytest
import yaml
from kubernetes import client as k8s

from ansible_run import run_module
from connect_lab import exec_runner
from identities import ServiceAccount, write_private

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import api, client
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


def load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def session(params):
    base = {"kubeconfig": None, "context": None, "validate_certs": True}
    base.update(params)
    return client.Client(client.settings_from_params(base, run_command=exec_runner()), timeout=10, retries=0)


def whoami(params):
    conn = session(params)
    try:
        response = conn.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body=REVIEW)
    finally:
        conn.close()
    if response.status != 201:
        raise api.api_error(response, "SelfSubjectReview")
    info = response.json()["status"]["userInfo"]
    return info["username"], set(info.get("groups") or [])


def list_virtual_services(params, namespace):
    conn = session(params)
    try:
        return conn.request("GET", "/apis/networking.istio.io/v1/namespaces/%s/virtualservices" % namespace)
    finally:
        conn.close()


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in [k for k in os.environ if k.startswith("K8S_AUTH_")] + ["KUBECONFIG", "HTTPS_PROXY",
                                                                        "https_proxy"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_cert_data_kubeconfig_is_the_admin(cluster, clean_env):
    user, groups = whoami({"kubeconfig": cluster.kubeconfig})
    assert user == "testenv-admin" and "system:masters" in groups


def test_cert_files_relative_to_the_kubeconfig(cluster, clean_env):
    config = load(cluster.kubeconfig)
    entry = config["users"][0]["user"]
    os.makedirs(str(clean_env / "kube" / "pki"))
    for key, name in (("client-certificate-data", "admin.crt"), ("client-key-data", "admin.key")):
        write_private(str(clean_env / "kube" / "pki" / name), base64.b64decode(entry.pop(key)).decode())
    entry.update({"client-certificate": "pki/admin.crt", "client-key": "pki/admin.key"})
    path = write_private(str(clean_env / "kube" / "config"), yaml.safe_dump(config))
    user, _groups = whoami({"kubeconfig": path})
    assert user == "testenv-admin"


def test_merged_kubeconfig_list_uses_the_first_files_user(cluster, clean_env, monkeypatch):
    # The restricted kubeconfig comes first: its context and user win over the admin's of the same names.
    restricted, admin = load(cluster.restricted_kubeconfig), load(cluster.kubeconfig)
    for config in (restricted, admin):
        config["contexts"][0]["name"] = config["current-context"] = "same"
        config["contexts"][0]["context"]["user"] = config["users"][0]["name"] = "same-user"
    first = write_private(str(clean_env / "first"), yaml.safe_dump(restricted))
    second = write_private(str(clean_env / "second"), yaml.safe_dump(admin))
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(clean_env / "missing"), first, second]))
    user, _groups = whoami({})
    assert user == "mesh-operator"


def test_service_account_token_file_and_exec_plugin(cluster, namespace, clean_env):
    account = ServiceAccount(cluster, namespace, str(clean_env))
    try:
        token_file = write_private(str(clean_env / "token"), account.token + "\n")
        config = load(account.kubeconfig)
        config["users"][0]["user"] = {"tokenFile": "token"}
        path = write_private(str(clean_env / "kubeconfig-file"), yaml.safe_dump(config))
        assert whoami({"kubeconfig": path})[0] == account.username
        plugin = str(clean_env / "plugin")
        with open(plugin, "w") as handle:
            handle.write("#!%s\nimport json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
                         "'kind': 'ExecCredential', 'status': {'token': open(%r).read().strip()}}))\n"
                         % (sys.executable, token_file))
        os.chmod(plugin, stat.S_IRWXU)
        config["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                               "command": "./plugin", "interactiveMode": "Never"}}
        path = write_private(str(clean_env / "kubeconfig-exec"), yaml.safe_dump(config))
        assert whoami({"kubeconfig": path})[0] == account.username
    finally:
        account.delete()


def test_server_alone_keeps_the_kubeconfig_credentials_and_ca(cluster, clean_env, monkeypatch):
    config = load(cluster.kubeconfig)
    real = config["clusters"][0]["cluster"]["server"]
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"
    monkeypatch.setenv("KUBECONFIG", write_private(str(clean_env / "moved"), yaml.safe_dump(config)))
    monkeypatch.setenv("K8S_AUTH_HOST", real)
    assert whoami({"server": os.environ["K8S_AUTH_HOST"]})[0] == "testenv-admin"


def test_a_401_names_server_credential_and_kubeconfig(cluster, clean_env):
    config = load(cluster.kubeconfig)
    config["users"][0]["user"] = {"token": "not-a-valid-token"}
    path = write_private(str(clean_env / "bad-token"), yaml.safe_dump(config))
    with pytest.raises(MeshError) as info:
        whoami({"kubeconfig": path})
    message = info.value.msg
    assert info.value.status == 401
    for part in (config["clusters"][0]["cluster"]["server"], "bearer token of kubeconfig user %r"
                 % config["users"][0]["name"], path, "context %r" % config["current-context"]):
        assert part in message, (part, message)
    assert "not-a-valid-token" not in message


def _bind_group_reader(cluster, namespace, group):
    rbac = k8s.RbacAuthorizationV1Api(cluster.api)
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "vs-reader"}, "rules": [
        {"apiGroups": ["networking.istio.io"], "resources": ["virtualservices"], "verbs": ["list"]}]})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "vs-reader"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                       "name": "vs-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]})


def _eventually(check):
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, "RBAC never granted the binding"
        time.sleep(0.2)


def test_impersonation_is_honoured_by_rbac(cluster, namespace, clean_env):
    group = "mesh-readers-%s" % uuid.uuid4().hex[:6]
    _bind_group_reader(cluster, namespace, group)
    as_group = {"kubeconfig": cluster.kubeconfig, "impersonate_user": "robot", "impersonate_groups": [group]}
    _eventually(lambda: list_virtual_services(as_group, namespace).status == 200)
    user, groups = whoami(as_group)
    assert user == "robot" and group in groups and "system:masters" not in groups
    # The same user without the group, and the group's grant outside its namespace, are refused.
    assert list_virtual_services({"kubeconfig": cluster.kubeconfig, "impersonate_user": "robot"},
                                 namespace).status == 403
    assert list_virtual_services(as_group, "kube-system").status == 403
    # The kubeconfig's own as/as-groups do the same.
    config = load(cluster.kubeconfig)
    config["users"][0]["user"].update({"as": "robot", "as-groups": [group]})
    path = write_private(str(clean_env / "as-kubeconfig"), yaml.safe_dump(config))
    assert whoami({"kubeconfig": path}) == (user, groups)
    # A user who may not impersonate gets a 403 from the server, not someone else's rights.
    denied = list_virtual_services({"kubeconfig": cluster.restricted_kubeconfig, "impersonate_user": "robot",
                                    "impersonate_groups": [group]}, namespace)
    assert denied.status == 403 and "impersonate" in denied.json()["message"]


def test_module_defaults_with_kubernetes_core_spellings(cluster, namespace, clean_env):
    """An AnsibleModule run: kubernetes.core's option names and env variables reach the API server."""
    config = load(cluster.kubeconfig)
    server = config["clusters"][0]["cluster"]["server"]
    ca = write_private(str(clean_env / "ca.crt"), base64.b64decode(
        config["clusters"][0]["cluster"]["certificate-authority-data"]).decode())
    connection = {"kubeconfig": cluster.kubeconfig, "ssl_ca_cert": ca, "verify_ssl": True}
    env = {"K8S_AUTH_IMPERSONATE_USER": "mesh-operator"}
    result, _play = run_module("ack.servicemesh.mesh_analyze", {"namespace": namespace}, env=env,
                               connection=connection)
    assert result.get("failed") and result.get("status") == 403, result
    assert "mesh-operator" in result["msg"]
    result, _play = run_module("ack.servicemesh.mesh_analyze", {"namespace": "default"}, env=env,
                               connection=connection)
    assert not result.get("failed"), result
    env = {"K8S_AUTH_HOST": server, "K8S_AUTH_API_KEY": "bogus", "K8S_AUTH_CA_CERT": ca}
    result, _play = run_module("ack.servicemesh.mesh_analyze", {"namespace": "default"}, env=env)
    assert result.get("failed") and result.get("status") == 401, result
    assert server in result["msg"] and "api_key option" in result["msg"] and "bogus" not in result["msg"]
