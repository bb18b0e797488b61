#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: asm_kubeconfig
short_description: Get the kubeconfig of an ASM control plane
version_added: 0.1.0
description:
  - Fetches the kubeconfig of the control plane of an Alibaba Cloud Service Mesh (ASM) instance through the
    C(DescribeServiceMeshKubeconfig) API, and optionally writes it to a file with mode C(0600).
  - In ASM the Istio resources (VirtualService, DestinationRule, ...) live in the mesh's own control plane, not in the
    ACK clusters that run the workloads. Give this kubeconfig to the mesh modules of this collection, and the
    kubeconfig of a data-plane cluster (from M(ack.servicemesh.ack_kubeconfig)) to tasks that touch workloads.
  - The RAM identity needs the RAM action C(servicemesh:DescribeServiceMeshKubeconfig) on the mesh.
  - The token, client certificate and client key in the kubeconfig are registered as C(no_log) values, so Ansible
    masks them in every output and log, including this module's own return values.
author:
  - ack.servicemesh contributors (@ack-servicemesh)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ack.servicemesh.alibaba_auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The kubeconfig is fetched (a read) and compared with O(dest), which is left untouched.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The diff shows the SHA-256 fingerprint and the mode of O(dest) before and after, never the content.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details:
      - The module runs where the SDKs are installed, usually on the controller (with C(delegate_to=localhost)).
requirements:
  - alibabacloud-servicemesh20200111
options:
  service_mesh_id:
    description:
      - ID of the ASM instance, for example V(c08ba3fd1e6484b0f8cc1ad8fe10d****).
    type: str
    required: true
  private_ip_address:
    description:
      - Whether the kubeconfig should point at the control plane's internal (VPC) address instead of its public one.
    type: bool
    default: false
  dest:
    description:
      - Write the kubeconfig to this file, created with mode C(0600) (and missing directories with C(0700)).
      - The file is replaced atomically, and only when its content differs.
    type: path
  return_content:
    description:
      - Return the kubeconfig in RV(kubeconfig).
      - Its token, client certificate and client key are masked there (see the description), so the returned
        text shows the server, contexts and CA but cannot be used to log in; write the file with O(dest) for that.
    type: bool
    default: false
seealso:
  - module: ack.servicemesh.ack_kubeconfig
"""

EXAMPLES = r"""
- name: Kubeconfig of the mesh control plane, where the Istio resources go
  ack.servicemesh.asm_kubeconfig:
    service_mesh_id: c08ba3fd1e6484b0f8cc1ad8fe10d0000
    region: cn-hangzhou
    dest: "{{ playbook_dir }}/.kube/asm.yaml"

- name: Kubeconfig of the data-plane cluster, where the workloads run
  ack.servicemesh.ack_kubeconfig:
    cluster_id: c82e6987e2961451182edacd74faf0000
    region: cn-hangzhou
    dest: "{{ playbook_dir }}/.kube/ack.yaml"

- name: Istio resources are read from (and written to) the mesh control plane
  kubernetes.core.k8s_info:
    kubeconfig: "{{ playbook_dir }}/.kube/asm.yaml"
    api_version: networking.istio.io/v1
    kind: VirtualService
    namespace: bookinfo
"""

RETURN = r"""
service_mesh_id:
  description: The ID of the service mesh.
  returned: always
  type: str
  sample: c08ba3fd1e6484b0f8cc1ad8fe10d0000
dest:
  description: The path the kubeconfig was written to.
  returned: when O(dest) is set
  type: str
  sample: /home/ops/.kube/asm.yaml
fingerprint:
  description: SHA-256 of the kubeconfig, to tell whether it changed without showing it.
  returned: success
  type: str
  sample: sha256:0c5a4f2e1d9b8c7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0918
expiration:
  description: When the kubeconfig's credentials expire, as the API reports it (C(ExpireTime)).
  returned: when the API returns it
  type: str
  sample: "2027-06-01T08:00:00Z"
request_id:
  description: The ID of the API request, for Alibaba Cloud support.
  returned: when the API returns it
  type: str
  sample: 31E30781-9495-5E2D-A84D-759B0A01E262
kubeconfig:
  description:
    - The kubeconfig, with its token, client certificate and client key masked.
    - Treat it as sensitive all the same.
  returned: when O(return_content=true)
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.api import describe_service_mesh_kubeconfig
from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.auth import Settings, alibaba_argument_spec
from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.client import require_sdk
from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.kubeconfig import deliver
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError


def main():
    module = AnsibleModule(
        argument_spec=alibaba_argument_spec(
            service_mesh_id=dict(type="str", required=True),
            private_ip_address=dict(type="bool", default=False),
            dest=dict(type="path"),
            return_content=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    require_sdk(module, "servicemesh")
    params = module.params
    try:
        kubeconfig = describe_service_mesh_kubeconfig(
            Settings.from_options(params.get), params["service_mesh_id"],
            private_ip_address=params["private_ip_address"])
        result = deliver(module, kubeconfig, dest=params["dest"], return_content=params["return_content"])
    except MeshError as err:
        module.fail_json(service_mesh_id=params["service_mesh_id"], **err.fail_kwargs())
    module.exit_json(service_mesh_id=params["service_mesh_id"], **result)


if __name__ == "__main__":
    main()
