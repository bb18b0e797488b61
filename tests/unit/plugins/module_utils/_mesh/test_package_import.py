"""The _mesh package imported from a zip as AnsiballZ does: each of its files compiled once, same names."""

import json
import os
import subprocess
import sys
import zipfile

import ansible_collections.ack.servicemesh.plugins.module_utils._mesh as mesh_package

PACKAGE = "ansible_collections/ack/servicemesh/plugins/module_utils"
PROBE_SOURCE = (
    "VALUE = 42\n"
    "\n"
    "\n"
    "def fail():\n"
    "    raise ValueError('from the probe')\n"
)
# Counts the compile() calls per file name; imports a probe and the real errors module from the zip.
DRIVER = r"""
import builtins, collections, json, sys, traceback
sys.path.insert(0, sys.argv[1])
calls = collections.Counter()
real_compile = builtins.compile

def counting(source, filename, *args, **kwargs):
    calls[str(filename)] += 1
    return real_compile(source, filename, *args, **kwargs)

builtins.compile = counting
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import probe, errors
try:
    probe.fail()
except ValueError:
    text = traceback.format_exc()
package = sys.modules["ansible_collections.ack.servicemesh.plugins.module_utils._mesh"]
print(json.dumps({
    "calls": dict(calls), "probe_file": probe.__file__, "value": probe.VALUE, "traceback": text,
    "importer": type(sys.path_importer_cache[package.__path__[0]]).__name__,
    "error_type": errors.MeshError.__name__,
}))
"""


def _payload(folder, init_source):
    path = str(folder / "payload.zip")
    with zipfile.ZipFile(path, "w") as archive:
        for part in ("ansible_collections", "ansible_collections/ack", "ansible_collections/ack/servicemesh",
                     "ansible_collections/ack/servicemesh/plugins", PACKAGE):
            archive.writestr(part + "/__init__.py", "")
        archive.writestr(PACKAGE + "/_mesh/__init__.py", init_source)
        archive.writestr(PACKAGE + "/_mesh/probe.py", PROBE_SOURCE)
        with open(os.path.join(os.path.dirname(mesh_package.__file__), "errors.py")) as handle:
            archive.writestr(PACKAGE + "/_mesh/errors.py", handle.read())
    return path


def _run(folder, init_source):
    folder.mkdir(exist_ok=True)
    path = _payload(folder, init_source)
    out = subprocess.run([sys.executable, "-c", DRIVER, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, check=True, cwd=str(folder), env={"PATH": os.environ["PATH"]})
    return path, json.loads(out.stdout)


def _init_source():
    with open(mesh_package.__file__) as handle:
        return handle.read()


def test_each_file_of_the_package_is_compiled_once_from_a_zip(tmp_path):
    path, got = _run(tmp_path / "ours", _init_source())
    assert got["importer"] == "_CompileOnce"
    for name in ("probe.py", "errors.py"):
        assert got["calls"]["%s/%s/_mesh/%s" % (path, PACKAGE, name)] == 1, name
    assert got["value"] == 42 and got["error_type"] == "MeshError"


def test_the_standard_zipimporter_compiles_twice(tmp_path):
    # The reason for the package's importer: without it (an empty __init__.py) the same import compiles twice.
    path, got = _run(tmp_path / "standard", "")
    assert got["importer"] == "zipimporter"
    assert got["calls"]["%s/%s/_mesh/probe.py" % (path, PACKAGE)] == 2


def test_file_names_and_tracebacks_are_those_of_the_standard_importer(tmp_path):
    path, ours = _run(tmp_path / "ours", _init_source())
    standard_path, standard = _run(tmp_path / "standard", "")
    assert ours["probe_file"] == "%s/%s/_mesh/probe.py" % (path, PACKAGE)
    assert standard["probe_file"] == "%s/%s/_mesh/probe.py" % (standard_path, PACKAGE)
    # The traceback shows the probe's source line, read back from the zip.
    assert "raise ValueError('from the probe')" in ours["traceback"]
    assert 'probe.py", line 5, in fail' in ours["traceback"]


def test_outside_a_zip_nothing_is_installed():
    # Imported from files (tests, the controller's filters): the standard importers stay.
    for entry in mesh_package.__path__:
        assert type(sys.path_importer_cache.get(entry)).__name__ != "_CompileOnce"
