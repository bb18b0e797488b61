# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""When a fault stops: the expiry annotation, written by fault_injection and acted on by fault_expiry.

A VirtualService carries one annotation per fault route that has an expiry:
``servicemesh.ack.io/fault-expires.<route name>: <RFC 3339 time, UTC>``. The
annotation lives on the object, not in a job's memory, so a fault outlives
neither a killed play nor a forgotten one once ``fault_expiry`` runs on a
schedule.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.semantics import duration_ms

PREFIX = "servicemesh.ack.io/fault-expires."
# The name part of an annotation key: at most 63 characters, alphanumeric at both ends.
_KEY_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_SECONDS = re.compile(r"^[0-9]{1,12}$")
UTC = datetime.timezone.utc


def utcnow():
    return datetime.datetime.now(UTC).replace(microsecond=0)


def annotation_key(route_name):
    """The annotation that holds the expiry of this route, or None when the name cannot be part of a key."""
    name = PREFIX.split("/", 1)[1] + (route_name if isinstance(route_name, str) else "")
    if len(name) > 63 or not _KEY_NAME.match(name):
        return None
    return PREFIX + route_name


def format_time(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    """An RFC 3339 time (``2026-08-01T12:00:00Z``, offsets allowed) as an aware datetime; ValueError otherwise."""
    match = _RFC3339.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError("must be an RFC 3339 time such as '2026-08-01T12:00:00Z'")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    zone = match.group(8)
    if zone in ("Z", "z"):
        offset = datetime.timedelta(0)
    else:
        sign = -1 if zone[0] == "-" else 1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError("has an invalid UTC offset %r" % zone)
        offset = sign * datetime.timedelta(hours=hours, minutes=minutes)
    try:
        moment = datetime.datetime(year, month, day, hour, minute, min(second, 59), tzinfo=datetime.timezone(offset))
    except (ValueError, OverflowError) as exc:
        raise ValueError("is not a valid time: %s" % exc)
    return moment.astimezone(UTC)


def expiry_from_params(params, now):
    """The moment a fault should stop, from ``expires_in`` or ``expires_at``; None when neither is set."""
    if params.get("expires_at") is not None:
        try:
            moment = parse_time(params["expires_at"])
        except (ValueError, OverflowError) as exc:
            raise MeshError(str(exc), field="expires_at", value=params["expires_at"])
        if moment <= now:
            raise MeshError("is not in the future (now is %s)" % format_time(now), field="expires_at",
                            value=params["expires_at"])
        return moment
    value = params.get("expires_in")
    if value is None:
        return None
    text = str(value).strip()
    try:
        seconds = int(text) if _SECONDS.match(text) else duration_ms(text) / 1000.0
    except ValueError as exc:
        raise MeshError("%s (or a number of seconds)" % exc, field="expires_in", value=value)
    if seconds < 1:
        raise MeshError("must be at least 1s", field="expires_in", value=value)
    try:
        return now + datetime.timedelta(seconds=int(seconds))
    except OverflowError:
        raise MeshError("is too far in the future", field="expires_in", value=value)


def expiries(annotations):
    """{route name: (annotation key, raw value)} for every expiry annotation."""
    found = {}
    for key, value in (annotations or {}).items():
        if isinstance(key, str) and key.startswith(PREFIX) and len(key) > len(PREFIX):
            found[key[len(PREFIX):]] = (key, value)
    return found


def set_expiry(annotations, key, expires, keep_current, now):
    """Write, keep (``keep_current`` and not yet passed) or drop the expiry annotation of one fault route."""
    if key is None:
        return
    if expires is None:
        annotations.pop(key, None)
        return
    if keep_current:
        try:
            if parse_time(annotations.get(key)) > now:
                return
        except ValueError:
            pass
    annotations[key] = format_time(expires)
