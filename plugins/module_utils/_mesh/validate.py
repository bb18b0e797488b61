# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Check Istio VirtualService and DestinationRule specs before they are written.

Istio's validating webhook fails open until istiod patches it and the API
server prunes unknown fields without a word, so a wrong rule can be stored and
silently do nothing. These pure functions apply Istio's own rules to a spec as
the API server stores it (camelCase JSON as dicts and lists) and collect every
problem in a ``Problems``; callers decide when to ``raise_if_any()``.

The validators never raise on odd input: a wrong type anywhere is reported as a
problem at its field path, like any other mistake.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re
import warnings
from fractions import Fraction

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import Problems

try:
    import re2 as _re2
except ImportError:
    _re2 = None


# Field names per level, as the CRD schema knows them. The API server prunes any
# other key, so an unknown key is a setting the user believes in that will not exist.
VIRTUAL_SERVICE_KEYS = ("hosts", "gateways", "http", "tls", "tcp", "exportTo")
HTTP_ROUTE_KEYS = ("name", "match", "route", "redirect", "directResponse", "delegate", "rewrite", "timeout",
                   "retries", "fault", "mirror", "mirrors", "mirrorPercent", "mirrorPercentage", "corsPolicy",
                   "headers")
MATCH_KEYS = ("name", "uri", "scheme", "method", "authority", "headers", "port", "sourceLabels", "gateways",
              "queryParams", "ignoreUriCase", "withoutHeaders", "sourceNamespace", "statPrefix")
STRING_MATCH_KEYS = ("exact", "prefix", "regex")
HTTP_ROUTE_DESTINATION_KEYS = ("destination", "weight", "headers")
ROUTE_DESTINATION_KEYS = ("destination", "weight")
DESTINATION_KEYS = ("host", "subset", "port")
PORT_SELECTOR_KEYS = ("number",)
FAULT_KEYS = ("delay", "abort")
DELAY_KEYS = ("fixedDelay", "exponentialDelay", "percentage", "percent")
ABORT_KEYS = ("httpStatus", "grpcStatus", "http2Error", "percentage")
PERCENTAGE_KEYS = ("value",)
HEADERS_KEYS = ("request", "response")
HEADER_OPERATION_KEYS = ("set", "add", "remove")
DESTINATION_RULE_KEYS = ("host", "trafficPolicy", "subsets", "exportTo", "workloadSelector")
SUBSET_KEYS = ("name", "labels", "trafficPolicy")

GRPC_STATUS_NAMES = (
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
)

RETRY_ON_POLICIES = (
    "5xx", "gateway-error", "reset", "connect-failure", "envoy-ratelimited", "retriable-4xx", "refused-stream",
    "retriable-status-codes", "retriable-headers", "cancelled", "deadline-exceeded", "internal",
    "resource-exhausted", "unavailable", "http3-post-connect-failure", "reset-before-request",
)

# Istio accepts a retryOn status code only if Go's http.StatusText knows it, so the
# set is Go's list, not every number from 100 to 599.
KNOWN_HTTP_STATUS_CODES = frozenset(
    [100, 101, 102, 103]
    + list(range(200, 209)) + [226]
    + list(range(300, 306)) + [307, 308]
    + list(range(400, 419)) + [421, 422, 423, 424, 425, 426, 428, 429, 431, 451]
    + list(range(500, 509)) + [510, 511]
)

MESH_GATEWAY = "mesh"
MAX_REGEX_LENGTH = 1024
INT32_MAX = 2 ** 31 - 1

DNS1123_LABEL_MESSAGE = ("must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with "
                         "a letter or digit, at most 63 characters)")
DNS1123_SUBDOMAIN_MESSAGE = ("must be a DNS-1123 subdomain (dot-separated DNS-1123 labels, at most 253 "
                             "characters)")

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_WILDCARD_LABEL = re.compile(r"\*|(\*|\*-)?[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
# RFC 7230 token: what may appear in a header field name.
_HEADER_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# Istio lets a gateway route match on JWT claims through this pseudo header.
_JWT_CLAIM_PREFIX = "@request.auth.claims."

_DURATION_UNITS_NS = {
    "ns": 1,
    "us": 1000,
    u"\u00b5s": 1000,
    u"\u03bcs": 1000,
    "ms": 1000 * 1000,
    "s": 1000 * 1000 * 1000,
    "m": 60 * 1000 * 1000 * 1000,
    "h": 3600 * 1000 * 1000 * 1000,
}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([a-z\u00b5\u03bc]+)")
# Longer text is never a sensible duration, and bounding it keeps int() away from huge digit strings.
_MAX_DURATION_TEXT = 64
_MAX_DURATION_NS = 2 ** 63 - 1
_NS_PER_MS = 1000 * 1000

# Constructs Python's re accepts and RE2 rejects: used for clearer messages and,
# without google-re2, as the RE2 check itself.
_NON_RE2_GROUPS = (
    ("(?=", "look-ahead '(?=...)'"),
    ("(?!", "negative look-ahead '(?!...)'"),
    ("(?<=", "look-behind '(?<=...)'"),
    ("(?<!", "negative look-behind '(?<!...)'"),
    ("(?>", "atomic group '(?>...)'"),
    ("(?P=", "named back-reference '(?P=name)'"),
    ("(?(", "conditional group '(?(...)...)'"),
    ("(?#", "comment group '(?#...)'"),
)
_REPEAT = re.compile(r"\{([0-9]+)(?:,([0-9]*))?\}")
_RE2_MAX_REPEAT = 1000


# ---------------------------------------------------------------------------
# Small helpers: paths and types


def _field(path, name):
    return "%s.%s" % (path, name) if path else name


def _item(path, index):
    return "%s[%d]" % (path, index)


def _entry(path, key):
    """Path of a map entry, written like Kubernetes field paths: ``labels[version]``."""
    return "%s[%s]" % (path, key)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _mapping(value, path, problems):
    """Return ``value`` if it is a mapping, else report it and return None."""
    if isinstance(value, dict):
        return value
    problems.add(path, "must be a mapping", value)
    return None


def _sequence(value, path, problems):
    if isinstance(value, list):
        return value
    problems.add(path, "must be a list", value)
    return None


def _string(value, path, problems, allow_empty=True):
    if not isinstance(value, str):
        problems.add(path, "must be a string", value)
        return None
    if not allow_empty and not value:
        problems.add(path, "must not be empty", value)
        return None
    return value


def _camel(key):
    head, _sep, tail = key.partition("_")
    parts = tail.split("_") if tail else []
    return head + "".join(part[:1].upper() + part[1:] for part in parts)


def _unknown_keys(obj, known, path, problems):
    """Report keys the CRD schema does not have: the API server would drop them silently."""
    for key, value in obj.items():
        if key in known:
            continue
        message = "unknown field: the API server would silently drop it (known: %s)" % ", ".join(known)
        if isinstance(key, str) and _camel(key) in known and _camel(key) != key:
            message = "unknown field: the API uses camelCase, did you mean '%s'? (known: %s)" % (
                _camel(key), ", ".join(known))
        problems.add(_field(path, key), message, value)


def _int_in_range(value, path, problems, low, high, message):
    if not _is_int(value) or not low <= value <= high:
        problems.add(path, message, value)
        return False
    return True


# ---------------------------------------------------------------------------
# Names, labels and hosts


def is_dns1123_label(value):
    """True if ``value`` is a DNS-1123 label: what Kubernetes allows as a namespace or subset name."""
    return isinstance(value, str) and len(value) <= 63 and _DNS1123_LABEL.fullmatch(value) is not None


def is_dns1123_subdomain(value):
    return isinstance(value, str) and len(value) <= 253 and _DNS1123_SUBDOMAIN.fullmatch(value) is not None


def _label_name_problem(name):
    if not name:
        return "must not be empty"
    if len(name) > 63:
        return "must be at most 63 characters"
    if not _LABEL_NAME.fullmatch(name):
        return ("must consist of letters, digits, '-', '_' or '.', starting and ending with a letter or "
                "digit")
    return None


def validate_labels(labels, field, problems):
    """Check a Kubernetes label map: keys are ``[prefix/]name``, values are strings of at most 63 characters."""
    labels = _mapping(labels, field, problems)
    if labels is None:
        return
    for key, value in labels.items():
        path = _entry(field, key)
        if not isinstance(key, str):
            problems.add(path, "label key must be a string", key)
            continue
        prefix, slash, name = key.rpartition("/")
        if slash and not is_dns1123_subdomain(prefix):
            problems.add(path, "label key prefix %s" % DNS1123_SUBDOMAIN_MESSAGE, key)
        reason = _label_name_problem(name)
        if reason:
            problems.add(path, "label key name %s" % reason, key)
        if not isinstance(value, str):
            # YAML turns `version: 1` into a number; the API server rejects anything but a string.
            problems.add(path, "label value must be a string (quote it in YAML)", value)
        elif value:
            reason = _label_name_problem(value)
            if reason:
                problems.add(path, "label value %s" % reason, value)


def validate_header_name(name, field, problems, allow_jwt_claim=False):
    """Check a header name: RFC 7230 token characters only (no spaces, no colons)."""
    if not isinstance(name, str):
        problems.add(field, "header name must be a string", name)
        return
    if allow_jwt_claim and name.startswith(_JWT_CLAIM_PREFIX):
        claim = name[len(_JWT_CLAIM_PREFIX):]
        if not claim or "" in claim.split("."):
            problems.add(field, "JWT claim route must name a claim, like '@request.auth.claims.groups'", name)
        return
    if not _HEADER_TOKEN.fullmatch(name):
        problems.add(field, "must be a header name: one or more letters, digits or !#$%&'*+-.^_`|~ "
                            "(no spaces or colons)", name)


def _is_ip(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _domain_problem(host, allow_wildcard):
    """Why ``host`` is not a (wildcard) domain name in Istio's sense, or None."""
    if len(host) > 255:
        return "must be a domain name of at most 255 characters"
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # a trailing dot makes a name absolute: "istio.io." is valid
    for position, label in enumerate(labels):
        if position == 0 and allow_wildcard and "*" in label:
            if len(label) <= 63 and _WILDCARD_LABEL.fullmatch(label):
                continue
            return "wildcard '*' is only allowed as, or at the start of, the first label"
        if "*" in label:
            return "wildcard '*' is only allowed as, or at the start of, the first label"
        if not (len(label) <= 63 and _DNS1123_LABEL.fullmatch(label)):
            return ("must be a domain name: dot-separated labels of lowercase letters, digits and '-' "
                    "(label %r is not)" % label)
    return None


def validate_host(value, field, problems, allow_ip=False, allow_wildcard=True):
    """Check a host name: a DNS name, wildcard only in the first label; with ``allow_ip`` an IP address too."""
    host = _string(value, field, problems, allow_empty=False)
    if host is None:
        return
    if _is_ip(host):
        if not allow_ip:
            problems.add(field, "must be a host name, not an IP address", host)
        return
    reason = _domain_problem(host, allow_wildcard)
    if reason:
        problems.add(field, reason, host)


def validate_gateway_ref(value, field, problems):
    """Check a gateway reference: ``mesh``, ``name``, ``namespace/name`` or a legacy FQDN."""
    ref = _string(value, field, problems, allow_empty=False)
    if ref is None or ref == MESH_GATEWAY:
        return
    namespace, slash, name = ref.partition("/")
    if not slash:
        name, namespace = namespace, None
    if namespace is not None and not is_dns1123_label(namespace):
        problems.add(field, "namespace part %s" % DNS1123_LABEL_MESSAGE, ref)
    if not is_dns1123_subdomain(name):
        problems.add(field, "gateway name %s" % DNS1123_SUBDOMAIN_MESSAGE, ref)


def _validate_export_to(value, path, problems):
    export_to = _sequence(value, path, problems)
    for index, target in enumerate(export_to or ()):
        # "." is this namespace, "*" every namespace, "~" none.
        if target not in (".", "*", "~") and not is_dns1123_label(target):
            problems.add(_item(path, index), "must be '.', '*', '~' or a namespace name", target)


def validate_port(value, field, problems):
    return _int_in_range(value, field, problems, 1, 65535, "must be a port number from 1 to 65535")


# ---------------------------------------------------------------------------
# Scalars: durations, percentages, status codes, regexes


def _parse_duration_ns(text):
    """Parse Go duration syntax (``1h2m``, ``1.5s``, ``100ms``) into nanoseconds, exactly.

    Raises ValueError with the reason. The result is a Fraction so that
    sub-nanosecond input is visible to the whole-milliseconds check.
    """
    if not isinstance(text, str):
        raise ValueError("must be a duration string with a unit, such as '7s' or '100ms'")
    if len(text) > _MAX_DURATION_TEXT:
        raise ValueError("is too long to be a duration")
    rest = text
    negative = rest[:1] == "-"
    if rest[:1] in ("-", "+"):
        rest = rest[1:]
    if not rest:
        raise ValueError("must be a duration such as '7s' or '100ms'")
    total = Fraction(0)
    position = 0
    while position < len(rest):
        part = _DURATION_PART.match(rest, position)
        if part is None:
            if rest[position:].isdigit() or (rest[position:].replace(".", "", 1).isdigit()):
                raise ValueError("needs a unit (ns, us, ms, s, m or h), such as '7s'")
            raise ValueError("must be a duration such as '7s', '1.5s', '100ms' or '1h2m'")
        whole, fraction, unit = part.groups()
        if not whole and not fraction:
            raise ValueError("must be a duration such as '7s', '1.5s', '100ms' or '1h2m'")
        if unit not in _DURATION_UNITS_NS:
            raise ValueError("has unknown unit %r (use ns, us, ms, s, m or h)" % unit)
        number = Fraction(int(whole or "0"))
        if fraction:
            number += Fraction(int(fraction), 10 ** len(fraction))
        total += number * _DURATION_UNITS_NS[unit]
        position = part.end()
    if total > _MAX_DURATION_NS:
        raise ValueError("is too large for a duration")
    return -total if negative else total


def parse_duration_ms(text):
    """Return a Go-syntax duration in whole milliseconds (``'1.5s'`` -> 1500).

    Raises ValueError, with the reason as its message, when ``text`` is not a
    duration or is not a whole number of milliseconds (``'1.5ms'``). Zero and
    negative durations parse; ``validate_duration`` is what requires >= 1ms.
    """
    nanoseconds = _parse_duration_ns(text)
    if nanoseconds % _NS_PER_MS:
        raise ValueError("must be a whole number of milliseconds (Istio's precision)")
    return int(nanoseconds // _NS_PER_MS)


def validate_duration(value, field, problems):
    """Check a duration field (timeout, perTryTimeout, fixedDelay): Go syntax, whole ms, at least 1ms."""
    try:
        milliseconds = parse_duration_ms(value)
    except ValueError as exc:
        problems.add(field, str(exc), value)
        return
    if milliseconds < 1:
        problems.add(field, "must be at least 1ms", value)


def validate_percentage(value, field, problems):
    """Check a fault percentage: 0 (never) or from 0.0001 to 100."""
    # NaN fails every comparison, so it falls through to the problem.
    if _is_number(value) and (value == 0 or 0.0001 <= value <= 100):
        return
    problems.add(field, "must be a number from 0.0001 to 100, or 0", value)


def validate_http_status(value, field, problems):
    _int_in_range(value, field, problems, 200, 599, "must be an HTTP status code from 200 to 599")


def validate_grpc_status(value, field, problems):
    if isinstance(value, str) and value in GRPC_STATUS_NAMES:
        return
    problems.add(field, "must be a gRPC status name (%s)" % ", ".join(GRPC_STATUS_NAMES), value)


def validate_retry_on(value, field, problems):
    """Check a retryOn list: comma-separated, no spaces, each a policy name or a known HTTP status code."""
    text = _string(value, field, problems, allow_empty=False)
    if text is None:
        return
    unknown = []
    for token in text.split(","):
        if token in RETRY_ON_POLICIES:
            continue
        if token.isdigit() and token.isascii() and int(token) in KNOWN_HTTP_STATUS_CODES:
            continue
        unknown.append(token)
    if not unknown:
        return
    if any(token.strip() != token for token in unknown):
        problems.add(field, "must be comma-separated without spaces", text)
    else:
        problems.add(field, "has unknown retry condition%s %s: use policy names (%s) or HTTP status codes" % (
            "s" if len(unknown) > 1 else "", ", ".join(repr(token) for token in unknown),
            ", ".join(RETRY_ON_POLICIES)), text)


def _non_re2_construct(pattern):
    """Name the first construct in ``pattern`` that RE2 rejects but Python's re accepts, or None."""
    position = 0
    in_class = False
    while position < len(pattern):
        char = pattern[position]
        following = pattern[position + 1:position + 2]
        if char == "\\":
            if not in_class and following and following in "123456789":
                return "back-reference '\\%s'" % following
            if not in_class and following == "Z":
                return "'\\Z' (use '\\z' or '$')"
            position += 2
            continue
        if in_class:
            in_class = char != "]"
            position += 1
            continue
        if char == "[":
            in_class = True
            position += 1
            if pattern[position:position + 1] == "^":
                position += 1
            if pattern[position:position + 1] == "]":
                position += 1  # a "]" right after "[" or "[^" is a literal, not the end
            continue
        if char == "(":
            for opener, what in _NON_RE2_GROUPS:
                if pattern.startswith(opener, position):
                    return what
        if char in "*+?" and following == "+":
            return "possessive quantifier '%s+'" % char
        if char == "{":
            repeat = _REPEAT.match(pattern, position)
            if repeat and any(count and int(count) > _RE2_MAX_REPEAT for count in repeat.groups()):
                return "repetition count above %d" % _RE2_MAX_REPEAT
        position += 1
    return None


def _re2_error(pattern):
    """RE2's complaint about ``pattern``, or None if it compiles."""
    try:
        options = _re2.Options()
        options.log_errors = False  # otherwise RE2 writes every rejected pattern to stderr
    except Exception:  # pylint: disable=broad-except
        options = None  # another "re2" module without Options: compile with its defaults
    try:
        if options is None:
            _re2.compile(pattern)
        else:
            _re2.compile(pattern, options)
    except Exception as exc:  # pylint: disable=broad-except
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return str(reason)
    return None


def _python_re_error(pattern):
    construct = _non_re2_construct(pattern)
    if construct:
        return "%s is not supported" % construct
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. FutureWarning on "[[": only errors matter here
            re.compile(pattern)
    except Exception as exc:  # pylint: disable=broad-except
        return str(exc)
    return None


def validate_regex(value, field, problems):
    """Check a regex match: RE2 syntax, not empty, at most 1024 characters.

    Uses RE2 itself (google-re2) when installed. Without it, Python's re stands
    in, after rejecting the constructs RE2 lacks (look-around, back-references,
    atomic and conditional groups, possessive quantifiers); that fallback may
    still reject a few RE2-only forms such as ``\\p{Greek}``.
    """
    pattern = _string(value, field, problems, allow_empty=False)
    if pattern is None:
        return
    if len(pattern) > MAX_REGEX_LENGTH:
        problems.add(field, "must be at most %d characters (Envoy's RE2 program size limit)" % MAX_REGEX_LENGTH,
                     pattern)
        return
    if _re2 is not None:
        reason = _re2_error(pattern)
        construct = _non_re2_construct(pattern) if reason else None
        if construct:
            reason = "%s is not supported" % construct  # clearer than RE2's "invalid perl operator"
    else:
        reason = _python_re_error(pattern)
    if reason:
        problems.add(field, "must be an RE2 regular expression: %s" % reason, pattern)


# ---------------------------------------------------------------------------
# VirtualService parts


def _validate_string_match(value, path, problems, allow_empty_prefix=False):
    match = _mapping(value, path, problems)
    if match is None:
        return
    _unknown_keys(match, STRING_MATCH_KEYS, path, problems)
    kinds = [key for key in STRING_MATCH_KEYS if key in match]
    if len(kinds) > 1:
        problems.add(path, "exact, prefix and regex are one-of: set only one", kinds)
    for kind in kinds:
        text = _string(match[kind], _field(path, kind), problems)
        if text is None:
            continue
        if kind == "regex":
            validate_regex(text, _field(path, kind), problems)
        elif kind == "prefix" and not text and not allow_empty_prefix:
            problems.add(_field(path, kind), "must not be empty (an empty prefix is only allowed for uri)", text)


def _validate_header_matches(value, path, problems):
    headers = _mapping(value, path, problems)
    for name, match in (headers or {}).items():
        entry = _entry(path, name)
        validate_header_name(name, entry, problems, allow_jwt_claim=True)
        if match is None:
            problems.add(entry, "must be a string match such as {exact: value}; {} matches any value", match)
        else:
            _validate_string_match(match, entry, problems)


def _validate_match(value, path, problems):
    match = _mapping(value, path, problems)
    if match is None:
        return
    _unknown_keys(match, MATCH_KEYS, path, problems)
    for key in ("name", "statPrefix"):
        if key in match:
            _string(match[key], _field(path, key), problems)
    for key in ("uri", "scheme", "method", "authority"):
        if key in match:
            _validate_string_match(match[key], _field(path, key), problems, allow_empty_prefix=key == "uri")
    for key in ("headers", "withoutHeaders"):
        if key in match:
            _validate_header_matches(match[key], _field(path, key), problems)
    if "queryParams" in match:
        params_path = _field(path, "queryParams")
        params = _mapping(match["queryParams"], params_path, problems)
        for name, param in (params or {}).items():
            entry = _entry(params_path, name)
            if not isinstance(name, str) or not name:
                problems.add(entry, "query parameter name must be a non-empty string", name)
            _validate_string_match(param, entry, problems)
    if "port" in match:
        validate_port(match["port"], _field(path, "port"), problems)
    if "sourceLabels" in match:
        validate_labels(match["sourceLabels"], _field(path, "sourceLabels"), problems)
    if "gateways" in match:
        gateways = _sequence(match["gateways"], _field(path, "gateways"), problems)
        for index, gateway in enumerate(gateways or ()):
            validate_gateway_ref(gateway, _item(_field(path, "gateways"), index), problems)
    if "sourceNamespace" in match and not is_dns1123_label(match["sourceNamespace"]):
        problems.add(_field(path, "sourceNamespace"), DNS1123_LABEL_MESSAGE, match["sourceNamespace"])
    if "ignoreUriCase" in match and not isinstance(match["ignoreUriCase"], bool):
        problems.add(_field(path, "ignoreUriCase"), "must be true or false", match["ignoreUriCase"])


def _is_catch_all(route):
    """True if an HTTP route matches every request, so the routes after it can never be reached."""
    matches = route.get("match")
    if matches is None or matches == []:
        return True
    if not isinstance(matches, list):
        return False
    for match in matches:
        if not isinstance(match, dict):
            continue
        conditions = {key: value for key, value in match.items() if key not in ("name", "statPrefix")}
        if not conditions or conditions == {"uri": {"prefix": "/"}}:
            return True
    return False


def _validate_destination(value, path, problems):
    destination = _mapping(value, path, problems)
    if destination is None:
        return
    _unknown_keys(destination, DESTINATION_KEYS, path, problems)
    host_path = _field(path, "host")
    if "host" not in destination:
        problems.add(host_path, "is required")
    elif destination["host"] == "*":
        problems.add(host_path, "must name a service, not '*'", "*")
    else:
        # Istio checks a destination host as a domain name, which an IPv4 address also is.
        validate_host(destination["host"], host_path, problems, allow_ip=True)
    if "subset" in destination and not is_dns1123_label(destination["subset"]):
        problems.add(_field(path, "subset"), DNS1123_LABEL_MESSAGE, destination["subset"])
    if "port" in destination:
        port_path = _field(path, "port")
        port = _mapping(destination["port"], port_path, problems)
        if port is not None:
            _unknown_keys(port, PORT_SELECTOR_KEYS, port_path, problems)
            if "number" in port:
                validate_port(port["number"], _field(port_path, "number"), problems)


def _validate_route_destinations(value, path, problems, legacy_weights, keys):
    """Check weighted destinations (an HTTP, TLS or TCP ``route`` list) and their weights together."""
    entries = _sequence(value, path, problems)
    if entries is None:
        return
    weights = []
    weights_ok = True
    for index, entry in enumerate(entries):
        entry_path = _item(path, index)
        entry = _mapping(entry, entry_path, problems)
        if entry is None:
            continue
        _unknown_keys(entry, keys, entry_path, problems)
        if "destination" in entry:
            _validate_destination(entry["destination"], _field(entry_path, "destination"), problems)
        else:
            problems.add(_field(entry_path, "destination"), "is required")
        if "headers" in entry:
            _validate_header_operations(entry["headers"], _field(entry_path, "headers"), problems)
        weight = entry.get("weight")
        if weight is None:
            weights.append(None)
        elif legacy_weights:
            weights_ok &= _int_in_range(weight, _field(entry_path, "weight"), problems, 0, 100,
                                        "must be an integer from 0 to 100 before Istio 1.15")
            weights.append(weight)
        else:
            weights_ok &= _int_in_range(weight, _field(entry_path, "weight"), problems, 0, INT32_MAX,
                                        "must be an integer >= 0")
            weights.append(weight)
    if len(entries) < 2 or not weights_ok:
        return
    total = sum(weight or 0 for weight in weights)
    if legacy_weights:
        if total != 100:
            problems.add(path, "the total weight of several destinations must be exactly 100 before Istio 1.15 "
                               "(an unset weight counts as 0)", total)
    elif all(weight is None for weight in weights):
        problems.add(path, "the total weight of several destinations must be more than 0, and none has a "
                           "weight: set one on each (weights are relative, e.g. 50 and 50)", total)
    elif total == 0:
        problems.add(path, "the total weight of several destinations must be more than 0", total)


def _validate_header_operations(value, path, problems):
    """Check the shape of request/response header edits; names and values are left to Istio."""
    headers = _mapping(value, path, problems)
    if headers is None:
        return
    _unknown_keys(headers, HEADERS_KEYS, path, problems)
    for direction in HEADERS_KEYS:
        if direction not in headers:
            continue
        direction_path = _field(path, direction)
        operations = _mapping(headers[direction], direction_path, problems)
        if operations is None:
            continue
        _unknown_keys(operations, HEADER_OPERATION_KEYS, direction_path, problems)
        for operation in ("set", "add"):
            if operation in operations:
                operation_path = _field(direction_path, operation)
                edits = _mapping(operations[operation], operation_path, problems)
                for name, text in (edits or {}).items():
                    _string(text, _entry(operation_path, name), problems)
        if "remove" in operations:
            remove_path = _field(direction_path, "remove")
            for index, name in enumerate(_sequence(operations["remove"], remove_path, problems) or ()):
                _string(name, _item(remove_path, index), problems, allow_empty=False)


def _validate_percentage_block(value, path, problems):
    block = _mapping(value, path, problems)
    if block is None:
        return
    _unknown_keys(block, PERCENTAGE_KEYS, path, problems)
    if "value" in block:
        validate_percentage(block["value"], _field(path, "value"), problems)
    else:
        problems.add(_field(path, "value"), "is required: without it the fault is injected into no request")


def _require_percentage(fault, path, problems):
    """A fault without a percentage is injected into 0% of requests, so it is reported, not accepted."""
    if "percentage" in fault:
        _validate_percentage_block(fault["percentage"], _field(path, "percentage"), problems)
    else:
        problems.add(_field(path, "percentage"), "is required: without it the fault is injected into no "
                                                 "request (use {value: 100} for every request)")


def _validate_delay(value, path, problems):
    delay = _mapping(value, path, problems)
    if delay is None:
        return
    _unknown_keys(delay, DELAY_KEYS, path, problems)
    if "fixedDelay" in delay:
        validate_duration(delay["fixedDelay"], _field(path, "fixedDelay"), problems)
    elif "exponentialDelay" in delay:
        problems.add(_field(path, "exponentialDelay"), "is not supported by Istio: use fixedDelay",
                     delay["exponentialDelay"])
    else:
        problems.add(_field(path, "fixedDelay"), "is required")
    if "percent" not in delay:
        _require_percentage(delay, path, problems)
        return
    # Deprecated but still honoured, as long as percentage is absent.
    _int_in_range(delay["percent"], _field(path, "percent"), problems, 0, 100,
                  "must be an integer from 0 to 100 (deprecated: prefer percentage: {value: N})")
    if "percentage" in delay:
        problems.add(_field(path, "percent"), "set either percentage or the deprecated percent, not both",
                     delay["percent"])
        _validate_percentage_block(delay["percentage"], _field(path, "percentage"), problems)


def _validate_abort(value, path, problems):
    abort = _mapping(value, path, problems)
    if abort is None:
        return
    # "percent" is left out of the unknown-key report: it gets its own message below.
    _unknown_keys(abort, ABORT_KEYS + ("percent",), path, problems)
    error_types = [key for key in ("httpStatus", "grpcStatus", "http2Error") if key in abort]
    if not error_types:
        problems.add(path, "needs an error type: httpStatus (200 to 599) or grpcStatus (a gRPC status name)")
    elif len(error_types) > 1:
        problems.add(path, "httpStatus, grpcStatus and http2Error are one-of: set only one", error_types)
    if "httpStatus" in abort:
        validate_http_status(abort["httpStatus"], _field(path, "httpStatus"), problems)
    if "grpcStatus" in abort:
        validate_grpc_status(abort["grpcStatus"], _field(path, "grpcStatus"), problems)
    if "http2Error" in abort:
        problems.add(_field(path, "http2Error"), "is not supported by Istio: use httpStatus or grpcStatus",
                     abort["http2Error"])
    if "percent" not in abort:
        _require_percentage(abort, path, problems)
    elif "percentage" in abort:
        problems.add(_field(path, "percent"), "was removed in Istio 1.5 and the API server drops it: remove it "
                                              "(percentage is what counts)", abort["percent"])
        _validate_percentage_block(abort["percentage"], _field(path, "percentage"), problems)
    else:
        # The pre-1.5 form: pruned on write, so the abort is stored with no percentage and never fires.
        replacement = abort["percent"] if _is_number(abort["percent"]) else "N"
        problems.add(_field(path, "percent"), "was removed in Istio 1.5 and the API server drops it, so this "
                                              "abort would never fire: use percentage: {value: %s}" % replacement,
                     abort["percent"])


def _validate_fault(value, path, problems):
    fault = _mapping(value, path, problems)
    if fault is None:
        return
    _unknown_keys(fault, FAULT_KEYS, path, problems)
    if "delay" not in fault and "abort" not in fault:
        problems.add(path, "needs a delay and/or an abort", fault)
    if "delay" in fault:
        _validate_delay(fault["delay"], _field(path, "delay"), problems)
    if "abort" in fault:
        _validate_abort(fault["abort"], _field(path, "abort"), problems)


def _validate_retries(value, path, problems):
    retries = _mapping(value, path, problems)
    if retries is None:
        return
    attempts_path = _field(path, "attempts")
    extras = " and ".join(key for key in ("perTryTimeout", "retryOn", "retryRemoteLocalities") if key in retries)
    if "attempts" not in retries:
        # Unset means 0, which disables retries: the other settings would be ignored.
        if extras:
            problems.add(attempts_path, "is required (>= 1) when %s is set" % extras)
    elif not _is_int(retries["attempts"]) or retries["attempts"] < 0:
        problems.add(attempts_path, "must be an integer >= 0", retries["attempts"])
    elif retries["attempts"] == 0 and extras:
        problems.add(attempts_path, "is 0, which disables retries, yet %s is set: set attempts >= 1 or remove %s"
                     % (extras, extras), 0)
    if "perTryTimeout" in retries:
        validate_duration(retries["perTryTimeout"], _field(path, "perTryTimeout"), problems)
    if "retryOn" in retries:
        validate_retry_on(retries["retryOn"], _field(path, "retryOn"), problems)


def _validate_redirect(value, path, problems):
    redirect = _mapping(value, path, problems)
    if redirect is None:
        return
    if not any(key in redirect for key in ("uri", "authority", "port", "derivePort", "scheme")):
        problems.add(path, "must set at least one of uri, authority, port, derivePort or scheme", redirect)
    if "redirectCode" in redirect:
        _int_in_range(redirect["redirectCode"], _field(path, "redirectCode"), problems, 300, 399,
                      "must be a 3xx HTTP status code")
    if "port" in redirect:
        validate_port(redirect["port"], _field(path, "port"), problems)
    for key in ("uri", "authority", "scheme"):
        if key in redirect:
            _string(redirect[key], _field(path, key), problems)


def _validate_direct_response(value, path, problems):
    response = _mapping(value, path, problems)
    if response is None:
        return
    if "status" in response:
        validate_http_status(response["status"], _field(path, "status"), problems)
    else:
        problems.add(_field(path, "status"), "is required")
    if "body" in response:
        body = _mapping(response["body"], _field(path, "body"), problems)
        if body is not None and len([key for key in ("string", "bytes") if key in body]) != 1:
            problems.add(_field(path, "body"), "must set exactly one of string or bytes", body)
        for key in ("string", "bytes") if body is not None else ():
            if key in body:
                _string(body[key], _field(_field(path, "body"), key), problems)


def _validate_rewrite(value, path, problems):
    rewrite = _mapping(value, path, problems)
    if rewrite is None:
        return
    if "uri" in rewrite and "uriRegexRewrite" in rewrite:
        problems.add(path, "uri and uriRegexRewrite are one-of: set only one")
    if not any(key in rewrite for key in ("uri", "uriRegexRewrite", "authority")):
        problems.add(path, "must set at least one of uri, uriRegexRewrite or authority", rewrite)
    for key in ("uri", "authority"):
        if key in rewrite:
            _string(rewrite[key], _field(path, key), problems)
    if "uriRegexRewrite" in rewrite:
        regex_path = _field(path, "uriRegexRewrite")
        regex_rewrite = _mapping(rewrite["uriRegexRewrite"], regex_path, problems)
        for key in ("match", "rewrite") if regex_rewrite is not None else ():
            if key not in regex_rewrite:
                problems.add(_field(regex_path, key), "is required")
            elif key == "match":
                validate_regex(regex_rewrite[key], _field(regex_path, key), problems)
            else:
                _string(regex_rewrite[key], _field(regex_path, key), problems)


def _validate_mirror_percentage(value, path, problems):
    block = _mapping(value, path, problems)
    if block is None:
        return
    _unknown_keys(block, PERCENTAGE_KEYS, path, problems)
    level = block.get("value", 0)
    if not (_is_number(level) and 0 <= level <= 100):
        problems.add(_field(path, "value"), "must be a number from 0 to 100", level)


def _validate_delegate(value, path, problems):
    delegate = _mapping(value, path, problems)
    if delegate is None:
        return
    if not is_dns1123_subdomain(delegate.get("name")):
        problems.add(_field(path, "name"), "must name the delegate VirtualService (%s)" % DNS1123_SUBDOMAIN_MESSAGE,
                     delegate.get("name"))
    if "namespace" in delegate and not is_dns1123_label(delegate["namespace"]):
        problems.add(_field(path, "namespace"), DNS1123_LABEL_MESSAGE, delegate["namespace"])


def _validate_conflicts(route, path, problems):
    """redirect and directResponse answer the request themselves, so nothing may forward or alter it."""
    present = [key for key in ("route", "fault", "rewrite") if route.get(key) not in (None, [])]
    for answer in ("redirect", "directResponse"):
        if answer in route:
            for other in present:
                problems.add(_field(path, answer), "cannot be combined with %s (it answers the request itself)"
                             % other)
    if "redirect" in route and "directResponse" in route:
        problems.add(_field(path, "redirect"), "cannot be combined with directResponse")
    if "delegate" in route:
        for other in ("route", "redirect", "directResponse"):
            if route.get(other) not in (None, []):
                problems.add(_field(path, "delegate"), "cannot be combined with %s" % other)
    if not any(route.get(key) not in (None, []) for key in ("route", "redirect", "directResponse", "delegate")):
        problems.add(path, "needs a route, redirect, directResponse or delegate")


def _validate_http_route(value, path, problems, legacy_weights):
    route = _mapping(value, path, problems)
    if route is None:
        return
    # From here on "route" is the HTTP route and route["route"] its destinations, as in the API.
    _unknown_keys(route, HTTP_ROUTE_KEYS, path, problems)
    _validate_conflicts(route, path, problems)
    if "name" in route:
        _string(route["name"], _field(path, "name"), problems)
    if "match" in route:
        matches = _sequence(route["match"], _field(path, "match"), problems)
        for index, match in enumerate(matches or ()):
            _validate_match(match, _item(_field(path, "match"), index), problems)
    if "route" in route:
        _validate_route_destinations(route["route"], _field(path, "route"), problems, legacy_weights,
                                     HTTP_ROUTE_DESTINATION_KEYS)
    if "redirect" in route:
        _validate_redirect(route["redirect"], _field(path, "redirect"), problems)
    if "directResponse" in route:
        _validate_direct_response(route["directResponse"], _field(path, "directResponse"), problems)
    if "delegate" in route:
        _validate_delegate(route["delegate"], _field(path, "delegate"), problems)
    if "rewrite" in route:
        _validate_rewrite(route["rewrite"], _field(path, "rewrite"), problems)
    if "timeout" in route:
        validate_duration(route["timeout"], _field(path, "timeout"), problems)
    if "retries" in route:
        _validate_retries(route["retries"], _field(path, "retries"), problems)
    if "fault" in route:
        _validate_fault(route["fault"], _field(path, "fault"), problems)
    if "mirror" in route:
        _validate_destination(route["mirror"], _field(path, "mirror"), problems)
    if "mirrors" in route:
        mirrors_path = _field(path, "mirrors")
        for index, mirror in enumerate(_sequence(route["mirrors"], mirrors_path, problems) or ()):
            mirror_path = _item(mirrors_path, index)
            mirror = _mapping(mirror, mirror_path, problems)
            if mirror is None:
                continue
            _validate_destination(mirror.get("destination"), _field(mirror_path, "destination"), problems)
            if "percentage" in mirror:
                _validate_mirror_percentage(mirror["percentage"], _field(mirror_path, "percentage"), problems)
    if "mirrorPercent" in route:
        _int_in_range(route["mirrorPercent"], _field(path, "mirrorPercent"), problems, 0, 100,
                      "must be an integer from 0 to 100 (deprecated: prefer mirrorPercentage)")
    if "mirrorPercentage" in route:
        _validate_mirror_percentage(route["mirrorPercentage"], _field(path, "mirrorPercentage"), problems)
    if "headers" in route:
        _validate_header_operations(route["headers"], _field(path, "headers"), problems)
    if "corsPolicy" in route:
        _mapping(route["corsPolicy"], _field(path, "corsPolicy"), problems)


def _validate_l4_routes(value, path, problems, legacy_weights):
    """TLS and TCP routes: only their destinations are checked here."""
    routes = _sequence(value, path, problems)
    for index, route in enumerate(routes or ()):
        route_path = _item(path, index)
        route = _mapping(route, route_path, problems)
        if route is None:
            continue
        if "match" in route:
            _sequence(route["match"], _field(route_path, "match"), problems)
        if route.get("route") in (None, []):
            problems.add(_field(route_path, "route"), "needs at least one destination")
        else:
            _validate_route_destinations(route["route"], _field(route_path, "route"), problems, legacy_weights,
                                         ROUTE_DESTINATION_KEYS)


def _applies_to_mesh(spec):
    gateways = spec.get("gateways")
    if not isinstance(gateways, list) or not gateways:
        return True
    return MESH_GATEWAY in [gateway for gateway in gateways if isinstance(gateway, str)]


def legacy_weights_for(api_version):
    """The weight rule of the Istio behind ``api_version`` (the one discovery picked or the user pinned).

    v1beta1 or v1 served: an Istio whose weights are relative (>= 0, summing to more than 0), as 1.15 and later
    take them. Only v1alpha3 served: an Istio before 1.15, which wants each weight <= 100 and a sum of exactly
    100; the collection writes only what that Istio accepts.
    """
    return api_version == "v1alpha3"


def validate_virtual_service(spec, path="spec", problems=None, legacy_weights=False):
    """Check a VirtualService spec against Istio's rules; return the Problems (``problems`` if given).

    ``legacy_weights`` applies the rule of Istio before 1.15: each weight at most
    100 and, with several destinations, a sum of exactly 100.
    """
    problems = Problems() if problems is None else problems
    spec = _mapping(spec, path, problems)
    if spec is None:
        return problems
    _unknown_keys(spec, VIRTUAL_SERVICE_KEYS, path, problems)

    mesh = _applies_to_mesh(spec)
    hosts_path = _field(path, "hosts")
    hosts = _sequence(spec.get("hosts", []), hosts_path, problems)
    if hosts == []:
        problems.add(hosts_path, "must list at least one host")
    for index, host in enumerate(hosts or ()):
        host_path = _item(hosts_path, index)
        if host == "*" and mesh:
            problems.add(host_path, "'*' alone is not allowed when the VirtualService applies to the mesh "
                                    "(gateways empty or containing 'mesh')", host)
        else:
            validate_host(host, host_path, problems, allow_ip=True)

    if "gateways" in spec:
        gateways_path = _field(path, "gateways")
        for index, gateway in enumerate(_sequence(spec["gateways"], gateways_path, problems) or ()):
            validate_gateway_ref(gateway, _item(gateways_path, index), problems)

    if all(spec.get(key) in (None, []) for key in ("http", "tls", "tcp")):
        problems.add(path, "needs at least one http, tls or tcp route")
    if "http" in spec:
        http_path = _field(path, "http")
        routes = _sequence(spec["http"], http_path, problems) or []
        for index, route in enumerate(routes):
            _validate_http_route(route, _item(http_path, index), problems, legacy_weights)
        _report_unreachable(routes, http_path, problems)
    for key in ("tls", "tcp"):
        if key in spec:
            _validate_l4_routes(spec[key], _field(path, key), problems, legacy_weights)
    if "exportTo" in spec:
        _validate_export_to(spec["exportTo"], _field(path, "exportTo"), problems)
    return problems


def _report_unreachable(routes, path, problems):
    """Istio tries routes in order, so everything after a catch-all is dead (istioctl's IST0130)."""
    for index, route in enumerate(routes[:-1]):
        if isinstance(route, dict) and _is_catch_all(route):
            problems.add(_item(path, index + 1), "can never be reached: %s before it matches every request "
                                                 "(move the catch-all route last)" % _item(path, index))
            return


# ---------------------------------------------------------------------------
# DestinationRule


def validate_destination_rule(spec, path="spec", problems=None):
    """Check a DestinationRule spec: host, unique DNS-1123 subset names, valid labels."""
    problems = Problems() if problems is None else problems
    spec = _mapping(spec, path, problems)
    if spec is None:
        return problems
    _unknown_keys(spec, DESTINATION_RULE_KEYS, path, problems)
    if "host" in spec:
        validate_host(spec["host"], _field(path, "host"), problems)
    else:
        problems.add(_field(path, "host"), "is required")
    if "subsets" in spec:
        subsets_path = _field(path, "subsets")
        seen = set()
        for index, subset in enumerate(_sequence(spec["subsets"], subsets_path, problems) or ()):
            subset_path = _item(subsets_path, index)
            subset = _mapping(subset, subset_path, problems)
            if subset is None:
                continue
            _unknown_keys(subset, SUBSET_KEYS, subset_path, problems)
            name = subset.get("name")
            name_path = _field(subset_path, "name")
            if "name" not in subset:
                problems.add(name_path, "is required")
            elif not is_dns1123_label(name):
                problems.add(name_path, DNS1123_LABEL_MESSAGE, name)
            elif name in seen:
                problems.add(name_path, "must be unique: another subset already has this name", name)
            else:
                seen.add(name)
            if "labels" in subset:
                validate_labels(subset["labels"], _field(subset_path, "labels"), problems)
            if "trafficPolicy" in subset:
                _mapping(subset["trafficPolicy"], _field(subset_path, "trafficPolicy"), problems)
    if "trafficPolicy" in spec:
        _mapping(spec["trafficPolicy"], _field(path, "trafficPolicy"), problems)
    if "workloadSelector" in spec:
        selector_path = _field(path, "workloadSelector")
        selector = _mapping(spec["workloadSelector"], selector_path, problems)
        if selector is not None and "matchLabels" in selector:
            validate_labels(selector["matchLabels"], _field(selector_path, "matchLabels"), problems)
    if "exportTo" in spec:
        _validate_export_to(spec["exportTo"], _field(path, "exportTo"), problems)
    return problems


# ---------------------------------------------------------------------------
# Cross-object checks


def _canonical_host(host, namespace):
    """Spell a host the way Istio resolves it, so that equal services compare equal.

    A short name (no dot) means a service in the rule's namespace, and
    ``name.<namespace>`` and ``name.<ns>.svc`` are the same service as
    ``name.<ns>.svc.cluster.local``. Without a namespace, short names stay short.
    """
    host = host.lower().rstrip(".")
    labels = host.split(".")
    if namespace:
        if len(labels) == 1:
            return "%s.%s.svc.cluster.local" % (host, namespace)
        if len(labels) == 2 and labels[1] == namespace:
            return host + ".svc.cluster.local"
    if len(labels) == 3 and labels[2] == "svc":
        return host + ".cluster.local"
    return host


def _hosts_match(route_host, rule_host, namespace):
    """True if a DestinationRule for ``rule_host`` applies to traffic for ``route_host``."""
    route = _canonical_host(route_host, namespace)
    rule = _canonical_host(rule_host, namespace)
    if route == rule:
        return True
    if rule.startswith("*"):
        return rule == "*" or (route.endswith(rule[1:]) and len(route) > len(rule) - 1)
    if not namespace:
        return _short_name_of(route, rule) or _short_name_of(rule, route)
    return False


def _short_name_of(short, fqdn):
    """Namespace unknown: a short name stands for that service in any namespace."""
    return ("." not in short and fqdn.startswith(short + ".") and fqdn.endswith(".svc.cluster.local")
            and fqdn.count(".") == 4)


def _destinations(spec, path):
    """Yield (path, destination) for every destination a VirtualService sends traffic to."""
    for kind in ("http", "tls", "tcp"):
        routes = spec.get(kind)
        if not isinstance(routes, list):
            continue
        for index, route in enumerate(routes):
            if not isinstance(route, dict):
                continue
            route_path = _item(_field(path, kind), index)
            entries = route.get("route")
            for number, entry in enumerate(entries if isinstance(entries, list) else ()):
                if isinstance(entry, dict):
                    yield _field(_item(_field(route_path, "route"), number), "destination"), entry.get("destination")
            if kind == "http":
                yield _field(route_path, "mirror"), route.get("mirror")
                mirrors = route.get("mirrors")
                for number, mirror in enumerate(mirrors if isinstance(mirrors, list) else ()):
                    if isinstance(mirror, dict):
                        yield _field(_item(_field(route_path, "mirrors"), number), "destination"), mirror.get(
                            "destination")


def validate_cross_refs(virtual_service_spec, destination_rules, path="spec", namespace=None, problems=None):
    """Check that every destination subset the VirtualService uses is defined (istioctl's IST0101).

    ``destination_rules`` is a list of DestinationRule specs, all taken to be in
    ``namespace`` like the VirtualService. A rule applies when its host names
    the same service (see ``_canonical_host``) or is a wildcard covering it; the
    subsets of all such rules count, a simplification of Istio, which picks
    the most specific rule. Malformed parts are skipped: ``validate_*`` report them.
    """
    problems = Problems() if problems is None else problems
    if not isinstance(virtual_service_spec, dict):
        return problems
    rules = []
    for rule in destination_rules if isinstance(destination_rules, list) else ():
        if isinstance(rule, dict) and isinstance(rule.get("host"), str) and rule["host"]:
            subsets = rule.get("subsets") if isinstance(rule.get("subsets"), list) else []
            names = [subset.get("name") for subset in subsets if isinstance(subset, dict)]
            rules.append((rule["host"], [name for name in names if isinstance(name, str)]))
    for destination_path, destination in _destinations(virtual_service_spec, path):
        if not isinstance(destination, dict):
            continue
        host, subset = destination.get("host"), destination.get("subset")
        if not isinstance(host, str) or not host or not isinstance(subset, str) or not subset:
            continue
        matching = [names for rule_host, names in rules if _hosts_match(host, rule_host, namespace)]
        defined = []
        for names in matching:
            for name in names:
                if name not in defined:
                    defined.append(name)
        if subset in defined:
            continue
        detail = "defined: %s" % ", ".join(defined) if defined else (
            "no subsets defined" if matching else "no DestinationRule matches this host")
        problems.add(_field(destination_path, "subset"), "no DestinationRule for host %r defines subset %r (%s)"
                     % (host, subset, detail), subset)
    return problems
