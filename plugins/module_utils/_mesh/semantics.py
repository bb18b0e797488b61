# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""What Istio means by hosts, catch-all routes, destinations and durations: defined once.

Validation, analysis, simulation and route editing all answer the same questions (is
this the same service? which DestinationRule applies? does this route take every
request? how long is "1.5s"?). Two answers to one question disagreed before, so each
lives here and every caller imports it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

CLUSTER_DOMAIN = "svc.cluster.local"

# Match block keys that name or tune a block rather than restrict which requests it takes.
MATCH_LABEL_KEYS = ("name", "statPrefix", "ignoreUriCase")


# ---------------------------------------------------------------------------
# Hosts


def fqdn(host, namespace):
    """Istio expands a short name (no dot) with the namespace of the object that uses it."""
    host = host.lower()
    if "." in host or host.startswith("*"):
        return host
    return "%s.%s.%s" % (host, namespace, CLUSTER_DOMAIN)


def request_fqdn(host, namespace, namespaces=()):
    """The service a Host header names, as the sidecar's virtual host domains resolve it.

    istiod gives a Kubernetes service the domains ``name``, ``name.ns``, ``name.ns.svc``, the FQDN and the FQDN
    with a trailing dot (each also with ``:port``, which is ignored: the route configuration matches hosts
    without their port). ``name.ns`` counts as a service when ``ns`` is one of ``namespaces``.
    """
    host = host.lower().rstrip(".")
    if host.endswith(".svc"):
        return host + ".cluster.local"
    labels = host.split(".")
    if len(labels) == 2 and labels[1] in namespaces:
        return "%s.%s" % (host, CLUSTER_DOMAIN)
    return fqdn(host, namespace)


def short_name(host_fqdn, namespace):
    """``reviews.default.svc.cluster.local`` in namespace ``default`` is ``reviews``; other hosts stay whole."""
    suffix = ".%s.%s" % (namespace, CLUSTER_DOMAIN)
    if host_fqdn.endswith(suffix):
        return host_fqdn[:-len(suffix)]
    return host_fqdn


def canonical_host(host, namespace):
    """Spell a host the way Istio resolves it, so that equal services compare equal.

    A short name means a service in ``namespace``; ``name.<namespace>`` and ``name.<ns>.svc``
    are the same service as ``name.<ns>.svc.cluster.local``. A trailing dot is dropped.
    Without a namespace, short names stay short.
    """
    host = host.lower().rstrip(".")
    labels = host.split(".")
    if namespace:
        if len(labels) == 1 and not host.startswith("*"):
            return fqdn(host, namespace)
        if len(labels) == 2 and labels[1] == namespace:
            return "%s.%s" % (host, CLUSTER_DOMAIN)
    if len(labels) == 3 and labels[2] == "svc":
        return host + ".cluster.local"
    return host


def same_service(first, second):
    """With the namespace unknown, is a short name the same service as a cluster-local FQDN?"""
    def short_of(short, full):
        return ("." not in short and full.startswith(short + ".") and full.endswith("." + CLUSTER_DOMAIN)
                and full.count(".") == 4)
    return first == second or short_of(first, second) or short_of(second, first)


def host_specificity(pattern, host):
    """How well a host pattern (a rule's host) claims ``host``, or None when it does not.

    Istio and Envoy prefer an exact name over any wildcard, and a longer wildcard over a
    shorter one; a higher score is more specific.
    """
    if pattern == host:
        return (2, len(pattern))
    if pattern == "*":
        return (1, 0)
    if pattern.startswith("*") and host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
        return (1, len(pattern))
    return None


def most_specific(host, candidates):
    """Of ``(pattern, item)`` pairs, the items whose pattern claims ``host`` most specifically.

    This is how a sidecar picks the one DestinationRule for a host: ``reviews.ns.svc.cluster.local``
    uses the rule for that name, not ``*.ns.svc.cluster.local``, even when both exist. Ties
    (two rules for the same host) are all returned; the caller decides.
    """
    scored = [(host_specificity(pattern, host), item) for pattern, item in candidates]
    scored = [(score, item) for score, item in scored if score is not None]
    if not scored:
        return []
    best = max(score for score, _item in scored)
    return [item for score, item in scored if score == best]


# ---------------------------------------------------------------------------
# Routes


def condition_takes_all(key, condition):
    """True if a match condition (``uri: {prefix: /}``) holds for every request: any path or any method."""
    if not isinstance(condition, dict):
        return False
    kinds = [kind for kind in ("exact", "prefix", "regex") if kind in condition]
    if not kinds:
        return key in ("uri", "method") and not condition
    if len(kinds) > 1:
        return False
    kind = kinds[0]
    text = condition[kind]
    if key == "uri":
        return (kind == "prefix" and text in ("", "/")) or (kind == "regex" and text in (".*", "/.*"))
    if key == "method":
        return kind == "regex" and text == ".*"
    return False


def match_block_takes_all(block):
    """True if one match block takes every request: no conditions, or only ``uri: {prefix: /}`` and the like."""
    if not isinstance(block, dict):
        return False
    return all(key in MATCH_LABEL_KEYS or condition_takes_all(key, value) for key, value in block.items())


def is_catch_all(route):
    """True if an HTTP route takes every request: no match at all, or a match block that takes all.

    Routes after a catch-all are never reached; the trailing catch-all is a service's default route.
    """
    if not isinstance(route, dict):
        return False
    matches = route.get("match")
    if not matches:
        return True
    if not isinstance(matches, list):
        return False
    return any(match_block_takes_all(block) for block in matches)


def destinations(route, field=""):
    """Yield ``(field, destination)`` for every destination a route sends traffic to, mirrors included.

    Works for http, tcp and tls routes alike; malformed parts are skipped (validation reports them).
    """
    prefix = field + "." if field else ""
    entries = route.get("route") if isinstance(route, dict) else None
    for index, entry in enumerate(entries if isinstance(entries, list) else ()):
        if isinstance(entry, dict) and isinstance(entry.get("destination"), dict):
            yield "%sroute[%d].destination" % (prefix, index), entry["destination"]
    if not isinstance(route, dict):
        return
    if isinstance(route.get("mirror"), dict):
        yield prefix + "mirror", route["mirror"]
    mirrors = route.get("mirrors")
    for index, mirror in enumerate(mirrors if isinstance(mirrors, list) else ()):
        if isinstance(mirror, dict) and isinstance(mirror.get("destination"), dict):
            yield "%smirrors[%d].destination" % (prefix, index), mirror["destination"]


# ---------------------------------------------------------------------------
# Durations

_UNITS_NS = {
    "ns": 1,
    "us": 1000,
    u"\u00b5s": 1000,
    u"\u03bcs": 1000,
    "ms": 1000 * 1000,
    "s": 1000 * 1000 * 1000,
    "m": 60 * 1000 * 1000 * 1000,
    "h": 3600 * 1000 * 1000 * 1000,
}
_MAX_NS = 1 << 63
NS_PER_MS = 1000 * 1000
_DIGITS = "0123456789"


def parse_duration_ns(text):
    """Parse a duration exactly as Go's ``time.ParseDuration`` does (Istio reads durations with it).

    Returns whole nanoseconds (Go truncates finer fractions). Raises ValueError with the reason.
    """
    if not isinstance(text, str):
        raise ValueError("must be a duration string with a unit, such as '7s' or '100ms'")
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise ValueError("must be a duration such as '7s' or '100ms'")
    total = 0
    while rest:
        if not (rest[0] == "." or rest[0] in _DIGITS):
            raise ValueError("must be a duration such as '7s', '1.5s', '100ms' or '1h2m'")
        end = 0
        while end < len(rest) and rest[end] in _DIGITS:
            end += 1
        whole_text, rest = rest[:end], rest[end:]
        whole = int(whole_text) if whole_text else 0
        if whole >= _MAX_NS:
            raise ValueError("is too large for a duration")
        fraction, scale = 0, 1
        post = False
        if rest[:1] == ".":
            rest = rest[1:]
            end = 0
            while end < len(rest) and rest[end] in _DIGITS:
                end += 1
            digits, rest = rest[:end], rest[end:]
            post = bool(digits)
            for digit in digits:
                if fraction * 10 + int(digit) >= _MAX_NS:
                    break  # Go stops adding precision here, and so do we
                fraction, scale = fraction * 10 + int(digit), scale * 10
        if not whole_text and not post:
            raise ValueError("must be a duration such as '7s', '1.5s', '100ms' or '1h2m'")
        end = 0
        while end < len(rest) and rest[end] != "." and rest[end] not in _DIGITS:
            end += 1
        unit, rest = rest[:end], rest[end:]
        if not unit:
            raise ValueError("needs a unit (ns, us, ms, s, m or h), such as '7s'")
        if unit not in _UNITS_NS:
            if not unit.isalpha():
                raise ValueError("must be a duration such as '7s', '1.5s', '100ms' or '1h2m'")
            raise ValueError("has unknown unit %r (use ns, us, ms, s, m or h)" % unit)
        factor = _UNITS_NS[unit]
        if whole > (_MAX_NS - 1) // factor:
            raise ValueError("is too large for a duration")
        value = whole * factor + (fraction * factor) // scale
        total += value
        if total > _MAX_NS - 1 + (1 if negative else 0):
            raise ValueError("is too large for a duration")
    return -total if negative else total


def duration_ms(text):
    """A duration in milliseconds: an int when whole (``'1.5s'`` -> 1500), else a float (``'1.5ms'`` -> 1.5).

    Raises ValueError when ``text`` is not a duration. Whether Istio accepts the value
    (at least 1ms, whole milliseconds) is validation's question, not parsing's.
    """
    nanoseconds = parse_duration_ns(text)
    if nanoseconds % NS_PER_MS == 0:
        return nanoseconds // NS_PER_MS
    return nanoseconds / float(NS_PER_MS)
