# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file.
      - When neither O(kubeconfig) nor O(server) is set, the first path in E(KUBECONFIG), then C(~/.kube/config),
        then the in-cluster service account are used.
      - Can be set with the environment variable E(K8S_AUTH_KUBECONFIG).
    type: path
  context:
    description:
      - The kubeconfig context to use; the kubeconfig's current context by default.
      - Can be set with E(K8S_AUTH_CONTEXT).
    type: str
  server:
    description:
      - URL of the Kubernetes API server, for example V(https://127.0.0.1:6443). Overrides the kubeconfig's server.
      - Can be set with E(K8S_AUTH_HOST) (AWX's Kubernetes credential type sets it). The option is not called
        C(host) as in kubernetes.core because C(host) is Istio's name for the service a rule applies to.
    type: str
  api_key:
    description:
      - A bearer token for the API server. Overrides the kubeconfig's credentials.
      - Can be set with E(K8S_AUTH_API_KEY).
    type: str
  ca_cert:
    description:
      - Path to the CA certificate that signed the API server's certificate.
      - Can be set with E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate for TLS client authentication.
      - Can be set with E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of O(client_cert).
      - Can be set with E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate. Leave it on outside throwaway test clusters.
      - Can be set with E(K8S_AUTH_VERIFY_SSL).
    type: bool
    default: true
    aliases: [verify_ssl]
  request_timeout:
    description:
      - Seconds to wait for one API request before it counts as failed (and is retried).
    type: int
    default: 30
  api_version:
    description:
      - Version of the C(networking.istio.io) API to use.
      - By default the newest version the cluster serves, preferring V(v1), then V(v1beta1), then V(v1alpha3).
      - When set, the module fails unless the cluster serves this version.
    type: str
    choices: [v1, v1beta1, v1alpha3]
notes:
  - Requests that fail with HTTP 429, 5xx or a connection error are retried with capped, jittered exponential
    backoff that honours C(Retry-After).
"""
