"""mesh_routing's pure parts: what Istio warns about becomes a task warning, once, naming object and field."""

from ansible_collections.ack.servicemesh.plugins.modules import mesh_routing


class Said:
    """Stands in for the MeshModule: only what istio_warnings reads (the served version) and warn()."""

    api_version = "v1"

    def __init__(self):
        self.module = self
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def _vs(http):
    return {"metadata": {"name": "reviews"}, "spec": {"hosts": ["reviews"], "http": http}}


def test_each_istio_warning_of_the_wanted_objects_is_said_once_with_its_object_and_field():
    same_match = [{"headers": {"x-team": {"exact": "a"}}}]
    http = [{"name": "a", "match": same_match, "route": [{"destination": {"host": "reviews", "subset": "v1"}}]},
            {"name": "b", "match": same_match, "route": [{"destination": {"host": "reviews", "subset": "v2"}}]},
            {"name": "default", "route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]
    rule = {"metadata": {"name": "reviews"}, "spec": {"host": "reviews", "subsets": [
        {"name": "v1", "labels": {"version": "v" * 64}}]}}
    mesh = Said()
    for _twice in range(2):
        mesh_routing.istio_warnings(mesh, "ns", {"reviews": rule}, {"reviews": _vs(http), "ratings": None})
    assert len(mesh.warnings) == 3, mesh.warnings
    assert mesh.warnings[0].startswith("Istio warns: DestinationRule ns/reviews: spec.subsets[0].labels")
    assert mesh.warnings[1].startswith("Istio warns: VirtualService ns/reviews: spec.http[1].match[0]: is never used")
    assert mesh.warnings[2].startswith("Istio warns: VirtualService ns/reviews: spec.http[1]: can never be reached")


def test_objects_without_anything_istio_warns_about_say_nothing():
    mesh = Said()
    mesh_routing.istio_warnings(mesh, "ns", {}, {"reviews": _vs([{"route": [{"destination": {"host": "reviews"}}]}])})
    assert mesh.warnings == []
