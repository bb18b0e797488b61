"""Istio's validating webhook in the testenv: istiod (pilot-discovery) serving admission, as in a cluster.

A cluster with Istio installed has two ValidatingWebhookConfigurations pointing at istiod and created with
failurePolicy Ignore; istiod patches in its CA bundle and switches them to Fail once it has seen the API
server refuse a known-bad object through them. The testenv does the same with the pilot-discovery binary
tests/mesh builds (one binary, one cache entry), run as a second istiod beside the mesh lab's: this one
only validates. It serves the webhook on loopback with a certificate from the testenv's CA, multiplexes
everything else on one HTTP port, and runs no CA, no xDS port of its own and no namespace controller, so
the mesh lab keeps its fixed ports and nothing else in the cluster is written by it.
"""

import base64
import os
import sys

HERE = os.path.dirname(os.path.realpath(__file__))
TESTS = os.path.dirname(HERE)

NAMESPACE = "istio-system"
REVISION = "default"
USER = "ack-testenv-istiod"
# The groups Istio's webhook validates (istio-discovery chart, validatingwebhookconfiguration.yaml).
GROUPS = ("security.istio.io", "networking.istio.io", "telemetry.istio.io", "extensions.istio.io")
# Names and webhooks as a default-revision install creates them.
WEBHOOKS = {
    "istio-validator-istio-system": "rev.validation.istio.io",
    "istiod-default-validator": "validation.istio.io",
}
WEBHOOK_TIMEOUT_S = 10


def _mesh():
    """tests/mesh, which owns the pinned istio.io/istio module and builds pilot-discovery from it."""
    if TESTS not in sys.path:
        sys.path.insert(0, TESTS)
    from mesh import control

    return control


def binary():
    return _mesh().istiod_binary()


def build():
    """Builds pilot-discovery into the cache if missing (many minutes on a cold Go cache)."""
    return _mesh().build()


def webhook_url(port):
    return "https://127.0.0.1:%d/validate" % port


def webhook_configurations(port):
    """(name, object) of both configurations, as the Istio charts create them: failurePolicy Ignore and no
    caBundle, both of which istiod patches itself."""
    rules = [{
        "operations": ["CREATE", "UPDATE"],
        "apiGroups": list(GROUPS),
        "apiVersions": ["*"],
        "resources": ["*"],
    }]
    labels = {"app": "istiod", "istio": "istiod", "istio.io/rev": REVISION,
              "app.kubernetes.io/managed-by": "ack-testenv"}
    out = []
    for name, webhook in WEBHOOKS.items():
        hook = {
            "name": webhook,
            "clientConfig": {"url": webhook_url(port)},
            "rules": rules,
            "failurePolicy": "Ignore",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": WEBHOOK_TIMEOUT_S,
        }
        if webhook.startswith("rev."):
            # Objects labelled for this revision; the default validator takes everything else too.
            hook["objectSelector"] = {"matchExpressions": [
                {"key": "istio.io/rev", "operator": "In", "values": [REVISION]}]}
        out.append((name, {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name, "labels": labels},
            "webhooks": [hook],
        }))
    return out


def webhook_state(configuration):
    """[(webhook name, failurePolicy, caBundle bytes)] of one ValidatingWebhookConfiguration."""
    return [(w.get("name"), w.get("failurePolicy"),
             base64.b64decode((w.get("clientConfig") or {}).get("caBundle") or ""))
            for w in configuration.get("webhooks") or []]


def argv(paths, http_port, webhook_port):
    host = "127.0.0.1"
    return [
        binary(), "discovery",
        "--kubeconfig", paths.component_kubeconfig("istiod"),
        "--meshConfig", paths.istiod_mesh_config,
        "--httpAddr", "%s:%d" % (host, http_port),
        "--httpsAddr", "%s:%d" % (host, webhook_port),
        # Empty: plaintext xDS and monitoring are multiplexed on httpAddr, mTLS xDS is off. The mesh lab's
        # istiod owns 15010/15080/15014/15019; this one opens only the two ports above.
        "--grpcAddr", "",
        "--secureGRPCAddr", "",
        "--monitoringAddr", "",
        # ControlZ cannot be switched off: an ephemeral loopback port.
        "--ctrlz_address", host, "--ctrlz_port", "0",
        "--tlsCertFile", paths.cert("istiod"),
        "--tlsKeyFile", paths.key("istiod"),
        "--caCertFile", paths.cert("ca"),
        "--domain", "cluster.local",
        "--shutdownDuration", "1s",
        "--keepaliveMaxServerConnectionAge", "10000h",
        "--log_output_level", "default:info",
    ]


def env(paths):
    out = dict(os.environ)
    out.update({
        "POD_NAMESPACE": NAMESPACE,
        "POD_NAME": "istiod-testenv",
        "REVISION": REVISION,
        "KUBECONFIG": paths.component_kubeconfig("istiod"),
        "ENABLE_LEADER_ELECTION": "false",
        # Patch the validating webhooks (the controller selects them by the istio.io/rev label).
        "VALIDATION_WEBHOOK_CONFIG_NAME": "istio-validator-istio-system",
        # No sidecar injection, and no CA: without a CA istiod neither writes istio-ca-secret nor runs its
        # namespace controller, which would fight the mesh lab's istiod over every istio-ca-root-cert.
        "INJECT_ENABLED": "false",
        "INJECTION_WEBHOOK_CONFIG_NAME": "",
        "ENABLE_CA_SERVER": "false",
    })
    return out


def invalid_probe():
    """A VirtualService the CRD schema accepts and Istio refuses: `*` alone is no host for the mesh."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "ack-testenv-webhook-probe", "namespace": NAMESPACE},
        "spec": {"hosts": ["*"], "http": [{"route": [{"destination": {"host": "probe"}}]}]},
    }
