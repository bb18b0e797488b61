"""Our own small BookInfo: productpage, details, reviews v1/v2/v3 and ratings, one process per workload.

`python -m mesh.bookinfo <workload> --namespace NS` serves one workload on its loopback
address (topology.py). The call graph and the client-side timeouts are the original's:

- productpage -> details (3 s) and -> reviews (3 s, tried twice: "reviews unavailable" after ~6 s);
- reviews v1 calls nothing; v2 (black stars) and v3 (red stars) call ratings with a 10 s and a
  2.5 s timeout, and show "ratings unavailable" when it fails or answers an error;
- sign-in as in BookInfo: the page has a sign-in form; `POST /login` sets the cookie `user=<name>`
  (Istio 0.8's productpage) and remembers the user in the session (today's productpage, whose
  session cookie the first page view sets), `GET /logout` forgets both; each redirects back;
- the user (from the `user` cookie, the session, or an incoming `end-user` header) is forwarded
  as the `end-user` header, and the browser's Cookie header is forwarded unchanged, as today's
  productpage does, so that header and cookie matches both see what a browser sent.

Every outbound call goes to the workload's own Envoy (its address, port 9080) with the
service's name as Host, exactly what an intercepted `http://reviews:9080/...` would be.
"""

import argparse
import html
import secrets
import threading
import http.client
import json
import random
import socket
import sys
import time
import urllib.parse
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import topology

PRODUCT_ID = 0
# What the original forwards from the incoming request to the services it calls.
FORWARDED = ("end-user", "cookie", "user-agent", "x-request-id", "traceparent", "tracestate",
             "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags")

DETAILS_TIMEOUT = 3.0
REVIEWS_TIMEOUT = 3.0
REVIEWS_ATTEMPTS = 2
RATINGS_TIMEOUT = {"v2": 10.0, "v3": 2.5}
STAR_COLOR = {"v2": "black", "v3": "red"}

REVIEWS_UNAVAILABLE = "Sorry, product reviews are currently unavailable for this book."
DETAILS_UNAVAILABLE = "Sorry, product details are currently unavailable for this book."
RATINGS_UNAVAILABLE = "Ratings service is currently unavailable"


def asked_status(headers):
    """The status a test asks for with x-test-status (Envoy retries), or None; BookInfo's own calls never send it."""
    text = headers.get("x-test-status", "")
    return int(text) if text.isascii() and text.isdigit() and 200 <= int(text) <= 599 else None


def call(me, service, path, headers, timeout):
    """GET through this workload's Envoy. Returns (status, parsed JSON or None); status None on a timeout/error."""
    conn = http.client.HTTPConnection(me.ip, topology.SERVICE_PORT, timeout=timeout)
    try:
        hdrs = dict(headers)
        hdrs["Host"] = "%s:%d" % (service, topology.SERVICE_PORT)
        conn.request("GET", path, headers=hdrs)
        resp = conn.getresponse()
        body = resp.read()
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        return resp.status, data
    except (OSError, http.client.HTTPException, socket.timeout):
        return None, None
    finally:
        conn.close()


USER_COOKIE = "user"
SESSION_COOKIE = "session"
MAX_FORM_BYTES = 4096


class Sessions:
    """Server-side sessions of the productpage: session id -> signed-in user (or None)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._users = {}

    def new(self):
        sid = secrets.token_urlsafe(16)
        with self._lock:
            self._users[sid] = None
        return sid

    def known(self, sid):
        with self._lock:
            return sid in self._users

    def user(self, sid):
        with self._lock:
            return self._users.get(sid)

    def sign_in(self, sid, user):
        with self._lock:
            self._users[sid] = user

    def sign_out(self, sid):
        with self._lock:
            if sid in self._users:
                self._users[sid] = None


def cookies(headers):
    """The request's cookies as {name: value}; a malformed Cookie header counts as none."""
    jar = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # noqa: BLE001 - a malformed cookie means no cookies
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _user(headers, sessions=None):
    jar = cookies(headers)
    if jar.get(USER_COOKIE):
        return jar[USER_COOKIE]
    if sessions is not None and jar.get(SESSION_COOKIE):
        user = sessions.user(jar[SESSION_COOKIE])
        if user:
            return user
    return headers.get("end-user") or None


def set_cookie(name, value, max_age=None):
    """A Set-Cookie value for the whole site; max_age=0 deletes the cookie."""
    parts = ["%s=%s" % (name, value), "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append("Max-Age=%d" % max_age)
    return "; ".join(parts)


def login_name(body):
    """The user name of a sign-in form body (application/x-www-form-urlencoded), or None."""
    values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).get("username") or [""]
    name = values[0].strip()
    # A cookie value and a header value both: no separators, no controls, nothing to escape.
    if not name or len(name) > 64 or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in name):
        return None
    return name


def back_to(headers):
    """Where a sign-in or sign-out redirects: the page it came from on this site, else the product page."""
    referer = urlsplit(headers.get("referer", ""))
    if referer.path in ("/productpage", "/"):
        return referer.path + ("?" + referer.query if referer.query else "")
    return "/productpage"


def forwarded(headers, user=None):
    out = {}
    for name in FORWARDED:
        value = headers.get(name)
        if value:
            out[name] = value
    if user:
        out["end-user"] = user
    return out


class Handler(BaseHTTPRequestHandler):
    workload = None
    namespace = None
    sessions = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # one line per request, on stdout (the app's log file)
        sys.stdout.write("%s %s\n" % (self.workload.name, fmt % args))

    def reply(self, status, body, content_type="application/json", extra_headers=()):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_echo()
        for name, value in extra_headers:
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_echo(self):
        """Who answered and what reached it, for tests that compare Envoy's routing with a prediction: the
        path and Host as received, every ``x-op-*`` request header (values joined with ','), and ``x-op-resp``,
        a response header for Envoy's response header operations to change."""
        self.send_header("x-workload", self.workload.name)
        self.send_header("x-seen-path", self.path)
        self.send_header("x-seen-authority", self.headers.get("host", ""))
        ops = {}
        for name in self.headers.keys():
            if name.lower().startswith("x-op-"):
                ops[name.lower()] = ",".join(self.headers.get_all(name))
        self.send_header("x-seen-headers", json.dumps(ops, sort_keys=True))
        self.send_header("x-op-resp", "app")

    def headers_lower(self):
        return {k.lower(): v for k, v in self.headers.items()}

    def do_GET(self):  # noqa: N802 - http.server's naming
        w = self.workload
        path = self.path.split("?", 1)[0]
        # A test may ask for a slow answer (route timeouts); BookInfo's own calls never send this header.
        lag = self.headers.get("x-test-latency-ms", "")
        if lag.isascii() and lag.isdigit():
            time.sleep(min(int(lag), 30000) / 1000.0)
        if path == "/health":
            return self.reply(200, {"status": "ok", "workload": w.name})
        status = asked_status(self.headers)
        if status:
            return self.reply(status, {"error": "asked for by x-test-status"})
        if w.app == "productpage" and path == "/logout":
            return self.sign_out()
        if path == "/control":
            return self.reply(200, control(self.path))
        handler = getattr(self, "serve_" + w.app)
        return handler(path)

    def other_method(self):
        """BookInfo serves GET only; other methods wait like GET (x-test-latency-ms), then get 405 (or the
        x-test-status asked for)."""
        lag = self.headers.get("x-test-latency-ms", "")
        if lag.isascii() and lag.isdigit():
            time.sleep(min(int(lag), 30000) / 1000.0)
        self.send_response(asked_status(self.headers) or 405)
        self.send_echo()
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = other_method  # noqa: N815 - http.server's naming

    def do_POST(self):  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_FORM_BYTES:
            self.close_connection = True
            return self.reply(413, {"error": "form too large"})
        body = self.rfile.read(length)
        if self.workload.app != "productpage" or path != "/login":
            return self.other_method()
        return self.sign_in(body)

    # --- sign-in (productpage) ---------------------------------------------------------

    def _session(self, incoming):
        """The request's session id, and the Set-Cookie headers that start a new one when it has none."""
        sid = cookies(incoming).get(SESSION_COOKIE)
        if sid and self.sessions.known(sid):
            return sid, []
        sid = self.sessions.new()
        return sid, [("Set-Cookie", set_cookie(SESSION_COOKIE, sid))]

    def redirect(self, location, extra_headers):
        self.reply(303, "", content_type="text/plain", extra_headers=[("Location", location)] + extra_headers)

    def sign_in(self, body):
        incoming = self.headers_lower()
        user = login_name(body)
        if user is None:
            return self.reply(400, "<p>A user name is letters, digits, '-', '_' or '.', at most 64.</p>",
                              content_type="text/html; charset=utf-8")
        sid, started = self._session(incoming)
        self.sessions.sign_in(sid, user)
        return self.redirect(back_to(incoming), started + [("Set-Cookie", set_cookie(USER_COOKIE, user))])

    def sign_out(self):
        incoming = self.headers_lower()
        sid = cookies(incoming).get(SESSION_COOKIE)
        if sid:
            self.sessions.sign_out(sid)
        return self.redirect(back_to(incoming), [("Set-Cookie", set_cookie(USER_COOKIE, "", max_age=0))])

    # --- the services ------------------------------------------------------------------

    def serve_ratings(self, path):
        if not path.startswith("/ratings/"):
            return self.reply(404, {"error": "not found"})
        return self.reply(200, {"id": PRODUCT_ID, "ratings": {"Reviewer1": 5, "Reviewer2": 4}})

    def serve_details(self, path):
        if not path.startswith("/details/"):
            return self.reply(404, {"error": "not found"})
        return self.reply(200, {
            "id": PRODUCT_ID, "author": "William Shakespeare", "year": 1595, "type": "paperback",
            "pages": 200, "publisher": "PublisherA", "language": "English",
            "ISBN-10": "1234567890", "ISBN-13": "123-1234567890",
        })

    def serve_reviews(self, path):
        if not path.startswith("/reviews/"):
            return self.reply(404, {"error": "not found"})
        w = self.workload
        fail, delay = misbehaviour()
        if delay:
            time.sleep(delay)
        if fail:
            return self.reply(500, {"error": "injected by /control"})
        reviews = [
            {"reviewer": "Reviewer1", "text": "An extremely entertaining play by Shakespeare. "
                                              "The slapstick humour is refreshing!"},
            {"reviewer": "Reviewer2", "text": "Absolutely fun and entertaining. The play lacks thematic "
                                              "depth when compared to other plays by Shakespeare."},
        ]
        if w.version in RATINGS_TIMEOUT:
            status, data = call(w, "ratings", "/ratings/%d" % PRODUCT_ID, forwarded(self.headers_lower()),
                                RATINGS_TIMEOUT[w.version])
            ok = status == 200 and isinstance(data, dict) and "ratings" in data
            for review in reviews:
                if ok:
                    review["rating"] = {"stars": data["ratings"].get(review["reviewer"], 0),
                                        "color": STAR_COLOR[w.version]}
                else:
                    review["rating"] = {"error": RATINGS_UNAVAILABLE}
        return self.reply(200, {"id": str(PRODUCT_ID), "podname": w.name, "clustername": "null",
                                "reviews": reviews})

    def serve_productpage(self, path):
        if path not in ("/productpage", "/"):
            return self.reply(404, {"error": "not found"})
        w = self.workload
        incoming = self.headers_lower()
        _sid, started = self._session(incoming)
        user = _user(incoming, self.sessions)
        headers = forwarded(incoming, user)
        d_status, details = call(w, "details", "/details/%d" % PRODUCT_ID, headers, DETAILS_TIMEOUT)
        reviews, r_status = None, None
        for _attempt in range(REVIEWS_ATTEMPTS):  # the original: timeout 3 s, one retry, whatever went wrong
            r_status, data = call(w, "reviews", "/reviews/%d" % PRODUCT_ID, headers, REVIEWS_TIMEOUT)
            if r_status == 200 and isinstance(data, dict):
                reviews = data
                break
        return self.reply(200, render(user, details if d_status == 200 else None, reviews),
                          content_type="text/html; charset=utf-8", extra_headers=started)


# How a workload misbehaves, set through GET /control on its app port (never through Envoy in the
# tests): a share of requests answered 500, and a delay before every answer. For canary tests.
_BEHAVIOUR = {"fail": 0.0, "delay_ms": 0.0}
_BEHAVIOUR_LOCK = threading.Lock()


def control(raw_path):
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(raw_path).query)
    with _BEHAVIOUR_LOCK:
        for key in _BEHAVIOUR:
            if key in query:
                _BEHAVIOUR[key] = max(0.0, float(query[key][0]))
        return dict(_BEHAVIOUR)


def misbehaviour():
    with _BEHAVIOUR_LOCK:
        fail, delay_ms = _BEHAVIOUR["fail"], _BEHAVIOUR["delay_ms"]
    return random.random() < fail, delay_ms / 1000.0  # noqa: S311 - a test share, not a secret


def render(user, details, reviews):
    """The product page, with the same texts the original shows a reader."""
    out = ["<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Simple Bookstore App</title>",
           "<style>body{font-family:sans-serif;margin:1.5em;max-width:46em} blockquote{margin:1em 0}"
           " font{font-size:1.4em} .error{color:#b00} nav{background:#333;color:#fff;padding:.6em}"
           " nav form{display:inline}</style></head><body>"]
    out.append("<nav>BookInfo Sample &nbsp; ")
    if user:
        out.append("signed in as <b id=\"user\">%s</b> <a id=\"sign-out\" href=\"/logout\" "
                   "style=\"color:#fff\">sign out</a>" % html.escape(user))
    else:
        out.append("<form id=\"sign-in\" method=\"post\" action=\"/login\">"
                   "<input name=\"username\" id=\"username\" placeholder=\"User Name\"> "
                   "<input name=\"passwd\" id=\"passwd\" type=\"password\" placeholder=\"Password\"> "
                   "<button id=\"sign-in-button\" type=\"submit\">Sign in</button></form>")
    out.append("</nav>")
    out.append("<h3>The Comedy of Errors</h3>")
    out.append("<h4>Book Details</h4>")
    if details:
        out.append("<dl><dt>Type:</dt><dd>%s</dd><dt>Pages:</dt><dd>%s</dd></dl>"
                   % (html.escape(str(details.get("type"))), html.escape(str(details.get("pages")))))
    else:
        out.append("<p class=\"error\" id=\"details-error\">%s</p>" % DETAILS_UNAVAILABLE)
    out.append("<h4>Book Reviews</h4>")
    if reviews:
        for review in reviews["reviews"]:
            out.append("<blockquote><p>%s</p><small>%s</small>"
                       % (html.escape(review["text"]), html.escape(review["reviewer"])))
            rating = review.get("rating")
            if rating and "stars" in rating:
                full = int(rating["stars"])
                out.append("<font color=\"%s\">%s%s</font>"
                           % (rating["color"], "\u2605" * full, "\u2606" * (5 - full)))
            elif rating and "error" in rating:
                out.append("<p><i class=\"ratings-error\">%s</i></p>" % html.escape(rating["error"]))
            out.append("</blockquote>")
        out.append("<dl><dt>Reviews served by:</dt><dd id=\"reviews-served-by\">%s</dd></dl>"
                   % html.escape(reviews.get("podname", "")))
    else:
        out.append("<p class=\"error\" id=\"reviews-error\">%s</p>" % REVIEWS_UNAVAILABLE)
    out.append("</body></html>")
    return "\n".join(out)


def serve(name, namespace):
    w = topology.workload(name)
    handler = type("BookInfo", (Handler,), {"workload": w, "namespace": namespace, "sessions": Sessions()})
    server = ThreadingHTTPServer((w.ip, topology.APP_PORT), handler)
    server.daemon_threads = True
    sys.stdout.write("%s serving on %s (started %s)\n" % (name, w.app_url, time.strftime("%H:%M:%S")))
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="mesh.bookinfo")
    parser.add_argument("workload", choices=[w.name for w in topology.WORKLOADS])
    parser.add_argument("--namespace", default=topology.DEFAULT_NAMESPACE)
    args = parser.parse_args(argv)
    serve(args.workload, args.namespace)


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
    main()
