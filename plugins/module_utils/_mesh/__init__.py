# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""The package of the collection's shared code.

A module runs from the zip that AnsiballZ sends, and CPython's zipimport (3.8 to 3.13 at least) compiles a module's
source twice: once when ``find_spec`` asks for its file name (``get_filename`` compiles to find out where the code
comes from) and again in ``get_code``. For this package's files, which a module imports on every run, that doubles
the largest part of a module's start-up. So, when this package itself was imported from a zip, the files below it
are imported by a zipimporter that compiles each source once and hands the same code object to both calls. It
changes nothing else: same archive, same names, same file names in tracebacks; anything it does not recognise
(a file without source, another Python's zipimport) goes to the standard zipimporter.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import sys

try:
    import zipimport
except ImportError:  # pragma: no cover - zipimport is part of every CPython
    zipimport = None


if zipimport is not None:
    class _CompileOnce(zipimport.zipimporter):
        def __init__(self, path):
            super(_CompileOnce, self).__init__(path)
            self._compiled = {}

        def _code(self, fullname):
            if fullname not in self._compiled:
                source = self.get_source(fullname)
                if source is None:
                    return None
                leaf = fullname.rpartition(".")[2]
                tail = leaf + ("/__init__.py" if self.is_package(fullname) else ".py")
                filename = "/".join((self.archive, self.prefix.rstrip("/"), tail)) if self.prefix else (
                    "/".join((self.archive, tail)))
                self._compiled[fullname] = (compile(source, filename, "exec", dont_inherit=True), filename)
            return self._compiled[fullname]

        def get_filename(self, fullname):
            found = self._code(fullname)
            return found[1] if found else super(_CompileOnce, self).get_filename(fullname)

        def get_code(self, fullname):
            found = self._code(fullname)
            # Once a module is loaded nothing asks for its code again: drop it so the cache holds no memory.
            return self._compiled.pop(fullname)[0] if found else super(_CompileOnce, self).get_code(fullname)


def _install():
    loader = getattr(globals().get("__spec__"), "loader", None)
    if zipimport is None or not isinstance(loader, zipimport.zipimporter):
        return
    for entry in list(globals().get("__path__") or []):
        try:
            sys.path_importer_cache[entry] = _CompileOnce(entry)
        except Exception:  # pylint: disable=broad-except
            pass  # the standard zipimporter stays in place


_install()
