#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ack_kubeconfig
short_description: Get the kubeconfig of an ACK cluster
version_added: 0.1.0
description:
  - Fetches the kubeconfig that Container Service for Kubernetes (ACK) issues to the calling RAM identity for a
    cluster, through the C(DescribeClusterUserKubeconfig) API, and optionally writes it to a file with mode C(0600).
  - The RAM identity needs the RAM action C(cs:DescribeClusterUserKubeconfig) on the cluster. What the kubeconfig
    may do inside the cluster is decided by the RBAC permissions granted to that identity in the ACK console.
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
    support: partial
    details:
      - A kubeconfig with O(temporary_duration_minutes) carries a newly issued certificate each time, so O(dest)
        changes on every run.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details:
      - The module runs where the SDKs are installed, usually on the controller (with C(delegate_to=localhost)).
requirements:
  - alibabacloud-cs20151215
options:
  cluster_id:
    description:
      - ID of the ACK cluster, for example V(c82e6987e2961451182edacd74faf****).
    type: str
    required: true
  private_ip_address:
    description:
      - Whether the kubeconfig should point at the API server's internal (VPC) address instead of its public one.
      - Use V(true) when Ansible runs inside the cluster's VPC, or when the API server has no public address.
    type: bool
    default: false
  temporary_duration_minutes:
    description:
      - Issue a temporary kubeconfig that expires after this many minutes, between V(15) and V(4320) (three days).
      - By default the long-lived kubeconfig of the RAM identity is returned.
    type: int
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
  - module: ack.servicemesh.asm_kubeconfig
  - plugin: ack.servicemesh.ack_clusters
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Write the kubeconfig of a cluster for later tasks
  ack.servicemesh.ack_kubeconfig:
    cluster_id: c82e6987e2961451182edacd74faf0000
    region: cn-hangzhou
    dest: "{{ playbook_dir }}/.kube/ack-prod.yaml"

- name: A kubeconfig for the VPC address that expires in two hours
  ack.servicemesh.ack_kubeconfig:
    cluster_id: c82e6987e2961451182edacd74faf0000
    region: cn-hangzhou
    private_ip_address: true
    temporary_duration_minutes: 120
    dest: /tmp/ack-prod-2h.yaml
  register: kubeconfig

- name: Use it for the workloads
  kubernetes.core.k8s_info:
    kubeconfig: "{{ kubeconfig.dest }}"
    kind: Deployment
    namespace: bookinfo

- name: Through the VPC endpoint of the API, with an STS token from the environment
  ack.servicemesh.ack_kubeconfig:
    cluster_id: c82e6987e2961451182edacd74faf0000
    endpoint: cs-vpc.cn-hangzhou.aliyuncs.com
    dest: ~/.kube/ack-prod.yaml
"""

RETURN = r"""
cluster_id:
  description: The ID of the cluster.
  returned: always
  type: str
  sample: c82e6987e2961451182edacd74faf0000
dest:
  description: The path the kubeconfig was written to.
  returned: when O(dest) is set
  type: str
  sample: /home/ops/.kube/ack-prod.yaml
fingerprint:
  description: SHA-256 of the kubeconfig, to tell whether it changed without showing it.
  returned: success
  type: str
  sample: sha256:0c5a4f2e1d9b8c7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0918
expiration:
  description: When the kubeconfig's credentials expire, in UTC, as the API reports it.
  returned: when the API returns it
  type: str
  sample: "2026-06-01T08:00:00Z"
request_id:
  description: The ID of the API request, for Alibaba Cloud support.
  returned: when the API returns it
  type: str
  sample: 687C5BAA-D103-4993-884B-C35E4314A1E1
kubeconfig:
  description:
    - The kubeconfig, with its token, client certificate and client key masked.
    - Treat it as sensitive all the same.
  returned: when O(return_content=true)
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.api import describe_cluster_user_kubeconfig
from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.auth import Settings, alibaba_argument_spec
from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.client import require_sdk
from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.kubeconfig import deliver
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError


def main():
    module = AnsibleModule(
        argument_spec=alibaba_argument_spec(
            cluster_id=dict(type="str", required=True),
            private_ip_address=dict(type="bool", default=False),
            temporary_duration_minutes=dict(type="int"),
            dest=dict(type="path"),
            return_content=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    require_sdk(module, "cs")
    params = module.params
    try:
        kubeconfig = describe_cluster_user_kubeconfig(
            Settings.from_options(params.get), params["cluster_id"],
            private_ip_address=params["private_ip_address"],
            temporary_duration_minutes=params["temporary_duration_minutes"])
        result = deliver(module, kubeconfig, dest=params["dest"], return_content=params["return_content"])
    except MeshError as err:
        module.fail_json(cluster_id=params["cluster_id"], **err.fail_kwargs())
    module.exit_json(cluster_id=params["cluster_id"], **result)


if __name__ == "__main__":
    main()
