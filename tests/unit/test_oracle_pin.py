"""istio-validate must judge with the very Istio that the mesh lab's istiod is built from."""

import os
import re

TESTS = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


def _istio_requirement(path):
    with open(path) as f:
        return re.search(r"^require istio\.io/istio (\S+)$", f.read(), re.MULTILINE).group(1)


def test_oracle_and_istiod_pin_the_same_istio():
    istiod = _istio_requirement(os.path.join(TESTS, "mesh", "go.mod"))
    oracle = _istio_requirement(os.path.join(TESTS, "mesh", "istio-validate", "go.mod"))
    assert oracle == istiod


def test_oracle_go_sum_pins_istio_like_istiod():
    def lines(path):
        with open(path) as f:
            return {line for line in f if line.startswith("istio.io/")}
    assert lines(os.path.join(TESTS, "mesh", "istio-validate", "go.sum")) >= {
        line for line in lines(os.path.join(TESTS, "mesh", "go.sum")) if line.startswith("istio.io/istio ")}
