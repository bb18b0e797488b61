# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Static analysis of VirtualServices and DestinationRules, in the spirit of ``istioctl analyze``.

``analyze(virtual_services, destination_rules, namespace, legacy_weights)`` returns a list of findings::

    {"code": "IST0101", "severity": "error" | "warning" | "info",
     "object": "VirtualService/default/reviews", "field": "spec.http[1].route[0].destination.subset",
     "message": "..."}

Codes (IST codes mean what ``istioctl analyze`` means by them; ACK codes are this collection's own):

========  ========  ====================================================================================
Code      Severity  Finding
========  ========  ====================================================================================
IST0101   error     A destination (or mirror) names a subset that no DestinationRule for its host defines,
                    or no DestinationRule exists for the host at all: that traffic gets 503.
IST0109   error     Two mesh-bound VirtualServices claim one host. Sidecars do not merge them: the oldest
                    (creationTimestamp, then name) wins and the finding is reported on each ignored one.
IST0130   warning   An HTTP route after a catch-all route (no match, or a match block that matches every
                    request) can never be reached.
IST0131   warning   A match block can never be hit: an earlier block (same or earlier route) matches every
                    request it matches, or its own conditions contradict each other.
ACK1001   warning   Several destinations whose weights do not sum to 100. Istio >= 1.15 treats weights as
                    relative; before 1.15 the API rejects it. An error with ``legacy_weights``.
ACK1002   warning   ``fault.delay.percent`` is deprecated; use ``percentage: {value: N}``.
ACK1003   error     ``fault.abort.percent`` was removed in Istio 1.5; the API server prunes it, so the abort
                    never fires.
ACK1004   error     Several destinations and no weight, or weights summing to 0: Istio rejects the route.
ACK1005   warning   A fault delay or abort with no percentage never fires.
ACK1006   info      A route without match injects a fault: every request that reaches it is affected, not
                    only a test user.
========  ========  ====================================================================================

Only HTTP routes are checked for reachability; subsets and weights are checked for ``http``, ``tcp`` and
``tls`` routes. Objects are matched to each other by fully qualified host: a short host is in the namespace of
the object that names it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.simulate import (
    MESH,
    named_objects,
    compile_regex,
    creation_key,
    gateways_of,
    is_list,
    is_mapping,
    metadata,
    object_namespace,
    objects_of_kind,
    ref,
    spec_of,
    string_match_kind,
)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.semantics import (
    condition_takes_all, destinations, fqdn, most_specific)

ERROR = "error"
WARNING = "warning"
INFO = "info"
ROUTE_KINDS = ("http", "tcp", "tls")
# Match block keys that label the block rather than restrict it.
_LABELS = ("name", "statPrefix", "ignoreUriCase")
_STRING_MAPS = ("headers", "withoutHeaders", "queryParams")


def _finding(code, severity, obj_ref, field, message):
    return {"code": code, "severity": severity, "object": obj_ref, "field": field, "message": message}


def apply_proposed(existing, proposed, namespace="default"):
    """The cluster's objects with a change applied: same kind+namespace+name replaces, anything else is added.

    Neither list is modified. The API version is ignored: v1alpha3 and v1 name the same stored object. A
    replacement keeps the replaced object's creationTimestamp, as the API server does on update.
    """
    result = named_objects(existing, "existing")
    for obj in named_objects(proposed, "proposed"):
        key = _identity(obj, namespace)
        for index, current in enumerate(result):
            if _identity(current, namespace) == key:
                result[index] = _keep_creation(current, obj)
                break
        else:
            result.append(obj)
    return result


def _keep_creation(current, obj):
    """An update keeps the stored creationTimestamp, and with it the object's rank among conflicting ones."""
    stamp = metadata(current).get("creationTimestamp")
    if stamp is None or metadata(obj).get("creationTimestamp") is not None:
        return obj
    return dict(obj, metadata=dict(metadata(obj), creationTimestamp=stamp))


def _identity(obj, namespace):
    return (obj.get("kind"), object_namespace(obj, namespace), metadata(obj)["name"])


def analyze(virtual_services, destination_rules, namespace="default", legacy_weights=False):
    """Findings for a set of VirtualServices and DestinationRules (see the module docstring for the codes)."""
    services = objects_of_kind(virtual_services, "VirtualService")
    rules = objects_of_kind(destination_rules, "DestinationRule", "destination_rules")
    findings = []
    for obj in services:
        obj_ref = ref(obj, namespace)
        spec = spec_of(obj, namespace)
        vs_ns = object_namespace(obj, namespace)
        for kind in ROUTE_KINDS:
            routes = spec.get(kind) or []
            if not is_list(routes):
                raise MeshError("must be a list of routes", field="%s spec.%s" % (obj_ref, kind), value=routes)
            for index, route in enumerate(routes):
                field = "spec.%s[%d]" % (kind, index)
                if not is_mapping(route):
                    raise MeshError("must be a mapping", field="%s %s" % (obj_ref, field), value=route)
                findings.extend(_subset_findings(route, field, obj_ref, vs_ns, rules, namespace))
                findings.extend(_weight_findings(route, field, obj_ref, legacy_weights))
                if kind == "http":
                    findings.extend(_fault_findings(route, field, obj_ref))
        findings.extend(_reachability_findings(spec.get("http") or [], obj_ref))
    findings.extend(_conflict_findings(services, namespace))
    return findings


# IST0101 --------------------------------------------------------------------------------------------------

def _rules_for(host, rules, namespace):
    """The DestinationRules a sidecar applies to a host: the most specific host match."""
    candidates = []
    for rule in rules:
        rule_host = spec_of(rule, namespace).get("host")
        if isinstance(rule_host, str) and rule_host:
            candidates.append((fqdn(rule_host, object_namespace(rule, namespace)), rule))
    return most_specific(host, candidates)


def _subset_findings(route, field, obj_ref, vs_ns, rules, namespace):
    for where, dest in destinations(route, field):
        subset = dest.get("subset")
        host = dest.get("host")
        if not subset or not isinstance(host, str):
            continue
        host_fqdn = fqdn(host, vs_ns)
        applied = _rules_for(host_fqdn, rules, namespace)
        if not applied:
            yield _finding("IST0101", ERROR, obj_ref, where + ".subset",
                           "no DestinationRule for host %s, so subset %s is unknown: its traffic gets 503"
                           % (host_fqdn, subset))
            continue
        names = set()
        for rule in applied:
            for item in spec_of(rule, namespace).get("subsets") or []:
                if is_mapping(item):
                    names.add(item.get("name"))
        if subset not in names:
            yield _finding("IST0101", ERROR, obj_ref, where + ".subset",
                           "subset %s is not defined by %s (subsets: %s): its traffic gets 503"
                           % (subset, ", ".join(ref(r, namespace, "DestinationRule") for r in applied),
                              ", ".join(sorted(n for n in names if isinstance(n, str))) or "none"))


# ACK1001 / ACK1004 ----------------------------------------------------------------------------------------

def _weight_findings(route, field, obj_ref, legacy_weights):
    items = route.get("route") or []
    if not is_list(items) or len(items) < 2:
        return
    weights = []
    labels = []
    for index, item in enumerate(items):
        dest = item.get("destination") if is_mapping(item) else None
        labels.append((dest.get("subset") or dest.get("host")) if is_mapping(dest) else "#%d" % index)
        weight = item.get("weight") if is_mapping(item) else None
        if isinstance(weight, float) and weight.is_integer():
            weight = int(weight)
        if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int) or weight < 0):
            raise MeshError("must be an integer >= 0", field="%s %s.route[%d].weight" % (obj_ref, field, index),
                            value=weight)
        weights.append(weight or 0)
    total = sum(weights)
    if total == 0:
        yield _finding("ACK1004", ERROR, obj_ref, field + ".route",
                       "%d destinations but no weights (or all 0): Istio rejects the route" % len(items))
    elif total != 100:
        shares = ", ".join("%s %g%%" % (label, round(100.0 * w / total, 1)) for label, w in zip(labels, weights))
        yield _finding("ACK1001", ERROR if legacy_weights else WARNING, obj_ref, field + ".route",
                       "weights sum to %d, not 100: Istio >= 1.15 splits traffic %s; earlier releases reject it"
                       % (total, shares))


# ACK1002 / ACK1003 / ACK1005 / ACK1006 --------------------------------------------------------------------

def _fault_findings(route, field, obj_ref):
    fault = route.get("fault")
    if not is_mapping(fault):
        return
    fires = []
    delay = fault.get("delay")
    if is_mapping(delay):
        where = field + ".fault.delay"
        if delay.get("percent") is not None:
            if delay.get("percentage") is not None:
                note = "and ignored, because percentage is set"
            else:
                note = "(still honoured): write percentage: {value: %s}" % delay["percent"]
                fires.append("a %s delay" % delay.get("fixedDelay"))
            yield _finding("ACK1002", WARNING, obj_ref, where + ".percent", "deprecated " + note)
        elif delay.get("percentage") is None:
            yield _finding("ACK1005", WARNING, obj_ref, where, "no percentage: this delay never fires")
        elif _positive(delay["percentage"]):
            fires.append("a %s delay" % delay.get("fixedDelay"))
    abort = fault.get("abort")
    if is_mapping(abort):
        where = field + ".fault.abort"
        if abort.get("percentage") is not None:
            if _positive(abort["percentage"]):
                fires.append("an abort")
        elif abort.get("percent") is not None:
            yield _finding("ACK1003", ERROR, obj_ref, where + ".percent",
                           "removed in Istio 1.5 and pruned by the API server, so this abort never fires: "
                           "write percentage: {value: %s}" % abort["percent"])
        else:
            yield _finding("ACK1005", WARNING, obj_ref, where, "no percentage: this abort never fires")
    if fires and not route.get("match"):
        yield _finding("ACK1006", INFO, obj_ref, field + ".fault",
                       "the route has no match, so %s hits every caller that reaches it" % " and ".join(fires))


def _positive(percentage):
    value = percentage.get("value") if is_mapping(percentage) else percentage
    return isinstance(value, (int, float)) and value > 0


# IST0130 / IST0131 ----------------------------------------------------------------------------------------

def _conditions(block, where):
    """A match block as {condition key: (kind, value, ignore_case)}; label-only keys are left out."""
    conditions = {}
    for key, value in block.items():
        if key in _LABELS:
            continue
        field = "%s.%s" % (where, key)
        if key in ("uri", "scheme", "method", "authority"):
            conditions[(key,)] = _string_condition(value, field, key == "uri" and bool(block.get("ignoreUriCase")))
        elif key in _STRING_MAPS or key == "sourceLabels":
            if not is_mapping(value):
                raise MeshError("must be a mapping", field=field, value=value)
            for name, match in value.items():
                if key == "sourceLabels":
                    conditions[(key, name)] = ("exact", match, False)
                else:
                    # Header names are case-insensitive; query parameter names are not.
                    name = name.lower() if key != "queryParams" else name
                    conditions[(key, name)] = _string_condition(match, "%s.%s" % (field, name), False)
        elif key == "gateways":
            conditions[(key,)] = ("set", frozenset(value or ()), False)
        else:
            conditions[(key,)] = ("exact", value, False)
    return conditions


def _string_condition(match, field, ignore_case):
    kind, text = string_match_kind(match, field)
    if kind == "regex":
        compile_regex(text, field + ".regex")  # fail here, with the field named, not later in _implies
    return (kind, text, ignore_case)


def _always(key, condition):
    """Conditions every request meets (any path, any method), as semantics defines a catch-all."""
    kind, text, _case = condition
    if len(key) != 1 or kind not in (None, "exact", "prefix", "regex"):
        return False
    return condition_takes_all(key[0], {} if kind is None else {kind: text})


def _implies(later, earlier):
    """Does every value ``later`` accepts also satisfy ``earlier``? Conservative: False when unsure."""
    if later == earlier:
        return True
    kind, text, case = earlier
    later_kind, later_text, later_case = later
    if kind is None:
        return True  # "present": any condition on the same name already requires the value to be there
    if kind == "set":
        return later_kind == "set" and later_text <= text
    if later_kind not in ("exact", "prefix") or (later_case and not case):
        return False
    fold = (lambda value: value.lower()) if case else (lambda value: value)
    if kind == "prefix":
        return fold(later_text).startswith(fold(text))
    if kind == "exact":
        return later_kind == "exact" and fold(later_text) == fold(text)
    if kind == "regex":
        return later_kind == "exact" and compile_regex(text, "regex").fullmatch(later_text) is not None
    return False


def _shadows(earlier, later):
    """An earlier block shadows a later one when each of its conditions holds whenever the later block does."""
    for key, condition in earlier.items():
        if _always(key, condition):
            continue
        if key[0] == "withoutHeaders":
            # Excluding a header is implied only by excluding it the same way.
            if later.get(key) != condition:
                return False
        elif key not in later or not _implies(later[key], condition):
            return False
    return True


def _contradiction(conditions):
    """Why a block can never match, or None."""
    for key, condition in conditions.items():
        if key[0] == "headers" and conditions.get(("withoutHeaders", key[1])) == condition:
            return "header %s is both required and excluded with the same condition" % key[1]
    uri = conditions.get(("uri",))
    if uri and uri[0] in ("exact", "prefix") and uri[1] and not uri[1].startswith("/"):
        return "uri %s %r: request paths start with /" % (uri[0], uri[1])
    return None


def _reachability_findings(http, obj_ref):
    catch_all = None
    seen = []
    for index, route in enumerate(http):
        field = "spec.http[%d]" % index
        if catch_all is not None:
            yield _finding("IST0130", WARNING, obj_ref, field,
                           "unreachable: spec.http[%d] comes first and matches every request" % catch_all)
            continue
        blocks = route.get("match")
        if not blocks:
            catch_all = index
            continue
        if not is_list(blocks):
            raise MeshError("must be a list of match blocks", field="%s %s.match" % (obj_ref, field), value=blocks)
        for position, block in enumerate(blocks):
            where = "%s.match[%d]" % (field, position)
            if not is_mapping(block):
                raise MeshError("must be a mapping of match conditions", field="%s %s" % (obj_ref, where),
                                value=block)
            conditions = _conditions(block, "%s %s" % (obj_ref, where))
            reason = _contradiction(conditions)
            if reason:
                yield _finding("IST0131", WARNING, obj_ref, where, "never matches: " + reason)
            else:
                shadow = next((w for w, c in seen if _shadows(c, conditions)), None)
                if shadow:
                    yield _finding("IST0131", WARNING, obj_ref, where,
                                   "never hit: %s comes first and matches every request this block matches" % shadow)
            seen.append((where, conditions))
            if all(_always(key, condition) for key, condition in conditions.items()):
                catch_all = index


# IST0109 --------------------------------------------------------------------------------------------------

def _conflict_findings(services, namespace):
    claims = {}
    for obj in services:
        listed = set()
        vs_ns = object_namespace(obj, namespace)
        spec = spec_of(obj, namespace)
        if MESH not in gateways_of(spec, vs_ns):
            continue  # gateways merge VirtualServices; only sidecars pick one
        for index, host in enumerate(spec.get("hosts") or []):
            host = fqdn(host, vs_ns) if isinstance(host, str) else None
            if host and host not in listed:
                listed.add(host)
                claims.setdefault(host, []).append((creation_key(obj, namespace), index, obj))
    for host in sorted(claims):
        owners = sorted(claims[host], key=lambda item: item[0])
        winner = ref(owners[0][2], namespace)
        for _key, index, obj in owners[1:]:
            yield _finding("IST0109", ERROR, ref(obj, namespace), "spec.hosts[%d]" % index,
                           "host %s is also claimed by %s, which wins (oldest first, then by name): sidecars do "
                           "not merge mesh VirtualServices, so this one is ignored" % (host, winner))
