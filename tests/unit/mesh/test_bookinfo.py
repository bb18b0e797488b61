"""The lab productpage's sign-in (tests/mesh/bookinfo.py): who the user is, what the form sets, where it goes."""

import http.client
import threading
from http.server import ThreadingHTTPServer

import pytest

from ansible_collections.ack.servicemesh.tests.mesh import bookinfo, topology


def test_user_cookie_wins_over_session_and_header():
    sessions = bookinfo.Sessions()
    sid = sessions.new()
    sessions.sign_in(sid, "alice")
    headers = {"cookie": "session=%s; user=jason" % sid, "end-user": "bob"}
    assert bookinfo._user(headers, sessions) == "jason"


def test_session_alone_identifies_the_user_as_in_todays_productpage():
    sessions = bookinfo.Sessions()
    sid = sessions.new()
    sessions.sign_in(sid, "jason")
    assert bookinfo._user({"cookie": "theme=dark; session=%s" % sid}, sessions) == "jason"
    sessions.sign_out(sid)
    assert bookinfo._user({"cookie": "theme=dark; session=%s" % sid}, sessions) is None


def test_unknown_session_and_no_cookie_fall_back_to_the_end_user_header():
    sessions = bookinfo.Sessions()
    assert bookinfo._user({"cookie": "session=forged"}, sessions) is None
    assert bookinfo._user({"end-user": "jason"}, sessions) == "jason"
    assert bookinfo._user({"cookie": "\x00bad", "end-user": "jason"}, sessions) == "jason"


def test_forwarded_keeps_the_browsers_cookie_header_verbatim_and_adds_end_user():
    out = bookinfo.forwarded({"cookie": "session=abc; user=jason", "accept": "text/html"}, "jason")
    assert out == {"cookie": "session=abc; user=jason", "end-user": "jason"}


@pytest.mark.parametrize("body, name", [
    (b"username=jason&passwd=x", "jason"),
    (b"username=+jason+", "jason"),
    (b"username=j.a-s_on", "j.a-s_on"),
    (b"username=", None),
    (b"passwd=x", None),
    (b"username=ja%3Bson", None),       # ';' would end the cookie value
    (b"username=ja+son", None),
    (b"username=j%C3%A4son", None),     # non-ASCII
    (b"username=" + b"a" * 65, None),
])
def test_login_name_accepts_only_cookie_safe_names(body, name):
    assert bookinfo.login_name(body) == name


@pytest.mark.parametrize("referer, target", [
    ("http://productpage:9080/productpage", "/productpage"),
    ("http://productpage:9080/productpage?u=normal", "/productpage?u=normal"),
    ("http://productpage:9080/", "/"),
    ("http://elsewhere.example/steal", "/productpage"),
    ("", "/productpage"),
])
def test_back_to_stays_on_the_product_page(referer, target):
    assert bookinfo.back_to({"referer": referer}) == target


def test_set_cookie_deletes_with_max_age_zero():
    assert bookinfo.set_cookie("user", "", max_age=0) == "user=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
    assert bookinfo.set_cookie("user", "jason") == "user=jason; Path=/; HttpOnly; SameSite=Lax"


def test_render_shows_the_form_to_nobody_and_sign_out_to_a_user():
    anonymous = bookinfo.render(None, None, None)
    assert 'action="/login"' in anonymous and 'name="username"' in anonymous and "sign-out" not in anonymous
    jason = bookinfo.render("jason", None, None)
    assert '<b id="user">jason</b>' in jason and 'href="/logout"' in jason and 'action="/login"' not in jason


@pytest.fixture()
def productpage():
    """The productpage handler on a free loopback port (its calls to details/reviews may fail: not needed here)."""
    w = topology.Workload("productpage", "v1", "127.0.0.1")
    handler = type("BookInfo", (bookinfo.Handler,), {"workload": w, "namespace": "t",
                                                     "sessions": bookinfo.Sessions()})
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("Location"), resp.msg.get_all("Set-Cookie") or []
    finally:
        conn.close()


def test_sign_in_sets_session_and_user_cookies_and_redirects_back(productpage):
    status, location, cookies = _request(
        productpage, "POST", "/login", body="username=jason&passwd=secret",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Referer": "http://productpage:9080/productpage"})
    assert status == 303 and location == "/productpage"
    names = [c.split("=", 1)[0] for c in cookies]
    assert names == ["session", "user"] and cookies[1].startswith("user=jason;")


def test_sign_in_keeps_an_existing_session_and_sign_out_clears_the_user(productpage):
    _status, _location, first = _request(productpage, "POST", "/login", body="username=jason")
    sid = first[0].split(";", 1)[0].split("=", 1)[1]
    _status, _location, again = _request(productpage, "POST", "/login", body="username=jason",
                                         headers={"Cookie": "session=%s" % sid})
    assert [c.split("=", 1)[0] for c in again] == ["user"]
    status, location, out = _request(productpage, "GET", "/logout", headers={"Cookie": "session=%s; user=jason" % sid})
    assert status == 303 and location == "/productpage"
    assert out == ["user=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"]


def test_bad_sign_in_is_refused_and_sets_nothing(productpage):
    status, _location, cookies = _request(productpage, "POST", "/login", body="username=a%3Bb")
    assert status == 400 and cookies == []
    status, _location, cookies = _request(productpage, "POST", "/login", body="x" * (bookinfo.MAX_FORM_BYTES + 1))
    assert status == 413 and cookies == []


def test_asked_status_is_a_status_code_or_nothing():
    assert bookinfo.asked_status({"x-test-status": "503"}) == 503
    for text in ("", "99", "600", "5O3", "\u0665\u0660\u0663"):
        assert bookinfo.asked_status({"x-test-status": text}) is None
