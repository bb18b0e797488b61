# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Istio API discovery and the find/create/replace/delete service for its objects."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re
import tempfile
import time

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError

GROUP = "networking.istio.io"
# Newest first: the schemas are identical, so the newest served version is always right.
PREFERENCE = ("v1", "v1beta1", "v1alpha3")
PLURALS = {
    "VirtualService": "virtualservices",
    "DestinationRule": "destinationrules",
}


# How the API server words a validating webhook's refusal (k8s.io/apiserver, webhook errors.ToStatusErr).
_WEBHOOK_DENIAL = re.compile(r'^admission webhook "([^"]+)" denied the request')


def api_error(response, what=None):
    """Turn a non-2xx answer into a MeshError that keeps the API server's own words."""
    status = response.json()
    message = status.get("message") or "HTTP %s" % response.status
    reason = status.get("reason")
    prefix = "%s: " % what if what else ""
    if response.status == 401:
        text = "%sthe API server rejected the credentials (401 Unauthorized): %s" % (prefix, message)
        if response.identity:
            text += " (%s)" % response.identity
    elif response.status == 403:
        text = "%spermission denied (403 Forbidden): %s" % (prefix, message)
    elif _WEBHOOK_DENIAL.search(message):
        # A validating webhook said no; on a cluster with Istio that is istiod quoting Istio's own rules.
        webhook = _WEBHOOK_DENIAL.search(message).group(1)
        who = "Istio's validation" if webhook.endswith("validation.istio.io") else "the admission webhook"
        text = "%s%s (webhook %s) refused it: %s" % (
            prefix, who, webhook, message.split("denied the request:", 1)[-1].strip())
        reason = "AdmissionDenied"
    elif response.status == 422 or reason == "Invalid":
        causes = (status.get("details") or {}).get("causes") or []
        details = "; ".join("%s: %s" % (c.get("field"), c.get("message")) for c in causes if c.get("field"))
        text = "%sthe API server rejected the object (%s): %s" % (prefix, reason or response.status,
                                                                  details or message)
    else:
        text = "%s%s (HTTP %s%s)" % (prefix, message, response.status, ", %s" % reason if reason else "")
    return MeshError(text, status=response.status, reason=reason)


def discover(client, pinned=None):
    """Pick the networking.istio.io version to use: the pinned one if served, else the newest served."""
    response = client.request("GET", "/apis/%s" % GROUP)
    if response.status == 404:
        raise MeshError("Istio's CRDs are not installed: the API server at %s does not serve the API group %s "
                        "(install Istio, or at least its CRDs, first)" % (client.settings.server, GROUP),
                        reason="IstioNotInstalled", status=404)
    if response.status >= 400:
        raise api_error(response, "discovering %s" % GROUP)
    served = [v.get("version") for v in response.json().get("versions") or []]
    if pinned:
        if pinned not in served:
            raise MeshError("the cluster does not serve %s/%s; it serves: %s" % (GROUP, pinned, ", ".join(served)),
                            field="api_version", value=pinned)
        return pinned, served
    for version in PREFERENCE:
        if version in served:
            return version, served
    raise MeshError("the cluster serves %s only in versions this collection does not know: %s"
                    % (GROUP, ", ".join(served)), reason="IstioVersionUnknown")


# Like kubectl's discovery cache, shared by every task of a play and by parallel forks, but kept short: a served
# version that disappears is also caught by the 404 that then invalidates the entry.
DISCOVERY_TTL = 300
CACHE_ENV = "ACK_SERVICEMESH_CACHE_DIR"


def cache_dir():
    base = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "ack-servicemesh")
    return os.path.join(base, "discovery")


def cache_path(settings):
    """One entry per API server and identity; the key is a hash, so no credential is written."""
    identity = [settings.server or "", settings.user or "", settings.token or "", settings.cert_file or "",
                settings.cert_data or ""]
    digest = hashlib.sha256("\0".join(identity).encode("utf-8")).hexdigest()[:40]
    return os.path.join(cache_dir(), digest + ".json")


def cached_served(settings, now=None):
    """The served versions cached for this server and user, or None when absent, unreadable or expired."""
    try:
        with open(cache_path(settings)) as handle:
            entry = json.load(handle)
    except (OSError, ValueError):
        return None
    now = time.time() if now is None else now
    served = entry.get("served") if isinstance(entry, dict) else None
    stamp = entry.get("time") if isinstance(entry, dict) else None
    if not isinstance(served, list) or not isinstance(stamp, (int, float)) or not 0 <= now - stamp < DISCOVERY_TTL:
        return None
    return [v for v in served if isinstance(v, str)]


def store_served(settings, served):
    """Write the entry atomically, private to the user; a cache that cannot be written is only slower."""
    path = cache_path(settings)
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".discovery-")
        with os.fdopen(handle, "w") as out:
            json.dump({"server": settings.server, "served": served, "time": time.time()}, out)
        os.rename(temp, path)
    except OSError:
        pass


def forget_served(settings):
    try:
        os.unlink(cache_path(settings))
    except OSError:
        pass


def pick(served):
    for version in PREFERENCE:
        if version in served:
            return version
    return None


def discover_cached(client):
    """(version, served, from_cache): the cached discovery when fresh, else one request, then cached."""
    served = cached_served(client.settings)
    if served and pick(served):
        return pick(served), served, True
    version, served = discover(client)
    store_served(client.settings, served)
    return version, served, False


class Resources:
    """find/create/replace/delete for one Istio kind at one API version."""

    def __init__(self, client, api_version, kind, pinned=False, rediscover=None):
        self.client = client
        self.pinned = pinned
        # Called on a 404 for the whole kind when the version came from the discovery cache: returns the version
        # discovered afresh, and the request is sent again with it.
        self.rediscover = rediscover
        self.version = api_version
        self.kind = kind
        self.plural = PLURALS[kind]

    @property
    def api_version(self):
        return "%s/%s" % (GROUP, self.version)

    def path(self, namespace, name=None, version=None):
        base = "/apis/%s/%s/namespaces/%s/%s" % (GROUP, version or self.version, namespace, self.plural)
        return base + "/" + name if name else base

    def describe(self, namespace, name):
        return "%s %s/%s" % (self.kind, namespace, name)

    def _check(self, response, namespace, name, action):
        if response.status < 400:
            return response.json()
        details = response.json().get("details") or {}
        if response.status == 404 and not details.get("name"):
            if self.pinned:
                # Raises the api_version error, naming what the cluster does serve, when the pin is the cause.
                discover(self.client, self.version)
            raise MeshError("%s %s: the API server does not serve %s (are Istio's CRDs installed?)"
                            % (action, self.describe(namespace, name), self.api_version),
                            status=404, reason="IstioNotInstalled")
        raise api_error(response, "%s %s" % (action, self.describe(namespace, name)))

    def _request(self, method, namespace, name=None, query=None, body=None):
        stale = self.version
        response = self.client.request(method, self.path(namespace, name, stale), query, body)
        if response.status == 404 and not (response.json().get("details") or {}).get("name"):
            rediscover, self.rediscover = self.rediscover, None
            if rediscover is not None:
                self.version = rediscover()
            # A request of another kind sent at the same time may have rediscovered already.
            version = self.version
            if version != stale:
                if isinstance(body, dict) and str(body.get("apiVersion", "")).startswith(GROUP + "/"):
                    body = dict(body, apiVersion="%s/%s" % (GROUP, version))
                response = self.client.request(method, self.path(namespace, name, version), query, body)
        return response

    def get(self, namespace, name):
        response = self._request("GET", namespace, name)
        if response.status == 404 and (response.json().get("details") or {}).get("name"):
            return None
        return self._check(response, namespace, name, "reading")

    def list(self, namespace):
        response = self._request("GET", namespace)
        return self._check(response, namespace, "*", "listing").get("items") or []

    def _write_query(self, dry_run):
        query = {"fieldValidation": "Strict", "fieldManager": "ack.servicemesh"}
        if dry_run:
            query["dryRun"] = "All"
        return query

    def create(self, obj, dry_run=False):
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        response = self._request("POST", namespace, None, self._write_query(dry_run), obj)
        if response.status == 409:
            raise Conflict(self.describe(namespace, name))
        return self._check(response, namespace, name, "creating")

    def replace(self, obj, dry_run=False):
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        response = self._request("PUT", namespace, name, self._write_query(dry_run), obj)
        if response.status == 409:
            raise Conflict(self.describe(namespace, name))
        return self._check(response, namespace, name, "updating")

    def delete(self, obj, dry_run=False):
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        body = {"kind": "DeleteOptions", "apiVersion": "v1",
                "preconditions": {"resourceVersion": obj["metadata"].get("resourceVersion")}}
        if dry_run:
            body["dryRun"] = ["All"]
        response = self._request("DELETE", namespace, name, None, body)
        if response.status == 409:
            raise Conflict(self.describe(namespace, name))
        if response.status == 404:
            return None
        return self._check(response, namespace, name, "deleting")


class Conflict(Exception):
    """Someone else wrote the object between our read and our write."""
