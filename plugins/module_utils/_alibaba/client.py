# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""SDK client factory: one place that turns Settings into an ACK or ASM client."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

try:
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_tea_openapi.models import Config
except ImportError:
    HAS_CORE = False
    CORE_IMP_ERR = traceback.format_exc()
else:
    HAS_CORE = True
    CORE_IMP_ERR = None

try:
    from alibabacloud_cs20151215.client import Client as CsClient
    from alibabacloud_cs20151215 import models as cs_models
    from darabonba.runtime import RuntimeOptions as CsRuntimeOptions
except ImportError:
    HAS_CS = False
    CS_IMP_ERR = traceback.format_exc()
else:
    HAS_CS = True
    CS_IMP_ERR = None

try:
    from alibabacloud_servicemesh20200111.client import Client as AsmClient
    from alibabacloud_servicemesh20200111 import models as asm_models
    from alibabacloud_tea_util.models import RuntimeOptions as AsmRuntimeOptions
except ImportError:
    HAS_ASM = False
    ASM_IMP_ERR = traceback.format_exc()
else:
    HAS_ASM = True
    ASM_IMP_ERR = None

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

# product -> (PyPI distribution, installed?, import traceback)
SDKS = {
    "cs": ("alibabacloud-cs20151215", HAS_CS, CS_IMP_ERR),
    "servicemesh": ("alibabacloud-servicemesh20200111", HAS_ASM, ASM_IMP_ERR),
}
CREDENTIALS_SDK = ("alibabacloud-credentials", HAS_CORE, CORE_IMP_ERR)


def missing_sdk(product):
    """The (distribution, traceback) of the first SDK ``product`` needs that is not importable, else None."""
    for name, present, error in (CREDENTIALS_SDK, SDKS[product]):
        if not present:
            return name, error
    return None


def require_sdk(module, product):
    """Fail ``module`` the standard way when an SDK that ``product`` needs is not installed."""
    missing = missing_sdk(product)
    if missing:
        module.fail_json(msg=missing_required_lib(missing[0]), exception=missing[1])


def open_api_config(settings):
    """The SDK Config for ``settings``; without a key pair the credentials SDK's default chain is used."""
    config = Config(region_id=settings.region, endpoint=settings.endpoint, protocol=settings.protocol)
    if settings.explicit_keys:
        config.access_key_id = settings.access_key_id
        config.access_key_secret = settings.access_key_secret
        config.security_token = settings.security_token
    else:
        config.credential = CredentialClient()
    return config


def _build(factory, settings):
    try:
        return factory(open_api_config(settings))
    except Exception as exc:  # the SDK checks its config in the constructor and raises its own types
        raise MeshError("cannot set up the Alibaba Cloud SDK client: %s" % getattr(exc, "message", exc))


class AlibabaClient:
    """A product SDK client with its request models, runtime options and the endpoint it talks to."""

    def __init__(self, sdk_client, models, runtime, settings):
        self.sdk = sdk_client
        self.models = models
        self.settings = settings
        self._runtime_class = runtime

    @property
    def endpoint(self):
        return "%s://%s" % (self.settings.protocol, self.sdk._endpoint)

    def runtime(self):
        # No retry options are set, so the SDK does not retry: retry.py is the one place that does.
        return self._runtime_class(ignore_ssl=not self.settings.validate_certs)


def cs_client(settings):
    """Container Service for Kubernetes (ACK), API version 2015-12-15."""
    return AlibabaClient(_build(CsClient, settings), cs_models, CsRuntimeOptions, settings)


def asm_client(settings):
    """Alibaba Cloud Service Mesh (ASM), API version 2020-01-11."""
    return AlibabaClient(_build(AsmClient, settings), asm_models, AsmRuntimeOptions, settings)
