"""The WAN proxy's set-up that needs no Toxiproxy: which servers it fronts, its ports, the kubeconfig it writes."""

import os
import stat
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import wan  # noqa: E402
from testenv import pki  # noqa: E402


def test_only_loopback_api_servers():
    with pytest.raises(wan.WanError, match="only fronts API servers on 127.0.0.1"):
        wan.Wan("https://10.0.0.1:6443", "/tmp")


def test_ports_sit_beside_the_api_server():
    proxy = wan.Wan("https://127.0.0.1:19443", "/tmp")
    assert proxy.server == "https://127.0.0.1:19493"
    assert proxy.control == "http://127.0.0.1:19494"
    assert proxy.upstream == "127.0.0.1:19443"


def test_a_certificate_without_127_0_0_1_is_refused(tmp_path):
    ca_key, ca = pki.make_ca("test CA")
    _key, cert = pki.issue(ca_key, ca, "apiserver", dns_names=("localhost",), ip_addresses=("10.96.0.1",))
    path = tmp_path / "apiserver.crt"
    path.write_bytes(pki.cert_pem(cert))
    assert wan.server_sans(str(path)) == ["10.96.0.1"]
    with pytest.raises(wan.WanError, match="would not verify"):
        wan.Wan("https://127.0.0.1:19443", str(tmp_path), cert_file=str(path))


def test_kubeconfig_points_at_the_proxy_and_is_private(tmp_path):
    source = tmp_path / "kubeconfig"
    source.write_text(yaml.safe_dump({"clusters": [{"name": "t", "cluster": {
        "server": "https://127.0.0.1:19443", "certificate-authority-data": "Q0E="}}],
        "users": [{"name": "u", "user": {"token": "secret"}}]}))
    target = str(tmp_path / "kubeconfig-wan")
    wan.Wan("https://127.0.0.1:19443", str(tmp_path)).kubeconfig(str(source), target)
    written = yaml.safe_load(open(target))
    assert written["clusters"][0]["cluster"] == {"server": "https://127.0.0.1:19493",
                                                 "certificate-authority-data": "Q0E="}
    assert written["users"][0]["user"]["token"] == "secret"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_binary_lives_in_the_testenv_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("ACK_TESTENV_CACHE", str(tmp_path))
    assert wan.binary() == os.path.join(str(tmp_path), "toxiproxy-%s-r%d" % (wan.VERSION, wan.RECIPE),
                                        "toxiproxy-server")
