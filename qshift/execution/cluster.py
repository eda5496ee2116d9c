"""Scaling out: run the rows of a plan on a Dask cluster (``pip install 'qshift[dask]'``).

``qshift.derivatives(circuit, values, order=2, executor=client)`` with a
``dask.distributed.Client`` (or a scheduler address such as
``"tcp://10.0.0.5:8786"``) plans on this machine and evaluates on the cluster.
A :class:`DaskExecutor` is an :class:`~qshift.Executor` whose runner (the
step that sends the rows missing from the cache to the backend, see
:class:`~qshift.execution.executor.Runner`) is a cluster: the cache, the counters and
the reuse rules are the executor's own, so results and circuit counts are the
single-machine path's.

How one request runs:

1. The executor looks every row up in its evaluation cache; only distinct misses go on.
2. The circuit is scattered to every worker once (``client.scatter(..., broadcast=True)``)
   and kept there for later requests with the same circuit; tasks carry a reference to
   it, not a copy. A backend *object* passed as ``device`` travels with it; a device
   *name* is resolved on each worker (so ``"aer"`` needs qiskit-aer on the workers).
3. The misses are split into contiguous chunks: about ``chunks_per_worker`` per worker
   thread (for balance when workers differ or die), never more rows than the backend
   holds in memory at once (``rows_per_chunk(n_qubits)``, the local simulator's hint)
   or accepts in one call (``max_batch``).
4. Each chunk is one task, submitted with ``retries=``: a chunk that raises is retried by
   Dask, and the chunks of a worker that dies are rerun elsewhere by the scheduler.
5. Chunks are gathered as they finish (with a progress bar on runs of more than a couple of
   seconds when stderr is a terminal or in a Jupyter kernel; ``progress=True``: always) and
   each is put in the cache at once; values come back in request order. When a chunk
   fails for good, the chunks already finished are cached, the rest are cancelled, and
   the error names the chunk: a rerun sends only what is missing.

Resuming. With a store (``DaskExecutor(client, device, store="run.sqlite")``) the chunks of a
request outlive the client: they are published on the scheduler as a dataset named after the
request's chunks (``qshift-chunk-<id>``), and each chunk's rows are recorded in the store's task
ledger (task id ``qshift-chunk-<id>/<chunk>``) before the results come back. When the client
process dies, the scheduler keeps the chunks running; a rerun of the same request against the
same scheduler reads finished rows from the store (``Stats.from_store``), gathers the recorded
chunks the scheduler still holds instead of running them again (``Stats.reattached``), and
submits only the rest (``Stats.submitted``). A finished request unpublishes its datasets. An
interrupted one (Ctrl-C) leaves them for a rerun; without a store nothing is published or
recorded, and every chunk still running when the request stops is cancelled.

Counting: ``circuits`` is the distinct rows run, ``jobs`` one per chunk (one backend call
each; a chunk rerun after a worker loss still counts once), ``executions`` and ``shots``
what the backends report.

Sampling: chunk ``i`` gets the ``i``-th child of ``SeedSequence(seed)``, so a seeded
request is reproducible on the same cluster size; different chunking draws different
samples (exact results do not depend on chunking beyond floating-point rounding).

Example:
    >>> import qshift
    >>> executor = as_executor(None, "local")      # no cluster: the single-machine executor
    >>> type(executor).__name__
    'Executor'
"""

from __future__ import annotations

import math
import sys
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qshift._errors import DeviceError, QShiftError, RequestError, require
from qshift._seeding import child_ints
from qshift.backends.base import Backend, NoLedger, RunResult, TaskLedger
from qshift.backends.registry import resolve_device
from qshift.execution.executor import PROGRESS_DELAY, EvaluationCache, Executor, Stats, _interactive
from qshift.execution.store import EvaluationStore, open_store
from qshift.ir.circuit import Circuit

__all__ = ["DaskExecutor", "as_executor", "chunk_rows", "names_a_cluster"]

_CLIENTS: dict[str, object] = {}  # scheduler address -> the Client this process opened for it
_CLIENTS_LOCK = threading.Lock()


def as_executor(executor=None, device="local", *, cache: EvaluationCache | None = None,
                progress: bool | None = None, store=False):
    """The executor a request (or a TF op, for all its orders) runs through: the one factory.

    Args:
        executor: ``None`` (a fresh single-machine :class:`~qshift.Executor` for ``device``),
            an executor (an :class:`~qshift.Executor` or :class:`DaskExecutor`; anything with
            ``evaluate``, ``backend`` and ``store``: returned as is), a ``dask.distributed.Client``
            (a :class:`DaskExecutor` on it), or a scheduler address string (connected once per
            process, then as a Client).
        device: the device name or backend object, used when a new executor is made.
        cache: the evaluation cache of a new executor (default: a new bounded one).
        progress: progress bars for a new executor (default: when stderr is a terminal).
        store: the evaluation store of a new single-machine executor, as ``store=`` of
            :func:`qshift.derivatives` (``False``, the default here: none; ``None``: the device's
            default; ``True``, a path or an :class:`~qshift.EvaluationStore`); see
            :func:`~qshift.execution.store.open_store`.

    Dask is imported only when a Client or an address is passed; without it an address
    raises :class:`~qshift.MissingExtraError` naming ``qshift[dask]``.
    """
    if executor is None:
        backend = resolve_device(device)
        return Executor(backend, cache=cache, progress=progress, store=open_store(store, backend))
    if callable(getattr(executor, "evaluate", None)):
        return executor
    if names_a_cluster(executor):  # a cluster's store is only ever the one asked for (no default file)
        return DaskExecutor(executor, device, cache=cache, progress=progress,
                            store=None if store is None or store is False else store)
    raise RequestError("executor must be an executor, a dask Client or a scheduler address",
                       expected="None, qshift.Executor(...), a dask.distributed.Client, or e.g. 'tcp://host:8786'",
                       received=type(executor).__name__,
                       fix="pass executor=client (a dask.distributed.Client) or leave it out")


def chunk_rows(rows: int, threads: int, *, memory_rows: int | None = None, max_batch: int | None = None,
               chunks_per_worker: int = 4) -> int:
    """Rows per chunk: about ``chunks_per_worker`` chunks per worker thread, capped by memory and batch limits.

    Example:
        >>> chunk_rows(3241, threads=2)                  # 8 chunks of at most 406 rows
        406
        >>> chunk_rows(3241, threads=2, memory_rows=64)  # only 64 states fit in the memory limit
        64
    """
    size = math.ceil(rows / (max(threads, 1) * max(chunks_per_worker, 1)))
    caps = [c for c in (memory_rows, max_batch) if c]
    return max(1, min([size, *caps]))


class DaskExecutor:
    """An :class:`~qshift.Executor` that runs the rows missing from its cache on a Dask cluster.

    Args:
        client: a ``dask.distributed.Client``, or a scheduler address to connect to.
        device: a device name (resolved on each worker; ``"local"``, ``"aer"`` ...) or a
            picklable backend object (shipped to each worker once).
        cache: the evaluation cache (a new bounded one by default).
        reuse_sampled: reuse shot-noise results across requests (off by default).
        progress: a progress bar over chunks (``None``: after about two seconds, when stderr is a
            terminal or in a Jupyter kernel; ``True``: at once; ``False``: never).
        chunk_rows: rows per chunk (default: from the worker count and the backend's limits,
            see :func:`chunk_rows`).
        chunks_per_worker: chunks per worker thread when sizing automatically.
        retries: times Dask retries a chunk that raised, before the request fails.
        worker_timeout: seconds to wait for a first worker when the cluster has none.
        store: an evaluation store (a path, ``True`` for the default file, or an
            :class:`~qshift.EvaluationStore`; ``None``, the default: none). With one, results are
            kept and the chunks of a request are recorded, so a rerun after the client crashed
            re-attaches to them on the scheduler (see the module's "Resuming").

    Attributes:
        stats: cumulative counters (as :attr:`Executor.stats`; ``jobs`` counts chunks).
    """

    def __init__(self, client, device="local", *, cache: EvaluationCache | None = None,
                 reuse_sampled: bool = False, progress: bool | None = None, chunk_rows: int | None = None,
                 chunks_per_worker: int = 4, retries: int = 2, worker_timeout: float = 60.0, store=None):
        self.client = _connect(client)
        self.device = device
        self._runner = _ClusterRunner(self.client, device, resolve_device(device), progress=progress,
                                      chunk_rows=chunk_rows, chunks_per_worker=chunks_per_worker,
                                      retries=retries, worker_timeout=worker_timeout)
        self._executor = Executor(self._runner.backend, cache=cache, reuse_sampled=reuse_sampled,
                                  progress=progress, runner=self._runner,
                                  store=open_store(False if store is None else store, self._runner.backend))

    @property
    def backend(self) -> Backend:
        return self._executor.backend

    @property
    def cache(self) -> EvaluationCache:
        return self._executor.cache

    @property
    def stats(self) -> Stats:
        return self._executor.stats

    @property
    def store(self) -> EvaluationStore | None:
        """The evaluation store of results and recorded chunks (``None``: none, the default)."""
        return self._executor.store

    def evaluate(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None = None,
                 seed: int | None = None, resume: bool | None = None) -> tuple[np.ndarray, np.ndarray | None, Stats]:
        """As :meth:`Executor.evaluate`: values (and variances when sampling) of every row, and the request's stats."""
        return self._executor.evaluate(circuit, angles, shots=shots, seed=seed, resume=resume)

    def __repr__(self) -> str:
        return f"DaskExecutor({self.client!r}, device={self.backend.name!r})"


class _ClusterRunner:
    """The :class:`~qshift.execution.executor.Runner` of a :class:`DaskExecutor`: chunks as Dask tasks."""

    _KEPT_CIRCUITS = 16  # scattered circuits kept on the workers (least recently used dropped)
    takes_ledger = True  # recorded chunks are re-attached after a crash (see the module's "Resuming")

    def __init__(self, client, device, backend: Backend, *, progress, chunk_rows, chunks_per_worker, retries,
                 worker_timeout):
        self.client = client
        self.backend = backend
        self.device = device if isinstance(device, str) else backend
        self.progress = progress
        self.chunk_rows = chunk_rows
        self.chunks_per_worker = chunks_per_worker
        self.retries = retries
        self.worker_timeout = worker_timeout
        self._scattered: OrderedDict[str, object] = OrderedDict()  # fingerprint -> Future of a _Payload
        self._lock = threading.Lock()  # a TF op may evaluate from several threads

    def __call__(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None, seed: int | None,
                 ledger: TaskLedger | None = None) -> Iterator[tuple[np.ndarray, RunResult]]:
        ledger = ledger if ledger is not None else NoLedger()
        payload = self._payload(circuit)
        name = f"{_DATASET}{uuid.uuid4().hex}"
        held, resumed = self._reattach(angles, ledger)
        taken = np.concatenate([p.rows for p in held]) if held else np.zeros(0, dtype=int)
        rest = np.setdiff1d(np.arange(len(angles)), taken)
        # a resumed request's new chunks draw seeds of their own, never those of the chunks it lost
        seeds_from = [seed, int(name[len(_DATASET):], 16)] if resumed and seed is not None else seed
        new = self._submit(circuit, payload, angles, rest, (shots, seeds_from), name, ledger)
        names = {p.token.rpartition("/")[0] for p in held} | ({name} if new and ledger.records else set())
        return self._gather(circuit, held + new, ledger, names)

    def _submit(self, circuit: Circuit, payload, angles: np.ndarray, rest: np.ndarray, sampling, name: str,
                ledger: TaskLedger) -> list["_Piece"]:
        """Submit ``angles[rest]`` in chunks; with a recording ledger, publish them and record each chunk."""
        if not len(rest):
            return []
        shots, seeds_from = sampling
        chunks = [rest[c] for c in self._chunks(circuit, len(rest))]
        tokens = [self._claim(ledger, name, i, angles, rows) for i, rows in enumerate(chunks)]
        futures = [self.client.submit(_run_chunk, payload, angles[rows], shots, chunk_seed,
                                      key=(name, i), retries=self.retries, pure=False)
                   for i, (rows, chunk_seed) in enumerate(zip(chunks, child_ints(seeds_from, len(chunks))))]
        if ledger.records:
            self.client.publish_dataset(futures, name=name)  # kept on the scheduler when this client dies
            for token in filter(None, tokens):
                ledger.submitted(token, token)
        return [_Piece(rows, future, token) for rows, future, token in zip(chunks, futures, tokens)]

    @staticmethod
    def _claim(ledger: TaskLedger, name: str, i: int, angles: np.ndarray, rows: np.ndarray) -> str | None:
        """Record chunk ``i`` (its rows, and their places in it) before it is sent; ``None``: not recorded."""
        if not ledger.records:
            return None
        token = f"{name}/{i}"
        parts = [(int(r), -1, (i, j)) for j, r in enumerate(rows)]
        return token if ledger.creating(token, angles, parts, 1) == token else None  # else: another run's

    def _reattach(self, angles: np.ndarray, ledger: TaskLedger) -> tuple[list["_Piece"], bool]:
        """The recorded chunks of these rows that the scheduler still holds; whether any was recorded."""
        if not ledger.records:
            return [], False
        groups: dict[str, list[tuple[int, int]]] = {}
        for (row, _), entry in ledger.find(angles, [(r, -1) for r in range(len(angles))]).items():
            if entry.status in ("creating", "submitted") and entry.token.startswith(_DATASET) and entry.position:
                groups.setdefault(entry.token, []).append((entry.position[1], row))
        held, datasets = [], {}
        for token, members in groups.items():
            future = self._recorded(token, datasets)
            if future is None:  # the scheduler lost it (restarted): it is sent again
                ledger.submitted(token, token)
                ledger.ended(token, "CANCELLED", "no longer on the Dask scheduler")
                continue
            ledger.submitted(token, token)  # an earlier run may have died before recording the id
            members.sort()
            held.append(_Piece(np.array([r for _, r in members]), future, token,
                               np.array([j for j, _ in members]), reattached=True))
        return held, bool(groups)

    def _recorded(self, token: str, datasets: dict):
        """The future of recorded chunk ``<dataset>/<index>``, or ``None`` when the scheduler has no such dataset."""
        name, _, index = token.rpartition("/")
        if name not in datasets:
            try:
                datasets[name] = self.client.get_dataset(name, default=None)
            except Exception:  # noqa: BLE001 - unreadable is as good as gone: the chunk is sent again
                datasets[name] = None
        futures = datasets[name]
        if not isinstance(futures, list) or not index.isdigit() or int(index) >= len(futures):
            return None
        return futures[int(index)]

    def _chunks(self, circuit: Circuit, rows: int) -> list[np.ndarray]:
        size = self.chunk_rows or chunk_rows(rows, self._threads(), memory_rows=self._memory_rows(circuit),
                                             max_batch=self.backend.max_batch,
                                             chunks_per_worker=self.chunks_per_worker)
        if self.chunk_rows and self.backend.max_batch:
            size = min(size, self.backend.max_batch)
        return np.array_split(np.arange(rows), math.ceil(rows / size))

    def _memory_rows(self, circuit: Circuit) -> int | None:
        return self.backend.rows_per_chunk(circuit.n_qubits)

    def _threads(self) -> int:
        threads = sum(self.client.nthreads().values())
        if threads:
            return threads
        try:
            self.client.wait_for_workers(1, timeout=self.worker_timeout)
        except Exception as exc:  # distributed raises TimeoutError (asyncio's or the builtin)
            raise DeviceError("the Dask cluster has no workers", expected="at least one worker",
                              received=f"none after {self.worker_timeout:g} s",
                              fix="start workers (dask worker <scheduler address>) or scale the cluster") from exc
        return sum(self.client.nthreads().values())

    def _payload(self, circuit: Circuit):
        """The circuit (and backend object) on every worker, scattered once per circuit."""
        with self._lock:
            return self._scatter(circuit)

    def _scatter(self, circuit: Circuit):
        future = self._scattered.get(circuit.fingerprint)
        if future is not None and future.status == "finished":
            self._scattered.move_to_end(circuit.fingerprint)
            return future
        try:
            future = self.client.scatter(_Payload(circuit, self.device), broadcast=True, hash=False)
        except Exception as exc:
            raise DeviceError("could not send the circuit and device to the Dask workers",
                              expected="a picklable circuit and device", received=f"{type(exc).__name__}: {exc}",
                              fix="pass the device by name (device='local') so each worker builds its own") from exc
        self._scattered[circuit.fingerprint] = future
        while len(self._scattered) > self._KEPT_CIRCUITS:
            self._scattered.popitem(last=False)[1].release()
        return future

    def _gather(self, circuit: Circuit, pieces: list["_Piece"], ledger: TaskLedger,
                names: set[str]) -> Iterator[tuple[np.ndarray, RunResult]]:
        """Yield chunks as they finish; on a failure, yield the finished ones, cancel the rest, raise."""
        from distributed import as_completed

        index = {piece.future.key: i for i, piece in enumerate(pieces)}
        pending = set(index)
        bar = self._bar(circuit, len(pieces))
        keep = False
        try:
            for future in as_completed([p.future for p in pieces], loop=self.client.loop):
                i = index[future.key]
                pending.discard(future.key)
                try:
                    result = future.result()
                except Exception as exc:
                    _ended(ledger, pieces[i], "FAILED", f"{type(exc).__name__}: {exc}")
                    yield from self._finished(pieces, pending, ledger)
                    raise _chunk_error(exc, i, [p.rows for p in pieces], self.backend.name, self.retries) from exc
                yield from _collected(pieces[i], result, ledger)
                bar.update(1)
        except KeyboardInterrupt:
            keep = ledger.records  # left on the scheduler and in the store: a rerun re-attaches
            raise
        finally:
            if not keep:
                self._release(pieces, pending, ledger, names)
            bar.close()

    def _release(self, pieces: list["_Piece"], pending: set, ledger: TaskLedger, names: set[str]) -> None:
        """Unpublish the request's datasets and cancel its unfinished chunks."""
        for name in names:
            try:
                self.client.unpublish_dataset(name)
            except Exception:  # noqa: BLE001 - already gone (another run finished it) or scheduler lost
                pass
        unfinished = [p for p in pieces if p.future.key in pending]
        self.client.cancel([p.future for p in unfinished])
        for piece in unfinished:
            _ended(ledger, piece, "CANCELLED", "the request stopped")

    @staticmethod
    def _finished(pieces, pending, ledger) -> Iterator[tuple[np.ndarray, RunResult]]:
        for piece in pieces:
            if piece.future.key in pending and piece.future.status == "finished":
                try:
                    result = piece.future.result(timeout=10)
                except Exception:  # noqa: BLE001 - a second failure changes nothing: report the first
                    continue
                pending.discard(piece.future.key)
                yield from _collected(piece, result, ledger)

    def _bar(self, circuit: Circuit, total: int):
        from tqdm.auto import tqdm

        shown = self.progress or (self.progress is None and _interactive())  # a Jupyter kernel too
        return tqdm(total=total, desc=f"{circuit.name} on {self.backend.name} (dask)", unit="chunk", leave=False,
                    disable=not shown or total < 2, delay=0.0 if self.progress else PROGRESS_DELAY)


_DATASET = "qshift-chunk-"  # the names of published chunks (and the prefix of their task keys)


@dataclass
class _Piece:
    """One chunk being awaited: the rows it answers, its future, and its ledger token when recorded.

    ``pick``: for a chunk re-attached from an earlier run, the places in its result of ``rows``
    (those still missing); ``None`` for a chunk this run submitted (its result is ``rows``, in order).
    """

    rows: np.ndarray
    future: object
    token: str | None = None
    pick: np.ndarray | None = None
    reattached: bool = False


def _collected(piece: _Piece, result: RunResult, ledger: TaskLedger) -> Iterator[tuple[np.ndarray, RunResult]]:
    """Yield a finished chunk's rows (counted as re-attached when an earlier run sent it); then mark it ended."""
    if piece.pick is not None:
        n = len(result.values)
        result = RunResult(np.asarray(result.values)[piece.pick],
                           None if result.variances is None else np.asarray(result.variances)[piece.pick],
                           result.executions * len(piece.pick) // max(n, 1), result.jobs)
    if piece.reattached:
        ledger.reattached += len(piece.rows)
    yield piece.rows, result
    _ended(ledger, piece, "COMPLETED")  # after the executor stored the rows


def _ended(ledger: TaskLedger, piece: _Piece, status: str, reason: str | None = None) -> None:
    if piece.token is not None:
        ledger.ended(piece.token, status, reason)


def _chunk_error(exc: BaseException, i: int, chunks: list[np.ndarray], device: str, retries: int) -> QShiftError:
    rows = chunks[i]
    where = (f"chunk {i + 1} of {len(chunks)} (rows {rows[0]}-{rows[-1]} of the {sum(map(len, chunks))} "
             f"uncached rows) failed on the Dask cluster")
    rerun = "finished chunks are cached, so a rerun through the same executor sends only the rest"
    if isinstance(exc, QShiftError):  # keep the type (SimulationMemoryError stays a MemoryError)
        return _rebuild(exc, f"{where}: {exc.problem}", fix=f"{exc.fix}; {rerun}" if exc.fix else rerun)
    if type(exc).__name__ == "KilledWorker":
        return DeviceError(f"{where}: it killed every worker that ran it", expected="a chunk that a worker survives",
                           received=f"{type(exc).__name__}: {exc}",
                           fix=f"lower chunk_rows or give the workers more memory; {rerun}")
    return DeviceError(f"{where} on device {device!r}, also after {retries} retries", expected="a successful run",
                       received=f"{type(exc).__name__}: {exc}", fix=f"check the device on the workers; {rerun}")


def _rebuild(exc: QShiftError, problem: str, *, fix: str | None) -> QShiftError:
    return type(exc)(problem, expected=exc.expected, received=exc.received, fix=fix, line=exc.line)


# -- on the workers -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Payload:
    """What every worker keeps for one circuit: the circuit, and a device name or backend object."""

    circuit: Circuit
    device: object


def _run_chunk(payload: _Payload, angles: np.ndarray, shots: int | None, seed: int | None) -> RunResult:
    """One chunk, on a worker: the backend named (or shipped) in ``payload`` runs ``angles``."""
    device = payload.device
    backend = _backend_named(device) if isinstance(device, str) else device
    result = backend.run(payload.circuit, angles, shots=shots, seed=seed)
    variances = None if result.variances is None else np.asarray(result.variances, dtype=float)
    return RunResult(np.asarray(result.values, dtype=float), variances, result.executions, result.jobs)


@lru_cache(maxsize=8)
def _backend_named(name: str) -> Backend:
    """One backend per device name per worker process, built there."""
    return resolve_device(name)


# -- connecting ---------------------------------------------------------------------------------

def names_a_cluster(executor) -> bool:
    """Whether ``executor=`` names a Dask cluster: a ``dask.distributed.Client`` or a scheduler address."""
    return _is_client(executor) or isinstance(executor, str)


def _is_client(obj) -> bool:
    distributed = sys.modules.get("distributed")  # a Client exists only if distributed is imported
    return distributed is not None and isinstance(obj, distributed.Client)


def _connect(client):
    """A Client: as given, or this process's connection to the scheduler address ``client``."""
    if _is_client(client):
        return client
    distributed = require("distributed", "dask")
    if not isinstance(client, str):
        raise RequestError("a Dask executor needs a client or a scheduler address",
                           expected="a dask.distributed.Client or e.g. 'tcp://127.0.0.1:8786'",
                           received=type(client).__name__, fix="pass Client(...) or its scheduler address")
    with _CLIENTS_LOCK:
        known = _CLIENTS.get(client)
        if known is not None and known.status == "running":
            return known
        try:
            known = distributed.Client(client, set_as_default=False)
        except OSError as exc:
            raise DeviceError(f"could not connect to the Dask scheduler at {client!r}",
                              expected="a running scheduler at that address", received=f"{type(exc).__name__}: {exc}",
                              fix="start one (dask scheduler) or check the address and port") from exc
        _CLIENTS[client] = known
        return known
