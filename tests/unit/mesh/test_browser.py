"""tests/mesh/browser.py: the Chromium command line the browser tests and the demo rely on."""

from ansible_collections.ack.servicemesh.tests.mesh import browser, topology


def test_options_keep_chromium_offline_headless_and_on_a_fresh_profile():
    args = browser.options("/tmp/profile-x").arguments
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        assert flag in args
    assert "--user-data-dir=/tmp/profile-x" in args


def test_the_page_goes_through_productpages_envoy_by_name():
    args = browser.options("/tmp/p").arguments
    page = topology.workload("productpage-v1")
    assert "--host-resolver-rules=MAP productpage %s" % page.ip in args
    assert browser.PAGE_URL == "http://productpage:%d/productpage" % topology.SERVICE_PORT
    assert topology.SERVICE_PORT != topology.APP_PORT  # the Envoy's port, not the app's


def test_options_name_debians_chromium():
    assert browser.options("/tmp/p").binary_location == browser.CHROMIUM
