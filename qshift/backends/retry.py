"""Retrying provider calls: transient errors again, with backoff and jitter; permanent errors at once.

A Hessian on a QPU is thousands of quantum tasks created and polled over hours;
some of those calls will be throttled or dropped. :class:`RetryPolicy` says how
often and how long to try again; :func:`classify` says which errors are worth it.

Transient (retried):

* throttling: ``ThrottlingException``, ``TooManyRequestsException``,
  ``RequestLimitExceeded``, ``SlowDown``, HTTP 429 (from botocore, or the ``status_code`` of
  qiskit-ibm-runtime's ``RequestsApiError``);
* the service briefly failing: ``ServiceUnavailable(Exception)``,
  ``InternalServerException`` / ``InternalServiceException`` /
  ``InternalFailure``, ``RequestTimeout(Exception)``, HTTP 5xx;
* the connection: reset, refused, closed, timed out (botocore's connection
  errors and Python's ``ConnectionError`` / ``TimeoutError``).

Permanent (raised after one attempt, with the provider's code and message):
everything else, notably ``ValidationException``, ``AccessDeniedException``,
``ResourceNotFoundException``, ``DeviceOfflineException``,
``DeviceRetiredException``, ``ServiceQuotaExceededException`` and
``ConflictException``.

A quantum task that *ends* ``FAILED`` is judged by its ``failureReason``
(:func:`failure_is_transient`): "retryable", "transient", "internal error" or
"timed out" mark one worth sending again, unless the text says "not retryable".

Example:
    >>> import random
    >>> policy = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=3.0, jitter=0.0)
    >>> [policy.delay(k) for k in (1, 2, 3)]
    [1.0, 2.0, 3.0]
    >>> calls = []
    >>> def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise ConnectionResetError("reset by peer")
    ...     return "ok"
    >>> RetryPolicy(base_delay=0.0).call(flaky, what="a test call"), len(calls)
    ('ok', 3)
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from qshift._errors import ProviderError, RequestError

__all__ = ["ProviderError", "RetryPolicy", "classify", "failure_is_transient"]

T = TypeVar("T")

TRANSIENT_CODES = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown",
    "ServiceUnavailable", "ServiceUnavailableException", "InternalServerException", "InternalServiceException",
    "InternalServerError", "InternalFailure", "InternalError", "RequestTimeout", "RequestTimeoutException",
    "ProvisionedThroughputExceededException", "BandwidthLimitExceeded",
})
PERMANENT_CODES = frozenset({
    "ValidationException", "AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
    "InvalidSignatureException", "ExpiredTokenException", "ResourceNotFoundException", "DeviceOfflineException",
    "DeviceRetiredException", "ServiceQuotaExceededException", "ConflictException", "NoSuchKey", "NoSuchBucket",
})

_FIXES = {
    "AccessDeniedException": "check the AWS credentials and that their policy allows Amazon Braket "
                             "(e.g. AmazonBraketFullAccess) and the results bucket",
    "ValidationException": "the provider rejected the request as invalid: see its message",
    "ResourceNotFoundException": "check the device ARN and its region",
    "DeviceOfflineException": "the device is offline or outside its availability window: try later, or another "
                              "device",
    "DeviceRetiredException": "the device is retired: use another device",
    "ServiceQuotaExceededException": "lower max_parallel, or ask the provider for a higher quota",
    "NoSuchKey": "the task's result object is missing from S3 (deleted, or a lifecycle rule): rerun to send the "
                 "task again, which is paid again",
}
_AUTH = ("UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException", "AccessDenied")


def error_code(exc: BaseException) -> str | None:
    """The provider's error code of a botocore ``ClientError`` (else ``None``)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return (response.get("Error") or {}).get("Code") or None
    return None


def _status(exc: BaseException) -> int | None:
    """The HTTP status of a provider error: botocore's response metadata, or a ``status_code``
    (qiskit-ibm-runtime's ``RequestsApiError``, ``requests``' ``HTTPError`` response)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(response, "status_code", None)
    return status if isinstance(status, int) and status > 0 else None  # -1: no answer (a connection error)


def classify(exc: BaseException) -> str:
    """``"transient"`` (worth retrying) or ``"permanent"``.

    Example:
        >>> classify(ConnectionResetError()), classify(ValueError("bad input"))
        ('transient', 'permanent')
    """
    code = error_code(exc)
    if code in TRANSIENT_CODES:
        return "transient"
    if code in PERMANENT_CODES:
        return "permanent"
    status = _status(exc)
    if status is not None:
        return "transient" if status == 429 or status >= 500 else "permanent"
    if isinstance(exc, (ConnectionError, TimeoutError)) or _connection_failure(exc):
        return "transient"
    try:
        from botocore import exceptions as bx
    except ImportError:  # no botocore: nothing else can be one of its connection errors
        return "permanent"
    connection = (bx.ConnectionError, bx.ConnectionClosedError, bx.ReadTimeoutError, bx.ConnectTimeoutError)
    return "transient" if isinstance(exc, connection) else "permanent"


def _connection_failure(exc: BaseException) -> bool:
    """Whether ``exc`` wraps a dropped or refused connection (``requests``' errors, as the IBM SDK raises them)."""
    seen = exc.__cause__ or exc.__context__
    while seen is not None:
        if isinstance(seen, (ConnectionError, TimeoutError)) or type(seen).__name__ in _REQUESTS_CONNECTION:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


_REQUESTS_CONNECTION = frozenset({"ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout", "ChunkedEncodingError"})


def failure_is_transient(reason: str | None) -> bool:
    """Whether a task that ended ``FAILED`` with this ``failureReason`` is worth sending again.

    Example:
        >>> failure_is_transient("An internal error occurred (transient; retryable).")
        True
        >>> failure_is_transient("The quantum task failed on the device (not retryable).")
        False
    """
    text = (reason or "").lower()
    if re.search(r"\b(not|non)[- ]?retr(y|i)able\b|\bpermanent\b", text):
        return False
    return bool(re.search(r"retr(y|i)able|transient|internal (service |server )?(error|failure)|temporar|"
                          r"try again|timed? ?out|throttl", text))


def describe_error(exc: BaseException) -> str:
    """``"Code: message"`` for a provider error, ``"Type: message"`` otherwise."""
    code = error_code(exc)
    if code is not None:
        message = (getattr(exc, "response", {}).get("Error") or {}).get("Message") or str(exc)
        return f"{code}: {message}"
    return f"{type(exc).__name__}: {exc}"


def fix_for(code: str | None) -> str:
    if code in _AUTH:
        return _FIXES["AccessDeniedException"]
    return _FIXES.get(code, "see the provider's message")


@dataclass(frozen=True)
class RetryPolicy:
    """How transient provider errors are retried: exponential backoff with jitter, bounded in count and time.

    The delay before attempt ``k + 1`` is ``min(max_delay, base_delay * 2**(k - 1))``, of which a
    fraction ``jitter`` is drawn uniformly at random (``jitter=1``: "full jitter", spreading
    clients that were throttled together). No attempt starts after ``deadline`` seconds.

    Args:
        max_attempts: most attempts of one call (1: never retry).
        base_delay: seconds before the second attempt (before jitter).
        max_delay: the longest wait between attempts.
        deadline: seconds after the first attempt beyond which no retry starts (``None``: no limit).
        jitter: the random fraction of each delay, in ``[0, 1]``.
        rng: the random source of the jitter (seed it for reproducible waits).
        sleep: how to wait (tests may pass a fake clock).
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    deadline: float | None = 600.0
    jitter: float = 1.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def __post_init__(self):
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise RequestError("max_attempts must be a positive integer", expected="1, 2, ...",
                               received=repr(self.max_attempts), fix="pass max_attempts=5, say")
        for name in ("base_delay", "max_delay"):
            if not getattr(self, name) >= 0:
                raise RequestError(f"{name} must be a non-negative number of seconds", expected=">= 0",
                                   received=repr(getattr(self, name)), fix=f"pass {name}=1.0, say")
        if self.deadline is not None and not self.deadline >= 0:
            raise RequestError("deadline must be a non-negative number of seconds or None", expected=">= 0 or None",
                               received=repr(self.deadline), fix="pass deadline=600, say")
        if not 0 <= self.jitter <= 1:
            raise RequestError("jitter must be a fraction", expected="a number in [0, 1]", received=repr(self.jitter),
                               fix="pass jitter=1.0 (full jitter) or 0 (none)")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        full = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return full * (1.0 - self.jitter * self.rng.random())

    def call(self, fn: Callable[[], T], *, what: str, device: str = "the device") -> T:
        """``fn()``, again after transient errors; a :class:`ProviderError` when it fails for good."""
        start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except ProviderError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below; unknown errors are permanent
                if classify(exc) == "permanent":
                    raise permanent_error(exc, what=what, device=device) from exc
                wait = self.delay(attempt)
                spent = time.monotonic() - start
                if attempt >= self.max_attempts or (self.deadline is not None and spent + wait > self.deadline):
                    raise exhausted_error(exc, what=what, device=device, attempts=attempt, seconds=spent) from exc
                self.sleep(wait)


def permanent_error(exc: BaseException, *, what: str, device: str) -> ProviderError:
    code = error_code(exc)
    return ProviderError(f"{device}: {what} failed with a permanent error (not retried)", code=code,
                         expected="a successful call", received=describe_error(exc), fix=fix_for(code))


def exhausted_error(exc: BaseException, *, what: str, device: str, attempts: int, seconds: float) -> ProviderError:
    return ProviderError(f"{device}: {what} still failed after {attempts} attempt(s) over {seconds:.1f} s",
                         code=error_code(exc), attempts=attempts, expected="the provider to recover",
                         received=describe_error(exc),
                         fix="the provider is busy or unreachable: rerun later (with a store, tasks already "
                             "submitted are re-attached and finished results are not paid again), or allow more "
                             "attempts with retry=qshift.RetryPolicy(max_attempts=..., deadline=...)")


def ended_error(device: str, what: str, status: str, reason: str, attempt: int, policy: RetryPolicy, *,
                done: str, failed: str) -> ProviderError | None:
    """The error that ends a run when a provider task or job ended ``status`` (not ``done``), or ``None``
    when it is worth sending again (cancelled, or failed for a transient reason, within the policy).

    Args:
        what: the task as a user reads it, e.g. ``"quantum task arn:..."`` or ``"runtime job c4f..."``.
        failed: the provider's word for a failure (``FAILED`` on Braket, ``ERROR`` on IBM).
    """
    if status == failed and not failure_is_transient(reason):
        return ProviderError(f"device {device!r}: {what} ended {failed} (not retried)", expected=done,
                             received=f"{failed}: {reason}",
                             fix="the provider's reason says it cannot succeed as sent: fix what it names")
    if attempt >= policy.max_attempts:
        return ProviderError(f"device {device!r}: the circuits of {what} ended {status} {attempt} times",
                             attempts=attempt, expected=done, received=f"{status}: {reason}",
                             fix="rerun later (finished results are kept with a store), or allow more attempts "
                                 "with retry=qshift.RetryPolicy(max_attempts=...)")
    return None
