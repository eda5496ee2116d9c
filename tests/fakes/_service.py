"""What the fake cloud services (`braket_service`, `ibm_service`) have in common.

- `Rule`: a deterministic fault selector; `FaultsBase`: the rule lists, selector
  keywords, API fault matching and ``queue_delay`` shared by both fakes' `Faults`.
- `ServiceLogBase`: the record of API calls and executions both `ServiceLog`\\ s keep.
- `LocalService`: a threaded HTTP server on 127.0.0.1 (`_Server`), a scheduler of
  delayed events (a heap of ``(time, seq, key, what)`` handed to ``_step``) and
  worker threads that take keys off a queue and ``_execute`` them, with
  ``start()`` / ``stop()`` / ``url`` and a ``wait_idle`` helper.
- `HandlerBase`: the HTTP/1.1 request handler settings both servers use.
"""

from __future__ import annotations

import copy
import dataclasses
import heapq
import itertools
import queue
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

# --------------------------------------------------------------------------- faults


@dataclasses.dataclass
class Rule:
    """A deterministic selector plus what to do when it fires.

    The rule sees a stream of events (API calls to its operations, or task
    creations), skipping those its `where` predicate rejects, and counts them
    from 1. It fires on event n when:

    - `nth` is given and n is in it, else
    - `every` is given and n % every == 0, else
    - `fraction` is given and its own `random.Random(seed)` draws < fraction,
    - else on every event,

    and at most `limit` times in all. Counting is per rule, so two rules do
    not disturb each other. With concurrent clients (run_batch threads) the
    order in which requests arrive is up to the threads; use `where` to pin
    a fault on a particular program or input value.
    """

    kind: str
    operations: frozenset[str] | None = None
    nth: frozenset[int] | None = None
    every: int | None = None
    fraction: float | None = None
    seed: int = 0
    limit: int | None = None
    where: Callable[[Any], bool] | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def applies(self, operation: str | None) -> bool:
        return self.operations is None or "*" in self.operations or operation in self.operations

    def offer(self, event: Any) -> bool:
        if self.where is not None and not self.where(event):
            return False
        self.seen += 1
        n = self.seen
        if self.nth is not None:
            hit = n in self.nth
        elif self.every is not None:
            hit = n % self.every == 0
        elif self.fraction is not None:
            hit = self._rng.random() < self.fraction
        else:
            hit = True
        if hit and self.limit is not None and self.fired >= self.limit:
            hit = False
        if hit:
            self.fired += 1
        return hit


class FaultsBase:
    """API rules (``_api``, checked on every request) and creation rules
    (``_planned``, applied to each new task or job), ``queue_delay``, `clear()` and
    `rules`. Subclasses add the methods that make rules and the planning step."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._api: list[Rule] = []
        self._planned: list[Rule] = []
        self.queue_delay = 0.0

    @staticmethod
    def _selector(nth, every, fraction, seed, limit, where) -> dict[str, Any]:
        if every is not None and every < 1:
            raise ValueError("every must be >= 1")
        return {
            "nth": frozenset(nth) if nth is not None else None,
            "every": every,
            "fraction": fraction,
            "seed": seed,
            "limit": limit,
            "where": where,
        }

    def _add(self, rules: list[Rule], rule: Rule) -> Rule:
        with self._lock:
            rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._api.clear()
            self._planned.clear()
            self.queue_delay = 0.0

    @property
    def rules(self) -> list[Rule]:
        with self._lock:
            return list(self._api) + list(self._planned)

    # -- service side
    def _api_fault(self, call: Any) -> Rule | None:
        """The first API rule that fires on `call` (every applicable rule sees it), or None."""
        with self._lock:
            hit = None
            for rule in self._api:
                if rule.applies(call.operation) and rule.offer(call) and hit is None:
                    hit = rule
            return hit


# --------------------------------------------------------------------------- log


class ServiceLogBase:
    """API calls (``_call_type`` records, numbered from 1 and stamped with
    ``time.monotonic()``), the service's live task or job records (handed out as
    deep copies) and executions, under the service's lock."""

    _call_type: type

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._calls: list[Any] = []
        self._records: dict[str, Any] = {}
        self._executions: list[Any] = []
        self._seq = itertools.count(1)

    def _add_record(self, key: str, record: Any) -> None:
        with self._lock:
            self._records[key] = record

    def _copies(self) -> list[Any]:
        """Copies of every record, in creation order."""
        with self._lock:
            return [copy.deepcopy(r) for r in self._records.values()]

    def _copy(self, key: str) -> Any:
        with self._lock:
            return copy.deepcopy(self._records[key])

    def _add_call(self, **kw: Any) -> None:
        with self._lock:
            self._calls.append(self._call_type(seq=next(self._seq), time=time.monotonic(), **kw))

    def _add_execution(self, ex: Any) -> None:
        with self._lock:
            self._executions.append(ex)

    @property
    def calls(self) -> list[Any]:
        with self._lock:
            return list(self._calls)

    @property
    def executions(self) -> list[Any]:
        with self._lock:
            return list(self._executions)

    def calls_to(self, operation: str) -> list[Any]:
        return [c for c in self.calls if c.operation == operation]

    def _summary(self, noun: str) -> str:
        """Calls per (operation, error), then `noun`'s statuses and the number of executions."""
        ops = Counter((c.operation, c.error) for c in self.calls)
        lines = [f"{op} {err or 'ok'}: {n}" for (op, err), n in sorted(ops.items(), key=str)]
        lines.append(f"{noun}: {dict(self.statuses())}")
        lines.append(f"executions: {len(self.executions)}")
        return "\n".join(lines)

    def statuses(self) -> Counter:  # pragma: no cover - overridden
        raise NotImplementedError


# --------------------------------------------------------------------------- service


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class HandlerBase(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, quiet; a subclass made per service sets `service`."""

    service: Any
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end by themselves

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class LocalService:
    """A threaded HTTP server on 127.0.0.1 with a delayed-event scheduler and workers.

    Subclasses set `_handler` (a `HandlerBase` subclass) and `_thread_prefix` (thread
    names), and define ``_step(key, what)`` (runs on the scheduler thread, for each
    event `_schedule` d), ``_execute(key)`` (runs on a worker thread, for each key put
    on ``_queue``) and ``_execution_crashed(key)`` (called with the lock held when
    ``_execute`` raised; the traceback is already in `errors`).
    """

    _handler: type[HandlerBase]
    _thread_prefix: str

    def __init__(self, workers: int) -> None:
        self._lock = threading.RLock()
        self._workers_n = workers
        self._stop = threading.Event()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._heap: list[tuple[float, int, str, str]] = []
        self._heap_seq = itertools.count()
        self._heap_cv = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._server: _Server | None = None
        self.errors: list[str] = []

    # -- life cycle
    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        handler = type("Handler", (self._handler,), {"service": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        prefix = self._thread_prefix
        threads = [
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"{prefix}-http"),
            threading.Thread(target=self._scheduler, name=f"{prefix}-scheduler"),
        ]
        threads += [threading.Thread(target=self._worker, name=f"{prefix}-worker-{i}") for i in range(self._workers_n)]
        for t in threads:
            t.daemon = True
            t.start()
        self._threads = threads
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._heap_cv:
            self._heap_cv.notify_all()
        for _ in range(self._workers_n):
            self._queue.put(None)  # wake the workers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Poll `done()` (under the lock) until it holds; True if it did within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if done():
                    return True
            time.sleep(0.01)
        return False

    # -- scheduler and workers
    def _schedule(self, delay: float, key: str, what: str) -> None:
        with self._heap_cv:
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, delay), next(self._heap_seq), key, what))
            self._heap_cv.notify()

    def _scheduler(self) -> None:
        while not self._stop.is_set():
            with self._heap_cv:
                while not self._stop.is_set():
                    if self._heap and self._heap[0][0] <= time.monotonic():
                        _, _, key, what = heapq.heappop(self._heap)
                        break
                    timeout = (self._heap[0][0] - time.monotonic()) if self._heap else 0.2
                    self._heap_cv.wait(min(max(timeout, 0.0), 0.2))
                else:
                    return
            try:
                self._step(key, what)
            except Exception:
                self.errors.append(traceback.format_exc())

    def _worker(self) -> None:
        while not self._stop.is_set():
            try:
                key = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if key is None:
                return
            try:
                self._execute(key)
            except Exception:
                self.errors.append(traceback.format_exc())
                with self._lock:
                    self._execution_crashed(key)

    def _step(self, key: str, what: str) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _execute(self, key: str) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _execution_crashed(self, key: str) -> None:  # pragma: no cover - overridden
        raise NotImplementedError
