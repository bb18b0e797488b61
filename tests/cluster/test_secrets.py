"""Tokens, keys and kubeconfig contents never reach the output, even at -vvv with --diff; kubeconfigs are 0600."""

import glob
import os
import stat
import subprocess
import sys

import pytest
import yaml

from ansible_run import ROOT, ansible_env
from identities import ServiceAccount

sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "unit", "plugins"))

from testenv import info  # noqa: E402

SCENARIOS = ["all-v1", "user-v2", "fault-delay", "fault-abort", "shift-50-v3", "reset"]
with open(os.path.join(ROOT, "meta", "runtime.yml")) as _handle:
    # Every module of the group, so that a play-level module_defaults reaches whichever the roles call.
    MODULES = yaml.safe_load(_handle)["action_groups"]["mesh"]


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def run(tmp_path, role, role_vars, connection):
    """ansible-playbook -vvv --diff of one role, the connection options given as module_defaults, as AWX shows it."""
    play = [{"name": "secrets", "hosts": "localhost", "gather_facts": False,
             "module_defaults": dict(("ack.servicemesh." + m, connection) for m in MODULES),
             "roles": [dict(role="ack.servicemesh." + role, vars=role_vars)]}]
    path = tmp_path / ("%s.yml" % role)
    path.write_text(yaml.safe_dump(play))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(path), "-vvv",
                           "--diff"], cwd=ROOT, env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "default"}),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout + proc.stderr


def assert_hidden(output, secrets):
    for secret in secrets:
        assert len(secret) >= 16
        assert secret not in output, "a secret reached the output"


def key_lines(path):
    """The base64 lines of a PEM key: any of them in the output would be a leak."""
    with open(path) as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("-----")]


@pytest.fixture
def automation(cluster, namespace, tmp_path):
    account = ServiceAccount(cluster, namespace, str(tmp_path))
    yield account
    account.delete()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_bearer_token_given_as_api_key_never_reaches_the_output(automation, tmp_path, scenario):
    connection = {"server": automation.server, "ca_cert": automation.ca_file, "api_key": automation.token}
    role_vars = {"servicemesh_namespace": automation.namespace}
    if scenario in ("fault-delay", "fault-abort"):
        # revert_after: the roles then also call virtual_service and fault_injection.
        role_vars["%s_revert_after" % scenario.replace("-", "_")] = 1
    output = run(tmp_path, scenario.replace("-", "_"), role_vars, connection)
    assert "changed=" in output
    assert_hidden(output, [automation.token, automation.token.split(".")[-1]])
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in output


def test_a_token_inside_a_kubeconfig_never_reaches_the_output(automation, tmp_path):
    output = run(tmp_path, "fault_delay", {"servicemesh_namespace": automation.namespace,
                                           "servicemesh_kubeconfig": automation.kubeconfig,
                                           "fault_delay_revert_after": 1}, {})
    assert_hidden(output, [automation.token, automation.token.split(".")[-1]])


def test_a_client_key_never_reaches_the_output(cluster, namespace, tmp_path):
    env = info("default")
    connection = {"server": env["server"], "ca_cert": env["ca_file"], "client_cert": env["admin_cert"],
                  "client_key": env["admin_key"]}
    output = run(tmp_path, "fault_abort", {"servicemesh_namespace": namespace, "fault_abort_revert_after": 1},
                 connection)
    assert_hidden(output, key_lines(env["admin_key"]))
    # The same key embedded in a kubeconfig (client-key-data).
    with open(cluster.kubeconfig) as handle:
        embedded = yaml.safe_load(handle)["users"][0]["user"]["client-key-data"]
    output = run(tmp_path, "user_v2", {"servicemesh_namespace": namespace, "servicemesh_kubeconfig": cluster.kubeconfig},
                 {})
    assert_hidden(output, [embedded] + key_lines(env["admin_key"]))


def test_the_testenv_writes_its_kubeconfigs_and_keys_0600(cluster, old_cluster):
    for profile in ("default", "v1alpha3"):
        env = info(profile)
        for path in [env["kubeconfig"], env["kubeconfig_restricted"]] + glob.glob(
                os.path.join(env["state_dir"], "pki", "*.key")):
            assert mode(path) == 0o600, path


def test_ack_kubeconfig_writes_0600_whatever_the_umask_and_prints_no_secret(tmp_path):
    from fake_openapi import ACCESS_KEY_ID, ACCESS_KEY_SECRET, FakeOpenAPI

    from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.kubeconfig import secret_values

    fake = FakeOpenAPI().start()
    try:
        fake.add_cluster("c82e6987e2961451182edacd74faf0000", "prod")
        dest = tmp_path / "kube" / "prod.yaml"
        task = {"ack.servicemesh.ack_kubeconfig": {"cluster_id": "c82e6987e2961451182edacd74faf0000",
                                                   "dest": str(dest), "endpoint": fake.endpoint, "protocol": "http"}}
        path = tmp_path / "ack.yml"
        path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]))
        env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "default", "ALIBABA_CLOUD_ACCESS_KEY_ID": ACCESS_KEY_ID,
                           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET,
                           "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true", "NO_PROXY": "127.0.0.1,localhost",
                           "no_proxy": "127.0.0.1,localhost"})
        command = "umask 000 && exec %s %s -vvv --diff" % (
            os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path)
        proc = subprocess.run(["/bin/sh", "-c", command], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, timeout=300, check=False)
        content = fake.cluster_kubeconfigs["c82e6987e2961451182edacd74faf0000"][False]
    finally:
        fake.stop()
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert mode(str(dest)) == 0o600
    assert dest.read_text() == content
    secrets = secret_values(content) + [ACCESS_KEY_SECRET]
    assert len(secrets) == 3
    for secret in secrets:
        assert secret not in proc.stdout
