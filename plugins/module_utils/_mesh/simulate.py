# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Route simulator: the HTTP route a sidecar picks for one request, from VirtualService objects.

``simulate(virtual_services, request, namespace)`` returns where the request goes::

    {"host": "reviews.default.svc.cluster.local",   # the request host, fully qualified
     "virtual_service": "reviews" | None, "namespace": "default" | None,
     "outcome": "routed" | "no_route" | "passthrough" | "redirect" | "direct_response",
     "matched": bool, "route_index": 0 | None, "route_name": str | None,
     "match_index": 0 | None,                      # which ORed match block hit; None for a route without match
     "destinations": [{"host", "fqdn", "subset", "port", "weight", "share"}],
     "fault": None | {"delay": {"fixed_delay_ms", "percentage"},
                      "abort": {"http_status" | "grpc_status" | "http2_error", "percentage"}},
     "timeout_ms": int | None, "retries": {"attempts", "per_try_timeout_ms", "retry_on", "default"},
     "status": 404 | None, "redirect": {...} | None, "direct_response": {...} | None,
     "location": "http://reviews:9080/moved" | None,  # a redirect's Location header
     "mirrors": [{"host", "fqdn", "subset", "percentage"}],  # copies Envoy sends, the answer ignored
     "upstream": [{"subset", "path", "authority", "headers", "response_header_operations"}],  # per destination
     "warnings": [str]}

``upstream`` says what each destination receives: the ``:path`` after ``rewrite``, the authority after a
rewrite or a header operation, every request header after the ``headers`` operations; and the response header
operations Envoy runs on its answer (``apply_header_operations`` applies them to an answer's headers).

Outcomes: ``passthrough`` when no VirtualService claims the host (the request goes to every endpoint of the
service: one destination with no subset); ``no_route`` when one does but none of its routes matches (Envoy
answers 404); otherwise the matched route's action.

Request keys: ``host`` (required; a short name is in ``namespace``; ``name:port`` sets the port), ``headers``,
``cookies`` (a mapping turned into one ``Cookie`` header ``k=v; k2=v2``, joined with ``; `` as browsers do, which
the Istio 0.8 BookInfo regex ``^(.*?;)?(user=jason)(;.*)?$`` misses after the first cookie), ``user`` (shortcut: header
``end-user`` and cookie ``user``, so both current and 0.8 samples recognise the user), ``uri`` (default ``/``;
a query string is split into ``query``), ``query``, ``method`` (default ``GET``), ``scheme`` (default ``http``),
``port``, ``authority`` (default: ``host``), ``source_labels``, ``source_namespace`` (default: ``namespace``)
and ``gateway`` (default ``mesh``: the caller is a sidecar).

Only HTTP routes are simulated; ``tcp`` and ``tls`` routes and ``delegate`` are not.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import random
import re

from collections.abc import Mapping, Sequence

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import semantics
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.semantics import (
    fqdn, host_specificity, request_fqdn)

try:
    # Istio compiles match regexes with RE2; Python's re differs on look-around and back-references.
    import re2 as _regex_engine
    HAS_RE2 = True
except ImportError:
    _regex_engine = re
    HAS_RE2 = False

MESH = "mesh"
STRING_MATCH_KINDS = ("exact", "prefix", "regex")
# Istio's retry policy when a route sets none (no retriable status codes since Istio 1.24).
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled"
MATCH_FIELDS = frozenset((
    "name", "uri", "scheme", "method", "authority", "headers", "withoutHeaders", "queryParams", "port",
    "sourceLabels", "sourceNamespace", "gateways", "ignoreUriCase", "statPrefix"))
REQUEST_FIELDS = frozenset((
    "host", "headers", "cookies", "user", "uri", "query", "method", "scheme", "port", "authority",
    "source_labels", "source_namespace", "gateway"))

_regex_cache = {}


def is_mapping(value):
    return isinstance(value, Mapping)


def is_list(value):
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _text(value):
    return isinstance(value, str)


def metadata(obj):
    meta = obj.get("metadata")
    return meta if is_mapping(meta) else {}


def object_namespace(obj, namespace):
    return metadata(obj).get("namespace") or namespace


def ref(obj, namespace, kind="VirtualService"):
    """How findings and errors name an object: ``Kind/namespace/name``."""
    kind = obj.get("kind") or kind
    return "%s/%s/%s" % (kind, object_namespace(obj, namespace), metadata(obj).get("name"))


def named_objects(objects, field):
    """Kubernetes objects of any kind, each with a metadata.name; empty YAML documents are skipped."""
    if objects is None:
        return []
    if is_mapping(objects):
        objects = [objects]
    if not is_list(objects):
        raise MeshError("must be a list of Kubernetes objects", field=field, value=objects)
    found = []
    for index, obj in enumerate(objects):
        if obj is None:
            continue
        if not is_mapping(obj):
            raise MeshError("must be a Kubernetes object (a mapping)", field="%s[%d]" % (field, index), value=obj)
        if not _text(metadata(obj).get("name")):
            raise MeshError("metadata.name is required", field="%s[%d].metadata.name" % (field, index),
                            value=metadata(obj).get("name"))
        found.append(obj)
    return found


def objects_of_kind(objects, kind, field="virtual_services"):
    """The objects of one kind from a list that may mix kinds (a multi-document YAML file, say).

    An object without ``kind`` counts as the kind asked for, so bare dicts can be passed.
    """
    return [obj for obj in named_objects(objects, field) if obj.get("kind", kind) == kind]


def spec_of(obj, namespace):
    spec = obj.get("spec")
    if spec is None:
        return {}
    if not is_mapping(spec):
        raise MeshError("must be a mapping", field="%s spec" % ref(obj, namespace), value=spec)
    return spec


def creation_key(obj, namespace):
    """Istio's order among objects that conflict: oldest creationTimestamp, then name, then namespace.

    Objects without a timestamp (not created yet, e.g. a proposed change) count as the newest.
    """
    meta = metadata(obj)
    stamp = meta.get("creationTimestamp")
    name = meta.get("name") or ""
    if stamp is None:
        return (1, "", name, object_namespace(obj, namespace))
    if isinstance(stamp, datetime.datetime):
        # YAML loaders turn an unquoted timestamp into a datetime.
        moment = stamp.astimezone(datetime.timezone.utc).replace(tzinfo=None) if stamp.tzinfo else stamp
    else:
        try:
            moment = datetime.datetime.strptime(str(stamp).rstrip("Z").split(".", maxsplit=1)[0], "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            raise MeshError("must be an RFC 3339 time such as 2024-01-31T12:00:00Z",
                            field="%s metadata.creationTimestamp" % ref(obj, namespace), value=stamp)
    return (0, moment.replace(microsecond=0).isoformat(), name, object_namespace(obj, namespace))


def duration_ms(value, field):
    """A duration ("7s", "1.5s", "300ms", "1m30s") in milliseconds; whole ms as int (see semantics.duration_ms)."""
    try:
        milliseconds = semantics.duration_ms(value)
    except ValueError:
        milliseconds = None
    if milliseconds is None or milliseconds < 0:
        raise MeshError("must be a duration such as '3s' or '500ms'", field=field, value=value)
    return milliseconds


def compile_regex(pattern, field):
    """Compile a match regex once; RE2 when available, as Istio does."""
    compiled = _regex_cache.get(pattern)
    if compiled is None:
        try:
            compiled = _regex_engine.compile(pattern)
        except Exception as exc:  # re2 raises re2.error, re raises re.error: neither names the field
            detail = exc.args[0] if exc.args else exc
            if isinstance(detail, bytes):
                detail = detail.decode("utf-8", "replace")
            raise MeshError("is not a valid RE2 regular expression: %s" % detail, field=field, value=pattern)
        _regex_cache[pattern] = compiled
    return compiled


def string_match_kind(match, field):
    """``(kind, value)`` of an Istio StringMatch; ``(None, None)`` for an empty one, which means "present"."""
    if not is_mapping(match):
        raise MeshError("must be a mapping with one of exact, prefix, regex", field=field, value=match)
    kinds = [k for k in STRING_MATCH_KINDS if k in match]
    unknown = sorted(set(match) - set(STRING_MATCH_KINDS))
    if unknown:
        raise MeshError("unknown string match field %s" % unknown[0], field=field, value=match)
    if len(kinds) > 1:
        raise MeshError("exact, prefix and regex are one-of", field=field, value=match)
    if not kinds:
        return None, None
    value = match[kinds[0]]
    if not _text(value):
        raise MeshError("must be a string", field="%s.%s" % (field, kinds[0]), value=value)
    return kinds[0], value


def is_presence_match(match, field):
    """Istio turns an empty StringMatch, and ``regex: "*"`` (not RE2), into Envoy's present_match."""
    kind, pattern = string_match_kind(match, field)
    return kind is None or (kind == "regex" and pattern == "*")


def string_matches(match, value, field, ignore_case=False):
    """Does a request value satisfy an Istio StringMatch? A missing value never does."""
    if is_presence_match(match, field):
        return value is not None
    kind, pattern = string_match_kind(match, field)
    # Compile first: a bad regex is bad input even when this request lacks the value.
    regex = compile_regex(pattern, field + ".regex") if kind == "regex" else None
    if value is None:
        return False
    if regex is not None:
        # RE2 whole-value match; Istio's ignoreUriCase does not apply to regex.
        return regex.fullmatch(value) is not None
    if ignore_case:
        value, pattern = value.lower(), pattern.lower()
    if kind == "exact":
        return value == pattern
    return value.startswith(pattern)


def _scalar(value, field):
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise MeshError("must be a string", field=field, value=value)
    return str(value)


def _string_map(value, field, lower_keys=False):
    if value is None:
        return {}
    if not is_mapping(value):
        raise MeshError("must be a mapping", field=field, value=value)
    out = {}
    for key, item in value.items():
        if not _text(key):
            raise MeshError("keys must be strings", field=field, value=key)
        out[key.lower() if lower_keys else key] = _scalar(item, "%s.%s" % (field, key))
    return out


def cookie_header(cookies):
    """``k=v; k2=v2``, as browsers send cookies (RFC 6265): the Istio 0.8 BookInfo regex misses a user after '; '."""
    return "; ".join("%s=%s" % (key, value) for key, value in cookies.items())


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")


def normalize_path(path):
    """The path as Envoy sees it with Istio's default normalisation (BASE: RFC 3986 normalisation).

    Percent-encoded unreserved characters are decoded (``%30`` is ``0``), other escapes get upper-case hex,
    and ``.``/``..`` segments are removed. Slashes are not merged (that is the MERGE_SLASHES setting).
    """
    out, index = [], 0
    while index < len(path):
        char = path[index]
        digits = path[index + 1:index + 3]
        if char == "%" and len(digits) == 2 and set(digits) <= _HEX:
            decoded = chr(int(digits, 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + digits.upper())
            index += 3
            continue
        out.append("/" if char == "\\" else char)
        index += 1
    segments = []
    parts = "".join(out).split("/")
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        if part == ".":
            if last:
                segments.append("")
        elif part == "..":
            if len(segments) > 1:
                segments.pop()
            if last:
                segments.append("")
        else:
            segments.append(part)
    normalized = "/".join(segments)
    return normalized if normalized.startswith("/") else "/" + normalized


def parse_query(query_string):
    """Query parameters as Envoy's route matcher reads them: raw (not percent-decoded), the first value wins."""
    query = {}
    for part in query_string.split("&") if query_string else ():
        if not part:
            continue
        name, _sep, value = part.partition("=")
        query.setdefault(name, value)
    return query


def normalize_request(request, namespace="default"):
    """The request with defaults filled in and names normalised, as the matchers read it.

    What Envoy does before it picks a route is done here too: the path is normalised, ``x-request-id`` and
    ``x-forwarded-proto`` are added when absent, and the pseudo-headers ``:authority``, ``:path``, ``:method``
    and ``:scheme`` can be matched like headers.
    """
    if not is_mapping(request):
        raise MeshError("must be a mapping with at least host", field="request", value=request)
    unknown = sorted(set(request) - REQUEST_FIELDS)
    if unknown:
        raise MeshError("unknown request field; known: %s" % ", ".join(sorted(REQUEST_FIELDS)),
                        field="request.%s" % unknown[0], value=request[unknown[0]])
    host = request.get("host")
    if not _text(host) or not host:
        raise MeshError("is required: the service the request is for", field="request.host", value=host)
    sent_host = host
    port = request.get("port")
    if ":" in host:
        host, _sep, port_text = host.rpartition(":")
        if port is None:
            port = int(port_text) if port_text.isascii() and port_text.isdigit() else port_text
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        raise MeshError("must be a port number 1..65535", field="request.port", value=port)

    headers = _string_map(request.get("headers"), "request.headers", lower_keys=True)
    cookies = _string_map(request.get("cookies"), "request.cookies")
    user = request.get("user")
    if user is not None:
        user = _scalar(user, "request.user")
        headers.setdefault("end-user", user)
        cookies.setdefault("user", user)
    if cookies:
        built = cookie_header(cookies)
        headers["cookie"] = headers["cookie"] + "; " + built if headers.get("cookie") else built

    uri = request.get("uri", "/")
    if not _text(uri):
        raise MeshError("must be a string such as /productpage", field="request.uri", value=uri)
    raw_path, sep, query_string = uri.partition("?")
    path = normalize_path(raw_path)
    query = parse_query(query_string)
    query.update(_string_map(request.get("query"), "request.query"))

    source_labels = _string_map(request.get("source_labels"), "request.source_labels")
    gateway = request.get("gateway") or MESH
    if not _text(gateway):
        raise MeshError("must be a gateway name or mesh", field="request.gateway", value=gateway)
    source_namespace = _scalar(request.get("source_namespace") or namespace, "request.source_namespace")
    scheme = _scalar(request.get("scheme") or "http", "request.scheme")
    method = _scalar(request.get("method") or "GET", "request.method")
    authority = _scalar(request.get("authority") or sent_host, "request.authority")
    # The HTTP connection manager adds these before routing, so a match on them sees them.
    headers.setdefault("x-request-id", "00000000-0000-4000-8000-000000000000")
    headers.setdefault("x-forwarded-proto", scheme)
    full_path = path + sep + query_string
    headers.update({":authority": authority, ":path": full_path, ":method": method, ":scheme": scheme})
    return {
        "host": request_fqdn(host, namespace, (namespace, source_namespace)),
        "authority": authority,
        "uri": full_path,
        "path": path,
        "query": query,
        "headers": headers,
        "method": method,
        "scheme": scheme,
        "port": port,
        "source_labels": source_labels,
        "source_namespace": source_namespace,
        "gateway": _gateway_ref(gateway, namespace),
    }


def _gateway_ref(name, namespace):
    """Gateways are named ``ns/name``; a bare name is in the namespace of whoever names it."""
    if name == MESH or "/" in name:
        return name
    return "%s/%s" % (namespace, name)


def gateways_of(spec, namespace):
    """The gateways a VirtualService (or a match block's ``gateways``) binds to; none given means the mesh."""
    gateways = spec.get("gateways")
    if not gateways:
        return [MESH]
    return [_gateway_ref(g, namespace) for g in gateways if _text(g)]


def _check_block(block, field):
    if not is_mapping(block):
        raise MeshError("must be a mapping of match conditions", field=field, value=block)
    unknown = sorted(set(block) - MATCH_FIELDS)
    if unknown:
        raise MeshError("unknown match field", field="%s.%s" % (field, unknown[0]), value=block[unknown[0]])


def block_applies(block, req, vs_gateways, vs_namespace):
    """Does istiod send this match block to the caller's proxy at all?

    istiod drops, while it builds a proxy's routes, a block whose ``port`` is not the listener's port and one
    whose source does not fit: with ``gateways`` set only they count (``sourceLabels`` and
    ``sourceNamespace`` are then ignored); otherwise the caller's labels and namespace must fit.
    """
    if block.get("port") is not None and req["port"] is not None and block["port"] != req["port"]:
        return False
    if block.get("port") is not None and req["port"] is None:
        return False
    if block.get("gateways"):
        return req["gateway"] in [_gateway_ref(g, vs_namespace) for g in block["gateways"] if _text(g)]
    if req["gateway"] not in vs_gateways:
        return False
    for name, value in _conditions(block, "sourceLabels", ""):
        if req["source_labels"].get(name) != value:
            return False
    return not block.get("sourceNamespace") or block["sourceNamespace"] == req["source_namespace"]


def _match_block(block, req, field):
    """Every request condition of a block must hold (AND)."""
    if "uri" in block:
        # Envoy's prefix match sees the whole :path; exact and regex see it without the query string.
        kind, _value = string_match_kind(block["uri"], field + ".uri")
        uri = req["uri"] if kind == "prefix" else req["path"]
        if not string_matches(block["uri"], uri, field + ".uri", ignore_case=bool(block.get("ignoreUriCase"))):
            return False
    for key in ("scheme", "method", "authority"):
        if key in block and not string_matches(block[key], req[key], "%s.%s" % (field, key)):
            return False
    for name, match in _conditions(block, "headers", field):
        if not string_matches(match, req["headers"].get(name.lower()), "%s.headers.%s" % (field, name)):
            return False
    for name, match in _conditions(block, "withoutHeaders", field):
        where = "%s.withoutHeaders.%s" % (field, name)
        value = req["headers"].get(name.lower())
        if value is None and not is_presence_match(match, where):
            value = ""  # istiod sets treat_missing_header_as_empty on inverted value matches
        if string_matches(match, value, where):
            return False
    for name, match in _conditions(block, "queryParams", field):
        if not string_matches(match, req["query"].get(name), "%s.queryParams.%s" % (field, name)):
            return False
    return True


def _conditions(block, key, field):
    value = block.get(key)
    if value is None:
        return []
    if not is_mapping(value):
        raise MeshError("must be a mapping", field="%s.%s" % (field, key), value=value)
    return sorted(value.items())


def _blocks(route, field):
    matches = route.get("match")
    if not matches:
        return []
    if not is_list(matches):
        raise MeshError("must be a list of match blocks", field=field + ".match", value=matches)
    for index, block in enumerate(matches):
        _check_block(block, "%s.match[%d]" % (field, index))
    return matches


def route_applies(route, req, field, vs_gateways, vs_namespace):
    """Does the caller's proxy get this route (a route without match always; else one of its blocks)?"""
    blocks = _blocks(route, field)
    return not blocks or any(block_applies(b, req, vs_gateways, vs_namespace) for b in blocks)


def route_matches(route, req, field, vs_gateways, vs_namespace):
    """Index of the first match block that holds, -1 for a route without match, None for a miss (blocks are ORed)."""
    blocks = _blocks(route, field)
    if not blocks:
        return -1
    for index, block in enumerate(blocks):
        if block_applies(block, req, vs_gateways, vs_namespace) and \
                _match_block(block, req, "%s.match[%d]" % (field, index)):
            return index
    return None


def _weight(value, field):
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MeshError("must be an integer >= 0", field=field, value=value)
    return value


def route_destinations(route, field, vs_namespace):
    """Weighted destinations: share = weight / sum; zero weights get no traffic and are left out."""
    items = route.get("route")
    if not is_list(items) or not items:
        raise MeshError("needs route, redirect, directResponse or delegate", field=field, value=route)
    parsed = []
    for index, item in enumerate(items):
        where = "%s.route[%d]" % (field, index)
        dest = item.get("destination") if is_mapping(item) else None
        if not is_mapping(dest) or not _text(dest.get("host")) or not dest.get("host"):
            raise MeshError("destination.host is required", field=where, value=item)
        port = dest.get("port")
        parsed.append({
            "index": index,
            "host": dest["host"],
            "fqdn": fqdn(dest["host"], vs_namespace),
            "subset": dest.get("subset"),
            "port": port.get("number") if is_mapping(port) else None,
            "weight": _weight(item.get("weight"), where + ".weight"),
        })
    if len(parsed) == 1:
        # Istio sends a lone destination all traffic, whatever its weight says.
        only = parsed[0]
        only["weight"] = 100 if only["weight"] is None else only["weight"]
        only["share"] = 1.0
        return parsed
    if all(d["weight"] is None for d in parsed):
        raise MeshError("several destinations need weights", field=field + ".route", value=items)
    for dest in parsed:
        dest["weight"] = dest["weight"] or 0
    total = sum(d["weight"] for d in parsed)
    if total == 0:
        raise MeshError("the weights of several destinations must not sum to 0", field=field + ".route",
                        value=[d["weight"] for d in parsed])
    kept = [d for d in parsed if d["weight"] > 0]
    for dest in kept:
        dest["share"] = dest["weight"] / total
    return kept


def _percentage(part, field, warnings, legacy_percent):
    """Percent of requests a fault hits; per the notes an unset percentage means the fault never fires."""
    if "percentage" in part and part["percentage"] is not None:
        holder = part["percentage"]
        value = holder.get("value", 0) if is_mapping(holder) else holder
        where = field + ".percentage.value"
    elif legacy_percent and part.get("percent") is not None:
        value = part["percent"]
        where = field + ".percent"
    else:
        if not legacy_percent and part.get("percent") is not None:
            warnings.append("%s.percent was removed in Istio 1.5 and the API server prunes it: this abort never "
                            "fires (use percentage: {value: N})" % field)
        else:
            warnings.append("%s has no percentage: this fault never fires" % field)
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise MeshError("must be a number from 0 to 100", field=where, value=value)
    return float(value)


def route_fault(route, field, warnings):
    """The fault a route injects, with the deprecated and removed forms translated as Istio does."""
    fault = route.get("fault")
    if fault is None:
        return None
    if not is_mapping(fault):
        raise MeshError("must be a mapping with delay and/or abort", field=field + ".fault", value=fault)
    out = {}
    delay = fault.get("delay")
    if delay is not None:
        where = field + ".fault.delay"
        if not is_mapping(delay) or "fixedDelay" not in delay:
            raise MeshError("needs fixedDelay", field=where, value=delay)
        out["delay"] = {
            "fixed_delay_ms": duration_ms(delay["fixedDelay"], where + ".fixedDelay"),
            # fault.delay.percent (an integer) is deprecated but Istio still honours it.
            "percentage": _percentage(delay, where, warnings, legacy_percent=True),
        }
    abort = fault.get("abort")
    if abort is not None:
        where = field + ".fault.abort"
        if not is_mapping(abort):
            raise MeshError("must be a mapping", field=where, value=abort)
        kinds = [("httpStatus", "http_status"), ("grpcStatus", "grpc_status"), ("http2Error", "http2_error")]
        found = [(key, name) for key, name in kinds if abort.get(key) is not None]
        if len(found) > 1:
            raise MeshError("needs exactly one of httpStatus, grpcStatus, http2Error", field=where, value=abort)
        if not found or found[0][0] == "http2Error":
            # istiod translates only HTTP and gRPC aborts and drops any other; a delay still fires.
            warnings.append("%s has no httpStatus or grpcStatus: istiod drops this abort" % where)
        else:
            key, name = found[0]
            out["abort"] = {name: abort[key],
                            "percentage": _percentage(abort, where, warnings, legacy_percent=False)}
    if not out:
        if delay is None and abort is None:
            raise MeshError("needs delay and/or abort", field=field + ".fault", value=fault)
        return None
    return out


def route_retries(route, field):
    """The effective retry policy, Istio's default when the route sets none; attempts 0 disables retries."""
    retries = route.get("retries")
    if retries is None:
        return {"attempts": 2, "per_try_timeout_ms": None, "retry_on": DEFAULT_RETRY_ON, "default": True}
    if not is_mapping(retries):
        raise MeshError("must be a mapping", field=field + ".retries", value=retries)
    attempts = retries.get("attempts") or 0
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
        raise MeshError("must be an integer >= 0", field=field + ".retries.attempts", value=attempts)
    if attempts == 0:
        return {"attempts": 0, "per_try_timeout_ms": None, "retry_on": None, "default": False}
    per_try = retries.get("perTryTimeout")
    return {
        "attempts": attempts,
        "per_try_timeout_ms": duration_ms(per_try, field + ".retries.perTryTimeout") if per_try else None,
        "retry_on": retries.get("retryOn") or DEFAULT_RETRY_ON,
        "default": False,
    }


def route_mirrors(route, field, vs_namespace):
    """Where Envoy copies a routed request: ``mirror`` and each of ``mirrors``, with the percent mirrored.

    As istiod translates them: ``mirrorPercentage`` (or the deprecated integer ``mirrorPercent``) unset means 100;
    an explicit 0 means no mirror at all.
    """
    found = []
    candidates = []
    if route.get("mirror") is not None:
        if route.get("mirrorPercentage") is not None:
            holder = route["mirrorPercentage"]
            percent = holder.get("value", 0) if is_mapping(holder) else holder
        elif route.get("mirrorPercent") is not None:
            percent = route["mirrorPercent"]
        else:
            percent = 100
        candidates.append((route["mirror"], percent, field + ".mirror"))
    mirrors = route.get("mirrors") or []
    if not is_list(mirrors):
        raise MeshError("must be a list of mirror policies", field=field + ".mirrors", value=mirrors)
    for index, policy in enumerate(mirrors):
        where = "%s.mirrors[%d]" % (field, index)
        if not is_mapping(policy) or policy.get("destination") is None:
            continue  # istiod skips a policy without destination
        holder = policy.get("percentage")
        percent = 100 if holder is None else (holder.get("value", 0) if is_mapping(holder) else holder)
        candidates.append((policy["destination"], percent, where + ".destination"))
    for dest, percent, where in candidates:
        if not is_mapping(dest) or not _text(dest.get("host")) or not dest.get("host"):
            raise MeshError("host is required", field=where, value=dest)
        if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 <= percent <= 100:
            raise MeshError("must be a number from 0 to 100", field=where, value=percent)
        if percent > 0:
            found.append({"host": dest["host"], "fqdn": fqdn(dest["host"], vs_namespace),
                          "subset": dest.get("subset"), "percentage": float(percent)})
    return found


# Header names istiod leaves out of Envoy's header operations: pseudo-headers and Host (the authority is a rewrite).
def _internal_header(name):
    return name.startswith(":") or name.lower() == "host"


def header_operations(headers, field):
    """An Istio ``Headers`` block as Envoy gets it: per direction, the removes, then the sets, then the adds.

    Returns ``{"request": [...], "response": [...], "authority": str | None}``; each operation is
    ``["remove", name]``, ``["set", name, value]`` or ``["add", name, value]``, names lower-cased. istiod sorts
    set and add by name; a ``:authority`` or ``host`` in the request's set (or else add) becomes the authority.
    """
    out = {"request": [], "response": [], "authority": None}
    if headers is None:
        return out
    if not is_mapping(headers):
        raise MeshError("must be a mapping with request and/or response", field=field, value=headers)
    for direction in ("request", "response"):
        part = headers.get(direction) or {}
        where = "%s.%s" % (field, direction)
        if not is_mapping(part):
            raise MeshError("must be a mapping with set, add and/or remove", field=where, value=part)
        removes = part.get("remove") or []
        if not is_list(removes) or not all(_text(n) for n in removes):
            raise MeshError("must be a list of header names", field=where + ".remove", value=removes)
        ops = [["remove", name.lower()] for name in removes if not _internal_header(name)]
        authority = {}
        for action in ("set", "add"):
            values = _string_map(part.get(action), "%s.%s" % (where, action))
            for name in sorted(values):
                if name.lower() in (":authority", "host"):
                    authority[action] = values[name]
                if not _internal_header(name):
                    ops.append([action, name.lower(), values[name]])
        out[direction] = ops
        if direction == "request":
            out["authority"] = authority.get("set", authority.get("add"))
    return out


def apply_header_operations(headers, levels):
    """Headers (name -> list of values) after Envoy ran ``levels`` of operations, in order.

    Within a level Envoy runs every remove, then every set, then every add, each in order (so an add survives a
    later set of the same header). A set or add with an empty value does nothing (Envoy skips empty values),
    so an empty ``set`` keeps what was there.
    """
    out = dict((name.lower(), list(values)) for name, values in headers.items())
    for ops in levels:
        for action in ("remove", "set", "add"):
            for op in ops:
                if op[0] != action:
                    continue
                if action == "remove":
                    out.pop(op[1], None)
                elif op[2] == "":
                    continue
                elif action == "set":
                    out[op[1]] = [op[2]]
                else:
                    out.setdefault(op[1], []).append(op[2])
    return out


def _substitute(regex, substitution, text):
    """RE2's GlobalReplace as Envoy's regex rewrite uses it: ``\\N`` is group N, ``\\\\`` a backslash."""
    def expand(match):
        out, index = [], 0
        while index < len(substitution):
            char = substitution[index]
            nxt = substitution[index + 1:index + 2]
            if char == "\\" and nxt.isdigit():
                out.append(match.group(int(nxt)) or "")
                index += 2
            elif char == "\\" and nxt == "\\":
                out.append("\\")
                index += 2
            else:
                out.append(char)
                index += 1
        return "".join(out)
    return regex.sub(expand, text)


def upstream_path(route, block, req, field):
    """The ``:path`` Envoy sends upstream: the normalised path after the route's ``rewrite``, query kept.

    ``rewrite.uri`` is Envoy's prefix rewrite: it replaces what the match consumed, the configured ``prefix`` of a
    prefix match, the whole path of an exact or regex match, and ``/`` when the block has no ``uri`` (or the
    route has no match). ``rewrite.uriRegexRewrite`` replaces every match in the path.
    """
    full, path = req["uri"], req["path"]
    rewrite = route.get("rewrite")
    if not is_mapping(rewrite):
        return full
    regex_rewrite = rewrite.get("uriRegexRewrite")
    if is_mapping(regex_rewrite) and regex_rewrite.get("match"):
        regex = compile_regex(regex_rewrite["match"], field + ".rewrite.uriRegexRewrite.match")
        return _substitute(regex, regex_rewrite.get("rewrite") or "", path) + full[len(path):]
    uri = rewrite.get("uri")
    if not _text(uri) or not uri:
        return full
    kind, value = string_match_kind(block["uri"], field) if is_mapping(block) and "uri" in block else (None, None)
    if kind == "prefix":
        return uri + full[len(value):]
    if kind in ("exact", "regex"):
        return uri + full[len(path):]
    return uri + full[1:]


def _upstream(result, route, block, req, field):
    """``result["upstream"]``, one per destination in order: the request as that upstream sees it, and the
    response header operations as Envoy runs them (a list of levels).

    istiod puts the route's ``headers`` on the route and, for a lone destination, appends the destination's to
    them (one level); a weighted destination's go on its cluster weight, which Envoy runs before the route's.
    The authority is ``rewrite.authority``, else the route's headers, else the destination's.
    """
    route_ops = header_operations(route.get("headers"), field + ".headers")
    path = upstream_path(route, block, req, field)
    sent = dict((name, [value]) for name, value in req["headers"].items() if not name.startswith(":"))
    rewrite = route.get("rewrite") if is_mapping(route.get("rewrite")) else {}
    items = route.get("route") or []
    by_index = dict((d.pop("index"), d) for d in result["destinations"])
    single = len(items) == 1
    result["upstream"] = []
    for index, item in enumerate(items):
        dest = by_index.get(index)
        if dest is None:
            continue
        dest_ops = header_operations(item.get("headers"), "%s.route[%d].headers" % (field, index))
        if single:
            request_levels = [route_ops["request"] + dest_ops["request"]]
            response_levels = [route_ops["response"] + dest_ops["response"]]
        else:
            request_levels = [dest_ops["request"], route_ops["request"]]
            response_levels = [dest_ops["response"], route_ops["response"]]
        authority = rewrite.get("authority") or route_ops["authority"] or dest_ops["authority"] or req["authority"]
        headers = apply_header_operations(sent, request_levels)
        result["upstream"].append({
            "subset": dest["subset"], "path": path, "authority": authority,
            "headers": dict((name, ",".join(values)) for name, values in headers.items()),
            "response_header_operations": response_levels})


def redirect_location(redirect, req):
    """The ``Location`` Envoy answers a ``redirect`` with, for the request as the matchers read it.

    Scheme: ``scheme``, else the request's (x-forwarded-proto). Port: ``port``, or with ``derivePort:
    FROM_REQUEST_PORT`` the listener's port (istiod writes it, leaving out 80 for http and 443 for https).
    Host: ``authority``, else the Host as sent, its port dropped when a port is set or when the scheme changes
    away from the Host's default port. Path: ``uri`` (the request's query kept unless ``uri`` has one), else the
    normalised path with its query.
    """
    if not is_mapping(redirect):
        return None
    scheme = redirect.get("scheme") or req["scheme"]
    port = redirect.get("port")
    if port is None and redirect.get("derivePort") == "FROM_REQUEST_PORT":
        port = req["port"]
    if (port == 80 and scheme == "http") or (port == 443 and scheme == "https"):
        port = None
    suffix = ":%s" % port if port else ""
    host = redirect.get("authority")
    if not host:
        host = req["authority"]
        head, colon, tail = host.rpartition(":")
        if colon and not host.endswith("]"):
            sent_default = (req["scheme"] == "https" and tail == "443") or (req["scheme"] == "http" and tail == "80")
            if suffix or (scheme != req["scheme"] and sent_default):
                host = head
    uri = redirect.get("uri")
    if uri:
        query = req["uri"][len(req["path"]):]
        path = uri if "?" in uri or not query else uri + query
    else:
        path = req["uri"]
    return "%s://%s%s%s" % (scheme, host, suffix, path)


# Envoy's retry_on policies that cover an upstream's answer, by status (retriable-status-codes: listed codes).
_GATEWAY_ERRORS = frozenset((502, 503, 504))


def retries_answer(retries, status):
    """Does Envoy retry an upstream that answered ``status`` under a route_retries() policy?

    ``5xx`` covers every 5xx, ``gateway-error`` 502/503/504, ``retriable-4xx`` 409, and status codes listed in
    ``retryOn`` (istiod moves them to ``retriable_status_codes``) themselves. Istio's default policy lists no code.
    """
    if not retries or not retries.get("attempts"):
        return False
    tokens = set((retries.get("retry_on") or "").split(","))
    codes = set(int(t) for t in tokens if t.isascii() and t.isdigit())
    return status in codes or ("5xx" in tokens and 500 <= status < 600) or \
        ("gateway-error" in tokens and status in _GATEWAY_ERRORS) or ("retriable-4xx" in tokens and status == 409)


def _result(host):
    return {
        "host": host, "virtual_service": None, "namespace": None, "outcome": "passthrough", "matched": False,
        "route_index": None, "route_name": None, "match_index": None, "destinations": [], "fault": None,
        "timeout_ms": None, "retries": None, "status": None, "redirect": None, "direct_response": None,
        "location": None, "mirrors": [], "upstream": [], "warnings": [],
    }


def select_virtual_service(virtual_services, req, namespace):
    """The VirtualService that serves the request host at the request's gateway, and the ones it shadows."""
    ranked = []
    for obj in virtual_services:
        vs_ns = object_namespace(obj, namespace)
        spec = spec_of(obj, namespace)
        if req["gateway"] not in gateways_of(spec, vs_ns):
            continue
        best = None
        for host in spec.get("hosts") or []:
            if _text(host):
                score = host_specificity(fqdn(host, vs_ns), req["host"])
                if score is not None and (best is None or score > best):
                    best = score
        if best is not None:
            ranked.append(((-best[0], -best[1]) + creation_key(obj, namespace), best, obj))
    if not ranked:
        return None, []
    ranked.sort(key=lambda item: item[0])
    winner_score = ranked[0][1]
    shadowed = [obj for _key, score, obj in ranked[1:] if score == winner_score]
    return ranked[0][2], shadowed


def simulate(virtual_services, request, namespace="default"):
    """Where one HTTP request goes: the first matching route of the VirtualService that owns its host."""
    req = normalize_request(request, namespace)
    objects = objects_of_kind(virtual_services, "VirtualService")
    result = _result(req["host"])
    chosen, shadowed = select_virtual_service(objects, req, namespace)
    if chosen is not None:
        vs_ns = object_namespace(chosen, namespace)
        spec = spec_of(chosen, namespace)
        http = spec.get("http") or []
        if not is_list(http):
            raise MeshError("must be a list of routes", field="%s spec.http" % ref(chosen, namespace), value=http)
        vs_gateways = gateways_of(spec, vs_ns)
        applying = []
        for index, route in enumerate(http):
            field = "%s spec.http[%d]" % (ref(chosen, namespace), index)
            if not is_mapping(route):
                raise MeshError("must be a mapping", field=field, value=route)
            applying.append(route_applies(route, req, field, vs_gateways, vs_ns))
        if not any(applying):
            # istiod builds no route from it for this proxy and port: the service's default route serves.
            result["warnings"].append("%s has no route for this caller (port, sourceLabels, sourceNamespace or "
                                      "gateways): the default route to every endpoint applies"
                                      % ref(chosen, namespace))
            chosen = None
    if chosen is None:
        result["destinations"] = [{"index": 0, "host": request["host"].split(":")[0], "fqdn": req["host"],
                                   "subset": None, "port": req["port"], "weight": 100, "share": 1.0}]
        _upstream(result, {"route": [{}]}, None, req, "")
        result["retries"] = route_retries({}, "")
        return result

    result["virtual_service"] = metadata(chosen)["name"]
    result["namespace"] = vs_ns
    for other in shadowed:
        # Sidecars do not merge VirtualServices for one host (IST0109); the oldest one wins.
        result["warnings"].append("%s also claims host %s and is ignored: %s is older"
                                  % (ref(other, namespace), req["host"], ref(chosen, namespace)))

    for index, route in enumerate(http):
        field = "%s spec.http[%d]" % (ref(chosen, namespace), index)
        hit = route_matches(route, req, field, vs_gateways, vs_ns)
        if hit is None:
            continue
        result.update(matched=True, route_index=index, route_name=route.get("name"),
                      match_index=None if hit < 0 else hit)
        _apply_action(result, route, field, vs_ns)
        if result["outcome"] == "routed":
            block = route["match"][hit] if hit >= 0 else None
            _upstream(result, route, block, req, field)
        elif result["outcome"] == "redirect":
            result["location"] = redirect_location(result["redirect"], req)
        return result
    result["outcome"] = "no_route"
    result["status"] = 404
    return result


def _apply_action(result, route, field, vs_ns):
    if route.get("delegate") is not None:
        raise MeshError("delegate routes are not simulated", field=field + ".delegate", value=route["delegate"])
    if route.get("redirect") is not None:
        result["outcome"] = "redirect"
        result["redirect"] = route["redirect"]
        result["status"] = route["redirect"].get("redirectCode", 301) if is_mapping(route["redirect"]) else 301
        return
    if route.get("directResponse") is not None:
        result["outcome"] = "direct_response"
        result["direct_response"] = route["directResponse"]
        result["status"] = route["directResponse"].get("status") if is_mapping(route["directResponse"]) else None
        return
    result["outcome"] = "routed"
    result["destinations"] = route_destinations(route, field, vs_ns)
    result["mirrors"] = route_mirrors(route, field, vs_ns)
    result["fault"] = route_fault(route, field, result["warnings"])
    timeout = route.get("timeout")
    result["timeout_ms"] = duration_ms(timeout, field + ".timeout") if timeout is not None else None
    # istiod sets a route's timeout and retries whether or not it has a fault; Envoy starts the route timeout
    # after the fault delay, so it bounds the upstream, not the delay.
    result["retries"] = route_retries(route, field)


def sample(result, rng):
    """Draw one destination of a simulate() result as Envoy's weighted clusters would; None if there is none."""
    destinations = result.get("destinations") or []
    if len(destinations) <= 1:
        return destinations[0] if destinations else None
    draw = rng.randrange(sum(d["weight"] for d in destinations))
    for dest in destinations[:-1]:
        draw -= dest["weight"]
        if draw < 0:
            return dest
    return destinations[-1]


def distribute(result, n, seed=None):
    """How many of ``n`` requests each destination of a simulate() result gets (same order as destinations)."""
    rng = random.Random(seed)
    destinations = result.get("destinations") or []
    counts = [0] * len(destinations)
    index = dict((id(d), i) for i, d in enumerate(destinations))
    for _draw in range(n):
        picked = sample(result, rng)
        if picked is not None:
            counts[index[id(picked)]] += 1
    return counts
