"""A real reader of the product page: headless Chromium driven by Selenium, through productpage's Envoy.

The browser opens `http://productpage:9080/productpage`, and Chromium resolves `productpage` to
productpage's workload address (`--host-resolver-rules`), so the request reaches productpage's Envoy
with `Host: productpage:9080` and is routed by the productpage VirtualService, as through an ingress.
Signing in fills BookInfo's form; from then on the browser sends every cookie it holds, joined by
`; `, as browsers do. What the page shows is read with the same parser as the script client's
(client.parse), so both readers mean the same thing by "black stars".

Needs Debian's `chromium` and `chromium-driver` (`make browser-deps`) and the `selenium` package.
"""

import os
import shutil
import tempfile
import time

from . import client, topology

CHROMIUM = os.environ.get("ACK_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ACK_CHROMEDRIVER", "/usr/bin/chromedriver")
INGRESS_HOST = "productpage"
PAGE_URL = "http://%s:%d/productpage" % (INGRESS_HOST, topology.SERVICE_PORT)
WINDOW = (900, 760)
PAGE_TIMEOUT = 30.0

# Headless as root on a machine without internet: no sandbox (root), no GPU, and none of the
# background traffic (component updates, sync, QUIC probes) that would try to reach outside hosts.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--disable-dev-shm-usage",
)

# Navigation Timing of the current document: the HTTP status (of the last response, after redirects)
# and how long the reader waited, from the navigation's start to the last byte of the page.
_TIMING = """
const nav = performance.getEntriesByType('navigation')[0];
return nav ? [nav.responseStatus || null, nav.responseEnd - nav.startTime] : [null, null];
"""


class BrowserError(Exception):
    pass


def available():
    """None if Chromium, its driver and Selenium are there, else what is missing."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    try:
        import selenium  # noqa: F401 pylint: disable=unused-import,import-outside-toplevel
    except ImportError:
        missing.append("the selenium Python package")
    return ", ".join(missing) or None


def options(user_data_dir):
    from selenium.webdriver.chrome.options import Options  # pylint: disable=import-outside-toplevel

    opts = Options()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument("--user-data-dir=%s" % user_data_dir)
    opts.add_argument("--window-size=%d,%d" % WINDOW)
    productpage = topology.workload("productpage-v1")
    opts.add_argument("--host-resolver-rules=MAP %s %s" % (INGRESS_HOST, productpage.ip))
    return opts


class Browser:
    """One headless Chromium with a fresh profile; `with Browser() as b: b.sign_in("jason"); b.view()`."""

    def __init__(self):
        self.driver = None
        self.user = None
        self._profile = None

    def __enter__(self):
        missing = available()
        if missing:
            raise BrowserError("cannot start the browser, missing: %s (run `make browser-deps`)" % missing)
        from selenium import webdriver  # pylint: disable=import-outside-toplevel
        from selenium.webdriver.chrome.service import Service  # pylint: disable=import-outside-toplevel

        self._profile = tempfile.mkdtemp(prefix="ack-chromium-")
        log = os.path.join(self._profile, "chromedriver.log")
        self.driver = webdriver.Chrome(options=options(self._profile),
                                       service=Service(executable_path=CHROMEDRIVER, log_output=log))
        self.driver.set_page_load_timeout(PAGE_TIMEOUT)
        return self

    def __exit__(self, *exc):
        try:
            if self.driver is not None:
                self.driver.quit()
        finally:
            self.driver = None
            if self._profile:
                shutil.rmtree(self._profile, ignore_errors=True)

    def _observe(self, started):
        status, elapsed_ms = self.driver.execute_script(_TIMING)
        elapsed = elapsed_ms / 1000.0 if elapsed_ms is not None else time.monotonic() - started
        return client.parse(self.user, status, elapsed, self.driver.page_source)

    def view(self):
        """Loads the product page once; returns what it shows (client.Observation)."""
        started = time.monotonic()
        self.driver.get(PAGE_URL)
        return self._observe(started)

    def sign_in(self, user):
        """Opens the page, fills the sign-in form as `user` and submits it; returns the page it lands on."""
        from selenium.webdriver.common.by import By  # pylint: disable=import-outside-toplevel

        self.driver.get(PAGE_URL)
        self.driver.find_element(By.ID, "username").send_keys(user)
        self.driver.find_element(By.ID, "passwd").send_keys("password")
        started = time.monotonic()
        self.driver.find_element(By.ID, "sign-in-button").click()
        self._wait(lambda: self.driver.find_elements(By.ID, "user"), "the page to show %s signed in" % user)
        self.user = user
        return self._observe(started)

    def sign_out(self):
        from selenium.webdriver.common.by import By  # pylint: disable=import-outside-toplevel

        self.driver.find_element(By.ID, "sign-out").click()
        self._wait(lambda: self.driver.find_elements(By.ID, "sign-in"), "the sign-in form")
        self.user = None

    def cookie_names(self):
        """Names of the cookies the browser holds for the product page, in the order it sends them."""
        return [c["name"] for c in self.driver.get_cookies()]

    def screenshot(self, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if not self.driver.save_screenshot(path):
            raise BrowserError("Chromium wrote no screenshot to %s" % path)
        return path

    def _wait(self, found, what, timeout=PAGE_TIMEOUT):
        deadline = time.monotonic() + timeout
        while not found():
            if time.monotonic() > deadline:
                raise BrowserError("after %.0f s still waiting for %s" % (timeout, what))
            time.sleep(0.05)
