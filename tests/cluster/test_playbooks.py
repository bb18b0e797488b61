"""Playbooks as users call them: by FQCN from the installed tarball, and by path from a checkout."""

import json
import os
import subprocess
import sys

import pytest

from ansible_run import ROOT
from conformance import assert_conforms

BIN = os.path.dirname(sys.executable)
PLAYBOOKS = sorted(name[:-4] for name in os.listdir(os.path.join(ROOT, "playbooks"))
                   if name.endswith(".yml") and "-" not in name)


def ansible(tool, args, cwd, config, collections=None):
    """Run an Ansible tool with nothing of the checkout's setup: no ANSIBLE_* variables, its own config."""
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("ANSIBLE_"))
    env.update({"ANSIBLE_CONFIG": str(config), "ANSIBLE_NOCOLOR": "1", "HOME": str(cwd)})
    if collections:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    return subprocess.run([os.path.join(BIN, tool)] + args, cwd=str(cwd), env=env, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The built tarball installed into a collections path of its own; returns (workdir, config, path)."""
    work = tmp_path_factory.mktemp("installed")
    config = work / "ansible.cfg"
    config.write_text("[defaults]\nlocalhost_warning = false\n[inventory]\ninventory_unparsed_warning = false\n")
    build = ansible("ansible-galaxy", ["collection", "build", "--force", "--output-path", str(work), ROOT],
                    work, config)
    assert build.returncode == 0, build.stdout + build.stderr
    tarball = [p for p in os.listdir(str(work)) if p.endswith(".tar.gz")]
    assert len(tarball) == 1, tarball
    path = work / "collections"
    install = ansible("ansible-galaxy", ["collection", "install", "-p", str(path), str(work / tarball[0])],
                      work, config)
    assert install.returncode == 0, install.stdout + install.stderr
    return work, config, path


def test_the_tarball_ships_every_playbook_under_a_valid_name_and_no_alias(installed):
    _work, _config, path = installed
    shipped = sorted(os.listdir(str(path / "ansible_collections" / "ack" / "servicemesh" / "playbooks")))
    assert shipped == [name + ".yml" for name in PLAYBOOKS]
    assert all(name.isidentifier() for name in PLAYBOOKS)


@pytest.mark.parametrize("name", PLAYBOOKS)
def test_every_playbook_runs_by_fqcn_from_the_installed_collection(cluster, installed, name):
    work, config, path = installed
    namespace = cluster.new_namespace("fqcn")
    extra = json.dumps({"servicemesh_namespace": namespace, "servicemesh_kubeconfig": cluster.kubeconfig})
    if name == "canary":
        # A canary shifts a route that exists: route the service first.
        routed = ansible("ansible-playbook", ["ack.servicemesh.all_v1", "-e", extra], work, config, path)
        assert routed.returncode == 0, routed.stdout[-3000:] + routed.stderr[-3000:]
    before = cluster.versions(namespace)
    # Check mode: every playbook is found by name and its modules and roles resolve, nothing is written.
    result = ansible("ansible-playbook", ["ack.servicemesh." + name, "--check", "-e", extra], work, config, path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert cluster.versions(namespace) == before


def test_fault_delay_by_fqcn_reaches_the_scenario_end_state_from_the_installed_copy(cluster, installed):
    work, config, path = installed
    namespace = cluster.new_namespace("fqcn")
    extra = json.dumps({"servicemesh_namespace": namespace, "servicemesh_kubeconfig": cluster.kubeconfig})
    result = ansible("ansible-playbook", ["ack.servicemesh.fault_delay", "-e", extra, "-v"], work, config, path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert_conforms(cluster, namespace, "fault-delay")
    # The modules ran from the installed copy, not from the checkout.
    listing = ansible("ansible-galaxy", ["collection", "list", "ack.servicemesh", "--format", "json"],
                      work, config, path)
    assert list(json.loads(listing.stdout)) == [str(path / "ansible_collections")]
    again = ansible("ansible-playbook", ["ack.servicemesh.fault_delay", "-e", extra], work, config, path)
    assert again.returncode == 0
    assert "changed=0" in again.stdout


@pytest.mark.parametrize("playbook", ["playbooks/fault-delay.yml", "playbooks/fault_delay.yml"])
def test_a_checkout_runs_playbooks_by_path_with_no_link_step(cluster, tmp_path, playbook):
    """The checkout carries its own collections path (playbooks/collections), so no `make link` is needed."""
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\nlocalhost_warning = false\n")
    namespace = cluster.new_namespace("path")
    extra = json.dumps({"servicemesh_namespace": namespace, "servicemesh_kubeconfig": cluster.kubeconfig})
    result = ansible("ansible-playbook", [os.path.join(ROOT, playbook), "-e", extra], tmp_path, config,
                     tmp_path / "no-collections")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert_conforms(cluster, namespace, "fault-delay")
