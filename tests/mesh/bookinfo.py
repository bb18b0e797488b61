"""Our own small BookInfo: productpage, details, reviews v1/v2/v3 and ratings, one process per workload.

`python -m mesh.bookinfo <workload> --namespace NS` serves one workload on its loopback
address (topology.py). The call graph and the client-side timeouts are the original's:

- productpage -> details (3 s) and -> reviews (3 s, tried twice: "reviews unavailable" after ~6 s);
- reviews v1 calls nothing; v2 (black stars) and v3 (red stars) call ratings with a 10 s and a
  2.5 s timeout, and show "ratings unavailable" when it fails or answers an error;
- the user (cookie `user=<name>`, as after BookInfo's login) is forwarded as the `end-user`
  header, together with the cookie, so that header and cookie matches both work.

Every outbound call goes to the workload's own Envoy (its address, port 9080) with the
service's name as Host, exactly what an intercepted `http://reviews:9080/...` would be.
"""

import argparse
import html
import http.client
import json
import random
import socket
import sys
import threading
import time
import urllib.parse
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


def _user(headers):
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # noqa: BLE001 - a malformed cookie means no user
        pass
    if "user" in cookie and cookie["user"].value:
        return cookie["user"].value
    return headers.get("end-user") or None


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
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # one line per request, on stdout (the app's log file)
        sys.stdout.write("%s %s\n" % (self.workload.name, fmt % args))

    def reply(self, status, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Workload", self.workload.name)  # who answered, even with an error
        self.end_headers()
        self.wfile.write(data)

    def headers_lower(self):
        return {k.lower(): v for k, v in self.headers.items()}

    def do_GET(self):  # noqa: N802 - http.server's naming
        w = self.workload
        path = self.path.split("?", 1)[0]
        if path == "/health":
            return self.reply(200, {"status": "ok", "workload": w.name})
        if path == "/control":
            return self.reply(200, control(self.path))
        handler = getattr(self, "serve_" + w.app)
        return handler(path)

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
        user = _user(incoming)
        headers = forwarded(incoming, user)
        d_status, details = call(w, "details", "/details/%d" % PRODUCT_ID, headers, DETAILS_TIMEOUT)
        reviews, r_status = None, None
        for _attempt in range(REVIEWS_ATTEMPTS):  # the original: timeout 3 s, one retry, whatever went wrong
            r_status, data = call(w, "reviews", "/reviews/%d" % PRODUCT_ID, headers, REVIEWS_TIMEOUT)
            if r_status == 200 and isinstance(data, dict):
                reviews = data
                break
        return self.reply(200, render(user, details if d_status == 200 else None, reviews),
                          content_type="text/html; charset=utf-8")


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
    out = ["<!DOCTYPE html><html><head><title>Simple Bookstore App</title></head><body>"]
    out.append("<p>%s</p>" % (("signed in as <b id=\"user\">%s</b>" % html.escape(user)) if user else "sign in"))
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
    handler = type("BookInfo", (Handler,), {"workload": w, "namespace": namespace})
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
