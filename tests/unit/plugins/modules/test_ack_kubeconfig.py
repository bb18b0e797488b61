"""ack_kubeconfig run by ansible-playbook against the fake OpenAPI (a few cases run asm_kubeconfig beside it)."""

import json
import os
import shutil
import stat
import subprocess

import pytest

from fake_openapi import ACCESS_KEY_ID, ACCESS_KEY_SECRET

from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.kubeconfig import fingerprint, secret_values

CLUSTER = "c82e6987e2961451182edacd74faf0000"
MESH = "c08ba3fd1e6484b0f8cc1ad8fe10d0000"


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def ack(**options):
    return {"ack.servicemesh.ack_kubeconfig": dict(dict(cluster_id=CLUSTER), **options)}


def asm(**options):
    return {"ack.servicemesh.asm_kubeconfig": dict(dict(service_mesh_id=MESH), **options)}


def test_kubeconfig_is_written_0600_and_a_second_run_changes_nothing(playbook, fake, tmp_path):
    fake.add_cluster(CLUSTER, "prod")
    dest = tmp_path / "kube" / "prod.yaml"

    first, second = playbook([ack(dest=str(dest)), ack(dest=str(dest))]).results()

    content = fake.cluster_kubeconfigs[CLUSTER][False]
    assert dest.read_text() == content
    assert mode(dest) == 0o600
    assert first["changed"] is True and second["changed"] is False
    assert first["fingerprint"] == second["fingerprint"] == fingerprint(content)
    assert first["expiration"]
    assert first["cluster_id"] == CLUSTER
    assert "kubeconfig" not in first, "content is returned only when asked for"


def test_check_mode_fetches_but_writes_nothing(playbook, fake, tmp_path):
    fake.add_cluster(CLUSTER, "prod")
    dest = tmp_path / "kube" / "prod.yaml"

    run = playbook([ack(dest=str(dest))], "--check")

    (result,) = run.results()
    assert result["changed"] is True
    assert not dest.parent.exists()
    assert len(fake.calls("DescribeClusterUserKubeconfig")) == 1


def test_check_mode_on_an_up_to_date_file_reports_no_change(playbook, fake, tmp_path):
    fake.add_cluster(CLUSTER, "prod")
    dest = tmp_path / "prod.yaml"
    dest.write_text(fake.cluster_kubeconfigs[CLUSTER][False])
    dest.chmod(0o600)

    (result,) = playbook([ack(dest=str(dest))], "--check").results()

    assert result["changed"] is False


def test_diff_shows_fingerprints_not_content(playbook, fake, tmp_path):
    fake.add_cluster(CLUSTER, "prod")
    dest = tmp_path / "prod.yaml"
    dest.write_text("apiVersion: v1\nusers:\n- user:\n    token: anOlderTokenValue123\n")
    dest.chmod(0o644)

    (result,) = playbook([ack(dest=str(dest))], "--diff").results()

    content = fake.cluster_kubeconfigs[CLUSTER][False]
    (diff,) = result["diff"] if isinstance(result["diff"], list) else [result["diff"]]
    assert diff["after"] == "fingerprint: %s\nmode: '0600'\n" % fingerprint(content)
    assert "mode: '0644'" in diff["before"]
    assert "anOlderTokenValue123" not in json.dumps(result)
    assert "client-key-data" not in json.dumps(diff)


def test_private_address_and_temporary_duration_reach_the_api(playbook, fake, tmp_path):
    fake.add_cluster(CLUSTER, "prod")
    dest = tmp_path / "prod.yaml"

    first, second = playbook([ack(dest=str(dest), private_ip_address=True, temporary_duration_minutes=30)] * 2
                             ).results()

    queries = [r.query for r in fake.calls("DescribeClusterUserKubeconfig")]
    assert [q["TemporaryDurationMinutes"] for q in queries] == ["30", "30"]
    assert all(q["PrivateIpAddress"].lower() == "true" for q in queries)
    assert "server: https://192.168.0.1:6443" in dest.read_text()
    assert first["changed"] and second["changed"], "each temporary kubeconfig carries a new certificate"


def test_secrets_never_reach_the_output_even_at_vvv(playbook, fake, tmp_path):
    fake.add_cluster(CLUSTER, "prod")
    token = fake.add_mesh(MESH)
    tasks = [
        dict(ack(dest=str(tmp_path / "ack.yaml"), return_content=True), register="ack_result"),
        dict(asm(dest=str(tmp_path / "asm.yaml"), return_content=True), register="asm_result"),
        {"ansible.builtin.debug": {"var": "ack_result"}},
        {"ansible.builtin.debug": {"var": "asm_result"}},
    ]

    run = playbook(tasks, "-vvv", "--diff")

    assert run.rc == 0, run.output
    secrets = secret_values(fake.cluster_kubeconfigs[CLUSTER][False]) + [token, ACCESS_KEY_SECRET]
    assert len(secrets) == 4
    for secret in secrets:
        assert secret not in run.output
    assert "client-key-data: ********" in run.output
    assert "token: ********" in run.output
    assert token in (tmp_path / "asm.yaml").read_text()


def test_returned_content_is_the_kubeconfig_with_secrets_masked(playbook, fake):
    fake.add_cluster(CLUSTER, "prod")

    (result,) = playbook([ack(return_content=True)]).results()

    content = fake.cluster_kubeconfigs[CLUSTER][False]
    masked = content
    for secret in secret_values(content):
        masked = masked.replace(secret, "********")
    assert result["kubeconfig"] == masked
    assert result["changed"] is False


def test_explicit_credentials_win_over_the_environment(playbook, fake):
    fake.add_cluster(CLUSTER, "prod")

    (result,) = playbook([ack(access_key_id=ACCESS_KEY_ID, access_key_secret="notTheRightSecret")]).results()

    assert result["failed"] is True
    assert "SignatureDoesNotMatch (HTTP 400)" in result["msg"]


def test_default_chain_reads_the_cli_profile(playbook, fake, ansible_env):
    fake.add_cluster(CLUSTER, "prod")
    profile = {"current": "default", "profiles": [{
        "name": "default", "mode": "AK", "access_key_id": ACCESS_KEY_ID, "access_key_secret": ACCESS_KEY_SECRET,
        "region_id": "cn-hangzhou"}]}
    aliyun = os.path.join(ansible_env["HOME"], ".aliyun")
    os.makedirs(aliyun)
    with open(os.path.join(aliyun, "config.json"), "w") as handle:
        json.dump(profile, handle)

    (result,) = playbook([ack()], env=dict(ALIBABA_CLOUD_ACCESS_KEY_ID="", ALIBABA_CLOUD_ACCESS_KEY_SECRET="")
                         ).results()

    assert result.get("failed") is not True, result
    auth = fake.requests[0].headers
    assert auth["authorization"].startswith("ACS3-HMAC-SHA256 Credential=%s," % ACCESS_KEY_ID)
    assert "cli_profile" in auth["x-acs-credentials-provider"]


def test_no_credentials_anywhere_is_a_clear_error(playbook, fake):
    (result,) = playbook([ack()], env=dict(ALIBABA_CLOUD_ACCESS_KEY_ID="", ALIBABA_CLOUD_ACCESS_KEY_SECRET="")
                         ).results()

    assert result["failed"] is True
    assert result["msg"].startswith(
        "DescribeClusterUserKubeconfig for cluster '%s' failed: no Alibaba Cloud credentials found." % CLUSTER)
    assert fake.requests == []


@pytest.mark.parametrize("status, code, expected", [
    (403, "Forbidden.RAM", "grant it cs:DescribeClusterUserKubeconfig"),
    (404, "ErrorClusterNotFound", "Check the id and that it belongs to the region or endpoint used"),
])
def test_api_errors_fail_with_cluster_code_and_request_id(playbook, fake, status, code, expected):
    fake.add_cluster(CLUSTER, "prod")
    fake.fail("DescribeClusterUserKubeconfig", status, code, "The answer of the fake.")

    run = playbook([ack()])

    (result,) = run.results()
    request_id = fake.requests[0].request_id
    assert result["failed"] is True
    assert result["msg"].startswith(
        "DescribeClusterUserKubeconfig for cluster '%s' failed: %s (HTTP %d): The answer of the fake. Request ID: %s."
        % (CLUSTER, code, status, request_id))
    assert expected in result["msg"]
    assert (result["error_code"], result["request_id"], result["status"]) == (code, request_id, status)
    assert "Traceback" not in run.output


def test_persistent_throttling_fails_after_retries(playbook, fake):
    fake.add_mesh(MESH)
    fake.fail("DescribeServiceMeshKubeconfig", 400, "Throttling.User", "Request was denied due to user flow control.",
              times=10)

    (result,) = playbook([asm()]).results()

    assert result["failed"] is True
    assert "for service mesh '%s' failed: Throttling.User (HTTP 400)" % MESH in result["msg"]
    assert "still throttling after 4 attempts" in result["msg"]
    assert len(fake.requests) == 4


def test_duration_out_of_range_names_the_field_and_value(playbook, fake):
    (result,) = playbook([ack(temporary_duration_minutes=10)]).results()

    assert result["failed"] is True
    assert result["msg"] == "temporary_duration_minutes: must be between 15 and 4320 minutes (got 10)"
    assert fake.requests == []


def test_missing_region_and_endpoint_is_reported(playbook, fake):
    (result,) = playbook([ack()], connect=False).results()

    assert result["msg"] == "region: is required unless endpoint is set (or set ALIBABA_CLOUD_REGION_ID)"


def test_missing_sdk_is_reported_with_the_package_name(playbook, fake):
    python = shutil.which("python3", path="/usr/bin:/bin")
    if not python or subprocess.call([python, "-c", "import alibabacloud_cs20151215"], stderr=subprocess.DEVNULL) == 0:
        pytest.skip("needs a system python3 without the ACK SDK")

    (result,) = playbook([dict(ack(), vars=dict(ansible_python_interpreter=python))]).results()

    assert result["failed"] is True
    assert "Failed to import the required Python library (alibabacloud-" in result["msg"]
    assert fake.requests == []
