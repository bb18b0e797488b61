#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: traffic_shift
short_description: Set the weights across subsets of a service's default route
version_added: 0.1.0
description:
  - Sets the destinations of a service's default route (the trailing route of its VirtualService without match
    conditions) to the given subsets and weights, for canary releases and blue/green switches.
  - Creates the VirtualService, or the default route, when missing. Other routes, and the default route's other
    fields (timeout, retries), are kept.
  - 'Weights follow the Istio the cluster runs. When it serves C(networking.istio.io/v1) or C(v1beta1) (Istio 1.15
    and later) they are relative, integers of at least 0 with a sum above 0, such as V({v1: 101, v3: 20}); when
    it serves only C(v1alpha3) (an Istio before 1.15) they must sum to exactly 100, and anything else fails
    before a write, saying so. M(ack.servicemesh.http_route) and M(ack.servicemesh.virtual_service) apply the
    same rule.'
  - Every subset must be defined by a DestinationRule for the host unless O(check_subsets=false).
author:
  - ack.servicemesh contributors (@ack-servicemesh)
extends_documentation_fragment:
  - ack.servicemesh.auth
  - ack.servicemesh.attributes
  - ack.servicemesh.route_target
options:
  weights:
    description:
      - "Subset name to integer weight (at least 0), for example V({v1: 50, v3: 50})."
      - A single subset gets all traffic and is written without a weight, as Istio's samples do.
    type: dict
    required: true
  relative_weights:
    description:
      - Kept for playbooks written for earlier releases; the served Istio version decides whether weights may be
        relative. V(true) on a cluster that serves only C(v1alpha3) fails, since that Istio would refuse them.
    type: bool
    default: false
  port:
    description: Destination port number, when the service has several ports.
    type: int
"""

EXAMPLES = r"""
- name: Half of reviews traffic to v1, half to v3
  ack.servicemesh.traffic_shift:
    host: reviews
    weights:
      v1: 50
      v3: 50

- name: Finish the rollout
  ack.servicemesh.traffic_shift:
    host: reviews
    weights:
      v3: 100
"""

RETURN = r"""
action:
  description: What was done to the VirtualService.
  returned: always
  type: str
  sample: updated
  choices: [created, updated, unchanged]
api_version:
  description: The C(networking.istio.io) version used.
  returned: always
  type: str
  sample: v1
result:
  description: The VirtualService as the API server holds it afterwards (in check mode, as it would hold it).
  returned: always
  type: dict
"""

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module import MeshModule
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.routes import (
    converge_http, default_route_index, weighted_destinations)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import legacy_weights_for


def run(mesh):
    params = mesh.params
    # Whatever no Istio takes fails before any request; what only an older Istio refuses, once its version is known.
    destinations = weighted_destinations(params["host"], params["weights"], params["port"], relative=True)
    if legacy_weights_for(mesh.api_version):
        if params["relative_weights"]:
            raise MeshError("the cluster serves networking.istio.io only as v1alpha3, an Istio before 1.15, which "
                            "refuses relative weights", field="relative_weights", value=True)
        destinations = weighted_destinations(params["host"], params["weights"], params["port"], relative=False)

    def edit(http, obj):
        index = default_route_index(http)
        if index is None:
            http.append({"name": "default", "route": destinations})
        else:
            http[index] = dict(http[index], route=destinations)
        return http

    name = params["virtual_service"] or params["host"].split(".")[0]
    mesh.exit_outcome(converge_http(mesh, name, params["host"], edit, params["check_subsets"]))


def main():
    mesh = MeshModule(
        argument_spec=dict(
            host=dict(type="str", required=True),
            virtual_service=dict(type="str"),
            namespace=dict(type="str"),
            check_subsets=dict(type="bool", default=True),
            weights=dict(type="dict", required=True),
            relative_weights=dict(type="bool", default=False),
            port=dict(type="int"),
        ),
        supports_check_mode=True,
    )
    mesh.run(run)


if __name__ == "__main__":
    main()
