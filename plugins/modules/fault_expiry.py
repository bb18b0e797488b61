#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: fault_expiry
short_description: Remove the fault routes whose expiry has passed
version_added: 0.1.0
description:
  - Lists the VirtualServices of a namespace and removes every fault route whose expiry annotation
    C(servicemesh.ack.io/fault-expires.<route name>) (written by M(ack.servicemesh.fault_injection) with
    C(expires_in) or C(expires_at)) lies in the past, together with the annotation. Other routes, and faults
    that have not expired, are left exactly as they are.
  - An annotation whose route is gone, or no longer injects a fault, is removed as well, so it cannot later
    expire a fault that someone injected again without an expiry.
  - An annotation that is not an RFC 3339 time is left alone and reported with a warning.
  - One LIST of VirtualServices when nothing has expired; each change is a read-modify-write that re-reads and
    re-applies on a conflict, so a concurrent edit of another route is never lost.
  - Meant to run on a schedule (an AWX schedule of C(playbooks/expire_faults.yml)), as the safety net for faults
    whose job was killed or forgotten.
author:
  - ack.servicemesh contributors (@ack-servicemesh)
extends_documentation_fragment:
  - ack.servicemesh.auth
  - ack.servicemesh.attributes
options:
  namespace:
    description: Namespace to clean up. Defaults to the kubeconfig context's namespace, else V(default).
    type: str
"""

EXAMPLES = r"""
- name: Remove expired faults from the bookinfo namespace
  ack.servicemesh.fault_expiry:
    namespace: bookinfo
  register: expiry

- name: Say what was removed
  ansible.builtin.debug:
    msg: "{{ expiry.expired }}"
"""

RETURN = r"""
expired:
  description: The fault routes removed because their expiry passed.
  returned: always
  type: list
  elements: dict
  sample: [{"virtual_service": "ratings", "route": "fault-injection", "expires_at": "2026-08-01T18:00:00Z"}]
stale:
  description: Expiry annotations removed because their route is gone or injects no fault any more.
  returned: always
  type: list
  elements: dict
  sample: [{"virtual_service": "ratings", "route": "fault-injection", "expires_at": "2026-08-01T18:00:00Z"}]
pending:
  description: Faults whose expiry has not passed yet.
  returned: always
  type: list
  elements: dict
  sample: [{"virtual_service": "reviews", "route": "game-day", "expires_at": "2026-08-02T09:00:00Z"}]
api_version:
  description: The C(networking.istio.io) version used.
  returned: always
  type: str
  sample: v1
"""

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import strip
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.converge import converge
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import task_warnings
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.expiry import PREFIX, expiries, parse_time, utcnow
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module import MeshModule
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.routes import has_fault, istio_warnings, remove_fault


def sort_out(obj, now):
    """What to do with each expiry annotation of one VirtualService: (expired, stale, pending, invalid)."""
    http = (obj.get("spec") or {}).get("http") or []
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    result = ([], [], [], [])
    for route, (key, value) in sorted(expiries(annotations).items()):
        entry = {"virtual_service": obj["metadata"]["name"], "route": route, "expires_at": value}
        # A fault for every request is on the default route (fault_injection), not on a route of its name.
        if not has_fault(http, annotations, route):
            result[1].append(entry)
            continue
        try:
            moment = parse_time(value)
        except ValueError:
            result[3].append(entry)
            continue
        result[0 if moment <= now else 2].append(entry)
    return result


def without(obj, entries):
    """The VirtualService without these routes and their annotations."""
    http = (obj.get("spec") or {}).get("http") or []
    annotations = obj["metadata"].get("annotations") or {}
    for entry in entries:
        http = remove_fault(http, annotations, entry["route"])
        annotations.pop(PREFIX + entry["route"], None)
    obj["spec"]["http"] = http
    obj["metadata"]["annotations"] = annotations
    return obj


def expire(mesh, resources, namespace, live, now):
    """Remove the expired and stale fault routes of one VirtualService; returns (outcome, what was removed)."""
    done = {"expired": [], "stale": []}
    warnings = task_warnings(mesh)

    def change(current):
        # Decided again on what is read now: after a conflict the fault may have been changed meanwhile.
        done.update(expired=[], stale=[])
        if current is None:
            return None
        expired, stale = sort_out(current, now)[:2]
        done.update(expired=expired, stale=stale)
        wanted = without(current, expired + stale)
        istio_warnings(wanted["spec"], warnings, resources.version, namespace)
        return wanted

    outcome = converge(resources, namespace, live["metadata"]["name"], change, check_mode=mesh.check_mode, live=live)
    return outcome, done


def run(mesh):
    now = utcnow()
    resources = mesh.resources("VirtualService")
    namespace = mesh.namespace()
    report = {"expired": [], "stale": [], "pending": []}
    diffs = []
    for live in resources.list(namespace):
        expired, stale, pending, invalid = sort_out(live, now)
        report["pending"].extend(pending)
        for entry in invalid:
            mesh.module.warn("VirtualService %s/%s: the annotation %s%s is not an RFC 3339 time (got %r); the "
                             "fault is left in place" % (namespace, entry["virtual_service"], PREFIX, entry["route"],
                                                         entry["expires_at"]))
        if not expired and not stale:
            continue
        outcome, done = expire(mesh, resources, namespace, live, now)
        report["expired"].extend(done["expired"])
        report["stale"].extend(done["stale"])
        if outcome.changed:
            name = "VirtualService/%s" % live["metadata"]["name"]
            diffs.append({"before_header": name, "after_header": name, "before": strip(outcome.before),
                          "after": strip(outcome.after)})
    result = dict(changed=bool(diffs), api_version=mesh.api_version, **report)
    if mesh.diff_mode:
        result["diff"] = diffs
    mesh.module.exit_json(**result)


def main():
    mesh = MeshModule(argument_spec=dict(namespace=dict(type="str")), supports_check_mode=True)
    mesh.run(run)


if __name__ == "__main__":
    main()
