"""awx/: one job template per scenario playbook, with a survey AWX accepts and whose answers the role accepts.

awx.awx is not installed for the tests, so the survey rules AWX applies when a survey is saved
(awx/api/views JobTemplateSurveySpec._validate_spec_data) are checked here, together with what the scenario
role's meta/argument_specs.yml declares for each variable a survey sets.
"""

import json
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AWX = os.path.join(ROOT, "awx")

# Survey question type -> the Python type AWX wants for its default, and the argument spec types it can feed.
QUESTION_TYPES = {
    # Ansible splits comma-separated text given to a list option.
    "text": (str, {"str", "path", "list"}),
    "textarea": (str, {"str"}),
    "password": (str, {"str"}),
    "multiplechoice": (str, {"str"}),
    "integer": (int, {"int", "float"}),
    "float": (float, {"float"}),
}
# Job template variables may only rename a survey answer: "{{ survey_variable }}".
RENAME = re.compile(r"^\{\{ (\w+) \}\}$")


def _yaml(*parts):
    with open(os.path.join(ROOT, *parts)) as handle:
        return yaml.safe_load(handle)


class _Loader(yaml.SafeLoader):
    """Reads `!unsafe` (a template AWX, not this playbook, renders) as the plain string it is."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def _playbook():
    with open(os.path.join(AWX, "job_templates.yml")) as handle:
        return yaml.load(handle, Loader=_Loader)[0]


PLAY = _playbook()
TEMPLATES = dict((t["name"], t) for t in PLAY["vars"]["awx_scenarios"])
# Job templates and surveys keep the scenario's published name (fault-delay); the playbook is fault_delay.yml.
SCENARIOS = sorted(name[:-4].replace("_", "-") for name in os.listdir(os.path.join(ROOT, "playbooks"))
                   if name.endswith(".yml") and "-" not in name)


def playbook(scenario):
    return scenario.replace("-", "_") + ".yml"


def survey(scenario):
    with open(os.path.join(AWX, "surveys", scenario + ".json")) as handle:
        return json.load(handle)


def role_options(scenario):
    play = _yaml("playbooks", playbook(scenario))[0]
    role = play["roles"][0]["role"]
    assert role.startswith("ack.servicemesh.")
    return _yaml("roles", role.split(".")[-1], "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]


def renamed(value):
    """The survey variables a job template variable is made of."""
    if isinstance(value, dict):
        return [name for item in value.values() for name in renamed(item)]
    if isinstance(value, list):
        return [name for item in value for name in renamed(item)]
    match = RENAME.match(str(value))
    assert match, "job template variables only rename survey answers, got %r" % value
    return [match.group(1)]


def render(value, answers):
    if isinstance(value, dict):
        return dict((key, render(item, answers)) for key, item in value.items())
    if isinstance(value, list):
        return [render(item, answers) for item in value]
    return answers[RENAME.match(str(value)).group(1)]


def launch_vars(scenario, answers=None):
    """The extra vars AWX gives the playbook: survey answers (defaults unless given), then the template's own."""
    values = dict((q["variable"], q["default"]) for q in survey(scenario)["spec"])
    values.update(answers or {})
    values.update(render(TEMPLATES[scenario]["extra_vars"], values))
    return values


def test_every_scenario_playbook_has_one_job_template_and_one_survey():
    assert sorted(t["name"] for t in PLAY["vars"]["awx_scenarios"]) == SCENARIOS
    assert sorted(n[:-5] for n in os.listdir(os.path.join(AWX, "surveys"))) == SCENARIOS


def test_the_job_templates_run_the_scenario_playbooks_from_the_project():
    task = [t for t in PLAY["tasks"] if "awx.awx.job_template" in t][0]
    args = task["awx.awx.job_template"]
    assert args["playbook"] == "playbooks/{{ item.name | replace('-', '_') }}.yml"
    assert args["survey_enabled"] is True
    assert "'surveys/' ~ item.name ~ '.json'" in args["survey_spec"]
    for scenario in SCENARIOS:
        assert _yaml("playbooks", playbook(scenario))[0]["hosts"] == "localhost"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_survey_is_one_awx_accepts(scenario):
    spec = survey(scenario)
    assert isinstance(spec["name"], str) and isinstance(spec["description"], str)
    assert isinstance(spec["spec"], list) and spec["spec"]
    variables = [q["variable"] for q in spec["spec"]]
    assert len(variables) == len(set(variables)), "a variable is asked twice"
    for question in spec["spec"]:
        where = "%s: %s" % (scenario, question.get("variable"))
        for field in ("type", "question_name", "variable"):
            assert isinstance(question[field], str), where
        assert isinstance(question["required"], bool), where
        default_type = QUESTION_TYPES[question["type"]][0]
        # bool is an int to Python, not to AWX's JSON.
        assert isinstance(question["default"], default_type) and not isinstance(question["default"], bool), where
        for limit in ("min", "max"):
            assert limit not in question or (isinstance(question[limit], int) and not isinstance(question[limit], bool)), where
        if question["type"] == "multiplechoice":
            assert question["default"] in question["choices"], where
        measured = len(question["default"]) if default_type is str else question["default"]
        assert question.get("min", measured) <= measured <= question.get("max", measured), where


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_required_question_has_a_default(scenario):
    """So that a schedule, or a launch that keeps the defaults, runs without a prompt."""
    for question in survey(scenario)["spec"]:
        assert question["required"] and question["default"] not in ("", None), question["variable"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_survey_variable_is_a_role_option_of_a_compatible_type(scenario):
    options = role_options(scenario)
    feeds = dict((name, key) for key, value in TEMPLATES[scenario]["extra_vars"].items() for name in renamed(value))
    for question in survey(scenario)["spec"]:
        name = question["variable"]
        if name in feeds:
            assert feeds[name] in options, "%s feeds %s, which the role does not take" % (name, feeds[name])
            continue
        assert name in options, "%s: the role of %s has no option %s" % (scenario, scenario, name)
        option = options[name]
        assert option.get("type", "str") in QUESTION_TYPES[question["type"]][1], name
        if question["type"] == "multiplechoice" and "choices" in option:
            assert set(question["choices"]) <= set(option["choices"]), name


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_job_template_variables_are_role_options_made_of_survey_answers(scenario):
    options = role_options(scenario)
    asked = set(q["variable"] for q in survey(scenario)["spec"])
    for key, value in TEMPLATES[scenario]["extra_vars"].items():
        assert key in options, key
        assert set(renamed(value)) <= asked, key


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_required_role_options_are_set_by_a_default_or_the_launch(scenario):
    given = launch_vars(scenario)
    for name, option in role_options(scenario).items():
        if option.get("required"):
            assert name in given or "default" in option, name


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_launching_with_the_survey_defaults_runs_the_scenario_as_the_role_defines_it(scenario):
    options = role_options(scenario)
    for name, value in launch_vars(scenario).items():
        if name in options:
            assert as_option(value, options[name]) == options[name].get("default"), name


def as_option(value, option):
    """What the role's argument spec makes of a survey answer: list options split comma-separated text."""
    if option.get("type") == "list" and isinstance(value, str):
        convert = int if option.get("elements") == "int" else str
        return [convert(item.strip()) for item in value.split(",")]
    return value


def test_canary_steps_from_the_survey_become_a_list_of_integers():
    options = role_options("canary")
    steps = launch_vars("canary", {"canary_steps": "5, 20,100"})["canary_steps"]
    assert as_option(steps, options["canary_steps"]) == [5, 20, 100]


def test_shift_weights_from_the_survey_become_the_roles_weights_mapping():
    assert launch_vars("shift-50-v3", {"shift_50_v3_weight_v1": 80, "shift_50_v3_weight_v3": 20})[
        "shift_50_v3_weights"] == {"v1": 80, "v3": 20}
