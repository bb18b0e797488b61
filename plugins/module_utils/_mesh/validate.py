# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Check Istio VirtualService and DestinationRule specs before they are written.

Istio's validating webhook fails open on many clusters and the API server prunes
unknown fields without a word, so a wrong rule can be stored and then break or
silently do nothing. These pure functions apply Istio's own rules (those of
``istio.io/istio/pkg/config/validation``, which a differential test in
tests/oracle compares them with) to a spec as the API server stores it (camelCase
JSON as dicts and lists). Every problem is collected in a ``Problems`` with its
field path and value; what Istio only warns about goes to ``Problems.warnings``.

The validators never raise on odd input: a wrong type anywhere is reported as a
problem at its field path, like any other mistake. A key set to null counts as
unset, as it does for Istio.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import ipaddress
import re
import warnings

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import Problems
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.semantics import (
    NS_PER_MS, canonical_host, destinations, is_catch_all, most_specific, parse_duration_ns, same_service)

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
REDIRECT_KEYS = ("uri", "authority", "port", "derivePort", "scheme", "redirectCode", "prefixRewrite")
DIRECT_RESPONSE_KEYS = ("status", "body")
REWRITE_KEYS = ("uri", "authority", "uriRegexRewrite")
RETRY_KEYS = ("attempts", "perTryTimeout", "retryOn", "retryRemoteLocalities", "retryIgnorePreviousHosts",
              "backoff")
CORS_KEYS = ("allowOrigin", "allowOrigins", "allowMethods", "allowHeaders", "exposeHeaders", "maxAge",
             "allowCredentials", "unmatchedPreflights")
MIRROR_POLICY_KEYS = ("destination", "percentage")
DELEGATE_KEYS = ("name", "namespace")
L4_MATCH_KEYS = ("destinationSubnets", "port", "sourceSubnet", "sourceLabels", "gateways", "sourceNamespace")
TLS_MATCH_KEYS = ("sniHosts",) + L4_MATCH_KEYS
L4_ROUTE_KEYS = ("match", "route")
DESTINATION_RULE_KEYS = ("host", "trafficPolicy", "subsets", "exportTo", "workloadSelector")
SUBSET_KEYS = ("name", "labels", "trafficPolicy")
TRAFFIC_POLICY_KEYS = ("loadBalancer", "connectionPool", "outlierDetection", "tls", "portLevelSettings",
                       "tunnel", "proxyProtocol", "retryBudget")
PORT_TRAFFIC_POLICY_KEYS = ("port", "loadBalancer", "connectionPool", "outlierDetection", "tls")

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

CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*")
PSEUDO_HEADERS = (":method", ":scheme", ":authority", ":path", ":status")
TOPOLOGY_LABELS = ("topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone")

MESH_GATEWAY = "mesh"
MAX_REGEX_LENGTH = 1024
INT32_MAX = 2 ** 31 - 1
DIRECT_RESPONSE_WARN_BYTES = 100 * 1024
DIRECT_RESPONSE_MAX_BYTES = 1024 * 1024
MAGLEV_TABLE_LIMIT = 5000011

DNS1123_LABEL_MESSAGE = ("must be a DNS-1123 label (letters, digits and '-', starting and ending with "
                         "a letter or digit, at most 63 characters)")
DNS1123_SUBDOMAIN_MESSAGE = ("must be a DNS-1123 subdomain (dot-separated DNS-1123 labels, at most 253 "
                             "characters)")

# Istio's DNS-1123 label allows upper case (Kubernetes' does not): these follow Istio.
_DNS1123_LABEL = re.compile(r"[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?")
_WILDCARD_LABEL = re.compile(r"\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_KEY = re.compile(r"((?:[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)*/)?"
                        r"((?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])")
_LABEL_VALUE = re.compile(r"(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
# RFC 7230 token: what may appear in a header field name.
_HEADER_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# A header value Envoy takes: no control characters except tab.
_HEADER_VALUE_CHARS = re.compile(u"[^\u0000-\u0008\u000a-\u001f\u007f]*")
_JWT_CLAIM_PREFIX = "@request.auth.claims"
_ATOI = re.compile(r"[+-]?[0-9]+")
_INT64_MAX = 2 ** 63 - 1

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


def _has(obj, key):
    """Set, as Istio sees it: present and not null."""
    return isinstance(obj, dict) and obj.get(key) is not None


def _nonempty(obj, key):
    """Set for a scalar or list: Istio treats "" and [] like an unset field."""
    return isinstance(obj, dict) and obj.get(key) not in (None, "", [], {})


def _mapping(value, path, problems):
    """Return ``value`` if it is a mapping, else report it and return None."""
    if isinstance(value, dict):
        return value
    if value is None:
        problems.add(path, "is required")
    else:
        problems.add(path, "must be a mapping", value)
    return None


def _sequence(value, path, problems):
    if isinstance(value, list):
        return value
    if value is None:
        return []
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


def _int(obj, key, path, problems, low=None, high=None, message=None):
    """Read an integer field; report a wrong type or a value outside [low, high]. Returns it, or None."""
    if not _has(obj, key):
        return None
    value = obj[key]
    where = _field(path, key)
    if not _is_int(value):
        problems.add(where, "must be an integer", value)
        return None
    if (low is not None and value < low) or (high is not None and value > high):
        problems.add(where, message, value)
        return None
    return value


def _number(obj, key, path, problems):
    if not _has(obj, key):
        return None
    value = obj[key]
    if not _is_number(value):
        problems.add(_field(path, key), "must be a number", value)
        return None
    return value


def _bool(obj, key, path, problems):
    if _has(obj, key) and not isinstance(obj[key], bool):
        problems.add(_field(path, key), "must be true or false", obj[key])


def _str_field(obj, key, path, problems):
    """A string field; returns "" when unset, None when it has the wrong type."""
    if not _has(obj, key):
        return ""
    return _string(obj[key], _field(path, key), problems)


def _enum(obj, key, path, problems, choices):
    if _has(obj, key) and obj[key] not in choices:
        problems.add(_field(path, key), "must be one of %s" % ", ".join(choices), obj[key])
        return None
    return obj.get(key)


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


def _object(obj, key, path, problems, known=None):
    """A nested message: the mapping if set, None if unset or not a mapping (reported)."""
    if not _has(obj, key):
        return None
    value = _mapping(obj[key], _field(path, key), problems)
    if value is not None and known is not None:
        _unknown_keys(value, known, _field(path, key), problems)
    return value


def _list(obj, key, path, problems):
    if not _has(obj, key):
        return []
    return _sequence(obj[key], _field(path, key), problems) or []


def _string_map(obj, key, path, problems):
    value = _object(obj, key, path, problems)
    return value or {}


# ---------------------------------------------------------------------------
# Names, labels and hosts


def is_dns1123_label(value):
    """True if ``value`` is a DNS-1123 label as Istio checks it (upper case allowed, at most 63 characters)."""
    return isinstance(value, str) and len(value) <= 63 and _DNS1123_LABEL.fullmatch(value) is not None


def is_dns1123_subdomain(value):
    return isinstance(value, str) and len(value) <= 253 and _DNS1123_SUBDOMAIN.fullmatch(value) is not None


def _label_key_problem(key):
    match = _LABEL_KEY.fullmatch(key)
    if match is None:
        return ("must be a label key: an optional DNS prefix and '/', then letters, digits, '-', '_' or '.', "
                "starting and ending with a letter or digit")
    if match.group(1) and len(match.group(1)) - 1 > 253:
        return "must have a DNS prefix of at most 253 characters"
    if len(match.group(2)) > 63:
        return "must have a name part of at most 63 characters"
    return None


def validate_labels(labels, field, problems):
    """Check a label map as Istio does: keys are ``[prefix/]name``, values letters, digits, '-', '_', '.'."""
    labels = _mapping(labels, field, problems)
    if labels is None:
        return
    for key, value in labels.items():
        path = _entry(field, key)
        if not isinstance(key, str):
            problems.add(path, "label key must be a string", key)
            continue
        reason = _label_key_problem(key)
        if reason:
            problems.add(path, "label key %s" % reason, key)
        if not isinstance(value, str):
            # YAML turns `version: 1` into a number; the API server rejects anything but a string.
            problems.add(path, "label value must be a string (quote it in YAML)", value)
        elif not _LABEL_VALUE.fullmatch(value):
            problems.add(path, "label value must consist of letters, digits, '-', '_' or '.', starting and ending "
                               "with a letter or digit", value)
        elif len(value) > 63:
            problems.warn(path, "label value is longer than 63 characters, so no Kubernetes pod can carry it",
                          value)


def _is_jwt_claim(name):
    """Istio's ``@request.auth.claims.a.b`` / ``@request.auth.claims[a][b]`` pseudo headers."""
    if not name.lower().startswith(_JWT_CLAIM_PREFIX):
        return False
    rest = name[len(_JWT_CLAIM_PREFIX):]
    dotted = rest.startswith(".") and len(rest) > 1
    bracketed = rest.startswith("[") and rest.endswith("]") and len(rest) > 2
    return dotted or bracketed


def validate_header_name(name, field, problems, allow_jwt_claim=False):
    """Check a header name to match on: RFC 7230 token characters, a pseudo header or a JWT claim."""
    if not isinstance(name, str):
        problems.add(field, "header name must be a string", name)
        return
    if not name:
        problems.add(field, "header name must not be empty", name)
        return
    if allow_jwt_claim and _is_jwt_claim(name):
        return
    if name in PSEUDO_HEADERS:
        return
    if not _HEADER_TOKEN.fullmatch(name):
        problems.add(field, "must be a header name: one or more letters, digits or !#$%%&'*+-.^_`|~ "
                            "(no spaces or colons), or one of %s" % ", ".join(PSEUDO_HEADERS), name)


def _is_ip(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _atoi(text):
    """Go's strconv.Atoi: the integer, or None."""
    if not _ATOI.fullmatch(text):
        return None
    number = int(text)
    return number if -_INT64_MAX - 1 <= number <= _INT64_MAX else None


def _labels_problem(domain):
    """Istio's check of the labels after the first one (ValidateDNS1123Labels), or None."""
    parts = domain.split(".")
    if _atoi(parts[-1]) is not None:
        return "must not end in an all-numeric label (%r)" % parts[-1]
    for position, label in enumerate(parts):
        if position == len(parts) - 1 and label == "":
            return None  # a trailing dot makes a name absolute: "istio.io." is valid
        if not is_dns1123_label(label):
            if "*" in label:
                return "wildcard '*' is only allowed as, or at the start of, the first label"
            return ("must be a domain name: dot-separated labels of letters, digits and '-' "
                    "(label %r is not)" % label)
    return None


def _precondition_problem(domain):
    if len(domain) > 255:
        return "must be a domain name of at most 255 characters"
    if not domain:
        return "must not be empty"
    return None


def domain_problem(domain, allow_wildcard=True):
    """Why ``domain`` is not a (wildcard) domain name in Istio's sense, or None."""
    reason = _precondition_problem(domain)
    if reason:
        return reason
    if not allow_wildcard:
        return _labels_problem(domain)
    first, dot, rest = domain.partition(".")
    if not (len(first) <= 63 and _WILDCARD_LABEL.fullmatch(first)):
        if "*" in first:
            return "wildcard '*' is only allowed as, or at the start of, the first label"
        return "must be a domain name: dot-separated labels of letters, digits and '-' (label %r is not)" % first
    return _labels_problem(rest) if dot else None


def _sni_domain_problem(domain):
    """Hosts of a VirtualService bound to a gateway: AUTO_PASSTHROUGH names (outbound_.<port>_._.<host>) too."""
    reason = _precondition_problem(domain)
    if reason:
        return reason
    if domain.startswith("outbound_"):
        parts = domain.split("_")
        if len(parts) < 4:
            return "must follow the outbound_.<PORT>_._.<HOSTNAME> format"
        if parts[0] != "outbound" or not re.search("[0-9]", parts[1].strip(".")) or not re.search(
                "[a-zA-Z]", parts[3].strip(".")):
            return "must follow the outbound_.<PORT>_._.<HOSTNAME> format"
        return None
    return domain_problem(domain)


def validate_host(value, field, problems, allow_ip=False, allow_wildcard=True):
    """Check a host name: a DNS name, wildcard only in the first label; with ``allow_ip`` an IP address too."""
    host = _string(value, field, problems)
    if host is None:
        return
    if allow_ip and _is_ip(host):
        return
    reason = domain_problem(host, allow_wildcard)
    if reason:
        problems.add(field, reason, host)


def validate_gateway_refs(gateways, path, problems):
    """Check gateway references the way Istio does: ``namespace/name`` with both DNS-1123 labels, or a
    legacy bare name (``mesh``, ``name``, ``name.namespace``: a domain name; the dotted form gets a warning).

    Istio stops at the first bare name and checks none after it; so does this (except for types,
    which the API server checks).
    """
    stopped = False
    for index, ref in enumerate(gateways):
        where = _item(path, index)
        if not isinstance(ref, str):
            problems.add(where, "must be a string", ref)
            continue
        if stopped:
            continue
        namespace, slash, name = ref.partition("/")
        if not slash:
            if "." in ref:
                parts = ref.split(".")
                problems.warn(where, "legacy gateway name format: prefer <namespace>/<name>, here '%s/%s'"
                              % (parts[1], parts[0]), ref)
            reason = _precondition_problem(ref) or _labels_problem(ref)
            if reason:
                problems.add(where, "must be <namespace>/<name> or a gateway name: %s" % reason, ref)
            stopped = True
            continue
        if not namespace or not name:
            problems.add(where, "must be <namespace>/<name> with neither part empty", ref)
        if not is_dns1123_label(namespace):
            problems.add(where, "namespace part %s" % DNS1123_LABEL_MESSAGE, ref)
        if not is_dns1123_label(name):
            problems.add(where, "gateway name part %s" % DNS1123_LABEL_MESSAGE, ref)


def validate_gateway_ref(value, field, problems):
    """Check one gateway reference (see ``validate_gateway_refs``), reported at ``field``."""
    found = Problems()
    validate_gateway_refs([value], "", found)
    for problem in found.items:
        problems.add(field, problem.message, value)
    for problem in found.warnings:
        problems.warn(field, problem.message, value)


def _validate_export_to(value, path, problems, namespace, with_selector=False):
    """exportTo: '.', '*' or namespace names, no duplicates, '*' alone; '~' is for ServiceEntries only."""
    export_to = _sequence(value, path, problems)
    if not export_to:
        return
    seen = []
    for index, target in enumerate(export_to):
        where = _item(path, index)
        if not isinstance(target, str):
            problems.add(where, "must be a string", target)
            continue
        key = namespace if (target == "." and namespace) else target
        if key in seen:
            if key != target:
                problems.add(where, "is a duplicate: '.' is this namespace (%s), listed too" % namespace, target)
            else:
                problems.add(where, "is a duplicate", target)
            continue
        if target == "~":
            problems.add(where, "'~' (exported to no one) is only allowed for ServiceEntries", target)
        elif key not in (".", "*") and not is_dns1123_label(key):
            problems.add(where, "must be '.', '*' or a namespace name (a DNS-1123 label)", target)
        else:
            seen.append(key)
    if with_selector and seen:
        if namespace and namespace in seen:
            if len(seen) > 1:
                problems.add(path, "a DestinationRule with a workloadSelector may only be exported to its own "
                                   "namespace", export_to)
        elif not (namespace is None and seen == ["."]):
            problems.add(path, "a DestinationRule with a workloadSelector cannot be exported beyond its own "
                               "namespace", export_to)
    if "*" in seen and len(export_to) > 1:
        problems.add(path, "'*' (every namespace) cannot be combined with other entries", export_to)


def validate_port(value, field, problems):
    if not _is_int(value) or not 1 <= value <= 65535:
        problems.add(field, "must be a port number from 1 to 65535", value)
        return False
    return True


def _ip_subnet_problem(value):
    if not isinstance(value, str):
        return "must be a string"
    if value.count("/") == 1:
        address, _slash, bits = value.partition("/")
        try:
            ipaddress.ip_address(address)
            prefix = int(bits) if bits.isdigit() and bits.isascii() and (bits == "0" or bits[0] != "0") else -1
            limit = 32 if ":" not in address else 128
            if not 0 <= prefix <= limit:
                raise ValueError(bits)
        except ValueError:
            return "must be an IP address or a CIDR block"
        return None
    return None if _is_ip(value) else "must be an IP address or a CIDR block"


# ---------------------------------------------------------------------------
# Scalars: durations, percentages, status codes, header values, regexes


def validate_duration(value, field, problems):
    """Check a duration field (timeout, perTryTimeout, fixedDelay, ...): Go syntax, at least 1ms, whole ms.

    Returns the duration in nanoseconds, or None when it is not valid.
    """
    try:
        nanoseconds = parse_duration_ns(value)
    except ValueError as exc:
        problems.add(field, str(exc), value)
        return None
    if nanoseconds < NS_PER_MS:
        problems.add(field, "must be at least 1ms", value)
        return None
    if nanoseconds % NS_PER_MS:
        problems.add(field, "must be a whole number of milliseconds (Istio's precision)", value)
        return None
    return nanoseconds


def _parsed_duration(obj, key, path, problems):
    """A duration Istio reads but does not check further: it only has to parse."""
    if _has(obj, key):
        try:
            parse_duration_ns(obj[key])
        except ValueError as exc:
            problems.add(_field(path, key), str(exc), obj[key])


def _duration(obj, key, path, problems):
    if _has(obj, key):
        return validate_duration(obj[key], _field(path, key), problems)
    return None


def validate_percentage(value, field, problems):
    """Check a fault percentage: 0 (never) or from 0.0001 to 100."""
    # NaN fails every comparison, so it falls through to the problem.
    if _is_number(value) and (value == 0 or 0.0001 <= value <= 100):
        return
    problems.add(field, "must be a number from 0.0001 to 100, or 0", value)


def validate_http_status(value, field, problems):
    # Istio's check says 200-599 but lets 600 through; following it exactly.
    if not _is_int(value) or not 200 <= value <= 600:
        problems.add(field, "must be an HTTP status code from 200 to 599", value)


def validate_grpc_status(value, field, problems):
    if isinstance(value, str) and value in GRPC_STATUS_NAMES:
        return
    problems.add(field, "must be a gRPC status name (%s)" % ", ".join(GRPC_STATUS_NAMES), value)


def validate_retry_on(value, field, problems):
    """Check a retryOn list: comma-separated, no spaces, each a policy name or a known HTTP status code."""
    text = _string(value, field, problems)
    if not text:
        return
    unknown = []
    for token in text.split(","):
        if token in RETRY_ON_POLICIES:
            continue
        if _atoi(token) in KNOWN_HTTP_STATUS_CODES:
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


def _header_value_problem(value):
    """Why Envoy would refuse a header value to add or set, or None: control characters, or a
    ``%`` that neither escapes (``%%``) nor opens a complete ``%VARIABLE%`` / ``%VAR(args)%``."""
    if not _HEADER_VALUE_CHARS.fullmatch(value):
        return "must not contain control characters other than tab"
    literal, name, expect_array, expect_string, in_string, expect_delim, expect_args_end, expect_end = range(8)
    state = literal
    position = 0
    while position < len(value):
        char = value[position]
        has_next = position + 1 < len(value)
        if state == literal:
            if char == "%":
                if not has_next:
                    return "has an unescaped '%' (write '%%' for a literal percent sign)"
                if value[position + 1] == "%":
                    position += 1
                else:
                    state = name
        elif state == name:
            if char == "%":
                state = literal
            elif char == "(":
                state = expect_array
        elif state == expect_array:
            if char == "[":
                state = expect_string
            elif char != " ":
                state = in_string
        elif state == expect_delim:
            if char == ",":
                state = expect_string
            elif char == "]":
                state = expect_args_end
            elif char != " ":
                return "has a malformed %VARIABLE(...)% argument list"
        elif state == expect_string:
            if char == '"':
                state = in_string
            elif char != " ":
                return "has a malformed %VARIABLE(...)% argument list"
        elif state == in_string:
            if char == "\\":
                if not has_next:
                    return "has an unterminated backslash in a %VARIABLE(...)% argument"
                position += 1
            elif char == ")":
                state = expect_end
            elif char == '"':
                state = expect_delim
        elif state == expect_args_end:
            if char == ")":
                state = expect_end
            elif char != " ":
                return "has a malformed %VARIABLE(...)% argument list"
        elif state == expect_end:
            if char == "%":
                state = literal
            elif char != " ":
                return "has a %VARIABLE(...)% without its closing '%'"
        position += 1
    if state != literal:
        return "has an unterminated %VARIABLE% (write '%%' for a literal percent sign)"
    return None


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


def _match_kind(match):
    """The one-of of a StringMatch: ("exact"|"prefix"|"regex", text), or (None, None) when none is set."""
    for kind in STRING_MATCH_KEYS:
        if kind in match and match[kind] is not None:
            return kind, match[kind]
    return None, None


def _validate_string_match(value, path, problems, allow_empty_prefix=False, check_prefix=True):
    """A StringMatch: one of exact, prefix, regex; regex is RE2; prefix not empty (except for uri)."""
    if value is None:
        return
    match = _mapping(value, path, problems)
    if match is None:
        return
    _unknown_keys(match, STRING_MATCH_KEYS, path, problems)
    kinds = [key for key in STRING_MATCH_KEYS if _has(match, key)]
    if len(kinds) > 1:
        problems.add(path, "exact, prefix and regex are one-of: set only one", kinds)
        return
    for kind in kinds:
        where = _field(path, kind)
        text = _string(match[kind], where, problems)
        if text is None:
            continue
        if kind == "regex":
            validate_regex(text, where, problems)
        elif kind == "prefix" and check_prefix and not text and not allow_empty_prefix:
            problems.add(where, "must not be empty (an empty prefix is only allowed for uri)", text)


def _validate_header_matches(match, key, path, problems, without=False):
    where = _field(path, key)
    for name, condition in _string_map(match, key, path, problems).items():
        entry = _entry(where, name)
        validate_header_name(name, entry, problems, allow_jwt_claim=True)
        if condition is None:
            if not without:
                problems.add(entry, "must be a string match such as {exact: value}; {} matches any value",
                             condition)
            continue
        if without and isinstance(condition, dict) and condition.get("regex") == "*":
            continue  # Istio reads regex "*" here as "header present", not as a regex
        _validate_string_match(condition, entry, problems)


def _validate_match(value, path, problems):
    match = _mapping(value, path, problems)
    if match is None:
        return
    _unknown_keys(match, MATCH_KEYS, path, problems)
    for key in ("name", "statPrefix"):
        _str_field(match, key, path, problems)
    _validate_header_matches(match, "headers", path, problems)
    _validate_header_matches(match, "withoutHeaders", path, problems, without=True)
    _validate_string_match(match.get("uri"), _field(path, "uri"), problems, allow_empty_prefix=True)
    for key in ("scheme", "method", "authority"):
        _validate_string_match(match.get(key), _field(path, key), problems)
    params_path = _field(path, "queryParams")
    for name, param in _string_map(match, "queryParams", path, problems).items():
        _validate_string_match(param, _entry(params_path, name), problems)
    port = _int(match, "port", path, problems)
    if port:
        validate_port(port, _field(path, "port"), problems)
    if _has(match, "sourceLabels"):
        validate_labels(match["sourceLabels"], _field(path, "sourceLabels"), problems)
    validate_gateway_refs(_list(match, "gateways", path, problems), _field(path, "gateways"), problems)
    namespace = _str_field(match, "sourceNamespace", path, problems)
    if namespace and not is_dns1123_label(namespace):
        problems.add(_field(path, "sourceNamespace"), DNS1123_LABEL_MESSAGE, namespace)
    _bool(match, "ignoreUriCase", path, problems)


def _validate_destination(value, path, problems):
    if value is None:
        return
    destination = _mapping(value, path, problems)
    if destination is None:
        return
    _unknown_keys(destination, DESTINATION_KEYS, path, problems)
    host_path = _field(path, "host")
    if not _has(destination, "host"):
        problems.add(host_path, "is required")
    elif destination["host"] == "*":
        problems.add(host_path, "must name a service, not '*'", "*")
    else:
        validate_host(destination["host"], host_path, problems)
    subset = _str_field(destination, "subset", path, problems)
    if subset and not is_dns1123_label(subset):
        problems.add(_field(path, "subset"), DNS1123_LABEL_MESSAGE, subset)
    port = _object(destination, "port", path, problems, PORT_SELECTOR_KEYS)
    if port is not None:
        number = port.get("number", 0)
        validate_port(number, _field(_field(path, "port"), "number"), problems)


def _validate_header_operations(value, path, problems):
    """Request/response header edits: names Envoy may change, values Envoy can parse."""
    if value is None:
        return
    headers = _mapping(value, path, problems)
    if headers is None:
        return
    _unknown_keys(headers, HEADERS_KEYS, path, problems)
    for direction in HEADERS_KEYS:
        operations = _object(headers, direction, path, problems, HEADER_OPERATION_KEYS)
        if operations is None:
            continue
        direction_path = _field(path, direction)
        for operation in ("set", "add"):
            operation_path = _field(direction_path, operation)
            for name, text in _string_map(operations, operation, direction_path, problems).items():
                entry = _entry(operation_path, name)
                _check_edited_header(name, entry, problems, request=direction == "request")
                text = _string(text, entry, problems)
                if text:
                    reason = _header_value_problem(text)
                    if reason:
                        problems.add(entry, "header value %s" % reason, text)
        remove_path = _field(direction_path, "remove")
        for index, name in enumerate(_list(operations, "remove", direction_path, problems)):
            if _string(name, _item(remove_path, index), problems) is not None:
                _check_edited_header(name, _item(remove_path, index), problems, request=False)


def _check_edited_header(name, field, problems, request):
    """Envoy cannot edit pseudo headers or Host, except that a request may set the authority."""
    if not isinstance(name, str):
        problems.add(field, "header name must be a string", name)
        return
    if not name:
        problems.add(field, "header name must not be empty", name)
        return
    authority = name.lower() in (":authority", "host")
    if request and authority:
        return
    if name.lower() == "host":
        problems.add(field, "cannot edit the Host header (set :authority on the request, or use rewrite.authority)",
                     name)
    elif name.startswith(":"):
        problems.add(field, "cannot edit a pseudo header (':' prefix)", name)


def _authority_edits(route):
    rewrite = route.get("rewrite") if isinstance(route.get("rewrite"), dict) else {}
    found = [rewrite["authority"]] if isinstance(rewrite.get("authority"), str) and rewrite["authority"] else []
    headers = route.get("headers") if isinstance(route.get("headers"), dict) else {}
    request = headers.get("request") if isinstance(headers.get("request"), dict) else {}
    for operation in ("set", "add"):
        edits = request.get(operation) if isinstance(request.get(operation), dict) else {}
        found.extend(value for name, value in edits.items()
                     if isinstance(name, str) and name.lower() in (":authority", "host"))
    return found


def _validate_route_destinations(value, path, problems, http, legacy_weights):
    """Weighted destinations (an HTTP, TLS or TCP ``route`` list) and their weights together."""
    entries = _sequence(value, path, problems) or []
    total = 0
    weights = []
    for index, entry in enumerate(entries):
        entry_path = _item(path, index)
        if entry is None:
            problems.add(entry_path, "is required (a destination, not null)")
            continue
        entry = _mapping(entry, entry_path, problems)
        if entry is None:
            continue
        _unknown_keys(entry, HTTP_ROUTE_DESTINATION_KEYS if http else ROUTE_DESTINATION_KEYS, entry_path,
                      problems)
        if _has(entry, "destination"):
            _validate_destination(entry["destination"], _field(entry_path, "destination"), problems)
        else:
            problems.add(_field(entry_path, "destination"), "is required")
        if http:
            _validate_header_operations(entry.get("headers"), _field(entry_path, "headers"), problems)
        high = 100 if legacy_weights else INT32_MAX
        message = "must be an integer from 0 to 100 before Istio 1.15" if legacy_weights else "must be >= 0"
        weight = _int(entry, "weight", entry_path, problems, 0, high, message)
        weights.append(weight)
        if _is_int(entry.get("weight")):
            total += entry["weight"]  # Istio adds negative weights too
    if len(entries) < 2:
        return
    if legacy_weights:
        if total != 100:
            problems.add(path, "the total weight of several destinations must be exactly 100 before Istio 1.15 "
                               "(an unset weight counts as 0)", total)
    elif total % (2 ** 32) == 0:  # Istio sums in 32 bits
        if all(weight is None for weight in weights):
            problems.add(path, "the total weight of several destinations must be more than 0, and none has a "
                               "weight: set one on each (weights are relative, e.g. 50 and 50)", total)
        else:
            problems.add(path, "the total weight of several destinations must be more than 0", total)


def _validate_percent(block, path, problems):
    """A Percent message {value: N}: returns N (0 when unset), or None when it has the wrong type."""
    if block is None:
        return 0
    block = _mapping(block, path, problems)
    if block is None:
        return None
    _unknown_keys(block, PERCENTAGE_KEYS, path, problems)
    value = _number(block, "value", path, problems)
    return 0 if value is None and not _has(block, "value") else value


def _fault_percentage(part, path, problems):
    if not _has(part, "percentage"):
        if not _has(part, "percent"):
            problems.warn(_field(path, "percentage"), "is not set, so this fault is injected into no request "
                                                      "(use {value: 100} for every request)")
        return
    where = _field(path, "percentage")
    value = _validate_percent(part["percentage"], where, problems)
    if value is not None:
        validate_percentage(value, _field(where, "value"), problems)


def _validate_delay(value, path, problems):
    delay = _mapping(value, path, problems)
    if delay is None:
        return
    _unknown_keys(delay, DELAY_KEYS, path, problems)
    kinds = [key for key in ("fixedDelay", "exponentialDelay") if _has(delay, key)]
    if len(kinds) > 1:
        problems.add(path, "fixedDelay and exponentialDelay are one-of: set only one", kinds)
    if _has(delay, "fixedDelay"):
        validate_duration(delay["fixedDelay"], _field(path, "fixedDelay"), problems)
    elif _has(delay, "exponentialDelay"):
        validate_duration(delay["exponentialDelay"], _field(path, "exponentialDelay"), problems)
        problems.add(_field(path, "exponentialDelay"), "is not supported by Istio yet: use fixedDelay",
                     delay["exponentialDelay"])
    else:
        problems.warn(_field(path, "fixedDelay"), "is not set, so this delay delays nothing")
    _int(delay, "percent", path, problems)
    _fault_percentage(delay, path, problems)


def _validate_abort(value, path, problems):
    abort = _mapping(value, path, problems)
    if abort is None:
        return
    # "percent" is left out of the unknown-key report: it gets its own message.
    _unknown_keys(abort, ABORT_KEYS + ("percent",), path, problems)
    if "percent" in abort:
        # The pre-1.5 form: pruned on write, so the abort would be stored with no percentage and never fire.
        replacement = abort["percent"] if _is_number(abort["percent"]) else "N"
        problems.add(_field(path, "percent"), "was removed in Istio 1.5 and the API server drops it, so this "
                                              "abort would never fire: use percentage: {value: %s}" % replacement,
                     abort["percent"])
    else:
        _fault_percentage(abort, path, problems)
    error_types = [key for key in ("httpStatus", "grpcStatus", "http2Error") if _has(abort, key)]
    if len(error_types) > 1:
        problems.add(path, "httpStatus, grpcStatus and http2Error are one-of: set only one", error_types)
    elif not error_types:
        problems.warn(path, "has no error type (httpStatus or grpcStatus), so it aborts nothing")
    elif error_types == ["httpStatus"]:
        validate_http_status(abort["httpStatus"], _field(path, "httpStatus"), problems)
    elif error_types == ["grpcStatus"]:
        validate_grpc_status(abort["grpcStatus"], _field(path, "grpcStatus"), problems)
    else:
        problems.add(_field(path, "http2Error"), "is not supported by Istio yet: use httpStatus or grpcStatus",
                     abort["http2Error"])


def _validate_fault(value, path, problems):
    fault = _mapping(value, path, problems)
    if fault is None:
        return
    _unknown_keys(fault, FAULT_KEYS, path, problems)
    if not _has(fault, "delay") and not _has(fault, "abort"):
        problems.add(path, "needs a delay and/or an abort", fault)
    if _has(fault, "delay"):
        _validate_delay(fault["delay"], _field(path, "delay"), problems)
    if _has(fault, "abort"):
        _validate_abort(fault["abort"], _field(path, "abort"), problems)


def _validate_retries(value, path, problems):
    retries = _mapping(value, path, problems)
    if retries is None:
        return
    _unknown_keys(retries, RETRY_KEYS, path, problems)
    attempts = _int(retries, "attempts", path, problems)
    attempts_path = _field(path, "attempts")
    if attempts is not None and attempts < 0:
        problems.add(attempts_path, "must be >= 0", attempts)
    extras = [key for key in ("perTryTimeout", "retryOn", "retryRemoteLocalities")
              if (_nonempty(retries, key) if key == "retryOn" else _has(retries, key))]
    if not attempts and extras:
        # Unset means 0, which disables retries: the other settings would be ignored.
        problems.add(attempts_path, "must be >= 1 when %s is set (0 disables retries)" % " and ".join(extras),
                     retries.get("attempts", 0))
    _duration(retries, "perTryTimeout", path, problems)
    if _has(retries, "retryOn"):
        validate_retry_on(retries["retryOn"], _field(path, "retryOn"), problems)
    _duration(retries, "backoff", path, problems)
    for key in ("retryRemoteLocalities", "retryIgnorePreviousHosts"):
        _bool(retries, key, path, problems)


def _validate_redirect(value, path, problems, matches):
    """Like Istio, stop at the first thing wrong with a redirect."""
    redirect = _mapping(value, path, problems)
    if redirect is None:
        return
    _unknown_keys(redirect, REDIRECT_KEYS, path, problems)
    texts = {key: _str_field(redirect, key, path, problems) for key in ("uri", "authority", "scheme",
                                                                        "prefixRewrite")}
    if None in texts.values():
        return
    if texts["uri"] and texts["prefixRewrite"]:
        problems.add(path, "uri and prefixRewrite are one-of: set only one")
        return
    if texts["prefixRewrite"]:
        for index, match in enumerate(matches):
            if isinstance(match, dict) and _has(match, "uri") and _match_kind(
                    match["uri"] if isinstance(match["uri"], dict) else {})[0] != "prefix":
                problems.add(_field(path, "prefixRewrite"), "needs every uri match to be a prefix match, "
                             "and match[%d].uri is not" % index, texts["prefixRewrite"])
                return
    if not any(texts[key] for key in ("uri", "prefixRewrite", "authority", "scheme")) and not (
            _has(redirect, "port") or _has(redirect, "derivePort")):
        problems.add(path, "must set at least one of uri, prefixRewrite, authority, scheme, port or derivePort",
                     redirect)
        return
    code = _int(redirect, "redirectCode", path, problems)
    if code and not 300 <= code <= 399:
        problems.add(_field(path, "redirectCode"), "must be a 3xx HTTP status code", code)
        return
    if texts["scheme"] not in ("", "http", "https"):
        problems.add(_field(path, "scheme"), "must be http or https", texts["scheme"])
        return
    port = _int(redirect, "port", path, problems)
    if port:
        validate_port(port, _field(path, "port"), problems)
    _enum(redirect, "derivePort", path, problems, ("FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"))


def _body_size(body, path, problems):
    if _has(body, "string"):
        text = _string(body["string"], _field(path, "string"), problems)
        return len(text.encode("utf-8")) if text is not None else 0
    if _has(body, "bytes"):
        text = _string(body["bytes"], _field(path, "bytes"), problems)
        try:
            return len(base64.b64decode(text or "", validate=True))
        except (binascii.Error, ValueError):
            problems.add(_field(path, "bytes"), "must be base64", text)
    return 0


def _validate_direct_response(value, path, problems):
    response = _mapping(value, path, problems)
    if response is None:
        return
    _unknown_keys(response, DIRECT_RESPONSE_KEYS, path, problems)
    body = _object(response, "body", path, problems, ("string", "bytes"))
    if body is not None:
        body_path = _field(path, "body")
        if _has(body, "string") and _has(body, "bytes"):
            problems.add(body_path, "string and bytes are one-of: set only one", body)
        size = _body_size(body, body_path, problems)
        if size > DIRECT_RESPONSE_MAX_BYTES:
            problems.add(body_path, "must be at most 1 MiB (large direct responses weigh on the control plane)",
                         "%d bytes" % size)
        elif size > DIRECT_RESPONSE_WARN_BYTES:
            problems.warn(body_path, "is larger than 100 KiB, which weighs on the control plane", "%d bytes" % size)
    status_path = _field(path, "status")
    if not _has(response, "status"):
        problems.add(status_path, "is required")
    else:
        validate_http_status(response["status"], status_path, problems)


def _validate_rewrite(value, path, problems):
    """Like Istio, stop at the first thing wrong with a rewrite."""
    rewrite = _mapping(value, path, problems)
    if rewrite is None:
        return
    _unknown_keys(rewrite, REWRITE_KEYS, path, problems)
    uri = _str_field(rewrite, "uri", path, problems)
    authority = _str_field(rewrite, "authority", path, problems)
    regex_rewrite = _object(rewrite, "uriRegexRewrite", path, problems, ("match", "rewrite"))
    if uri and regex_rewrite is not None:
        problems.add(path, "uri and uriRegexRewrite are one-of: set only one")
        return
    if not uri and regex_rewrite is None and not authority:
        problems.add(path, "must set at least one of uri, uriRegexRewrite or authority", rewrite)
        return
    if regex_rewrite is not None:
        regex_path = _field(path, "uriRegexRewrite")
        texts = {key: _str_field(regex_rewrite, key, regex_path, problems) for key in ("match", "rewrite")}
        missing = [key for key in ("match", "rewrite") if texts[key] == ""]
        for key in missing:
            problems.add(_field(regex_path, key), "is required")
        if not missing and texts["match"]:
            validate_regex(texts["match"], _field(regex_path, "match"), problems)


def _validate_mirror_percentage(value, path, problems):
    level = _validate_percent(value, path, problems)
    if level is not None and not 0 <= level <= 100:
        problems.add(_field(path, "value"), "must be a number from 0 to 100", level)


def _validate_delegate(value, path, problems):
    delegate = _mapping(value, path, problems)
    if delegate is None:
        return
    _unknown_keys(delegate, DELEGATE_KEYS, path, problems)
    for key in DELEGATE_KEYS:
        _str_field(delegate, key, path, problems)


def _validate_cors(value, path, problems):
    cors = _mapping(value, path, problems)
    if cors is None:
        return
    _unknown_keys(cors, CORS_KEYS, path, problems)
    origins_path = _field(path, "allowOrigins")
    for index, origin in enumerate(_list(cors, "allowOrigins", path, problems)):
        where = _item(origins_path, index)
        origin = _mapping(origin, where, problems)
        if origin is None:
            continue
        kind, text = _match_kind(origin)
        if not text:
            problems.add(where, "must set exact, prefix or regex to a non-empty string", origin)
            continue
        _validate_string_match(origin, where, problems, check_prefix=False)
    for index, method in enumerate(_list(cors, "allowMethods", path, problems)):
        if method not in CORS_METHODS:
            problems.add(_item(_field(path, "allowMethods"), index), "must be one of %s" % ", ".join(CORS_METHODS),
                         method)
    for key in ("allowHeaders", "exposeHeaders"):
        for index, name in enumerate(_list(cors, key, path, problems)):
            where = _item(_field(path, key), index)
            if not isinstance(name, str) or not name:
                problems.add(where, "must be a header name", name)
            elif name != "*" and not _HEADER_TOKEN.fullmatch(name):
                problems.add(where, "must be '*' or a header name: letters, digits or !#$%&'*+-.^_`|~", name)
    max_age = _duration(cors, "maxAge", path, problems)
    if max_age is not None and max_age % (1000 * NS_PER_MS):
        problems.add(_field(path, "maxAge"), "must be whole seconds", cors["maxAge"])
    _bool(cors, "allowCredentials", path, problems)
    _enum(cors, "unmatchedPreflights", path, problems, ("UNSPECIFIED", "FORWARD", "IGNORE"))
    for index, origin in enumerate(_list(cors, "allowOrigin", path, problems)):
        _string(origin, _item(_field(path, "allowOrigin"), index), problems)


def _validate_conflicts(route, path, problems, delegate_vs):
    """What may be combined in one route (Istio's validateHTTPRouteConflict)."""
    forwards = _nonempty(route, "route")
    if not delegate_vs and _has(route, "delegate"):
        # A root route hands the request to the delegate VirtualService: nothing else may answer it.
        if _has(route, "redirect"):
            problems.add(_field(path, "redirect"), "cannot be combined with delegate")
        if forwards:
            problems.add(_field(path, "route"), "cannot be combined with delegate")
        return
    if delegate_vs and _has(route, "delegate"):
        problems.add(_field(path, "delegate"), "is not allowed in a delegate VirtualService (one without hosts)")
    if _has(route, "redirect"):
        for other in ("route", "fault", "rewrite", "directResponse"):
            if (forwards if other == "route" else _has(route, other)):
                problems.add(_field(path, "redirect"), "cannot be combined with %s (it answers the request itself)"
                             % other)
    elif _has(route, "directResponse"):
        for other in ("route", "fault", "rewrite"):
            if (forwards if other == "route" else _has(route, other)):
                problems.add(_field(path, "directResponse"), "cannot be combined with %s (it answers the request "
                                                             "itself)" % other)
    elif not forwards:
        problems.add(_field(path, "route"), "is required (or a redirect, directResponse or delegate)")
    if _has(route, "mirror") and _nonempty(route, "mirrors"):
        problems.add(_field(path, "mirror"), "cannot be combined with mirrors")


def _validate_http_route(value, path, problems, legacy_weights, delegate_vs):
    if value is None:
        problems.add(path, "is required (a route, not null)")
        return
    route = _mapping(value, path, problems)
    if route is None:
        return
    # From here on "route" is the HTTP route and route["route"] its destinations, as in the API.
    _unknown_keys(route, HTTP_ROUTE_KEYS, path, problems)
    _validate_conflicts(route, path, problems, delegate_vs)
    _str_field(route, "name", path, problems)
    matches = _list(route, "match", path, problems)
    for index, match in enumerate(matches):
        if match is not None:
            _validate_match(match, _item(_field(path, "match"), index), problems)
    _validate_header_operations(route.get("headers"), _field(path, "headers"), problems)
    if _has(route, "corsPolicy"):
        _validate_cors(route["corsPolicy"], _field(path, "corsPolicy"), problems)
    if _has(route, "fault"):
        _validate_fault(route["fault"], _field(path, "fault"), problems)
    mirror_percent = _int(route, "mirrorPercent", path, problems, 0, None, "must be >= 0")
    if mirror_percent is not None:
        if mirror_percent > 100:
            problems.add(_field(path, "mirrorPercent"), "must be at most 100", mirror_percent)
        problems.warn(_field(path, "mirrorPercent"), "is deprecated: use mirrorPercentage: {value: N}",
                      mirror_percent)
    if _has(route, "mirrorPercentage"):
        _validate_mirror_percentage(route["mirrorPercentage"], _field(path, "mirrorPercentage"), problems)
    _validate_destination(route.get("mirror"), _field(path, "mirror"), problems)
    mirrors_path = _field(path, "mirrors")
    for index, mirror in enumerate(_list(route, "mirrors", path, problems)):
        mirror_path = _item(mirrors_path, index)
        if mirror is None:
            problems.add(mirror_path, "is required (a mirror, not null)")
            continue
        mirror = _mapping(mirror, mirror_path, problems)
        if mirror is None:
            continue
        _unknown_keys(mirror, MIRROR_POLICY_KEYS, mirror_path, problems)
        if not _has(mirror, "destination"):
            problems.add(_field(mirror_path, "destination"), "is required")
            continue
        _validate_destination(mirror["destination"], _field(mirror_path, "destination"), problems)
        if _has(mirror, "percentage"):
            _validate_mirror_percentage(mirror["percentage"], _field(mirror_path, "percentage"), problems)
    if _has(route, "redirect"):
        _validate_redirect(route["redirect"], _field(path, "redirect"), problems, matches)
    if _has(route, "directResponse"):
        _validate_direct_response(route["directResponse"], _field(path, "directResponse"), problems)
    if _has(route, "retries"):
        _validate_retries(route["retries"], _field(path, "retries"), problems)
    if _has(route, "rewrite"):
        _validate_rewrite(route["rewrite"], _field(path, "rewrite"), problems)
    authorities = _authority_edits(route)
    if len([text for text in authorities[:-1] if text]) >= 1 and len(authorities) > 1:
        problems.add(path, "sets the authority more than once (rewrite.authority, headers.request :authority "
                           "or host): keep one", authorities)
    if _has(route, "delegate"):
        _validate_delegate(route["delegate"], _field(path, "delegate"), problems)
    if _has(route, "route"):
        _validate_route_destinations(route["route"], _field(path, "route"), problems, True, legacy_weights)
    _duration(route, "timeout", path, problems)


def _validate_l4_match(value, path, problems, tls, vs_hosts, bound_to_gateway):
    match = _mapping(value, path, problems)
    if match is None:
        return
    _unknown_keys(match, TLS_MATCH_KEYS if tls else L4_MATCH_KEYS, path, problems)
    if tls:
        sni_path = _field(path, "sniHosts")
        sni_hosts = _list(match, "sniHosts", path, problems)
        if not sni_hosts:
            problems.add(sni_path, "must list at least one SNI host")
        for index, sni in enumerate(sni_hosts):
            _validate_sni_host(sni, _item(sni_path, index), problems, vs_hosts, bound_to_gateway)
    subnets_path = _field(path, "destinationSubnets")
    for index, subnet in enumerate(_list(match, "destinationSubnets", path, problems)):
        reason = _ip_subnet_problem(subnet)
        if reason:
            problems.add(_item(subnets_path, index), reason, subnet)
    _str_field(match, "sourceSubnet", path, problems)
    port = _int(match, "port", path, problems)
    if port:
        validate_port(port, _field(path, "port"), problems)
    if _has(match, "sourceLabels"):
        validate_labels(match["sourceLabels"], _field(path, "sourceLabels"), problems)
    validate_gateway_refs(_list(match, "gateways", path, problems), _field(path, "gateways"), problems)
    _str_field(match, "sourceNamespace", path, problems)


def _sni_subset_of(sni, host):
    """Istio's host.Name.SubsetOf: is every name ``sni`` covers also covered by ``host``?"""
    if sni.startswith("*"):
        return host.startswith("*") and len(sni) >= len(host) and sni[1:].endswith(host[1:])
    if host.startswith("*"):
        return sni.endswith(host[1:])
    return sni == host


def _validate_sni_host(sni, field, problems, vs_hosts, bound_to_gateway):
    if not isinstance(sni, str):
        problems.add(field, "must be a string", sni)
        return
    reason = _sni_domain_problem(sni) if bound_to_gateway else domain_problem(sni)
    if reason:
        if _is_ip(sni):
            problems.warn(field, "is an IP address: SNI is meant for host names and most clients never send an IP",
                          sni)
        else:
            problems.add(field, reason, sni)
        return
    if not any(isinstance(host, str) and _sni_subset_of(sni, host) for host in vs_hosts):
        problems.add(field, "must be covered by one of the VirtualService's hosts (%s)"
                     % ", ".join(str(host) for host in vs_hosts), sni)


def _validate_l4_routes(spec, key, path, problems, legacy_weights, vs_hosts, sni_gateway):
    """TLS and TCP routes: matches and destinations."""
    routes_path = _field(path, key)
    for index, route in enumerate(_list(spec, key, path, problems)):
        route_path = _item(routes_path, index)
        if route is None:
            continue  # Istio skips a null TLS or TCP route
        route = _mapping(route, route_path, problems)
        if route is None:
            continue
        _unknown_keys(route, L4_ROUTE_KEYS, route_path, problems)
        matches = _list(route, "match", route_path, problems)
        if key == "tls" and not matches:
            problems.add(_field(route_path, "match"), "must list at least one match (TLS routes match on SNI)")
        for number, match in enumerate(matches):
            match_path = _item(_field(route_path, "match"), number)
            if match is None:
                problems.add(match_path, "is required (a match, not null)")
                continue
            _validate_l4_match(match, match_path, problems, key == "tls", vs_hosts, sni_gateway)
        if not _nonempty(route, "route"):
            problems.add(_field(route_path, "route"), "is required: at least one destination")
        else:
            _validate_route_destinations(route["route"], _field(route_path, "route"), problems, False,
                                         legacy_weights)


def _hosts_overlap(first, second):
    """Istio's host.Name.Matches: could one request host be claimed by both?"""
    if first.startswith("*") and second.startswith("*"):
        shorter, longer = sorted((first, second), key=len)
        return longer[1:].endswith(shorter[1:])
    if first.startswith("*"):
        return second.endswith(first[1:])
    if second.startswith("*"):
        return first.endswith(second[1:])
    return first == second


def _jwt_claim_routes(http, path, problems, gateways):
    """Routing on JWT claims needs a gateway: sidecars never see the claims."""
    for index, route in enumerate(http):
        if not isinstance(route, dict) or not isinstance(route.get("match"), list):
            continue
        for number, match in enumerate(route["match"]):
            if not isinstance(match, dict):
                continue
            for key in ("headers", "withoutHeaders"):
                names = match.get(key) if isinstance(match.get(key), dict) else {}
                for name in names:
                    if isinstance(name, str) and _is_jwt_claim(name):
                        problems.add(_entry(_field(_item(_item(path, index) + ".match", number), key), name),
                                     "routes on a JWT claim, which only works on a gateway (gateways: %s)"
                                     % (gateways or "none"), name)


def legacy_weights_for(api_version):
    """The weight rule of the Istio behind ``api_version`` (the one discovery picked or the user pinned).

    v1beta1 or v1 served: an Istio whose weights are relative (>= 0, summing to more than 0), as 1.15 and later
    take them. Only v1alpha3 served: an Istio before 1.15, which wants each weight <= 100 and a sum of exactly
    100; the collection writes only what that Istio accepts.
    """
    return api_version == "v1alpha3"


def validate_virtual_service(spec, path="spec", problems=None, legacy_weights=False, namespace=None):
    """Check a VirtualService spec against Istio's rules; return the Problems (``problems`` if given).

    A VirtualService without hosts is a delegate (routes that another VirtualService hands
    over with ``delegate``): it may have only http routes and no gateways. ``namespace`` is
    the object's namespace, which exportTo '.' stands for. ``legacy_weights`` applies the rule
    of Istio before 1.15: each weight at most 100 and, with several destinations, a sum of 100.
    """
    problems = Problems() if problems is None else problems
    spec = _mapping(spec, path, problems)
    if spec is None:
        return problems
    _unknown_keys(spec, VIRTUAL_SERVICE_KEYS, path, problems)

    hosts_path = _field(path, "hosts")
    hosts = _list(spec, "hosts", path, problems)
    gateways = _list(spec, "gateways", path, problems)
    http = _list(spec, "http", path, problems)
    if not hosts:
        for key in ("gateways", "tls", "tcp"):
            if _nonempty(spec, key):
                problems.add(_field(path, key), "must be empty in a delegate VirtualService (one without hosts)",
                             spec[key])
    bound_to_gateway = bool(gateways) and MESH_GATEWAY not in gateways
    validate_gateway_refs(gateways, _field(path, "gateways"), problems)
    if not bound_to_gateway:
        _jwt_claim_routes(http, _field(path, "http"), problems, gateways)

    tls_routes = spec.get("tls") if isinstance(spec.get("tls"), list) else []
    sni_used = any(isinstance(route, dict) and isinstance(route.get("match"), list) and any(
        isinstance(match, dict) and match.get("sniHosts") for match in route["match"]) for route in tls_routes)
    hosts_valid = True
    for index, host in enumerate(hosts):
        host_path = _item(hosts_path, index)
        if not isinstance(host, str):
            problems.add(host_path, "must be a string", host)
            hosts_valid = False
            continue
        reason = _sni_domain_problem(host) if (bound_to_gateway and sni_used) else domain_problem(host)
        if reason:
            if not _is_ip(host):
                problems.add(host_path, reason, host)
                hosts_valid = False
        elif host == "*" and not bound_to_gateway:
            problems.add(host_path, "'*' alone is not allowed when the VirtualService applies to the mesh "
                                    "(gateways empty or containing 'mesh')", host)
            hosts_valid = False
    if hosts_valid:
        for first in range(len(hosts)):
            for second in range(first + 1, len(hosts)):
                if _hosts_overlap(hosts[first], hosts[second]):
                    problems.add(_item(hosts_path, second), "duplicates %s (%r): a host may be claimed only once"
                                 % (_item(hosts_path, first), hosts[first]), hosts[second])

    if not any(_nonempty(spec, key) for key in ("http", "tls", "tcp")):
        problems.add(path, "needs at least one http, tls or tcp route")
    http_path = _field(path, "http")
    for index, route in enumerate(http):
        _validate_http_route(route, _item(http_path, index), problems, legacy_weights, delegate_vs=not hosts)
    for key in ("tls", "tcp"):
        # For SNI hosts Istio counts a VirtualService without gateways as bound to a gateway too.
        _validate_l4_routes(spec, key, path, problems, legacy_weights, hosts, MESH_GATEWAY not in gateways)
    if _has(spec, "exportTo"):
        _validate_export_to(spec["exportTo"], _field(path, "exportTo"), problems, namespace)
    _report_unreachable(http, http_path, problems)
    for key in ("tcp", "tls"):
        _report_unreachable(_list(spec, key, path, Problems()), _field(path, key), problems)
    return problems


def _without_name(match):
    return {key: value for key, value in match.items() if key != "name"} if isinstance(match, dict) else match


def _report_unreachable(routes, path, problems):
    """Routes are tried in order: warn about those that can never be reached (istioctl's IST0130/IST0131)."""
    seen = []
    catch_all = None
    for index, route in enumerate(routes):
        if not isinstance(route, dict):
            continue
        where = _item(path, index)
        if catch_all is not None:
            problems.warn(where, "can never be reached: %s before it matches every request (move the catch-all "
                                 "route last)" % _item(path, catch_all))
            continue
        if is_catch_all(route):
            catch_all = index
        matches = route.get("match") if isinstance(route.get("match"), list) else []
        duplicates = 0
        for number, match in enumerate(matches):
            if _without_name(match) in seen:
                duplicates += 1
                problems.warn(_item(where + ".match", number), "is never used: an earlier route has the same match")
            else:
                seen.append(_without_name(match))
        if matches and duplicates == len(matches):
            problems.warn(where, "can never be reached: earlier routes take all its matches")


# ---------------------------------------------------------------------------
# DestinationRule


def _validate_outlier(outlier, path, problems):
    _unknown_keys(outlier, ("splitExternalLocalOriginErrors", "consecutiveLocalOriginFailures",
                            "consecutiveGatewayErrors", "consecutive5xxErrors", "consecutiveErrors", "interval",
                            "baseEjectionTime", "maxEjectionPercent", "minHealthPercent"), path, problems)
    _duration(outlier, "baseEjectionTime", path, problems)
    if _int(outlier, "consecutiveErrors", path, problems):
        problems.warn(_field(path, "consecutiveErrors"), "is deprecated: use consecutiveGatewayErrors or "
                                                         "consecutive5xxErrors", outlier["consecutiveErrors"])
    _bool(outlier, "splitExternalLocalOriginErrors", path, problems)
    local_failures = _int(outlier, "consecutiveLocalOriginFailures", path, problems, 0, None, "must be >= 0")
    if local_failures and local_failures > 0 and outlier.get("splitExternalLocalOriginErrors") is not True:
        problems.add(_field(path, "consecutiveLocalOriginFailures"), "needs splitExternalLocalOriginErrors: true",
                     local_failures)
    for key in ("consecutiveGatewayErrors", "consecutive5xxErrors"):
        _int(outlier, key, path, problems, 0, None, "must be >= 0")
    _duration(outlier, "interval", path, problems)
    for key in ("maxEjectionPercent", "minHealthPercent"):
        _int(outlier, key, path, problems, 0, 100, "must be a percentage from 0 to 100")


def _validate_connection_pool(pool, path, problems):
    _unknown_keys(pool, ("http", "tcp"), path, problems)
    if not _has(pool, "http") and not _has(pool, "tcp"):
        problems.add(path, "must set http and/or tcp", pool)
        return
    http = _object(pool, "http", path, problems, (
        "http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries", "idleTimeout",
        "h2UpgradePolicy", "useClientProtocol", "maxConcurrentStreams", "http2KeepAlive"))
    if http is not None:
        http_path = _field(path, "http")
        for key in ("http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries",
                    "maxConcurrentStreams"):
            _int(http, key, http_path, problems, 0, None, "must be >= 0")
        _duration(http, "idleTimeout", http_path, problems)
        policy = _enum(http, "h2UpgradePolicy", http_path, problems, ("DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"))
        _bool(http, "useClientProtocol", http_path, problems)
        if policy == "UPGRADE" and http.get("useClientProtocol") is True:
            problems.add(_field(http_path, "useClientProtocol"), "must not be true when h2UpgradePolicy is UPGRADE",
                         True)
        keepalive = _object(http, "http2KeepAlive", http_path, problems, ("interval", "timeout"))
        if keepalive is not None:
            keepalive_path = _field(http_path, "http2KeepAlive")
            for key in ("interval", "timeout"):
                if not _has(keepalive, key):
                    problems.add(_field(keepalive_path, key), "is required")
                else:
                    _duration(keepalive, key, keepalive_path, problems)
    tcp = _object(pool, "tcp", path, problems, ("maxConnections", "connectTimeout", "tcpKeepalive",
                                                "maxConnectionDuration", "idleTimeout"))
    if tcp is not None:
        tcp_path = _field(path, "tcp")
        _int(tcp, "maxConnections", tcp_path, problems, 0, None, "must be >= 0")
        _duration(tcp, "connectTimeout", tcp_path, problems)
        _duration(tcp, "maxConnectionDuration", tcp_path, problems)
        if _has(tcp, "idleTimeout"):
            try:
                idle_ms = int(parse_duration_ns(tcp["idleTimeout"]) / NS_PER_MS)
            except ValueError:
                idle_ms = None
            if idle_ms != 0:  # 0s (and anything under 1ms) turns the idle timeout off
                _duration(tcp, "idleTimeout", tcp_path, problems)
        keepalive = _object(tcp, "tcpKeepalive", tcp_path, problems, ("probes", "time", "interval"))
        if keepalive is not None:
            keepalive_path = _field(tcp_path, "tcpKeepalive")
            _int(keepalive, "probes", keepalive_path, problems, 0, None, "must be >= 0")
            _duration(keepalive, "time", keepalive_path, problems)
            _duration(keepalive, "interval", keepalive_path, problems)


def _is_prime(number):
    """Envoy's primality test for a Maglev table size, including its answer for 1."""
    if 0 < number < 4:
        return True
    if number % 2 == 0:
        return False
    factor = 3
    while factor * factor <= number:
        if number % factor == 0:
            return False
        factor += 2
    return True


def _validate_consistent_hash(chash, path, problems):
    _unknown_keys(chash, ("httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName", "ringHash",
                          "maglev", "minimumRingSize"), path, problems)
    keys = [key for key in ("httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName") if
            _has(chash, key)]
    if len(keys) > 1:
        problems.add(path, "httpHeaderName, httpCookie, useSourceIp and httpQueryParameterName are one-of: set "
                           "only one", keys)
    cookie = _object(chash, "httpCookie", path, problems, ("name", "path", "ttl", "attributes"))
    if cookie is not None:
        cookie_path = _field(path, "httpCookie")
        if not _str_field(cookie, "name", cookie_path, problems):
            problems.add(_field(cookie_path, "name"), "is required")
        names = []
        attributes_path = _field(cookie_path, "attributes")
        for index, attribute in enumerate(_list(cookie, "attributes", cookie_path, problems)):
            where = _item(attributes_path, index)
            attribute = _mapping(attribute, where, problems)
            if attribute is None:
                continue
            name = _str_field(attribute, "name", where, problems)
            if not name:
                problems.add(_field(where, "name"), "is required")
            elif name in names:
                problems.add(_field(where, "name"), "must be unique among the cookie's attributes", name)
            else:
                names.append(name)
    algorithms = [key for key in ("ringHash", "maglev") if _has(chash, key)]
    if len(algorithms) > 1:
        problems.add(path, "ringHash and maglev are one-of: set only one", algorithms)
    if _int(chash, "minimumRingSize", path, problems, 0, None, "must be >= 0"):
        problems.warn(_field(path, "minimumRingSize"), "is deprecated: use ringHash.minimumRingSize",
                      chash["minimumRingSize"])
        if algorithms:
            problems.add(_field(path, "minimumRingSize"), "cannot be combined with ringHash or maglev",
                         chash["minimumRingSize"])
    ring = _object(chash, "ringHash", path, problems, ("minimumRingSize",))
    if ring is not None:
        _int(ring, "minimumRingSize", _field(path, "ringHash"), problems, 0, None, "must be >= 0")
    maglev = _object(chash, "maglev", path, problems, ("tableSize",))
    if maglev is not None:
        size_path = _field(_field(path, "maglev"), "tableSize")
        size = maglev.get("tableSize", 0)
        if not _is_int(size) or size < 0:
            problems.add(size_path, "must be an integer >= 0", size)
        elif size == 0:
            problems.add(size_path, "is required")
        elif size >= MAGLEV_TABLE_LIMIT or not _is_prime(size):
            problems.add(size_path, "must be a prime number below %d" % MAGLEV_TABLE_LIMIT, size)


def _locality_parts(locality):
    parts = locality.split("/", 2)
    if any(part == "" for part in parts):
        return None
    return parts


def _localities_problem(localities):
    """Istio's validateLocalities: at most one trailing '*', no empty parts, no overlaps. Message or None."""
    seen = {}
    for locality in localities:
        stars = locality.count("*")
        if stars and (stars > 1 or not locality.endswith("*")):
            return "locality %r may hold one '*', and only at its end" % locality
        if "*" in seen:
            return "locality %r overlaps an earlier one" % locality
        parts = _locality_parts(locality)
        if parts is None:
            return "locality %r must not have an empty region, zone or subzone" % locality
        region = parts[0]
        if len(parts) == 1:
            if region in seen:
                return "locality %r overlaps an earlier one" % locality
            seen[region] = {"*": {"*": True}}
        elif len(parts) == 2:
            zones = seen.get(region)
            if zones is not None:
                if "*" in zones or parts[1] in zones:
                    return "locality %r overlaps an earlier one" % locality
                zones[parts[1]] = {"*": True}
            else:
                seen[region] = {parts[1]: {"*": True}}
        else:
            zones = seen.get(region)
            if zones is not None:
                if "*" in zones:
                    return "locality %r overlaps an earlier one" % locality
                subzones = zones.get(parts[1])
                if subzones is not None:
                    if subzones.get("*") or subzones.get(parts[2]):
                        return "locality %r overlaps an earlier one" % locality
                    subzones[parts[2]] = True
                else:
                    zones[parts[1]] = {parts[2]: True}
            else:
                seen[region] = {parts[1]: {parts[2]: True}}
    return None


def _failover_checks(failovers, path, problems, what):
    for index, failover in enumerate(failovers):
        where = _item(path, index)
        failover = _mapping(failover, where, problems)
        if failover is None:
            continue
        source = _str_field(failover, "from", where, problems) or ""
        target = _str_field(failover, "to", where, problems) or ""
        if source == target:
            problems.add(where, "%s failover must go to a different region" % what, failover)
        if "/" in source or "/" in target:
            problems.add(where, "%s failover names regions only (no '/')" % what, failover)
        if "*" in source or "*" in target:
            problems.add(where, "%s failover regions must not contain '*'" % what, failover)


def _validate_locality_lb(setting, path, problems, outlier):
    _unknown_keys(setting, ("distribute", "failover", "failoverPriority", "enabled"), path, problems)
    distribute = _list(setting, "distribute", path, problems)
    failover = _list(setting, "failover", path, problems)
    priority = _list(setting, "failoverPriority", path, problems)
    if distribute and failover:
        problems.add(path, "distribute and failover cannot be set together")
        return
    if failover and priority:
        for index, label in enumerate(priority):
            if label in TOPOLOGY_LABELS:
                problems.add(_item(_field(path, "failoverPriority"), index), "cannot name a topology label when "
                                                                             "failover is set", label)
                return
    sources = []
    distribute_path = _field(path, "distribute")
    for index, entry in enumerate(distribute):
        where = _item(distribute_path, index)
        entry = _mapping(entry, where, problems)
        if entry is None:
            continue
        sources.append(_str_field(entry, "from", where, problems) or "")
        targets = _string_map(entry, "to", where, problems)
        for locality, weight in targets.items():
            if not _is_int(weight) or not 1 <= weight <= 100:
                problems.add(_entry(_field(where, "to"), locality), "must be a weight from 1 to 100", weight)
                return
        total = sum(targets.values())
        if total != 100:
            problems.add(_field(where, "to"), "weights must add up to 100", total)
            return
        reason = _localities_problem(list(targets))
        if reason:
            problems.add(_field(where, "to"), reason, list(targets))
    reason = _localities_problem(sources)
    if reason:
        problems.add(distribute_path, reason, sources)
    if (failover or priority) and outlier is None:
        problems.warn(path, "failover needs an outlierDetection policy to ever happen")
    _failover_checks(failover, _field(path, "failover"), problems, "locality lb")
    _bool(setting, "enabled", path, problems)


def _validate_zone_aware_lb(setting, path, problems, outlier):
    _unknown_keys(setting, ("failover", "failoverPriority", "minClusterSize"), path, problems)
    failover = _list(setting, "failover", path, problems)
    priority = _list(setting, "failoverPriority", path, problems)
    for index, label in enumerate(priority):
        if label in TOPOLOGY_LABELS:
            problems.add(_item(_field(path, "failoverPriority"), index), "must not name a region, zone or subzone "
                         "label: zone aware load balancing orders those itself", label)
    if (failover or priority) and outlier is None:
        problems.warn(path, "failover needs an outlierDetection policy to ever happen")
    _failover_checks(failover, _field(path, "failover"), problems, "zone aware lb")


def _validate_load_balancer(balancer, path, problems, outlier):
    _unknown_keys(balancer, ("simple", "consistentHash", "localityLbSetting", "zoneAwareLbSetting",
                             "warmupDurationSecs", "warmup"), path, problems)
    if _has(balancer, "simple") and _has(balancer, "consistentHash"):
        problems.add(path, "simple and consistentHash are one-of: set only one")
    _enum(balancer, "simple", path, problems, ("UNSPECIFIED", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN",
                                               "LEAST_REQUEST", "LEAST_CONN"))
    chash = _object(balancer, "consistentHash", path, problems)
    if chash is not None:
        _validate_consistent_hash(chash, _field(path, "consistentHash"), problems)
    if _has(balancer, "localityLbSetting") and _has(balancer, "zoneAwareLbSetting"):
        problems.add(_field(path, "zoneAwareLbSetting"), "cannot be combined with localityLbSetting")
    locality = _object(balancer, "localityLbSetting", path, problems)
    if locality is not None:
        _validate_locality_lb(locality, _field(path, "localityLbSetting"), problems, outlier)
    zone_aware = _object(balancer, "zoneAwareLbSetting", path, problems)
    if zone_aware is not None:
        _validate_zone_aware_lb(zone_aware, _field(path, "zoneAwareLbSetting"), problems, outlier)
    _parsed_duration(balancer, "warmupDurationSecs", path, problems)
    warmup = _object(balancer, "warmup", path, problems, ("duration", "minimumPercent", "aggression"))
    if warmup is not None:
        warmup_path = _field(path, "warmup")
        if not _has(warmup, "duration"):
            problems.add(_field(warmup_path, "duration"), "is required")
        else:
            _duration(warmup, "duration", warmup_path, problems)
        minimum = _number(warmup, "minimumPercent", warmup_path, problems)
        if minimum is not None and minimum > 100:
            problems.add(_field(warmup_path, "minimumPercent"), "must be at most 100", minimum)
        aggression = _number(warmup, "aggression", warmup_path, problems)
        if aggression is not None and aggression <= 0:
            problems.add(_field(warmup_path, "aggression"), "must be > 0", aggression)


def _validate_client_tls(tls, path, problems, namespace):
    _unknown_keys(tls, ("mode", "clientCertificate", "privateKey", "caCertificates", "credentialName",
                        "subjectAltNames", "sni", "insecureSkipVerify", "caCrl"), path, problems)
    mode = _enum(tls, "mode", path, problems, ("DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL")) or "DISABLE"
    texts = {key: _str_field(tls, key, path, problems) or "" for key in (
        "clientCertificate", "privateKey", "caCertificates", "credentialName", "sni", "caCrl")}
    names = _list(tls, "subjectAltNames", path, problems)
    _bool(tls, "insecureSkipVerify", path, problems)
    credential = texts["credentialName"]
    if credential.startswith("configmap://"):
        parts = credential[len("configmap://"):].split("/")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            problems.add(_field(path, "credentialName"), "must be configmap://<namespace>/<name>", credential)
        elif not namespace or parts[0] != namespace:
            problems.add(_field(path, "credentialName"), "must name a ConfigMap in the rule's own namespace (%s)"
                         % (namespace or "unknown"), credential)
    if tls.get("insecureSkipVerify") is True:
        if mode == "SIMPLE" and (texts["caCertificates"] or credential or names):
            problems.add(_field(path, "insecureSkipVerify"), "cannot be combined with caCertificates, "
                                                             "credentialName or subjectAltNames", True)
        if mode == "MUTUAL" and (texts["caCertificates"] or names):
            problems.add(_field(path, "insecureSkipVerify"), "cannot be combined with caCertificates or "
                                                             "subjectAltNames", True)
    if mode in ("SIMPLE", "MUTUAL") and credential:
        extra = [key for key in ("clientCertificate", "caCertificates", "privateKey", "caCrl") if texts[key]]
        if extra:
            problems.add(_field(path, "credentialName"), "cannot be combined with %s: the credential holds the "
                         "certificates" % ", ".join(extra), credential)
        return
    if mode == "MUTUAL":
        for key in ("clientCertificate", "privateKey"):
            if not texts[key]:
                problems.add(_field(path, key), "is required for MUTUAL TLS (or set credentialName)")


def _policy_parts(policy, path, problems, namespace):
    outlier = _object(policy, "outlierDetection", path, problems)
    if outlier is not None:
        _validate_outlier(outlier, _field(path, "outlierDetection"), problems)
    pool = _object(policy, "connectionPool", path, problems)
    if pool is not None:
        _validate_connection_pool(pool, _field(path, "connectionPool"), problems)
    balancer = _object(policy, "loadBalancer", path, problems)
    if balancer is not None:
        _validate_load_balancer(balancer, _field(path, "loadBalancer"), problems, outlier)
    tls = _object(policy, "tls", path, problems)
    if tls is not None:
        _validate_client_tls(tls, _field(path, "tls"), problems, namespace)


def validate_traffic_policy(value, path, problems, namespace=None):
    """A DestinationRule's (or subset's) trafficPolicy, in full: pools, outlier detection, load balancer, TLS,
    per-port settings, tunnel and PROXY protocol."""
    policy = _mapping(value, path, problems)
    if policy is None:
        return
    _unknown_keys(policy, TRAFFIC_POLICY_KEYS, path, problems)
    if not any(_has(policy, key) for key in TRAFFIC_POLICY_KEYS if key != "portLevelSettings") and not _nonempty(
            policy, "portLevelSettings"):
        problems.add(path, "must set at least one of %s" % ", ".join(TRAFFIC_POLICY_KEYS), policy)
        return
    if _has(policy, "tunnel") and _has(policy, "proxyProtocol"):
        problems.add(_field(path, "proxyProtocol"), "cannot be combined with tunnel", policy["proxyProtocol"])
        return
    _policy_parts(policy, path, problems, namespace)
    ports_path = _field(path, "portLevelSettings")
    for index, port_policy in enumerate(_list(policy, "portLevelSettings", path, problems)):
        where = _item(ports_path, index)
        if port_policy is None:
            problems.add(where, "is required (a port policy, not null)")
            continue
        port_policy = _mapping(port_policy, where, problems)
        if port_policy is None:
            continue
        _unknown_keys(port_policy, PORT_TRAFFIC_POLICY_KEYS, where, problems)
        port = _object(port_policy, "port", where, problems, PORT_SELECTOR_KEYS)
        if port is None:
            problems.add(_field(where, "port"), "is required")
        elif _has(port, "number"):
            _int(port, "number", _field(where, "port"), problems, 0, 2 ** 32 - 1, "must be a port number")
        if not any(_has(port_policy, key) for key in PORT_TRAFFIC_POLICY_KEYS if key != "port"):
            problems.add(where, "must set at least one of loadBalancer, connectionPool, outlierDetection or tls",
                         port_policy)
        else:
            _policy_parts(port_policy, where, problems, namespace)
    tunnel = _object(policy, "tunnel", path, problems, ("protocol", "targetHost", "targetPort"))
    if tunnel is not None:
        tunnel_path = _field(path, "tunnel")
        protocol = _str_field(tunnel, "protocol", tunnel_path, problems)
        if protocol not in ("", "CONNECT", "POST", None):
            problems.add(_field(tunnel_path, "protocol"), "must be CONNECT or POST", protocol)
        target = _str_field(tunnel, "targetHost", tunnel_path, problems)
        if target is not None and not _is_ip(target) and domain_problem(target, allow_wildcard=False):
            problems.add(_field(tunnel_path, "targetHost"), "must be a domain name or an IP address", target)
        port = tunnel.get("targetPort", 0)
        validate_port(port, _field(tunnel_path, "targetPort"), problems)
    proxy_protocol = _object(policy, "proxyProtocol", path, problems, ("version",))
    if proxy_protocol is not None:
        _enum(proxy_protocol, "version", _field(path, "proxyProtocol"), problems, ("V1", "V2"))
    budget = _object(policy, "retryBudget", path, problems, ("percent", "minRetryConcurrency", "budgetInterval"))
    if budget is not None:
        budget_path = _field(path, "retryBudget")
        _number(budget, "percent", budget_path, problems)
        _parsed_duration(budget, "budgetInterval", budget_path, problems)
        _int(budget, "minRetryConcurrency", budget_path, problems, 0, None, "must be >= 0")


def validate_destination_rule(spec, path="spec", problems=None, namespace=None):
    """Check a DestinationRule spec: host, subsets (unique names, labels, policies), trafficPolicy, exportTo."""
    problems = Problems() if problems is None else problems
    spec = _mapping(spec, path, problems)
    if spec is None:
        return problems
    _unknown_keys(spec, DESTINATION_RULE_KEYS, path, problems)
    if not _has(spec, "host"):
        problems.add(_field(path, "host"), "is required")
    else:
        validate_host(spec["host"], _field(path, "host"), problems)
    if _has(spec, "trafficPolicy"):
        validate_traffic_policy(spec["trafficPolicy"], _field(path, "trafficPolicy"), problems, namespace)
    subsets_path = _field(path, "subsets")
    seen = set()
    for index, subset in enumerate(_list(spec, "subsets", path, problems)):
        subset_path = _item(subsets_path, index)
        if subset is None:
            problems.add(subset_path, "is required (a subset, not null)")
            continue
        subset = _mapping(subset, subset_path, problems)
        if subset is None:
            continue
        _unknown_keys(subset, SUBSET_KEYS, subset_path, problems)
        name = _str_field(subset, "name", subset_path, problems)
        name_path = _field(subset_path, "name")
        if name is None:
            pass
        elif not name:
            problems.add(name_path, "is required")
        elif name in seen:
            problems.add(name_path, "must be unique: another subset already has this name", name)
        elif not is_dns1123_label(name):
            problems.add(name_path, DNS1123_LABEL_MESSAGE, name)
        if name:
            seen.add(name)
        if _has(subset, "labels"):
            validate_labels(subset["labels"], _field(subset_path, "labels"), problems)
        if _has(subset, "trafficPolicy"):
            validate_traffic_policy(subset["trafficPolicy"], _field(subset_path, "trafficPolicy"), problems,
                                    namespace)
    selector = _object(spec, "workloadSelector", path, problems, ("matchLabels",))
    if _has(spec, "exportTo"):
        _validate_export_to(spec["exportTo"], _field(path, "exportTo"), problems, namespace,
                            with_selector=selector is not None)
    if selector is not None:
        selector_path = _field(path, "workloadSelector")
        labels = _string_map(selector, "matchLabels", selector_path, problems)
        for key, value in labels.items():
            where = _entry(_field(selector_path, "matchLabels"), key)
            if key == "":
                problems.add(where, "label key must not be empty", key)
            if "*" in key or (isinstance(value, str) and "*" in value):
                problems.add(where, "wildcards are not supported in a workload selector", value)
        if not labels:
            problems.warn(selector_path, "has no labels")
    return problems


# ---------------------------------------------------------------------------
# Cross-object checks


def _rule_subsets(rule):
    subsets = rule.get("subsets") if isinstance(rule.get("subsets"), list) else []
    names = [subset.get("name") for subset in subsets if isinstance(subset, dict)]
    return [name for name in names if isinstance(name, str)]


def validate_cross_refs(virtual_service_spec, destination_rules, path="spec", namespace=None, problems=None):
    """Check that every destination subset the VirtualService uses is defined (istioctl's IST0101).

    ``destination_rules`` is a list of DestinationRule specs, all taken to be in
    ``namespace`` like the VirtualService. As in Istio, the rule that applies to a host is
    the most specific one (an exact host beats a wildcard); only its subsets count.
    Malformed parts are skipped: ``validate_*`` report them.
    """
    problems = Problems() if problems is None else problems
    if not isinstance(virtual_service_spec, dict):
        return problems
    rules = []
    for rule in destination_rules if isinstance(destination_rules, list) else ():
        if isinstance(rule, dict) and isinstance(rule.get("host"), str) and rule["host"]:
            rules.append((canonical_host(rule["host"], namespace), (rule["host"], _rule_subsets(rule))))

    def candidates(host):
        if namespace:
            return rules
        # Namespace unknown: a short name stands for that service in any namespace.
        return [(host if same_service(host, pattern) else pattern, item) for pattern, item in rules]

    for kind in ("http", "tls", "tcp"):
        routes = virtual_service_spec.get(kind)
        for index, route in enumerate(routes if isinstance(routes, list) else ()):
            for destination_path, destination in destinations(route, _item(_field(path, kind), index)):
                host, subset = destination.get("host"), destination.get("subset")
                if not isinstance(host, str) or not host or not isinstance(subset, str) or not subset:
                    continue
                host_name = canonical_host(host, namespace)
                applied = most_specific(host_name, candidates(host_name))
                defined = []
                for _rule_host, names in applied:
                    defined.extend(name for name in names if name not in defined)
                if subset in defined:
                    continue
                detail = "defined: %s" % ", ".join(defined) if defined else (
                    "no subsets defined" if applied else "no DestinationRule matches this host")
                problems.add(_field(destination_path, "subset"), "no DestinationRule for host %r defines subset %r "
                             "(%s)" % (host, subset, detail), subset)
    return problems
