# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: ack_clusters
short_description: ACK clusters of a region as inventory hosts
version_added: 0.1.0
description:
  - Lists the Container Service for Kubernetes (ACK) clusters of a region through the C(DescribeClustersV1) API,
    every page of it, and makes one host per cluster.
  - Filters by tags and by name narrow the list; C(keyed_groups), C(groups) and C(compose) build groups and variables.
  - Each host gets the variables C(cluster_id), C(cluster_name), C(region), C(state), C(cluster_type),
    C(cluster_spec), C(kubernetes_version) and C(cluster_tags) (a tag name to value mapping; C(tags) is a reserved
    name in Ansible).
  - The RAM identity needs the RAM action C(cs:DescribeClustersV1).
  - The inventory file name must end with C(ack_clusters.yml) or C(ack_clusters.yaml).
author:
  - ack.servicemesh contributors (@ack-servicemesh)
extends_documentation_fragment:
  - constructed
  - ack.servicemesh.alibaba_auth.inventory
options:
  plugin:
    description: The name of this plugin. It makes the file an inventory source of this plugin.
    type: str
    required: true
    choices: [ack.servicemesh.ack_clusters]
  cluster_type:
    description:
      - List only clusters of this type, as the API names it, for example V(ManagedKubernetes) (ACK managed
        clusters), V(Kubernetes) (ACK dedicated clusters) or V(ExternalKubernetes) (registered clusters).
    type: str
  tags:
    description:
      - Keep only clusters that carry every one of these tags with the given value.
    type: dict
    default: {}
  name:
    description:
      - Keep only the cluster with exactly this name.
    type: str
  name_regex:
    description:
      - Keep only clusters whose name matches this Python regular expression (searched, not anchored).
    type: str
  states:
    description:
      - Keep only clusters in one of these states, for example V(running). By default every state is kept.
    type: list
    elements: str
    default: []
  hostname:
    description:
      - What names a host. With V(name), a cluster whose name another cluster already took is named by its ID.
    type: str
    choices: [name, cluster_id]
    default: name
  page_size:
    description:
      - Clusters asked for per page of C(DescribeClustersV1), at most V(100).
    type: int
    default: 100
"""

EXAMPLES = r"""
# prod.ack_clusters.yml: the running production clusters of cn-hangzhou, grouped by team tag and version.
plugin: ack.servicemesh.ack_clusters
region: cn-hangzhou
tags:
  env: prod
states: [running]
keyed_groups:
  - key: cluster_tags.team | default('none')
    prefix: team
  - key: kubernetes_version.split('-')[0]
    prefix: k8s
compose:
  # Tasks run on the controller and reach each cluster through its API.
  ansible_connection: "'local'"
  kubeconfig_path: "'~/.kube/' ~ cluster_id ~ '.yaml'"

# Another file, mesh.ack_clusters.yml: clusters named like 'mesh-dp-*', named by ID, credentials from the
# environment:
#   plugin: ack.servicemesh.ack_clusters
#   region: cn-shanghai
#   name_regex: '^mesh-dp-'
#   hostname: cluster_id
"""

import re

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.utils.display import Display

from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.api import MAX_PAGE_SIZE, describe_clusters
from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.auth import Settings
from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.client import missing_sdk
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

display = Display()


def tag_map(cluster):
    """DescribeClustersV1 gives tags as [{key, value}]; a mapping is what filters and keyed_groups want."""
    return dict((t.get("key"), t.get("value") or "") for t in cluster.get("tags") or [] if t and t.get("key"))


def cluster_matches(cluster, tags=None, name=None, name_regex=None, states=None):
    if name is not None and cluster.get("name") != name:
        return False
    if name_regex is not None and not name_regex.search(cluster.get("name") or ""):
        return False
    if states and cluster.get("state") not in states:
        return False
    have = tag_map(cluster)
    return all(k in have and have[k] == str(v) for k, v in (tags or {}).items())


def host_vars(cluster, region):
    return dict(
        cluster_id=cluster.get("cluster_id"),
        cluster_name=cluster.get("name"),
        region=cluster.get("region_id") or region,
        state=cluster.get("state"),
        cluster_type=cluster.get("cluster_type"),
        cluster_spec=cluster.get("cluster_spec"),
        kubernetes_version=cluster.get("current_version"),
        cluster_tags=tag_map(cluster),
    )


class InventoryModule(BaseInventoryPlugin, Constructable):

    NAME = "ack.servicemesh.ack_clusters"

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(
            ("ack_clusters.yml", "ack_clusters.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        missing = missing_sdk("cs")
        if missing:
            raise AnsibleError("the %s inventory plugin needs the Python package %s" % (self.NAME, missing[0]))
        try:
            filters = self._filters()
            settings = Settings.from_options(self.get_option)
            clusters = describe_clusters(settings, name=self.get_option("name"),
                                         cluster_type=self.get_option("cluster_type"), page_size=self._page_size())
        except MeshError as err:
            raise AnsibleError("%s: %s" % (path, err))
        for cluster in clusters:
            if cluster_matches(cluster, **filters):
                self._add_cluster(cluster, settings.region)

    def _page_size(self):
        page_size = self.get_option("page_size")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise MeshError("must be between 1 and %d" % MAX_PAGE_SIZE, field="page_size", value=page_size)
        return page_size

    def _filters(self):
        pattern = self.get_option("name_regex")
        try:
            name_regex = re.compile(pattern) if pattern is not None else None
        except re.error as exc:
            raise MeshError("is not a valid regular expression: %s" % exc, field="name_regex", value=pattern)
        return dict(tags=self.get_option("tags"), name=self.get_option("name"), name_regex=name_regex,
                    states=self.get_option("states"))

    def _add_cluster(self, cluster, region):
        variables = host_vars(cluster, region)
        host = variables["cluster_id"]
        if self.get_option("hostname") == "name" and variables["cluster_name"]:
            if variables["cluster_name"] in self.inventory.hosts:
                display.warning("ACK cluster name %r is used more than once; naming cluster %s by its ID"
                                % (variables["cluster_name"], host))
            else:
                host = variables["cluster_name"]
        self.inventory.add_host(host)
        for key, value in variables.items():
            self.inventory.set_variable(host, key, value)
        strict = self.get_option("strict")
        self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)
