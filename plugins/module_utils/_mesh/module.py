# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""What every mesh module shares: the auth options, the client, one error path."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.api import (
    Resources, discover, discover_cached, forget_served, store_served)
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.client import Client, exec_runner, settings_from_params
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

AUTH_ARG_SPEC = dict(
    kubeconfig=dict(type="raw", fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
    context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
    server=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_HOST"])),
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_API_KEY"])),
    username=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_USERNAME"])),
    password=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_PASSWORD"])),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"],
                 fallback=(env_fallback, ["K8S_AUTH_SSL_CA_CERT", "K8S_AUTH_CA_CERT"])),
    client_cert=dict(type="path", aliases=["cert_file"],
                     fallback=(env_fallback, ["K8S_AUTH_CERT_FILE", "K8S_AUTH_CLIENT_CERT"])),
    client_key=dict(type="path", aliases=["key_file"], no_log=False,
                    fallback=(env_fallback, ["K8S_AUTH_KEY_FILE", "K8S_AUTH_CLIENT_KEY"])),
    validate_certs=dict(type="bool", default=True, aliases=["verify_ssl"],
                        fallback=(env_fallback, ["K8S_AUTH_VERIFY_SSL", "K8S_AUTH_VALIDATE_CERTS"])),
    proxy=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_PROXY"])),
    no_proxy=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_NO_PROXY"])),
    proxy_headers=dict(type="dict", options=dict(
        proxy_basic_auth=dict(type="str", no_log=True,
                              fallback=(env_fallback, ["K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH"])),
        basic_auth=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_PROXY_HEADERS_BASIC_AUTH"])),
        user_agent=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_PROXY_HEADERS_USER_AGENT"])),
    )),
    impersonate_user=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_IMPERSONATE_USER"])),
    impersonate_groups=dict(type="list", elements="str", fallback=(env_fallback, ["K8S_AUTH_IMPERSONATE_GROUPS"])),
    request_timeout=dict(type="int", default=30),
    api_version=dict(type="str", choices=["v1", "v1beta1", "v1alpha3"]),
)


def mesh_argument_spec(**options):
    spec = dict(AUTH_ARG_SPEC)
    spec.update(options)
    return spec


class MeshModule:
    """AnsibleModule plus a lazily built client and the discovered Istio API version."""

    def __init__(self, argument_spec, **kwargs):
        self.module = AnsibleModule(argument_spec=mesh_argument_spec(**argument_spec), **kwargs)
        self.params = self.module.params
        self._client = None
        self._version = None
        self._from_cache = False
        self._resources = []
        self._rediscovering = threading.Lock()
        self.served_versions = None

    @property
    def check_mode(self):
        return self.module.check_mode

    @property
    def diff_mode(self):
        return self.module._diff

    @property
    def client(self):
        if self._client is None:
            settings = settings_from_params(self.params, run_command=exec_runner(self.module))
            self._client = Client(settings, timeout=self.params["request_timeout"])
        return self._client

    @property
    def api_version(self):
        if self._version is None:
            if self.params.get("api_version"):
                # A pinned version saves the discovery request; Resources checks it on the first 404.
                self._version = self.params["api_version"]
            else:
                self._version, self.served_versions, self._from_cache = discover_cached(self.client)
        return self._version

    def _rediscover(self):
        """The cached discovery led to a 404: forget it, ask the API server again, cache the answer.

        Both kinds are listed at the same time, so both may land here: the lock makes it one discovery.
        """
        with self._rediscovering:
            if self._from_cache:
                forget_served(self.client.settings)
                self._version, self.served_versions = discover(self.client)
                self._from_cache = False
                store_served(self.client.settings, self.served_versions)
                for resources in self._resources:
                    resources.version, resources.rediscover = self._version, None
            return self._version

    def resources(self, kind):
        version = self.api_version
        resources = Resources(self.client, version, kind, pinned=bool(self.params.get("api_version")),
                              rediscover=self._rediscover if self._from_cache else None)
        self._resources.append(resources)
        return resources

    def namespace(self):
        return self.params.get("namespace") or self.client.settings.namespace or "default"

    def exit_outcome(self, outcome, **extra):
        result = dict(changed=outcome.changed, action=outcome.action, api_version=self.api_version,
                      result=outcome.diff()["after"], **extra)
        if self.diff_mode:
            result["diff"] = outcome.diff()
        self.module.exit_json(**result)

    def run(self, body):
        """Call body(self); turn the one error type into one fail_json."""
        try:
            body(self)
        except MeshError as err:
            self.module.fail_json(**err.fail_kwargs())
        finally:
            if self._client is not None:
                self._client.close()
