"""Istio's own verdict on VirtualServices and DestinationRules, from Istio's code.

`istio-validate/` is a small Go program, a module of its own whose only direct
requirement is the `istio.io/istio` pinned for istiod in go.mod next to this file (its
own go.mod lists the indirect ones `go mod tidy` chose, so istiod's build is untouched);
it compiles the very validation code that scripts/mesh runs. It is
built into the cache beside pilot-discovery, under a name that carries a hash of its
source, so an edited program gets rebuilt and an unchanged one never is.

`Oracle` keeps one process running and feeds it batches of objects: one JSON line in,
one verdict line out ({"errors": [...], "warnings": [...], "decode_error": ...}).
"""

import hashlib
import json
import os
import subprocess
import threading
import time

from . import control, versions

HERE = os.path.dirname(os.path.realpath(__file__))
SOURCE_DIR = os.path.join(HERE, "istio-validate")


def _source_digest():
    digest = hashlib.sha256()
    for name in sorted(os.listdir(SOURCE_DIR)):
        if name.endswith(".go") or name in ("go.mod", "go.sum"):
            with open(os.path.join(SOURCE_DIR, name), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    return digest.hexdigest()[:12]


def binary():
    return os.path.join(control.cache_dir(), "istio-validate-%s" % _source_digest())


def build():
    """Compiles the oracle into the cache unless it is there. Returns the seconds spent, or None."""
    target = binary()
    if os.path.exists(target):
        return None
    go = control.testenv.find_go()
    with control._locked("mesh-build"):  # shares istiod's Go build cache: one build at a time
        if os.path.exists(target):
            return None
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = "%s.tmp-%d" % (target, os.getpid())
        started = time.monotonic()
        env = dict(os.environ, GOFLAGS="-mod=readonly")
        argv = ["nice", "-n", "19", go, "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, "."]
        proc = subprocess.run(argv, cwd=SOURCE_DIR, env=env, check=False)
        if proc.returncode != 0:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise control.MeshError("go build of istio-validate (%s@%s) failed (exit %d)"
                                    % (versions.ISTIO_MODULE, versions.ISTIO_MODULE_VERSION, proc.returncode))
        os.replace(tmp, target)
        return time.monotonic() - started


class Oracle:
    """One long-lived istio-validate process; `judge(objects)` returns one verdict per object."""

    def __init__(self, path=None):
        self.path = path or binary()
        self.proc = subprocess.Popen([self.path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     bufsize=1 << 20)

    BATCH = 500

    def judge(self, objects):
        """Verdicts for ``objects``, in order; sent in batches, so memory stays bounded."""
        verdicts = []
        for start in range(0, len(objects), self.BATCH):
            verdicts.extend(self._judge_batch(objects[start:start + self.BATCH]))
        return verdicts

    def _judge_batch(self, objects):
        payload = b"".join(json.dumps(obj, separators=(",", ":")).encode() + b"\n" for obj in objects)

        def feed():  # in a thread, so that neither pipe can fill up while the other waits
            self.proc.stdin.write(payload)
            self.proc.stdin.flush()

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        verdicts = []
        while len(verdicts) < len(objects):
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("istio-validate exited (code %s)" % self.proc.poll())
            verdicts.append(json.loads(line))
        writer.join()
        return verdicts

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
