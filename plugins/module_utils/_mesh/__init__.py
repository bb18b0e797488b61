# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""The package of the collection's shared code.

A module runs from the zip that AnsiballZ sends, and CPython's zipimport compiles a module's source twice: once
when ``find_spec`` asks for its file name (``get_filename`` compiles to find out where the code comes from) and
again in ``get_code``. For this package's files, which a module imports on every run, that doubles the largest
part of a module's start-up. So, when this package itself was imported from a zip, its files are imported by a
zipimporter that compiles each source once and hands the same code object to both calls: same archive, same
names, same file names in tracebacks; a file without source goes to the standard zipimporter. Imported from
files (tests, the controller's filters), nothing is installed.

It lives here, not in ``plugins/module_utils/__init__.py``: AnsiballZ ships that file (and every package above
it) empty, whatever it holds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import sys
import zipimport


class _CompileOnce(zipimport.zipimporter):
    def __init__(self, path):
        super(_CompileOnce, self).__init__(path)
        self._compiled = {}

    def _code(self, fullname):
        if fullname not in self._compiled:
            source = self.get_source(fullname)
            if source is None:
                return None
            tail = fullname.rpartition(".")[2] + ("/__init__.py" if self.is_package(fullname) else ".py")
            filename = "%s/%s%s" % (self.archive, self.prefix, tail)
            self._compiled[fullname] = (compile(source, filename, "exec", dont_inherit=True), filename)
        return self._compiled[fullname]

    def get_filename(self, fullname):
        found = self._code(fullname)
        return found[1] if found else super(_CompileOnce, self).get_filename(fullname)

    def get_code(self, fullname):
        found = self._code(fullname)
        # Nothing asks for a loaded module's code again: drop it, so the cache holds no memory.
        return self._compiled.pop(fullname)[0] if found else super(_CompileOnce, self).get_code(fullname)


if isinstance(getattr(__spec__, "loader", None), zipimport.zipimporter):
    for _entry in __path__:
        sys.path_importer_cache[_entry] = _CompileOnce(_entry)
