"""Identities for permission and secret tests: a service account bound to docs/rbac, and its bearer token."""

import base64
import os
import time
import uuid

import yaml
from kubernetes import client as k8s

from ansible_run import ROOT

RBAC_DIR = os.path.join(ROOT, "docs", "rbac")


def manifest(name):
    with open(os.path.join(RBAC_DIR, name)) as handle:
        return yaml.safe_load(handle)


def granted(role):
    """{(resource, verb)} a ClusterRole's rules grant on networking.istio.io."""
    return set((resource, verb) for rule in role["rules"] if "networking.istio.io" in rule["apiGroups"]
               for resource in rule["resources"] for verb in rule["verbs"])


def write_private(path, text):
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as out:
        out.write(text)
    return path


def admin_endpoint(cluster):
    """(server, base64 CA data) of the admin kubeconfig."""
    with open(cluster.kubeconfig) as handle:
        config = yaml.safe_load(handle)
    entry = config["clusters"][0]["cluster"]
    return entry["server"], entry["certificate-authority-data"]


class ServiceAccount:
    """A service account whose only permissions are docs/rbac's ClusterRole, bound in one namespace."""

    def __init__(self, cluster, namespace, directory, name="mesh-automation"):
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.username = "system:serviceaccount:%s:%s" % (namespace, name)
        self.role = manifest("clusterrole.yaml")
        # A name of its own, so parallel runs and other checkouts never share (or delete) one ClusterRole.
        self.role_name = "%s-test-%s" % (self.role["metadata"]["name"], uuid.uuid4().hex[:8])
        rbac = k8s.RbacAuthorizationV1Api(cluster.api)
        rbac.create_cluster_role(dict(self.role, metadata={"name": self.role_name}))
        cluster.core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
        binding = manifest("rolebinding.yaml")
        binding["metadata"] = {"name": binding["metadata"]["name"], "namespace": namespace}
        binding["roleRef"]["name"] = self.role_name
        binding["subjects"] = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
        rbac.create_namespaced_role_binding(namespace, binding)
        request = cluster.core.create_namespaced_service_account_token(
            name, namespace, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                              "spec": {"expirationSeconds": 3600}})
        self.token = request.status.token
        server, ca_data = admin_endpoint(cluster)
        self.server = server
        self.ca_file = write_private(os.path.join(directory, "ca.crt"), base64.b64decode(ca_data).decode())
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "automation",
            "clusters": [{"name": "testenv", "cluster": {"server": server, "certificate-authority-data": ca_data}}],
            "users": [{"name": name, "user": {"token": self.token}}],
            "contexts": [{"name": "automation",
                          "context": {"cluster": "testenv", "user": name, "namespace": namespace}}],
        }
        self.kubeconfig = write_private(os.path.join(directory, "kubeconfig-token"), yaml.safe_dump(config))
        self._wait_allowed()

    def _wait_allowed(self):
        """The RBAC authorizer reads bindings from its cache: wait until it knows this one."""
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": self.username, "groups": ["system:serviceaccounts", "system:authenticated"],
                           "resourceAttributes": {"namespace": self.namespace, "verb": "create",
                                                  "group": "networking.istio.io", "resource": "virtualservices"}}}
        api = k8s.AuthorizationV1Api(self.cluster.api)
        deadline = time.monotonic() + 30
        while not api.create_subject_access_review(review).status.allowed:
            assert time.monotonic() < deadline, "the RoleBinding never took effect"
            time.sleep(0.2)

    def delete(self):
        k8s.RbacAuthorizationV1Api(self.cluster.api).delete_cluster_role(self.role_name)
