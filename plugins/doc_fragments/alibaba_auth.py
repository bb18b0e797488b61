# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Modules read the environment variables through the argument spec's fallbacks.
    DOCUMENTATION = r"""
options:
  access_key_id:
    description:
      - AccessKey ID of a RAM user, or of an STS token's temporary key pair.
      - Can be set with the environment variable E(ALIBABA_CLOUD_ACCESS_KEY_ID).
      - When neither this nor E(ALIBABA_CLOUD_ACCESS_KEY_ID) is set, the default credentials chain of the
        C(alibabacloud-credentials) SDK is used, in this order, the RRSA (OIDC) variables E(ALIBABA_CLOUD_ROLE_ARN),
        E(ALIBABA_CLOUD_OIDC_PROVIDER_ARN) and E(ALIBABA_CLOUD_OIDC_TOKEN_FILE), the Alibaba Cloud CLI profile in
        C(~/.aliyun/config.json), the profile file in E(ALIBABA_CLOUD_CREDENTIALS_FILE) or
        C(~/.alibabacloud/credentials.ini), then the RAM role of the ECS instance.
    type: str
  access_key_secret:
    description:
      - AccessKey secret that goes with O(access_key_id).
      - Can be set with the environment variable E(ALIBABA_CLOUD_ACCESS_KEY_SECRET).
    type: str
  security_token:
    description:
      - STS security token, when O(access_key_id) and O(access_key_secret) are a temporary key pair.
      - Can be set with the environment variable E(ALIBABA_CLOUD_SECURITY_TOKEN).
    type: str
  region:
    description:
      - The region ID, for example V(cn-hangzhou). The SDK derives the API endpoint from it.
      - Required unless O(endpoint) is set.
      - Can be set with the environment variable E(ALIBABA_CLOUD_REGION_ID).
    type: str
  endpoint:
    description:
      - Host name (and optional port) of the API endpoint, for example V(cs.cn-hangzhou.aliyuncs.com) or the VPC
        endpoint V(cs-vpc.cn-hangzhou.aliyuncs.com). Give no scheme, O(protocol) sets it.
      - By default the SDK derives it from O(region).
    type: str
  protocol:
    description:
      - The scheme used to reach O(endpoint). V(http) is meant for a local test endpoint only.
    type: str
    choices: [https, http]
    default: https
  validate_certs:
    description:
      - Whether to verify the endpoint's TLS certificate. Leave it on outside test endpoints.
    type: bool
    default: true
requirements:
  - alibabacloud-credentials
notes:
  - Throttled requests (C(Throttling*) error codes or HTTP 429), HTTP 5xx answers and connection failures are
    retried up to three times with capped, jittered exponential backoff that honours the API's retry-after hint.
  - Errors name the API, the cluster or mesh ID, the error code and the request ID, which Alibaba Cloud support
    asks for.
"""

    # Inventory plugins read the same variables through their option configuration.
    INVENTORY = r"""
options:
  access_key_id:
    description:
      - AccessKey ID of a RAM user, or of an STS token's temporary key pair.
      - When unset, the default credentials chain of the C(alibabacloud-credentials) SDK is used, in this order,
        the RRSA (OIDC) variables E(ALIBABA_CLOUD_ROLE_ARN), E(ALIBABA_CLOUD_OIDC_PROVIDER_ARN) and
        E(ALIBABA_CLOUD_OIDC_TOKEN_FILE), the Alibaba Cloud CLI profile in C(~/.aliyun/config.json), the profile
        file in E(ALIBABA_CLOUD_CREDENTIALS_FILE) or C(~/.alibabacloud/credentials.ini), then the RAM role of the ECS
        instance.
    type: str
    env:
      - name: ALIBABA_CLOUD_ACCESS_KEY_ID
  access_key_secret:
    description:
      - AccessKey secret that goes with O(access_key_id).
    type: str
    env:
      - name: ALIBABA_CLOUD_ACCESS_KEY_SECRET
  security_token:
    description:
      - STS security token, when O(access_key_id) and O(access_key_secret) are a temporary key pair.
    type: str
    env:
      - name: ALIBABA_CLOUD_SECURITY_TOKEN
  region:
    description:
      - The region ID, for example V(cn-hangzhou). The SDK derives the API endpoint from it.
      - Required unless O(endpoint) is set.
    type: str
    env:
      - name: ALIBABA_CLOUD_REGION_ID
  endpoint:
    description:
      - Host name (and optional port) of the API endpoint, for example V(cs.cn-hangzhou.aliyuncs.com) or the VPC
        endpoint V(cs-vpc.cn-hangzhou.aliyuncs.com). Give no scheme, O(protocol) sets it.
      - By default the SDK derives it from O(region).
    type: str
  protocol:
    description:
      - The scheme used to reach O(endpoint). V(http) is meant for a local test endpoint only.
    type: str
    choices: [https, http]
    default: https
  validate_certs:
    description:
      - Whether to verify the endpoint's TLS certificate. Leave it on outside test endpoints.
    type: bool
    default: true
requirements:
  - alibabacloud-credentials
  - alibabacloud-cs20151215
notes:
  - Throttled requests (C(Throttling*) error codes or HTTP 429), HTTP 5xx answers and connection failures are
    retried up to three times with capped, jittered exponential backoff that honours the API's retry-after hint.
"""
