"""The executor: runs points through an evaluation cache, then the backend, in bounded batches.

Behaviour shared by every backend lives here, wrapped around the backend by
composition: counting (:class:`Stats`), caching (:class:`EvaluationCache`),
batching to the backend's ``max_batch``, and progress on long runs. The
backend itself only implements ``run``. The request's shots are the backend's
to resolve (:meth:`~qshift.Backend.resolve_shots`: its default, or exact), and
a call with no rows returns empty arrays without reaching the backend.

With a persistent :class:`~qshift.EvaluationStore` (``store=``), rows missing from the
cache are looked up there next (``Stats.from_store``); every finished piece is recorded
there too, and a backend that sends provider tasks (one whose ``iter_run`` streams, such as
:class:`~qshift.BraketBackend` on an ``AwsDevice``) records each task as it submits it, so
a rerun after a crash re-attaches to tasks still running (``Stats.reattached``) and
submits only what never ran (``Stats.submitted``). An unseeded sampled call with a store is
recorded there with a seed of its own: a fresh one, or the recorded one of the same call when
that was interrupted (``resume=``; see :mod:`qshift.execution.store` for the rule), so repeats
are independent samples while a crashed call resumes.

Progress. A request that runs for more than about two seconds shows a bar (``tqdm.auto``:
the notebook widget inside a Jupyter kernel) of circuits done out of those to run and the
time elapsed, refreshed by a small timer thread while a single blocking backend call runs,
and closed when the request ends. It appears on its own only when stderr is a terminal or
in a Jupyter kernel (so never in tests or logs), at once with ``progress=True``, and never
with ``progress=False``.

One step is replaceable: *how* the rows missing from the cache reach the
backend. An :class:`Executor` hands them to its runner (a :class:`Runner`),
which yields ``(rows, RunResult)`` pieces as they finish; the executor checks
each piece, fills the values and the cache, and counts. The default runner
sends ``max_batch``-sized batches one after the other; the Dask executor
(:mod:`qshift.execution.cluster`) supplies one that runs chunks on a cluster. Because
every finished piece is cached before the next is awaited, a run that fails
part-way keeps what it computed.

Reuse rules. A point already evaluated for the same circuit (fingerprint),
device, shots and angles (exact bytes) is not run again. Exact devices reuse
results freely, for as long as they stay in the bounded LRU cache. Results
with shot noise are reused only within one request (a fresh cache per call),
unless the executor is created with ``reuse_sampled=True`` — reusing a noisy
estimate correlates the errors of every derivative that shares it, which is
fine within one request (the planner relies on it) but is a choice across
requests.

Example:
    >>> import numpy as np, qshift
    >>> ex = Executor(qshift.LocalSimulator())
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> _ = ex.evaluate(c, np.array([[0.1], [0.2], [0.1]]))
    >>> ex.stats.circuits, ex.stats.jobs
    (2, 1)
    >>> _ = ex.evaluate(c, np.array([[0.2]]))
    >>> ex.stats.circuits, ex.stats.cache_hits
    (2, 1)
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from functools import partial
from typing import Protocol

import numpy as np

from qshift._errors import DeviceError, QShiftError
from qshift._seeding import child_ints
from qshift.backends.base import Backend, NoLedger, RunResult, TaskLedger, as_backend
from qshift.execution.store import EvaluationStore, Ledger, request_key
from qshift.ir.circuit import Circuit

__all__ = ["EvaluationCache", "Executor", "Runner", "Stats"]


@dataclass
class Stats:
    """Counters of what was executed.

    Attributes:
        circuits: distinct circuits (angle rows) sent to the backend.
        jobs: backend calls (provider jobs).
        executions: circuit runs the provider performed (incl. one per measurement group on
            sampling hardware).
        shots: shots spent.
        cache_hits: points answered from the evaluation cache.
        from_store: points answered from the persistent evaluation store.
        reattached: points whose provider tasks were submitted by an earlier run and collected by
            this one (a rerun after a crash).
        submitted: points sent to the device by this run (``circuits - reattached``).
        forward_sweeps: rows run forward by the adjoint method (``method="adjoint"``).
        backward_sweeps: adjoint states swept back: one per row for a vector-Jacobian product,
            one per row and output for a Jacobian.
    """

    circuits: int = 0
    jobs: int = 0
    executions: int = 0
    shots: int = 0
    cache_hits: int = 0
    from_store: int = 0
    reattached: int = 0
    submitted: int = 0
    forward_sweeps: int = 0
    backward_sweeps: int = 0

    def add(self, other: "Stats") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def copy(self) -> "Stats":
        return Stats(**{f.name: getattr(self, f.name) for f in fields(self)})

    def __sub__(self, other: "Stats") -> "Stats":
        return Stats(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)})


class EvaluationCache:
    """A bounded LRU map from (circuit, device, shots, angles) to one point's values.

    Args:
        max_entries: points kept; the least recently used are dropped beyond this, so a long
            training run does not grow memory without bound.
    """

    def __init__(self, max_entries: int = 200_000):
        self.max_entries = int(max_entries)
        self._data: OrderedDict[tuple, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key):
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
            return hit

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class Runner(Protocol):
    """Runs distinct rows of slot angles; the step of :class:`Executor` that can be replaced.

    Called with the rows missing from the cache, a runner yields ``(rows, result)`` pieces in
    any order: ``rows`` indexes into ``angles`` and ``result`` is the backend's
    :class:`~qshift.RunResult` for ``angles[rows]``. Every row must appear in exactly one
    piece. A runner that fails should first yield the pieces it has finished, then raise.

    A runner whose ``takes_ledger`` attribute is true is also given ``ledger=``, the request's
    :class:`~qshift.backends.base.TaskLedger` (in the evaluation store when there is one), to
    record the work it sends out and re-attach to it after a crash; it adds the rows it collected
    from an earlier run's work to ``ledger.reattached``.
    """

    def __call__(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None,
                 seed: int | None) -> Iterable[tuple[np.ndarray, RunResult]]: ...


class Executor:
    """Evaluates points of circuits on a backend, with caching, batching, counting and progress.

    Args:
        backend: the device (a :class:`~qshift.Backend`, or any object with its ``run`` method,
            ``name`` and ``exact``; read through :func:`~qshift.backends.base.as_backend`).
        cache: the evaluation cache (a new bounded one by default).
        reuse_sampled: reuse shot-noise results across requests (off by default).
        progress: show a progress bar over the circuits run (tqdm.auto: a widget in notebooks).
            ``None``: for runs longer than about two seconds, when stderr is a terminal or in a
            Jupyter kernel; ``False``: never; ``True``: at once, on every run that reaches the
            backend.
        runner: how rows missing from the cache are run (default: batches of the backend's
            ``max_batch``, one after the other, in this process); see :class:`Runner`.
        store: a persistent :class:`~qshift.EvaluationStore` for results and submitted tasks
            (``None``: none); see :mod:`qshift.execution.store`.
    """

    def __init__(self, backend: Backend, *, cache: EvaluationCache | None = None, reuse_sampled: bool = False,
                 progress: bool | None = None, runner: Runner | None = None,
                 store: EvaluationStore | None = None):
        self.backend = as_backend(backend)
        self.cache = cache if cache is not None else EvaluationCache()
        self.reuse_sampled = reuse_sampled
        self.progress = progress
        self.runner = runner  # None: self._run_batches
        self.store = store
        self.stats = Stats()
        self._lock = threading.RLock()  # concurrent callers (TF runs ops in parallel) share one cache

    def evaluate(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None = None,
                 seed: int | None = None, resume: bool | None = None) -> tuple[np.ndarray, np.ndarray | None, Stats]:
        """Values (and variances when sampling) of every row of slot ``angles``; returns the request's stats.

        ``shots=None`` takes the backend's ``default_shots`` when it has one (a sampling device's
        profile); exact otherwise (:meth:`~qshift.Backend.resolve_shots`). No rows: empty arrays and
        empty stats, and the backend is not called. Calls are serialized, so two concurrent
        requests for the same points run them once.

        An unseeded sampled call with a store runs with a seed recorded in the store: the seed of
        the same call when it was interrupted, otherwise a fresh one (independent samples);
        ``resume=True`` replays the latest recorded call, ``resume=False`` never resumes (see
        :mod:`qshift.execution.store`).
        """
        shots = self.backend.resolve_shots(shots)
        if seed is None and shots is not None and self.store is not None and len(angles):
            key = request_key(circuit.fingerprint, self.backend.cache_key, shots, angles, "evaluate")
            with self.store.request(key, self.backend.cache_key, resume=resume) as drawn:
                return self.evaluate(circuit, angles, shots=shots, seed=drawn)
        pending = self._pending(circuit, angles, shots, seed)
        if not pending.keys:
            return pending.values, pending.variances, pending.request
        with self._lock:
            self._evaluate(pending)
        return pending.values, pending.variances, pending.request

    def adjoint(self, circuit: Circuit, angles: np.ndarray, upstream: np.ndarray | None = None):
        """Exact values and slot-angle gradients by the backend's adjoint method, counted in :attr:`stats`.

        ``upstream`` ``(B, n_outputs)`` gives the vector-Jacobian product, ``None`` the Jacobian (see
        :meth:`qshift.backends.local.LocalSimulator.adjoint`). Nothing is cached: a training step's
        upstream differs every time. The caller checks that the backend has an ``adjoint`` method.
        """
        with self._lock:
            result = self.backend.adjoint(circuit, np.ascontiguousarray(angles, dtype=float), upstream)
            self.stats.add(Stats(jobs=1, forward_sweeps=result.forward_sweeps,
                                 backward_sweeps=result.backward_sweeps))
        return result

    def adjoint_tape(self, circuit: Circuit, angles: np.ndarray):
        """The backend's recorded forward sweep (its values and states) for a later :meth:`adjoint_gradients`,
        or ``None`` when the backend cannot keep it; counted as forward sweeps."""
        with self._lock:
            tape = self.backend.adjoint_tape(circuit, np.ascontiguousarray(angles, dtype=float))
            if tape is not None:
                self.stats.add(Stats(jobs=1, forward_sweeps=tape.rows))
        return tape

    def adjoint_gradients(self, tape, upstream: np.ndarray) -> np.ndarray:
        """The vector-Jacobian product ``(B, n_slots)`` from a recorded forward sweep; counted as backward sweeps."""
        with self._lock:
            gradients = tape.gradients(upstream)
            self.stats.add(Stats(backward_sweeps=tape.rows))
        return gradients

    def _pending(self, circuit: Circuit, angles, shots: int | None, seed: int | None) -> "_Pending":
        """The call's rows, keys and empty answers; sampled results get a cache of their own unless reused."""
        angles = np.ascontiguousarray(angles, dtype=float)
        sampled = shots is not None
        cache = self.cache if not sampled or self.reuse_sampled else EvaluationCache(len(angles) + 1)
        keys = [(circuit.fingerprint, self.backend.cache_key, shots, row.tobytes()) for row in angles]
        values = np.empty((len(angles), circuit.n_outputs))
        return _Pending(circuit, angles, keys, {}, values, np.zeros_like(values) if sampled else None, cache,
                        shots, seed, Stats())

    def _evaluate(self, pending: "_Pending") -> None:
        for i, key in enumerate(pending.keys):
            hit = pending.cache.get(key)
            if hit is None:
                pending.missing.setdefault(key, []).append(i)
                continue
            pending.request.cache_hits += 1
            pending.put(i, *hit)
        try:
            if pending.missing and self.store is not None:
                self._load_stored(pending)
            if pending.missing:
                self._run_missing(pending)
        finally:  # what finished before a failure was executed (and cached): count it
            self.stats.add(pending.request)

    def _load_stored(self, pending: "_Pending") -> None:
        found = self.store.load(pending.circuit, self.backend.cache_key, pending.shots, pending.seed,
                                pending.angles, [rows[0] for rows in pending.missing.values()])
        for i, (vals, var) in found.items():
            pending.fill(i, vals, var)
        pending.request.from_store += len(found)

    def _run_missing(self, pending: "_Pending") -> None:
        order = np.array([rows[0] for rows in pending.missing.values()])
        circuit, shots, seed, request = pending.circuit, pending.shots, pending.seed, pending.request
        ledger = Ledger(self.store, circuit.fingerprint, self.backend.cache_key, shots, seed)
        runner = partial(self.runner or self._run_batches, ledger=ledger) if self._hands_ledger() else self.runner
        bar = self._bar(circuit, len(order))
        try:
            for part, result in runner(circuit, pending.angles[order], shots=shots, seed=seed):
                self._check_result(circuit, result, len(part))
                self._record(pending, order[part], result)
                request.circuits += len(part)
                request.jobs += result.jobs
                request.executions += result.executions
                request.shots += (shots or 0) * result.executions
                bar.advance(len(part))
        finally:
            bar.close()
            request.reattached += ledger.reattached
            request.submitted += request.circuits - ledger.reattached

    def _hands_ledger(self) -> bool:
        """Whether the runner is given the request's task ledger: the default one, and runners that ask."""
        return self.runner is None or bool(getattr(self.runner, "takes_ledger", False))

    def _record(self, pending: "_Pending", rows: np.ndarray, result: RunResult) -> None:
        """A finished piece: into the store (when there is one), the cache and the answers."""
        if self.store is not None:
            self.store.save(pending.circuit, self.backend.cache_key, pending.shots, pending.seed,
                            pending.angles[rows], np.asarray(result.values), result.variances, result.executions)
        for j, i in enumerate(rows):
            pending.fill(i, result.values[j], None if result.variances is None else result.variances[j])

    def _run_batches(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None,
                     seed: int | None, ledger: TaskLedger | None = None) -> Iterable[tuple[np.ndarray, RunResult]]:
        """The default :class:`Runner`: batches of ``max_batch`` rows, in order, in this process.

        Each batch goes through the backend's ``iter_run``: a backend that sends provider tasks
        streams rows back as its tasks finish and records the tasks in ``ledger``.
        """
        ledger = ledger if ledger is not None else NoLedger()
        limit = self.backend.max_batch or len(angles)
        batches = [np.arange(i, min(i + limit, len(angles))) for i in range(0, len(angles), limit)]
        for batch, batch_seed in zip(batches, child_ints(seed, len(batches))):
            yield from self._stream_batch(circuit, angles[batch], batch, shots, batch_seed, ledger)

    def _stream_batch(self, circuit, angles, batch, shots, seed, ledger):
        try:
            for part, result in self.backend.iter_run(circuit, angles, shots=shots, seed=seed, ledger=ledger):
                yield batch[part], result
        except QShiftError:
            raise
        except Exception as exc:
            raise self._batch_error(exc, len(angles)) from exc

    def _check_result(self, circuit, result: RunResult, rows: int) -> None:
        values = np.asarray(result.values, dtype=float)
        if values.shape != (rows, circuit.n_outputs):
            raise DeviceError(f"device {self.backend.name!r} returned values of the wrong shape",
                              expected=f"{(rows, circuit.n_outputs)}", received=f"{values.shape}",
                              fix="fix the backend's run method")

    def _batch_error(self, exc: Exception, rows: int) -> DeviceError:
        return DeviceError(f"device {self.backend.name!r} failed on a batch of {rows} circuit(s)",
                           expected="a successful run", received=f"{type(exc).__name__}: {exc}",
                           fix="check the device; results finished before the failure are cached, so a rerun "
                               "only sends the rest")

    def _bar(self, circuit: Circuit, total: int) -> "_Progress":
        """The progress of one run of ``total`` circuits (a Dask runner shows its own, over chunks)."""
        if self.progress is False or self.runner is not None or not (self.progress or _interactive()):
            return _Progress(None)
        from tqdm.auto import tqdm

        delay = 0.0 if self.progress else PROGRESS_DELAY
        return _Progress(tqdm(total=total, desc=f"{circuit.name} on {self.backend.name}", unit="circuit",
                              leave=False, delay=delay, miniters=0))  # miniters=0: the timer's update(0) redraws


PROGRESS_DELAY = 2.0  # seconds a request runs before its bar appears on its own
PROGRESS_TICK = 0.5  # seconds between refreshes while a backend call blocks


class _Progress:
    """A tqdm bar over a request's circuits, refreshed by a timer thread while the backend blocks.

    ``_Progress(None)`` shows nothing. The bar counts circuits as pieces finish; between
    pieces (a single backend call of a minute) the timer redraws it, so the elapsed time moves.
    """

    def __init__(self, bar, tick: float = PROGRESS_TICK):
        self.bar = bar
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer = None
        if bar is not None:
            self._timer = threading.Thread(target=self._refresh, args=(tick,), name="qshift-progress", daemon=True)
            self._timer.start()

    def _refresh(self, tick: float) -> None:
        while not self._stop.wait(tick):
            with self._lock:
                self.bar.update(0)  # redraws (elapsed time) once the bar's delay has passed

    def advance(self, n: int) -> None:
        if self.bar is not None:
            with self._lock:
                self.bar.update(n)

    def close(self) -> None:
        if self.bar is None:
            return
        self._stop.set()
        self._timer.join()
        with self._lock:
            self.bar.close()


@dataclass
class _Pending:
    """One :meth:`Executor.evaluate` call: its rows and keys, the rows still missing, and the answers.

    ``missing`` maps each distinct key not answered yet to the rows asking for it; :meth:`fill`
    answers them all at once and caches the point.
    """

    circuit: Circuit
    angles: np.ndarray
    keys: list[tuple]
    missing: dict[tuple, list[int]]
    values: np.ndarray
    variances: np.ndarray | None
    cache: EvaluationCache
    shots: int | None
    seed: int | None
    request: Stats

    def put(self, row: int, vals, var) -> None:
        """The answer of one row (a variance of ``None`` is exact: zero when sampling)."""
        self.values[row] = vals
        if self.variances is not None:
            self.variances[row] = 0.0 if var is None else var

    def fill(self, row: int, vals, var) -> None:
        """Cache the point of ``row`` and answer every row that asked for it."""
        key = self.keys[row]
        self.cache.put(key, (vals, var))
        for k in self.missing.pop(key):
            self.put(k, vals, var)


def _interactive() -> bool:
    """A terminal on stderr, or a Jupyter kernel (whose stderr is no terminal but shows widgets)."""
    if getattr(sys.stderr, "isatty", lambda: False)():
        return True
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})
