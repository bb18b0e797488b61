"""Molecule helper: create a namespace, or check a scenario's objects in the API server.

    state.py namespace KUBECONFIG NAME
    state.py check KUBECONFIG NAMESPACE SCENARIO [--legacy]

Reads with the official Kubernetes client; exits 1 with a readable difference on a mismatch.
"""

import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path[:0] = [os.path.join(ROOT, "tests", "cluster"), os.path.join(ROOT, "build", "collections")]

from kubernetes import client as k8s, config as k8s_config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

from conformance import expected_state, live_state  # noqa: E402


class Reader:
    def __init__(self, kubeconfig):
        api = k8s_config.new_client_from_config(config_file=kubeconfig)
        self.core = k8s.CoreV1Api(api)
        self.custom = k8s.CustomObjectsApi(api)
        groups = k8s.ApisApi(api).get_api_versions().groups
        self.version = next(g.preferred_version.version for g in groups if g.name == "networking.istio.io")

    def list(self, kind, namespace):
        plural = {"VirtualService": "virtualservices", "DestinationRule": "destinationrules"}[kind]
        return self.custom.list_namespaced_custom_object("networking.istio.io", self.version, namespace,
                                                         plural)["items"]


def main(argv):
    reader = Reader(argv[1])
    if argv[0] == "namespace":
        try:
            reader.core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=argv[2])))
            print("created namespace %s" % argv[2])
        except ApiException as exc:
            if exc.status != 409:
                raise
        return 0
    namespace, scenario = argv[2], argv[3]
    want = expected_state(scenario, legacy="--legacy" in argv)
    have = live_state(reader, namespace)
    if have != want:
        print(json.dumps({"expected": want, "in the API server": have}, indent=1, sort_keys=True))
        return 1
    print("%s: the API server holds exactly the objects of Istio's sample" % scenario)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
