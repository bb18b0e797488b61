#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: route_simulate
short_description: Predict where requests go, and what a user sees end to end, from the routing in the cluster
version_added: 0.1.0
description:
  - Reads the VirtualServices of a namespace (one list request), optionally applies a proposed change on top of
    them, and reports for each request the route that matches, the destination subsets with their share of the
    traffic, and any fault, as a sidecar would route it. Nothing is sent to the services.
  - Routes are tried in order and the first match wins; match blocks are ORed and the conditions inside one block
    ANDed; regexes are RE2 and match the whole value; weights are shares of their sum; a fault delay comes before the
    abort. Among VirtualServices claiming one host the oldest wins.
  - With O(predict) or O(users), also predicts what each user sees at the entry service of a call graph (BookInfo's
    by default) from the faults, the routing and the services' own client timeouts and retries - for example that a
    7 s delay on ratings makes productpage show "reviews unavailable" to jason after 6 s.
author:
  - ack.servicemesh contributors (@ack-servicemesh)
extends_documentation_fragment:
  - ack.servicemesh.auth
  - ack.servicemesh.attributes.info_module
options:
  namespace:
    description:
      - Namespace of the VirtualServices and of the caller; short host names are expanded in it. Defaults to the
        kubeconfig context's namespace, else V(default).
    type: str
  request:
    description: One request to route. Its result is RV(result).
    type: dict
    suboptions: &request
      host:
        description: The service called. A short name is in O(namespace). V(name:port) also sets the port.
        type: str
        required: true
      user:
        description:
          - Shortcut for a BookInfo user. Sets the C(end-user) header (current samples) and the C(user) cookie
            (Istio 0.8 samples), so both kinds of rule recognise the user.
        type: str
      headers:
        description: Request headers. Names are case-insensitive.
        type: dict
      cookies:
        description:
          - Cookies, sent as one C(Cookie) header V(k=v;k2=v2) with no space after V(;), the form the Istio 0.8
            BookInfo regex expects.
        type: dict
      uri:
        description: Path, optionally with a query string. V(/) when omitted.
        type: str
      query:
        description: Query parameters; they add to those in the C(uri).
        type: dict
      method:
        description: HTTP method. V(GET) when omitted.
        type: str
      scheme:
        description: URI scheme. V(http) when omitted.
        type: str
      port:
        description:
          - The port the client called (the sidecar listener's port); the Host header need not carry it.
          - A match block with C(port) is not sent to the proxy for another port, and holds for no request without a
            port.
        type: int
      authority:
        description: The C(:authority) header as sent, port included; the C(host) when omitted.
        type: str
      source_labels:
        description: Labels of the calling workload, for C(sourceLabels).
        type: dict
      source_namespace:
        description: Namespace of the calling workload, for C(sourceNamespace); O(namespace) when omitted.
        type: str
      gateway:
        description:
          - V(mesh) (the default) for a sidecar caller, or the C(namespace/name) of the gateway the request enters
            through.
        type: str
  requests:
    description: Several requests, each as O(request). Their results are RV(results), in the same order.
    type: list
    elements: dict
    suboptions: *request
  proposed:
    description:
      - Objects to route with as if they were applied, for example the output of
        P(ack.servicemesh.scenario_objects#filter). An object replaces the listed one of the same kind, namespace and
        name, and is added otherwise. Each needs C(kind) and C(metadata.name); kinds other than C(VirtualService)
        are ignored.
    type: list
    elements: dict
  predict:
    description:
      - Predict the end-to-end outcome for O(users), or when they are not given, for every C(user) of the requests
        and for an anonymous user. The result is RV(predictions).
    type: bool
    default: false
  users:
    description:
      - Users to predict the outcome for; V(null) (or an empty string) is an anonymous user. Implies O(predict).
    type: list
    elements: raw
  graph:
    description:
      - The call graph for the prediction. Omit for BookInfo (productpage calls details and reviews with a 3 s client
        timeout, reviews twice; reviews v2 and v3 call ratings with a 10 s and a 2.5 s timeout).
      - The schema is that of the C(graph) option of the P(ack.servicemesh.predict_outcome#filter) filter.
    type: dict
  entry:
    description: The service the users call; the graph's C(entry), else V(productpage).
    type: str
notes:
  - Only HTTP routes are simulated, and C(delegate) is not supported.
  - A fault with no C(percentage) never fires; C(fault.abort.percent) was removed in Istio 1.5, so such an abort never
    fires either. The results' C(warnings) say so.
seealso:
  - module: ack.servicemesh.mesh_analyze
  - plugin: ack.servicemesh.simulate_route
    plugin_type: filter
  - plugin: ack.servicemesh.predict_outcome
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Where does jason's call to reviews go?
  ack.servicemesh.route_simulate:
    namespace: bookinfo
    request:
      host: reviews
      user: jason
  register: route

- name: The Istio 0.8 way of recognising jason, and an anonymous request
  ack.servicemesh.route_simulate:
    requests:
      - host: reviews
        cookies: {user: jason}
      - host: reviews
        uri: /reviews/0

- name: What would jason and everyone else see with a 7 s delay on ratings?
  ack.servicemesh.route_simulate:
    namespace: bookinfo
    proposed: "{{ servicemesh_services | ack.servicemesh.scenario_objects(namespace='bookinfo', user_route=user_route,
                  fault=fault) }}"
    users: [jason, null]
  vars:
    user_route: {service: reviews, user: jason, subset: v2}
    fault: {service: ratings, user: jason, delay: {fixed_delay: 7s}}
  register: prediction
  # prediction.predictions[0].outcome == 'reviews_unavailable', prediction.predictions[0].latency_s == 6.0
"""

RETURN = r"""
result:
  description:
    - Where O(request) goes, as the P(ack.servicemesh.simulate_route#filter) filter returns it - C(outcome) (V(routed),
      V(no_route), V(passthrough), V(redirect), V(direct_response)), C(virtual_service), C(route_index),
      C(route_name), C(match_index), C(destinations) (C(host), C(subset), C(weight), C(share)), C(fault),
      C(timeout_ms), C(retries), C(status), C(location) (of a redirect), C(mirrors), C(upstream) (per destination, the path, authority and
      headers it receives and the response header operations) and C(warnings).
  returned: when O(request) is given
  type: dict
  sample:
    outcome: routed
    virtual_service: reviews
    route_index: 0
    route_name: user-override
    destinations: [{host: reviews, subset: v2, weight: 100, share: 1.0}]
    fault: null
results:
  description: Where each of O(requests) goes, in order, each as RV(result).
  returned: when O(requests) is given
  type: list
  elements: dict
predictions:
  description:
    - One prediction per user, as the P(ack.servicemesh.predict_outcome#filter) filter returns it - C(user),
      C(outcome) (V(ok), V(reviews_unavailable), ...), C(stars), C(latency_s), C(explanation), C(distribution) and
      more.
  returned: when O(predict) or O(users) is given
  type: list
  elements: dict
  sample:
    - user: jason
      outcome: reviews_unavailable
      latency_s: 6.0
      explanation: "jason: productpage shows reviews unavailable after 6 s. ..."
api_version:
  description: The C(networking.istio.io) version read.
  returned: always
  type: str
  sample: v1
"""

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.analyze import apply_proposed
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.budget import predict
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module import MeshModule
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.simulate import simulate

REQUEST_OPTIONS = dict(
    host=dict(type="str", required=True),
    user=dict(type="str"),
    headers=dict(type="dict"),
    cookies=dict(type="dict"),
    uri=dict(type="str"),
    query=dict(type="dict"),
    method=dict(type="str"),
    scheme=dict(type="str"),
    port=dict(type="int"),
    authority=dict(type="str"),
    source_labels=dict(type="dict"),
    source_namespace=dict(type="str"),
    gateway=dict(type="str"),
)


def given(request):
    """The argument spec fills unset suboptions with None; simulate() wants them absent."""
    return dict((key, value) for key, value in request.items() if value is not None)


def prediction_users(params, requests):
    if params["users"] is not None:
        users = []
        for index, user in enumerate(params["users"]):
            if user is not None and not isinstance(user, str):
                raise MeshError("must be a user name, or null for an anonymous user", field="users[%d]" % index,
                                value=user)
            users.append(user or None)
        return users
    named = []
    for request in requests:
        if request.get("user") and request["user"] not in named:
            named.append(request["user"])
    return named + [None]


def check_kinds(proposed):
    """An object without kind would count as a VirtualService whatever it is."""
    for index, obj in enumerate(proposed or []):
        if not obj.get("kind"):
            raise MeshError("is required, for example VirtualService", field="proposed[%d].kind" % index,
                            value=obj.get("kind"))
    return proposed


def run(mesh):
    params = mesh.params
    requests = [given(r) for r in ([params["request"]] if params["request"] else params["requests"] or [])]
    wants_prediction = params["predict"] or params["users"] is not None
    if not requests and not wants_prediction:
        raise MeshError("give request, requests, or predict/users", field="request", value=None)
    namespace = mesh.namespace()
    listed = mesh.resources("VirtualService").list(namespace)
    for obj in listed:
        obj.setdefault("kind", "VirtualService")
    objects = apply_proposed(listed, check_kinds(params["proposed"]), namespace)

    result = dict(changed=False, api_version=mesh.api_version)
    simulated = [simulate(objects, request, namespace) for request in requests]
    if params["request"]:
        result["result"] = simulated[0]
    elif params["requests"] is not None:
        result["results"] = simulated
    if wants_prediction:
        result["predictions"] = [predict(objects, user=user, graph=params["graph"], entry=params["entry"],
                                         namespace=namespace)
                                 for user in prediction_users(params, requests)]
    mesh.module.exit_json(**result)


def main():
    mesh = MeshModule(
        argument_spec=dict(
            namespace=dict(type="str"),
            request=dict(type="dict", options=REQUEST_OPTIONS),
            requests=dict(type="list", elements="dict", options=REQUEST_OPTIONS),
            proposed=dict(type="list", elements="dict"),
            predict=dict(type="bool", default=False),
            users=dict(type="list", elements="raw"),
            graph=dict(type="dict"),
            entry=dict(type="str"),
        ),
        mutually_exclusive=[("request", "requests")],
        supports_check_mode=True,
    )
    mesh.run(run)


if __name__ == "__main__":
    main()
