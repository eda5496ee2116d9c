"""The retry policy: which errors are retried, how long it waits, and when it gives up."""

import random

import pytest

import qshift
from qshift._errors import ProviderError
from qshift.backends.retry import classify, failure_is_transient

pytest.importorskip("botocore", reason="needs qshift[braket]")
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError  # noqa: E402


def _client_error(code: str, status: int = 400, message: str = "the provider's message") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "CreateQuantumTask")


def _name(exc) -> str:
    response = getattr(exc, "response", None)
    return response["Error"]["Code"] if isinstance(response, dict) else type(exc).__name__


@pytest.mark.parametrize("exc", [
    _client_error("ThrottlingException", 429), _client_error("TooManyRequestsException", 429),
    _client_error("RequestLimitExceeded"), _client_error("ServiceUnavailable", 503),
    _client_error("InternalServerException", 500), _client_error("InternalServiceException", 500),
    _client_error("SomethingNew", 503), ConnectionResetError("reset by peer"), TimeoutError(),
    EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
], ids=_name)
def test_transient_errors(exc):
    assert classify(exc) == "transient"


@pytest.mark.parametrize("exc", [
    _client_error("ValidationException"), _client_error("AccessDeniedException", 403),
    _client_error("ResourceNotFoundException", 404), _client_error("DeviceOfflineException", 424),
    _client_error("DeviceRetiredException", 410), _client_error("ServiceQuotaExceededException", 402),
    _client_error("SomethingNew", 400), ValueError("Cannot execute circuit with unbound parameters"),
], ids=_name)
def test_permanent_errors(exc):
    assert classify(exc) == "permanent"


def test_failure_reasons():
    assert failure_is_transient("An internal error occurred while running the quantum task (transient; retryable).")
    assert failure_is_transient("Task timed out on the device")
    assert not failure_is_transient("The quantum task failed on the device (injected failure; not retryable).")
    assert not failure_is_transient("Program is too deep for this device")
    assert not failure_is_transient(None)


def test_backoff_grows_exponentially_is_capped_and_jittered():
    plain = qshift.RetryPolicy(base_delay=0.5, max_delay=3.0, jitter=0.0)
    assert [plain.delay(k) for k in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    jittered = [qshift.RetryPolicy(base_delay=1.0, max_delay=8.0, rng=random.Random(5)).delay(k) for k in (1, 2, 3, 4)]
    assert all(0 <= d <= 2.0 ** (k - 1) for k, d in enumerate(jittered, 1)) and len(set(jittered)) == 4
    again = [qshift.RetryPolicy(base_delay=1.0, max_delay=8.0, rng=random.Random(5)).delay(k) for k in (1, 2, 3, 4)]
    assert again == jittered  # a seeded rng waits the same


def _flaky(errors):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "done"

    return fn, calls


def test_transient_errors_are_retried_until_success():
    waits = []
    policy = qshift.RetryPolicy(max_attempts=4, base_delay=0.1, jitter=0.0, sleep=waits.append)
    fn, calls = _flaky([_client_error("ThrottlingException", 429), ConnectionResetError()])
    assert policy.call(fn, what="creating a quantum task") == "done"
    assert len(calls) == 3 and waits == [0.1, 0.2]


def test_retries_are_bounded_in_count_and_in_time():
    waits = []
    policy = qshift.RetryPolicy(max_attempts=3, base_delay=0.1, jitter=0.0, sleep=waits.append)
    fn, calls = _flaky([_client_error("ThrottlingException", 429)] * 10)
    with pytest.raises(ProviderError, match="after 3 attempt") as info:
        policy.call(fn, what="creating a quantum task", device="sv1")
    assert len(calls) == 3 and info.value.attempts == 3 and info.value.code == "ThrottlingException"
    assert isinstance(info.value, qshift.DeviceError) and "RetryPolicy" in info.value.fix

    fn, calls = _flaky([ConnectionResetError()] * 10)
    with pytest.raises(ProviderError):  # the next wait would pass the deadline: give up at once
        qshift.RetryPolicy(max_attempts=100, base_delay=5.0, deadline=1.0, jitter=0.0, sleep=waits.append).call(
            fn, what="x")
    assert len(calls) == 1


def test_permanent_errors_are_raised_after_one_attempt_with_the_message():
    waits = []
    fn, calls = _flaky([_client_error("AccessDeniedException", 403, "User is not authorized to perform braket:X")])
    with pytest.raises(ProviderError) as info:
        qshift.RetryPolicy(sleep=waits.append).call(fn, what="creating a quantum task", device="sv1")
    assert len(calls) == 1 and waits == []
    assert info.value.code == "AccessDeniedException" and "not authorized" in info.value.received
    assert "credentials" in info.value.fix


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"base_delay": -1}, {"jitter": 2.0}, {"deadline": -5}])
def test_invalid_policies_are_refused(kwargs):
    with pytest.raises(qshift.RequestError):
        qshift.RetryPolicy(**kwargs)
