"""The ansible-core range meta/runtime.yml promises is the one `make test` tests: oldest in .venv, newest in
build/venv-ansible-newest (requirements-ansible-newest.txt)."""

import os
import re

import yaml
from ansible.release import __version__ as running
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", ".."))


def pinned(filename):
    with open(os.path.join(ROOT, filename)) as handle:
        return Version(re.search(r"^ansible-core==(\S+)$", handle.read(), re.M).group(1))


def promised():
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as handle:
        return SpecifierSet(yaml.safe_load(handle)["requires_ansible"])


def test_the_oldest_promised_release_is_the_one_the_main_suites_run():
    oldest = pinned("requirements-dev.txt")
    assert oldest in promised()
    assert Version("%d.%d.0" % (oldest.major, oldest.minor - 1)) not in promised()
    assert ">=%d.%d.0" % (oldest.major, oldest.minor) in str(promised())


def test_the_newest_promised_release_is_the_one_make_ansible_newest_runs():
    newest = pinned("requirements-ansible-newest.txt")
    assert newest in promised()
    assert Version("%d.%d.0" % (newest.major, newest.minor + 1)) not in promised()


def test_these_tests_run_on_a_promised_release():
    assert Version(running) in promised()
