"""The differential test: our validator against Istio's own validation code.

Hypothesis generates VirtualServices and DestinationRules across the v1 schema, near the
edges of Istio's rules (tests/oracle/strategies.py); each object goes through our
validator (plugins/module_utils/_mesh/validate.py) and through istio-validate, Istio's
validation compiled from the istio.io/istio that the mesh lab's istiod runs
(tests/mesh/oracle.py), one long-lived process fed in batches. One refusing what the
other accepts is a disagreement, and so is an Istio error whose field none of our
messages names (differential.FIELD_OF_MESSAGE); a disagreement fails the test and is
appended to corpus.jsonl, which every run replays first.
"""

import os
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from oracle import differential, strategies

from mesh import oracle as istio

GENERATED = int(os.environ.get("ACK_ORACLE_EXAMPLES", "10000"))


@pytest.fixture(scope="module")
def judge():
    istio.build()
    with istio.Oracle() as running:
        yield running


def _report(label, counts, seconds):
    return ("%s: %d objects, %d agreed, %d disagreements, %d rejected by Istio, %d with Istio warnings, "
            "%d with our warnings (%.1f s)" % (label, counts["objects"], counts["agreed"], counts["disagreements"],
                                               counts["rejected_by_istio"], counts["istio_warnings"],
                                               counts["our_warnings"], seconds))


def _explain(disagreements, limit=15):
    lines = []
    for case in disagreements[:limit]:
        lines.append("istio=%s ours=%s unnamed=%s object=%s" % (case["istio"], case["ours"], case.get("unnamed"),
                                                                case["object"]["spec"]))
    return "\n".join(lines)


def test_corpus_replays_without_disagreement(judge, capsys):
    started = time.monotonic()
    objects = differential.load_corpus()
    counts, disagreements = differential.compare(objects, judge.judge(objects))
    with capsys.disabled():
        print("\n" + _report("regression corpus", counts, time.monotonic() - started))
    assert not disagreements, _explain(disagreements)


def test_generated_objects_agree_with_istio(judge, capsys):
    started = time.monotonic()
    objects = []

    # Generation only: the verdicts come afterwards, in batches, so every disagreement of
    # the run is reported and saved, not just the first one hypothesis would shrink.
    @settings(max_examples=GENERATED, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategies.objects)
    def collect(obj):
        objects.append(obj)

    collect()
    generated = time.monotonic() - started
    counts, disagreements = differential.compare(objects, judge.judge(objects))
    differential.save_to_corpus([case["object"] for case in disagreements])
    with capsys.disabled():
        print("\n" + _report("generated (hypothesis %.1f s)" % generated, counts, time.monotonic() - started))
    assert counts["objects"] >= min(GENERATED, 10000) * 0.9, "hypothesis generated too few objects"
    assert not disagreements, _explain(disagreements)
