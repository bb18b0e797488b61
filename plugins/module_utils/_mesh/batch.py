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

Over a WAN every request is a round trip of its own, so requests that do not
depend on each other go out together (``parallel.run_all``): all dry runs at
once, then the writes level by level. A level is written only once every write
of the level before it has succeeded, which keeps the order that matters
(mesh_routing: DestinationRules, whose subsets the VirtualServices route to,
before the VirtualServices); within a level there is no order.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import same, strip
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.converge import converge
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.parallel import MAX_WORKERS, run_all


class Write:
    """One object of the batch: its resources, the LIST's copy, the pure change to apply and its level."""

    def __init__(self, resources, namespace, name, live, change, level=0):
        self.resources = resources
        self.namespace = namespace
        self.name = name
        self.live = live
        self.change = change
        self.level = level

    @property
    def key(self):
        return "%s/%s" % (self.resources.kind, self.name)

    def changes(self):
        return not same(self.live, self.change(copy.deepcopy(self.live)))

    def converge(self, check_mode):
        return converge(self.resources, self.namespace, self.name, self.change, check_mode=check_mode,
                        live=self.live)


def _dry_run(write, count):
    try:
        return write.converge(check_mode=True)
    except MeshError as err:
        raise MeshError("nothing was written: the API server refused %s %s/%s in a dry run of the %d changes: %s"
                        % (write.resources.kind, write.namespace, write.name, count, err.msg),
                        problems=err.problems, status=err.status, reason=err.reason)


def levels(writes, check_mode=False):
    """The writes in the order they are made: lists of writes sent together, lowest level first.

    In check mode every write is a dry run and nothing is stored, so nothing waits for anything: one list.
    """
    if check_mode:
        return [list(writes)] if writes else []
    return [[w for w in writes if w.level == level] for level in sorted(set(w.level for w in writes))]


def write_batch(writes, check_mode=False, workers=MAX_WORKERS):
    """Converge every write; returns ({Kind/name: action}, diffs). MeshError before any write if one is refused.

    The error of a refused dry run or write is the one of the first such write in the order given.
    """
    pending = [w for w in writes if w.changes()]
    if len(pending) > 1 and not check_mode:
        run_all([lambda w=w: _dry_run(w, len(pending)) for w in pending], workers)
    outcomes = {}
    for group in levels(pending, check_mode):
        done = run_all([lambda w=w: w.converge(check_mode) for w in group], workers)
        outcomes.update(zip(group, done))
    actions, diffs = {}, []
    for write in writes:
        outcome = outcomes.get(write)
        if outcome is None:
            actions[write.key] = "unchanged"
            continue
        actions[write.key] = outcome.action
        if outcome.changed:
            diffs.append({"before_header": write.key, "after_header": write.key, "before": strip(outcome.before),
                          "after": strip(outcome.after)})
    return actions, diffs
