"""The simulator is Envoy: generated VirtualServices, applied to the mesh lab, probed, compared with simulate().

Every run draws a new seed (printed; ACK_DIFF_SEED=<seed> replays it) and generates ACK_DIFF_CONFIGS
configurations (default 40, ten probes each) that our validator accepts, plus the fixed regression
configurations of tests/mesh/differential.py, one per cause the simulator once got wrong. A configuration that
any Envoy rejects is left out and reported (istiod accepted it, the data plane did not: not a valid input).
The per-run numbers go to tests/output/simulator-differential.json.
"""

import json
import os
import sys
import time

import pytest

from ansible_run import ROOT

sys.path.insert(0, os.path.join(ROOT, "tests"))

from mesh import control, differential  # noqa: E402

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


def _run(lab, configs, label):
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
    }
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    path = RESULTS.replace(".json", "-%s.json" % label)
    with open(path, "w") as f:
        json.dump({"summary": summary, "reports": reports}, f, indent=1, default=str)
    print("\n%s: %s" % (label, json.dumps(summary)))
    details = ["%s %s: %s" % (name, json.dumps(p["probe"]), "; ".join(p["problems"])) for name, p in bad]
    return summary, details


def test_regression_configurations_agree_with_envoy(lab):
    summary, details = _run(lab, differential.regressions(), "regressions")
    assert not summary["rejected_by_envoy"], summary
    assert not details, "\n".join(details[:40])


def test_generated_configurations_agree_with_envoy(lab):
    seed = differential.seed_from_env()
    count = int(os.environ.get("ACK_DIFF_CONFIGS", "40"))
    print("\nsimulator differential: seed %d (replay: ACK_DIFF_SEED=%d), %d configurations" % (seed, seed, count))
    summary, details = _run(lab, differential.generate(seed, count), "generated")
    assert summary["configurations"] >= min(count, 40) * 0.9, summary
    assert summary["probes"] >= 9 * summary["configurations"], summary
    assert not details, "seed %d:\n%s" % (seed, "\n".join(details[:40]))
