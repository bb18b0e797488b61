# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""The Alibaba Cloud connection options every module and the inventory plugin share."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import env_fallback

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

AUTH_ARG_SPEC = dict(
    access_key_id=dict(type="str", no_log=False, fallback=(env_fallback, ["ALIBABA_CLOUD_ACCESS_KEY_ID"])),
    access_key_secret=dict(type="str", no_log=True, fallback=(env_fallback, ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"])),
    security_token=dict(type="str", no_log=True, fallback=(env_fallback, ["ALIBABA_CLOUD_SECURITY_TOKEN"])),
    region=dict(type="str", fallback=(env_fallback, ["ALIBABA_CLOUD_REGION_ID"])),
    endpoint=dict(type="str"),
    protocol=dict(type="str", default="https", choices=["https", "http"]),
    validate_certs=dict(type="bool", default=True),
)


def alibaba_argument_spec(**options):
    spec = dict(AUTH_ARG_SPEC)
    spec.update(options)
    return spec


class Settings:
    """Where to send requests and with which credentials.

    Without an explicit key pair the SDK's default credential chain decides:
    environment, RRSA (OIDC) variables, ~/.aliyun/config.json, then the ECS RAM role.
    """

    def __init__(self, access_key_id=None, access_key_secret=None, security_token=None, region=None,
                 endpoint=None, protocol="https", validate_certs=True):
        self.access_key_id = access_key_id or None
        self.access_key_secret = access_key_secret or None
        self.security_token = security_token or None
        self.region = region or None
        self.endpoint = endpoint or None
        self.protocol = protocol or "https"
        self.validate_certs = True if validate_certs is None else bool(validate_certs)

    @classmethod
    def from_options(cls, get):
        """Build from a ``name -> value`` getter: ``params.get`` in a module, ``get_option`` in a plugin."""
        return cls(**dict((name, get(name)) for name in AUTH_ARG_SPEC))

    @property
    def explicit_keys(self):
        return bool(self.access_key_id and self.access_key_secret)

    def validate(self):
        """Raise MeshError for settings the SDK would reject less clearly."""
        if self.access_key_id and not self.access_key_secret:
            raise MeshError("is required when access_key_id is set", field="access_key_secret")
        if self.access_key_secret and not self.access_key_id:
            raise MeshError("is required when access_key_secret is set", field="access_key_id")
        if self.security_token and not self.explicit_keys:
            raise MeshError("needs access_key_id and access_key_secret (the STS key pair it belongs to)",
                            field="security_token")
        if not self.region and not self.endpoint:
            raise MeshError("is required unless endpoint is set (or set ALIBABA_CLOUD_REGION_ID)", field="region")
        if self.endpoint and "://" in self.endpoint:
            raise MeshError("must be a host name with an optional port; set the scheme with protocol",
                            field="endpoint", value=self.endpoint)
        return self
