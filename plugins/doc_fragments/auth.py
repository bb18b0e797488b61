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
      - Path to a kubeconfig file, a list of files separated by V(:) as in E(KUBECONFIG), or the kubeconfig's
        content as a dictionary.
      - Files of a list are merged as kubectl merges them (the first file that defines a cluster, user, context or
        current-context wins; missing files are skipped). A single path that does not exist is an error.
      - When neither O(kubeconfig) nor O(context) is set, and O(server) comes without a complete credential,
        E(KUBECONFIG), then the in-cluster service account, then C(~/.kube/config) are used. See the collection's
        C(docs/connecting.md) for every supported kubeconfig shape.
      - Can be set with the environment variable E(K8S_AUTH_KUBECONFIG).
    type: raw
  context:
    description:
      - The kubeconfig context to use; the kubeconfig's current context by default.
      - Can be set with E(K8S_AUTH_CONTEXT).
    type: str
  server:
    description:
      - URL of the Kubernetes API server, for example V(https://127.0.0.1:6443).
      - With O(api_key), O(username) and O(password), or O(client_cert) and O(client_key), no kubeconfig is read.
        Alone it replaces only the server of the kubeconfig (or service account) in use, which keeps its
        credentials and CA.
      - Can be set with E(K8S_AUTH_HOST) (AWX's Kubernetes credential type sets it). The option is not called
        C(host) as in kubernetes.core because C(host) is Istio's name for the service a rule applies to.
    type: str
  api_key:
    description:
      - A bearer token for the API server. Overrides the kubeconfig's credentials.
      - Can be set with E(K8S_AUTH_API_KEY).
    type: str
  username:
    description:
      - User name for HTTP Basic authentication, sent with O(password). Overrides the kubeconfig's credentials.
      - Can be set with E(K8S_AUTH_USERNAME).
    type: str
  password:
    description:
      - Password for HTTP Basic authentication with O(username).
      - Can be set with E(K8S_AUTH_PASSWORD).
    type: str
  ca_cert:
    description:
      - Path to the CA certificate that signed the API server's certificate.
      - Can be set with E(K8S_AUTH_SSL_CA_CERT) or E(K8S_AUTH_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate for TLS client authentication.
      - Can be set with E(K8S_AUTH_CERT_FILE) or E(K8S_AUTH_CLIENT_CERT).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of O(client_cert).
      - Can be set with E(K8S_AUTH_KEY_FILE) or E(K8S_AUTH_CLIENT_KEY).
    type: path
    aliases: [key_file]
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate. Leave it on outside throwaway test clusters.
      - Can be set with E(K8S_AUTH_VERIFY_SSL) or E(K8S_AUTH_VALIDATE_CERTS).
    type: bool
    default: true
    aliases: [verify_ssl]
  proxy:
    description:
      - URL of an HTTP proxy for requests to the API server, for example V(http://proxy.example:3128); https
        requests go through a C(CONNECT) tunnel. User and password in the URL are sent as proxy Basic auth.
      - Takes precedence over the kubeconfig's C(proxy-url), which takes precedence over E(HTTPS_PROXY) and
        E(https_proxy) (E(HTTP_PROXY) for an http server). Like kubectl, the environment's proxies are never
        used for C(localhost) or loopback addresses, and E(NO_PROXY) applies to them.
      - Can be set with E(K8S_AUTH_PROXY).
    type: str
  no_proxy:
    description:
      - Comma-separated hosts, domains (matching their subdomains too), IP addresses and CIDRs that bypass
        O(proxy) and the environment's proxies, as in E(NO_PROXY). V(*) bypasses every proxy.
      - Can be set with E(K8S_AUTH_NO_PROXY).
    type: str
  proxy_headers:
    description:
      - Extra headers for the proxy, with kubernetes.core's names.
    type: dict
    suboptions:
      proxy_basic_auth:
        description:
          - V(user:password) sent to the proxy as C(Proxy-Authorization) Basic auth.
          - Can be set with E(K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH).
        type: str
      basic_auth:
        description:
          - V(user:password) sent to the API server as Basic auth when no other credential is given.
          - Can be set with E(K8S_AUTH_PROXY_HEADERS_BASIC_AUTH).
        type: str
      user_agent:
        description:
          - C(User-Agent) sent to the proxy with C(CONNECT).
          - Can be set with E(K8S_AUTH_PROXY_HEADERS_USER_AGENT).
        type: str
  impersonate_user:
    description:
      - Act as this user (C(Impersonate-User)); the credentials used must be allowed to C(impersonate) it.
        Replaces the kubeconfig's C(as), C(as-uid) and C(as-user-extra).
      - Can be set with E(K8S_AUTH_IMPERSONATE_USER).
    type: str
  impersonate_groups:
    description:
      - Groups to act as (one C(Impersonate-Group) header each), with O(impersonate_user) or the kubeconfig's
        C(as). Replaces the kubeconfig's C(as-groups).
      - Can be set with E(K8S_AUTH_IMPERSONATE_GROUPS) (comma-separated).
    type: list
    elements: str
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
