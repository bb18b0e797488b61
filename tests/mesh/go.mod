// Pins the Istio control plane (pilot-discovery, i.e. istiod) that scripts/mesh
// runs against the testenv. Nothing in this module is our code.
module github.com/ack-servicemesh/mesh

go 1.26.0

require istio.io/istio v0.0.0-20260827124520-eed52ebb66ad
