# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: scenario_objects
short_description: The DestinationRules and VirtualServices a BookInfo scenario leaves in the cluster
version_added: 0.1.0
description:
  - Builds, without reading the cluster, the Istio objects that the P(ack.servicemesh.servicemesh#role) role
    writes into an empty namespace from the same variables (with M(ack.servicemesh.mesh_routing)), so that
    M(ack.servicemesh.mesh_analyze), M(ack.servicemesh.route_simulate) and P(ack.servicemesh.predict_outcome#filter)
    can check a scenario before it is applied.
  - One DestinationRule per service, with one subset per name selected by the O(subset_label) label.
  - One VirtualService per service, with its routes in the order the role places them in an empty
    VirtualService - the user route O(user_route_name), then the fault route O(fault_route_name), then the
    default route C(default) with the weights. The fault route sends traffic where the default route does.
  - Input is checked the way the role checks it (weights sum to 100, durations, percentages, subset names), and
    weights, a user route or a fault for a service that is not in the list is an error, because the role would
    silently do nothing with it.
author:
  - ack.servicemesh contributors (@ack-servicemesh)
options:
  _input:
    description: The services, as the role's C(servicemesh_services) - a list of C(name) and C(subsets).
    type: list
    elements: dict
    required: true
  namespace:
    description: Namespace of the objects.
    type: str
    default: default
  weights:
    description: "Service name to subset weights for its default route, for example V({reviews: {v1: 50, v3: 50}})."
    type: dict
  default_subset:
    description: Subset of a default route when O(weights) does not name the service.
    type: str
    default: v1
  subset_label:
    description: Pod label that selects a subset.
    type: str
    default: version
  user_route:
    description: The user route - C(service), C(user) and C(subset). Empty for none.
    type: dict
  fault:
    description:
      - The fault - C(service), C(user) (or C(all_users=true), which puts the fault on the default route), and
        C(delay) (C(fixed_delay), C(percentage) or C(percent)) and/or
        C(abort) (C(http_status) or C(grpc_status), C(percentage) or C(percent)), as the C(fault) of a
        M(ack.servicemesh.mesh_routing) route takes them. Empty for none.
    type: dict
  user_match:
    description: How routes recognise the user - the C(end-user) header, or the Istio 0.8 C(user) cookie regex.
    type: str
    choices: [header, cookie, cookie-0.8]
    default: header
  user_route_name:
    description: Name of the user route.
    type: str
    default: user-override
  fault_route_name:
    description: Name of the fault route.
    type: str
    default: fault-injection
notes:
  - Routes that others added to the live VirtualServices are not known here; the objects are what an empty
    namespace would hold after the role.
seealso:
  - module: ack.servicemesh.mesh_analyze
  - plugin: ack.servicemesh.predict_outcome
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Analyze the fault-delay scenario before applying it
  ack.servicemesh.mesh_analyze:
    proposed: "{{ servicemesh_services | ack.servicemesh.scenario_objects(namespace='bookinfo', user_route=user_route,
                  fault=fault) }}"
  vars:
    user_route: {service: reviews, user: jason, subset: v2}
    fault: {service: ratings, user: jason, delay: {fixed_delay: 7s, percentage: 100}}

- name: Predict what jason sees with a 50/50 split of reviews
  ansible.builtin.debug:
    msg: "{{ (objects | ack.servicemesh.predict_outcome(user='jason')).explanation }}"
  vars:
    objects: "{{ servicemesh_services | ack.servicemesh.scenario_objects(weights={'reviews': {'v1': 50, 'v3': 50}}) }}"
"""

RETURN = r"""
_value:
  description:
    - The DestinationRules, then the VirtualServices, as Kubernetes objects (C(apiVersion) V(networking.istio.io/v1),
      C(kind), C(metadata.name), C(metadata.namespace), C(spec) in Istio's camelCase).
  type: list
  elements: dict
"""

import copy

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problem, Problems
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.routes import (
    USER_MATCH_CHOICES, build_destinations, build_fault, build_match, check_route, place_route, put_default_fault,
    weighted_destinations)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.spec import new_object, subsets_from_param
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import validate_destination_rule

API_VERSION = "networking.istio.io/v1"
# The option types of a route's fault.delay and fault.abort, which the role's module converts these values to.
FAULT_OPTIONS = {
    "delay": {"fixed_delay": str, "percentage": float, "percent": int},
    "abort": {"http_status": int, "grpc_status": str, "percentage": float, "percent": int},
}


def _mapping(value, field):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MeshError("must be a mapping", field=field, value=value)
    return value


def _convert(value, kind, field):
    """Templated values may arrive as strings; convert them as the module's argument spec would."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise MeshError("must be a %s" % ("string" if kind is str else "number"), field=field, value=value)
    if kind is str:
        return str(value)
    try:
        number = float(value)
    except ValueError:
        raise MeshError("must be a number", field=field, value=value)
    if kind is int:
        if not number.is_integer():
            raise MeshError("must be an integer", field=field, value=value)
        return int(number)
    return number


def _fault_part(fault, part):
    given = _mapping(fault.get(part), "fault.%s" % part)
    options = FAULT_OPTIONS[part]
    unknown = sorted(set(given) - set(options))
    if unknown:
        raise MeshError("unknown key; known: %s" % ", ".join(sorted(options)), field="fault.%s.%s" % (part, unknown[0]),
                        value=given[unknown[0]])
    return dict((key, _convert(value, options[key], "fault.%s.%s" % (part, key)))
                for key, value in given.items() if value is not None)


def _service_names(services):
    if not isinstance(services, list) or not services:
        raise MeshError("must be a non-empty list of services with name and subsets", field="services",
                        value=services)
    names = []
    for index, service in enumerate(services):
        if not isinstance(service, dict) or not isinstance(service.get("name"), str) or not service["name"]:
            raise MeshError("must be a mapping with name and subsets", field="services[%d]" % index, value=service)
        if service["name"] in names:
            raise MeshError("is listed twice", field="services[%d].name" % index, value=service["name"])
        names.append(service["name"])
    return names


def _check_service(target, field, names):
    service = target.get("service")
    if service is not None and service not in names:
        raise MeshError("is not one of the services (%s), so the role would not route anything"
                        % ", ".join(names), field=field, value=service)
    return service


def _destination_rule(service, namespace, subset_label):
    name = service["name"]
    subsets = service.get("subsets")
    if not isinstance(subsets, list):
        raise MeshError("must be a list of subset names", field="services[%s].subsets" % name, value=subsets)
    obj = new_object(API_VERSION, "DestinationRule", name, namespace)
    problems = Problems()
    spec_subsets, problems = subsets_from_param(
        dict((str(subset), {subset_label: str(subset)}) for subset in subsets), problems=problems)
    obj["spec"] = {"host": name, "subsets": spec_subsets}
    validate_destination_rule(obj["spec"], path="spec", problems=problems)
    problems.raise_if_any("DestinationRule %s" % name)
    return obj


def _user_route(host, user_route, user_match, route_name):
    problems = Problems()
    if not user_route.get("user"):
        raise MeshError("the user route has no user: set the user the role sends to %s %s (user_v2_user, "
                        "fault_delay_user, fault_abort_user)" % (host, user_route.get("subset")))
    route = {"name": route_name}
    match = build_match({"user": user_route.get("user"), "user_match": user_match}, problems)
    if match:
        route["match"] = match
    route["route"] = build_destinations(host, None, user_route.get("subset"), problems)
    check_route(route, host, problems)
    problems.raise_if_any("user_route")
    return route


def _fault_route(host, fault, user_match, route_name, destinations):
    problems = Problems()
    delay = _fault_part(fault, "delay")
    abort = _fault_part(fault, "abort")
    if not delay and not abort:
        problems.add("fault", "give delay and/or abort", fault)
    elif delay and "fixed_delay" not in delay:
        problems.add("fault.delay.fixed_delay", "is required", None)
    all_users = boolean(fault.get("all_users") or False, strict=False)
    if not fault.get("user") and not all_users:
        raise MeshError("the fault has no user: set the user whose requests to %s it hits (fault_delay_user, "
                        "fault_abort_user), or all_users (fault_delay_all_users, fault_abort_all_users) to true "
                        "to hit every request" % host)
    problems.raise_if_any()
    user = None if all_users else fault["user"]
    route = {"name": route_name,
             "match": build_match({"user": user, "user_match": user_match}, problems) or [{"uri": {"prefix": "/"}}],
             "fault": build_fault(delay, abort, problems),
             "route": copy.deepcopy(destinations)}
    check_route(route, host, problems)
    problems.raise_if_any("fault")
    if all_users:
        # It goes on the default route: only the fault is needed.
        return {"fault": route["fault"]}
    return route


def _virtual_service(name, namespace, weights, default_subset, user_route, fault, user_match, user_route_name,
                     fault_route_name):
    service_weights = weights.get(name) or {default_subset: 100}
    try:
        default = {"name": "default", "route": weighted_destinations(name, service_weights)}
    except MeshError as err:
        # weighted_destinations names its parameter; here the weights are one entry of a mapping.
        raise MeshError(problems=[Problem("weights.%s%s" % (name, p.field[len("weights"):]), p.message, p.value)
                                  for p in err.problems])
    http = [default]
    # Each new route goes just above the default route, in the order the role lists them: user route, then fault.
    if user_route.get("service") == name:
        http = place_route(http, _user_route(name, user_route, user_match, user_route_name))[0]
    annotations = {}
    if fault.get("service") == name:
        route = _fault_route(name, fault, user_match, fault_route_name, default["route"])
        if "match" in route:
            http = place_route(http, route)[0]
        else:
            http = put_default_fault(http, annotations, fault_route_name, route["fault"])
    obj = new_object(API_VERSION, "VirtualService", name, namespace)
    obj["spec"] = {"hosts": [name], "http": http}
    if annotations:
        obj["metadata"]["annotations"] = annotations
    return obj


def build_scenario_objects(services, namespace="default", weights=None, default_subset="v1", subset_label="version",
                           user_route=None, fault=None, user_match="header", user_route_name="user-override",
                           fault_route_name="fault-injection"):
    """DestinationRules then VirtualServices, as the servicemesh role leaves an empty namespace; MeshError if bad."""
    names = _service_names(services)
    weights = _mapping(weights, "weights")
    user_route = _mapping(user_route, "user_route")
    fault = _mapping(fault, "fault")
    if user_match not in USER_MATCH_CHOICES:
        raise MeshError("must be one of %s" % ", ".join(USER_MATCH_CHOICES), field="user_match", value=user_match)
    for service in weights:
        _check_service({"service": service}, "weights.%s" % service, names)
    _check_service(user_route, "user_route.service", names)
    _check_service(fault, "fault.service", names)
    rules = [_destination_rule(service, namespace, subset_label) for service in services]
    virtual_services = [_virtual_service(name, namespace, weights, default_subset, user_route, fault, user_match,
                                         user_route_name, fault_route_name) for name in names]
    return rules + virtual_services


def scenario_objects(services, namespace="default", weights=None, default_subset="v1", subset_label="version",
                     user_route=None, fault=None, user_match="header", user_route_name="user-override",
                     fault_route_name="fault-injection"):
    try:
        return build_scenario_objects(services, namespace, weights, default_subset, subset_label, user_route, fault,
                                      user_match, user_route_name, fault_route_name)
    except MeshError as err:
        raise AnsibleFilterError("scenario_objects: %s" % err)


class FilterModule:
    def filters(self):
        return {"scenario_objects": scenario_objects}
