"""Our validator next to Istio's: how each object is judged by both, and where they differ."""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import validate  # noqa: E402

CORPUS = os.path.join(HERE, "corpus.jsonl")


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
        if bool(istio_errors) == bool(our_errors):
            counts["agreed"] += 1
            continue
        counts["disagreements"] += 1
        disagreements.append({"object": obj, "istio": istio_errors, "ours": our_errors})
    return counts, disagreements


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
