"""Which failures are retried, how long the backoff waits, and what the final message says."""

import pytest

from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.errors import Call, is_retriable, translate
from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.retry import Retrier
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError


class ApiError(Exception):
    """Shaped like the SDK's ClientException / ServerException / ThrottlingException."""

    def __init__(self, status_code, code, message="m", request_id="REQ-1", retry_after=None):
        super(ApiError, self).__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = "code: %s, %s request id: %s" % (status_code, message, request_id)
        self.request_id = request_id
        self.retry_after = retry_after
        self.data = {"Code": code, "Message": message, "RequestId": request_id}


class RetryError(Exception):
    """Shaped like darabonba's RetryError, which wraps every IOError of the HTTP layer."""

    def __init__(self, message):
        super(RetryError, self).__init__({"message": message})
        self.message = message


class CredentialException(Exception):
    def __init__(self, message):
        super(CredentialException, self).__init__(message)
        self.message = message


class UnretryableException(Exception):
    def __init__(self, inner):
        super(UnretryableException, self).__init__(str(inner))
        self.inner_exception = inner


CALL = Call("DescribeClusterUserKubeconfig", "cluster 'c1'", "https://cs.cn-hangzhou.aliyuncs.com")


@pytest.mark.parametrize("exc", [
    ApiError(400, "Throttling.User"),
    ApiError(400, "Throttling"),
    ApiError(429, "TooManyRequests"),
    ApiError(503, "ServiceUnavailable"),
    ApiError(500, "InternalError"),
    UnretryableException(RetryError("HTTPConnectionPool(...): Max retries exceeded (Caused by NewConnectionError("
                                    "'...: [Errno 111] Connection refused'))")),
    RetryError("HTTPSConnectionPool(...): Read timed out. (read timeout=10.0)"),
])
def test_retriable(exc):
    assert is_retriable(exc)


@pytest.mark.parametrize("exc", [
    ApiError(403, "Forbidden.RAM"),
    ApiError(404, "ErrorClusterNotFound"),
    ApiError(400, "SignatureDoesNotMatch"),
    ApiError(400, "InvalidParameter"),
    UnretryableException(CredentialException("unable to load credentials")),
    UnretryableException(RetryError("Max retries exceeded (Caused by SSLError(SSLCertVerificationError(1, "
                                    "'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')))")),
    ValueError("Expecting value: line 1 column 1 (char 0)"),
])
def test_not_retriable(exc):
    assert not is_retriable(exc)


def test_backoff_is_jittered_exponential_and_capped():
    top = Retrier(base_delay=0.5, max_delay=5.0, rand=lambda: 1.0)
    assert [top.delay(n, ApiError(400, "Throttling")) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    bottom = Retrier(rand=lambda: 0.0)
    assert bottom.delay(3, ApiError(400, "Throttling")) == 0.0


def test_backoff_waits_at_least_the_retry_after_hint_but_not_past_the_cap():
    retrier = Retrier(base_delay=0.5, max_delay=5.0, rand=lambda: 0.0)
    assert retrier.delay(1, ApiError(429, "Throttling", retry_after=2000)) == 2.0
    assert retrier.delay(1, ApiError(429, "Throttling", retry_after=60000)) == 5.0


def test_retrier_gives_up_after_its_attempts():
    calls = []

    def throttled():
        calls.append(1)
        raise ApiError(400, "Throttling.User", "Request was denied due to user flow control.", "REQ-9")

    with pytest.raises(MeshError) as caught:
        Retrier(attempts=3, sleep=lambda s: None).call(throttled, CALL)

    assert len(calls) == 3
    assert str(caught.value) == (
        "DescribeClusterUserKubeconfig for cluster 'c1' failed: Throttling.User (HTTP 400): Request was denied due "
        "to user flow control. Request ID: REQ-9. The API is still throttling after 3 attempts; wait and try again, "
        "or make fewer calls.")


def test_retrier_returns_what_the_call_returns_once_it_succeeds():
    answers = [ApiError(503, "ServiceUnavailable"), "kubeconfig"]

    def flaky():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert Retrier(sleep=lambda s: None).call(flaky, CALL) == "kubeconfig"


def test_missing_credentials_explain_the_chain():
    err = translate(UnretryableException(CredentialException(
        "unable to load credentials from any of the providers in the chain: [...]")), CALL)
    message = str(err)
    assert message.startswith("DescribeClusterUserKubeconfig for cluster 'c1' failed: no Alibaba Cloud credentials")
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in message and "~/.aliyun/config.json" in message
    assert err.fail_kwargs()["error_code"] == "NoCredentials"


def test_untrusted_certificate_points_at_validate_certs():
    err = translate(UnretryableException(RetryError(
        "HTTPSConnectionPool(host='cs-vpc.cn-hangzhou.aliyuncs.com', port=443): Max retries exceeded with url: / "
        "(Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
        "failed: self-signed certificate (_ssl.c:1006)')))")), CALL)
    assert str(err) == (
        "DescribeClusterUserKubeconfig for cluster 'c1' failed: TLS with https://cs.cn-hangzhou.aliyuncs.com failed: "
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:1006). If the "
        "endpoint speaks plain HTTP, set protocol to http; if its certificate is not trusted, fix its CA, or set "
        "validate_certs to false for a test endpoint only.")


def test_anything_else_is_named_by_type_never_a_traceback():
    err = translate(ValueError("Expecting value: line 1 column 1 (char 0)\nmore"), CALL)
    assert str(err) == ("DescribeClusterUserKubeconfig for cluster 'c1' failed: ValueError: "
                        "Expecting value: line 1 column 1 (char 0)")


def test_missing_request_id_is_left_out():
    err = translate(ApiError(404, "ErrorClusterNotFound", "cluster c1 not found", request_id="None"), CALL)
    assert "Request ID" not in str(err)
    assert "request_id" not in err.fail_kwargs()
