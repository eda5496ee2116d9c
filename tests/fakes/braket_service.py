"""A local stand-in for the Amazon Braket REST API, for tests.

`FakeBraketService` is a small threaded HTTP server on 127.0.0.1 that speaks the
parts of the Braket API (botocore service model ``braket`` 2019-09-01,
protocol rest-json) that the Braket SDK's ``AwsDevice``, ``AwsQuantumTask``,
``AwsQuantumTaskBatch`` and ``AwsSession`` use:

=====================  ==========================================  ===========
operation              HTTP                                        success
=====================  ==========================================  ===========
GetDevice              GET  /device/{deviceArn}                    200
SearchDevices          POST /devices                               200
CreateQuantumTask      POST /quantum-task                          201
GetQuantumTask         GET  /quantum-task/{quantumTaskArn}         200
CancelQuantumTask      PUT  /quantum-task/{quantumTaskArn}/cancel  200
SearchQuantumTasks     POST /quantum-tasks                         200
=====================  ==========================================  ===========

Errors are sent the rest-json way (status code from the service model, an
``x-amzn-ErrorType`` header and a ``{"message": ...}`` body), so botocore
raises the same ``ClientError`` subclasses it raises against the cloud.

Each created task's OpenQASM program (``braket.ir.openqasm.program``, with
its inputs) or program set (``braket.ir.openqasm.program_set``) is run by the
simulator that ``braket.devices.LocalSimulator(backend)`` wraps, on background
worker threads; the result document (``GateModelTaskResult`` or
``ProgramSetTaskResult`` JSON) is written to
``s3://{outputS3Bucket}/{outputS3Directory}/results.json`` through an S3
client (moto in server mode in the harness), which is where
``AwsQuantumTask.result()`` reads it.

Task life cycle: QUEUED -> RUNNING -> COMPLETED | FAILED | CANCELLED, with
CANCELLING after a CancelQuantumTask on a task that has not ended.
``outputS3Directory`` is ``{outputS3KeyPrefix}/{task id}`` as in the cloud.
CreateQuantumTask is idempotent on ``clientToken`` (botocore fills it in
once per call and resends it on its own retries), so a retried create never
makes a second task.

Faults (`Faults`) and the record of everything (`ServiceLog`) are described
on those classes. Nothing here ever contacts an address other than the S3
endpoint it is given.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ._service import FaultsBase, HandlerBase, LocalService, Rule, ServiceLogBase

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account, so STS and the task ARNs agree

SV1_ARN = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1_ARN = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
QPU_ARN = f"arn:aws:braket:{REGION}::device/qpu/fakeq/qpu1"

OPENQASM_PROGRAM = "braket.ir.openqasm.program"
OPENQASM_PROGRAM_SET = "braket.ir.openqasm.program_set"

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})

# error code -> HTTP status, from the service model's error shapes
ERROR_STATUS = {
    "AccessDeniedException": 403,
    "ConflictException": 409,
    "DeviceOfflineException": 424,
    "DeviceRetiredException": 410,
    "InternalServiceException": 500,
    "ResourceNotFoundException": 404,
    "ServiceQuotaExceededException": 402,
    "ThrottlingException": 429,
    "ValidationException": 400,
    "UnknownOperationException": 404,
}


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def program_hash(source: str) -> str:
    """Stable short hash of an OpenQASM source text (what the log keys circuits by)."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def inputs_key(inputs: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    """Canonical, hashable form of a program's input values."""
    out = []
    for k, v in sorted((inputs or {}).items()):
        out.append((k, tuple(float(x) for x in v) if isinstance(v, list | tuple) else float(v)))
    return tuple(out)


def circuit_key(source: str, inputs: dict[str, Any] | None = None) -> tuple[str, tuple]:
    """The key `ServiceLog` uses for one circuit: (program hash, canonical inputs)."""
    return program_hash(source), inputs_key(inputs)


class ApiError(Exception):
    """An error answered the rest-json way: status, x-amzn-ErrorType, {"message"}."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status or ERROR_STATUS.get(code, 400)


# --------------------------------------------------------------------------- devices


@dataclasses.dataclass
class FakeDevice:
    """One device the fake service offers.

    `backend` is the LocalSimulator backend that runs its tasks ("braket_sv"
    or "braket_dm"). `status` may be changed while the service runs
    (OFFLINE -> CreateQuantumTask answers DeviceOfflineException, RETIRED ->
    DeviceRetiredException).
    """

    arn: str
    name: str
    provider: str
    device_type: str  # "SIMULATOR" | "QPU"
    backend: str = "braket_sv"
    status: str = "ONLINE"
    shots_range: tuple[int, int] = (0, 100_000)
    poll_interval_ms: int = 20  # service.getTaskPollIntervalMillis -> AwsDevice's default poll interval
    price: float = 0.075
    price_unit: str = "minute"
    qubit_count: int | None = None  # default: what the local backend supports
    program_sets: bool = True  # advertise braket.ir.openqasm.program_set
    queue_size: int = 0

    def capabilities(self) -> str:
        """The deviceCapabilities JSON document (a Braket device schema the SDK parses)."""
        from braket.devices import LocalSimulator

        local = json.loads(LocalSimulator(self.backend).properties.json())
        actions = {OPENQASM_PROGRAM: local["action"][OPENQASM_PROGRAM]}
        if self.program_sets and OPENQASM_PROGRAM_SET in local["action"]:
            actions[OPENQASM_PROGRAM_SET] = local["action"][OPENQASM_PROGRAM_SET]
        qubits = self.qubit_count or local["paradigm"]["qubitCount"]
        service = {
            "braketSchemaHeader": {
                "name": "braket.device_schema.device_service_properties",
                "version": "1",
            },
            "executionWindows": [
                {"executionDay": "Everyday", "windowStartHour": "00:00", "windowEndHour": "23:59:59"}
            ],
            "shotsRange": list(self.shots_range),
            "deviceCost": {"price": self.price, "unit": self.price_unit},
            "deviceDocumentation": {
                "imageUrl": "http://127.0.0.1/none.png",
                "summary": f"Local stand-in for {self.name}",
                "externalDocumentationUrl": "http://127.0.0.1/none",
            },
            "deviceLocation": "local",
            "updatedAt": "2024-01-01T00:00:00+00:00",
            "getTaskPollIntervalMillis": self.poll_interval_ms,
        }
        if self.device_type == "SIMULATOR":
            doc = {
                "braketSchemaHeader": {
                    "name": "braket.device_schema.simulators.gate_model_simulator_device_capabilities",
                    "version": "1",
                },
                "service": service,
                "action": actions,
                "paradigm": {
                    "braketSchemaHeader": {
                        "name": "braket.device_schema.simulators.gate_model_simulator_paradigm_properties",
                        "version": "1",
                    },
                    "qubitCount": qubits,
                },
                "deviceParameters": local["deviceParameters"],
            }
        else:
            from braket.device_schema.ionq import IonqDeviceParameters

            doc = {
                "braketSchemaHeader": {
                    "name": "braket.device_schema.ionq.ionq_device_capabilities",
                    "version": "1",
                },
                "service": service,
                "action": actions,
                "paradigm": {
                    "braketSchemaHeader": {
                        "name": "braket.device_schema.gate_model_qpu_paradigm_properties",
                        "version": "1",
                    },
                    "qubitCount": qubits,
                    "nativeGateSet": ["rx", "ry", "rz", "cz"],
                    "connectivity": {"fullyConnected": True, "connectivityGraph": {}},
                },
                "deviceParameters": json.loads(IonqDeviceParameters.schema_json()),
            }
        return json.dumps(doc)

    def summary(self) -> dict[str, str]:
        return {
            "deviceArn": self.arn,
            "deviceName": self.name,
            "providerName": self.provider,
            "deviceType": self.device_type,
            "deviceStatus": self.status,
        }


def default_devices() -> list[FakeDevice]:
    """SV1 and DM1 stand-ins (exact or sampled) and a QPU stand-in (shots >= 1, priced per shot)."""
    return [
        FakeDevice(SV1_ARN, "SV1", "Amazon Braket", "SIMULATOR", backend="braket_sv"),
        FakeDevice(DM1_ARN, "DM1", "Amazon Braket", "SIMULATOR", backend="braket_dm"),
        FakeDevice(
            QPU_ARN,
            "FakeQPU",
            "FakeQ",
            "QPU",
            backend="braket_sv",
            shots_range=(1, 10_000),
            price=0.0003,
            price_unit="shot",
            qubit_count=8,
            program_sets=False,
        ),
    ]


# --------------------------------------------------------------------------- log


@dataclasses.dataclass(frozen=True)
class ApiCall:
    """One request the service answered (or refused)."""

    seq: int
    operation: str
    task_arn: str | None
    device_arn: str | None
    http_status: int
    error: str | None  # error code, None on success
    injected: bool  # the error came from a fault rule
    replay: bool  # CreateQuantumTask answered from its clientToken (no new task)
    time: float


@dataclasses.dataclass(frozen=True)
class Execution:
    """One circuit run by the simulator (a program set logs one per executable)."""

    task_arn: str
    device_arn: str
    program_hash: str
    inputs: tuple
    shots: int
    ok: bool
    error: str | None
    duration: float

    @property
    def key(self) -> tuple[str, tuple]:
        return self.program_hash, self.inputs


@dataclasses.dataclass
class Task:
    """Service-side state of one quantum task (the log hands out copies)."""

    arn: str
    id: str
    ordinal: int  # 1-based creation order
    device_arn: str
    action_type: str
    action: str
    source: str | None  # program source (None for program sets)
    program_hash: str | None
    inputs: dict[str, Any]
    circuits: list[tuple[str, tuple]]  # circuit keys this task runs
    shots: int
    bucket: str
    directory: str
    client_token: str
    device_parameters: str
    tags: dict[str, str]
    associations: list[dict[str, str]]
    experimental: dict[str, str] | None
    program_count: int | None
    executable_count: int | None
    created_at: datetime
    status: str = "QUEUED"
    failure_reason: str | None = None
    ended_at: datetime | None = None
    started_at: datetime | None = None
    result_written: bool = False
    executed: int = 0
    # planned by fault rules at creation
    outcome: str = "complete"  # complete | fail | cancel
    delay: float = 0.0
    lose_result: bool = False
    planned_reason: str | None = None
    cancel_requested: bool = False
    executing: bool = False
    history: list[tuple[str, float]] = dataclasses.field(default_factory=list)

    @property
    def key(self) -> tuple[str, tuple] | None:
        """(program hash, canonical inputs) for a single-program task."""
        return (self.program_hash, inputs_key(self.inputs)) if self.source is not None else None


class ServiceLog(ServiceLogBase):
    """Everything the service saw and did, for assertions.

    - `calls`: every API request, in arrival order (`ApiCall`).
    - `tasks`: every created task in creation order (snapshots of `Task`).
    - `executions`: every circuit the simulator ran (`Execution`).

    Circuits are keyed by `circuit_key(source, inputs)` = (program hash,
    canonical inputs).
    """

    _call_type = ApiCall

    def __init__(self, lock: threading.RLock | None = None) -> None:
        super().__init__(lock or threading.RLock())

    # -- writers (service side; _add_call, _add_execution from ServiceLogBase)
    def _add_task(self, task: Task) -> None:
        self._add_record(task.arn, task)

    # -- readers (calls, executions, calls_to from ServiceLogBase)
    @property
    def tasks(self) -> list[Task]:
        return self._copies()

    def task(self, arn: str) -> Task:
        return self._copy(arn)

    def count(self, operation: str | None = None, *, error: str | None | bool = False) -> int:
        """Number of calls (to `operation`, if given). `error=None`: successful ones only;
        `error="ThrottlingException"`: those refused with that code; `error=True`: all refused."""
        out = 0
        for c in self.calls:
            if operation is not None and c.operation != operation:
                continue
            if error is False or (error is True and c.error) or (error is None and not c.error):
                out += 1
            elif isinstance(error, str) and c.error == error:
                out += 1
        return out

    def statuses(self) -> Counter:
        """Final (or current) status of every task."""
        return Counter(t.status for t in self.tasks)

    def execution_counts(self, *, ok: bool | None = True) -> Counter:
        """How many times each circuit was run (ok=True: successful runs only; None: all)."""
        return Counter(e.key for e in self.executions if ok is None or e.ok == ok)

    def delivered_counts(self) -> Counter:
        """How many tasks of each circuit ended COMPLETED with their result stored."""
        out: Counter = Counter()
        for t in self.tasks:
            if t.status == "COMPLETED" and t.result_written:
                out.update(t.circuits)
        return out

    def duplicates(self) -> dict[tuple, int]:
        """Circuits that were run successfully more than once."""
        return {k: n for k, n in self.execution_counts().items() if n > 1}

    def summary(self) -> str:
        return self._summary("tasks")


# --------------------------------------------------------------------------- faults


@dataclasses.dataclass(frozen=True)
class CallInfo:
    """What an API fault rule's `where` sees."""

    operation: str
    params: dict[str, Any]
    task_arn: str | None


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """What a task fault rule's `where` sees."""

    ordinal: int
    device_arn: str
    source: str | None
    inputs: dict[str, Any]
    shots: int
    program_hash: str | None


class Faults(FaultsBase):
    """Fault injection, set per test; every method returns the `Rule` it added
    (its `.fired` tells how often it struck). Selector keywords (see `Rule`):
    ``nth={1, 3}``, ``every=k``, ``fraction=p, seed=s``, ``limit=n``,
    ``where=predicate``.

    API faults (checked on every request, in the order added; the first rule
    that fires answers):

    - ``throttle(*operations, ...)``: HTTP 429 ThrottlingException.
    - ``api_error(*operations, code=..., after=False, ...)``: any error code
      (status from the service model); ``after=True`` does the operation
      first and then answers the error (a lost response: botocore retries
      CreateQuantumTask with the same clientToken and gets the same task).

    Operations are the API names ("CreateQuantumTask", "GetQuantumTask",
    "CancelQuantumTask", "GetDevice", "SearchDevices", "SearchQuantumTasks")
    or "*".

    Task faults (decided when a task is created, from `TaskInfo`):

    - ``fail_tasks(reason=None, retryable=False, ...)``: the task ends FAILED
      with `failureReason` (", retryable" marks it transient); not executed.
    - ``cancel_tasks(...)``: the task ends CANCELLED without being executed.
    - ``slow_tasks(delay, ...)``: the task stays RUNNING `delay` seconds
      before it executes and completes.
    - ``lose_results(...)``: the task runs and ends COMPLETED but no
      results.json is written.

    ``queue_delay`` (seconds, default 0) keeps every new task QUEUED that long.
    """

    RETRYABLE_REASON = "An internal error occurred while running the quantum task (transient; retryable)."
    FAILED_REASON = "The quantum task failed on the device (injected failure; not retryable)."

    # _selector, _add, clear(), rules, _api_fault and queue_delay: FaultsBase (task rules: self._planned)

    def throttle(self, *operations: str, nth=None, every=None, fraction=None, seed=0, limit=None, where=None) -> Rule:
        return self.api_error(
            *operations,
            code="ThrottlingException",
            message="Rate exceeded",
            nth=nth,
            every=every,
            fraction=fraction,
            seed=seed,
            limit=limit,
            where=where,
        )

    def api_error(
        self,
        *operations: str,
        code: str,
        message: str | None = None,
        status: int | None = None,
        after: bool = False,
        nth=None,
        every=None,
        fraction=None,
        seed=0,
        limit=None,
        where=None,
    ) -> Rule:
        if not operations:
            raise ValueError("name the operations (or '*')")
        rule = Rule(
            kind="api_error",
            operations=frozenset(operations),
            params={
                "code": code,
                "message": message or f"Injected {code}",
                "status": status,
                "after": after,
            },
            **self._selector(nth, every, fraction, seed, limit, where),
        )
        return self._add(self._api, rule)

    def fail_tasks(self, *, reason=None, retryable=False, nth=None, every=None, fraction=None, seed=0, limit=None, where=None) -> Rule:
        reason = reason or (self.RETRYABLE_REASON if retryable else self.FAILED_REASON)
        if retryable and "retryable" not in reason.lower():
            reason += " (retryable)"
        rule = Rule(kind="fail", params={"reason": reason}, **self._selector(nth, every, fraction, seed, limit, where))
        return self._add(self._planned, rule)

    def cancel_tasks(self, *, nth=None, every=None, fraction=None, seed=0, limit=None, where=None) -> Rule:
        return self._add(self._planned, Rule(kind="cancel", **self._selector(nth, every, fraction, seed, limit, where)))

    def slow_tasks(self, delay: float, *, nth=None, every=None, fraction=None, seed=0, limit=None, where=None) -> Rule:
        rule = Rule(kind="slow", params={"delay": float(delay)}, **self._selector(nth, every, fraction, seed, limit, where))
        return self._add(self._planned, rule)

    def lose_results(self, *, nth=None, every=None, fraction=None, seed=0, limit=None, where=None) -> Rule:
        return self._add(self._planned, Rule(kind="lose_result", **self._selector(nth, every, fraction, seed, limit, where)))

    # -- service side
    def _plan_task(self, task: Task) -> float:
        """Apply the task rules to a new task; returns the queue delay."""
        info = TaskInfo(task.ordinal, task.device_arn, task.source, dict(task.inputs), task.shots, task.program_hash)
        with self._lock:
            for rule in self._planned:
                if not rule.offer(info):
                    continue
                if rule.kind in ("fail", "cancel") and task.outcome == "complete":
                    task.outcome = rule.kind
                    task.planned_reason = rule.params.get("reason")
                elif rule.kind == "slow":
                    task.delay += rule.params["delay"]
                elif rule.kind == "lose_result":
                    task.lose_result = True
            task_queue_delay = self.queue_delay
        return task_queue_delay


# --------------------------------------------------------------------------- service


class _Handler(HandlerBase):
    service: FakeBraketService

    def _serve(self) -> None:
        status, out = self.service.handle(self.command, self.path, self._read_body())
        error = out.pop("__error__", None)
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error:
            self.send_header("x-amzn-ErrorType", error)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


class FakeBraketService(LocalService):
    """The fake Braket endpoint. `start()` binds 127.0.0.1 on a free port;
    `url` is then the endpoint to give botocore; `stop()` ends every thread.

    Args:
        s3_client: a boto3 S3 client (pointed at a local S3) used to check
            output buckets and write results.json.
        devices: the devices offered (default `default_devices()`).
        workers: simulator threads (tasks beyond that wait QUEUED).
    """

    _handler = _Handler
    _thread_prefix = "fake-braket"

    def __init__(self, s3_client: Any, devices: Iterable[FakeDevice] | None = None, workers: int = 2):
        super().__init__(workers)  # _lock, errors (unexpected exceptions inside the service: tests should see none)
        self.s3 = s3_client
        self.devices: dict[str, FakeDevice] = {d.arn: d for d in (devices or default_devices())}
        self.faults = Faults()
        self.log = ServiceLog(self._lock)  # one lock: log snapshots never see a half-made change
        self._tasks: dict[str, Task] = {}
        self._tokens: dict[str, str] = {}
        self._ordinal = itertools.count(1)
        self._capabilities: dict[str, str] = {}

    # -- life cycle (url, stop(), context manager: LocalService)
    def start(self) -> FakeBraketService:
        for d in self.devices.values():
            self._capabilities[d.arn] = d.capabilities()
        return super().start()

    # -- helpers for tests
    def set_device_status(self, arn: str, status: str) -> None:
        with self._lock:
            self.devices[arn].status = status

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every task has ended; True if they did within `timeout`."""
        return self._wait_until(lambda: all(t.status in TERMINAL for t in self._tasks.values()), timeout)

    # -- request dispatch
    def handle(self, method: str, raw_path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        try:
            params = json.loads(body) if body else {}
        except ValueError:
            params = None
        op, arn = self._route(method, path)
        task_arn = arn if op in ("GetQuantumTask", "CancelQuantumTask") else None
        device_arn = arn if op == "GetDevice" else (params or {}).get("deviceArn") if op == "CreateQuantumTask" else None
        replay = False
        injected = False
        rule = None

        def answer(status: int, body: dict, *, error: str | None = None, injected: bool = False,
                   replay: bool = False) -> tuple[int, dict[str, Any]]:
            """Log the call (under its operation, or its method and path when none matched) and answer it."""
            self.log._add_call(operation=op or f"{method} {path}", task_arn=task_arn, device_arn=device_arn,
                               http_status=status, error=error, injected=injected, replay=replay)
            return status, body

        try:
            if op is None:
                raise ApiError("UnknownOperationException", f"No operation at {method} {path}")
            if params is None:
                raise ApiError("ValidationException", "Request body is not valid JSON")
            rule = self.faults._api_fault(CallInfo(op, dict(params), task_arn))
            if rule is not None and not rule.params["after"]:
                injected = True
                raise ApiError(rule.params["code"], rule.params["message"], rule.params["status"])
            status, out = getattr(self, "_op_" + op)(arn, params, query)
            replay = bool(out.pop("__replay__", False))
            if op == "CreateQuantumTask":
                task_arn = out["quantumTaskArn"]
            if rule is not None:  # after=True: the work is done, the answer is lost
                injected = True
                raise ApiError(rule.params["code"], rule.params["message"], rule.params["status"])
        except ApiError as e:
            return answer(e.status, {"__error__": e.code, "message": e.message}, error=e.code, injected=injected,
                          replay=replay)
        except Exception as e:  # a bug in the fake: answer 500 and remember it
            self.errors.append(traceback.format_exc())
            return answer(500, {"__error__": "InternalServiceException", "message": f"fake service error: {e!r}"},
                          error="InternalServiceException")
        return answer(status, out, replay=replay)

    @staticmethod
    def _route(method: str, path: str) -> tuple[str | None, str | None]:
        if method == "GET" and path.startswith("/device/"):
            return "GetDevice", unquote(path[len("/device/") :])
        if method == "POST" and path == "/devices":
            return "SearchDevices", None
        if method == "POST" and path == "/quantum-task":
            return "CreateQuantumTask", None
        if method == "POST" and path == "/quantum-tasks":
            return "SearchQuantumTasks", None
        if path.startswith("/quantum-task/"):
            rest = path[len("/quantum-task/") :]
            if method == "PUT" and rest.endswith("/cancel"):
                return "CancelQuantumTask", unquote(rest[: -len("/cancel")])
            if method == "GET":
                return "GetQuantumTask", unquote(rest)
        return None, None

    # -- operations
    def _lookup(self, table: dict, arn: str, missing: str):
        """``table[arn]``, or the service's ResourceNotFoundException with the message ``missing``."""
        with self._lock:
            found = table.get(arn)
        if found is None:
            raise ApiError("ResourceNotFoundException", missing)
        return found

    def _device(self, arn: str) -> FakeDevice:
        return self._lookup(self.devices, arn, f"Braket device '{arn}' not found")

    def _op_GetDevice(self, arn, params, query):
        dev = self._device(arn)
        out = dev.summary() | {
            "deviceCapabilities": self._capabilities[arn],
            "deviceQueueInfo": [
                {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": str(self._queued(arn)), "queuePriority": "Normal"},
                {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": "0", "queuePriority": "Priority"},
                {"queue": "JOBS_QUEUE", "queueSize": "0"},
            ],
        }
        return 200, out

    def _queued(self, arn: str) -> int:
        with self._lock:
            return sum(1 for t in self._tasks.values() if t.device_arn == arn and t.status == "QUEUED")

    def _op_SearchDevices(self, arn, params, query):
        filters = params.get("filters") or []
        with self._lock:
            devices = [d.summary() for d in self.devices.values()]
        for f in filters:
            name, values = f.get("name"), set(f.get("values") or [])
            if name not in ("deviceArn", "deviceName", "providerName", "deviceType", "deviceStatus"):
                raise ApiError("ValidationException", f"Unsupported filter name {name!r}")
            devices = [d for d in devices if d[name] in values]
        return 200, self._page(devices, "devices", params)

    @staticmethod
    def _page(items: list, key: str, params: dict) -> dict:
        start = int(params.get("nextToken") or 0)
        size = int(params.get("maxResults") or 100)
        out = {key: items[start : start + size]}
        if start + size < len(items):
            out["nextToken"] = str(start + size)
        return out

    def _op_CreateQuantumTask(self, arn, params, query):
        from braket.schema_common import BraketSchemaBase

        for field in ("clientToken", "deviceArn", "shots", "outputS3Bucket", "outputS3KeyPrefix", "action"):
            if field not in params:
                raise ApiError("ValidationException", f"Missing required field {field}")
        token = params["clientToken"]
        with self._lock:
            if token in self._tokens:  # idempotent replay
                return 201, {"quantumTaskArn": self._tokens[token], "__replay__": True}
        dev = self._device(params["deviceArn"])
        if dev.status == "OFFLINE":
            raise ApiError("DeviceOfflineException", f"Device {dev.arn} is offline")
        if dev.status == "RETIRED":
            raise ApiError("DeviceRetiredException", f"Device {dev.arn} is retired")
        shots = int(params["shots"])
        lo, hi = dev.shots_range
        if not lo <= shots <= hi:
            raise ApiError("ValidationException", f"Shots {shots} out of range [{lo}, {hi}] for device {dev.arn}")
        try:
            action_doc = json.loads(params["action"])
            action_type = action_doc["braketSchemaHeader"]["name"]
        except (ValueError, KeyError, TypeError) as e:
            raise ApiError("ValidationException", f"Invalid action: {e}") from None
        allowed = json.loads(self._capabilities[dev.arn])["action"]
        if action_type not in allowed:
            raise ApiError("ValidationException", f"Device {dev.arn} does not support action {action_type}")
        try:
            action = BraketSchemaBase.parse_raw_schema(params["action"])
        except Exception as e:
            raise ApiError("ValidationException", f"Invalid action: {e}") from None
        bucket = params["outputS3Bucket"]
        try:
            self.s3.head_bucket(Bucket=bucket)
        except Exception:
            raise ApiError(
                "ValidationException",
                f"Caller doesn't have access to amazon-braket-{bucket} or it doesn't exist.",
            ) from None
        if action_type == OPENQASM_PROGRAM:
            source, inputs = action.source, dict(action.inputs or {})
            circuits = [circuit_key(source, inputs)]
            program_count = executable_count = None
        else:
            source, inputs = None, {}
            circuits = []
            for prog in action.programs:
                ins = dict(prog.inputs or {})
                n = max((len(v) for v in ins.values()), default=1)
                circuits += [circuit_key(prog.source, {k: v[i] for k, v in ins.items()}) for i in range(n)]
            program_count, executable_count = len(action.programs), len(circuits)
        task_id = str(uuid.uuid4())
        task_arn = f"arn:aws:braket:{REGION}:{ACCOUNT_ID}:quantum-task/{task_id}"
        task = Task(
            arn=task_arn,
            id=task_id,
            ordinal=0,
            device_arn=dev.arn,
            action_type=action_type,
            action=params["action"],
            source=source,
            program_hash=program_hash(source) if source is not None else None,
            inputs=inputs,
            circuits=circuits,
            shots=shots,
            bucket=bucket,
            directory=f"{params['outputS3KeyPrefix']}/{task_id}",
            client_token=token,
            device_parameters=params.get("deviceParameters") or "{}",
            tags=dict(params.get("tags") or {}),
            associations=list(params.get("associations") or []),
            experimental=params.get("experimentalCapabilities"),
            program_count=program_count,
            executable_count=executable_count,
            created_at=_now(),
        )
        with self._lock:
            if token in self._tokens:  # a concurrent duplicate won the race
                return 201, {"quantumTaskArn": self._tokens[token], "__replay__": True}
            task.ordinal = next(self._ordinal)
            queue_delay = self.faults._plan_task(task)
            task.history.append(("QUEUED", time.monotonic()))
            self._tasks[task_arn] = task
            self._tokens[token] = task_arn
            self.log._add_task(task)
        self._schedule(queue_delay, task_arn, "start")
        return 201, {"quantumTaskArn": task_arn}

    def _task(self, arn: str) -> Task:
        return self._lookup(self._tasks, arn, f"Quantum task {arn} not found")

    def _op_GetQuantumTask(self, arn, params, query):
        task = self._task(arn)
        with self._lock:
            out = {
                "quantumTaskArn": task.arn,
                "status": task.status,
                "deviceArn": task.device_arn,
                "deviceParameters": task.device_parameters,
                "shots": task.shots,
                "outputS3Bucket": task.bucket,
                "outputS3Directory": task.directory,
                "createdAt": _iso(task.created_at),
                "tags": dict(task.tags),
                "actionMetadata": {"actionType": task.action_type},
            }
            if task.program_count is not None:
                out["actionMetadata"] |= {"programCount": task.program_count, "executableCount": task.executable_count}
            if task.failure_reason:
                out["failureReason"] = task.failure_reason
            if task.ended_at:
                out["endedAt"] = _iso(task.ended_at)
            if task.status == "COMPLETED":
                out["numSuccessfulShots"] = task.shots
            if task.associations:
                out["associations"] = list(task.associations)
            if task.experimental:
                out["experimentalCapabilities"] = dict(task.experimental)
            if "QueueInfo" in query.get("additionalAttributeNames", []):
                if task.status == "QUEUED":
                    ahead = sum(
                        1
                        for t in self._tasks.values()
                        if t.device_arn == task.device_arn and t.status == "QUEUED" and t.ordinal < task.ordinal
                    )
                    out["queueInfo"] = {"queue": "QUANTUM_TASKS_QUEUE", "position": str(ahead + 1), "queuePriority": "Normal"}
                else:
                    out["queueInfo"] = {
                        "queue": "QUANTUM_TASKS_QUEUE",
                        "position": "None",
                        "queuePriority": "Normal",
                        "message": f"Task is in {task.status} status. AmazonBraket does not show queue position for this status.",
                    }
        return 200, out

    def _op_CancelQuantumTask(self, arn, params, query):
        task = self._task(arn)
        with self._lock:
            if task.status in TERMINAL:
                raise ApiError("ConflictException", f"Quantum task {arn} is in terminal state {task.status}")
            task.cancel_requested = True
            if task.status != "CANCELLING":
                self._set_status(task, "CANCELLING")
        self._schedule(0.0, arn, "cancel")
        return 200, {"quantumTaskArn": arn, "cancellationStatus": "CANCELLING"}

    def _op_SearchQuantumTasks(self, arn, params, query):
        with self._lock:
            tasks = list(self._tasks.values())
        for f in params.get("filters") or []:
            name, values, operator = f.get("name"), list(f.get("values") or []), f.get("operator", "EQUAL")
            if name in ("createdAt", "endedAt"):
                times = [datetime.fromisoformat(v.replace("Z", "+00:00")) for v in values]

                def keep(t, name=name, operator=operator, times=times):
                    v = getattr(t, "created_at" if name == "createdAt" else "ended_at")
                    if v is None:
                        return False
                    return {
                        "LT": lambda: v < times[0],
                        "LTE": lambda: v <= times[0],
                        "EQUAL": lambda: v == times[0],
                        "GT": lambda: v > times[0],
                        "GTE": lambda: v >= times[0],
                        "BETWEEN": lambda: times[0] <= v <= times[1],
                    }[operator]()

            elif name in ("quantumTaskArn", "deviceArn", "status"):
                field = {"quantumTaskArn": "arn", "deviceArn": "device_arn", "status": "status"}[name]
                if operator != "EQUAL":
                    raise ApiError("ValidationException", f"Operator {operator} not supported for {name}")

                def keep(t, field=field, values=values):
                    return getattr(t, field) in values

            else:
                raise ApiError("ValidationException", f"Unsupported filter name {name!r}")
            tasks = [t for t in tasks if keep(t)]
        with self._lock:
            items = [
                {
                    "quantumTaskArn": t.arn,
                    "status": t.status,
                    "deviceArn": t.device_arn,
                    "shots": t.shots,
                    "outputS3Bucket": t.bucket,
                    "outputS3Directory": t.directory,
                    "createdAt": _iso(t.created_at),
                    "tags": dict(t.tags),
                }
                | ({"endedAt": _iso(t.ended_at)} if t.ended_at else {})
                for t in tasks
            ]
        return 200, self._page(items, "quantumTasks", params)

    # -- task execution
    def _set_status(self, task: Task, status: str, reason: str | None = None) -> None:
        task.status = status
        task.history.append((status, time.monotonic()))
        if reason:
            task.failure_reason = reason
        if status in TERMINAL:
            task.ended_at = _now()

    # _schedule(delay, arn, what) and the scheduler / worker threads: LocalService
    def _step(self, arn: str, what: str) -> None:
        with self._lock:
            task = self._tasks[arn]
            if task.status in TERMINAL:
                return
            if task.cancel_requested and not task.executing:
                self._set_status(task, "CANCELLED")
                return
            if what == "start" and task.status == "QUEUED":
                self._set_status(task, "RUNNING")
                task.started_at = _now()
                self._schedule(task.delay, arn, "execute")
            elif what == "execute" and task.status == "RUNNING":
                task.executing = True
                self._queue.put(arn)

    def _execution_crashed(self, arn: str) -> None:
        task = self._tasks[arn]
        task.executing = False
        if task.status not in TERMINAL:
            self._set_status(task, "FAILED", "InternalServiceException: fake service error")

    def _execute(self, arn: str) -> None:
        with self._lock:
            task = self._tasks[arn]
            outcome, reason = task.outcome, task.planned_reason
        if outcome in ("fail", "cancel"):
            with self._lock:
                task.executing = False
                if outcome == "fail":
                    self._set_status(task, "FAILED", reason)
                else:
                    self._set_status(task, "CANCELLED")
            return
        body, error = self._simulate(task)
        with self._lock:
            cancelled = task.cancel_requested
        if error is None and not cancelled and not task.lose_result:
            self.s3.put_object(
                Bucket=task.bucket,
                Key=f"{task.directory}/results.json",
                Body=body.encode(),
                ContentType="application/json",
            )
        with self._lock:
            task.result_written = error is None and not cancelled and not task.lose_result
            task.executing = False
            if cancelled:
                self._set_status(task, "CANCELLED")
            elif error is not None:
                self._set_status(task, "FAILED", error)
            else:
                self._set_status(task, "COMPLETED")

    def _simulate(self, task: Task) -> tuple[str | None, str | None]:
        """Run the task's action on the LocalSimulator's backend; (result JSON, error)."""
        from braket.devices import LocalSimulator
        from braket.schema_common import BraketSchemaBase

        dev = self.devices[task.device_arn]
        action = BraketSchemaBase.parse_raw_schema(task.action)
        t0 = time.monotonic()
        try:
            simulator = LocalSimulator(dev.backend)._delegate  # the engine LocalSimulator.run drives
            result = simulator.run(action, shots=task.shots)
            result.taskMetadata.id = task.arn
            result.taskMetadata.deviceId = dev.arn
            doc = json.loads(result.json())
            if doc.get("measurements") == []:  # exact (shots=0) runs: the stored schema wants none, not []
                doc["measurements"] = None
            body, error = json.dumps(doc), None
            BraketSchemaBase.parse_raw_schema(body)  # what the SDK will parse must parse
        except Exception as e:
            body, error = None, f"{type(e).__name__}: {e}"
        task.executed += 1
        for ph, ins in task.circuits:
            self.log._add_execution(
                Execution(
                    task_arn=task.arn,
                    device_arn=dev.arn,
                    program_hash=ph,
                    inputs=ins,
                    shots=task.shots,
                    ok=error is None,
                    error=error,
                    duration=time.monotonic() - t0,
                )
            )
        return body, error


__all__ = [
    "ACCOUNT_ID",
    "DM1_ARN",
    "QPU_ARN",
    "REGION",
    "SV1_ARN",
    "ApiCall",
    "ApiError",
    "Execution",
    "FakeBraketService",
    "FakeDevice",
    "Faults",
    "Rule",
    "ServiceLog",
    "Task",
    "circuit_key",
    "default_devices",
    "inputs_key",
    "program_hash",
]
