# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: predict_outcome
short_description: Predict what a user sees end to end, from the routing and the services' timeouts
version_added: 0.1.0
author: ack.servicemesh contributors (@ack-servicemesh)
description:
  - Follows one request from the entry service down a call graph. Every hop is routed like
    P(ack.servicemesh.simulate_route#filter) does, so subsets, weights and injected faults apply; the callers'
    own client timeouts and retries then decide what comes back, and how long it takes.
  - The default call graph is BookInfo. productpage calls details (3 s timeout) and reviews (3 s timeout, two
    attempts); reviews v1 calls nothing, v2 (black stars) calls ratings with a 10 s timeout, v3 (red stars) with 2.5 s.
    So a 7 s delay on ratings makes jason's page show "reviews unavailable" after about 6 s, although reviews v2
    itself would have waited.
  - Weighted routes and partial fault percentages give several outcomes; all are reported with their probability.
  - Pure computation on the objects given; nothing is read from the cluster.
positional: _input
options:
  _input:
    description:
      - VirtualService objects as stored by the API server. Objects of other kinds are ignored.
    type: list
    elements: dict
    required: true
  user:
    description:
      - The BookInfo user, sent as the C(end-user) header and the C(user) cookie on every hop. V(null) is an
        anonymous user.
    type: str
  graph:
    description:
      - The call graph. Omit for BookInfo.
      - 'Shape: C({entry: productpage, services: {<service>: {versions: {<version>: {latency_s: 0, shows: {stars:
        black}, calls: [{service: ratings, timeout_s: 10, attempts: 1, required: false}]}}}}}).'
      - A subset routes to the version of the same name; a subset that is not a version has no pods (HTTP 503).
      - C(timeout_s) is the caller's client timeout per attempt (seconds, or a duration such as V(2500ms); none
        when omitted). C(attempts) counts the caller's own tries, made on any failure. With C(required) the caller
        fails when the call fails; otherwise it degrades and drops its own C(shows).
    type: dict
  entry:
    description: The service the user calls. Defaults to the graph's C(entry), else V(productpage).
    type: str
  namespace:
    description: Namespace of the services and of objects without C(metadata.namespace).
    type: str
    default: default
notes:
  - Services are assumed to answer at once apart from C(latency_s). A fault delay is applied before the abort;
    an aborted request is not retried by Envoy. A route's timeout and retries apply on a route with a fault too;
    the route timeout starts after the fault delay, so it bounds the upstream, not the delay.
seealso:
  - plugin: ack.servicemesh.simulate_route
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Check the fault-delay scenario breaks jason's page and nobody else's
  ansible.builtin.assert:
    that:
      - jason.outcome == 'reviews_unavailable'
      - jason.latency_s == 6.0
      - anonymous.outcome == 'ok'
  vars:
    jason: "{{ virtual_services | ack.servicemesh.predict_outcome(user='jason') }}"
    anonymous: "{{ virtual_services | ack.servicemesh.predict_outcome }}"

- name: Show the star colours a 50/50 split produces
  ansible.builtin.debug:
    msg: "{{ (virtual_services | ack.servicemesh.predict_outcome).stars_distribution }}"
  # => {"none": 0.5, "red": 0.5}

- name: A graph of your own
  ansible.builtin.debug:
    msg: "{{ virtual_services | ack.servicemesh.predict_outcome(graph=shop, namespace='shop') }}"
  vars:
    shop:
      entry: frontend
      services:
        frontend:
          versions:
            v1:
              calls:
                - {service: cart, timeout_s: 1, attempts: 3, required: true}
        cart:
          versions:
            v1: {}
            v2: {latency_s: 0.2}
"""

RETURN = r"""
_value:
  description: The prediction.
  type: dict
  contains:
    user:
      description: The user, as given.
      type: str
    entry:
      description: The entry service.
      type: str
    outcome:
      description:
        - V(ok), or V(<service>_unavailable) for the first service the page had to do without (for BookInfo,
          V(reviews_unavailable) or V(ratings_unavailable)), or V(mixed) when the branches differ.
      type: str
    stars:
      description:
        - BookInfo star colour, V(none) (reviews v1), V(black), V(red), V(null) when no stars are shown because a
          call failed, or V(mixed).
      type: str
    latency_s:
      description: Time until the user gets the page, worst case over the branches, in seconds.
      type: float
    mean_latency_s:
      description: Expected time until the user gets the page, in seconds.
      type: float
    deterministic:
      description: Whether there is a single branch.
      type: bool
    calls:
      description:
        - Trace of the single branch, one entry per attempt of each call (C(service), C(subset), C(version),
          C(fault), C(timeout_s), C(upstream_s), C(elapsed_s), C(result), C(status), nested C(calls)). V(null)
          when there are several branches; see RV(_value.distribution).
      type: list
      elements: dict
    explanation:
      description: The prediction in words, naming the faults and timeouts that decide it.
      type: str
    outcomes:
      description: Probability of each outcome.
      type: dict
    stars_distribution:
      description: Probability of each star colour; V(unavailable) stands for no stars because a call failed.
      type: dict
    distribution:
      description:
        - Every distinct outcome with its C(probability), C(outcome), C(stars), C(shows), C(latency_s),
          C(unavailable), C(calls) and C(explanation), likeliest first.
      type: list
      elements: dict
    warnings:
      description: Things that make the prediction differ from what the objects seem to say.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError


def predict_outcome(virtual_services, user=None, graph=None, entry=None, namespace="default"):
    # Imported when called, not when this file loads (why: module_utils/_mesh/scenario.py).
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.budget import predict

    try:
        return predict(virtual_services, user=user, graph=graph, entry=entry, namespace=namespace)
    except MeshError as err:
        raise AnsibleFilterError("predict_outcome: %s" % err)


class FilterModule:
    def filters(self):
        return {"predict_outcome": predict_outcome}
