#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: virtual_service
short_description: Manage a whole Istio VirtualService
version_added: 0.1.0
description:
  - Creates, updates or deletes an Istio C(VirtualService) from its fields as written in Istio's YAML.
  - Use it for anything the route-level modules M(ack.servicemesh.http_route), M(ack.servicemesh.fault_injection)
    and M(ack.servicemesh.traffic_shift) do not cover. Unlike them it owns the whole O(http) list when given.
  - The whole change is validated before anything is written (Istio's own rules, which its webhook may not enforce
    and the API server does not); an error names the field and the value.
  - Weights follow the Istio the cluster runs, as in M(ack.servicemesh.traffic_shift) - relative when it serves
    C(v1) or C(v1beta1); each at most 100 and summing to exactly 100 when it serves only C(v1alpha3) (Istio before
    1.15).
  - Fault percentages written the Istio 0.8 way (C(percent)) are written as C(percentage), because current API
    servers silently drop C(abort.percent).
  - Before the collection first changes the spec of a VirtualService it did not create, the spec is saved in the
    annotation C(servicemesh.ack.io/previous-spec); O(restore=true) puts it back. Objects the collection creates
    carry the annotation C(servicemesh.ack.io/managed-by=ack.servicemesh) instead.
author:
  - ack.servicemesh contributors (@ack-servicemesh)
extends_documentation_fragment:
  - ack.servicemesh.auth
  - ack.servicemesh.attributes
options:
  name:
    description: Name of the VirtualService.
    type: str
    required: true
  namespace:
    description: Namespace of the VirtualService. Defaults to the kubeconfig context's namespace, else V(default).
    type: str
  state:
    description: Whether the VirtualService should exist.
    type: str
    choices: [present, absent]
    default: present
  hosts:
    description:
      - The hosts the rules apply to (Istio's C(hosts)).
      - Leave out for a delegate VirtualService, whose http routes another VirtualService hands over with
        C(delegate) (as Flagger and Argo Rollouts use); a delegate may have no gateways, tcp or tls routes.
    type: list
    elements: str
  gateways:
    description: Gateways the rules apply to; omitted means the mesh (all sidecars). Left alone when omitted.
    type: list
    elements: str
  http:
    description:
      - The HTTP routes, exactly as in Istio's YAML (camelCase keys such as C(fixedDelay), C(httpStatus)).
      - Replaces the current list when set; left alone when omitted.
    type: list
    elements: dict
  tcp:
    description: TCP routes as in Istio's YAML. Replaces the current list when set.
    type: list
    elements: dict
  tls:
    description: TLS routes as in Istio's YAML. Replaces the current list when set.
    type: list
    elements: dict
  export_to:
    description: Namespaces the VirtualService is visible to (Istio's C(exportTo)). Left alone when omitted.
    type: list
    elements: str
  labels:
    description: Labels to set on the object; other labels are kept.
    type: dict
  annotations:
    description: Annotations to set on the object; other annotations are kept.
    type: dict
  check_subsets:
    description:
      - Fail when a destination names a subset that no DestinationRule in the namespace defines for its host
        (traffic to it would get HTTP 503). Costs one extra read, and only when something is about to change.
    type: bool
    default: true
  restore:
    description:
      - Put back the spec saved in the annotation C(servicemesh.ack.io/previous-spec) before the collection first
        changed this VirtualService, and remove the annotation.
      - When nothing is saved (the collection created the object, never changed it, or it was restored already)
        nothing changes and a warning says so. Fails when the VirtualService does not exist.
      - Cannot be combined with the spec options (O(hosts), O(gateways), O(http), O(tcp), O(tls), O(export_to)).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Route all reviews traffic to v1
  ack.servicemesh.virtual_service:
    name: reviews
    hosts: [reviews]
    http:
      - route:
          - destination: {host: reviews, subset: v1}

- name: Undo every change the collection made to a VirtualService it did not create
  ack.servicemesh.virtual_service:
    name: reviews
    restore: true

- name: Remove it
  ack.servicemesh.virtual_service:
    name: reviews
    state: absent
"""

RETURN = r"""
action:
  description: What was done.
  returned: always
  type: str
  sample: updated
  choices: [created, updated, deleted, unchanged]
api_version:
  description: The C(networking.istio.io) version used.
  returned: always
  type: str
  sample: v1
result:
  description: The object as the API server holds it after the change (in check mode, as it would hold it),
    without server bookkeeping. Empty when absent.
  returned: always
  type: dict
restored:
  description: Whether a saved spec was put back (only with O(restore=true)).
  returned: when O(restore=true)
  type: bool
  sample: true
"""

import copy
import json

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import same
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.converge import (
    PREVIOUS_SPEC, annotations_of, converge)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, task_warnings
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module import MeshModule
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.spec import (
    merge_metadata, new_object, translate_legacy_fault)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import (
    legacy_weights_for, validate_virtual_service)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.subsets import SubsetCheck

KIND = "VirtualService"
FIELDS = (("hosts", "hosts"), ("gateways", "gateways"), ("http", "http"), ("tcp", "tcp"), ("tls", "tls"),
          ("export_to", "exportTo"))


def given_spec(params, warn):
    spec = {}
    for option, field in FIELDS:
        if params[option] is not None:
            spec[field] = params[option]
    if "http" in spec:
        spec["http"] = translate_legacy_fault(spec["http"], warn)
    return spec


def restored(live, describe, name):
    """The live object with its saved spec put back, or None when nothing is saved."""
    if live is None:
        raise MeshError("%s does not exist: there is nothing to restore" % describe, field="name", value=name)
    saved = annotations_of(live).get(PREVIOUS_SPEC)
    if saved is None:
        return None
    try:
        spec = json.loads(saved)
    except ValueError:
        spec = None
    if not isinstance(spec, dict):
        raise MeshError("%s: the annotation %s does not hold a saved spec (JSON object); fix or remove it"
                        % (describe, PREVIOUS_SPEC), field="restore", value=True)
    live["spec"] = spec
    del live["metadata"]["annotations"][PREVIOUS_SPEC]
    return live


def run_restore(mesh):
    params = mesh.params
    resources = mesh.resources(KIND)
    namespace = mesh.namespace()
    describe = resources.describe(namespace, params["name"])
    found = []

    def change(live):
        obj = restored(live, describe, params["name"])
        found.append(obj is not None)
        return merge_metadata(obj or live, params["labels"], params["annotations"])

    outcome = converge(resources, namespace, params["name"], change, check_mode=mesh.check_mode)
    if not found[-1]:
        mesh.module.warn("%s has no saved spec (%s): nothing to restore" % (describe, PREVIOUS_SPEC))
    mesh.exit_outcome(outcome, restored=found[-1])


def run(mesh):
    params = mesh.params
    if params["restore"]:
        if params["state"] != "present":
            raise MeshError("restore puts a saved spec back; it cannot be combined with state=absent",
                            field="state", value=params["state"])
        return run_restore(mesh)
    present = params["state"] == "present"
    given = given_spec(params, mesh.module.warn) if present else None
    if present:
        # Validate what the user gave before any request, so a typo costs nothing; the placeholders stand for
        # the fields left alone (a task may change only labels or annotations).
        placeholders = {"hosts": ["placeholder"]}
        if not any(field in given for field in ("http", "tcp", "tls")):
            placeholders["http"] = [{"route": [{"destination": {"host": "placeholder"}}]}]
        validate_virtual_service(dict(placeholders, **given), path="spec").raise_if_any()
    resources = mesh.resources(KIND)
    if present and legacy_weights_for(resources.version):
        # Relative weights are fine for every Istio but one before 1.15, known once discovery has run.
        validate_virtual_service(dict(placeholders, **given), path="spec", legacy_weights=True).raise_if_any()
    namespace = mesh.namespace()
    subsets = SubsetCheck(mesh, namespace) if params["check_subsets"] else None
    warnings = task_warnings(mesh)

    def change(live):
        if not present:
            return None
        obj = live or new_object(resources.api_version, KIND, params["name"], namespace)
        obj.setdefault("spec", {}).update(given)
        problems = validate_virtual_service(obj["spec"], path="spec", namespace=namespace)
        problems.raise_if_any()
        warnings.add(problems)
        return merge_metadata(obj, params["labels"], params["annotations"])

    def checked_change(live):
        wanted = change(copy.deepcopy(live))
        if subsets is not None and wanted is not None and not same(live, wanted):
            subsets.check(wanted["spec"])
        return wanted

    mesh.exit_outcome(converge(resources, namespace, params["name"], checked_change, check_mode=mesh.check_mode))


def main():
    mesh = MeshModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            namespace=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            hosts=dict(type="list", elements="str"),
            gateways=dict(type="list", elements="str"),
            http=dict(type="list", elements="dict"),
            tcp=dict(type="list", elements="dict"),
            tls=dict(type="list", elements="dict"),
            export_to=dict(type="list", elements="str"),
            labels=dict(type="dict"),
            annotations=dict(type="dict"),
            check_subsets=dict(type="bool", default=True),
            restore=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("restore", option) for option in ("hosts", "gateways", "http", "tcp", "tls", "export_to")],
        supports_check_mode=True,
    )
    mesh.run(run)


if __name__ == "__main__":
    main()
