"""BookInfo on loopback: which workload runs where, and the Istio objects that register it.

Every workload has its own loopback address 127.0.0.N. The app listens on N:9081 (the
WorkloadEntry port), the workload's Envoy on N:9080 (the service port, bound there by
the workload's Sidecar resource), so a workload calls another service with
`http://127.0.0.N:9080/...` and `Host: reviews:9080`, exactly like a sidecar-intercepted
call to `http://reviews:9080/...` in Kubernetes. The Envoy admin interface is N:15000.
"""

from dataclasses import dataclass

SERVICE_PORT = 9080   # what clients call (Envoy's outbound listener)
APP_PORT = 9081       # where the app itself listens (WorkloadEntry port)
ADMIN_PORT = 15000    # each Envoy's admin interface, on its workload's address

# istiod, on 127.0.0.1 like the API server.
ISTIOD_HOST = "127.0.0.1"
XDS_PORT = 15010          # plaintext ADS
ISTIOD_HTTP_PORT = 15080  # /ready, /debug/syncz, /debug/config_dump (default 8080 is too common)
ISTIOD_MONITORING_PORT = 15014
ISTIOD_CTRLZ_PORT = 15019

ROOT_NAMESPACE = "istio-system"
DEFAULT_NAMESPACE = "bookinfo"
DOMAIN = "cluster.local"
CLUSTER_ID = "Kubernetes"


@dataclass(frozen=True)
class Workload:
    app: str
    version: str
    ip: str
    # Services this workload calls (through its Envoy).
    calls: tuple = ()

    @property
    def name(self):
        return "%s-%s" % (self.app, self.version)

    @property
    def app_url(self):
        return "http://%s:%d" % (self.ip, APP_PORT)

    @property
    def admin_url(self):
        return "http://%s:%d" % (self.ip, ADMIN_PORT)

    def node_id(self, namespace):
        return "sidecar~%s~%s.%s~%s.svc.%s" % (self.ip, self.name, namespace, namespace, DOMAIN)

    def labels(self):
        return {"app": self.app, "version": self.version}


WORKLOADS = (
    Workload("productpage", "v1", "127.0.0.21", calls=("details", "reviews")),
    Workload("details", "v1", "127.0.0.22"),
    Workload("reviews", "v1", "127.0.0.23"),
    Workload("reviews", "v2", "127.0.0.24", calls=("ratings",)),
    Workload("reviews", "v3", "127.0.0.25", calls=("ratings",)),
    Workload("ratings", "v1", "127.0.0.26"),
)

SERVICES = ("productpage", "details", "reviews", "ratings")


def workload(name):
    for w in WORKLOADS:
        if w.name == name:
            return w
    raise KeyError(name)


def host(service, namespace):
    return "%s.%s.svc.%s" % (service, namespace, DOMAIN)


def _meta(name, namespace, **extra):
    meta = {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "ack-mesh"}}
    meta.update(extra)
    return meta


def registry_objects(namespace):
    """(plural, object) for everything `up` applies: the mesh's own config, not the scenarios' rules.

    The scenario roles own the VirtualServices and DestinationRules named after the services;
    nothing here has those names.
    """
    objs = [
        # No mTLS anywhere: the certificates would come over SDS from pilot-agent, which is absent.
        ("peerauthentications", "security.istio.io", {
            "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": _meta("default", ROOT_NAMESPACE),
            "spec": {"mtls": {"mode": "DISABLE"}},
        }),
    ]
    for service in SERVICES:
        objs.append(("serviceentries", "networking.istio.io", {
            "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": _meta(service, namespace),
            "spec": {
                "hosts": [host(service, namespace)],
                "location": "MESH_INTERNAL",
                "resolution": "STATIC",
                "ports": [{"number": SERVICE_PORT, "name": "http", "protocol": "HTTP", "targetPort": APP_PORT}],
                "workloadSelector": {"labels": {"app": service}},
            },
        }))
    for w in WORKLOADS:
        objs.append(("workloadentries", "networking.istio.io", {
            "apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
            "metadata": _meta(w.name, namespace),
            "spec": {"address": w.ip, "labels": w.labels(), "ports": {"http": APP_PORT}},
        }))
        objs.append(("sidecars", "networking.istio.io", {
            "apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
            "metadata": _meta(w.name, namespace),
            "spec": {
                "workloadSelector": {"labels": w.labels()},
                # Without iptables nothing is intercepted: Envoy listens on the service port at the
                # workload's own address, and the app calls that address explicitly.
                "egress": [{
                    "port": {"number": SERVICE_PORT, "protocol": "HTTP", "name": "http"},
                    "bind": w.ip,
                    "captureMode": "NONE",
                    "hosts": ["./*"],
                }],
                "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
            },
        }))
    return objs


def mesh_config():
    """istiod's mesh config: what upstream Envoy can run without pilot-agent."""
    return {
        "rootNamespace": ROOT_NAMESPACE,
        "trustDomain": DOMAIN,
        # No mTLS, automatic or otherwise: no certificates without pilot-agent's SDS.
        "enableAutoMtls": False,
        # No Prometheus provider: its stats filter (istio.stats) is an Istio-only Envoy extension.
        "defaultProviders": {},
        "enablePrometheusMerge": False,
        "enableTracing": False,
        "accessLogFile": "",
        "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
        "defaultConfig": {
            "discoveryAddress": "%s:%d" % (ISTIOD_HOST, XDS_PORT),
            "holdApplicationUntilProxyStarts": False,
        },
    }
