# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: simulate_route
short_description: Predict which route of a VirtualService an HTTP request takes
version_added: 0.1.0
author: ack.servicemesh contributors (@ack-servicemesh)
description:
  - Picks the VirtualService that owns the request host, as a sidecar does (an exact host beats a wildcard; among
    VirtualServices claiming the same host the oldest wins), then tries its HTTP routes in order. The first route with a
    matching block wins; blocks in C(match) are ORed and the conditions inside one block are ANDed.
  - String matches follow Istio, V(exact), V(prefix), or V(regex) (RE2, whole-value match). Header names are
    case-insensitive. C(withoutHeaders), C(queryParams), C(uri), C(method), C(scheme), C(authority), C(port),
    C(sourceLabels), C(sourceNamespace) and C(gateways) are evaluated.
  - Pure computation on the objects given; nothing is read from the cluster.
positional: _input, request
options:
  _input:
    description:
      - VirtualService objects as stored by the API server (C(apiVersion), C(kind), C(metadata), C(spec) in Istio
        camelCase). Objects of other kinds, such as DestinationRules, are ignored, so the documents of a whole
        YAML file can be passed.
    type: list
    elements: dict
    required: true
  request:
    description:
      - The request to route.
    type: dict
    required: true
    suboptions:
      host:
        description:
          - The service called. A short name is in O(namespace). V(name:port) also sets O(request.port).
        type: str
        required: true
      headers:
        description: Request headers. Names are case-insensitive.
        type: dict
      cookies:
        description:
          - Cookies, sent as one C(Cookie) header V(k=v;k2=v2) with no space after V(;), the form the Istio 0.8
            BookInfo regex C(^(.*?;\)?(user=jason\)(;.*\)?$) expects.
        type: dict
      user:
        description:
          - Shortcut for a BookInfo user. Sets the C(end-user) header (current samples) and the C(user) cookie
            (Istio 0.8 samples), so both kinds of rule recognise the user.
        type: str
      uri:
        description: Path, optionally with a query string.
        type: str
        default: /
      query:
        description: Query parameters; they add to those in O(request.uri).
        type: dict
      method:
        description: HTTP method.
        type: str
        default: GET
      scheme:
        description: URI scheme.
        type: str
        default: http
      port:
        description: Destination port. A match block with C(port) never matches a request without one.
        type: int
      authority:
        description: The C(:authority) header; defaults to O(request.host).
        type: str
      source_labels:
        description: Labels of the calling workload, for C(sourceLabels).
        type: dict
      source_namespace:
        description: Namespace of the calling workload, for C(sourceNamespace); defaults to O(namespace).
        type: str
      gateway:
        description:
          - V(mesh) for a sidecar caller, or the C(namespace/name) of the gateway the request enters through.
        type: str
        default: mesh
  namespace:
    description:
      - Namespace of the caller and of objects without C(metadata.namespace). Short host names are expanded in it.
    type: str
    default: default
notes:
  - A fault with no C(percentage) never fires. C(fault.delay.percent) (deprecated) still counts;
    C(fault.abort.percent) was removed in Istio 1.5 and is pruned by the API server, so such an abort never fires.
    The result's RV(_value.warnings) says so.
  - Only HTTP routes are simulated, and C(delegate) is not supported.
seealso:
  - plugin: ack.servicemesh.predict_outcome
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Where does jason's call to reviews go?
  ansible.builtin.debug:
    msg: "{{ (virtual_services | ack.servicemesh.simulate_route({'host': 'reviews', 'user': 'jason'})).destinations }}"
  vars:
    virtual_services: "{{ lookup('ansible.builtin.file', 'virtual-service-reviews-test-v2.yaml') | from_yaml_all }}"
  # => [{"host": "reviews", "subset": "v2", "weight": 100, "share": 1.0, ...}]

- name: Fail early when a rule would send the canary header nowhere
  ansible.builtin.assert:
    that:
      - route.outcome == 'routed'
      - route.destinations | map(attribute='subset') | list == ['v3']
  vars:
    route: >-
      {{ virtual_services | ack.servicemesh.simulate_route(
           {'host': 'reviews', 'headers': {'x-canary': 'true'}, 'uri': '/reviews/0'}, namespace='bookinfo') }}
"""

RETURN = r"""
_value:
  description: Where the request goes.
  type: dict
  contains:
    host:
      description: The request host, fully qualified.
      type: str
    virtual_service:
      description: Name of the VirtualService that handles the host, or V(null) when none does.
      type: str
    namespace:
      description: Namespace of that VirtualService.
      type: str
    outcome:
      description:
        - V(routed) (a route matched), V(no_route) (a VirtualService owns the host but no route matched; Envoy
          answers 404), V(passthrough) (no VirtualService, so default routing to every endpoint of the host),
          V(redirect) or V(direct_response).
      type: str
    matched:
      description: Whether a route matched.
      type: bool
    route_index:
      description: Index of the matched route in C(spec.http).
      type: int
    route_name:
      description: C(name) of the matched route.
      type: str
    match_index:
      description: Index of the match block that matched; V(null) for a route without C(match).
      type: int
    destinations:
      description:
        - Weighted destinations; C(share) is weight divided by the sum of weights. Zero weights are left out; a
          single destination has share V(1.0).
      type: list
      elements: dict
    fault:
      description:
        - Fault injected on the route, or V(null). C(delay) has C(fixed_delay_ms) and C(percentage); C(abort) has
          C(http_status) (or C(grpc_status), C(http2_error)) and C(percentage).
      type: dict
    timeout_ms:
      description: Route timeout in milliseconds; V(null) means none (Istio's default).
      type: int
    retries:
      description: Effective retry policy, with C(attempts), C(per_try_timeout_ms), C(retry_on) and C(default).
      type: dict
    status:
      description: HTTP status Envoy answers itself (404 for no_route, the redirect or direct response code).
      type: int
    location:
      description: The C(Location) header of a redirect (scheme, host, port, path and query), else V(null).
      type: str
    mirrors:
      description:
        - Where Envoy sends a copy of the request (its answer ignored), each with C(host), C(fqdn), C(subset) and
          C(percentage) of requests copied.
      type: list
      elements: dict
    upstream:
      description:
        - For a routed request, one per destination in the order of C(destinations) - C(subset), the C(path)
          (after C(rewrite)), C(authority) and C(headers) that destination receives, and
          C(response_header_operations), the levels of C([remove, name]), C([set, name, value]) and
          C([add, name, value]) Envoy runs on its answer.
      type: list
      elements: dict
    warnings:
      description: Things that make the prediction differ from what the objects seem to say.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError


def simulate_route(virtual_services, request, namespace="default"):
    # Imported when called, not when this file loads (why: module_utils/_mesh/scenario.py).
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.simulate import simulate

    try:
        return simulate(virtual_services, request, namespace)
    except MeshError as err:
        raise AnsibleFilterError("simulate_route: %s" % err)


class FilterModule:
    def filters(self):
        return {"simulate_route": simulate_route}
