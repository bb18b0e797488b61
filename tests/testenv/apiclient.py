"""A minimal HTTPS client for bootstrapping the API server.

The standard library is enough for the few calls `up` makes (readiness, applying
CRDs and RBAC, discovery), and it keeps `up` from importing the kubernetes
client, which costs about a second on every reuse.
"""

import http.client
import json
import ssl
from urllib.parse import urlsplit


class Client:
    def __init__(self, server, ca_file, cert_file, key_file, timeout=10):
        url = urlsplit(server)
        self._host, self._port = url.hostname, url.port
        self._timeout = timeout
        self._context = ssl.create_default_context(cafile=ca_file)
        self._context.load_cert_chain(cert_file, key_file)
        self._conn = None

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method, path, body=None, content_type="application/json"):
        """Returns (status, parsed JSON or text). Raises OSError when the server cannot be reached."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        # One retry on a fresh connection: the server may have closed an idle keep-alive.
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout, context=self._context
                )
            try:
                self._conn.request(method, path, body=data, headers=headers)
                resp = self._conn.getresponse()
                raw = resp.read()
                break
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt == 2:
                    raise ConnectionError("%s %s: %s" % (method, path, exc)) from exc
        text = raw.decode("utf-8", "replace")
        if resp.getheader("Content-Type", "").startswith("application/json"):
            return resp.status, json.loads(text)
        return resp.status, text

    def apply(self, path, obj, manager="ack-testenv"):
        """Server-side apply: creates or updates in one idempotent request."""
        return self.request(
            "PATCH",
            "%s?fieldManager=%s&force=true" % (path, manager),
            obj,
            content_type="application/apply-patch+yaml",
        )
