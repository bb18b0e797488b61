# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Turn what the Alibaba Cloud SDKs raise into one MeshError that says what to do.

The SDK exceptions are recognised by their attributes, not their classes, so this
file imports no SDK and works (and is tested) the same with every SDK generation.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

# API name -> the RAM action a policy must allow for it.
RAM_ACTIONS = {
    "DescribeClusterUserKubeconfig": "cs:DescribeClusterUserKubeconfig",
    "DescribeClustersV1": "cs:DescribeClustersV1",
    "DescribeServiceMeshKubeconfig": "servicemesh:DescribeServiceMeshKubeconfig",
}

_RETRIABLE_CODES = ("ServiceUnavailable", "SystemBusy", "InternalError", "ServiceTimeout")
_CREDENTIAL_CODES = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidSecurityToken", "IncompleteSignature",
                     "InvalidCredentials")


class Call:
    """What was asked of whom, for messages: the API, its subject (``cluster 'c1'``) and the endpoint."""

    def __init__(self, api, subject, endpoint):
        self.api = api
        self.subject = subject
        self.endpoint = endpoint

    def __str__(self):
        return "%s for %s" % (self.api, self.subject)


def _text(value):
    """SDK fields are f-strings of possibly missing values: treat 'None' and '' as missing."""
    if value is None:
        return None
    value = str(value).strip()
    return value if value and value != "None" else None


def api_error_fields(exc):
    """(status, code, message, request_id) of an error answer from the API, or None for anything else."""
    if getattr(exc, "code", None) is None or not hasattr(exc, "status_code"):
        return None
    data = getattr(exc, "data", None) or {}
    message = _text(data.get("Message") or data.get("message")) or _text(getattr(exc, "message", None))
    status = getattr(exc, "status_code", None)
    return (int(status) if status else None, _text(exc.code), message,
            _text(getattr(exc, "request_id", None)) or _text(data.get("RequestId") or data.get("requestId")))


def _inner(exc):
    """The SDK wraps transport and credential failures in UnretryableException(inner_exception=...)."""
    return getattr(exc, "inner_exception", None) or exc


def is_throttling(status, code):
    return status == 429 or (code or "").startswith("Throttling")


def is_retriable(exc):
    """Throttling, 5xx answers and connection failures: every call here is a read, so retrying is safe."""
    fields = api_error_fields(exc)
    if fields:
        status, code = fields[0], fields[1] or ""
        return is_throttling(status, code) or code.startswith(_RETRIABLE_CODES) or (status or 0) >= 500
    return _is_connection_error(_inner(exc))


def retry_after_seconds(exc):
    """The wait the API asked for (x-acs-retry-after, milliseconds), or None."""
    value = getattr(exc, "retry_after", None)
    try:
        return int(value) / 1000.0 if value else None
    except (TypeError, ValueError):
        return None


def _class_names(exc):
    return set(cls.__name__ for cls in type(exc).__mro__)


def _transport_text(exc):
    return str(getattr(exc, "message", None) or exc)


def _is_tls_error(exc):
    return "SSLError" in _class_names(exc) or "SSLError(" in _transport_text(exc)


def _is_connection_error(exc):
    # darabonba turns every IOError of the HTTP layer (refused, reset, timed out) into RetryError.
    names = _class_names(exc)
    return not _is_tls_error(exc) and bool(names & {"RetryError", "ConnectionError", "Timeout", "TimeoutError"})


def _transport_reason(exc):
    """The useful end of a urllib3 message: '[Errno 111] Connection refused' rather than the pool's story."""
    text = _transport_text(exc)
    match = (re.search(r"\[(?:Errno -?\d+|SSL[^\]]*)\][^'\"]*", text)
             or re.search(r"(?:Read|Connect) timed out[^'\")]*", text))
    return match.group(0).strip() if match else _first_line(text)


def _is_credential_error(exc):
    return type(exc).__name__ == "CredentialException"


def translate(exc, call, attempts=1):
    """The MeshError that explains ``exc``, raised by the SDK while doing ``call``."""
    fields = api_error_fields(exc)
    if fields:
        return _api_error(call, attempts, *fields)
    inner = _inner(exc)
    if _is_credential_error(inner):
        return MeshError(
            "%s failed: no Alibaba Cloud credentials found. Set access_key_id and access_key_secret (or "
            "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET), or provide them through RRSA "
            "(ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE), "
            "~/.aliyun/config.json or an ECS instance RAM role. The credentials chain said: %s"
            % (call, _first_line(getattr(inner, "message", None) or inner)),
            api=call.api, error_code="NoCredentials")
    if _is_tls_error(inner):
        return MeshError("%s failed: TLS with %s failed: %s. If the endpoint speaks plain HTTP, set protocol to http; "
                         "if its certificate is not trusted, fix its CA, or set validate_certs to false for a test "
                         "endpoint only." % (call, call.endpoint, _transport_reason(inner)),
                         api=call.api, endpoint=call.endpoint, error_code="TLSError")
    if _is_connection_error(inner):
        tried = " after %d attempts" % attempts if attempts > 1 else ""
        return MeshError("%s failed: cannot reach %s%s: %s" % (call, call.endpoint, tried, _transport_reason(inner)),
                         api=call.api, endpoint=call.endpoint, error_code="ConnectionError")
    return MeshError("%s failed: %s: %s" % (call, type(inner).__name__, _first_line(inner)),
                     api=call.api, endpoint=call.endpoint)


def _api_error(call, attempts, status, code, message, request_id):
    text = "%s failed: %s (HTTP %s)" % (call, code or "UnknownError", status or "?")
    if message:
        text += ": %s" % message.rstrip(".")
    text += "."
    if request_id:
        text += " Request ID: %s." % request_id
    hint = _hint(call, status, code or "", attempts)
    if hint:
        text += " " + hint
    extra = dict(api=call.api, error_code=code, endpoint=call.endpoint)
    if request_id:
        extra["request_id"] = request_id
    return MeshError(text, status=status, reason=code, **extra)


def _hint(call, status, code, attempts):
    if is_throttling(status, code):
        return "The API is still throttling after %d attempts; wait and try again, or make fewer calls." % attempts
    if code.startswith(_CREDENTIAL_CODES):
        return "Check access_key_id, access_key_secret and security_token (an STS token may have expired)."
    if status == 403 or "Forbidden" in code or "NoPermission" in code:
        action = RAM_ACTIONS.get(call.api)
        return ("The RAM identity is not allowed to do this: grant it %s." % action) if action else None
    if status == 404 or "NotFound" in code:
        return "Check the id and that it belongs to the region or endpoint used (%s)." % call.endpoint
    return None


def _first_line(value):
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__
