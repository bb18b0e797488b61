"""Istio's warnings, ours and Istio's own, on the objects the modules' warning tests write (tests/cluster).

The differential test (test_istio_agrees.py) proves we refuse what Istio refuses; this proves, on these cases,
that we warn where Istio warns, as often, and about the same route: the modules pass our warnings on as task
warnings (tests/cluster/test_compose.py), so these are the warnings a user sees.
"""

import pytest

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import validate_virtual_service

from mesh import oracle as istio

SAME_MATCH = [{"headers": {"x-team": {"exact": "a"}}}]
V1 = [{"destination": {"host": "reviews", "subset": "v1"}}]


def _vs(http):
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "ns"}, "spec": {"hosts": ["reviews"], "http": http}}


CASES = [
    # (object, Istio's rule name that the warnings are about, our field paths)
    (_vs([{"name": "team", "match": SAME_MATCH, "route": V1}, {"name": "team-again", "match": SAME_MATCH, "route": V1},
          {"name": "default", "route": V1}]), "team-again", ["spec.http[1].match[0]", "spec.http[1]"]),
    (_vs([{"name": "all", "route": V1}, {"name": "late", "match": SAME_MATCH, "route": V1}]), "late",
     ["spec.http[1]"]),
    (_vs([{"name": "ours", "match": SAME_MATCH, "route": V1}, {"name": "default", "route": V1}]), None, []),
]


@pytest.fixture(scope="module")
def judge():
    istio.build()
    with istio.Oracle() as running:
        yield running


@pytest.mark.parametrize("obj,rule,fields", CASES, ids=["duplicate-match", "after-catch-all", "clean"])
def test_we_warn_where_istio_warns_about_the_same_route(judge, obj, rule, fields):
    verdict = judge.judge([obj])[0]
    ours = validate_virtual_service(obj["spec"], path="spec")
    assert verdict["errors"] == [] and not ours.items
    assert len(verdict["warnings"]) == len(fields), verdict
    assert all('rule "%s"' % rule in w for w in verdict["warnings"]), verdict
    assert [w.field for w in ours.warnings] == fields
