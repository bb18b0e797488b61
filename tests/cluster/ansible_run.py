"""Run real ansible-playbook processes and read their JSON results."""

import json
import os
import subprocess
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "results_json",
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    })
    env.update(extra or {})
    return env


class PlayResult:
    def __init__(self, proc):
        self.proc = proc
        self.rc = proc.returncode
        try:
            self.data = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError("ansible-playbook printed no JSON (rc=%s):\n%s\n%s"
                                 % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))

    @property
    def stats(self):
        return self.data["stats"]["localhost"]

    @property
    def changed(self):
        return self.stats["changed"]

    @property
    def failed(self):
        return self.stats["failures"] > 0

    def tasks(self):
        for play in self.data["plays"]:
            for task in play["tasks"]:
                yield task["task"]["name"], task["hosts"]["localhost"]

    def task(self, name=None):
        """The result of the last task (or the last one with this name)."""
        found = [res for task_name, res in self.tasks() if name is None or task_name == name]
        assert found, "no task %r in the play" % name
        return found[-1]


def run_playbook(playbook, extra_vars=None, check=False, diff=False, env=None, verbosity=0):
    cmd = [os.path.join(os.path.dirname(os.sys.executable), "ansible-playbook"), playbook]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    proc = subprocess.run(cmd, cwd=ROOT, env=ansible_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=600, check=False)
    return PlayResult(proc)


def run_module(module, args, check=False, diff=False, env=None, connection=None):
    """Run one module task in its own play; returns (task result, PlayResult)."""
    task = {"name": "under test", module: args}
    play = [{"name": "test", "hosts": "localhost", "gather_facts": False, "tasks": [task]}]
    if connection:
        play[0]["module_defaults"] = {"group/ack.servicemesh.mesh": connection}
    handle, path = tempfile.mkstemp(suffix=".yml", prefix="play-", dir=os.path.join(ROOT, "build"))
    with os.fdopen(handle, "w") as out:
        yaml.safe_dump(play, out)
    try:
        result = run_playbook(path, check=check, diff=diff, env=env)
    finally:
        os.unlink(path)
    return result.task("under test"), result
