"""The fleet's layout: ports per member, the inventory, and the memory sampling of a process tree."""

import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import fleet  # noqa: E402


def test_members_get_their_own_offset_and_state(monkeypatch, tmp_path):
    monkeypatch.setenv("ACK_TESTENV_PORT_OFFSET", "3000")
    group = fleet.Fleet(10, str(tmp_path), free=lambda port: True)
    offsets = [int(m.env["ACK_TESTENV_PORT_OFFSET"]) for m in group.members]
    assert offsets == list(range(3100, 4001, 100))
    assert group.members[0].server == "https://127.0.0.1:19543"
    assert len(set(m.dir for m in group.members)) == 10


def test_offsets_skip_ports_someone_holds(monkeypatch):
    monkeypatch.setenv("ACK_TESTENV_PORT_OFFSET", "3000")
    # 19380 is cluster 3's istiod HTTP port at offset 3300 (16080 + 3300): that offset is skipped.
    assert fleet.offsets(4, free=lambda port: port != 19380) == [3100, 3200, 3400, 3500]


def test_inventory_has_one_host_per_cluster(tmp_path):
    group = fleet.Fleet(3, str(tmp_path), free=lambda port: True)
    path = group.inventory(str(tmp_path / "inventory.yml"), "bench-ns")
    data = yaml.safe_load(open(path))["fleet"]
    assert sorted(data["hosts"]) == ["cluster01", "cluster02", "cluster03"]
    assert data["hosts"]["cluster02"] == {"servicemesh_kubeconfig": os.path.join(str(tmp_path), "2", "kubeconfig"),
                                          "servicemesh_namespace": "bench-ns"}
    assert data["vars"]["ansible_connection"] == "local"


def test_run_sampled_counts_children():
    # A child that holds ~50 MiB: the sampled tree must see more than the parent shell alone.
    code = "import time; b = bytearray(50 << 20); time.sleep(0.6)"
    wall, cpu, peak, _out, _err, rc = fleet.run_sampled(["sh", "-c", "%s -c '%s'" % (sys.executable, code)],
                                                        dict(os.environ))
    assert rc == 0
    assert wall >= 0.6
    assert peak > 50 * 1024
    assert cpu > 0


def test_playbook_runs_the_scenario_role_on_the_fleet(tmp_path):
    data = yaml.safe_load(open(fleet.playbook(str(tmp_path), "fault-delay")))
    assert data[0]["hosts"] == "fleet"
    assert data[0]["roles"] == [{"role": "ack.servicemesh.fault_delay"}]
