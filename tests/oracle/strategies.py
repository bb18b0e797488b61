"""Hypothesis strategies for VirtualService and DestinationRule specs across the v1 schema.

Every value is drawn from a pool that mixes ordinary values with the edges of Istio's
rules (0, 1, 65535, 65536, empty strings, wildcards, IPs, sub-millisecond durations,
bad regexes, pseudo headers, ...), so that most objects sit near some boundary. The
objects keep the CRD's types: the API server refuses a wrong type before Istio's
webhook ever sees it, so only what reaches Istio is worth comparing.
"""

from hypothesis import strategies as st

NAMESPACE = "ns1"

# Half of the objects are drawn "clean": valid values only and the usual structure, so that
# Istio accepts many of them and a false refusal on our side shows. The other half mixes in
# the edges. The mode is set by the first draw of each example, so a replay draws the same.
_MODE = {"clean": False}


class Pool(list):
    """Values to sample from; ``valid`` is the part a clean draw keeps to."""

    def __init__(self, valid, mixed):
        super().__init__(mixed)
        self.valid = list(valid)


def mix(valid, edge, weight=5):
    """A pool where each valid value is ``weight`` times as likely as each edge case."""
    return Pool(valid, list(valid) * weight + list(edge))


HOSTS = mix(["reviews", "reviews.ns1.svc.cluster.local", "ratings.ns1", "*.example.com", "example.com",
             "a.b.c.d.e", "bar.com.", "123", "Reviews", "10.0.0.1", "*.com", "*-foo.com", "*foo.com"],
            ["*", "", "a..b", "::1", "foo.*", "x" * 64, "a-", "a.123", "*.*.com", "reviews:9080", "foo_bar",
             "-a.com", "*.", "a*.com"], 3)
DEST_HOSTS = mix(["reviews", "details", "ratings.ns1", "reviews.ns1.svc.cluster.local", "*.ns1.svc.cluster.local",
                  "example.com", "Reviews", "bar.com."], HOSTS, 2)
NAMES = mix(["v1", "v-2", "V1", "a" * 63, "1", "name"], ["", "v_1", "a" * 64, "-v", "v1.0"])
PORTS = mix([1, 80, 9080, 65535], [0, 65536, -1])
WEIGHTS = mix([1, 50, 100, 101, 2 ** 31 - 1], [0, -5])
DURATIONS = mix(["1ms", "1.5s", "10s", "1m", "1h", "1000ms", "100000us", "1000000ns", "2m30s", "3s", "1s",
                 "0.001s"], ["0s", "0.5ms", "1.5ms", "-1s", "1.0001s", "100us", "0.0001s", "999us", "1", "abc"])
REGEXES = mix(["^/api/.*", ".*", "\\d+", "[a-z]+", "(?i)jason", "(?P<n>x)", "\\p{Greek}", "x|y", "a{2,5}"],
              ["", "(a", "a{2000}", "(?=a)", "a" * 1025, "\\1", "a**", "\\Z", "[z-a]"], 3)
STRINGS = mix(["", "/", "/api", "jason", "GET", "a b", "v", "%HOSTNAME%", "100%%", "x" * 10, "%REQ(x)%",
               '%VAR(["a"])%', "tab\there", "caf\u00e9", "%VAR( x )%"],
              ["abc%123", "%START_TIME%%", "new\nline", "%VAR(x", '%VAR(["a" x])%', "%", "%VAR(\\"], 3)
HEADER_NAMES = mix(["end-user", "x-request-id", "X-Upper", "content-type"],
                   [":authority", "host", "Host", "@request.auth.claims.group", "@request.auth.claims[a][b]",
                    "", "bad header", "x:y", "@request.auth.claims", ":path", ":method", ":status", ":scheme",
                    ":foo", "@request.auth.claims.", "@request.auth.claims[]"], 2)
LABEL_KEYS = mix(["app", "version", "a/b", "example.com/v", "a_b", "a.b", "A", "Example.com/v"],
                 ["", "-a", "x" * 64, "bad key", "/a", "k8s.io/x" + "y" * 60, "a/", "a" * 254 + "/b"])
LABEL_VALUES = mix(["v1", "", "x" * 63, "x" * 64, "V_1.0"], ["-v", "a b", "a.", "v*"])
GATEWAYS = mix(["mesh", "bookinfo-gateway", "ns1/gw", "istio-system/ingress", "gw.ns1", "NS/gw", "ns/Gw"],
               ["a.b.c", "/gw", "ns/", "", "a/b/c", "gw_1", "ns1/gw.x", "1.2"], 3)
EXPORT_TO = mix([".", "*", "ns1", "ns2", "NS"], ["~", "", "a_b", "a.b"])
RETRY_ON = mix(["5xx", "gateway-error,connect-failure", "503", "retriable-4xx,499", "cancelled,unavailable",
                "reset-before-request", "429,503", "0503", "+503"],
               ["5xx, reset", "", "600", "unknown", "5xx,,reset", "abc1", "306"])
GRPC = mix(["UNAVAILABLE", "NOT_FOUND", "OK"], ["unavailable", "BOGUS", ""])
METHODS = mix(["GET", "POST", "*", "OPTIONS", "CONNECT"], ["get", "PURGE", ""])
CORS_HEADERS = mix(["*", "x-custom", "X-A"], ["", "bad header", ":authority"])
SUBNETS = mix(["10.0.0.0/8", "10.0.0.1", "::1/128", "fe80::/10"], ["300.0.0.1", "10.0.0.0/33", "", "a/b", "1/2/3"])
SNI = mix(["reviews", "*.example.com", "example.com", "a.example.com"],
          ["10.0.0.1", "", "*", "outbound_.80_._.a.com", "a..b"])
PERCENTS = mix([0, 1, 50.5, 100, 0.0001], [0.00001, 100.1, -1])
INTS = mix([0, 1, 10, 2 ** 31 - 1], [-1])
LOCALITIES = mix(["us-east", "us-east/zone1", "us-east/zone1/sub", "us-west", "eu/*", "*"],
                 ["us-east/*", "us-east/*/x", "", "a//b", "*/x"])


@st.composite
def _sample(draw, mixed, valid):
    return draw(valid if _MODE["clean"] else mixed)


def pool(values):
    # Strategies are built here, once: building them inside a draw costs more than the draw.
    if isinstance(values, Pool):
        return _sample(st.sampled_from(list(values)), st.sampled_from(values.valid))
    return st.sampled_from(values)


@st.composite
def _either(draw, usual, any_of):
    return draw(usual if _MODE["clean"] else any_of)


def or_edge(usual, odd):
    """``usual``, or in an edgy draw sometimes ``odd``."""
    return _either(usual, st.one_of(usual, odd))


def maybe(strategy):
    return st.one_of(st.none(), strategy)


def optional_dict(required=None, **fields):
    """A dict with any subset of ``fields`` (each a strategy), plus the ``required`` ones always."""
    required = required or {}
    keys = sorted(fields)

    choices = {mode: st.lists(st.sampled_from(keys), unique=True, max_size=min(len(keys), 3 if mode else 6))
               for mode in (True, False)} if keys else None

    @st.composite
    def build(draw):
        out = {key: draw(strategy) for key, strategy in sorted(required.items())}
        chosen = draw(choices[_MODE["clean"]]) if keys else []
        for key in chosen:
            out[key] = draw(fields[key])
        return out

    return build()


def small_list(strategy, min_size=0, max_size=3):
    return st.lists(strategy, min_size=min_size, max_size=max_size)


def string_map(keys, values, max_size=3):
    return st.dictionaries(pool(keys), values, max_size=max_size)


# --- VirtualService ------------------------------------------------------------------


def string_match(uri=False):
    plain = pool(mix(["/", "/api", "/v1/", "jason", "GET", "https", "example.com"], [""]))
    return or_edge(st.one_of(
        st.builds(lambda v: {"exact": v}, plain),
        st.builds(lambda v: {"prefix": v}, plain),
        st.builds(lambda v: {"regex": v}, pool(REGEXES)),
    ), st.just({}))


labels = string_map(LABEL_KEYS, pool(LABEL_VALUES))

match_request = optional_dict(
    name=pool(["m1", "", "user"]),
    uri=string_match(uri=True),
    scheme=string_match(),
    method=string_match(),
    authority=string_match(),
    headers=string_map(HEADER_NAMES, string_match(), max_size=2),
    withoutHeaders=string_map(HEADER_NAMES, st.one_of(string_match(), st.just({"regex": "*"})), max_size=2),
    queryParams=string_map(["user", "", "a b", "q"], string_match(), max_size=2),
    port=pool(PORTS),
    sourceLabels=labels,
    gateways=small_list(pool(GATEWAYS), max_size=2),
    ignoreUriCase=st.booleans(),
    sourceNamespace=pool(["ns1", "", "NS", "a_b", "x" * 64]),
    statPrefix=pool(["stats", ""]),
)

destination = optional_dict(
    required={"host": pool(DEST_HOSTS)},
    subset=pool(NAMES),
    port=or_edge(st.builds(lambda n: {"number": n}, pool(PORTS)), st.just({})),
)

header_ops = optional_dict(
    set=string_map(HEADER_NAMES, pool(STRINGS)),
    add=string_map(HEADER_NAMES, pool(STRINGS)),
    remove=small_list(pool(HEADER_NAMES)),
)
headers = optional_dict(request=header_ops, response=header_ops)

http_route_destination = optional_dict(
    required={"destination": destination},
    weight=pool(WEIGHTS),
    headers=headers,
)
# A destination entry without "destination" is possible in the schema too.
http_route_destinations = small_list(or_edge(http_route_destination, st.just({"weight": 10})), max_size=3)

percent = or_edge(st.builds(lambda v: {"value": v}, pool(PERCENTS)), st.just({}))

delay = optional_dict(
    fixedDelay=pool(DURATIONS),
    percentage=percent,
    percent=pool([0, 50, 100, 101, -1]),
) | optional_dict(exponentialDelay=pool(DURATIONS), percentage=percent)
abort_error = or_edge(st.one_of(
    st.builds(lambda v: {"httpStatus": v}, pool(mix([200, 503, 599, 404, 600], [601, 199, 0]))),
    st.builds(lambda v: {"grpcStatus": v}, pool(GRPC)),
), st.one_of(st.builds(lambda v: {"http2Error": v}, pool(["CANCEL", ""])), st.just({})))
abort = st.builds(lambda e, p: dict(e, **p), abort_error, optional_dict(percentage=percent))
fault = optional_dict(delay=delay, abort=abort)

retries = optional_dict(
    attempts=pool([0, 1, 3, -1]),
    perTryTimeout=pool(DURATIONS),
    retryOn=pool(RETRY_ON),
    retryRemoteLocalities=st.booleans(),
    retryIgnorePreviousHosts=st.booleans(),
    backoff=pool(DURATIONS),
)

redirect = optional_dict(
    uri=pool(["/new", "", "/"]),
    authority=pool(["example.com", ""]),
    port=pool(PORTS),
    derivePort=pool(["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"]),
    scheme=pool(["http", "https", "ftp", ""]),
    redirectCode=pool([301, 302, 308, 299, 400, 0, 399]),
    prefixRewrite=pool(["/p", ""]),
)

direct_response = optional_dict(
    status=pool([200, 404, 503, 199, 600, 0, 301]),
    body=st.one_of(
        st.builds(lambda s: {"string": s}, pool(["ok", "", "x" * (100 * 1024 + 1), "x" * (1024 * 1024 + 1)])),
        st.builds(lambda s: {"bytes": s}, pool(["aGVsbG8=", ""])),
    ),
)

rewrite = optional_dict(
    uri=pool(["/", "/v2", ""]),
    authority=pool(["example.com", ""]),
    uriRegexRewrite=optional_dict(match=pool(REGEXES), rewrite=pool(["/\\1", "", "/x"])),
)

mirror_policy = optional_dict(
    destination=destination,
    percentage=percent,
)

cors = optional_dict(
    allowOrigins=small_list(string_match(), max_size=2),
    allowMethods=small_list(pool(METHODS), max_size=3),
    allowHeaders=small_list(pool(CORS_HEADERS), max_size=2),
    exposeHeaders=small_list(pool(CORS_HEADERS), max_size=2),
    maxAge=pool(DURATIONS + ["1.5s", "24h"]),
    allowCredentials=st.booleans(),
    unmatchedPreflights=pool(["UNSPECIFIED", "FORWARD", "IGNORE"]),
)

delegate = optional_dict(name=pool(["reviews", "", "a.b", "Bad"]), namespace=pool(["ns1", "", "NS"]))

http_route = optional_dict(
    name=pool(["default", "jason", "", "a"]),
    match=small_list(match_request, max_size=3),
    route=http_route_destinations,
    redirect=redirect,
    directResponse=direct_response,
    delegate=delegate,
    rewrite=rewrite,
    timeout=pool(DURATIONS),
    retries=retries,
    fault=fault,
    mirror=destination,
    mirrors=small_list(mirror_policy, max_size=2),
    mirrorPercentage=percent,
    mirrorPercent=pool([0, 50, 100, 101]),
    corsPolicy=cors,
    headers=headers,
)


_ROUTE_DESTINATIONS = small_list(http_route_destination, min_size=1, max_size=2)
_ONE_DESTINATION = small_list(http_route_destination, min_size=1, max_size=1)


@st.composite
def usual_http_route(draw):
    """Most real routes forward to destinations: bias towards the valid core, then add extras."""
    route = draw(http_route)
    if _MODE["clean"]:
        answer = draw(st.integers(0, 7))
        if answer == 0 and "redirect" in route:
            for key in ("route", "fault", "rewrite", "directResponse", "delegate"):
                route.pop(key, None)
        elif answer == 1 and "directResponse" in route:
            for key in ("route", "fault", "rewrite", "redirect", "delegate"):
                route.pop(key, None)
        else:
            for key in ("redirect", "directResponse", "delegate"):
                route.pop(key, None)
            route["route"] = draw(_ROUTE_DESTINATIONS)
        if "mirrors" in route:
            route.pop("mirror", None)
        return route
    if draw(st.integers(0, 3)) and not route.get("route"):
        route["route"] = draw(_ONE_DESTINATION)
        for key in ("redirect", "directResponse", "delegate"):
            if draw(st.booleans()):
                route.pop(key, None)
    return route


l4_match = optional_dict(
    destinationSubnets=small_list(pool(SUBNETS), max_size=2),
    port=pool(PORTS),
    sourceLabels=labels,
    gateways=small_list(pool(GATEWAYS), max_size=2),
    sourceNamespace=pool(["ns1", "", "NS"]),
)
route_destination = optional_dict(required={"destination": destination}, weight=pool(WEIGHTS))
tcp_route = optional_dict(match=small_list(l4_match, max_size=2), route=small_list(route_destination, max_size=2))
tls_match = st.builds(lambda sni, rest: dict(rest, sniHosts=sni), small_list(pool(SNI), max_size=2), l4_match)
tls_route = optional_dict(match=small_list(tls_match, max_size=2), route=small_list(route_destination, max_size=2))


_VS = {
    "clean_hosts": small_list(pool(HOSTS), min_size=1, max_size=2),
    "clean_gateways": small_list(pool(GATEWAYS), min_size=1, max_size=2),
    "clean_tcp": small_list(tcp_route, min_size=1, max_size=2),
    "clean_http": small_list(usual_http_route(), min_size=1, max_size=3),
    "export_to": pool(EXPORT_TO),
    "hosts": small_list(pool(HOSTS), min_size=1, max_size=3),
    "gateways": small_list(pool(GATEWAYS), max_size=2),
    "http": small_list(usual_http_route(), max_size=4),
    "tcp": small_list(tcp_route, max_size=2),
    "tls": small_list(tls_route, max_size=2),
    "export_to_list": small_list(pool(EXPORT_TO), max_size=3),
}


@st.composite
def virtual_service_spec(draw, clean=False):
    _MODE["clean"] = clean
    spec = {}
    if clean:
        spec["hosts"] = draw(_VS["clean_hosts"])
        if draw(st.integers(0, 5)) == 0:
            spec["gateways"] = draw(_VS["clean_gateways"])
        if draw(st.integers(0, 7)) == 0:
            spec["tcp"] = draw(_VS["clean_tcp"])
        else:
            spec["http"] = draw(_VS["clean_http"])
        if draw(st.integers(0, 5)) == 0:
            spec["exportTo"] = [draw(_VS["export_to"])]
        return spec
    if draw(st.integers(0, 9)):
        spec["hosts"] = draw(_VS["hosts"])
    elif draw(st.booleans()):
        spec["hosts"] = []
    if draw(st.integers(0, 3)) == 0:
        spec["gateways"] = draw(_VS["gateways"])
    kind = draw(st.integers(0, 9))
    if kind < 7 or draw(st.booleans()):
        spec["http"] = draw(_VS["http"])
    if kind >= 7:
        spec["tcp" if kind == 7 else "tls"] = draw(_VS["tcp" if kind == 7 else "tls"])
    if draw(st.integers(0, 4)) == 0:
        spec["exportTo"] = draw(_VS["export_to_list"])
    return spec


# --- DestinationRule -----------------------------------------------------------------

tls_settings = optional_dict(
    mode=pool(["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"]),
    clientCertificate=pool(["/c.pem", ""]),
    privateKey=pool(["/k.pem", ""]),
    caCertificates=pool(["/ca.pem", ""]),
    credentialName=pool(["secret", "", "configmap://ns1/cm", "configmap://other/cm", "configmap://"]),
    subjectAltNames=small_list(pool(["a.example.com", ""]), max_size=2),
    sni=pool(["example.com", ""]),
    insecureSkipVerify=st.booleans(),
    caCrl=pool(["/crl.pem", ""]),
)

http_settings = optional_dict(
    http1MaxPendingRequests=pool(INTS),
    http2MaxRequests=pool(INTS),
    maxRequestsPerConnection=pool(INTS),
    maxRetries=pool(INTS),
    idleTimeout=pool(DURATIONS),
    h2UpgradePolicy=pool(["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"]),
    useClientProtocol=st.booleans(),
    maxConcurrentStreams=pool(INTS),
    http2KeepAlive=optional_dict(interval=pool(DURATIONS), timeout=pool(DURATIONS)),
)
tcp_settings = optional_dict(
    maxConnections=pool(INTS),
    connectTimeout=pool(DURATIONS),
    tcpKeepalive=optional_dict(probes=pool([0, 3]), time=pool(DURATIONS), interval=pool(DURATIONS)),
    maxConnectionDuration=pool(DURATIONS),
    idleTimeout=pool(DURATIONS),
)
connection_pool = optional_dict(http=http_settings, tcp=tcp_settings)

outlier = optional_dict(
    splitExternalLocalOriginErrors=st.booleans(),
    consecutiveLocalOriginFailures=pool([0, 1, 5]),
    consecutiveGatewayErrors=pool([0, 5]),
    consecutive5xxErrors=pool([0, 5]),
    consecutiveErrors=pool([0, 5]),
    interval=pool(DURATIONS),
    baseEjectionTime=pool(DURATIONS),
    maxEjectionPercent=pool([0, 10, 100, 101, -1]),
    minHealthPercent=pool([0, 50, 100, 101, -1]),
)

cookie = optional_dict(
    name=pool(["user", ""]),
    path=pool(["/", ""]),
    ttl=pool(["0s", "10s", "1.5ms"]),
    attributes=small_list(optional_dict(name=pool(["SameSite", "", "Secure"]), value=pool(["Lax", ""])),
                          max_size=3),
)
consistent_hash = st.builds(
    lambda key, rest: dict(key, **rest),
    st.one_of(
        st.builds(lambda v: {"httpHeaderName": v}, pool(["x-user", ""])),
        st.builds(lambda v: {"httpCookie": v}, cookie),
        st.just({"useSourceIp": True}),
        st.builds(lambda v: {"httpQueryParameterName": v}, pool(["u", ""])),
        st.just({}),
    ),
    st.builds(
        lambda ring, algorithm: dict(ring, **algorithm),
        optional_dict(minimumRingSize=pool([0, 1024])),
        # ringHash and maglev are a one-of the CRD enforces: never both
        st.one_of(st.just({}),
                  st.builds(lambda v: {"ringHash": {"minimumRingSize": v}}, pool([0, 1024])),
                  st.builds(lambda v: {"maglev": {"tableSize": v}},
                            pool([0, 1, 2, 4, 65537, 5000011, 5000012, 65536, 5000003]))),
    ),
)
locality = optional_dict(
    distribute=small_list(st.builds(lambda f, t: {"from": f, "to": t}, pool(LOCALITIES),
                                    st.dictionaries(pool(LOCALITIES), pool([0, 1, 50, 100, 101]), max_size=2)),
                          max_size=2),
    failover=small_list(st.builds(lambda f, t: {"from": f, "to": t}, pool(LOCALITIES), pool(LOCALITIES)),
                        max_size=2),
    failoverPriority=small_list(pool(["topology.kubernetes.io/region", "topology.istio.io/network", "x"]),
                                max_size=2),
    enabled=st.booleans(),
)
zone_aware = optional_dict(
    failover=small_list(st.builds(lambda f, t: {"from": f, "to": t}, pool(LOCALITIES), pool(LOCALITIES)),
                        max_size=2),
    failoverPriority=small_list(pool(["topology.kubernetes.io/zone", "x"]), max_size=2),
)
load_balancer = st.builds(
    lambda kind, rest: dict(kind, **rest),
    st.one_of(
        st.builds(lambda v: {"simple": v}, pool(["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "PASSTHROUGH",
                                                 "UNSPECIFIED", "LEAST_CONN"])),
        st.builds(lambda v: {"consistentHash": v}, consistent_hash),
        st.just({}),
    ),
    optional_dict(
        localityLbSetting=locality,
        zoneAwareLbSetting=zone_aware,
        warmup=optional_dict(duration=pool(DURATIONS), minimumPercent=pool([0, 10, 100, 101]),
                             aggression=pool([0, 1, 2.5, -1])),
        warmupDurationSecs=pool(DURATIONS),
    ),
)
tunnel = optional_dict(
    required={"targetHost": pool(mix(["example.com", "10.0.0.1", "::1"], ["", "bad host", "*.a.com"])),
              "targetPort": pool(mix([1, 443], [0, 65536]))},
    protocol=pool(["CONNECT", "POST", "GET", ""]),
)
proxy_protocol = optional_dict(version=pool(["V1", "V2"]))

port_traffic_policy = optional_dict(
    required={"port": or_edge(st.builds(lambda n: {"number": n}, pool(PORTS)), st.just({}))},
    loadBalancer=load_balancer,
    connectionPool=connection_pool,
    outlierDetection=outlier,
    tls=tls_settings,
)

traffic_policy = optional_dict(
    loadBalancer=load_balancer,
    connectionPool=connection_pool,
    outlierDetection=outlier,
    tls=tls_settings,
    portLevelSettings=small_list(port_traffic_policy, max_size=2),
    tunnel=tunnel,
    proxyProtocol=proxy_protocol,
    retryBudget=optional_dict(percent=pool(PERCENTS), minRetryConcurrency=pool([0, 3]),
                              budgetInterval=pool(DURATIONS)),
)

subset = optional_dict(
    required={"name": pool(NAMES)},
    labels=labels,
    trafficPolicy=traffic_policy,
)


_DR = {
    "host": pool(DEST_HOSTS),
    "subsets": small_list(subset, max_size=3),
    "export_to": small_list(pool(EXPORT_TO), max_size=3),
}


@st.composite
def destination_rule_spec(draw, clean=False):
    _MODE["clean"] = clean
    spec = {}
    if clean:
        spec["host"] = draw(_DR["host"])
        spec["subsets"] = draw(_DR["subsets"])
        policy = draw(traffic_policy)
        if "tunnel" in policy:
            policy.pop("proxyProtocol", None)
        if policy.get("connectionPool") == {}:
            del policy["connectionPool"]
        if policy:
            spec["trafficPolicy"] = policy
        return spec
    if draw(st.integers(0, 19)):
        spec["host"] = draw(_DR["host"])
    if draw(st.integers(0, 2)):
        spec["subsets"] = draw(_DR["subsets"])
    if draw(st.booleans()):
        spec["trafficPolicy"] = draw(traffic_policy)
    if draw(st.integers(0, 4)) == 0:
        spec["exportTo"] = draw(_VS["export_to_list"])
    if draw(st.integers(0, 6)) == 0:
        spec["workloadSelector"] = {"matchLabels": draw(labels)}
    return spec


def as_object(kind, spec):
    return {"apiVersion": "networking.istio.io/v1", "kind": kind,
            "metadata": {"name": "generated", "namespace": NAMESPACE}, "spec": spec}


objects = st.one_of(
    st.builds(lambda spec: as_object("VirtualService", spec), virtual_service_spec(clean=True)),
    st.builds(lambda spec: as_object("DestinationRule", spec), destination_rule_spec(clean=True)),
    st.builds(lambda spec: as_object("VirtualService", spec), virtual_service_spec()),
    st.builds(lambda spec: as_object("DestinationRule", spec), destination_rule_spec()),
)
