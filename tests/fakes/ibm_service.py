"""A local stand-in for the IBM Quantum Platform REST APIs that qiskit-ibm-runtime calls, for tests.

`FakeIBMRuntimeService` is a threaded HTTP server on 127.0.0.1. The SDK builds its
host names from the account ``url`` (``http://{DOMAIN}`` here) the same way it does
for ``https://cloud.ibm.com``, so the server answers for four virtual hosts under
`DOMAIN`, reached through it as an HTTP proxy (the harness exports
``HTTP_PROXY=<this server>``; ``.test`` names never resolve, so without the proxy
nothing is reached at all):

=================================  ========================  ====================================
host                               operation                 HTTP
=================================  ========================  ====================================
iam.{DOMAIN}  (``IAM_URL``)        GetToken                  POST /identity/token
api.global-search-tagging.{D}      SearchResources           POST /v3/resources/search
globalcatalog.{DOMAIN}             GetCatalogEntry           GET  /api/v1/{id}
quantum.{DOMAIN}                   ListBackends              GET  /api/v1/backends
  (and 127.0.0.1:{port} directly)  GetBackendConfiguration   GET  /api/v1/backends/{name}/configuration
                                   GetBackendProperties      GET  /api/v1/backends/{name}/properties
                                   GetBackendStatus          GET  /api/v1/backends/{name}/status
                                   GetUsage                  GET  /api/v1/instances/usage
                                   CreateJob                 POST /api/v1/jobs
                                   ListJobs                  GET  /api/v1/jobs
                                   GetJob                    GET  /api/v1/jobs/{id}
                                   DeleteJob                 DELETE /api/v1/jobs/{id}
                                   GetJobResults             GET  /api/v1/jobs/{id}/results
                                   CancelJob                 POST /api/v1/jobs/{id}/cancel
                                   GetJobMetrics             GET  /api/v1/jobs/{id}/metrics
                                   GetJobLogs                GET  /api/v1/jobs/{id}/logs
                                   ReplaceJobTags            PUT  /api/v1/jobs/{id}/tags
=================================  ========================  ====================================

Who calls what: ``QiskitRuntimeService(token=, instance=CRN, url=)`` gets an IAM
token (``ibm_cloud_sdk_core.IAMTokenManager``, a JWT it decodes without checking the
signature), checks the instance through Global Search (plan name from the Global
Catalog) and lists the instance's backends; ``service.backend(name)`` reads the
configuration, and the backend's ``target`` the properties; ``SamplerV2.run`` reads
the usage and the backend status, then posts the job; ``RuntimeJobV2.status()`` /
``result()`` poll GetJob and read GetJobResults; ``service.job(id)`` is GetJob and
``service.jobs(job_tags=[...])`` is ListJobs with ``tags`` repeated (a job matches
when it carries every tag). Every runtime, search and catalog request must carry
a bearer token this server issued (401 otherwise); runtime requests also the
instance CRN in ``Service-CRN`` (403 otherwise).

Job life cycle (``state.status`` on the wire, and what ``RuntimeJobV2.status()``
maps it to): Queued (QUEUED) -> Running (RUNNING) -> Completed (DONE) | Failed
(ERROR) | Cancelled (CANCELLED). A job's params (``RuntimeEncoder`` JSON:
``pubs`` as ``[circuit, parameter values, shots]``, ``options``, ``version``)
are decoded with ``RuntimeDecoder`` and run, once, on a worker thread by the
SDK's own local testing mode (``QiskitRuntimeLocalService``, the code path of
``SamplerV2(mode=<fake backend>)``) on the served backend's executor: the
runtime fake backend with its calibrated noise, or
``AerSimulator.from_backend(fake, noise_model=None)`` when ``noise=False``. The
``PrimitiveResult`` is stored ``RuntimeEncoder``-encoded, which is what
``RuntimeJobV2.result()`` decodes. Options the local mode honours:
``default_shots`` (``SERVER_DEFAULT_SHOTS`` when neither it nor the pub sets
shots), ``simulator.seed_simulator`` (a seed of 0 is ignored by the local mode).
Jobs are server state: they outlive the client, and even the process, that
created them. One job runs at a time per backend, as on a device.

Faults (`Faults`) and the record of everything (`ServiceLog`) are described on
those classes; `FakeIBMRuntimeService.errors` collects requests nobody should
make (unknown endpoints or hosts, CONNECT tunnels, unsupported programs) and
exceptions inside the fake. The server never opens a connection anywhere.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import math
import os
import re
import secrets
import string
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ._service import FaultsBase, HandlerBase, LocalService, Rule, ServiceLogBase

DOMAIN = "ibm-cloud.test"  # reserved TLD (RFC 2606): never resolves, so only the proxy reaches it
CLOUD_URL = f"http://{DOMAIN}"
API_KEY = "fake-ibm-cloud-api-key"
ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
INSTANCE_GUID = "00000000-0000-4000-8000-000000000001"
INSTANCE_CRN = f"crn:v1:bluemix:public:quantum-computing:us-east:a/{ACCOUNT_ID}:{INSTANCE_GUID}::"
INSTANCE_NAME = "fake-instance"
PLAN_ID = "fake-open-plan"
SERVER_DEFAULT_SHOTS = 4096
PROGRAMS = frozenset({"sampler"})
DEFAULT_BACKENDS = ("fake_manila", "fake_brisbane")

# wire status -> RuntimeJobV2.status()
SDK_STATUS = {"Queued": "QUEUED", "Running": "RUNNING", "Completed": "DONE", "Failed": "ERROR",
              "Cancelled": "CANCELLED"}
TERMINAL = frozenset({"Completed", "Failed", "Cancelled"})

_JWT_SECRET = secrets.token_hex(16)
_JOB_ID_CHARS = string.ascii_lowercase + string.digits


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ApiError(Exception):
    """An error answered the IBM Cloud way: ``{"errors": [{"code", "message"}], "status_code"}``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- backends


@dataclasses.dataclass
class ServedBackend:
    """One backend the fake offers, described by a runtime fake backend's bundled snapshot.

    `name` is a fake backend's name (``"fake_manila"``, ``"fake_brisbane"``, ... as in
    ``qiskit_ibm_runtime.fake_provider``): its ``conf_*.json`` is served as the
    configuration (``backend_name`` set to `name`) and its ``props_*.json`` as the
    properties, so ``service.backend(name).target`` is that device's target.
    `noise` picks the executor: the fake backend itself (calibrated noise) or Aer's
    ideal simulator with the same target. `status` / `operational` / `queue_length`
    feed GetBackendStatus and ListBackends and may be changed while the server runs.
    """

    name: str
    noise: bool = True
    status: str = "active"
    operational: bool = True
    queue_length: int = 0

    def __post_init__(self) -> None:
        self._fake_cls = _fake_backend_class(self.name)
        self._lock = threading.Lock()
        self._executor = None
        self._conf: str | None = None
        self._props: str | None = None
        self.run_lock = threading.Lock()  # one job at a time on a device

    def _read(self, filename: str) -> str:
        with open(os.path.join(self._fake_cls.dirname, filename)) as f:
            return f.read()

    def configuration(self) -> dict[str, Any]:
        """The configuration document (a fresh copy)."""
        if self._conf is None:
            conf = json.loads(self._read(self._fake_cls.conf_filename))
            conf["backend_name"] = self.name
            self._conf = json.dumps(conf)
        return json.loads(self._conf)

    def properties(self) -> dict[str, Any]:
        """The properties document (a fresh copy)."""
        if self._props is None:
            props = json.loads(self._read(self._fake_cls.props_filename))
            props["backend_name"] = self.name
            self._props = json.dumps(props)
        return json.loads(self._props)

    def executor(self):
        """The BackendV2 that runs this backend's jobs (built once)."""
        with self._lock:
            if self._executor is None:
                fake = self._fake_cls()
                if self.noise:
                    self._executor = fake
                else:
                    from qiskit_aer import AerSimulator

                    self._executor = AerSimulator.from_backend(fake, noise_model=None)
            return self._executor

    def device_entry(self, queued: int) -> dict[str, Any]:
        """This backend's entry in ListBackends."""
        conf = self.configuration()
        return {
            "name": self.name,
            "status": {"name": "online" if self.operational else "offline", "reason": "available"},
            "qubits": conf["n_qubits"],
            "physical_qubits": conf["n_qubits"],
            "queue_length": self.queue_length + queued,
            "processor_type": conf.get("processor_type", {}),
            "performance": {},
            "is_simulator": False,
            "wait_time_seconds": None,
        }


def _fake_backend_class(name: str) -> type:
    """The ``qiskit_ibm_runtime.fake_provider`` V2 class whose ``backend_name`` is `name`."""
    import qiskit_ibm_runtime.fake_provider as fp
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    for attr in dir(fp):
        cls = getattr(fp, attr)
        if isinstance(cls, type) and issubclass(cls, FakeBackendV2) and getattr(cls, "backend_name", None) == name:
            return cls
    raise ValueError(f"no runtime fake backend named {name!r} (expected e.g. 'fake_manila', 'fake_brisbane')")


def served_backends(backends: Iterable[Any] | Mapping[str, Mapping[str, Any]] | None = None, *,
                    noise: bool = True) -> list[ServedBackend]:
    """`ServedBackend`s from names, ``{name: {"noise": ...}}``, or `ServedBackend`s (default `DEFAULT_BACKENDS`)."""
    if backends is None:
        backends = DEFAULT_BACKENDS
    if isinstance(backends, Mapping):
        return [ServedBackend(name, **({"noise": noise} | dict(opts or {}))) for name, opts in backends.items()]
    return [b if isinstance(b, ServedBackend) else ServedBackend(str(b), noise=noise) for b in backends]


# --------------------------------------------------------------------------- log


@dataclasses.dataclass(frozen=True)
class ApiCall:
    """One request the server answered (or refused)."""

    seq: int
    operation: str  # the operation name, or "METHOD host/path" when none matched
    method: str
    host: str
    path: str
    status: int
    error: str | None  # error code, None on success
    injected: bool  # the error came from a fault rule
    job_id: str | None
    time: float


@dataclasses.dataclass(frozen=True)
class Execution:
    """One job run by the local runtime (a job runs at most once)."""

    job_id: str
    backend: str
    noise: bool
    n_pubs: int
    rows: tuple[int, ...]  # parameter-value rows per pub
    shots: tuple[int, ...]  # shots per pub (as executed)
    seed: int | None
    ok: bool
    error: str | None
    duration: float


@dataclasses.dataclass
class Job:
    """Server-side state of one job (the log hands out copies)."""

    id: str
    ordinal: int  # 1-based creation order
    backend: str
    program: str
    tags: list[str]
    params: dict[str, Any] = dataclasses.field(repr=False)  # as posted (RuntimeEncoder JSON, not decoded)
    options: dict[str, Any]  # decoded params["options"]
    rows: tuple[int, ...]  # parameter-value rows per pub
    shots: tuple[int, ...]  # per pub: its own shots, else default_shots, else SERVER_DEFAULT_SHOTS
    seed: int | None  # options.simulator.seed_simulator
    created_at: datetime
    session_id: str | None = None
    private: bool = False
    runtime: str = ""
    cost: int | None = None
    api_status: str = "Queued"
    reason: str | None = None
    reason_code: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    result: str | None = dataclasses.field(default=None, repr=False)  # RuntimeEncoder JSON of the PrimitiveResult
    executed: int = 0
    deleted: bool = False
    # planned by fault rules at creation
    outcome: str = "complete"  # complete | fail
    planned_reason: str | None = None
    planned_code: int | None = None
    delay: float = 0.0
    cancel_requested: bool = False
    executing: bool = False
    history: list[tuple[str, float]] = dataclasses.field(default_factory=list)

    @property
    def status(self) -> str:
        """What ``RuntimeJobV2.status()`` reports: QUEUED, RUNNING, DONE, ERROR or CANCELLED."""
        return SDK_STATUS[self.api_status]

    @property
    def n_pubs(self) -> int:
        return len(self.rows)

    @property
    def created(self) -> float:
        """Monotonic time of creation (same clock as `ApiCall.time`)."""
        return self.history[0][1]

    @property
    def ended(self) -> float | None:
        """Monotonic time the job reached its final state, or None."""
        return self.history[-1][1] if self.api_status in TERMINAL else None


class ServiceLog(ServiceLogBase):
    """Everything the server saw and did, for assertions.

    - `calls`: every request in arrival order (`ApiCall`: operation, method,
      host, path, status, ...).
    - `jobs`: every created job in creation order (copies of `Job`; ``status``
      is the SDK's word, ``api_status`` the wire's).
    - `executions`: every job run (`Execution`), one per job at most.
    """

    _call_type = ApiCall

    def __init__(self, lock: threading.RLock) -> None:
        super().__init__(lock)

    # _add_call, _add_execution, calls, executions, calls_to: ServiceLogBase
    def _add_job(self, job: Job) -> None:
        self._add_record(job.id, job)

    @property
    def jobs(self) -> list[Job]:
        return self._copies()

    def job(self, job_id: str) -> Job:
        return self._copy(job_id)

    def count(self, operation: str | None = None, *, error: str | int | bool | None = False) -> int:
        """Number of calls (to `operation`, if given). ``error=None``: successful ones only;
        ``error=True``: refused ones; ``error=404`` / ``error="not_found"``: refused with that
        HTTP status / code; ``error=False`` (default): all."""
        out = 0
        for c in self.calls:
            if operation is not None and c.operation != operation:
                continue
            if (error is False or (error is True and c.error) or (error is None and not c.error)
                    or (isinstance(error, str) and c.error == error)
                    or (type(error) is int and c.error and c.status == error)):
                out += 1
        return out

    def statuses(self) -> Counter:
        """Current status (SDK words) of every job."""
        return Counter(j.status for j in self.jobs)

    def execution_counts(self) -> Counter:
        """How many times each job was run (every created job appears; 0 = never run)."""
        out = Counter({j.id: 0 for j in self.jobs})
        out.update(e.job_id for e in self.executions)
        return out

    def summary(self) -> str:
        return self._summary("jobs")


# --------------------------------------------------------------------------- faults


@dataclasses.dataclass(frozen=True)
class CallInfo:
    """What an API fault rule's `where` sees."""

    operation: str
    method: str
    path: str
    job_id: str | None


@dataclasses.dataclass(frozen=True)
class JobInfo:
    """What a job fault rule's `where` sees."""

    ordinal: int
    backend: str
    program: str
    tags: tuple[str, ...]
    rows: tuple[int, ...]
    shots: tuple[int, ...]


class Faults(FaultsBase):
    """Fault injection, set per test; every method returns the `Rule` it added (its
    ``.fired`` tells how often it struck). Selectors as in the Braket fake's `Rule`:
    ``nth={1, 3}``, ``every=k``, ``fraction=p, seed=s``, ``limit=n``, ``where=predicate``.

    API faults (checked on every request, in the order added; the first that fires answers):

    - ``api_error(*operations, status=500, code=..., message=..., after=False, ...)``:
      answer that HTTP error. ``after=True`` does the operation first and then answers
      the error (a lost response). The SDK's session retries 500/502/503/504/520-524
      for every method, POST included (5 retries, urllib3 backoff factor 0.5), so
      ``after=True`` on CreateJob makes a second job.

    Operations are the names in the module docstring, or "*".

    Job faults (decided when a job is created, from `JobInfo`):

    - ``fail_jobs(reason=..., code=None, ...)``: the job ends Failed (SDK: ERROR)
      with ``state.reason`` (``state.reason_code`` when given; 1305 is the code the
      SDK turns into ``RuntimeJobMaxTimeoutError``); not executed.
    - ``slow_jobs(seconds, ...)``: the job stays Running that long before it executes.

    ``queue_delay`` (seconds, default 0) keeps every new job Queued that long.
    """

    FAILED_REASON = "The job failed on the device (injected failure)."

    # _selector, _add, clear(), rules, _api_fault and queue_delay: FaultsBase (job rules: self._planned)

    def api_error(self, *operations: str, status: int = 500, code: str | None = None, message: str | None = None,
                  after: bool = False, nth=None, every=None, fraction=None, seed=0, limit=None, where=None) -> Rule:
        if not operations:
            raise ValueError("name the operations (or '*')")
        code = code or {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                        409: "conflict", 429: "too_many_requests"}.get(status, "internal_error")
        rule = Rule(kind="api_error", operations=frozenset(operations),
                    params={"status": int(status), "code": code, "message": message or f"Injected {status} {code}",
                            "after": after},
                    **self._selector(nth, every, fraction, seed, limit, where))
        return self._add(self._api, rule)

    def fail_jobs(self, *, reason: str | None = None, code: int | None = None, nth=None, every=None, fraction=None,
                  seed=0, limit=None, where=None) -> Rule:
        rule = Rule(kind="fail", params={"reason": reason or self.FAILED_REASON, "code": code},
                    **self._selector(nth, every, fraction, seed, limit, where))
        return self._add(self._planned, rule)

    def slow_jobs(self, seconds: float, *, nth=None, every=None, fraction=None, seed=0, limit=None,
                  where=None) -> Rule:
        rule = Rule(kind="slow", params={"delay": float(seconds)},
                    **self._selector(nth, every, fraction, seed, limit, where))
        return self._add(self._planned, rule)

    # -- server side
    def _plan_job(self, job: Job) -> float:
        """Apply the job rules to a new job; returns its queue delay."""
        info = JobInfo(job.ordinal, job.backend, job.program, tuple(job.tags), job.rows, job.shots)
        with self._lock:
            for rule in self._planned:
                if not rule.offer(info):
                    continue
                if rule.kind == "fail" and job.outcome == "complete":
                    job.outcome = "fail"
                    job.planned_reason = rule.params["reason"]
                    job.planned_code = rule.params["code"]
                elif rule.kind == "slow":
                    job.delay += rule.params["delay"]
            return self.queue_delay


# --------------------------------------------------------------------------- routes

_ROUTES: list[tuple[str, str, re.Pattern, str]] = [
    (host, method, re.compile(pattern), op)
    for host, method, pattern, op in [
        ("iam", "POST", r"/identity/token", "GetToken"),
        ("search", "POST", r"/v3/resources/search", "SearchResources"),
        ("catalog", "GET", r"/api/v1/(?P<entry>[^/]+)", "GetCatalogEntry"),
        ("runtime", "GET", r"/api/v1/backends", "ListBackends"),
        ("runtime", "GET", r"/api/v1/backends/(?P<backend>[^/]+)/configuration", "GetBackendConfiguration"),
        ("runtime", "GET", r"/api/v1/backends/(?P<backend>[^/]+)/properties", "GetBackendProperties"),
        ("runtime", "GET", r"/api/v1/backends/(?P<backend>[^/]+)/status", "GetBackendStatus"),
        ("runtime", "GET", r"/api/v1/instances/usage", "GetUsage"),
        ("runtime", "POST", r"/api/v1/jobs", "CreateJob"),
        ("runtime", "GET", r"/api/v1/jobs", "ListJobs"),
        ("runtime", "GET", r"/api/v1/jobs/(?P<job>[^/]+)", "GetJob"),
        ("runtime", "DELETE", r"/api/v1/jobs/(?P<job>[^/]+)", "DeleteJob"),
        ("runtime", "GET", r"/api/v1/jobs/(?P<job>[^/]+)/results", "GetJobResults"),
        ("runtime", "POST", r"/api/v1/jobs/(?P<job>[^/]+)/cancel", "CancelJob"),
        ("runtime", "GET", r"/api/v1/jobs/(?P<job>[^/]+)/metrics", "GetJobMetrics"),
        ("runtime", "GET", r"/api/v1/jobs/(?P<job>[^/]+)/logs", "GetJobLogs"),
        ("runtime", "PUT", r"/api/v1/jobs/(?P<job>[^/]+)/tags", "ReplaceJobTags"),
    ]
]


@dataclasses.dataclass
class Request:
    """One parsed request."""

    method: str
    host: str  # without port
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    args: dict[str, str] = dataclasses.field(default_factory=dict)

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            raise ApiError(400, "bad_request", "Request body is not valid JSON") from None

    def flag(self, name: str) -> bool:
        return (self.query.get(name) or [""])[0].lower() == "true"

    def one(self, name: str) -> str | None:
        return (self.query.get(name) or [None])[0]


@dataclasses.dataclass
class Response:
    status: int
    body: Any = None  # dict/list -> JSON; str -> text; None -> empty
    content_type: str = "application/json"


class _Handler(HandlerBase):
    """Origin-form requests (to 127.0.0.1) and absolute-form ones (through the proxy) alike."""

    service: FakeIBMRuntimeService

    def _serve(self) -> None:
        body = self._read_body()
        parts = urlsplit(self.path)
        host = parts.hostname if parts.scheme else (self.headers.get("Host") or "").rsplit(":", 1)[0]
        req = Request(method=self.command, host=(host or "").lower(), path=parts.path, query=parse_qs(parts.query),
                      headers=self.headers, body=body)
        resp = self.service.handle(req)
        if resp.body is None:
            data = b""
        elif isinstance(resp.body, str):
            data = resp.body.encode()
        else:
            data = json.dumps(resp.body).encode()
        self.send_response(resp.status)
        if data:
            self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def do_CONNECT(self) -> None:
        self.service.refuse_tunnel(self.path)
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True


# --------------------------------------------------------------------------- service


class FakeIBMRuntimeService(LocalService):
    """The fake IBM Quantum Platform. `start()` binds 127.0.0.1 on a free port; `url`
    (``http://127.0.0.1:{port}``) is then both the proxy to export as ``HTTP_PROXY``
    and the direct address of the runtime API (``{url}/api/v1``); `stop()` ends every
    thread.

    Args:
        backends: what `served_backends` accepts (default `DEFAULT_BACKENDS`).
        noise: default `ServedBackend.noise` for backends given by name.
        workers: threads that execute jobs (jobs beyond that wait, Running).
        domain: the virtual domain (the account url is ``http://{domain}``).
    """

    _handler = _Handler
    _thread_prefix = "fake-ibm"

    def __init__(self, backends=None, *, noise: bool = True, workers: int = 2, domain: str = DOMAIN):
        super().__init__(workers)  # _lock, errors (requests nobody should make, and exceptions inside the fake)
        self.domain = domain
        self.backends: dict[str, ServedBackend] = {b.name: b for b in served_backends(backends, noise=noise)}
        self.faults = Faults()
        self.log = ServiceLog(self._lock)
        self._jobs: dict[str, Job] = {}
        self._inputs: dict[str, dict] = {}  # decoded params (pubs as tuples), kept out of the log's copies
        self._ordinal = itertools.count(1)

    # -- life cycle (url, start(), stop(), context manager: LocalService)
    @property
    def cloud_url(self) -> str:
        """The account ``url`` that makes the SDK address this fake's virtual hosts."""
        return f"http://{self.domain}"

    # -- helpers for tests
    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every job has ended; True if they did within `timeout`."""
        return self._wait_until(lambda: all(j.api_status in TERMINAL for j in self._jobs.values()), timeout)

    def set_backend_status(self, name: str, *, status: str | None = None, operational: bool | None = None) -> None:
        """Change what GetBackendStatus / ListBackends report for backend `name`."""
        with self._lock:
            b = self.backends[name]
            if status is not None:
                b.status = status
            if operational is not None:
                b.operational = operational

    # -- dispatch
    def _service_of(self, host: str) -> str | None:
        """Which API a host name serves ("iam", "search", "catalog", "runtime"), or None."""
        if self._server is not None and host == self._server.server_address[0]:
            return "runtime"
        if host == f"iam.{self.domain}":
            return "iam"
        if host == f"api.global-search-tagging.{self.domain}":
            return "search"
        if host == f"globalcatalog.{self.domain}":
            return "catalog"
        if host == f"quantum.{self.domain}" or host.endswith(f".quantum.{self.domain}"):
            return "runtime"
        return None

    def _route(self, req: Request) -> str | None:
        kind = self._service_of(req.host)
        for host_kind, method, pattern, op in _ROUTES:
            if host_kind == kind and method == req.method and (m := pattern.fullmatch(req.path)):
                req.args = {k: unquote(v) for k, v in m.groupdict().items()}
                return op
        return None

    def handle(self, req: Request) -> Response:
        """Answer one request: route, authenticate, apply API faults, run the operation, log."""
        op = self._route(req)
        job_id = req.args.get("job")
        injected = False

        def answer(resp: Response, error: str | None = None) -> Response:
            self.log._add_call(operation=op or f"{req.method} {req.host}{req.path}", method=req.method,
                               host=req.host, path=req.path, status=resp.status, error=error, injected=injected,
                               job_id=job_id)
            return resp

        try:
            if op is None:
                self.errors.append(f"unexpected request: {req.method} {req.host}{req.path}")
                raise ApiError(404, "not_found", f"No endpoint at {req.method} {req.host}{req.path}")
            if op != "GetToken":
                self._authenticate(req, runtime=self._service_of(req.host) == "runtime")
            rule = self.faults._api_fault(CallInfo(op, req.method, req.path, job_id))
            if rule is not None and not rule.params["after"]:
                injected = True
                raise ApiError(rule.params["status"], rule.params["code"], rule.params["message"])
            resp = getattr(self, "_op_" + op)(req)
            if op == "CreateJob":
                job_id = resp.body["id"]
            if rule is not None:  # after=True: the work is done, the answer is lost
                injected = True
                raise ApiError(rule.params["status"], rule.params["code"], rule.params["message"])
        except ApiError as e:
            return answer(Response(e.status, _error_body(e)), error=e.code)
        except Exception as e:  # a bug in the fake: answer 500 and remember it
            self.errors.append(traceback.format_exc())
            err = ApiError(500, "internal_error", f"fake service error: {e!r}")
            return answer(Response(500, _error_body(err)), error=err.code)
        return answer(resp)

    def refuse_tunnel(self, target: str) -> None:
        """Record a CONNECT (an https request the SDK should not make here)."""
        self.errors.append(f"unexpected CONNECT {target} (https is not served; nothing leaves 127.0.0.1)")
        self.log._add_call(operation=f"CONNECT {target}", method="CONNECT", host=target, path="", status=403,
                           error="forbidden", injected=False, job_id=None)

    def _authenticate(self, req: Request, *, runtime: bool) -> None:
        import jwt

        scheme, _, token = (req.headers.get("Authorization") or "").partition(" ")
        try:
            if scheme != "Bearer":
                raise ValueError(f"expected a Bearer token, got {scheme or 'none'!r}")
            jwt.decode(token, _JWT_SECRET, algorithms=["HS256"], options={"verify_aud": False})
        except Exception as e:
            raise ApiError(401, "unauthorized", f"Invalid or expired access token ({e})") from None
        if runtime and req.headers.get("Service-CRN") != INSTANCE_CRN:
            raise ApiError(403, "forbidden", f"Instance {req.headers.get('Service-CRN')!r} not accessible")

    # -- IAM, Global Search, Global Catalog
    def _op_GetToken(self, req: Request) -> Response:
        import jwt

        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        if form.get("grant_type") != "urn:ibm:params:oauth:grant-type:apikey":
            raise ApiError(400, "BXNIM0109E", f"Property 'grant_type' is invalid: {form.get('grant_type')!r}")
        if form.get("apikey") != API_KEY:
            raise ApiError(400, "BXNIM0415E", "Provided API key could not be found.")
        iat = int(time.time())
        claims = {"iam_id": f"IBMid-{ACCOUNT_ID[:10]}", "account": {"bss": ACCOUNT_ID}, "iat": iat,
                  "exp": iat + 3600, "iss": f"http://iam.{self.domain}/identity", "grant_type": form["grant_type"],
                  "scope": "ibm openid", "client_id": "default", "jti": uuid.uuid4().hex}
        token = jwt.encode(claims, _JWT_SECRET, algorithm="HS256")
        return Response(200, {"access_token": token, "refresh_token": "not_supported", "token_type": "Bearer",
                              "expires_in": 3600, "expiration": iat + 3600, "scope": "ibm openid"})

    def _op_SearchResources(self, req: Request) -> Response:
        query = req.json().get("query", "")
        items = []
        if "quantum-computing" in query:
            items.append({"crn": INSTANCE_CRN, "name": INSTANCE_NAME, "service_plan_unique_id": PLAN_ID,
                          "doc": {"extensions": {"quantum_computing": {"backends": sorted(self.backends)}}},
                          "tags": [], "family": "resource_controller", "type": "resource-instance"})
        return Response(200, {"items": items, "limit": int(req.one("limit") or 100)})

    def _op_GetCatalogEntry(self, req: Request) -> Response:
        if req.args["entry"] != PLAN_ID:
            raise ApiError(404, "not_found", f"Catalog entry {req.args['entry']!r} not found")
        return Response(200, {"id": PLAN_ID, "name": "open", "kind": "plan",
                              "overview_ui": {"en": {"display_name": "Open", "description": "Fake open plan"}},
                              "metadata": {"pricing": {"type": "free"}}})

    # -- backends
    def _backend(self, name: str) -> ServedBackend:
        b = self.backends.get(name)
        if b is None:
            raise ApiError(404, "not_found", f"Backend {name} not found")
        return b

    def _queued_on(self, name: str) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.backend == name and j.api_status == "Queued")

    def _op_ListBackends(self, req: Request) -> Response:
        return Response(200, {"devices": [b.device_entry(self._queued_on(n)) for n, b in self.backends.items()]})

    def _op_GetBackendConfiguration(self, req: Request) -> Response:
        return Response(200, self._backend(req.args["backend"]).configuration())

    def _op_GetBackendProperties(self, req: Request) -> Response:
        return Response(200, self._backend(req.args["backend"]).properties())

    def _op_GetBackendStatus(self, req: Request) -> Response:
        b = self._backend(req.args["backend"])
        return Response(200, {"state": b.operational, "status": b.status, "message": "available",
                              "length_queue": b.queue_length + self._queued_on(b.name),
                              "backend_version": b.configuration().get("backend_version", "0.0.0")})

    def _op_GetUsage(self, req: Request) -> Response:
        with self._lock:
            used = sum(_job_seconds(j) for j in self._jobs.values())
        return Response(200, {"instance_id": INSTANCE_CRN, "plan_id": PLAN_ID, "usage_consumed_seconds": used,
                              "usage_limit_reached": False, "usage_limit_seconds": None})

    # -- jobs
    def _op_CreateJob(self, req: Request) -> Response:
        payload = req.json()
        program = payload.get("program_id")
        if program not in PROGRAMS:
            self.errors.append(f"CreateJob for program {program!r}: the fake runs {sorted(PROGRAMS)} only")
            raise ApiError(400, "bad_request", f"Program {program!r} is not supported here")
        backend = self._backend(payload.get("backend") or "")
        if not backend.operational:
            raise ApiError(400, "bad_request", f"Backend {backend.name} is not operational")
        job = self._new_job(payload, backend.name)
        with self._lock:
            job.ordinal = next(self._ordinal)
            queue_delay = self.faults._plan_job(job)
            job.history.append(("Queued", time.monotonic()))
            self._jobs[job.id] = job
            self.log._add_job(job)
        self._schedule(queue_delay, job.id, "start")
        return Response(200, {"id": job.id, "backend": job.backend})

    def _new_job(self, payload: dict, backend: str) -> Job:
        """A Job from a CreateJob payload (pubs decoded to count rows and shots)."""
        from qiskit.primitives.containers.sampler_pub import SamplerPub
        from qiskit_ibm_runtime import RuntimeDecoder

        params = payload.get("params")
        if not isinstance(params, dict) or "pubs" not in params:
            raise ApiError(400, "bad_request", "params.pubs is required")
        decoded = json.loads(json.dumps(params), cls=RuntimeDecoder)
        decoded["pubs"] = [tuple(p) if isinstance(p, list) else p for p in decoded["pubs"]]
        options = dict(decoded.get("options") or {})
        try:
            pubs = [SamplerPub.coerce(p) for p in decoded["pubs"]]
        except Exception as e:
            raise ApiError(400, "bad_request", f"Invalid pubs: {type(e).__name__}: {e}") from None
        default_shots = options.get("default_shots") or SERVER_DEFAULT_SHOTS
        tags = payload.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ApiError(400, "bad_request", "tags must be a list of strings")
        job = Job(
            id="".join(secrets.choice(_JOB_ID_CHARS) for _ in range(20)),
            ordinal=0,
            backend=backend,
            program=payload["program_id"],
            tags=list(tags),
            params=params,
            options=options,
            rows=tuple(int(math.prod(p.shape)) for p in pubs),
            shots=tuple(int(p.shots or default_shots) for p in pubs),
            seed=(options.get("simulator") or {}).get("seed_simulator"),
            created_at=_now(),
            session_id=payload.get("session_id"),
            private=bool(payload.get("private", False)),
            runtime=payload.get("runtime") or "",
            cost=payload.get("cost"),
        )
        self._inputs[job.id] = decoded
        return job

    def _job(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.deleted:
            raise ApiError(404, "not_found", f"Job not found: {job_id}")
        return job

    def _job_doc(self, job: Job, *, params: bool) -> dict[str, Any]:
        """GetJob / ListJobs entry for `job` (call with the lock held)."""
        state: dict[str, Any] = {"status": job.api_status}
        if job.reason:
            state["reason"] = job.reason
        if job.reason_code:
            state["reason_code"] = job.reason_code
        doc = {
            "id": job.id,
            "backend": job.backend,
            "state": state,
            "status": job.api_status,
            "program": {"id": job.program},
            "created": _iso(job.created_at),
            "ended": _iso(job.ended_at),
            "runtime": job.runtime,
            "tags": list(job.tags),
            "session_id": job.session_id,
            "private": job.private,
            "cost": job.cost,
            "user_id": f"IBMid-{ACCOUNT_ID[:10]}",
            "estimated_running_time_seconds": sum(job.rows[i] * job.shots[i] for i in range(job.n_pubs)) * 1e-4,
            "usage": {"seconds": _job_seconds(job), "quantum_seconds": _job_seconds(job)},
        }
        if params:
            doc["params"] = copy.deepcopy(job.params)
        return doc

    def _op_GetJob(self, req: Request) -> Response:
        job = self._job(req.args["job"])
        with self._lock:
            return Response(200, self._job_doc(job, params=not req.flag("exclude_params")))

    def _op_ListJobs(self, req: Request) -> Response:
        with self._lock:
            jobs = [j for j in self._jobs.values() if not j.deleted]
        jobs = [j for j in jobs if _matches(j, req)]
        jobs.sort(key=lambda j: j.ordinal, reverse=(req.one("sort") or "DESC").upper() != "ASC")
        offset, limit = int(req.one("offset") or 0), int(req.one("limit") or 200)
        with self._lock:
            page = [self._job_doc(j, params=not req.flag("exclude_params")) for j in jobs[offset:offset + limit]]
        return Response(200, {"jobs": page, "count": len(jobs), "limit": limit, "offset": offset})

    def _op_GetJobResults(self, req: Request) -> Response:
        job = self._job(req.args["job"])
        with self._lock:
            if job.api_status == "Completed" and job.result is not None:
                return Response(200, job.result)
            if job.api_status == "Failed":
                return Response(200, job.reason or "", content_type="text/plain")
        raise ApiError(404, "not_found", f"Results of job {job.id} are not available (status {job.api_status})")

    def _op_CancelJob(self, req: Request) -> Response:
        job = self._job(req.args["job"])
        with self._lock:
            if job.api_status in TERMINAL:
                raise ApiError(409, "conflict", f"Job {job.id} is in a final state ({job.api_status})")
            job.cancel_requested = True
            if not job.executing:
                self._set_status(job, "Cancelled")
        return Response(204)

    def _op_DeleteJob(self, req: Request) -> Response:
        job = self._job(req.args["job"])
        with self._lock:
            job.deleted = True
        return Response(204)

    def _op_GetJobMetrics(self, req: Request) -> Response:
        job = self._job(req.args["job"])
        with self._lock:
            seconds = _job_seconds(job)
            return Response(200, {
                "timestamps": {"created": _iso(job.created_at), "running": _iso(job.started_at),
                               "finished": _iso(job.ended_at)},
                "bss": {"seconds": seconds},
                "usage": {"quantum_seconds": seconds, "seconds": seconds, "qpu_charge_time_seconds": seconds,
                          "status": "final" if job.api_status in TERMINAL else "pending"},
                "executions": job.executed,
                "num_circuits": sum(job.rows),
            })

    def _op_GetJobLogs(self, req: Request) -> Response:
        self._job(req.args["job"])
        return Response(200, "", content_type="text/plain")

    def _op_ReplaceJobTags(self, req: Request) -> Response:
        job = self._job(req.args["job"])
        tags = req.json().get("tags")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ApiError(400, "bad_request", "tags must be a list of strings")
        with self._lock:
            job.tags = list(tags)
        return Response(204)

    # -- job execution
    def _set_status(self, job: Job, status: str, reason: str | None = None, code: int | None = None) -> None:
        job.api_status = status
        job.history.append((status, time.monotonic()))
        if reason:
            job.reason = reason
            job.reason_code = code
        if status == "Running":
            job.started_at = _now()
        if status in TERMINAL:
            job.ended_at = _now()

    # _schedule(delay, job_id, what) and the scheduler / worker threads: LocalService
    def _step(self, job_id: str, what: str) -> None:
        with self._lock:
            job = self._jobs[job_id]
            if job.api_status in TERMINAL:
                return
            if what == "start" and job.api_status == "Queued":
                self._set_status(job, "Running")
                self._schedule(job.delay, job_id, "execute")
            elif what == "execute" and job.api_status == "Running":
                job.executing = True
                self._queue.put(job_id)

    def _execution_crashed(self, job_id: str) -> None:
        job = self._jobs[job_id]
        job.executing = False
        if job.api_status not in TERMINAL:
            self._set_status(job, "Failed", "Internal error in the fake service")

    def _execute(self, job_id: str) -> None:
        with self._lock:
            job = self._jobs[job_id]
            outcome = job.outcome
        if outcome == "fail":
            with self._lock:
                job.executing = False
                self._set_status(job, "Failed", job.planned_reason, job.planned_code)
            return
        body, error = self._run_pubs(job)
        with self._lock:
            job.executing = False
            if job.cancel_requested:
                self._set_status(job, "Cancelled")
            elif error is not None:
                self._set_status(job, "Failed", error)
            else:
                job.result = body
                self._set_status(job, "Completed")

    def _run_pubs(self, job: Job) -> tuple[str | None, str | None]:
        """Run the job's params through the SDK's local testing mode; (result JSON, error)."""
        from qiskit_ibm_runtime import RuntimeDecoder, RuntimeEncoder
        from qiskit_ibm_runtime.fake_provider.local_service import QiskitRuntimeLocalService

        served = self.backends[job.backend]
        inputs = dict(self._inputs[job.id])  # the local service deep-copies what it changes
        inputs["options"] = {"default_shots": SERVER_DEFAULT_SHOTS} | {
            k: v for k, v in (inputs.get("options") or {}).items() if k != "default_shots" or v}
        t0 = time.monotonic()
        with served.run_lock:
            try:
                local = QiskitRuntimeLocalService()._run(program_id=job.program, inputs=inputs,
                                                         options={"backend": served.executor()},
                                                         calibration_id=None)
                result = local.result()
                body, error = json.dumps(result, cls=RuntimeEncoder), None
                json.loads(body, cls=RuntimeDecoder)  # what the SDK will decode must decode
            except Exception as e:
                body, error = None, f"{type(e).__name__}: {e}"
        with self._lock:
            job.executed += 1
        self.log._add_execution(Execution(
            job_id=job.id, backend=job.backend, noise=served.noise, n_pubs=job.n_pubs, rows=job.rows,
            shots=job.shots, seed=job.seed, ok=error is None, error=error, duration=time.monotonic() - t0))
        return body, error


def _job_seconds(job: Job) -> float:
    """Quantum seconds a finished job is billed (its execution time here), 0 otherwise."""
    if job.started_at is None or job.ended_at is None or job.api_status != "Completed":
        return 0.0
    return round((job.ended_at - job.started_at).total_seconds(), 3)


def _matches(job: Job, req: Request) -> bool:
    """Whether `job` passes ListJobs' query filters."""
    if (backend := req.one("backend")) and job.backend != backend:
        return False
    if (program := req.one("program")) and job.program != program:
        return False
    if (session := req.one("session_id")) and job.session_id != session:
        return False
    if req.one("pending") is not None and (job.api_status not in TERMINAL) != req.flag("pending"):
        return False
    if any(tag not in job.tags for tag in req.query.get("tags", [])):
        return False
    if (after := req.one("created_after")) and job.created_at < _parse_time(after):
        return False
    if (before := req.one("created_before")) and job.created_at > _parse_time(before):
        return False
    return True


def _parse_time(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _error_body(e: ApiError) -> dict[str, Any]:
    if e.code.startswith("BXNIM"):  # IAM's own error shape
        return {"errorCode": e.code, "errorMessage": e.message, "context": {"requestId": uuid.uuid4().hex}}
    return {"errors": [{"code": e.code, "message": e.message, "more_info": ""}], "trace": uuid.uuid4().hex,
            "status_code": e.status}


__all__ = [
    "API_KEY",
    "CLOUD_URL",
    "DEFAULT_BACKENDS",
    "DOMAIN",
    "INSTANCE_CRN",
    "SDK_STATUS",
    "SERVER_DEFAULT_SHOTS",
    "ApiCall",
    "Execution",
    "FakeIBMRuntimeService",
    "Faults",
    "Job",
    "JobInfo",
    "ServedBackend",
    "ServiceLog",
    "served_backends",
]
