"""execution-environment.yml: `ansible-builder create` writes a build context that holds the collection and its
requirements, and the image's galaxy and builder stages, replayed here without a container, install the collection
and find its Python and system requirements."""

import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
EE_FILE = os.path.join(ROOT, "execution-environment.yml")


def _yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def _text(path):
    with open(path) as handle:
        return handle.read()


def _requirement_lines(text):
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def _run(argv, cwd):
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, "%s failed (rc=%d):\n%s" % (" ".join(argv), proc.returncode, proc.stdout[-4000:])
    return proc.stdout


GALAXY = _yaml(os.path.join(ROOT, "galaxy.yml"))
DEFINITION = _yaml(EE_FILE)
DEPENDENCIES = DEFINITION["dependencies"]
TARBALL = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of the definition and the files it names, with a fresh collection tarball where `make build` puts it."""
    work = str(tmp_path_factory.mktemp("ee"))
    for name in ("execution-environment.yml", DEPENDENCIES["galaxy"], DEPENDENCIES["python"], DEPENDENCIES["system"]):
        os.makedirs(os.path.dirname(os.path.join(work, name)), exist_ok=True)
        shutil.copy(os.path.join(ROOT, name), os.path.join(work, name))
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force", "--output-path",
          os.path.join(work, "build"), ROOT], cwd=work)
    return work


@pytest.fixture(scope="module")
def context(workdir):
    # No skip when ansible-builder is missing: it is pinned in requirements-dev.txt.
    _run([os.path.join(BIN, "ansible-builder"), "create", "--file", "execution-environment.yml",
          "--context", "context", "--output-filename", "Containerfile"], cwd=workdir)
    return os.path.join(workdir, "context")


@pytest.fixture(scope="module")
def installed(context, tmp_path_factory):
    """The galaxy stage: `ansible-galaxy collection install -r requirements.yml` from /build."""
    target = str(tmp_path_factory.mktemp("collections"))
    env = dict(os.environ, ANSIBLE_GALAXY_DISABLE_GPG_VERIFY="1")
    # The repository's ansible.cfg puts the checkout on the collections path; galaxy would call it installed.
    env.pop("ANSIBLE_CONFIG", None)
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force", "-r", "requirements.yml",
                    "--collections-path", target], cwd=os.path.join(context, "_build"), env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=300)
    return target


def test_build_context_holds_the_python_requirements(context):
    assert _text(os.path.join(context, "_build", "requirements.txt")) == _text(os.path.join(ROOT, "requirements.txt"))


def test_build_context_holds_the_bindep_requirements(context):
    copied = _text(os.path.join(context, "_build", "bindep.txt"))
    assert copied == _text(os.path.join(ROOT, "bindep.txt"))
    assert _requirement_lines(copied), "bindep.txt lists no package"


def test_build_context_holds_the_collection_tarball_the_galaxy_requirements_name(context):
    requirements = _yaml(os.path.join(context, "_build", "requirements.yml"))
    assert requirements["collections"] == [{"name": "collections/" + TARBALL, "type": "file"}]
    with tarfile.open(os.path.join(context, "_build", "collections", TARBALL)) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
        names = set(tar.getnames())
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == (
        GALAXY["namespace"], GALAXY["name"], GALAXY["version"])
    assert {"meta/execution-environment.yml", "requirements.txt", "bindep.txt", "playbooks/fault_delay.yml"} <= names


def test_containerfile_installs_the_ansible_versions_the_tests_run(context):
    containerfile = _text(os.path.join(context, "Containerfile"))
    dev = dict(line.split("==") for line in _requirement_lines(_text(os.path.join(ROOT, "requirements-dev.txt"))))
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core==%s ansible-runner==%s"' % (
        dev["ansible-core"], dev["ansible-runner"]) in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile


def test_galaxy_stage_installs_the_collection_with_its_ee_metadata(installed):
    path = os.path.join(installed, "ansible_collections", GALAXY["namespace"], GALAXY["name"])
    with open(os.path.join(path, "MANIFEST.json")) as handle:
        assert json.load(handle)["collection_info"]["version"] == GALAXY["version"]
    meta = _yaml(os.path.join(path, "meta", "execution-environment.yml"))
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
    for name in meta["dependencies"].values():
        assert os.path.isfile(os.path.join(path, name)), name


def test_builder_stage_introspection_finds_the_collections_own_requirements(context, installed, tmp_path):
    """What ansible-builder's introspect step writes for pip and bindep, attributed to this collection."""
    build = os.path.join(context, "_build")
    _run([sys.executable, os.path.join(build, "scripts", "introspect.py"), "introspect", installed,
          "--user-pip=requirements.txt", "--user-bindep=bindep.txt",
          "--write-pip=%s" % tmp_path.joinpath("pip.txt"), "--write-bindep=%s" % tmp_path.joinpath("bindep.txt")],
         cwd=build)
    fqcn = "%s.%s" % (GALAXY["namespace"], GALAXY["name"])
    pip = _text(str(tmp_path.joinpath("pip.txt"))).splitlines()
    system = _text(str(tmp_path.joinpath("bindep.txt"))).splitlines()
    # ansible-builder drops PyYAML from collections' lists: the image has it with ansible-core.
    wanted = [r for r in _requirement_lines(_text(os.path.join(ROOT, "requirements.txt")))
              if not r.lower().startswith("pyyaml")]
    assert wanted
    for requirement in wanted:
        assert "%s  # from collection %s" % (requirement, fqcn) in pip
    for package in _requirement_lines(_text(os.path.join(ROOT, "bindep.txt"))):
        assert "%s  # from collection %s" % (package, fqcn) in system


def test_bindep_selects_every_package_on_the_base_image():
    from bindep.depends import Depends

    text = _text(os.path.join(ROOT, "bindep.txt"))
    rules = Depends(text).active_rules(["default", "platform:rpm", "platform:centos", "platform:redhat"])
    assert [rule[0] for rule in rules] == [line.split()[0] for line in _requirement_lines(text)]
