"""Every upstream version the local control plane depends on, in one place.

The Kubernetes and etcd versions must agree with go.mod next to this file: go.mod
decides what gets compiled, these constants name the cache directories the binaries
land in and the version stamped into them (a unit test checks that the two agree).
"""

KUBERNETES_VERSION = "1.34.4"

# The etcd release Kubernetes 1.34.4 itself depends on.
ETCD_VERSION = "3.6.4"

# Istio's CRDs come from the Go module istio.io/api. v1.32.0 is the newest
# release tag on the module proxy; its networking.istio.io CRDs serve v1,
# v1beta1 and v1alpha3.
ISTIO_API_MODULE = "istio.io/api"
ISTIO_API_VERSION = "v1.32.0"
ISTIO_CRD_FILE = "kubernetes/customresourcedefinitions.gen.yaml"

# Go packages built into the cache, by binary name.
BINARIES = {
    "etcd": "go.etcd.io/etcd/server/v3",
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
}

# The module each binary comes from and the release it is stamped with.
RELEASES = {
    "etcd": ("go.etcd.io/etcd/server/v3", ETCD_VERSION),
    "kube-apiserver": ("k8s.io/kubernetes", KUBERNETES_VERSION),
    "kube-controller-manager": ("k8s.io/kubernetes", KUBERNETES_VERSION),
}

# Bumped whenever the way the binaries are built changes (flags, stamping), so that a
# cache filled by an older recipe is not reused. 2: release versions stamped in.
BUILD_RECIPE = 2
