"""write_batch: every dry run before the first write, levels in order, writes of a level together, 409s re-read."""

import threading
import time

import pytest

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.api import Conflict
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.batch import Write, levels, write_batch
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError


class Server:
    """An API server in memory that logs each request and how many ran at once."""

    def __init__(self, delay=0.05):
        self.lock = threading.Lock()
        self.log = []
        self.objects = {}
        self.refuse = set()
        self.conflicts = {}
        self.delay = delay
        self.running = 0
        self.peak = 0

    def call(self, entry, refuse=False, conflict=False):
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            time.sleep(self.delay)
            with self.lock:
                self.log.append(entry)
            if conflict:
                raise Conflict(entry[2])
            if refuse:
                raise MeshError("%s: spec.http[0].route[0].weight: must be >= 0 (got -5)" % entry[2])
        finally:
            with self.lock:
                self.running -= 1


class FakeResources:
    def __init__(self, server, kind):
        self.server = server
        self.kind = kind

    def describe(self, namespace, name):
        return "%s %s/%s" % (self.kind, namespace, name)

    def get(self, namespace, name):
        self.server.call(("get", self.kind, name))
        return self.server.objects.get((self.kind, name))

    def _write(self, verb, obj, dry_run):
        name = obj["metadata"]["name"]
        key = (self.kind, name)
        conflict = not dry_run and self.server.conflicts.get(key, 0) > 0
        if conflict:
            self.server.conflicts[key] -= 1
            # Someone else's write lands first.
            self.server.objects[key] = dict(obj, spec={"other": True}, metadata=dict(obj["metadata"]))
        self.server.call(("dry-" + verb if dry_run else verb, self.kind, name),
                         refuse=dry_run and key in self.server.refuse, conflict=conflict)
        if not dry_run:
            self.server.objects[key] = obj
        return obj

    def create(self, obj, dry_run=False):
        return self._write("create", obj, dry_run)

    def replace(self, obj, dry_run=False):
        return self._write("update", obj, dry_run)

    def delete(self, obj, dry_run=False):
        raise AssertionError("not used")


def change_to(spec):
    def change(live):
        obj = live or {"metadata": {}}
        obj = dict(obj, spec=dict(obj.get("spec") or {}, **spec))
        return obj
    return change


def scenario(server, hosts=("details", "productpage", "ratings", "reviews")):
    """mesh_routing's shape: a DestinationRule per host (level 0), then a VirtualService per host (level 1)."""
    rules, services = FakeResources(server, "DestinationRule"), FakeResources(server, "VirtualService")
    writes = [Write(rules, "ns", h, None, change_to({"host": h}), level=0) for h in hosts]
    writes += [Write(services, "ns", h, None, change_to({"hosts": [h]}), level=1) for h in hosts]
    return writes


def test_every_dry_run_is_sent_before_the_first_write_and_at_the_same_time():
    server = Server()
    actions, _diffs = write_batch(scenario(server))
    verbs = [entry[0] for entry in server.log]
    assert verbs == ["dry-create"] * 8 + ["create"] * 8
    assert set(actions.values()) == {"created"}
    assert server.peak == 4


def test_virtual_services_are_written_only_after_every_destination_rule():
    server = Server()
    write_batch(scenario(server))
    writes = [entry[1] for entry in server.log if not entry[0].startswith("dry-")]
    assert writes == ["DestinationRule"] * 4 + ["VirtualService"] * 4


def test_a_refused_dry_run_writes_nothing_and_names_the_object():
    server = Server()
    server.refuse.add(("VirtualService", "ratings"))
    with pytest.raises(MeshError) as info:
        write_batch(scenario(server))
    assert "nothing was written" in info.value.msg
    assert "VirtualService ns/ratings" in info.value.msg and "(got -5)" in info.value.msg
    assert [entry for entry in server.log if not entry[0].startswith("dry-")] == []
    assert server.objects == {}


def test_of_several_refused_dry_runs_the_first_in_order_is_reported():
    server = Server()
    server.refuse.update([("DestinationRule", "reviews"), ("VirtualService", "details")])
    with pytest.raises(MeshError) as info:
        write_batch(scenario(server))
    assert "DestinationRule ns/reviews" in info.value.msg
    assert server.objects == {}


def test_a_conflict_is_re_read_and_re_applied_without_losing_the_other_write():
    server = Server()
    server.conflicts[("VirtualService", "reviews")] = 1
    actions, _diffs = write_batch(scenario(server))
    assert actions["VirtualService/reviews"] == "updated"
    assert ("get", "VirtualService", "reviews") in server.log
    # Our change went onto what the other writer stored, which is kept.
    assert server.objects[("VirtualService", "reviews")]["spec"] == {"other": True, "hosts": ["reviews"]}


def test_one_change_sends_no_dry_run_and_unchanged_objects_no_request():
    server = Server()
    writes = scenario(server, hosts=("reviews",))
    writes[0].live = {"metadata": {"name": "reviews"}, "spec": {"host": "reviews"}}
    actions, _diffs = write_batch(writes)
    assert actions == {"DestinationRule/reviews": "unchanged", "VirtualService/reviews": "created"}
    assert server.log == [("create", "VirtualService", "reviews")]


def test_check_mode_sends_every_write_as_one_dry_run_all_at_once():
    server = Server()
    actions, _diffs = write_batch(scenario(server), check_mode=True)
    assert sorted(entry[0] for entry in server.log) == ["dry-create"] * 8
    assert set(actions.values()) == {"created"} and server.objects == {}


def test_the_pool_bound_holds_for_dry_runs_and_writes():
    server = Server()
    write_batch(scenario(server, hosts=["h%d" % i for i in range(10)]), workers=3)
    assert server.peak == 3 and len(server.log) == 40


def test_levels_group_by_level_lowest_first_keeping_the_order_given():
    server = Server()
    writes = scenario(server, hosts=("a", "b"))
    assert [[w.key for w in group] for group in levels(writes[::-1])] == [
        ["DestinationRule/b", "DestinationRule/a"], ["VirtualService/b", "VirtualService/a"]]
    assert [[w.key for w in group] for group in levels(writes, check_mode=True)] == [[w.key for w in writes]]


def test_results_and_diffs_keep_the_order_of_the_writes():
    server = Server()
    writes = scenario(server)
    actions, diffs = write_batch(writes)
    assert list(actions) == [w.key for w in writes]
    assert [d["before_header"] for d in diffs] == [w.key for w in writes]
