# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Writing many objects as one change: every write is proven acceptable before the first one is made.

Each object goes through ``converge()`` starting from what the LIST returned,
so a conflict is re-read and re-applied like any single-object module does.
When more than one object changes, each is first sent as a server-side dry run
(``dryRun=All``: schema, CEL rules and admission webhooks run, nothing is
stored); if the API server refuses any of them, nothing is written. A run that
changes nothing sends no dry run, and in check mode the writes are dry runs
already.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import same, strip
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.converge import converge
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError


class Write:
    """One object of the batch: its resources, the LIST's copy and the pure change to apply."""

    def __init__(self, resources, namespace, name, live, change):
        self.resources = resources
        self.namespace = namespace
        self.name = name
        self.live = live
        self.change = change

    @property
    def key(self):
        return "%s/%s" % (self.resources.kind, self.name)

    def changes(self):
        return not same(self.live, self.change(copy.deepcopy(self.live)))


def write_batch(writes, check_mode=False):
    """Converge every write; returns ({Kind/name: action}, diffs). MeshError before any write if one is refused."""
    pending = [w for w in writes if w.changes()]
    if len(pending) > 1 and not check_mode:
        for write in pending:
            try:
                converge(write.resources, write.namespace, write.name, write.change, check_mode=True, live=write.live)
            except MeshError as err:
                raise MeshError("nothing was written: the API server refused %s %s/%s in a dry run of the %d "
                                "changes: %s" % (write.resources.kind, write.namespace, write.name, len(pending),
                                                 err.msg), problems=err.problems, status=err.status,
                                reason=err.reason)
    actions, diffs = {}, []
    for write in writes:
        if write not in pending:
            actions[write.key] = "unchanged"
            continue
        outcome = converge(write.resources, write.namespace, write.name, write.change, check_mode=check_mode,
                           live=write.live)
        actions[write.key] = outcome.action
        if outcome.changed:
            diffs.append({"before_header": write.key, "after_header": write.key, "before": strip(outcome.before),
                          "after": strip(outcome.after)})
    return actions, diffs
