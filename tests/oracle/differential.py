"""Our validator next to Istio's: how each object is judged by both, and where they differ."""

import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import validate  # noqa: E402

CORPUS = os.path.join(HERE, "corpus.jsonl")

# Istio names fields in prose; each pattern says which part of a field path our message must name.
# Messages that name no field (a bad duration or domain could be any of many fields) are not listed.
FIELD_OF_MESSAGE = [
    (re.compile(p, re.IGNORECASE), token) for p, token in (
        (r"HTTP route, redirect or direct_response is required", "route"),
        (r"cannot contain both", "http["),
        (r"^weight -?\d+ < 0", "weight"),
        (r"total destination weight", "route"),
        (r"^port number|portTrafficPolicy must have valid port", "port"),
        (r"subset name|duplicate subset names|subset may not be null", "subset"),
        (r"HTTP status", "status"),
        (r"gRPC status", "grpcStatus"),
        (r"traffic policy must have|port traffic policy", "trafficPolicy"),
        (r"connection pool", "connectionPool"),
        (r"tunnel and proxyProtocol", "proxyProtocol"),
        (r"tunnel", "tunnel"),
        (r"exportTo|exported", "exportTo"),
        (r"mirror", "mirror"),
        (r"redirect", "redirect"),
        (r"rewrite", "rewrite"),
        (r"retryOn|attempts|retry policy", "retries"),
        (r"fault injection|exponentialDelay", "fault"),
        (r"cookie", "httpCookie"),
        (r"tableSize", "maglev"),
        (r"MinimumRingSize", "consistentHash"),
        (r"outlier detection", "outlierDetection"),
        (r"sourceNamespace", "sourceNamespace"),
        (r"invalid tag (key|value)", "labels"),
        (r"SNI host|TLS match", "tls"),
        (r"(TCP|TLS) route is required", "route"),
        (r"destination is required", "destination"),
        (r"JWT claim", "headers"),
        (r"duplicate hosts|wildcard host \*", "hosts"),
        (r"not a supported HTTP method|allow origins|max_age", "corsPolicy"),
        (r"keepalive", "KeepAlive"),
        (r"max pending|max requests|max retries|max concurrent|max connections", "connectionPool"),
        (r"h2UpgradePolicy", "useClientProtocol"),
        (r"warmup|minimumPercent|aggression|duration is required", "warmup"),
        (r"locality|zone aware|failover|distribute", "LbSetting"),
        (r"client certificate|private key|CaCertificates|credentialName|configmap", "tls"),
        (r"workload selector|selector", "workloadSelector"),
    )]


def ours(obj):
    """(errors, warnings) of our validator, as strings."""
    spec = obj.get("spec")
    namespace = obj.get("metadata", {}).get("namespace")
    if obj["kind"] == "VirtualService":
        problems = validate.validate_virtual_service(spec, path="spec", namespace=namespace)
    else:
        problems = validate.validate_destination_rule(spec, path="spec", namespace=namespace)
    return [str(p) for p in problems.items], [str(w) for w in problems.warnings]


def compare(objects, verdicts):
    """Return (counts, disagreements): a disagreement is one side refusing what the other accepts."""
    counts = {"objects": len(objects), "agreed": 0, "rejected_by_istio": 0, "istio_warnings": 0,
              "our_warnings": 0, "disagreements": 0}
    disagreements = []
    for obj, verdict in zip(objects, verdicts):
        istio_errors = list(verdict["errors"]) + ([verdict["decode_error"]] if verdict.get("decode_error") else [])
        our_errors, our_warnings = ours(obj)
        counts["rejected_by_istio"] += bool(istio_errors)
        counts["istio_warnings"] += bool(verdict["warnings"])
        counts["our_warnings"] += bool(our_warnings)
        unnamed = unnamed_fields(verdict["errors"], our_errors)
        if bool(istio_errors) == bool(our_errors) and not unnamed:
            counts["agreed"] += 1
            continue
        counts["disagreements"] += 1
        disagreements.append({"object": obj, "istio": istio_errors, "ours": our_errors, "unnamed": unnamed})
    return counts, disagreements


def unnamed_fields(istio_errors, our_errors):
    """Istio errors whose field none of our messages names: the field is part of the verdict."""
    ours_text = " ".join(message.split(": ", 1)[0] for message in our_errors).lower()
    missing = []
    for message in istio_errors:
        for pattern, token in FIELD_OF_MESSAGE:
            if pattern.search(message):
                if token.lower() not in ours_text:
                    missing.append("%s (expected a field with %r)" % (message, token))
                break
    return missing


def load_corpus():
    if not os.path.exists(CORPUS):
        return []
    with open(CORPUS) as f:
        return [json.loads(line) for line in f if line.strip()]


def save_to_corpus(objects):
    known = {json.dumps(obj, sort_keys=True) for obj in load_corpus()}
    with open(CORPUS, "a") as f:
        for obj in objects:
            key = json.dumps(obj, sort_keys=True)
            if key not in known:
                known.add(key)
                f.write(key + "\n")
