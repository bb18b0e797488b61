# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Pure builders: module parameters in, Istio objects (as the API stores them) out."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import Problems


def new_object(api_version, kind, name, namespace):
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": {}}


def merge_metadata(obj, labels=None, annotations=None):
    """Add our labels and annotations; keep everybody else's."""
    metadata = obj.setdefault("metadata", {})
    for key, wanted in (("labels", labels), ("annotations", annotations)):
        if wanted:
            current = metadata.get(key) or {}
            current.update(dict((str(k), str(v)) for k, v in wanted.items()))
            metadata[key] = current
    return obj


def subsets_from_param(value, field="subsets", problems=None):
    """Accept `{v1: {version: v1}}` or `[{name: v1, labels: {...}, traffic_policy: {...}}]`."""
    problems = problems if problems is not None else Problems()
    if value is None:
        return None, problems
    if isinstance(value, dict):
        value = [{"name": name, "labels": labels} for name, labels in value.items()]
    elif not isinstance(value, list):
        problems.add(field, "must be a list of subsets or a mapping of subset name to labels", value)
        return None, problems
    subsets = []
    for index, item in enumerate(value):
        where = "%s[%d]" % (field, index)
        if not isinstance(item, dict):
            problems.add(where, "must be a mapping with name and labels", item)
            continue
        unknown = sorted(set(item) - set(["name", "labels", "traffic_policy", "trafficPolicy"]))
        if unknown:
            problems.add(where, "unknown keys %s (known: name, labels, traffic_policy)" % ", ".join(unknown), item)
        subset = {"name": item.get("name")}
        if item.get("labels") is not None:
            subset["labels"] = item["labels"]
        policy = item.get("traffic_policy", item.get("trafficPolicy"))
        if policy is not None:
            subset["trafficPolicy"] = policy
        subsets.append(subset)
    return subsets, problems


def translate_legacy_fault(http, warn=None):
    """Rewrite Istio 0.8-era fault percentages as `percentage: {value: N}`.

    Current API servers prune `abort.percent` (removed in Istio 1.5), so an
    abort written the old way would silently never fire.
    """
    http = copy.deepcopy(http)
    for index, route in enumerate(http or []):
        fault = route.get("fault") if isinstance(route, dict) else None
        if not isinstance(fault, dict):
            continue
        for kind in ("delay", "abort"):
            part = fault.get(kind)
            if isinstance(part, dict) and "percent" in part and "percentage" not in part:
                part["percentage"] = {"value": part.pop("percent")}
                if warn:
                    warn("http[%d].fault.%s.percent is the Istio 0.8 form; written as percentage.value" % (index, kind))
    return http
