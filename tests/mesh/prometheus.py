"""A real Prometheus (Debian's package) that scrapes every Envoy of the lab, for the canary's gates.

It reads each Envoy's own statistics from its admin interface (`/stats/prometheus`), once a
second, so a gate over `envoy_cluster_upstream_rq_xx` sees a failing canary within a few seconds.
Upstream Envoy has no `istio.stats` filter, so the lab has Envoy's metrics, not Istio's
`istio_requests_total`.
"""

import json
import os
import shutil
import urllib.parse
import urllib.request

from . import topology

HOST = "127.0.0.1"
PORT = 19090
SCRAPE_INTERVAL = "1s"


class PrometheusMissing(RuntimeError):
    pass


def binary():
    path = shutil.which("prometheus") or ("/usr/bin/prometheus" if os.path.exists("/usr/bin/prometheus") else None)
    if path is None:
        raise PrometheusMissing("prometheus is not installed: `make mesh-deps` installs Debian's package")
    return path


def url(path=""):
    return "http://%s:%d%s" % (HOST, PORT, path)


def config():
    """Prometheus' configuration as JSON, which is valid YAML."""
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL,
                   "scrape_timeout": SCRAPE_INTERVAL},
        "scrape_configs": [{
            "job_name": "envoy",
            "metrics_path": "/stats/prometheus",
            "static_configs": [{"targets": ["%s:%d" % (w.ip, topology.ADMIN_PORT)],
                                "labels": {"workload": w.name, "app": w.app, "version": w.version}}
                               for w in topology.WORKLOADS],
        }],
    }


def argv(state_dir):
    path = os.path.join(state_dir, "prometheus.yml")
    with open(path, "w") as f:
        json.dump(config(), f, indent=1)
    return [binary(), "--config.file=" + path, "--storage.tsdb.path=" + os.path.join(state_dir, "prometheus-data"),
            "--storage.tsdb.retention.time=2h", "--web.listen-address=%s:%d" % (HOST, PORT), "--log.level=warn"]


def _get(path, timeout=3):
    with urllib.request.urlopen(url(path), timeout=timeout) as resp:  # noqa: S310 - loopback only
        return resp.status, json.loads(resp.read().decode("utf-8") or "null") if path.startswith("/api") else None


def ready():
    """(done, detail): Prometheus answers and has scraped every Envoy at least once."""
    status, body = _get("/api/v1/targets")
    targets = (body or {}).get("data", {}).get("activeTargets", [])
    healthy = [t for t in targets if t.get("health") == "up"]
    return status == 200 and len(healthy) == len(topology.WORKLOADS), "%d of %d targets up" % (
        len(healthy), len(topology.WORKLOADS))


def query(expr):
    """The first sample's value of an instant query, or None when it returns nothing."""
    _status, body = _get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    result = body["data"]["result"]
    if body["data"]["resultType"] == "scalar":
        return float(result[1])
    return float(result[0]["value"][1]) if result else None
