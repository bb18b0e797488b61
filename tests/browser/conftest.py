"""Browser tests: headless Chromium reads the lab's product page (tests/mesh/browser.py)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
for path in (TESTS, os.path.join(TESTS, "cluster")):
    if path not in sys.path:
        sys.path.insert(0, path)
