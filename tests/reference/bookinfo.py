"""Reference end states of the BookInfo scenarios, written by this project from the facts of Istio's samples.

Istio publishes the traffic rules of its BookInfo tasks (request routing, fault injection, traffic shifting) as
YAML files. The facts they state are few: four services; subsets per service named after the ``version`` label;
which user goes where; a 7 s delay or an HTTP 500 for that user on ratings; a 50/50 split of reviews between v1
and v3. Two generations exist: the current one (``networking.istio.io/v1``, header ``end-user: exact jason``,
``percentage``) and Istio 0.8's (``v1alpha3``, a cookie regex, the integer ``percent``, productpage also bound to
the ``bookinfo`` ingress Gateway).

The tests read these builders, never files outside the repository. ``DOCUMENTS`` is keyed by the name of the
Istio file stating the same facts, so ``scripts/check-references`` can compare both, document for document,
wherever Istio's files are at hand.
"""

import copy
import os

import yaml

SERVICES = ["productpage", "reviews", "ratings", "details"]

# Subsets each DestinationRule declares (the samples declare subsets for versions BookInfo ships as extras).
SUBSETS = {
    "productpage": ["v1"],
    "reviews": ["v1", "v2", "v3"],
    "ratings": ["v1", "v2", "v2-mysql", "v2-mysql-vm"],
    "details": ["v1", "v2"],
}

USER = "jason"
DELAY = "7s"
ABORT_STATUS = 500
# Istio 0.8 matched the logged-in user by the session cookie.
COOKIE_REGEX = "^(.*?;)?(user=%s)(;.*)?$" % USER

RELEASES = {
    "current": {"api": "networking.istio.io/v1", "legacy": False},
    "istio-0.8": {"api": "networking.istio.io/v1alpha3", "legacy": True},
}


def _object(release, kind, name, spec):
    return {"apiVersion": RELEASES[release]["api"], "kind": kind, "metadata": {"name": name}, "spec": spec}


def _to(host, subset, weight=None):
    destination = {"destination": {"host": host, "subset": subset}}
    if weight is not None:
        destination["weight"] = weight
    return destination


def _user_match(release):
    if RELEASES[release]["legacy"]:
        return [{"headers": {"cookie": {"regex": COOKIE_REGEX}}}]
    return [{"headers": {"end-user": {"exact": USER}}}]


def _percent(release, fault):
    """All requests of the user: ``percent: 100`` in 0.8, ``percentage: {value: 100.0}`` since."""
    if RELEASES[release]["legacy"]:
        return dict({"percent": 100}, **fault)
    return dict({"percentage": {"value": 100.0}}, **fault)


def destination_rule(release, service):
    subsets = [{"name": name, "labels": {"version": name}} for name in SUBSETS[service]]
    return _object(release, "DestinationRule", service, {"host": service, "subsets": subsets})


def virtual_service(release, service, http):
    spec = {"hosts": [service]}
    if service == "productpage" and RELEASES[release]["legacy"]:
        spec["gateways"] = ["bookinfo", "mesh"]
    spec["http"] = http
    return _object(release, "VirtualService", service, spec)


def all_v1(release):
    return [virtual_service(release, s, [{"route": [_to(s, "v1")]}]) for s in SERVICES]


def reviews_user_v2(release):
    return virtual_service(release, "reviews", [
        {"match": _user_match(release), "route": [_to("reviews", "v2")]},
        {"route": [_to("reviews", "v1")]},
    ])


def ratings_fault(release, kind):
    fault = {"delay": _percent(release, {"fixedDelay": DELAY})} if kind == "delay" else \
        {"abort": _percent(release, {"httpStatus": ABORT_STATUS})}
    return virtual_service(release, "ratings", [
        {"match": _user_match(release), "fault": fault, "route": [_to("ratings", "v1")]},
        {"route": [_to("ratings", "v1")]},
    ])


def reviews_50_v3(release):
    return virtual_service(release, "reviews", [{"route": [_to("reviews", "v1", 50), _to("reviews", "v3", 50)]}])


def _documents():
    docs = {}
    for release, prefix in (("current", "virtual-service-"), ("istio-0.8", "route-rule-")):
        rules = [destination_rule(release, s) for s in SERVICES]
        if release == "current":
            docs["current/destination-rule-all.yaml"] = rules
            docs["current/virtual-service-all-v1.yaml"] = all_v1(release)
        else:
            # Istio 0.8 shipped VirtualServices and DestinationRules in one file.
            docs["istio-0.8/route-rule-all-v1.yaml"] = all_v1(release) + rules
        docs["%s/%sreviews-test-v2.yaml" % (release, prefix)] = [reviews_user_v2(release)]
        docs["%s/%sratings-test-delay.yaml" % (release, prefix)] = [ratings_fault(release, "delay")]
        docs["%s/%sratings-test-abort.yaml" % (release, prefix)] = [ratings_fault(release, "abort")]
        docs["%s/%sreviews-50-v3.yaml" % (release, prefix)] = [reviews_50_v3(release)]
    return docs


DOCUMENTS = _documents()

# What each scenario applies on top of all-v1 (later documents replace earlier ones of the same name).
OVERLAYS = {
    "all-v1": [], "reset": [],
    "user-v2": ["reviews-test-v2"],
    "fault-delay": ["reviews-test-v2", "ratings-test-delay"],
    "fault-abort": ["reviews-test-v2", "ratings-test-abort"],
    "shift-50-v3": ["reviews-50-v3"],
}


def documents(name):
    """The objects of one reference, by the Istio file name (``current/virtual-service-all-v1.yaml``); copies."""
    try:
        return copy.deepcopy(DOCUMENTS[name])
    except KeyError:
        raise KeyError("no BookInfo reference named %r (known: %s)" % (name, ", ".join(sorted(DOCUMENTS))))


def names(release):
    """Reference names of one release, sorted like a directory listing."""
    return sorted(name for name in DOCUMENTS if name.startswith(release + "/"))


def scenario_files(scenario, release="current"):
    """Reference names that reach a scenario's end state, in the order they are applied."""
    if release == "current":
        base = ["current/destination-rule-all.yaml", "current/virtual-service-all-v1.yaml"]
        prefix = "current/virtual-service-"
    else:
        base = ["istio-0.8/route-rule-all-v1.yaml"]
        prefix = "istio-0.8/route-rule-"
    return base + ["%s%s.yaml" % (prefix, overlay) for overlay in OVERLAYS[scenario]]


def write(directory, name):
    """Write one reference as a YAML file under ``directory`` (for tools that read files); returns its path."""
    path = os.path.join(directory, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as out:
        yaml.safe_dump_all(documents(name), out, default_flow_style=False, sort_keys=False)
    return os.path.abspath(path)
