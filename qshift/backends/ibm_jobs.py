"""Runtime jobs on an IBM Quantum service backend: submit, record, re-attach, collect, retry.

:class:`~qshift.IBMBackend` built on a service backend (``service.backend("ibm_...")``, a
``qiskit_ibm_runtime.IBMBackend``) sends every batch as runtime Sampler jobs here. A job
holds up to ``rows_per_job`` rows (else ``max_batch``; all of them when both are unset): one PUB per measurement
group of the circuit, each row one parameter-value row of every PUB. A device that passes IBM's resilience
options through (:meth:`~qshift.IBMBackend.with_resilience`) sends Estimator jobs instead, one PUB of every
row and output; what a job sends and how its result reads are the device's (``primitive``, ``pubs``,
``estimates``), the rest is the same.

How one call runs (:class:`JobRun`):

1. The ledger (a :class:`~qshift.backends.base.TaskLedger`; the store's, or one that records
   nothing) says what it knows of every row. A row whose job an earlier run created is
   *re-attached* by the job id (``service.job(id)``): its results are read, not paid again.
   A row whose job was being created when the process died (its token recorded, no job id
   yet) is looked up by the job tag ``qshift-<token>`` that every job carries
   (``service.jobs(job_tags=...)``): found, it is re-attached; not found, it is created again
   with the same token. The rest are new.
2. New jobs are created one after the other, all before any is awaited, so they queue on
   the service together; the ledger records the token before each ``SamplerV2.run`` (or ``EstimatorV2.run``) and
   the job id after it.
3. Jobs are awaited oldest first (the SDK polls every ``poll_interval`` seconds, at most
   ``poll_timeout`` in all) and the rows of each finished job are yielded at once (the
   executor stores them). A job that ends ``ERROR`` with a transient reason (see
   :func:`~qshift.backends.retry.failure_is_transient`), or ``CANCELLED``, is sent again up
   to the retry policy's ``max_attempts``; otherwise the run ends with a
   :class:`~qshift.backends.retry.ProviderError` carrying the service's reason.
4. Calls to the service (create, look up) go through the :class:`~qshift.RetryPolicy`:
   throttling, 5xx answers and dropped connections are retried with backoff.

Without a store, a run that fails cancels the jobs it leaves unfinished (nothing could
collect them later). Nothing here reads or records credentials: the ledger gets job ids,
tokens drawn here (``uuid4``) and positions.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from qshift._errors import DeviceError, ProviderError
from qshift._seeding import child_ints, fresh
from qshift.backends._common import sampled_result
from qshift.backends.base import NoLedger, RunResult, TaskLedger
from qshift.backends.retry import RetryPolicy, ended_error
from qshift.ir.circuit import Circuit

__all__ = ["JobRun", "TAG_PREFIX", "on_service"]

TAG_PREFIX = "qshift-"
"""Every job carries the tag ``qshift-<token>``: how a job whose id was never recorded is found again."""

DEFAULT_POLL_TIMEOUT = 5 * 24 * 3600.0  # as long as a job may wait in a queue
DEFAULT_POLL_INTERVAL = 1.0
_LIVE = ("creating", "submitted", "COMPLETED")


def on_service(backend) -> bool:
    """Whether ``backend`` is a runtime service backend (jobs go to a service), not a local fake one."""
    try:
        from qiskit_ibm_runtime import IBMBackend as RuntimeBackend
    except ImportError:  # no runtime SDK: nothing can be one of its backends
        return False
    return isinstance(backend, RuntimeBackend)


@dataclass
class _Job:
    """One runtime job: the request's rows it computes (in the order of its parameter-value rows)."""

    rows: np.ndarray
    token: str
    attempt: int = 1
    job: object = None
    reattached: bool = False

    @property
    def job_id(self) -> str:
        return self.job.job_id()


class JobRun:
    """One ``iter_run`` call of an :class:`~qshift.IBMBackend` on a service backend (see the module)."""

    def __init__(self, backend, circuit: Circuit, angles: np.ndarray, shots: int, seed: int | None,
                 ledger: TaskLedger | None):
        self.backend, self.circuit, self.angles, self.shots, self.seed = backend, circuit, angles, shots, seed
        self.ledger = ledger if ledger is not None else NoLedger()
        self.retry: RetryPolicy = backend.retry
        self.name = backend.name
        self.service = backend.backend.service
        self.per_job = backend.rows_per_job or backend.max_batch or len(angles)
        self.created = 0  # jobs created by this call (reported as RunResult.jobs)
        self.reported = 0

    def stream(self) -> Iterator[tuple[np.ndarray, RunResult]]:
        """Yield ``(rows, result)`` per finished job, oldest job first."""
        held, again = self._plan()
        rest = np.setdiff1d(np.arange(len(self.angles)), np.concatenate([j.rows for j in held + again] or [[]]))
        new = [_Job(rows, uuid.uuid4().hex) for rows in np.array_split(rest, max(1, -(-len(rest) // self.per_job)))
               if len(rows)]
        # a resumed request's new jobs draw seeds of their own, never those of the jobs it lost
        resumed = bool(held or again)
        seeds = child_ints([self.seed, fresh()] if resumed and self.seed is not None else self.seed,
                           len(again) + len(new))
        jobs = held[:]
        try:
            for job, seed in zip(again + new, seeds):
                jobs.append(self._create(job, seed))
            deadline = time.monotonic() + self.backend.poll_timeout
            for job in jobs:
                yield self._collect(job, deadline)
        except BaseException:
            if not self.ledger.records:
                self._cancel(j for j in jobs if j.job is not None)
            raise

    # -- planning -------------------------------------------------------------------------------
    def _plan(self) -> tuple[list[_Job], list[_Job]]:
        """Jobs an earlier run created (re-attached), and jobs to create again with their recorded token."""
        known = self.ledger.find(self.angles, [(r, -1) for r in range(len(self.angles))])
        groups: dict[str, list[tuple[int, int, object]]] = {}
        for (row, _), entry in known.items():
            if entry.status in _LIVE and entry.position is not None:
                groups.setdefault(entry.token, []).append((entry.position[1], row, entry))
        held, again = [], []
        for token, members in groups.items():
            members.sort()
            rows = np.array([r for _, r, _ in members])
            entry = members[0][2]
            positions = [p for p, _, _ in members]
            whole = len(members) == entry.group_size and positions == list(range(len(members)))
            job = self._recorded(token, entry.task_id)
            if job is not None and whole:
                self.ledger.submitted(token, job.job_id())  # an earlier run may have died before recording it
                held.append(_Job(rows, token, entry.attempt, job, reattached=True))
            elif job is None and whole and entry.status == "creating":
                again.append(_Job(rows, token, entry.attempt))  # never reached the service: same token again
            elif job is None and entry.task_id is not None:  # the service lost it: its rows are sent again
                self.ledger.ended(entry.task_id, "CANCELLED", "no longer on the service")
        return held, again

    def _recorded(self, token: str, job_id: str | None):
        """The runtime job recorded as ``job_id``, or tagged with ``token`` when no id was recorded."""
        from qiskit_ibm_runtime.exceptions import RuntimeJobNotFound

        if job_id is not None:
            try:
                return self.retry.call(lambda: self.service.job(job_id), what=f"looking up job {job_id}",
                                       device=self.name)
            except ProviderError as exc:
                if isinstance(exc.__cause__, RuntimeJobNotFound):
                    return None
                raise
        found = self.retry.call(lambda: self.service.jobs(job_tags=[TAG_PREFIX + token], limit=1),
                                what="looking up a job by its tag", device=self.name)
        return found[0] if found else None

    # -- creating -------------------------------------------------------------------------------
    def _create(self, job: _Job, seed: int | None) -> _Job:
        rows = job.rows
        parts = [(int(r), -1, (0, j)) for j, r in enumerate(rows)]
        token = self.ledger.creating(job.token, self.angles, parts, job.attempt)
        if token != job.token:  # another process is creating this very job: wait for it, do not pay twice
            other = self._joined(token)
            if other is not None:
                return _Job(rows, token, job.attempt, other, reattached=True)
            token = self.ledger.creating(job.token, self.angles, parts, job.attempt)
        job.token = token
        primitive = self.backend.primitive(self.shots, seed, tags=[TAG_PREFIX + token])
        pubs = self.backend.pubs(self.circuit, self.angles[rows], self.shots)
        job.job = self.retry.call(lambda: primitive.run(pubs), what="creating a runtime job", device=self.name)
        self.ledger.submitted(token, job.job_id)
        self.created += 1
        return job

    def _joined(self, token: str, wait: float = 30.0):
        """The job another process is creating with ``token``, once it shows up on the service (else ``None``)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            job = self._recorded(token, None)
            if job is not None:
                return job
            time.sleep(min(1.0, self.backend.poll_interval))
        return None

    # -- collecting -----------------------------------------------------------------------------
    def _collect(self, job: _Job, deadline: float) -> tuple[np.ndarray, RunResult]:
        while True:
            status = self._wait(job, deadline)
            if status == "DONE":
                return job.rows, self._piece(job)
            job = self._again(job, status)

    def _wait(self, job: _Job, deadline: float) -> str:
        from qiskit_ibm_runtime.exceptions import RuntimeJobTimeoutError

        try:
            job.job.wait_for_final_state(timeout=max(0.0, deadline - time.monotonic()),
                                         poll_interval=self.backend.poll_interval)
        except RuntimeJobTimeoutError:
            raise DeviceError(f"device {self.name!r}: runtime job {job.job_id} still unfinished after "
                              f"{self.backend.poll_timeout:g} s", expected="jobs to end within poll_timeout",
                              received=f"status {job.job.status()}",
                              fix="rerun the same request with the same store: jobs already submitted are "
                                  "re-attached, not sent again; or raise IBMBackend(poll_timeout=...)") from None
        return str(job.job.status())

    def _piece(self, job: _Job) -> RunResult:
        result = self.retry.call(job.job.result, what=f"reading the result of runtime job {job.job_id}",
                                 device=self.name)
        values, variances = self.backend.estimates(self.circuit, list(result), len(job.rows), self.shots)
        self.ledger.ended(job.job_id, "COMPLETED")
        if job.reattached:
            self.ledger.reattached += len(job.rows)
        jobs, self.reported = self.created - self.reported, self.created
        return sampled_result(self.circuit, values, variances, jobs=jobs)

    def _again(self, job: _Job, status: str) -> _Job:
        """The job that replaces one that ended ``ERROR`` or ``CANCELLED``, or the error that ends the run."""
        reason = job.job.error_message() if status == "ERROR" else "cancelled"
        reason = reason or "no reason given"
        self.ledger.ended(job.job_id, "FAILED" if status == "ERROR" else "CANCELLED", reason)
        error = ended_error(self.name, f"runtime job {job.job_id}", status, reason, job.attempt, self.retry,
                            done="DONE", failed="ERROR")
        if error is not None:
            raise error
        self.retry.sleep(self.retry.delay(job.attempt))
        seed, = child_ints([self.seed, fresh()] if self.seed is not None else None, 1)
        return self._create(_Job(job.rows, uuid.uuid4().hex, job.attempt + 1), seed)

    def _cancel(self, jobs) -> None:
        for job in jobs:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if not job.job.in_final_state():
                        job.job.cancel()
            except Exception:  # noqa: BLE001 - best effort: the run is already failing for another reason
                pass
