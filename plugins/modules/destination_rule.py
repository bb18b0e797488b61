#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: destination_rule
short_description: Manage an Istio DestinationRule
version_added: 0.1.0
description:
  - Creates, updates or deletes an Istio C(DestinationRule), that is the subsets of a service (for example C(v1), C(v2),
    C(v3) by the C(version) label) that routes can send traffic to, and an optional traffic policy.
  - The whole change is validated before anything is written; an error names the field and the value.
  - Spec fields the module has no option for, and labels or annotations set by others, are kept.
author:
  - ack.servicemesh contributors (@ack-servicemesh)
extends_documentation_fragment:
  - ack.servicemesh.auth
  - ack.servicemesh.attributes
options:
  name:
    description: Name of the DestinationRule.
    type: str
    required: true
  namespace:
    description: Namespace of the DestinationRule. Defaults to the kubeconfig context's namespace, else V(default).
    type: str
  state:
    description: Whether the DestinationRule should exist.
    type: str
    choices: [present, absent]
    default: present
  host:
    description:
      - The service the rule applies to, as a short name (V(reviews)) or a fully qualified name. Required when
        O(state=present).
    type: str
  subsets:
    description:
      - "The subsets, either as a mapping of subset name to labels, such as V({v1: {version: v1}}), or as a list of
        mappings with C(name), C(labels) and optionally C(traffic_policy) (Istio's C(trafficPolicy), as in Istio's
        YAML)."
      - Subset names must be DNS-1123 labels and unique. Replaces the current subsets when set; left alone when
        omitted.
    type: raw
  traffic_policy:
    description: Istio's C(trafficPolicy) for the whole host, as in Istio's YAML. Left alone when omitted.
    type: dict
  export_to:
    description: Namespaces the rule is visible to (Istio's C(exportTo)). Left alone when omitted.
    type: list
    elements: str
  labels:
    description: Labels to set on the object; other labels are kept.
    type: dict
  annotations:
    description: Annotations to set on the object; other annotations are kept.
    type: dict
"""

EXAMPLES = r"""
- name: Define the reviews subsets of BookInfo
  ack.servicemesh.destination_rule:
    name: reviews
    namespace: default
    host: reviews
    subsets:
      v1: {version: v1}
      v2: {version: v2}
      v3: {version: v3}

- name: A subset with its own traffic policy
  ack.servicemesh.destination_rule:
    name: ratings
    host: ratings
    subsets:
      - name: v1
        labels: {version: v1}
        traffic_policy:
          connectionPool:
            tcp: {maxConnections: 100}

- name: Remove it
  ack.servicemesh.destination_rule:
    name: ratings
    state: absent
"""

RETURN = r"""
action:
  description: What was done.
  returned: always
  type: str
  sample: created
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
  sample: {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
           "metadata": {"name": "reviews", "namespace": "default"},
           "spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}}
"""

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.converge import converge
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import Problems, TaskWarnings
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module import MeshModule
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.spec import (
    merge_metadata, new_object, subsets_from_param)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import validate_destination_rule

KIND = "DestinationRule"


def wanted_spec(params, namespace=None, warn=None):
    """The spec fields this task sets, validated as a whole before anything is read or written.

    What Istio accepts but warns about goes to ``warn`` (the task's warnings).
    """
    problems = Problems()
    spec = {"host": params["host"]}
    if params["host"] is None or not str(params["host"]).strip():
        problems.add("host", "must be a non-empty host name", params["host"])
    subsets, problems = subsets_from_param(params["subsets"], problems=problems)
    if subsets is not None:
        spec["subsets"] = subsets
    if params["traffic_policy"] is not None:
        spec["trafficPolicy"] = params["traffic_policy"]
    if params["export_to"] is not None:
        spec["exportTo"] = params["export_to"]
    validate_destination_rule(spec, path="spec", problems=problems, namespace=namespace)
    problems.raise_if_any()
    if warn:
        TaskWarnings(warn).add(problems)
    return spec


def run(mesh):
    params = mesh.params
    namespace = mesh.namespace()
    spec = wanted_spec(params, namespace, mesh.module.warn) if params["state"] == "present" else None
    resources = mesh.resources(KIND)

    def change(live):
        if spec is None:
            return None
        obj = live or new_object(resources.api_version, KIND, params["name"], namespace)
        obj.setdefault("spec", {}).update(spec)
        return merge_metadata(obj, params["labels"], params["annotations"])

    mesh.exit_outcome(converge(resources, namespace, params["name"], change, check_mode=mesh.check_mode))


def main():
    mesh = MeshModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            namespace=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            host=dict(type="str"),
            subsets=dict(type="raw"),
            traffic_policy=dict(type="dict"),
            export_to=dict(type="list", elements="str"),
            labels=dict(type="dict"),
            annotations=dict(type="dict"),
        ),
        required_if=[("state", "present", ["host"])],
        supports_check_mode=True,
    )
    mesh.run(run)


if __name__ == "__main__":
    main()
