"""Fixtures for tests against the real local kube-apiserver (scripts/testenv)."""

import os
import subprocess
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ansible_run import ROOT  # noqa: E402

from kubernetes import client as k8s, config as k8s_config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

STATE = os.environ.get("ACK_TESTENV_DIR", os.path.join(ROOT, ".testenv"))
GROUP = "networking.istio.io"
PLURALS = {"VirtualService": "virtualservices", "DestinationRule": "destinationrules"}


class Cluster:
    """An independent reader/writer (the official client), to check what the API server holds."""

    def __init__(self, kubeconfig, restricted, version):
        self.kubeconfig = kubeconfig
        self.restricted_kubeconfig = restricted
        self.version = version
        self.api = k8s_config.new_client_from_config(config_file=kubeconfig)
        self.custom = k8s.CustomObjectsApi(self.api)
        self.core = k8s.CoreV1Api(self.api)

    def connection(self):
        return {"kubeconfig": self.kubeconfig}

    def new_namespace(self, prefix="t"):
        name = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
        self.core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
        return name

    def get(self, kind, namespace, name):
        try:
            return self.custom.get_namespaced_custom_object(GROUP, self.version, namespace, PLURALS[kind], name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, kind, namespace):
        return self.custom.list_namespaced_custom_object(GROUP, self.version, namespace, PLURALS[kind])["items"]

    def create(self, obj):
        kind, namespace = obj["kind"], obj["metadata"]["namespace"]
        obj = dict(obj, apiVersion="%s/%s" % (GROUP, self.version))
        return self.custom.create_namespaced_custom_object(GROUP, self.version, namespace, PLURALS[kind], obj)

    def versions(self, namespace):
        """resourceVersion of every Istio object in the namespace, to prove nothing was written."""
        return dict(("%s/%s" % (kind, o["metadata"]["name"]), o["metadata"]["resourceVersion"])
                    for kind in PLURALS for o in self.list(kind, namespace))


def pytest_configure(config):
    config.addinivalue_line("markers", "serial: stops a shared API server, so it must run with no other test")


def _up(profile):
    subprocess.run([os.path.join(ROOT, "scripts", "testenv"), "up", "--profile", profile], check=True)
    state = STATE if profile == "default" else os.path.join(STATE, profile)
    return os.path.join(state, "kubeconfig"), os.path.join(state, "kubeconfig-restricted")


@pytest.fixture(scope="session")
def cluster():
    kubeconfig, restricted = _up("default")
    return Cluster(kubeconfig, restricted, "v1")


@pytest.fixture(scope="session")
def old_cluster():
    kubeconfig, restricted = _up("v1alpha3")
    return Cluster(kubeconfig, restricted, "v1alpha3")


@pytest.fixture
def namespace(cluster):
    return cluster.new_namespace()
