# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""The one error type every helper of the collection raises."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

_UNSET = object()


def format_value(value):
    """Render a user value the way messages quote it: strings quoted, the rest as JSON-ish text."""
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return repr(value)


class Problem:
    """One thing wrong with the input: where, what was given, and why it is wrong."""

    __slots__ = ("field", "value", "message", "unplaced")

    def __init__(self, field, message, value=_UNSET):
        self.field = field
        self.message = message
        self.value = value
        # The name of a route that is not in the VirtualService yet: its field's index is where it would go.
        self.unplaced = None

    def has_value(self):
        return self.value is not _UNSET

    def __str__(self):
        text = "%s: %s" % (self.field, self.message) if self.field else self.message
        if self.has_value():
            text += " (got %s)" % format_value(self.value)
        if self.unplaced is not None:
            text += " (route %s is not in the VirtualService yet)" % format_value(self.unplaced)
        return text

    def as_dict(self):
        data = {"field": self.field, "message": self.message}
        if self.has_value():
            data["value"] = self.value
        return data

    def __eq__(self, other):
        return isinstance(other, Problem) and (self.field, self.message, self.value) == (
            other.field, other.message, other.value)

    def __repr__(self):
        return "Problem(%r)" % str(self)


class MeshError(Exception):
    """Raised by every helper; main() turns it into one fail_json.

    ``problems`` lists every input problem found (validation reports them all at
    once); ``status`` and ``reason`` carry the HTTP status and Kubernetes reason
    when the error came from the API server; ``extra`` is merged into fail_json.
    """

    def __init__(self, message=None, field=None, value=_UNSET, problems=None, status=None, reason=None, **extra):
        self.problems = list(problems or [])
        if field is not None:
            self.problems.insert(0, Problem(field, message, value))
        if message is None or field is not None:
            message = "; ".join(str(p) for p in self.problems) if self.problems else "unknown error"
        super(MeshError, self).__init__(message)
        self.msg = message
        self.status = status
        self.reason = reason
        self.extra = extra

    def fail_kwargs(self):
        data = dict(self.extra)
        data["msg"] = self.msg
        if self.problems:
            data["problems"] = [p.as_dict() for p in self.problems]
        if self.status is not None:
            data["status"] = self.status
        if self.reason is not None:
            data["reason"] = self.reason
        return data


class Problems:
    """Collects problems so validation can report everything before failing once.

    ``warnings`` holds what Istio accepts but warns about: modules pass them on as task
    warnings; they never fail a task.
    """

    def __init__(self):
        self.items = []
        self.warnings = []

    def add(self, field, message, value=_UNSET):
        self.items.append(Problem(field, message, value))

    def warn(self, field, message, value=_UNSET):
        self.warnings.append(Problem(field, message, value))

    def extend(self, other):
        if isinstance(other, Problems):
            self.items.extend(other.items)
            self.warnings.extend(other.warnings)
        else:
            self.items.extend(other)

    def __bool__(self):
        return bool(self.items)

    __nonzero__ = __bool__

    def __len__(self):
        return len(self.items)

    def raise_if_any(self, prefix=None):
        if self.items:
            msg = "; ".join(str(p) for p in self.items)
            if prefix:
                msg = "%s: %s" % (prefix, msg)
            raise MeshError(msg, problems=self.items)


class TaskWarnings:
    """What Istio accepts but warns about, passed on as task warnings: each one once.

    A change may be applied several times (after a conflict), and one task may
    check the same object more than once; the user hears each warning once.
    """

    def __init__(self, warn):
        self._warn = warn
        self._seen = set()

    def add(self, problems, where=None):
        for warning in problems.warnings if isinstance(problems, Problems) else problems:
            text = "%s: %s" % (where, warning) if where else str(warning)
            if text not in self._seen:
                self._seen.add(text)
                self._warn("Istio warns: %s" % text)


def task_warnings(mesh):
    """The one TaskWarnings of a module run (kept on its MeshModule), so a task repeats no warning."""
    warnings = getattr(mesh, "istio_warnings", None)
    if warnings is None:
        warnings = TaskWarnings(mesh.module.warn)
        mesh.istio_warnings = warnings
    return warnings
