"""The testenv side of the benchmarks: namespaces, a user of their own, and counting requests in the audit log."""

import base64
import os
import sys
import uuid

import yaml
from kubernetes import client as k8s, config as k8s_config
from kubernetes.client.rest import ApiException

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "cluster"),
                os.path.join(ROOT, "build", "collections")]

from testenv import audit_events, audit_offset, ensure_up  # noqa: E402

GROUP = "networking.istio.io"
PLURALS = {"DestinationRule": "destinationrules", "VirtualService": "virtualservices"}
# The benchmark's own service account: the audit log then tells its requests from those of the other test
# suites that share the API server (they all use the admin certificate).
AUTH_NAMESPACE = "bench-auth"
ACCOUNT = "bench-runner"
BENCH_USER = "system:serviceaccount:%s:%s" % (AUTH_NAMESPACE, ACCOUNT)


class Cluster:
    """Admin access to the testenv, for what the benchmark does around the measured runs."""

    def __init__(self, profile="default"):
        self.env = ensure_up(profile)
        self.profile = profile
        api = k8s_config.new_client_from_config(config_file=self.env["kubeconfig"])
        self.core = k8s.CoreV1Api(api)
        self.rbac = k8s.RbacAuthorizationV1Api(api)
        self.custom = k8s.CustomObjectsApi(api)
        groups = k8s.ApisApi(api).get_api_versions().groups
        self.version = next(g.preferred_version.version for g in groups if g.name == GROUP)
        self.created = []

    # --- namespaces -----------------------------------------------------------------------

    def namespace(self, name, track=True):
        try:
            self.core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
        except ApiException as exc:
            if exc.status != 409:
                raise
        if track:
            self.created.append(name)
        return name

    def fresh_namespace(self, label):
        return self.namespace("bench-%s-%s" % (label, uuid.uuid4().hex[:6]))

    def empty(self, namespace):
        for plural in PLURALS.values():
            self.custom.delete_collection_namespaced_custom_object(GROUP, self.version, namespace, plural)

    def remove_namespaces(self):
        """Delete the objects, then the namespaces: nothing runs the namespace controller here, so the
        benchmark removes the finalizer itself once the namespace is empty."""
        for name in self.created:
            try:
                self.empty(name)
                self.core.delete_namespace(name)
                body = k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name), spec=k8s.V1NamespaceSpec(finalizers=[]))
                self.core.replace_namespace_finalize(name, body)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        self.created = []

    def list(self, kind, namespace):
        return self.custom.list_namespaced_custom_object(GROUP, self.version, namespace, PLURALS[kind])["items"]

    def count(self, namespace):
        return sum(len(self.list(kind, namespace)) for kind in PLURALS)

    # --- the benchmark's user ----------------------------------------------------------------

    def bench_kubeconfig(self, path, hours=12):
        """A kubeconfig for a cluster-admin service account, with a fresh token (TokenRequest)."""
        self.namespace(AUTH_NAMESPACE, track=False)
        try:
            self.core.create_namespaced_service_account(AUTH_NAMESPACE, k8s.V1ServiceAccount(
                metadata=k8s.V1ObjectMeta(name=ACCOUNT)))
        except ApiException as exc:
            if exc.status != 409:
                raise
        binding = k8s.V1ClusterRoleBinding(
            metadata=k8s.V1ObjectMeta(name="bench-runner-cluster-admin"),
            role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="cluster-admin"),
            subjects=[k8s.RbacV1Subject(kind="ServiceAccount", name=ACCOUNT, namespace=AUTH_NAMESPACE)])
        try:
            self.rbac.create_cluster_role_binding(binding)
        except ApiException as exc:
            if exc.status != 409:
                raise
        request = k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(
            audiences=[], expiration_seconds=hours * 3600))
        token = self.core.create_namespaced_service_account_token(ACCOUNT, AUTH_NAMESPACE, request).status.token
        with open(self.env["ca_file"], "rb") as handle:
            ca = base64.b64encode(handle.read()).decode()
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "bench",
            "clusters": [{"name": "testenv", "cluster": {"server": self.env["server"],
                                                         "certificate-authority-data": ca}}],
            "users": [{"name": ACCOUNT, "user": {"token": token}}],
            "contexts": [{"name": "bench", "context": {"cluster": "testenv", "user": ACCOUNT,
                                                       "namespace": "default"}}],
        }
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(handle, "w") as out:
            yaml.safe_dump(config, out, default_flow_style=False)
        return path

    # --- audit log -------------------------------------------------------------------------------

    def audit_mark(self):
        return audit_offset(self.profile)

    def requests_since(self, offset, namespace):
        """The benchmark user's requests since `offset`: those on `namespace` and discovery (no namespace)."""
        events = audit_events(self.profile, offset)
        mine = [e for e in events if e["user"] == BENCH_USER and e["namespace"] in (namespace, None)]
        return Requests(mine)


class Requests:
    """Counts of one run's audited requests."""

    READ_VERBS = ("get", "list", "watch")

    def __init__(self, events):
        self.events = events
        self.discovery = sum(1 for e in events if e["resource"] is None)
        self.reads = sum(1 for e in events if e["resource"] is not None and e["verb"] in self.READ_VERBS)
        self.writes = sum(1 for e in events if e["resource"] is not None and e["verb"] not in self.READ_VERBS)
        self.total = len(events)
        self.failed = sum(1 for e in events if (e["code"] or 0) >= 400)

    def as_dict(self):
        return {"total": self.total, "discovery": self.discovery, "reads": self.reads, "writes": self.writes,
                "errors": self.failed}
