"""Reading the API server's JSON-lines audit log."""

import json
import os

POLICY_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "audit-policy.yaml")


def summarize(event):
    """The fields tests assert on, flattened; non-resource requests (discovery) have resource None."""
    ref = event.get("objectRef") or {}
    user = event.get("user") or {}
    return {
        "verb": event.get("verb"),
        "resource": ref.get("resource"),
        "subresource": ref.get("subresource"),
        "namespace": ref.get("namespace"),
        "name": ref.get("name"),
        "api_group": ref.get("apiGroup", ""),
        "api_version": ref.get("apiVersion"),
        "uri": event.get("requestURI"),
        "user": user.get("username"),
        "user_agent": event.get("userAgent"),
        "code": (event.get("responseStatus") or {}).get("code"),
        "stage": event.get("stage"),
        "audit_id": event.get("auditID"),
        "time": event.get("stageTimestamp"),
    }


def read(path, offset=0):
    """(events, next_offset) for the complete lines written at or after byte `offset`.

    A line the server is still writing is left for the next call.
    """
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    events = [summarize(json.loads(line)) for line in data[:end].splitlines() if line.strip()]
    return events, offset + end
