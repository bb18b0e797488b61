"""scripts/demo.py: the report's comparison of predicted and observed outcomes, and the page it writes."""

import importlib.util
import os

import pytest

from ansible_collections.ack.servicemesh.tests.mesh import client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SPEC = importlib.util.spec_from_file_location("demo", os.path.join(ROOT, "scripts", "demo.py"))
demo = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(demo)


def _prediction(*branches):
    return {"deterministic": len(branches) == 1, "outcome": branches[0][1], "stars": branches[0][2],
            "latency_s": max(b[3] for b in branches), "stars_distribution": {},
            "distribution": [{"probability": p, "outcome": o, "stars": s, "latency_s": t} for p, o, s, t in branches]}


def _seen(outcome, elapsed=0.05):
    flags = {"stars": None, "ratings_unavailable": False, "reviews_unavailable": False}
    if outcome.endswith(" stars") and outcome != "no stars":
        flags["stars"] = outcome.split()[0]
    elif outcome == "reviews unavailable":
        flags["reviews_unavailable"] = True
    elif outcome == "ratings unavailable":
        flags["ratings_unavailable"] = True
    return client.Observation(user=None, status=200, elapsed=elapsed, details_unavailable=False,
                              reviews_served_by="reviews-v1", **flags)


@pytest.mark.parametrize("branch, words", [
    (("ok", "none"), "no stars"),
    (("ok", "black"), "black stars"),
    (("reviews_unavailable", None), "reviews unavailable"),
    (("ratings_unavailable", None), "ratings unavailable"),
    (("productpage_unavailable", None), "error"),
])
def test_predictions_are_put_in_the_words_of_the_page(branch, words):
    assert demo.predicted_outcomes(_prediction((1.0,) + branch + (0.0,))) == {words: 1.0}
    if words != "error":
        assert demo.observed_outcomes([_seen(words)]) == {words: 1.0}


def test_observed_shares_and_agreement_within_binomial_tolerance():
    predicted = demo.predicted_outcomes(_prediction((0.5, "ok", "none", 0.0), (0.5, "ok", "red", 0.0)))
    assert predicted == {"no stars": 0.5, "red stars": 0.5}
    near = [_seen("red stars")] * 27 + [_seen("no stars")] * 23
    far = [_seen("red stars")] * 45 + [_seen("no stars")] * 5
    assert demo.observed_outcomes(near) == {"red stars": 0.54, "no stars": 0.46}
    assert demo.agree(predicted, demo.observed_outcomes(near), 50)
    assert not demo.agree(predicted, demo.observed_outcomes(far), 50)
    assert not demo.agree({"black stars": 1.0}, {"no stars": 1.0}, 1)
    assert demo.agree({"black stars": 1.0}, {"black stars": 1.0}, 1)


def test_report_has_every_scenario_its_screenshots_and_escapes_what_it_shows(tmp_path):
    entries = []
    for name in ("user-v2", "fault-delay"):
        outcome = "black stars" if name == "user-v2" else "reviews unavailable"
        latency = 0.0 if name == "user-v2" else 6.0
        jason_sees = ("ok", "black") if latency == 0 else ("reviews_unavailable", None)
        entries.append({
            "name": name, "recap": "ok=6 changed=1", "routing": ["  reviews  [user-override] end-user exact <jason>"],
            "diff": ["+ x"], "virtual_services": {"VirtualService/reviews": {"hosts": ["reviews"]}},
            "predictions": {"jason": _prediction((1.0,) + jason_sees + (latency,)),
                            None: _prediction((1.0, "ok", "none", 0.0))},
            "seen": {"jason": {"screenshot": "%s-jason.png" % name, "observations": [_seen(outcome, latency + 0.02)]},
                     "nobody": {"screenshot": "%s-nobody.png" % name, "observations": [_seen("black stars")]}},
        })
    page = open(demo.write_report(str(tmp_path / "index.html"), entries), encoding="utf-8").read()
    for name in ("user-v2", "fault-delay"):
        assert '<h2 id="%s">' % name in page
        assert '<img src="%s-jason.png"' % name in page and '<img src="%s-nobody.png"' % name in page
    assert "&lt;jason&gt;" in page and "<jason>" not in page
    assert "6.02 s" in page and "6.0 s" in page
    # nobody was predicted no stars but shown black stars: the report says so.
    assert page.count('class="bad">DIFFER') == 2 and page.count('class="ok">agree') == 2
