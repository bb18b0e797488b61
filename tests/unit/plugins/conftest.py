"""Fixtures shared by the _alibaba, module and inventory tests: a fake ACK/ASM OpenAPI on 127.0.0.1, and Ansible
commands pointed at it."""

import json
import os
import subprocess
import sys

import pytest
import yaml

# pytest imports test files with importlib (pytest.ini): the helper beside this file is put on the path here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fake_openapi import ACCESS_KEY_ID, ACCESS_KEY_SECRET, FakeOpenAPI  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
COLLECTIONS = os.path.join(ROOT, "build", "collections")
BIN = os.path.dirname(sys.executable)
CALLBACKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback")


@pytest.fixture
def fake():
    server = FakeOpenAPI().start()
    yield server
    server.stop()


@pytest.fixture
def ansible_env(tmp_path, fake):
    """An environment for Ansible commands: the key pair of the fake cloud, nothing of the real user's."""
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "ANSIBLE_")))
    home = tmp_path / "home"
    home.mkdir()
    env.update(
        HOME=str(home),
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        ANSIBLE_INVENTORY_UNPARSED_FAILED="true",
        ALIBABA_CLOUD_ACCESS_KEY_ID=ACCESS_KEY_ID,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=ACCESS_KEY_SECRET,
        # Never let the credentials chain ask an ECS metadata service: the tests talk to 127.0.0.1 only.
        ALIBABA_CLOUD_ECS_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
    )
    return env


class Run:
    def __init__(self, process, results_file=None):
        self.rc = process.returncode
        self.stdout = process.stdout
        self.stderr = process.stderr
        self.output = process.stdout + process.stderr
        self.results_file = results_file
        self.data = None

    def results(self):
        """Per-task results, in task order, as callbacks saw them."""
        if not self.results_file or not os.path.exists(self.results_file):
            raise AssertionError("no results were recorded (rc=%s):\n%s" % (self.rc, self.output))
        with open(self.results_file) as handle:
            return json.load(handle)


@pytest.fixture
def playbook(tmp_path, ansible_env, fake):
    """Run tasks on localhost with ansible-playbook; connection options point at the fake endpoint."""

    def run(tasks, *args, env=None, connect=True):
        tasks = [dict(dict(ignore_errors=True), **task) for task in tasks]
        if connect:
            for task in tasks:
                for name, options in task.items():
                    if name.startswith("ack.servicemesh."):
                        task[name] = dict(dict(endpoint=fake.endpoint, protocol="http"), **options)
        path = tmp_path / "playbook.yml"
        path.write_text(yaml.safe_dump([dict(hosts="localhost", gather_facts=False, tasks=tasks)]))
        results_file = str(tmp_path / "results.json")
        if os.path.exists(results_file):
            os.unlink(results_file)
        full_env = dict(ansible_env, ANSIBLE_CALLBACK_PLUGINS=CALLBACKS, ANSIBLE_CALLBACKS_ENABLED="record_results",
                        RECORD_RESULTS_FILE=results_file, **(env or {}))
        command = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(path)] + list(args)
        process = subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=300,
                                 cwd=str(tmp_path), check=False)
        return Run(process, results_file)

    return run


@pytest.fixture
def inventory(tmp_path, ansible_env, fake):
    """Run ansible-inventory --list on an ack_clusters source; the Run's ``data`` is the parsed inventory."""

    def run(config, file_name="test.ack_clusters.yml", env=None):
        config = dict(dict(plugin="ack.servicemesh.ack_clusters", endpoint=fake.endpoint, protocol="http"), **config)
        path = tmp_path / file_name
        path.write_text(yaml.safe_dump(config))
        command = [os.path.join(BIN, "ansible-inventory"), "-i", str(path), "--list"]
        process = subprocess.run(command, env=dict(ansible_env, **(env or {})), capture_output=True, text=True,
                                 timeout=300, cwd=str(tmp_path), check=False)
        result = Run(process)
        result.data = _plain(json.loads(result.stdout)) if result.rc == 0 else None
        return result

    return run


def _plain(value):
    """ansible-inventory marks untrusted strings as {"__ansible_unsafe": ...}; tests compare plain values."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return dict((k, _plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
