# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Normalisation and comparison of Istio objects."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

# Fields the API server owns; they never count as a difference and never show in a diff.
SERVER_METADATA = ("resourceVersion", "managedFields", "generation", "uid", "creationTimestamp", "selfLink")


def normalize(value):
    """JSON has one number type: 100 and 100.0 are the same weight. None means absent."""
    if isinstance(value, dict):
        return dict((k, normalize(v)) for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def strip(obj):
    """The object as a user cares about it: no status, no server bookkeeping."""
    if obj is None:
        return {}
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    metadata = obj.get("metadata") or {}
    for key in SERVER_METADATA:
        metadata.pop(key, None)
    annotations = metadata.get("annotations")
    if annotations is not None:
        annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
        if not annotations:
            metadata.pop("annotations")
    return normalize(obj)


def same(live, desired):
    """True when writing desired would change nothing a user can see."""
    if live is None or desired is None:
        return live is None and desired is None
    return strip(live) == strip(desired)


def canonical_vs_spec(spec):
    """A VirtualService spec reduced to what decides routing, for conformance checks.

    Route names are labels for people and Envoy stats only; one destination
    with weight 100 is the same as one without a weight; the deprecated
    integer ``percent`` of a delay means the same as ``percentage.value``.
    """
    spec = normalize(copy.deepcopy(spec or {}))
    for route in spec.get("http") or []:
        route.pop("name", None)
        dests = route.get("route") or []
        if len(dests) == 1 and dests[0].get("weight") in (None, 100):
            dests[0].pop("weight", None)
        fault = route.get("fault") or {}
        for kind in ("delay", "abort"):
            part = fault.get(kind)
            if isinstance(part, dict) and "percent" in part and kind == "delay":
                part["percentage"] = {"value": part.pop("percent")}
    return spec
