"""A reader of the product page: requests it as a user (or anonymously) and says what the page shows."""

import http.client
import re
import socket
import time
from collections import Counter
from dataclasses import dataclass
from typing import Optional

from . import bookinfo, topology

PAGE_TIMEOUT = 30.0


@dataclass(frozen=True)
class Observation:
    user: Optional[str]
    status: Optional[int]
    elapsed: float
    stars: Optional[str]          # "black", "red" or None
    ratings_unavailable: bool
    reviews_unavailable: bool
    details_unavailable: bool
    reviews_served_by: Optional[str]

    @property
    def outcome(self):
        """What a reader sees in the reviews section, in the article's words."""
        if self.status != 200:
            return "error %s" % self.status
        if self.reviews_unavailable:
            return "reviews unavailable"
        if self.ratings_unavailable:
            return "ratings unavailable"
        if self.stars:
            return "%s stars" % self.stars
        return "no stars"

    def line(self):
        who = self.user or "anonymous"
        served = " (%s)" % self.reviews_served_by if self.reviews_served_by else ""
        return "%-9s %-20s %6.2f s%s" % (who, self.outcome, self.elapsed, served)


def parse(user, status, elapsed, page):
    colors = set(re.findall(r'<font color="(\w+)">', page))
    served = re.search(r'id="reviews-served-by">([^<]*)<', page)
    return Observation(
        user=user, status=status, elapsed=elapsed,
        stars=(sorted(colors)[0] if len(colors) == 1 else ("mixed" if colors else None)),
        ratings_unavailable=bookinfo.RATINGS_UNAVAILABLE in page,
        reviews_unavailable=bookinfo.REVIEWS_UNAVAILABLE in page,
        details_unavailable=bookinfo.DETAILS_UNAVAILABLE in page,
        reviews_served_by=served.group(1) if served else None,
    )


def request(user=None, timeout=PAGE_TIMEOUT):
    """One page view, the way a browser signed in as `user` (BookInfo's login cookie) would make it."""
    page = topology.workload("productpage-v1")
    headers = {"User-Agent": "ack-mesh-client"}
    if user:
        headers["Cookie"] = "user=%s" % user
    started = time.monotonic()
    conn = http.client.HTTPConnection(page.ip, topology.APP_PORT, timeout=timeout)
    try:
        conn.request("GET", "/productpage", headers=headers)
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", "replace")
        status = resp.status
    except (OSError, http.client.HTTPException, socket.timeout) as exc:
        body, status = str(exc), None
    finally:
        conn.close()
    return parse(user, status, time.monotonic() - started, body)


def sample(user, count):
    """`count` page views; returns (Counter of outcomes, [observations])."""
    seen = [request(user) for _view in range(count)]
    return Counter(o.outcome for o in seen), seen


def wait_for(predicate, user, timeout, interval=0.05):
    """Requests the page until predicate(observation) holds `3` times in a row, at most `timeout` s.

    Returns (seconds until the first of those views, the last observation), or raises TimeoutError.
    """
    started = time.monotonic()
    streak, first_ok, last = 0, None, None
    while time.monotonic() - started < timeout:
        t = time.monotonic()
        last = request(user)
        if predicate(last):
            if streak == 0:
                first_ok = t - started
            streak += 1
            if streak >= 3:
                return first_ok, last
        else:
            streak = 0
        time.sleep(interval)
    raise TimeoutError("after %.1f s the page still shows %r for %s" % (timeout, last and last.outcome, user))
