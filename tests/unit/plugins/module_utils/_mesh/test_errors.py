from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError, Problems


def test_error_names_field_and_value():
    err = MeshError("must be >= 0", field="http[1].route[0].weight", value=-5)
    assert str(err) == "http[1].route[0].weight: must be >= 0 (got -5)"
    assert err.fail_kwargs()["problems"] == [
        {"field": "http[1].route[0].weight", "message": "must be >= 0", "value": -5}]


def test_problems_are_reported_together():
    problems = Problems()
    problems.add("subsets[0].name", "must be a DNS-1123 label", "V1!")
    problems.add("host", "must not be empty", "")
    try:
        problems.raise_if_any()
    except MeshError as err:
        assert "subsets[0].name: must be a DNS-1123 label (got 'V1!')" in str(err)
        assert "host: must not be empty (got '')" in str(err)
        assert len(err.problems) == 2
    else:
        raise AssertionError("no error raised")


def test_task_warnings_say_each_warning_once_with_its_object():
    from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import TaskWarnings

    said = []
    warnings = TaskWarnings(said.append)
    problems = Problems()
    problems.warn("spec.http[1]", "can never be reached")
    warnings.add(problems, "VirtualService ns/reviews")
    warnings.add(problems, "VirtualService ns/reviews")
    warnings.add(problems)
    assert said == ["Istio warns: VirtualService ns/reviews: spec.http[1]: can never be reached",
                    "Istio warns: spec.http[1]: can never be reached"]
