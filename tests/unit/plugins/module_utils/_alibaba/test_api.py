"""The real ACK and ASM SDKs, driven by module_utils._alibaba, against the local fake OpenAPI."""

import pytest

from fake_openapi import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN, FakeOpenAPI

from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba import api
from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.auth import Settings
from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.retry import Retrier
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError


class Sleeps:
    """Records the backoff instead of waiting it out."""

    def __init__(self):
        self.delays = []

    def __call__(self, seconds):
        self.delays.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def retrier(sleeps):
    return Retrier(sleep=sleeps)


def settings_for(fake, **overrides):
    options = dict(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET, region="cn-hangzhou",
                   endpoint=fake.endpoint, protocol="http")
    options.update(overrides)
    return Settings(**options)


def test_cluster_kubeconfig_is_a_signed_get_of_user_config(fake, retrier):
    fake.add_cluster("c0123456789abcdef", "prod")

    got = api.describe_cluster_user_kubeconfig(settings_for(fake), "c0123456789abcdef", retrier=retrier)

    (request,) = fake.requests
    assert request.method == "GET"
    assert request.path == "/k8s/c0123456789abcdef/user_config"
    assert request.action == "DescribeClusterUserKubeconfig"
    assert request.headers["x-acs-version"] == "2015-12-15"
    assert request.headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=%s," % ACCESS_KEY_ID)
    assert "TemporaryDurationMinutes" not in request.query
    assert got.content == fake.cluster_kubeconfigs["c0123456789abcdef"][False]
    assert got.request_id == request.request_id
    assert got.expiration.endswith("Z")


def test_cluster_kubeconfig_passes_private_address_and_duration(fake, retrier):
    fake.add_cluster("c1", "prod")

    got = api.describe_cluster_user_kubeconfig(settings_for(fake), "c1", private_ip_address=True,
                                               temporary_duration_minutes=60, retrier=retrier)

    query = fake.requests[0].query
    assert query["PrivateIpAddress"].lower() == "true"
    assert query["TemporaryDurationMinutes"] == "60"
    assert "server: https://192.168.0.1:6443" in got.content


@pytest.mark.parametrize("minutes", [14, 4321, 0, -1])
def test_duration_outside_15_to_4320_fails_before_any_request(fake, minutes):
    fake.add_cluster("c1", "prod")

    with pytest.raises(MeshError) as caught:
        api.describe_cluster_user_kubeconfig(settings_for(fake), "c1", temporary_duration_minutes=minutes)

    assert str(caught.value) == "temporary_duration_minutes: must be between 15 and 4320 minutes (got %d)" % minutes
    assert fake.requests == []


def test_duration_bounds_are_accepted(fake, retrier):
    fake.add_cluster("c1", "prod")
    for minutes in (15, 4320):
        api.describe_cluster_user_kubeconfig(settings_for(fake), "c1", temporary_duration_minutes=minutes,
                                             retrier=retrier)
    assert [r.query["TemporaryDurationMinutes"] for r in fake.requests] == ["15", "4320"]


def test_mesh_kubeconfig_is_an_rpc_call_with_the_mesh_id(fake, retrier):
    token = fake.add_mesh("m0123456789abcdef")

    got = api.describe_service_mesh_kubeconfig(settings_for(fake), "m0123456789abcdef", private_ip_address=True,
                                               retrier=retrier)

    (request,) = fake.requests
    assert (request.method, request.path) == ("POST", "/")
    assert request.action == "DescribeServiceMeshKubeconfig"
    assert request.headers["x-acs-version"] == "2020-01-11"
    assert request.query["ServiceMeshId"] == "m0123456789abcdef"
    assert request.query["PrivateIpAddress"].lower() == "true"
    assert "token: %s" % token in got.content
    assert "https://192.168.10.3:6443" in got.content
    assert got.request_id == request.request_id
    assert got.expiration


def test_clusters_are_read_page_by_page(fake, retrier):
    for number in range(5):
        fake.add_cluster("c%d" % number, "cluster-%d" % number)
    fake.add_cluster("cb", "elsewhere", region="cn-beijing")

    clusters = api.describe_clusters(settings_for(fake), page_size=2, retrier=retrier)

    assert [c["cluster_id"] for c in clusters] == ["c0", "c1", "c2", "c3", "c4"]
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/api/v1/clusters")] * 3
    assert [r.query["page_number"] for r in fake.requests] == ["1", "2", "3"]
    assert all(r.query["page_size"] == "2" and r.query["region_id"] == "cn-hangzhou" for r in fake.requests)
    assert all(r.action == "DescribeClustersV1" for r in fake.requests)


def test_an_empty_region_is_one_request(fake, retrier):
    assert api.describe_clusters(settings_for(fake), retrier=retrier) == []
    assert len(fake.requests) == 1


def test_forbidden_names_cluster_api_code_request_id_and_ram_action(fake, retrier):
    fake.add_cluster("c1", "prod")
    fake.fail("DescribeClusterUserKubeconfig", 403, "Forbidden.RAM",
              "User not authorized to operate on the specified resource, or this API doesn't support RAM.")

    with pytest.raises(MeshError) as caught:
        api.describe_cluster_user_kubeconfig(settings_for(fake), "c1", retrier=retrier)

    err = caught.value
    request_id = fake.requests[0].request_id
    assert str(err) == (
        "DescribeClusterUserKubeconfig for cluster 'c1' failed: Forbidden.RAM (HTTP 403): User not authorized to "
        "operate on the specified resource, or this API doesn't support RAM. Request ID: %s. The RAM identity is "
        "not allowed to do this: grant it cs:DescribeClusterUserKubeconfig." % request_id)
    assert err.status == 403
    assert err.fail_kwargs()["request_id"] == request_id
    assert err.fail_kwargs()["error_code"] == "Forbidden.RAM"
    assert len(fake.requests) == 1, "a permission error is not retried"


def test_unknown_cluster_is_a_not_found_error(fake, retrier):
    with pytest.raises(MeshError) as caught:
        api.describe_cluster_user_kubeconfig(settings_for(fake), "c404", retrier=retrier)

    message = str(caught.value)
    assert message.startswith("DescribeClusterUserKubeconfig for cluster 'c404' failed: ErrorClusterNotFound (HTTP 404)")
    assert "Request ID: %s." % fake.requests[0].request_id in message
    assert "http://%s" % fake.endpoint in message


def test_unknown_mesh_names_the_mesh(fake, retrier):
    with pytest.raises(MeshError) as caught:
        api.describe_service_mesh_kubeconfig(settings_for(fake), "m404", retrier=retrier)

    assert str(caught.value).startswith(
        "DescribeServiceMeshKubeconfig for service mesh 'm404' failed: ServiceMesh.NotFound (HTTP 404)")
    assert caught.value.fail_kwargs()["request_id"] == fake.requests[0].request_id


def test_mesh_permission_error_points_at_the_servicemesh_action(fake, retrier):
    fake.add_mesh("m1")
    fake.fail("DescribeServiceMeshKubeconfig", 403, "Forbidden.RAM", "User not authorized.")

    with pytest.raises(MeshError) as caught:
        api.describe_service_mesh_kubeconfig(settings_for(fake), "m1", retrier=retrier)

    assert "grant it servicemesh:DescribeServiceMeshKubeconfig" in str(caught.value)


def test_throttling_is_retried_with_capped_backoff(fake, retrier, sleeps):
    fake.add_cluster("c1", "prod")
    fake.fail("DescribeClusterUserKubeconfig", 400, "Throttling.User", "Request was denied due to user flow control.",
              times=2)

    got = api.describe_cluster_user_kubeconfig(settings_for(fake), "c1", retrier=retrier)

    assert got.content == fake.cluster_kubeconfigs["c1"][False]
    assert len(fake.requests) == 3
    assert len(sleeps.delays) == 2
    assert all(0 <= d <= retrier.max_delay for d in sleeps.delays)


def test_throttling_that_does_not_stop_is_a_clear_error(fake, retrier, sleeps):
    fake.add_mesh("m1")
    fake.fail("DescribeServiceMeshKubeconfig", 429, "Throttling", "Request was denied due to flow control.", times=9)

    with pytest.raises(MeshError) as caught:
        api.describe_service_mesh_kubeconfig(settings_for(fake), "m1", retrier=retrier)

    message = str(caught.value)
    assert "DescribeServiceMeshKubeconfig for service mesh 'm1' failed: Throttling (HTTP 429)" in message
    assert "still throttling after 4 attempts" in message
    assert "Request ID: %s." % fake.requests[-1].request_id in message
    assert len(fake.requests) == 4
    assert len(sleeps.delays) == 3


def test_retry_after_hint_is_honoured_up_to_the_cap(fake, retrier, sleeps):
    fake.add_cluster("c1", "prod")
    fake.fail("DescribeClusterUserKubeconfig", 429, "Throttling.Api", "Too many requests.", times=2,
              headers={"x-acs-retry-after": "1500"})

    api.describe_cluster_user_kubeconfig(settings_for(fake), "c1", retrier=retrier)

    assert [d >= 1.5 for d in sleeps.delays] == [True, True]
    assert all(d <= retrier.max_delay for d in sleeps.delays)


def test_server_errors_are_retried(fake, retrier):
    fake.add_cluster("c1", "prod")
    fake.fail("DescribeClusterUserKubeconfig", 503, "ServiceUnavailable", "The request has failed.", times=1)

    api.describe_cluster_user_kubeconfig(settings_for(fake), "c1", retrier=retrier)

    assert len(fake.requests) == 2


def test_unknown_access_key_is_not_retried(fake, retrier):
    fake.add_cluster("c1", "prod")

    with pytest.raises(MeshError) as caught:
        api.describe_cluster_user_kubeconfig(settings_for(fake, access_key_id="LTAI5tUnknown"), "c1", retrier=retrier)

    assert "InvalidAccessKeyId.NotFound (HTTP 404)" in str(caught.value)
    assert "Check access_key_id, access_key_secret and security_token" in str(caught.value)
    assert len(fake.requests) == 1


def test_wrong_secret_fails_the_signature(fake, retrier):
    fake.add_cluster("c1", "prod")

    with pytest.raises(MeshError) as caught:
        api.describe_cluster_user_kubeconfig(settings_for(fake, access_key_secret="not-the-secret"), "c1",
                                             retrier=retrier)

    assert "SignatureDoesNotMatch (HTTP 400)" in str(caught.value)
    assert "not-the-secret" not in str(caught.value)


def test_sts_token_is_sent_with_the_temporary_key_pair(retrier):
    fake = FakeOpenAPI({"STS.NUfakeTemporaryKey": ("temporarySecret123456", SECURITY_TOKEN)}).start()
    try:
        fake.add_cluster("c1", "prod")
        settings = settings_for(fake, access_key_id="STS.NUfakeTemporaryKey",
                                access_key_secret="temporarySecret123456", security_token=SECURITY_TOKEN)

        api.describe_cluster_user_kubeconfig(settings, "c1", retrier=retrier)
        with pytest.raises(MeshError) as caught:
            settings.security_token = "CAISexpiredToken"
            api.describe_cluster_user_kubeconfig(settings, "c1", retrier=retrier)
    finally:
        fake.stop()

    assert fake.requests[0].headers["x-acs-security-token"] == SECURITY_TOKEN
    assert "InvalidSecurityToken.Mismatch" in str(caught.value)


def test_unreachable_endpoint_is_retried_then_reported(retrier, sleeps):
    settings = Settings(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET,
                        endpoint="127.0.0.1:1", protocol="http")

    with pytest.raises(MeshError) as caught:
        api.describe_cluster_user_kubeconfig(settings, "c1", retrier=retrier)

    assert str(caught.value) == ("DescribeClusterUserKubeconfig for cluster 'c1' failed: cannot reach "
                                 "http://127.0.0.1:1 after 4 attempts: [Errno 111] Connection refused")
    assert len(sleeps.delays) == 3


def test_https_to_a_plain_http_endpoint_says_so(fake, retrier, sleeps):
    with pytest.raises(MeshError) as caught:
        api.describe_cluster_user_kubeconfig(settings_for(fake, protocol="https"), "c1", retrier=retrier)

    assert "TLS with https://%s failed" % fake.endpoint in str(caught.value)
    assert "set protocol to http" in str(caught.value)
    assert sleeps.delays == [], "a TLS failure will not heal by retrying"


def test_region_derives_the_public_endpoint():
    from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.client import asm_client, cs_client

    settings = Settings(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET, region="cn-shanghai")
    assert cs_client(settings).endpoint == "https://cs.cn-shanghai.aliyuncs.com"
    assert asm_client(settings).endpoint == "https://servicemesh.aliyuncs.com"


@pytest.mark.parametrize("options, message", [
    (dict(access_key_id=ACCESS_KEY_ID), "access_key_secret: is required when access_key_id is set"),
    (dict(access_key_secret=ACCESS_KEY_SECRET), "access_key_id: is required when access_key_secret is set"),
    (dict(security_token=SECURITY_TOKEN),
     "security_token: needs access_key_id and access_key_secret (the STS key pair it belongs to)"),
    (dict(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET, region=None),
     "region: is required unless endpoint is set (or set ALIBABA_CLOUD_REGION_ID)"),
    (dict(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET, endpoint="https://cs.aliyuncs.com"),
     "endpoint: must be a host name with an optional port; set the scheme with protocol "
     "(got 'https://cs.aliyuncs.com')"),
])
def test_settings_problems_are_named_by_option(options, message):
    with pytest.raises(MeshError) as caught:
        api.describe_cluster_user_kubeconfig(Settings(**options), "c1")
    assert str(caught.value) == message
