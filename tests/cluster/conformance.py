"""What each scenario must leave in the API server: BookInfo's reference end states, normalised.

The references are the project's own (tests/reference/bookinfo.py, checked against Istio's files by
scripts/check-references). Shared by the integration tests and the molecule verify step.
"""

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.compare import canonical_vs_spec, normalize
from ansible_collections.ack.servicemesh.tests.reference import bookinfo


def _by_name(docs, kind):
    return dict((d["metadata"]["name"], d["spec"]) for d in docs if d["kind"] == kind)


def _reference(scenario, release):
    vs, dr = {}, {}
    for name in bookinfo.scenario_files(scenario, release):
        docs = bookinfo.documents(name)
        vs.update(_by_name(docs, "VirtualService"))
        dr.update(_by_name(docs, "DestinationRule"))
    return vs, dr


def expected_current(scenario):
    return _reference(scenario, "current")


def expected_08(scenario):
    vs, dr = _reference(scenario, "istio-0.8")
    # The 0.8 sample also binds productpage to the bookinfo ingress Gateway; the gateway belongs to the app's
    # deployment, not to these traffic rules, so the comparison is about mesh routing only.
    vs["productpage"].pop("gateways")
    for spec in vs.values():
        for route in spec.get("http", []):
            abort = (route.get("fault") or {}).get("abort")
            if abort and "percent" in abort:
                # The one intended difference: the removed abort.percent is written as percentage.
                abort["percentage"] = {"value": abort.pop("percent")}
    return vs, dr


def live_state(cluster, namespace):
    vs = dict((o["metadata"]["name"], canonical_vs_spec(o["spec"])) for o in cluster.list("VirtualService", namespace))
    dr = dict((o["metadata"]["name"], normalize(o["spec"])) for o in cluster.list("DestinationRule", namespace))
    return vs, dr


def expected_state(scenario, legacy=False):
    vs, dr = expected_08(scenario) if legacy else expected_current(scenario)
    return (dict((k, canonical_vs_spec(v)) for k, v in vs.items()),
            dict((k, normalize(v)) for k, v in dr.items()))


def assert_conforms(cluster, namespace, scenario, legacy=False):
    want_vs, want_dr = expected_state(scenario, legacy)
    live_vs, live_dr = live_state(cluster, namespace)
    assert live_dr == want_dr
    assert live_vs == want_vs
