"""The discovery cache: keyed by server and identity, private, short-lived, never holding a credential."""

import json
import os
import stat

import pytest

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh import api
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.client import Settings


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(api.CACHE_ENV, str(tmp_path))
    return tmp_path


def settings(server="https://127.0.0.1:16443", user="admin", token="secret-token-value"):
    s = Settings()
    s.server, s.user, s.token = server, user, token
    return s


def test_a_stored_entry_is_read_back_until_the_ttl_passes():
    s = settings()
    assert api.cached_served(s) is None
    api.store_served(s, ["v1", "v1beta1", "v1alpha3"])
    assert api.cached_served(s) == ["v1", "v1beta1", "v1alpha3"]
    stamp = json.load(open(api.cache_path(s)))["time"]
    assert api.cached_served(s, now=stamp + api.DISCOVERY_TTL - 1) == ["v1", "v1beta1", "v1alpha3"]
    assert api.cached_served(s, now=stamp + api.DISCOVERY_TTL) is None
    # A clock that went backwards does not make an entry live forever.
    assert api.cached_served(s, now=stamp - 10) is None


def test_entries_are_per_server_and_identity_and_hold_no_credential(cache):
    api.store_served(settings(), ["v1"])
    assert api.cached_served(settings(server="https://127.0.0.1:16444")) is None
    assert api.cached_served(settings(user="mesh-operator")) is None
    assert api.cached_served(settings(token="another-token")) is None
    path = api.cache_path(settings())
    assert "secret-token-value" not in open(path).read()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


def test_forget_removes_the_entry_and_bad_entries_count_as_missing():
    s = settings()
    api.store_served(s, ["v1"])
    api.forget_served(s)
    assert api.cached_served(s) is None
    api.forget_served(s)
    for text in ("not json", json.dumps(["v1"]), json.dumps({"served": "v1", "time": 1}),
                 json.dumps({"served": ["v1"], "time": "now"})):
        with open(api.cache_path(s), "w") as handle:
            handle.write(text)
        assert api.cached_served(s) is None


def test_an_unwritable_cache_is_only_slower(cache, monkeypatch):
    monkeypatch.setenv(api.CACHE_ENV, str(cache / "file"))
    (cache / "file").write_text("in the way")
    api.store_served(settings(), ["v1"])
    assert api.cached_served(settings()) is None


def test_pick_prefers_the_newest_known_version():
    assert api.pick(["v1alpha3", "v1beta1"]) == "v1beta1"
    assert api.pick(["v2"]) is None
