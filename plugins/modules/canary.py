#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: canary
short_description: Move a service's default route to a canary subset in steps, gated on metrics, rolled back by itself
version_added: 0.1.0
description:
  - Shifts the weights of a service's default route (the trailing route without match conditions) from a stable
    subset to a canary subset in steps, for example 10, 25, 50 and 100 percent. Between steps every gate is checked
    for O(pause) seconds, every O(interval) seconds.
  - A gate is a Prometheus query compared with a threshold, or an HTTP probe (status and latency). A gate fails
    after O(gates[].failure_limit) failed checks in a row; a query without data counts as failed unless
    O(gates[].no_data=pass).
  - When a gate fails, or the module is interrupted (SIGINT, SIGTERM), the default route gets back exactly the
    destinations it had when the canary started, and the task fails naming the gate, the value, the threshold and
    the step.
  - Only the default route's destinations change; other routes (user routes, faults) and the default route's other
    fields are kept. Every write is a read-modify-write with the object's C(resourceVersion).
  - Where the canary started is kept in the annotation C(servicemesh.ack.io/canary) of the VirtualService, written
    with the first step and removed at the end. A run that finds it (its predecessor was killed before it could roll
    back) resumes at the weight the cluster holds, checks the gates there again, and never skips a step.
  - In check mode nothing is written and nothing is waited for; RV(plan) lists each step's weights and who would
    see the canary.
author:
  - ack.servicemesh contributors (@ack-servicemesh)
extends_documentation_fragment:
  - ack.servicemesh.auth
  - ack.servicemesh.attributes
options:
  host:
    description: The service whose default route moves, as the VirtualService's destinations name it (V(reviews)).
    type: str
    required: true
  virtual_service:
    description: Name of the VirtualService. Defaults to the first label of O(host).
    type: str
  namespace:
    description: Namespace of the VirtualService. Defaults to the kubeconfig context's namespace, else V(default).
    type: str
  stable_subset:
    description: The subset that has the traffic now.
    type: str
    default: v1
  canary_subset:
    description: The subset being released.
    type: str
    required: true
  steps:
    description: Canary weights in percent, strictly increasing, the last one 100.
    type: list
    elements: int
    default: [10, 25, 50, 100]
  pause:
    description:
      - Seconds the gates are checked at each step before the next one.
      - The gates are checked every O(interval) seconds from the step's write, the first time one interval after
        it, and at least once per step.
    type: float
    default: 60
  interval:
    description: Seconds between two checks of the gates.
    type: float
    default: 10
  action:
    description:
      - V(run) takes the remaining steps with their gates.
      - V(promote) sends all traffic to the canary at once and ends the canary.
      - V(abort) puts back the destinations the canary started from and ends the canary; with no canary in
        progress it changes nothing.
    type: str
    choices: [run, promote, abort]
    default: run
  check_subsets:
    description: Refuse subsets that no DestinationRule of the namespace defines.
    type: bool
    default: true
  gates:
    description: What must hold at every step. No gates means the steps are only paced by O(pause).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name used in messages. Defaults to C(gate-<index>).
        type: str
      type:
        description: V(prometheus) (the default, unless O(gates[].url) is set) or V(http).
        type: str
        choices: [prometheus, http]
      template:
        description:
          - A ready-made query for the canary subset of O(host). V(success_rate) and V(latency_p99) read Istio's
            standard metrics C(istio_requests_total) and C(istio_request_duration_milliseconds);
            V(envoy_success_rate) and V(envoy_latency_p99) read Envoy's own cluster statistics of the calling
            proxies (C(envoy_cluster_upstream_rq_xx), C(envoy_cluster_upstream_rq_time)).
          - Success rates default to O(gates[].comparison=>=) O(gates[].threshold=0.99), latencies (milliseconds)
            to O(gates[].comparison=<=) O(gates[].threshold=500).
        type: str
        choices: [success_rate, latency_p99, envoy_success_rate, envoy_latency_p99]
      window:
        description: Range of the template's C(rate()), a PromQL duration.
        type: str
        default: 1m
      query:
        description: A PromQL expression whose first sample is compared with the threshold.
        type: str
      comparison:
        description: How the value must relate to the threshold to pass.
        type: str
        choices: [">=", ">", "<=", "<"]
      threshold:
        description: The number the value is compared with.
        type: float
      no_data:
        description: Whether a query that returns nothing (or NaN) passes or fails.
        type: str
        choices: [fail, pass]
        default: fail
      failure_limit:
        description: Failed checks in a row that fail the gate.
        type: int
        default: 1
      url:
        description: URL of an HTTP probe (GET).
        type: str
      headers:
        description: Headers of the probe.
        type: dict
      expect_status:
        description: Status codes that pass.
        type: list
        elements: int
        default: [200]
      max_latency_ms:
        description: Slowest answer that passes, in milliseconds.
        type: float
  prometheus:
    description: The Prometheus HTTP API that the gates query.
    type: dict
    suboptions:
      url:
        description: Base URL, for example V(http://prometheus.istio-system:9090).
        type: str
        required: true
      bearer_token:
        description: Bearer token sent with each query.
        type: str
      username:
        description: User for basic authentication.
        type: str
      password:
        description: Password for basic authentication.
        type: str
      ca_file:
        description: CA bundle that signs the server's certificate.
        type: path
      validate_certs:
        description: Verify the server's TLS certificate.
        type: bool
        default: true
      timeout:
        description: Seconds a query may take.
        type: float
        default: 10
"""

EXAMPLES = r"""
- name: Release reviews v3 in four steps, watching its error rate and latency
  ack.servicemesh.canary:
    host: reviews
    stable_subset: v1
    canary_subset: v3
    steps: [10, 25, 50, 100]
    pause: 120
    interval: 15
    prometheus:
      url: http://prometheus.istio-system:9090
    gates:
      - name: success-rate
        template: success_rate
        threshold: 0.99
        failure_limit: 2
      - name: p99
        template: latency_p99
        threshold: 800

- name: Give up on the release
  ack.servicemesh.canary:
    host: reviews
    canary_subset: v3
    action: abort
"""

RETURN = r"""
outcome:
  description: How the run ended.
  returned: always
  type: str
  choices: [promoted, rolled_back, aborted, unchanged, planned]
  sample: promoted
resumed:
  description: Whether a canary left behind by an earlier run was resumed.
  returned: always
  type: bool
start_weights:
  description: Subset to weight of the default route when the canary started.
  returned: always
  type: dict
  sample: {"v1": 100}
final_weights:
  description: Subset to weight of the default route afterwards (in check mode, as now).
  returned: always
  type: dict
  sample: {"v3": 100}
steps:
  description: Each step taken, with its weights and every gate check.
  returned: always
  type: list
  elements: dict
  sample: [{"weight": 10, "weights": {"v1": 90, "v3": 10}, "checks": [{"gate": "success-rate", "value": 1.0,
           "passed": true, "detail": "1 >= 0.99", "failed_in_a_row": 0}]}]
plan:
  description: The steps still to take, with their weights and, per route, the share of its traffic that the
    canary would get (from the simulator).
  returned: always
  type: list
  elements: dict
failed_gate:
  description: The check that failed the canary.
  returned: when a gate failed
  type: dict
"""

import base64
import copy
import json
import signal
import ssl
import time

from ansible.module_utils.six.moves.urllib.parse import urlencode
from ansible.module_utils.urls import open_url

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import canary as rules
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.module import MeshModule
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.routes import converge_http, default_route_index
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.simulate import simulate


class Interrupted(Exception):
    pass


def _on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


class Release:
    """One canary run: reads and writes through converge_http, checks gates with an injectable clock."""

    def __init__(self, mesh, clock=time.monotonic, sleep=time.sleep):
        self.mesh = mesh
        self.params = mesh.params
        self.clock = clock
        self.sleep = sleep
        self.host = self.params["host"]
        self.name = self.params["virtual_service"] or self.host.split(".")[0]
        self.stable = self.params["stable_subset"]
        self.canary = self.params["canary_subset"]
        self.steps_taken = []

    # --- the VirtualService ---------------------------------------------------------------

    def read(self):
        live = self.mesh.resources("VirtualService").get(self.mesh.namespace(), self.name)
        http = ((live or {}).get("spec") or {}).get("http") or []
        index = default_route_index(http)
        if live is None or index is None:
            raise MeshError("has no default route (a trailing route without match) to shift: route the service "
                            "first, for example with ack.servicemesh.all_v1 or traffic_shift",
                            field="VirtualService %s/%s" % (self.mesh.namespace(), self.name), value=None)
        state = rules.read_state(live)
        if state and (state.get("canary"), state.get("stable")) != (self.canary, self.stable):
            raise MeshError("another canary is in progress on this route (stable %s, canary %s); finish or abort it "
                            "first" % (state.get("stable"), state.get("canary")),
                            field="canary_subset", value=self.canary)
        return live, http[index], state

    def write(self, route_of, state_of):
        """Set the default route's destinations and the state annotation, re-applied on a conflict."""

        def edit(http, obj):
            index = default_route_index(http)
            if index is None:
                raise MeshError("lost its default route while the canary ran",
                                field="VirtualService %s/%s" % (self.mesh.namespace(), self.name), value=None)
            http[index] = dict(http[index], route=route_of(http[index]))
            rules.write_state(obj, state_of(rules.read_state(obj)))
            return http

        return converge_http(self.mesh, self.name, self.host, edit, self.params["check_subsets"], create=False)

    def set_weight(self, weight, start_route):
        def route_of(default):
            template = (start_route[0] if start_route else default["route"][0]).get("destination") or {}
            return rules.step_destinations(template, self.stable, self.canary, weight)

        def state_of(state):
            return state or {"stable": self.stable, "canary": self.canary, "start": start_route}

        self.write(route_of, state_of)
        self.steps_taken.append({"weight": weight, "weights": self.weights_at(weight), "checks": []})

    def restore(self, start_route):
        self.write(lambda default: copy.deepcopy(start_route), lambda state: None)

    def weights_at(self, weight):
        return rules.subset_weights({"route": rules.step_destinations({}, self.stable, self.canary, weight)})

    # --- gates ------------------------------------------------------------------------------

    def query(self, expr):
        prom = self.params["prometheus"] or {}
        headers = {"Accept": "application/json"}
        if prom.get("bearer_token"):
            headers["Authorization"] = "Bearer %s" % prom["bearer_token"]
        elif prom.get("username"):
            pair = "%s:%s" % (prom["username"], prom.get("password") or "")
            headers["Authorization"] = "Basic %s" % base64.b64encode(pair.encode("utf-8")).decode("ascii")
        url = "%s/api/v1/query?%s" % (prom["url"].rstrip("/"), urlencode({"query": expr}))
        response = open_url(url, headers=headers, timeout=prom.get("timeout") or 10,
                            validate_certs=prom.get("validate_certs", True), ca_path=prom.get("ca_file"))
        body = json.loads(response.read().decode("utf-8"))
        if body.get("status") != "success":
            raise ValueError("Prometheus answered %s: %s" % (body.get("errorType"), body.get("error")))
        data = body.get("data") or {}
        result = data.get("result")
        if data.get("resultType") == "scalar":
            return float(result[1])
        if not result:
            return None
        return float(result[0]["value"][1])

    def probe(self, gate):
        started = self.clock()
        try:
            response = open_url(gate["url"], headers=gate["headers"], timeout=10,
                                validate_certs=(self.params["prometheus"] or {}).get("validate_certs", True))
            status = response.getcode()
        except Exception as exc:  # noqa: BLE001 - any failure of the probe is a failed check
            status = getattr(exc, "code", None)
        return status, (self.clock() - started) * 1000.0

    def check(self, gate):
        if gate["type"] == "http":
            status, latency = self.probe(gate)
            passed, detail = rules.judge_probe(gate, status, latency)
            return status, passed, detail
        try:
            value = self.query(gate["query"])
        except (ValueError, KeyError, IndexError, TypeError, OSError, ssl.SSLError) as exc:
            return None, False, "query failed: %s" % exc
        passed, detail = rules.judge_metric(gate, value)
        return value, passed, detail

    def watch(self, gates):
        """Check every gate for the pause; return (gate, check) of the first to fail for good, else None."""
        tracker = rules.GateTracker(gates)
        deadline = self.clock() + float(self.params["pause"])
        while True:
            # The first check waits one interval, so that the new weights have carried traffic.
            remaining = deadline - self.clock()
            self.sleep(max(0.0, min(float(self.params["interval"]), remaining)))
            for gate in gates:
                value, passed, detail = self.check(gate)
                check = tracker.record(gate, value, passed, detail)
                self.steps_taken[-1]["checks"].append(check)
                if tracker.failed() is gate:
                    return gate, check
            if deadline - self.clock() <= 0:
                return None


def plan_of(release, live, todo, start_route):
    """Each remaining step's weights, and what share of each route's traffic the canary would get."""
    plan = []
    namespace = release.mesh.namespace()
    for weight in todo:
        obj = copy.deepcopy(live)
        http = obj["spec"]["http"]
        index = default_route_index(http)
        template = (start_route[0] if start_route else http[index]["route"][0]).get("destination") or {}
        http[index]["route"] = rules.step_destinations(template, release.stable, release.canary, weight)
        everyone = simulate([obj], {"host": release.host}, namespace)
        routes = [{"route": route.get("name") or "http[%d]" % i, "match": route.get("match"),
                   "canary_percent": rules.canary_share(route, release.canary)} for i, route in enumerate(http)]
        plan.append({"weight": weight, "weights": release.weights_at(weight), "routes": routes,
                     "anonymous_canary_percent": int(round(100 * sum(
                         d.get("share", 0) for d in everyone["destinations"] if d.get("subset") == release.canary)))})
    return plan


def run(mesh):
    params = mesh.params
    steps, gates = rules.plan_problems(dict(params, namespace_resolved=mesh.namespace()))
    release = Release(mesh)
    live, default, state = release.read()
    resumed = state is not None
    start_route = copy.deepcopy(state["start"] if state else default.get("route") or [])
    start_weights = rules.subset_weights({"route": start_route})
    current = rules.canary_share(default, release.canary)
    action = params["action"]
    result = dict(resumed=resumed, start_weights=start_weights, steps=release.steps_taken, plan=[])

    def finish(outcome, changed, **extra):
        _live, now, _state = release.read() if not mesh.check_mode else (None, default, None)
        mesh.module.exit_json(changed=changed, outcome=outcome, final_weights=rules.subset_weights(now),
                              **dict(result, **extra))

    if action == "abort":
        if not state:
            return finish("unchanged", False)
        if not mesh.check_mode:
            release.restore(start_route)
        return finish("aborted", True)

    if action == "promote":
        todo = [] if current == 100 and not state else [100]
    else:
        todo = rules.remaining_steps(steps, current, resumed)
    result["plan"] = plan_of(release, live, todo, start_route)
    if not todo and not state:
        return finish("unchanged", False)
    if mesh.check_mode:
        return finish("planned", True)

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        for index, weight in enumerate(todo):
            release.set_weight(weight, start_route)
            failed = release.watch(gates) if action == "run" else None
            if failed:
                gate, check = failed
                release.restore(start_route)
                mesh.module.fail_json(msg=rules.failure_message(gate, check, weight, index, len(todo)),
                                      outcome="rolled_back", failed_gate=dict(check, step=weight), changed=True,
                                      final_weights=start_weights, **result)
        release.write(lambda route: route["route"], lambda state: None)
    except (Interrupted, KeyboardInterrupt) as exc:
        release.restore(start_route)
        mesh.module.fail_json(msg="canary interrupted (%s) at %d %%: rolled back to %s"
                              % (exc or "SIGINT", release.steps_taken[-1]["weight"] if release.steps_taken else 0,
                                 start_weights), outcome="rolled_back", changed=True, final_weights=start_weights,
                              **result)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return finish("promoted", True)


GATE_OPTIONS = dict(
    name=dict(type="str"),
    type=dict(type="str", choices=["prometheus", "http"]),
    template=dict(type="str", choices=sorted(rules.TEMPLATES)),
    window=dict(type="str", default="1m"),
    query=dict(type="str"),
    comparison=dict(type="str", choices=[">=", ">", "<=", "<"]),
    threshold=dict(type="float"),
    no_data=dict(type="str", choices=["fail", "pass"], default="fail"),
    failure_limit=dict(type="int", default=1),
    url=dict(type="str"),
    headers=dict(type="dict"),
    expect_status=dict(type="list", elements="int", default=[200]),
    max_latency_ms=dict(type="float"),
)


def main():
    mesh = MeshModule(
        argument_spec=dict(
            host=dict(type="str", required=True),
            virtual_service=dict(type="str"),
            namespace=dict(type="str"),
            stable_subset=dict(type="str", default="v1"),
            canary_subset=dict(type="str", required=True),
            steps=dict(type="list", elements="int", default=[10, 25, 50, 100]),
            pause=dict(type="float", default=60),
            interval=dict(type="float", default=10),
            action=dict(type="str", choices=["run", "promote", "abort"], default="run"),
            check_subsets=dict(type="bool", default=True),
            gates=dict(type="list", elements="dict", default=[], options=GATE_OPTIONS),
            prometheus=dict(type="dict", options=dict(
                url=dict(type="str", required=True),
                bearer_token=dict(type="str", no_log=True),
                username=dict(type="str"),
                password=dict(type="str", no_log=True),
                ca_file=dict(type="path"),
                validate_certs=dict(type="bool", default=True),
                timeout=dict(type="float", default=10),
            )),
        ),
        supports_check_mode=True,
    )
    mesh.run(run)


if __name__ == "__main__":
    main()
