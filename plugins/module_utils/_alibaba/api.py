# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""The ACK and ASM OpenAPI calls the collection makes, each retried and with errors translated."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from functools import partial

from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba import client as sdk
from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.errors import Call
from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.retry import Retrier
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

TEMPORARY_DURATION_RANGE = (15, 4320)  # minutes, as DescribeClusterUserKubeconfig accepts them
MAX_PAGE_SIZE = 100
_MAX_PAGES = 1000  # a guard against an endpoint whose paging never ends


class Kubeconfig:
    """A kubeconfig as an API returned it."""

    def __init__(self, content, expiration=None, request_id=None):
        self.content = content
        self.expiration = expiration
        self.request_id = request_id


def validate_temporary_duration(minutes):
    if minutes is None:
        return None
    low, high = TEMPORARY_DURATION_RANGE
    if not low <= minutes <= high:
        raise MeshError("must be between %d and %d minutes" % (low, high),
                        field="temporary_duration_minutes", value=minutes)
    return minutes


def _request_id(response):
    headers = getattr(response, "headers", None) or {}
    return headers.get("x-acs-request-id")


def _require_content(content, call):
    if not content:
        raise MeshError("%s returned no kubeconfig" % call, api=call.api)
    return content


def describe_cluster_user_kubeconfig(settings, cluster_id, private_ip_address=False,
                                     temporary_duration_minutes=None, retrier=None):
    """GET /k8s/{ClusterId}/user_config: the calling RAM identity's kubeconfig for an ACK cluster."""
    validate_temporary_duration(temporary_duration_minutes)
    client = sdk.cs_client(settings.validate())
    call = Call("DescribeClusterUserKubeconfig", "cluster %r" % cluster_id, client.endpoint)
    request = client.models.DescribeClusterUserKubeconfigRequest(
        private_ip_address=private_ip_address, temporary_duration_minutes=temporary_duration_minutes)
    response = (retrier or Retrier()).call(partial(
        client.sdk.describe_cluster_user_kubeconfig_with_options, cluster_id, request, {}, client.runtime()), call)
    body = response.body
    return Kubeconfig(_require_content(body.config, call), body.expiration, _request_id(response))


def describe_service_mesh_kubeconfig(settings, service_mesh_id, private_ip_address=False, retrier=None):
    """DescribeServiceMeshKubeconfig (RPC): the kubeconfig of an ASM instance's control plane."""
    client = sdk.asm_client(settings.validate())
    call = Call("DescribeServiceMeshKubeconfig", "service mesh %r" % service_mesh_id, client.endpoint)
    request = client.models.DescribeServiceMeshKubeconfigRequest(
        service_mesh_id=service_mesh_id, private_ip_address=private_ip_address)
    response = (retrier or Retrier()).call(partial(
        client.sdk.describe_service_mesh_kubeconfig_with_options, request, client.runtime()), call)
    body = response.body
    return Kubeconfig(_require_content(body.kubeconfig, call), body.expire_time,
                      body.request_id or _request_id(response))


def describe_clusters(settings, region=None, name=None, cluster_type=None, page_size=MAX_PAGE_SIZE, retrier=None):
    """GET /api/v1/clusters, every page: the ACK clusters of a region as plain dicts."""
    client = sdk.cs_client(settings.validate())
    region = region or settings.region
    call = Call("DescribeClustersV1", "region %r" % region if region else "all regions", client.endpoint)
    retrier = retrier or Retrier()
    clusters = []
    for number in range(1, _MAX_PAGES + 1):
        request = client.models.DescribeClustersV1Request(
            region_id=region, name=name, cluster_type=cluster_type, page_size=page_size, page_number=number)
        body = retrier.call(partial(
            client.sdk.describe_clusters_v1with_options, request, {}, client.runtime()), call).body
        page = [c.to_map() for c in (body.clusters or []) if c is not None]
        clusters.extend(page)
        total = body.page_info.total_count if body.page_info else None
        if not page or (len(clusters) >= total if total is not None else len(page) < page_size):
            return clusters
    raise MeshError("%s: paging did not end after %d pages" % (call, _MAX_PAGES), api=call.api)
