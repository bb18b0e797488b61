# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""What ack_kubeconfig and asm_kubeconfig share once they hold a kubeconfig: mask, write, report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import os
import re
import stat
import tempfile

from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

FILE_MODE = 0o600

# kubeconfig keys whose values grant access to a cluster.
_SECRET_KEYS = ("token", "client-key-data", "client-certificate-data", "password", "id-token", "refresh-token",
                "access-token", "client-secret")
_SECRET_LINE = re.compile(
    r"""^[ \t-]*["']?(?:%s)["']?[ \t]*:[ \t]*["']?([^"'\s,}]+)""" % "|".join(re.escape(k) for k in _SECRET_KEYS),
    re.MULTILINE)
_MIN_SECRET_LENGTH = 8  # shorter values would mask unrelated text everywhere


def secret_values(content):
    """The credential values in a kubeconfig (YAML or JSON), found without a YAML parser on the target."""
    return sorted(set(v for v in _SECRET_LINE.findall(content or "") if len(v) >= _MIN_SECRET_LENGTH))


def fingerprint(content):
    return "sha256:" + hashlib.sha256(to_bytes(content)).hexdigest()


class _FileState:
    def __init__(self, path):
        self.path = path
        try:
            info = os.stat(path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise MeshError("cannot read %s: %s" % (path, exc.strerror), field="dest", value=path)
            self.exists, self.data, self.mode = False, None, None
            return
        if stat.S_ISDIR(info.st_mode):
            raise MeshError("is a directory; give the path of the kubeconfig file", field="dest", value=path)
        self.exists = True
        self.mode = stat.S_IMODE(info.st_mode)
        try:
            with open(path, "rb") as handle:
                self.data = handle.read()
        except (IOError, OSError) as exc:
            raise MeshError("cannot read %s: %s" % (path, exc.strerror), field="dest", value=path)

    def describe(self):
        if not self.exists:
            return ""
        return "fingerprint: sha256:%s\nmode: '%04o'\n" % (hashlib.sha256(self.data).hexdigest(), self.mode)


def _write_atomically(path, data):
    """Write through a private temporary file and rename it into place.

    AnsibleModule.atomic_move() widens a new file to the umask's mode after the
    rename, which would expose the credentials for a moment, so this renames itself.
    """
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path), suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, FILE_MODE)
        os.rename(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def sync_file(path, content, check_mode=False):
    """Make ``path`` hold ``content`` with mode 0600. Returns (changed, diff); diff shows fingerprints only."""
    path = os.path.realpath(path)
    data = to_bytes(content)
    before = _FileState(path)
    same_data = before.exists and before.data == data
    changed = not (same_data and before.mode == FILE_MODE)
    after_text = "fingerprint: %s\nmode: '%04o'\n" % (fingerprint(content), FILE_MODE)
    diff = dict(before_header=path, after_header=path, before=before.describe(), after=after_text)
    if changed and not check_mode:
        try:
            if same_data:
                os.chmod(path, FILE_MODE)
            else:
                _write_atomically(path, data)
        except (IOError, OSError) as exc:
            raise MeshError("cannot write %s: %s" % (path, exc.strerror or exc), field="dest", value=path)
    return changed, diff


def deliver(module, kubeconfig, dest=None, return_content=False):
    """Register the kubeconfig's secrets as no_log values, write ``dest`` if given, and build the result."""
    for value in secret_values(kubeconfig.content):
        module.no_log_values.add(value)
    result = dict(changed=False, fingerprint=fingerprint(kubeconfig.content))
    if kubeconfig.expiration:
        result["expiration"] = kubeconfig.expiration
    if kubeconfig.request_id:
        result["request_id"] = kubeconfig.request_id
    if dest:
        changed, diff = sync_file(dest, kubeconfig.content, check_mode=module.check_mode)
        result.update(changed=changed, dest=dest)
        if module._diff:
            result["diff"] = diff
    if return_content:
        result["kubeconfig"] = kubeconfig.content
    return result
