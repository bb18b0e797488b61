"""Every scenario as AWX runs it: ansible-runner on the project checkout, the job template's variables and the survey
answers in env/extravars written the way AWX writes them, and the cluster credential as environment variables only
(no kubeconfig variable). The run is judged from runner's artifacts and from what the API server holds."""

import glob
import json
import os
import stat
import sys
import tempfile

import ansible_runner
import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from ansible_run import ROOT
from conformance import assert_conforms

AWX = os.path.join(ROOT, "awx")
BIN = os.path.dirname(sys.executable)
SCENARIOS = ["all-v1", "user-v2", "fault-delay", "fault-abort", "shift-50-v3", "reset"]
# What a job's service account needs, and all the docs ask for (docs/awx.md).
CLUSTER_ROLE = "ack-servicemesh-scenarios"
RULES = [k8s.V1PolicyRule(api_groups=["networking.istio.io"], resources=["virtualservices", "destinationrules"],
                          verbs=["get", "list", "watch", "create", "update", "patch", "delete"])]


class _Loader(yaml.SafeLoader):
    """Reads `!unsafe` (a template AWX, not this playbook, renders) as the plain string it is."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def _awx_playbook():
    with open(os.path.join(AWX, "job_templates.yml")) as handle:
        return yaml.load(handle, Loader=_Loader)[0]


PLAY = _awx_playbook()
TEMPLATE_VARS = dict((t["name"], t["extra_vars"]) for t in PLAY["vars"]["awx_scenarios"])
KUBECONFIG_TYPE = [t for t in PLAY["tasks"] if "awx.awx.credential_type" in t][0]["awx.awx.credential_type"]
HOST_VARS = [t for t in PLAY["tasks"] if "awx.awx.host" in t][0]["awx.awx.host"]["variables"]


def survey_answers(scenario, **answers):
    with open(os.path.join(AWX, "surveys", scenario + ".json")) as handle:
        values = dict((q["variable"], q["default"]) for q in json.load(handle)["spec"])
    unknown = set(answers) - set(values)
    assert not unknown, "not asked by the survey: %s" % sorted(unknown)
    values.update(answers)
    return values


class _AwxDumper(yaml.SafeDumper):
    """Survey answers are written `!unsafe` (awx.main.utils.safe_yaml): Ansible never renders Jinja in them."""

    def represent_data(self, data):
        if isinstance(data, str):
            return self.represent_scalar("!unsafe", data)
        return super().represent_data(data)


def write_extravars(private_data_dir, template_vars, answers):
    """AWX's env/extravars: the template's variables as they are, every other top-level key `!unsafe`."""
    variables = dict(template_vars, **answers)
    parts = []
    for key, value in variables.items():
        trusted = key in template_vars and template_vars[key] == value
        parts.append(yaml.dump({key: value}, Dumper=yaml.SafeDumper if trusted else _AwxDumper,
                               default_flow_style=False))
    with open(os.path.join(private_data_dir, "env", "extravars"), "w") as handle:
        handle.write("".join(parts))


def _private_file(private_data_dir, text):
    handle, path = tempfile.mkstemp(dir=os.path.join(private_data_dir, "env"))
    with os.fdopen(handle, "w") as out:
        out.write(text)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    return path


def bearer_token_credential(host, token, ca_pem):
    """AWX's "OpenShift or Kubernetes API Bearer Token" injector (awx_plugins.credentials.injectors)."""

    def inject(private_data_dir):
        return {"K8S_AUTH_HOST": host, "K8S_AUTH_API_KEY": token, "K8S_AUTH_VERIFY_SSL": "True",
                "K8S_AUTH_SSL_CA_CERT": _private_file(private_data_dir, ca_pem)}

    return inject


def custom_credential(credential_type, inputs):
    """A custom credential type's injectors, rendered as AWX renders them (sandboxed Jinja, `tower.filename`)."""
    jinja = ImmutableSandboxedEnvironment()

    def inject(private_data_dir):
        files = {}
        for key, template in credential_type["injectors"].get("file", {}).items():
            files[key.partition(".")[2]] = _private_file(private_data_dir, jinja.from_string(template).render(inputs))
        tower = {"filename": files.pop("") if "" in files else files}
        return dict((name, jinja.from_string(template).render(dict(inputs, tower=tower)))
                    for name, template in credential_type["injectors"]["env"].items())

    return inject


class Job:
    """One AWX job: its private data dir, and what runner left in artifacts/<ident>/."""

    def __init__(self, private_data_dir, ident):
        self.artifacts = os.path.join(private_data_dir, "artifacts", ident)
        with open(os.path.join(self.artifacts, "status")) as handle:
            self.status = handle.read().strip()
        with open(os.path.join(self.artifacts, "rc")) as handle:
            self.rc = int(handle.read().strip())
        self.events = []
        for path in glob.glob(os.path.join(self.artifacts, "job_events", "*.json")):
            with open(path) as handle:
                self.events.append(json.load(handle))
        self.events.sort(key=lambda e: e["counter"])
        self.stats = [e for e in self.events if e["event"] == "playbook_on_stats"][-1]["event_data"]

    @property
    def changed(self):
        return self.stats["changed"].get("localhost", 0)

    def stdout(self):
        return "\n".join(e.get("stdout", "") for e in self.events)[-6000:]

    def assert_successful(self):
        assert (self.status, self.rc) == ("successful", 0), self.stdout()
        assert not self.stats["failures"] and not self.stats["dark"], self.stdout()


def run_job(tmp_path, monkeypatch, scenario, credential, answers, check=False):
    private_data_dir = tempfile.mkdtemp(prefix="awx_job_", dir=str(tmp_path))
    os.mkdir(os.path.join(private_data_dir, "env"))
    os.mkdir(os.path.join(private_data_dir, "inventory"))
    with open(os.path.join(private_data_dir, "inventory", "hosts.yml"), "w") as handle:
        yaml.safe_dump({"all": {"hosts": {"localhost": dict(HOST_VARS)}}}, handle)
    write_extravars(private_data_dir, TEMPLATE_VARS[scenario], answers)
    # Nothing from the developer's shell may stand in for the credential.
    for name in list(os.environ):
        if name.startswith("K8S_AUTH_") or name == "KUBECONFIG":
            monkeypatch.delenv(name)
    envvars = dict(credential(private_data_dir),
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "build", "collections"),
                   ANSIBLE_RETRY_FILES_ENABLED="False",
                   PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    ident = "job"
    ansible_runner.run(
        private_data_dir=private_data_dir, ident=ident, project_dir=ROOT,
        playbook="playbooks/%s.yml" % scenario.replace("-", "_"), inventory=os.path.join(private_data_dir, "inventory"),
        cmdline="--check" if check else None,
        envvars=envvars, suppress_env_files=True, quiet=True, timeout=600,
    )
    return Job(private_data_dir, ident)


@pytest.fixture(scope="module")
def service_account(cluster):
    """A service account of its own namespace, allowed only what CLUSTER_ROLE grants, and a bearer token for it."""
    rbac = k8s.RbacAuthorizationV1Api(cluster.api)
    role = k8s.V1ClusterRole(metadata=k8s.V1ObjectMeta(name=CLUSTER_ROLE), rules=RULES)
    try:
        rbac.create_cluster_role(role)
    except ApiException as exc:
        if exc.status != 409:
            raise
        rbac.replace_cluster_role(CLUSTER_ROLE, role)
    namespace = cluster.new_namespace("awx-sa")
    cluster.core.create_namespaced_service_account(
        namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="awx")))
    request = k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=3600))
    token = cluster.core.create_namespaced_service_account_token("awx", namespace, request).status.token
    return {"namespace": namespace, "name": "awx", "token": token}


@pytest.fixture
def mesh_namespace(cluster, service_account):
    """A fresh namespace for one scenario, in which the service account may manage the Istio objects."""
    namespace = cluster.new_namespace("awx")
    binding = k8s.V1RoleBinding(
        metadata=k8s.V1ObjectMeta(name=CLUSTER_ROLE, namespace=namespace),
        role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=CLUSTER_ROLE),
        subjects=[k8s.RbacV1Subject(kind="ServiceAccount", name=service_account["name"],
                                    namespace=service_account["namespace"])])
    k8s.RbacAuthorizationV1Api(cluster.api).create_namespaced_role_binding(namespace, binding)
    return namespace


@pytest.fixture
def bearer_token(cluster, service_account):
    with open(os.path.join(os.path.dirname(cluster.kubeconfig), "pki", "ca.crt")) as handle:
        ca_pem = handle.read()
    return bearer_token_credential(cluster.api.configuration.host, service_account["token"], ca_pem)


def _events_containing(job, secret):
    """What AWX keeps of a job and shows its users: the job events (runner's own `command` file, with the
    environment in it, stays on the execution node and goes with the private data dir)."""
    return [e["counter"] for e in job.events if secret in json.dumps(e)]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_job_template_with_survey_defaults_and_bearer_token_converges_then_changes_nothing(
        cluster, tmp_path, monkeypatch, service_account, mesh_namespace, bearer_token, scenario):
    answers = survey_answers(scenario, servicemesh_namespace=mesh_namespace)
    first = run_job(tmp_path, monkeypatch, scenario, bearer_token, answers)
    first.assert_successful()
    assert first.changed > 0
    assert_conforms(cluster, mesh_namespace, scenario)

    second = run_job(tmp_path, monkeypatch, scenario, bearer_token, answers)
    second.assert_successful()
    assert second.changed == 0, second.stdout()
    assert_conforms(cluster, mesh_namespace, scenario)
    assert not _events_containing(first, service_account["token"]), "the token is in the job events"


def test_shift_survey_weights_reach_the_virtual_service(cluster, tmp_path, monkeypatch, mesh_namespace, bearer_token):
    answers = survey_answers("shift-50-v3", servicemesh_namespace=mesh_namespace,
                             shift_50_v3_weight_v1=80, shift_50_v3_weight_v3=20)
    run_job(tmp_path, monkeypatch, "shift-50-v3", bearer_token, answers).assert_successful()
    route = cluster.get("VirtualService", mesh_namespace, "reviews")["spec"]["http"][-1]["route"]
    assert [(r["destination"]["subset"], r.get("weight")) for r in route] == [("v1", 80), ("v3", 20)]


def test_fault_delay_survey_answers_reach_the_virtual_service(
        cluster, tmp_path, monkeypatch, mesh_namespace, bearer_token):
    answers = survey_answers("fault-delay", servicemesh_namespace=mesh_namespace, fault_delay_user="alice",
                             fault_delay_fixed_delay="2500ms", fault_delay_percentage=50.0)
    run_job(tmp_path, monkeypatch, "fault-delay", bearer_token, answers).assert_successful()
    fault = [r for r in cluster.get("VirtualService", mesh_namespace, "ratings")["spec"]["http"] if "fault" in r]
    assert len(fault) == 1
    assert fault[0]["fault"]["delay"] == {"fixedDelay": "2500ms", "percentage": {"value": 50}}
    assert fault[0]["match"] == [{"headers": {"end-user": {"exact": "alice"}}}]


def test_check_job_type_previews_without_writing(cluster, tmp_path, monkeypatch, mesh_namespace, bearer_token):
    """Job type "Check" (ask_job_type_on_launch) adds --check: a server-side dry run."""
    run_job(tmp_path, monkeypatch, "all-v1", bearer_token,
            survey_answers("all-v1", servicemesh_namespace=mesh_namespace)).assert_successful()
    before = cluster.versions(mesh_namespace)
    job = run_job(tmp_path, monkeypatch, "fault-delay", bearer_token,
                  survey_answers("fault-delay", servicemesh_namespace=mesh_namespace), check=True)
    job.assert_successful()
    assert job.changed > 0
    assert cluster.versions(mesh_namespace) == before


def test_kubeconfig_credential_type_runs_a_scenario(cluster, tmp_path, monkeypatch):
    """The custom credential type of awx/job_templates.yml, with its context left empty."""
    with open(cluster.kubeconfig) as handle:
        credential = custom_credential(KUBECONFIG_TYPE, {"kubeconfig": handle.read(), "context": ""})
    namespace = cluster.new_namespace("awx-kc")
    answers = survey_answers("fault-abort", servicemesh_namespace=namespace)
    job = run_job(tmp_path, monkeypatch, "fault-abort", credential, answers)
    job.assert_successful()
    assert job.changed > 0
    assert_conforms(cluster, namespace, "fault-abort")


def test_job_fails_with_the_api_servers_refusal_where_the_token_has_no_role(
        cluster, tmp_path, monkeypatch, bearer_token):
    namespace = cluster.new_namespace("awx-denied")
    job = run_job(tmp_path, monkeypatch, "all-v1", bearer_token,
                  survey_answers("all-v1", servicemesh_namespace=namespace))
    assert (job.status, job.rc) == ("failed", 2)
    failed = [e for e in job.events if e["event"] == "runner_on_failed"]
    assert failed, job.stdout()
    message = failed[0]["event_data"]["res"]["msg"]
    assert "403" in message or "forbidden" in message.lower(), message
    assert cluster.list("DestinationRule", namespace) == []


def test_fault_delay_with_revert_after_ends_without_its_fault(
        cluster, tmp_path, monkeypatch, mesh_namespace, bearer_token):
    answers = survey_answers("fault-delay", servicemesh_namespace=mesh_namespace, fault_delay_revert_after=1)
    run_job(tmp_path, monkeypatch, "fault-delay", bearer_token, answers).assert_successful()
    assert_conforms(cluster, mesh_namespace, "user-v2")


def test_expire_faults_job_keeps_faults_that_have_no_expiry(
        cluster, tmp_path, monkeypatch, mesh_namespace, bearer_token):
    run_job(tmp_path, monkeypatch, "fault-delay", bearer_token,
            survey_answers("fault-delay", servicemesh_namespace=mesh_namespace)).assert_successful()
    job = run_job(tmp_path, monkeypatch, "expire-faults", bearer_token,
                  survey_answers("expire-faults", servicemesh_namespace=mesh_namespace))
    job.assert_successful()
    assert job.changed == 0
    assert_conforms(cluster, mesh_namespace, "fault-delay")
