"""Quantum tasks on an Amazon Braket ``AwsDevice``: submit, record, re-attach, collect, retry.

:class:`~qshift.BraketBackend` sends circuits to a device reached through AWS
(an ``AwsDevice``: anything with an ``arn`` and an ``aws_session``) here. Each
circuit a request needs is a *part*: a row of slot angles (exact runs: every
output at once) or a row in one measurement group (sampling). Parts travel as
quantum tasks — one per part, or program sets of many parts where the device
takes them.

How one call runs (:class:`TaskRun`):

1. The ledger (a :class:`~qshift.backends.base.TaskLedger`; the store's, or one that records nothing)
   says what it knows of every part. A part whose task an earlier run created is
   *re-attached* by the task's ARN. A part whose create call never answered (the
   process died in between) is created again with the same idempotency token, so
   the service hands back the task if it exists instead of running it twice.
   The rest are new.
2. New tasks are created, at most ``max_parallel`` in flight; the ledger records
   the token before each create call and the ARN after it.
3. Tasks are awaited oldest first (``GetQuantumTask`` every
   ``poll_interval_seconds``, up to ``poll_timeout_seconds`` in all).
   ``COMPLETED``: the result is read from S3 and the rows it finishes are yielded
   at once (the executor stores them). ``FAILED`` with a retryable reason, or
   ``CANCELLED``: only that task's parts get a new task, up to the retry policy's
   ``max_attempts``. ``FAILED`` otherwise: a :class:`~qshift.backends.retry.ProviderError`
   with the provider's reason.
4. Every call to AWS (create, poll, the S3 read) goes through the
   :class:`~qshift.RetryPolicy`: transient errors are retried with backoff and
   jitter, permanent ones raised after one attempt with the provider's message.

Nothing here reads or records credentials: the ledger gets task ARNs, tokens
drawn here (``uuid4``) and positions.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from qshift._errors import DeviceError, ProviderError
from qshift.backends._common import exact_result, sampled_result
from qshift.backends.base import NoLedger, RunResult, TaskLedger
from qshift.backends.braket.limits import rows_per_program_set
from qshift.backends.braket.translate import binding, exact_values, fill, inputs, to_braket
from qshift.backends.retry import RetryPolicy, ended_error
from qshift.ir.circuit import Circuit
from qshift.ir.grouping import blank_estimates, measurement_groups

__all__ = ["TaskRun", "on_aws"]

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
DEFAULT_POLL_TIMEOUT = 5 * 24 * 3600.0  # the SDK's default: 5 days
DEFAULT_MAX_PARALLEL = 10  # the SDK's default for run_batch


def on_aws(device) -> bool:
    """True for a device reached through AWS (an ``AwsDevice``), False for a local simulator."""
    return isinstance(getattr(device, "arn", None), str) and getattr(device, "aws_session", None) is not None


@dataclass
class _Task:
    """One quantum task: the parts it computes, where each sits in its result, and its create call."""

    parts: list[tuple[int, int]]  # (row, part): part -1 is every output, else a measurement group
    positions: list[tuple[int, int] | None]  # (program, executable) in a program-set result
    token: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempt: int = 1
    arn: str | None = None
    reattached: bool = False


class _TokenSession:
    """The device's ``AwsSession``, except that ``CreateQuantumTask`` carries a given idempotency token."""

    def __init__(self, session, token: str):
        self._session = session
        self._token = token

    def create_quantum_task(self, **kwargs) -> str:
        return self._session.create_quantum_task(**kwargs, clientToken=self._token)

    def __getattr__(self, name):
        return getattr(self._session, name)


class TaskRun:
    """One :meth:`BraketBackend.iter_run` call on an AWS device: yields ``(rows, RunResult)`` as tasks finish.

    Args:
        backend: the :class:`~qshift.BraketBackend` (name, noise, limits, run options, retry policy).
        device: its ``AwsDevice``.
        circuit, angles, shots: what to run (``shots=None``: exact, simulators only).
        ledger: where tasks are recorded and found again (``None``: nowhere).
    """

    def __init__(self, backend, device, circuit: Circuit, angles: np.ndarray, shots: int | None,
                 ledger: TaskLedger | None):
        self.name, self.noise, self.device = backend.name, backend.noise, device
        self.circuit, self.angles, self.shots = circuit, angles, shots
        self.ledger = ledger if ledger is not None else NoLedger()
        self.retry: RetryPolicy = backend.retry
        self.session = device.aws_session
        options = dict(backend.run_options)
        self.poll_timeout = float(options.pop("poll_timeout_seconds", None) or DEFAULT_POLL_TIMEOUT)
        self.poll_interval = float(options.pop("poll_interval_seconds", None)
                                   or getattr(device, "_poll_interval_seconds", None) or 1.0)
        self.folder = options.pop("s3_destination_folder", None)
        options.pop("max_parallel", None)
        self.create_options = options
        self.window = backend.max_parallel or DEFAULT_MAX_PARALLEL
        self.groups = None if shots is None else measurement_groups(circuit)
        self.per_set = rows_per_program_set(device, shots) if shots is not None and backend.program_sets else None
        self.values, self.variances = blank_estimates(circuit, len(angles))
        if shots is None:
            self.variances = None
        self.remaining = np.full(len(angles), 1 if shots is None else len(self.groups))
        self.fresh = np.zeros(len(angles), dtype=bool)  # rows with a part sent by this run
        self.jobs = self.jobs_reported = 0
        self.unfinished: set[str] = set()  # ARNs of tasks this run created that have not ended

    # -- the run --------------------------------------------------------------------------------
    def stream(self) -> Iterator[tuple[np.ndarray, RunResult]]:
        """Yield ``(rows, result)`` as tasks finish.

        When the run stops early (an error, an interrupt) without a store, the tasks it created
        and left unfinished are cancelled: nothing could collect them later. With a store they
        keep running, to be re-attached by the next run.
        """
        try:
            yield from self._stream()
        except BaseException:
            if not self.ledger.records:
                self._cancel_unfinished()
            raise

    def _stream(self) -> Iterator[tuple[np.ndarray, RunResult]]:
        inflight, queue = self._plan()
        deadline = time.monotonic() + self.poll_timeout
        while inflight or queue:
            while queue and len(inflight) < self.window:
                task = queue.popleft()
                self._create(task)
                inflight.append(task)
            task = inflight.popleft()
            status, meta = self._wait(task, deadline, len(inflight) + len(queue))
            self.unfinished.discard(task.arn)
            if status == "COMPLETED":
                rows = self._collect(task, meta)
                if len(rows):
                    yield rows, self._piece(rows)
            else:
                queue.appendleft(self._again(task, status, meta))

    def _cancel_unfinished(self) -> None:
        for arn in sorted(self.unfinished):
            try:
                self.session.cancel_quantum_task(arn)
            except Exception:  # noqa: BLE001 - best effort: the run is already failing for another reason
                pass

    def _parts(self) -> list[tuple[int, int]]:
        if self.shots is None:
            return [(r, -1) for r in range(len(self.angles))]
        return [(r, g) for g in range(len(self.groups)) for r in range(len(self.angles))]

    def _plan(self) -> tuple[deque, deque]:
        """Re-attached tasks (in flight), and tasks to create: recreated by token first, then new."""
        known = self.ledger.find(self.angles, self._parts())
        by_arn: dict[str, list] = {}
        by_token: dict[str, list] = {}
        new = []
        for part in self._parts():
            entry = known.get(part)
            if entry is None or entry.status in ("FAILED", "CANCELLED"):
                new.append(part)
            elif entry.task_id is not None:
                by_arn.setdefault(entry.task_id, []).append((part, entry))
            else:
                by_token.setdefault(entry.token, []).append((part, entry))
        inflight = deque(_Task([p for p, _ in items], [e.position for _, e in items], items[0][1].token,
                               items[0][1].attempt, arn=arn, reattached=True) for arn, items in by_arn.items())
        queue = deque()
        for token, items in by_token.items():
            if len(items) == items[0][1].group_size:  # the whole task is asked for: create it again, same token
                queue.append(_Task([p for p, _ in items], [e.position for _, e in items], token, items[0][1].attempt))
            else:
                new += [p for p, _ in items]
        queue.extend(self._new_tasks(new))
        return inflight, queue

    def _new_tasks(self, parts: list[tuple[int, int]]) -> list[_Task]:
        if self.per_set is None:
            return [_Task([p], [None]) for p in parts]
        by_group: dict[int, list[int]] = {}
        for r, g in parts:
            by_group.setdefault(g, []).append(r)
        bindings = [(g, rows[i:i + self.per_set]) for g, rows in sorted(by_group.items())
                    for i in range(0, len(rows), self.per_set)]
        tasks, current, size = [], None, 0
        for g, rows in bindings:
            if current is None or size + len(rows) > self.per_set:
                current, size = _Task([], []), 0
                tasks.append(current)
            b = len({pos[0] for pos in current.positions})
            current.parts += [(r, g) for r in rows]
            current.positions += [(b, e) for e in range(len(rows))]
            size += len(rows)
        return tasks

    # -- creating -------------------------------------------------------------------------------
    def _create(self, task: _Task) -> None:
        from braket.aws import AwsQuantumTask

        spec, inputs, shots = self._spec(task)
        folder = self._folder()
        token = self.ledger.creating(task.token, self.angles,
                                     [(r, p, pos) for (r, p), pos in zip(task.parts, task.positions)], task.attempt)
        joined = token != task.token  # another process is creating this very task: send its token, get its task
        task.token = token
        session = _TokenSession(self.session, task.token)
        created = self.retry.call(
            lambda: AwsQuantumTask.create(session, self.device.arn, spec, folder, shots, inputs=inputs, quiet=True,
                                          **self.create_options),
            what="creating a quantum task", device=self.name)
        task.arn = created.id
        self.unfinished.add(task.arn)
        self.ledger.submitted(task.token, task.arn)
        self.jobs += 1
        if not joined:  # a joined task counts as re-attached
            self.fresh[[r for r, _ in task.parts]] = True

    def _spec(self, task: _Task):
        """The task specification, its inputs and its shots."""
        if task.positions[0] is None:
            (r, p), = task.parts
            group = None if p < 0 else self.groups[p]
            program = to_braket(self.circuit, group, self.noise, p < 0)
            return program, inputs(self.angles[r:r + 1])[0], 0 if self.shots is None else self.shots
        from braket.program_sets import CircuitBinding, ProgramSet

        programs: dict[int, tuple[int, list[tuple[int, int]]]] = {}
        for (r, g), (b, e) in zip(task.parts, task.positions):
            programs.setdefault(b, (g, []))[1].append((e, r))
        bindings = []
        for b in sorted(programs):
            g, entries = programs[b]
            rows = [r for _, r in sorted(entries)]
            bindings.append(binding(CircuitBinding, to_braket(self.circuit, self.groups[g], self.noise),
                                     self.angles[rows]))
        program_set = ProgramSet(bindings, shots_per_executable=self.shots)
        return program_set, None, program_set.total_shots

    def _folder(self):
        if self.folder is None:
            from braket.aws import AwsSession

            uri = os.environ.get("AMZN_BRAKET_TASK_RESULTS_S3_URI")
            self.folder = AwsSession.parse_s3_uri(uri) if uri else (
                self.retry.call(self.session.default_bucket, what="finding the results bucket", device=self.name),
                "tasks")
        return self.folder

    # -- collecting -----------------------------------------------------------------------------
    def _wait(self, task: _Task, deadline: float, others: int) -> tuple[str, dict]:
        client = self.session.braket_client
        while True:
            meta = self.retry.call(lambda: client.get_quantum_task(quantumTaskArn=task.arn),
                                   what=f"polling quantum task {task.arn}", device=self.name)
            if meta["status"] in TERMINAL:
                return meta["status"], meta
            if time.monotonic() >= deadline:
                raise DeviceError(f"device {self.name!r}: quantum task {task.arn} (and {others} more) still "
                                  f"unfinished after {self.poll_timeout:g} s",
                                  expected="tasks to end within poll_timeout_seconds",
                                  received=f"status {meta['status']}",
                                  fix="rerun the same request with the same store: tasks already submitted are "
                                      "re-attached, not sent again; or raise run_options['poll_timeout_seconds']")
            time.sleep(self.poll_interval)

    def _collect(self, task: _Task, meta: dict) -> np.ndarray:
        """Fill the values of the task's parts; the rows it finished."""
        result = self._result(task, meta)
        for (r, p), pos in zip(task.parts, task.positions):
            if p < 0:
                self.values[r] = exact_values(self.circuit, result)
            else:
                entry = result if pos is None else result[pos[0]][pos[1]]
                fill(self.values, self.variances, self.circuit, self.groups[p], [r], [entry])
            self.remaining[r] -= 1
        self.ledger.ended(task.arn, "COMPLETED")
        return np.array(sorted({r for r, _ in task.parts if self.remaining[r] == 0}), dtype=int)

    def _result(self, task: _Task, meta: dict):
        from braket.schema_common import BraketSchemaBase
        from braket.task_result import ProgramSetTaskResult
        from braket.tasks import GateModelQuantumTaskResult

        key = f"{meta['outputS3Directory']}/results.json"
        try:
            body = self.retry.call(lambda: self.session.retrieve_s3_object_body(meta["outputS3Bucket"], key),
                                   what=f"reading the result of quantum task {task.arn}", device=self.name)
        except ProviderError:
            self.ledger.ended(task.arn, "FAILED", "its result could not be read")  # a rerun sends it again
            raise
        parsed = BraketSchemaBase.parse_raw_schema(body)
        if isinstance(parsed, ProgramSetTaskResult):
            from braket.tasks import ProgramSetQuantumTaskResult

            return ProgramSetQuantumTaskResult.from_object(parsed)
        GateModelQuantumTaskResult.cast_result_types(parsed)
        return GateModelQuantumTaskResult.from_object(parsed)

    def _piece(self, rows: np.ndarray) -> RunResult:
        jobs, self.jobs_reported = self.jobs - self.jobs_reported, self.jobs
        self.ledger.reattached += int(np.count_nonzero(~self.fresh[rows]))
        if self.shots is None:
            return exact_result(self.values[rows], jobs=jobs)
        return sampled_result(self.circuit, self.values[rows], self.variances[rows], jobs=jobs)

    def _again(self, task: _Task, status: str, meta: dict) -> _Task:
        """The task that replaces one that ended FAILED or CANCELLED, or the error that ends the run."""
        reason = meta.get("failureReason") or ("cancelled" if status == "CANCELLED" else "no reason given")
        self.ledger.ended(task.arn, status, reason)
        error = ended_error(self.name, f"quantum task {task.arn}", status, reason, task.attempt, self.retry,
                            done="COMPLETED", failed="FAILED")
        if error is not None:
            raise error
        self.retry.sleep(self.retry.delay(task.attempt))
        return _Task(task.parts, task.positions, attempt=task.attempt + 1)
