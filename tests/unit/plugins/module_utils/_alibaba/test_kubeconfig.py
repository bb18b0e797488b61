"""Writing a kubeconfig: mode 0600, atomic, idempotent, check mode, diff without secrets; finding its secrets."""

import json
import os
import stat

import pytest

from fake_openapi import cluster_kubeconfig, mesh_kubeconfig

from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.kubeconfig import (
    fingerprint,
    secret_values,
    sync_file,
)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

CONTENT = cluster_kubeconfig("c1", "https://47.96.1.1:6443", client_cert="Q0VSVGRhdGExMjM0NTY3OA==",
                             client_key="S0VZZGF0YTEyMzQ1Njc4OTA=")


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_secrets_of_a_certificate_kubeconfig():
    assert secret_values(CONTENT) == ["Q0VSVGRhdGExMjM0NTY3OA==", "S0VZZGF0YTEyMzQ1Njc4OTA="]


def test_secrets_of_a_token_kubeconfig():
    assert secret_values(mesh_kubeconfig("m1", "https://1.2.3.4:6443", "eyJhbGciOi.payload.sig")) == [
        "eyJhbGciOi.payload.sig"]


def test_secrets_of_a_json_kubeconfig():
    content = json.dumps({"users": [{"name": "u", "user": {"token": "abcdefgh12345678",
                                                           "client-key-data": "a2V5ZGF0YWtleWRhdGE="}}]}, indent=2)
    assert secret_values(content) == ["a2V5ZGF0YWtleWRhdGE=", "abcdefgh12345678"]


def test_certificate_authority_and_server_are_not_secrets():
    values = secret_values(CONTENT)
    assert not any(v in ("https://47.96.1.1:6443", "kubernetes") for v in values)
    ca = CONTENT.split("certificate-authority-data: ")[1].split("\n")[0]
    assert ca not in values


def test_new_file_is_written_with_mode_0600(tmp_path):
    dest = tmp_path / "kube" / "config"

    changed, diff = sync_file(str(dest), CONTENT)

    assert changed
    assert dest.read_text() == CONTENT
    assert mode(dest) == 0o600
    assert mode(dest.parent) == 0o700
    assert diff["before"] == ""
    assert diff["after"] == "fingerprint: %s\nmode: '0600'\n" % fingerprint(CONTENT)
    assert [p.name for p in dest.parent.iterdir()] == ["config"], "no temporary file is left behind"


def test_same_content_and_mode_is_unchanged(tmp_path):
    dest = tmp_path / "config"
    sync_file(str(dest), CONTENT)
    before = os.stat(str(dest))

    changed, diff = sync_file(str(dest), CONTENT)

    assert not changed
    assert diff["before"] == diff["after"]
    assert os.stat(str(dest)).st_ino == before.st_ino


def test_other_content_replaces_the_file(tmp_path):
    dest = tmp_path / "config"
    dest.write_text("old: true\n")
    dest.chmod(0o600)

    changed, diff = sync_file(str(dest), CONTENT)

    assert changed
    assert dest.read_text() == CONTENT
    assert diff["before"] == "fingerprint: %s\nmode: '0600'\n" % fingerprint("old: true\n")


def test_loose_mode_is_tightened_even_when_content_matches(tmp_path):
    dest = tmp_path / "config"
    dest.write_text(CONTENT)
    dest.chmod(0o644)

    changed, diff = sync_file(str(dest), CONTENT)

    assert changed
    assert mode(dest) == 0o600
    assert "mode: '0644'" in diff["before"]


def test_check_mode_reports_without_writing(tmp_path):
    dest = tmp_path / "sub" / "config"

    changed, diff = sync_file(str(dest), CONTENT, check_mode=True)

    assert changed
    assert not dest.parent.exists()
    assert diff["after"].startswith("fingerprint: sha256:")


def test_check_mode_leaves_a_loose_mode_alone(tmp_path):
    dest = tmp_path / "config"
    dest.write_text(CONTENT)
    dest.chmod(0o644)

    assert sync_file(str(dest), CONTENT, check_mode=True)[0]
    assert mode(dest) == 0o644


def test_diff_never_contains_the_content(tmp_path):
    dest = tmp_path / "config"
    dest.write_text("token: previousSecretToken\n")

    diff = sync_file(str(dest), CONTENT, check_mode=True)[1]

    text = json.dumps(diff)
    assert "previousSecretToken" not in text
    assert not any(secret in text for secret in secret_values(CONTENT))


def test_a_directory_as_dest_is_an_error(tmp_path):
    with pytest.raises(MeshError) as caught:
        sync_file(str(tmp_path), CONTENT)
    assert str(caught.value) == "dest: is a directory; give the path of the kubeconfig file (got %r)" % str(tmp_path)


def test_symlinked_dest_updates_the_target(tmp_path):
    target = tmp_path / "real-config"
    target.write_text("old\n")
    link = tmp_path / "config"
    link.symlink_to(target)

    sync_file(str(link), CONTENT)

    assert link.is_symlink()
    assert target.read_text() == CONTENT
