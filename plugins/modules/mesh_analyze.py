#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mesh_analyze
short_description: Find routing mistakes in a namespace's VirtualServices and DestinationRules before traffic does
version_added: 0.1.0
description:
  - Reads the VirtualServices and DestinationRules of a namespace (one list request each), optionally applies a
    proposed change on top of them, and reports what would go wrong, in the spirit of C(istioctl analyze).
  - "Findings: a destination subset that no DestinationRule defines, or a subset for a host with no DestinationRule
    at all (C(IST0101), error: that traffic gets 503); two VirtualServices for one host (C(IST0109), error);
    routes after a catch-all route (C(IST0130), warning) and match blocks that can never be hit (C(IST0131),
    warning); weights that do not sum to 100 (C(ACK1001), warning, an error with O(legacy_weights));
    the deprecated C(fault.delay.percent) (C(ACK1002), warning) and the removed C(fault.abort.percent)
    (C(ACK1003), error); several destinations without weights (C(ACK1004), error); a fault without percentage
    (C(ACK1005), warning); a fault on a route without match (C(ACK1006), info)."
  - Fails when a finding is at or above O(fail_on); warnings below it are shown as Ansible warnings.
author:
  - ack.servicemesh contributors (@ack-servicemesh)
extends_documentation_fragment:
  - ack.servicemesh.auth
  - ack.servicemesh.attributes.info_module
options:
  namespace:
    description: Namespace to analyze. Defaults to the kubeconfig context's namespace, else V(default).
    type: str
  proposed:
    description:
      - Objects to analyze as if they were applied, for example the output of P(ack.servicemesh.scenario_objects#filter)
        or the documents of a YAML file. An object replaces the listed one of the same kind, namespace and name
        (keeping its C(creationTimestamp), as an update does) and is added otherwise.
      - Each needs C(kind) and C(metadata.name); objects without C(metadata.namespace) are in O(namespace).
        Objects of kinds other than C(VirtualService) and C(DestinationRule) are ignored.
    type: list
    elements: dict
  fail_on:
    description:
      - Fail when a finding has this severity or a higher one. V(never) only reports.
    type: str
    choices: [error, warning, never]
    default: error
  legacy_weights:
    description:
      - Check weights as Istio before 1.15 does, where weights that do not sum to 100 are rejected (C(ACK1001) is then
        an error).
    type: bool
    default: false
notes:
  - Only the objects of O(namespace), plus the proposed ones, are considered; DestinationRules exported from other
    namespaces (such as the mesh root namespace) are not read.
  - Only HTTP routes are checked for reachability; subsets and weights are checked for C(http), C(tcp) and C(tls)
    routes.
  - The codes are explained in the collection's C(docs/analysis.md).
seealso:
  - module: ack.servicemesh.route_simulate
  - plugin: ack.servicemesh.scenario_objects
    plugin_type: filter
  - name: istioctl analyze message reference
    description: The meaning of Istio's IST codes.
    link: https://istio.io/latest/docs/reference/config/analysis/
"""

EXAMPLES = r"""
- name: Analyze the objects in the cluster, failing on errors
  ack.servicemesh.mesh_analyze:
    namespace: bookinfo

- name: Would this change break anything?
  ack.servicemesh.mesh_analyze:
    namespace: bookinfo
    proposed: "{{ lookup('ansible.builtin.file', 'virtual-service-reviews-v3.yaml') | from_yaml_all }}"
    fail_on: warning

- name: Only report
  ack.servicemesh.mesh_analyze:
    fail_on: never
  register: analysis

- name: Show each finding
  ansible.builtin.debug:
    msg: "{{ item.code }} {{ item.object }} {{ item.field }}: {{ item.message }}"
  loop: "{{ analysis.findings }}"
"""

RETURN = r"""
findings:
  description: What is wrong, errors first; on failure too.
  returned: always
  type: list
  elements: dict
  contains:
    code:
      description: C(IST) codes as C(istioctl analyze) uses them, C(ACK) codes of this collection.
      type: str
      sample: IST0101
    severity:
      description: How bad it is.
      type: str
      choices: [error, warning, info]
    object:
      description: The object, as C(Kind/namespace/name).
      type: str
      sample: VirtualService/bookinfo/reviews
    field:
      description: Path of the field in the object.
      type: str
      sample: spec.http[0].route[0].destination.subset
    message:
      description: What happens because of it.
      type: str
counts:
  description: Number of findings per severity; on failure too.
  returned: always
  type: dict
  sample: {"error": 1, "warning": 0, "info": 0}
objects:
  description: Number of objects analyzed per kind, proposed ones included.
  returned: success
  type: dict
  sample: {"VirtualService": 4, "DestinationRule": 4}
api_version:
  description: The C(networking.istio.io) version read.
  returned: success
  type: str
  sample: v1
"""

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.analyze import analyze, apply_proposed
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module import MeshModule

KINDS = ("VirtualService", "DestinationRule")
SEVERITIES = ("error", "warning", "info")


def listed(mesh, namespace):
    """The namespace's objects of both kinds, one LIST request each."""
    objects = []
    for kind in KINDS:
        for obj in mesh.resources(kind).list(namespace):
            obj.setdefault("kind", kind)
            objects.append(obj)
    return objects


def check_kinds(proposed):
    """An object without kind would count as both kinds; the others are passed through and ignored by analyze."""
    for index, obj in enumerate(proposed or []):
        if not obj.get("kind"):
            raise MeshError("is required, for example VirtualService or DestinationRule",
                            field="proposed[%d].kind" % index, value=obj.get("kind"))
    return proposed


def describe(finding):
    return "%s %s %s %s: %s" % (finding["code"], finding["severity"], finding["object"], finding["field"],
                                finding["message"])


def run(mesh):
    params = mesh.params
    namespace = mesh.namespace()
    objects = apply_proposed(listed(mesh, namespace), check_kinds(params["proposed"]), namespace)
    findings = analyze(objects, objects, namespace, params["legacy_weights"])
    findings.sort(key=lambda f: SEVERITIES.index(f["severity"]))
    counts = dict((severity, sum(1 for f in findings if f["severity"] == severity)) for severity in SEVERITIES)
    limit = SEVERITIES.index(params["fail_on"]) if params["fail_on"] != "never" else -1
    failing = [f for f in findings if SEVERITIES.index(f["severity"]) <= limit]
    if failing:
        raise MeshError("%d finding(s) of severity %s or worse in namespace %s: %s"
                        % (len(failing), params["fail_on"], namespace, "; ".join(describe(f) for f in failing)),
                        findings=findings, counts=counts)
    for finding in findings:
        if finding["severity"] == "warning":
            mesh.module.warn(describe(finding))
    mesh.module.exit_json(changed=False, findings=findings, counts=counts, api_version=mesh.api_version,
                          objects=dict((kind, sum(1 for o in objects if o.get("kind") == kind)) for kind in KINDS))


def main():
    mesh = MeshModule(
        argument_spec=dict(
            namespace=dict(type="str"),
            proposed=dict(type="list", elements="dict"),
            fail_on=dict(type="str", choices=["error", "warning", "never"], default="error"),
            legacy_weights=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    mesh.run(run)


if __name__ == "__main__":
    main()
