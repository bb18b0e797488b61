"""The simulator is Envoy: generated VirtualServices, applied to the mesh lab, probed, compared with simulate().

Every run draws a new seed (printed; ACK_DIFF_SEED=<seed> replays it) and generates ACK_DIFF_CONFIGS
configurations (default 40, ten probes each) that Istio's own validation accepts (the oracle of
tests/mesh/oracle.py; what it refuses is counted and redrawn from the same RNG), plus the fixed regression
configurations of tests/mesh/differential.py, one per cause the simulator once got wrong. Where our validator
and Istio's disagree on a generated configuration, the test fails: that is a bug of the exact-rules work. A
configuration that any Envoy rejects is left out and reported (istiod accepted it, the data plane did not).
The per-run numbers go to tests/output/simulator-differential-<label>.json.
"""

import json
import os
import sys
import time

import pytest

from ansible_run import ROOT

sys.path.insert(0, os.path.join(ROOT, "tests"))

from mesh import control, differential, oracle  # noqa: E402

RESULTS = os.path.join(ROOT, "tests", "output", "simulator-differential.json")


@pytest.fixture(scope="module")
def lab():
    state = control.up(namespace=differential.NAMESPACE)
    client = control._admin()  # noqa: SLF001 - the lab's own admin client
    differential.setup(client)
    yield client
    differential.remove_virtual_services(client)
    client.close()
    if state["started"]:
        control.down()


@pytest.fixture(scope="module")
def judge():
    oracle.build()
    with oracle.Oracle() as running:
        yield running.judge


def _run(lab, configs, label, extra=None):
    started = time.monotonic()
    reports = [differential.run_config(lab, config) for config in configs]
    took = time.monotonic() - started
    probes = [p for r in reports if not r["rejected"] for p in r["probes"]]
    bad = [(r["name"], p) for r in reports if not r["rejected"] for p in r["probes"] if p["problems"]]
    summary = {
        "label": label, "configurations": len([r for r in reports if not r["rejected"]]),
        "rejected_by_envoy": [r["name"] for r in reports if r["rejected"]],
        "probes": len(probes), "requests": sum(r["requests"] for r in reports),
        "agreeing_probes": len(probes) - len(bad), "seconds": round(took, 1),
        "push_seconds": round(sum(r["push_s"] or 0 for r in reports), 1),
    }
    summary.update(extra or {})
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    path = RESULTS.replace(".json", "-%s.json" % label)
    with open(path, "w") as f:
        json.dump({"summary": summary, "reports": reports}, f, indent=1, default=str)
    print("\n%s: %s" % (label, json.dumps(summary)))
    details = ["%s %s: %s" % (name, json.dumps(p["probe"]), "; ".join(p["problems"])) for name, p in bad]
    return summary, details


def test_regression_configurations_agree_with_envoy(lab, judge):
    cases = differential.regressions()
    refused = [(c["name"], differential.istio_errors(judge(c["objects"]))) for c in cases]
    assert not [r for r in refused if r[1]], "Istio refuses regression configurations: %s" % refused
    summary, details = _run(lab, cases, "regressions")
    assert not summary["rejected_by_envoy"], summary
    assert not details, "\n".join(details[:40])


def test_generated_configurations_agree_with_envoy(lab, judge):
    seed = differential.seed_from_env()
    count = int(os.environ.get("ACK_DIFF_CONFIGS", "40"))
    configs, counts = differential.generate(seed, count, judge)
    print("\nsimulator differential: seed %d (replay: ACK_DIFF_SEED=%d), %d configurations; the Istio oracle "
          "refused %d of %d drawn (redrawn)" % (seed, seed, count, counts["refused_by_istio"], counts["drawn"]))
    disagreements = counts["disagreements"]
    assert not disagreements, "seed %d: our validator and Istio's disagree (validate.py):\n%s" % (
        seed, "\n".join("%s: istio=%s ours=%s %s" % (d["name"], d["istio"], d["ours"], json.dumps(d["objects"]))
                        for d in disagreements[:10]))
    summary, details = _run(lab, configs, "generated", {
        "seed": seed, "drawn": counts["drawn"], "refused_by_istio": counts["refused_by_istio"]})
    assert summary["configurations"] >= min(count, 40) * 0.9, summary
    assert summary["probes"] >= 9 * summary["configurations"], summary
    assert not details, "seed %d:\n%s" % (seed, "\n".join(details[:40]))
