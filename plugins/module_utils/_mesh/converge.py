# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Read-modify-write that never loses a concurrent update.

``spec.http`` is an atomic list for server-side apply, so two jobs editing
different routes of one VirtualService would overwrite each other. Instead we
read the object, apply our change to what we read, and write it back with the
resourceVersion we read; on a 409 we read again and re-apply the same change.

Every write also leaves what undo needs: an object the collection creates is
marked as its own, and before the first change to a VirtualService someone else
created, its spec is saved in an annotation that ``virtual_service`` can restore.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import random
import time

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.api import Conflict
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import normalize, same, strip
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

MAX_CONFLICTS = 25
_UNREAD = object()

MANAGED_BY = "servicemesh.ack.io/managed-by"
MANAGER = "ack.servicemesh"
PREVIOUS_SPEC = "servicemesh.ack.io/previous-spec"
# Kinds whose spec is saved before the collection first changes someone else's object.
UNDO_KINDS = ("VirtualService",)


def annotations_of(obj):
    return ((obj or {}).get("metadata") or {}).get("annotations") or {}


def is_managed(obj):
    return annotations_of(obj).get(MANAGED_BY) == MANAGER


def prepare_write(kind, live, wanted):
    """Add the undo annotations to an object about to be written; call only when something changes.

    A new object is marked ``managed-by``. An existing VirtualService the
    collection did not create gets its current spec saved, once: a later change
    keeps the first saved spec, so undo always goes back to what its owner had.
    ``restore`` removes the annotation, and the live object then still carries
    it, so a restore is never saved over. Being written only together with a
    real change, the annotations never make a run that changes nothing report
    a change.
    """
    if wanted is None:
        return None
    if live is None:
        metadata = wanted.setdefault("metadata", {})
        metadata["annotations"] = dict(metadata.get("annotations") or {}, **{MANAGED_BY: MANAGER})
    elif (kind in UNDO_KINDS and not is_managed(live) and PREVIOUS_SPEC not in annotations_of(live)
          and normalize(live.get("spec")) != normalize(wanted.get("spec"))):
        metadata = wanted.setdefault("metadata", {})
        saved = json.dumps(live.get("spec") or {}, sort_keys=True, separators=(",", ":"))
        metadata["annotations"] = dict(metadata.get("annotations") or {}, **{PREVIOUS_SPEC: saved})
    return wanted


class Outcome:
    def __init__(self, action, before, after):
        self.action = action
        self.before = before
        self.after = after

    @property
    def changed(self):
        return self.action != "unchanged"

    def diff(self):
        return {"before": strip(self.before), "after": strip(self.after)}


def converge(resources, namespace, name, change, check_mode=False, live=_UNREAD, max_conflicts=MAX_CONFLICTS,
             sleep=time.sleep):
    """Apply ``change`` until the object converges.

    ``change(live)`` gets a private copy of the live object (None when absent)
    and returns the wanted object (None for absent). It must be a pure function
    of what it is given and raise MeshError on bad input, so a retry after a
    conflict re-applies exactly the same intent and bad input writes nothing.
    ``live`` lets a caller that already read the object skip the first GET.
    """
    for attempt in range(max_conflicts):
        if attempt or live is _UNREAD:
            live = resources.get(namespace, name)
        wanted = change(copy.deepcopy(live))
        if same(live, wanted):
            return Outcome("unchanged", live, live)
        wanted = prepare_write(getattr(resources, "kind", None), live, wanted)
        try:
            if wanted is None:
                resources.delete(live, dry_run=check_mode)
                return Outcome("deleted", live, None)
            if live is None:
                wanted.setdefault("metadata", {}).update({"name": name, "namespace": namespace})
                wanted["metadata"].pop("resourceVersion", None)
                return Outcome("created", None, resources.create(wanted, dry_run=check_mode))
            return Outcome("updated", live, resources.replace(wanted, dry_run=check_mode))
        except Conflict:
            # Someone wrote in between: back off a little so concurrent writers spread out.
            sleep(random.uniform(0, min(1.0, 0.02 * (2 ** min(attempt, 6)))))
    raise MeshError("%s kept changing under us: gave up after %d conflicting writes"
                    % (resources.describe(namespace, name), max_conflicts), reason="Conflict", status=409)
