"""A real Istio data plane on loopback: istiod from istio.io/istio, upstream Envoy, our own BookInfo."""
