"""scripts/check-references: Istio's files against the project's BookInfo references."""

import os
import subprocess
import sys

import yaml

from ansible_collections.ack.servicemesh.tests.reference import bookinfo

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "check-references")


def run(folder):
    return subprocess.run([sys.executable, SCRIPT, str(folder)], capture_output=True, text=True, check=False)


def write_all(folder):
    for name in bookinfo.DOCUMENTS:
        bookinfo.write(str(folder), name)


def test_equal_files_pass(tmp_path):
    write_all(tmp_path)
    result = run(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "11 Istio files" in result.stdout


def test_a_changed_value_is_reported_with_the_file(tmp_path):
    write_all(tmp_path)
    path = tmp_path / "current" / "virtual-service-ratings-test-delay.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    docs[0]["spec"]["http"][0]["fault"]["delay"]["fixedDelay"] = "5s"
    path.write_text(yaml.safe_dump_all(docs))
    result = run(tmp_path)
    assert result.returncode == 1
    assert "current/virtual-service-ratings-test-delay.yaml differs" in result.stdout
    assert '"5s"' in result.stdout


def test_missing_and_extra_files_are_reported(tmp_path):
    write_all(tmp_path)
    (tmp_path / "current" / "virtual-service-reviews-50-v3.yaml").unlink()
    (tmp_path / "current" / "virtual-service-new.yaml").write_text("kind: VirtualService\n")
    result = run(tmp_path)
    assert result.returncode == 1
    assert "virtual-service-reviews-50-v3.yaml: reference with no Istio file" in result.stdout
    assert "virtual-service-new.yaml: Istio file with no reference" in result.stdout


def test_a_missing_folder_is_said_not_passed(tmp_path):
    result = run(tmp_path / "absent")
    assert result.returncode == 2
    assert "NOT compared" in result.stdout


def test_empty_documents_are_ignored_like_istios_separator_lines(tmp_path):
    write_all(tmp_path)
    path = tmp_path / "istio-0.8" / "route-rule-all-v1.yaml"
    path.write_text(path.read_text() + "---\n---\n")
    assert run(tmp_path).returncode == 0
