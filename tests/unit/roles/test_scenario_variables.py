"""Property: whatever a scenario role's documented variables say, the objects it writes pass our own analysis.

Each role's variables are drawn from its meta/argument_specs.yml (only the options it documents), the role's own
task files are templated with them (every ``servicemesh_*`` variable the tasks set), and the scenario compiler
(the scenario_objects filter, which compiles what mesh_routing writes) builds the objects. Either the role refuses
the combination before writing (a compiler error, or an analysis error, which stops the play before the write:
only a subset that servicemesh_services does not define may cause one), or the analysis finds nothing above info.
"""

import os

import pytest
import yaml
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from hypothesis import HealthCheck, example, given, settings, strategies as st

from ansible_collections.ack.servicemesh.plugins.filter.scenario_objects import scenario_objects
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.analyze import analyze
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import (
    validate_destination_rule, validate_virtual_service)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ROLES = ["all_v1", "user_v2", "fault_delay", "fault_abort", "shift_50_v3", "reset"]
SERVICES = ["productpage", "reviews", "ratings", "details"]
SUBSETS = ["v1", "v2", "v3"]
# The filter's keyword for each servicemesh role variable.
FILTER_ARGS = {"servicemesh_namespace": "namespace", "servicemesh_weights": "weights",
               "servicemesh_default_subset": "default_subset", "servicemesh_subset_label": "subset_label",
               "servicemesh_user_route": "user_route", "servicemesh_fault": "fault",
               "servicemesh_user_match": "user_match", "servicemesh_user_route_name": "user_route_name",
               "servicemesh_fault_route_name": "fault_route_name"}
# Variables that change where the role connects or how long it waits, not what it writes.
NOT_ROUTING = ("servicemesh_kubeconfig", "servicemesh_context", "servicemesh_validate_certs",
               "servicemesh_api_version", "_revert_after")


def _load(*parts):
    path = os.path.join(ROOT, *parts)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return yaml.safe_load(handle)


def _options(role):
    return _load("roles", role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]


def _task_vars(node, found):
    """Every servicemesh_* variable a task file sets in a vars: mapping, however deep; the first setting counts
    (a later one in an ``always`` section is the revert, not the scenario)."""
    if isinstance(node, list):
        for item in node:
            _task_vars(item, found)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "vars" and isinstance(value, dict):
                for k, v in value.items():
                    if k.startswith("servicemesh_"):
                        found.setdefault(k, v)
            else:
                _task_vars(value, found)
    return found


def _trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return dict((k, _trusted(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


names = st.sampled_from(["user-override", "fault-injection", "canary", "beta-2"])
users = st.sampled_from(["jason", "mary", "a.b"])
subsets = st.sampled_from(SUBSETS)


def _weights():
    return st.dictionaries(subsets, st.integers(0, 100), min_size=1, max_size=3).filter(
        lambda w: sum(w.values()) == 100)


def _value(name, option):
    """A strategy for one documented variable, within what its documentation says it takes."""
    if option.get("choices"):
        return st.sampled_from(option["choices"])
    if name.endswith("_user"):
        return users
    if name.endswith("_service"):
        return st.sampled_from(SERVICES)
    if name.endswith("_subset") or name == "servicemesh_default_subset":
        return subsets
    if name.endswith("_route_name"):
        return names
    if name.endswith("_weights") and name != "servicemesh_weights":
        return _weights()
    if name == "servicemesh_weights":
        return st.dictionaries(st.sampled_from(SERVICES), _weights(), max_size=2)
    if name == "servicemesh_services":
        return st.lists(st.sampled_from(SUBSETS), min_size=1, max_size=3, unique=True).map(
            lambda chosen: [{"name": service, "subsets": list(chosen) + (["v1"] if service == "productpage" else [])}
                            for service in SERVICES])
    if name == "servicemesh_namespace":
        return st.sampled_from(["default", "bookinfo"])
    if name == "servicemesh_subset_label":
        return st.sampled_from(["version", "app.kubernetes.io/version"])
    if name.endswith("_fixed_delay"):
        return st.sampled_from(["7s", "500ms", "2m"])
    if name.endswith("_percentage"):
        return st.floats(0.0001, 100, allow_nan=False)
    if name.endswith("_http_status"):
        return st.integers(200, 599)
    if option.get("type") == "bool":
        return st.booleans()
    raise AssertionError("no strategy for the documented variable %s: add one" % name)


def _role_variables(role):
    options = dict((k, v) for k, v in _options(role).items() if not any(p in k for p in NOT_ROUTING))
    return st.fixed_dictionaries({}, optional=dict((k, _value(k, v)) for k, v in options.items()))


def compile_role(role, given):
    """The servicemesh_* variables the role hands the compiler, and the objects compiled from them."""
    variables = dict(_load("roles", "servicemesh", "defaults", "main.yml"))
    variables.update(_load("roles", role, "defaults", "main.yml") or {})
    variables.update(given)
    tasks = _task_vars(_load("roles", role, "tasks", "main.yml"), {})
    templar = Templar(loader=DataLoader(), variables=variables)
    variables.update(templar.template(_trusted(tasks)))
    kwargs = dict((arg, variables[var]) for var, arg in FILTER_ARGS.items() if var in variables)
    return variables, scenario_objects(variables["servicemesh_services"], **kwargs)


def _undefined_subsets(variables):
    """Subsets the variables route to that servicemesh_services does not define for that service."""
    defined = dict((s["name"], set(s["subsets"])) for s in variables["servicemesh_services"])
    weighted = variables.get("servicemesh_weights") or {}
    # A service with weights goes where they say; only the others take the default subset.
    wanted = set((name, variables["servicemesh_default_subset"]) for name in defined if name not in weighted)
    for name, weights in weighted.items():
        wanted.update((name, subset) for subset, weight in weights.items())
    route = variables.get("servicemesh_user_route") or {}
    if route:
        wanted.add((route["service"], route["subset"]))
    return set((name, subset) for name, subset in wanted if name in defined and subset not in defined[name])


@pytest.mark.parametrize("role", ROLES)
def test_every_documented_variable_has_a_strategy_or_is_not_about_routing(role):
    for name, option in _options(role).items():
        if not any(p in name for p in NOT_ROUTING):
            assert _value(name, option) is not None


# Combinations every run tries besides the generated ones: the all-users fault and both cookie modes.
EXAMPLES = {
    "fault_delay": [{"fault_delay_all_users": True, "servicemesh_user_match": "cookie"},
                    {"fault_delay_all_users": True, "fault_delay_service": "reviews"},
                    {"fault_delay_service": "reviews", "servicemesh_user_match": "cookie-0.8"}],
    "fault_abort": [{"fault_abort_all_users": True, "servicemesh_user_match": "cookie"},
                    {"fault_abort_all_users": True, "fault_abort_service": "reviews"},
                    {"fault_abort_service": "reviews", "servicemesh_user_match": "cookie-0.8"}],
    "user_v2": [{"servicemesh_user_match": "cookie", "user_v2_others_subset": "v3"}],
    "shift_50_v3": [{"servicemesh_user_match": "cookie", "shift_50_v3_service": "ratings"}],
    "all_v1": [{"servicemesh_default_subset": "v2"}],
}


def _istio_problems(objects):
    """Errors and warnings of Istio's rules (our validator, proven against Istio's code) in the written objects."""
    found = []
    for obj in objects:
        check = validate_virtual_service if obj["kind"] == "VirtualService" else validate_destination_rule
        problems = check(obj["spec"], path="%s %s spec" % (obj["kind"], obj["metadata"]["name"]))
        found.extend(str(p) for p in problems.items + problems.warnings)
    return found


@pytest.mark.parametrize("role", ROLES)
def test_whatever_the_documented_variables_say_the_written_objects_pass_the_analysis(role):
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_role_variables(role))
    def check(given_vars):
        try:
            variables, objects = compile_role(role, given_vars)
        except AnsibleError as err:
            # The role refuses before writing; the message must say what is wrong, never crash.
            assert "scenario_objects:" in str(err), err
            return
        # Nothing Istio refuses or warns about, whatever the variables.
        assert _istio_problems(objects) == [], given_vars
        findings = [f for f in analyze(objects, objects, variables["servicemesh_namespace"])
                    if f["severity"] != "info"]
        undefined = _undefined_subsets(variables)
        if undefined:
            # analyze.yml stops the play on these errors, before anything is written.
            assert findings and all(f["code"] == "IST0101" and f["severity"] == "error" for f in findings), findings
        else:
            assert findings == [], (given_vars, findings)

    for given_vars in EXAMPLES.get(role, []):
        check = example(given_vars)(check)
    check()


SCENARIOS = ["all_v1", "user_v2", "fault_delay", "fault_abort", "shift_50_v3"]


@pytest.mark.parametrize("role", SCENARIOS)
def test_each_scenario_role_documents_every_variable_that_changes_its_outcome(role):
    """Its argument spec lists its defaults and each servicemesh_* variable it does not set itself; its README
    names every option of the argument spec."""
    options = _options(role)
    own = set(_load("roles", role, "defaults", "main.yml") or {})
    set_by_tasks = set(_task_vars(_load("roles", role, "tasks", "main.yml"), {}))
    shared = set(FILTER_ARGS) - set_by_tasks
    missing = sorted((own | shared) - set(options))
    assert missing == [], "%s: not in meta/argument_specs.yml: %s" % (role, missing)
    with open(os.path.join(ROOT, "roles", role, "README.md")) as handle:
        readme = handle.read()
    assert [name for name in options if name not in readme] == []
