"""Istio's CustomResourceDefinitions: fetched once from the Go module proxy, reshaped per profile."""

import copy
import json
import os
import subprocess
import tempfile

from . import versions
from .errors import TestenvError

NETWORKING = "networking.istio.io"


def cache_path(cache_root):
    return os.path.join(cache_root, "istio-api-%s" % versions.ISTIO_API_VERSION, "crds.json")


def fetch(cache_root, go):
    """Downloads the pinned istio.io/api module and keeps its CRDs as JSON, once.

    JSON because PyYAML needs seconds for this 1 MB file, which would otherwise
    be paid on every `up`.
    """
    path = cache_path(cache_root)
    if os.path.exists(path):
        return
    import yaml

    module = "%s@%s" % (versions.ISTIO_API_MODULE, versions.ISTIO_API_VERSION)
    # Run outside any module, so tests/testenv/go.mod stays untouched; the Go
    # module cache checks the download against the checksum database.
    env = dict(os.environ, GOFLAGS="-mod=mod", GO111MODULE="on")
    with tempfile.TemporaryDirectory() as scratch:
        proc = subprocess.run(
            [go, "mod", "download", "-json", module],
            cwd=scratch, env=env, capture_output=True, text=True, check=False,
        )
    try:
        info = json.loads(proc.stdout)
    except ValueError:
        info = {}
    if proc.returncode != 0 or info.get("Error") or not info.get("Dir"):
        raise TestenvError(
            "go mod download %s failed: %s" % (module, info.get("Error") or proc.stderr.strip())
        )
    with open(os.path.join(info["Dir"], versions.ISTIO_CRD_FILE)) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(docs, f)
    os.replace(tmp, path)


def load(cache_root):
    """All of Istio's CRDs, as fetched."""
    with open(cache_path(cache_root)) as f:
        return json.load(f)


def keep_only_version(crds, group, version):
    """CRDs of `group` reduced to `version` alone (served and stored), as an Istio of that era shipped them.

    Kinds that never had that version did not exist then and are dropped; other
    groups are returned unchanged.
    """
    result = []
    for crd in crds:
        if crd["spec"]["group"] != group:
            result.append(crd)
            continue
        kept = [v for v in crd["spec"]["versions"] if v["name"] == version]
        if not kept:
            continue
        crd = copy.deepcopy(crd)
        crd["spec"]["versions"] = [dict(kept[0], served=True, storage=True)]
        result.append(crd)
    return result


def served_resources(crds):
    """{(group, version): {plural, ...}} the API server must list in discovery once the CRDs are established."""
    served = {}
    for crd in crds:
        spec = crd["spec"]
        for v in spec["versions"]:
            if v.get("served"):
                served.setdefault((spec["group"], v["name"]), set()).add(spec["names"]["plural"])
    return served
