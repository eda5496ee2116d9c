"""The built-in statevector simulator (device ``local``), vectorized over angle rows.

``LocalSimulator.run(circuit, angles[B, S])`` evaluates every row with no
Python loop over rows. The circuit is compiled once into a program of fused
kernels (:mod:`~qshift.backends.local.compile`, :mod:`~qshift.backends.local.kernels`)
ending in its observables (:mod:`~qshift.backends.local.observables`); this
module runs that program over the rows. These ideas make shifted batches cheap:

* **Shared prefixes.** Rows of a shifted batch differ in one or two slots. The
  simulator keeps one state per *distinct prefix*: before a kernel that reads
  slots, rows are regrouped by (their group so far, the kernel's angles), so
  rows that agree on every angle read so far share one state. Rows are sorted
  up front by their angles in the order the kernels read them, so every group
  is a contiguous run of rows and regrouping is one comparison of neighbouring
  rows (no sort per kernel). When a group splits, its first part keeps the
  state's place and only the other parts get copies. With the folded tail
  (see :mod:`~qshift.backends.local.compile`), the Hessian batch of
  ``hardware_efficient(10, 2)`` (3241 rows) runs a fifth of the full-size kernel
  applications a row-by-row simulation needs; identical rows cost one state.
* **Cache-sized chunks.** Rows are processed in chunks, contiguous in the sorted
  order so that they keep most shared prefixes, whose states fit in 8 MiB of
  cache: every kernel then works on data already in cache, which beats
  sharing prefixes across the whole batch in memory. Kernels write into
  buffers allocated once per run and, when small, kept for the next run on the
  same thread (touching fresh memory costs more than a small run's arithmetic).
* **Both cores.** Chunks of a large batch (states of at least ``2**_THREAD_MIN_QUBITS``
  amplitudes) run on ``threads`` threads at once (NumPy releases the GIL in its kernels); so do
  the halves of an adjoint run's rows from ``2**_ADJOINT_THREAD_MIN_QUBITS`` amplitudes. Smaller
  states stay on one thread, where the Python between kernels (which holds the GIL) costs more
  than a second thread saves (``bench/threads.py``: 1.1-1.3x at 10-12 qubits, less below).
* **Bounded memory.** Chunks are never larger than ``max_memory`` allows; a
  single state too large for it raises :class:`~qshift.SimulationMemoryError`
  instead of crashing.

Qubit ``q`` is axis ``q`` of the state tensor (qubit 0 is the most significant bit).
Amplitudes are complex128.

Example:
    >>> import numpy as np, qshift
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> sim = LocalSimulator()
    >>> r = sim.run(c, np.array([[0.0], [np.pi / 2]]))
    >>> np.round(r.values, 12).tolist()
    [[0.0], [1.0]]
"""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from qshift._errors import DeviceError, SimulationMemoryError
from qshift.backends._common import bytes_text, check_angles
from qshift.backends.local.adjoint import AdjointResult, Tape, adjoint, adjoint_cost, tape_fits
from qshift.backends.base import Backend, RunResult
from qshift.backends.local.compile import _compile, _Program
from qshift.backends.local.kernels import _Expand, _Fresh
from qshift.backends.local.sampling import sample_groups
from qshift.backends.profiles import MAX_SHOTS, DeviceProfile
from qshift.ir.circuit import Circuit
from qshift.ir.grouping import n_groups

__all__ = ["LocalSimulator", "bytes_text", "parse_size", "simulate"]

_BYTES_PER_AMPLITUDE = 16
_WORKING_COPIES = 4  # two state buffers, the copies of split groups, and a kernel's temporaries
_CACHE_BYTES = 8 * 1024 ** 2  # states per chunk that stay in cache through all kernels
_CACHE_MIN_ROWS = 16  # fewer rows per chunk would lose too much prefix sharing
_KEEP_BYTES = 8 * 1024 ** 2  # work buffers up to this size are kept (per thread) for the next run
_LOG2_PER_ROW = (_WORKING_COPIES * _BYTES_PER_AMPLITUDE).bit_length() - 1  # both are powers of two
_THREAD_MIN_QUBITS = 10  # shifted batches of smaller states run on one thread (measured: threads do not pay there)
_ADJOINT_THREAD_MIN_QUBITS = 12  # the same for an adjoint run's halves (10 qubits, 32 rows: 0.7x on two threads)


class LocalSimulator(Backend):
    """The default device: an exact, batched statevector simulator in NumPy.

    Args:
        max_memory: working memory a run may use: bytes, or a size such as ``"6GiB"``,
            ``"512MiB"`` or ``"2GB"`` (default 2 GiB). Rows are processed in chunks that fit;
            a single state that does not fit raises :class:`~qshift.SimulationMemoryError`.
        default_shots: shots of a request that passes none (``None``: exact). With shots, each
            output is sampled from the exact distribution (see :meth:`run`).
        name: the device name shown to users (a profile's name; default ``"local"``).
        max_batch: most rows one :meth:`run` call accepts (``None``: no limit).
        profile: the device profile this simulator was built from, or ``None``.
        threads: threads for large batches (default: ``QSHIFT_NUM_THREADS`` when set, else the
            cores this process may use); ``1`` runs everything on the calling thread.

    Example:
        >>> LocalSimulator(max_memory="512MiB").max_memory == 512 * 2 ** 20
        True
        >>> LocalSimulator(default_shots=1000).resolve_shots(None)
        1000
    """

    name = "local"
    exact = True
    max_batch = None

    def __init__(self, max_memory: int | str = 2 * 1024 ** 3, *, default_shots: int | None = None,
                 name: str = "local", max_batch: int | None = None, profile: DeviceProfile | None = None,
                 threads: int | None = None):
        self.max_memory = parse_size(max_memory)
        self.threads = _check_threads(threads)
        self.default_shots = _check_default_shots(default_shots)
        self.name = name
        self.max_batch = max_batch
        self.profile = profile
        self.cache_key = "local"  # one simulator whatever the profile calls it: its results are the same

    def rows_per_chunk(self, n_qubits: int) -> int:
        """How many rows fit in ``max_memory`` at once (at least one, or an error).

        ``n_qubits`` is compared with ``log2`` of the memory first: ``2 ** n`` is computed only
        for a state that fits.
        """
        log2_per_row = _LOG2_PER_ROW + n_qubits  # _WORKING_COPIES * _BYTES_PER_AMPLITUDE * 2**n
        if log2_per_row >= self.max_memory.bit_length():  # 2**k > max_memory exactly when k >= its bit length
            raise SimulationMemoryError(
                f"a {n_qubits}-qubit statevector does not fit in the simulator's memory limit",
                expected=f"at most {self.max_memory / 1024 ** 3:.2f} GiB of working memory",
                received=f"{bytes_text(log2_per_row)} needed for one row ({n_qubits} qubits)",
                fix="use fewer qubits, raise LocalSimulator(max_memory=...), or run on a device such as 'aer'",
            )
        return max(1, self.max_memory >> log2_per_row)

    def run(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None = None,
            seed: int | None = None) -> RunResult:
        """Expectation values for every row of slot angles ``(B, n_slots)``: exact, or sampled with ``shots``."""
        angles = check_angles(circuit, angles)
        rows = len(angles)
        threads = self.threads if circuit.n_qubits >= _THREAD_MIN_QUBITS else 1
        chunk = min(max(1, self.rows_per_chunk(circuit.n_qubits) // threads), _cache_rows(circuit.n_qubits))

        def evaluate(program: _Program, part_angles: np.ndarray) -> np.ndarray:
            order = _row_order(part_angles, program.read_order)
            out = np.empty((len(part_angles), program.observables.n_outputs))

            def work(part: np.ndarray) -> None:
                buffers = _buffers(len(part) << circuit.n_qubits)  # per thread
                out[part] = _run_chunk(program, circuit.n_qubits, part_angles[part], buffers)

            _map(threads, work, [order[start:start + chunk] for start in range(0, len(part_angles), chunk)])
            return out

        if shots is not None and circuit.weighted:  # weighted sums: measured outcomes per group (module sampling)
            values, variances = sample_groups(circuit, angles, int(shots), seed, evaluate)
            return RunResult(values, variances, rows * n_groups(circuit), 1)
        terms = evaluate(_compile(circuit), angles)
        if shots is not None:  # each output is sampled on its own; hardware runs one execution per group
            sampled = _sample(terms, shots, seed)
            return RunResult(sampled.values, sampled.variances, rows * n_groups(circuit), 1)
        return RunResult(circuit.combine(terms), None, rows, 1)

    def run_cost(self, circuit: Circuit, angles: np.ndarray) -> int:
        """Full-size kernel applications a :meth:`run` of ``angles`` makes: one per kernel and distinct
        prefix of angles (the shared prefixes of the module notes), plus one measurement per row.

        The cost model behind ``method="adjoint"``'s choice between a shifted batch and shifted
        adjoint gradients (:meth:`adjoint_cost` is the other side).
        """
        program = _compile(circuit)
        rows = angles[_row_order(angles, program.read_order)]
        change = np.zeros(len(rows), dtype=bool)
        change[:1] = True
        total = len(rows)
        for kernel in program.kernels:
            if kernel.slots:
                change[1:] |= (rows[1:, kernel.slots] != rows[:-1, kernel.slots]).any(axis=1)
            if not isinstance(kernel, _Fresh):  # the product-state prologue works on small states
                total += int(np.count_nonzero(change))
        return total

    def adjoint_cost(self, circuit: Circuit, rows: int, states: int) -> int:
        """Full-size kernel applications (and reductions) of an adjoint run of ``rows`` rows sweeping
        ``states`` adjoint states back; comparable with :meth:`run_cost`."""
        return adjoint_cost(circuit, rows, states)

    def adjoint(self, circuit: Circuit, angles: np.ndarray, upstream: np.ndarray | None = None) -> AdjointResult:
        """Exact values and derivatives by every slot angle, by the adjoint method (:mod:`~qshift.backends.local.adjoint`).

        ``upstream`` ``(B, n_outputs)``: the vector-Jacobian product ``(B, n_slots)``; ``None``: the
        Jacobian ``(B, n_outputs, n_slots)``. One forward sweep per row, and one backward sweep per
        row (a product) or per row and output (the Jacobian), in chunks of rows that fit ``max_memory``.

        Example:
            >>> import numpy as np, qshift
            >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
            >>> r = LocalSimulator().adjoint(c, np.array([[0.5]]))
            >>> np.allclose(r.gradients[0, 0], np.cos(0.5))
            True
        """
        angles = check_angles(circuit, angles)
        halves = self._halves(circuit, len(angles))
        if len(halves) == 1:
            return adjoint(circuit, angles, upstream, max_memory=self.max_memory)
        parts = _map(len(halves), lambda rows: adjoint(circuit, angles[rows], None if upstream is None else
                                                       upstream[rows], max_memory=self.max_memory // len(halves)),
                     halves)
        return AdjointResult(np.concatenate([p.values for p in parts]), np.concatenate([p.gradients for p in parts]),
                             sum(p.forward_sweeps for p in parts), sum(p.backward_sweeps for p in parts))

    def adjoint_tape(self, circuit: Circuit, angles: np.ndarray) -> Tape | None:
        """The forward sweep of ``angles``, kept for a later vector-Jacobian product
        (:class:`~qshift.backends.local.adjoint.Tape`), or ``None`` when it would not fit ``max_memory``
        (then :meth:`adjoint` runs the rows in chunks)."""
        angles = check_angles(circuit, angles)
        if not tape_fits(circuit, len(angles), self.max_memory):
            return None
        halves = self._halves(circuit, len(angles))
        if len(halves) == 1:
            return Tape.record(circuit, angles)
        return _SplitTape(_map(len(halves), lambda rows: Tape.record(circuit, angles[rows]), halves))

    def _halves(self, circuit: Circuit, rows: int) -> list[slice]:
        """The rows of an adjoint run, one part per thread when the states are large enough to pay."""
        threads = min(self.threads, rows) if circuit.n_qubits >= _ADJOINT_THREAD_MIN_QUBITS else 1
        if threads <= 1:
            return [slice(0, rows)]
        bounds = np.linspace(0, rows, threads + 1).astype(int)
        return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


class _SplitTape:
    """Tapes of consecutive parts of the rows, each swept back on its own thread."""

    def __init__(self, tapes: list):
        self.tapes = tapes
        self.values = np.concatenate([t.values for t in tapes])
        self.rows = sum(t.rows for t in tapes)
        self.nbytes = sum(t.nbytes for t in tapes)

    def gradients(self, upstream: np.ndarray | None = None) -> np.ndarray:
        starts = np.cumsum([0] + [t.rows for t in self.tapes])
        return np.concatenate(_map(len(self.tapes), lambda i: self.tapes[i].gradients(
            None if upstream is None else upstream[starts[i]:starts[i + 1]]), range(len(self.tapes))))


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _map(threads: int, work, items) -> list:
    """``[work(item) for item in items]``, on ``threads`` threads of a shared pool when more than one."""
    items = list(items)
    if threads <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    with _POOLS_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="qshift-local")
    return list(pool.map(work, items))


def _check_threads(threads) -> int:
    if threads is None:
        given = os.environ.get("QSHIFT_NUM_THREADS")
        if not given:
            return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
        threads, source = given, "QSHIFT_NUM_THREADS"
        try:
            threads = int(given)
        except ValueError:
            pass
    else:
        source = "threads"
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise DeviceError(f"{source} must be a positive whole number of threads", expected="e.g. 1 or 2",
                          received=repr(threads), fix=f"set {source} to 1 (one thread) or the cores to use")
    return int(threads)


_UNITS = {"": 1, "b": 1, "kb": 10 ** 3, "mb": 10 ** 6, "gb": 10 ** 9, "tb": 10 ** 12,
          "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_size(size) -> int:
    """Bytes in ``size``: a positive number of bytes, or text such as ``"6GiB"``, ``"512 MiB"``, ``"2GB"``.

    Example:
        >>> parse_size("6GiB") == 6 * 2 ** 30, parse_size("2GB"), parse_size(1024)
        (True, 2000000000, 1024)

    Raises:
        DeviceError: not a size, or not positive.
    """
    number = None
    if isinstance(size, str):
        m = _SIZE.fullmatch(size)
        if m and m.group(2).lower() in _UNITS:
            number = float(m.group(1)) * _UNITS[m.group(2).lower()]
    elif isinstance(size, (int, float, np.integer, np.floating)) and not isinstance(size, bool):
        number = float(size)
    if number is None or not np.isfinite(number) or number < 1:
        raise DeviceError("max_memory must be a size in bytes", expected="a positive number of bytes, or text like "
                          "'6GiB', '512MiB', '2GB' (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)",
                          received=repr(size), fix="pass e.g. LocalSimulator(max_memory='6GiB')")
    return int(number)


def _check_default_shots(shots) -> int | None:
    if shots is None:
        return None
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or not 1 <= shots <= MAX_SHOTS:
        raise DeviceError("default_shots must be a positive integer or None",
                          expected=f"e.g. default_shots=1000 (at most {MAX_SHOTS:,} per execution)",
                          received=repr(shots), fix="pass a positive integer up to the limit, or None for exact results")
    return int(shots)


_KEPT = threading.local()


def _buffers(amplitudes: int) -> list[np.ndarray]:
    """Three flat work buffers of ``amplitudes`` each; small ones are kept for the next run on this
    thread, because touching freshly allocated memory costs more than a small run's arithmetic."""
    kept = getattr(_KEPT, "buffers", None)
    if kept is not None and len(kept[0]) >= amplitudes:
        return [b[:amplitudes] for b in kept]
    buffers = [np.empty(amplitudes, dtype=complex) for _ in range(3)]
    if amplitudes * _BYTES_PER_AMPLITUDE <= _KEEP_BYTES:
        _KEPT.buffers = buffers
    return buffers


def _cache_rows(n_qubits: int) -> int:
    """Rows per chunk whose states stay in cache (chunks share no states, so not too few)."""
    return max(_CACHE_MIN_ROWS, _CACHE_BYTES // (_BYTES_PER_AMPLITUDE * 2 ** n_qubits))


def _sample(values: np.ndarray, shots: int, seed: int | None) -> RunResult:
    """Shot-noise estimates of Pauli expectations: each shot gives +-1 with p(+1) = (1 + v) / 2."""
    rng = np.random.default_rng(seed)
    p = np.clip((1 + values) / 2, 0.0, 1.0)
    plus = rng.binomial(int(shots), p)
    est = 2 * plus / shots - 1
    return RunResult(est, np.maximum(1 - est ** 2, 0.0), values.shape[0], 1)


def _row_order(angles: np.ndarray, read_order: np.ndarray) -> np.ndarray:
    """Rows sorted by their angles in reading order: rows sharing a prefix become neighbours."""
    if len(read_order) == 0:
        return np.arange(len(angles))
    return np.lexsort(angles[:, read_order[::-1]].T)


def _regroup(label: np.ndarray, keys: np.ndarray, n_states: int) -> tuple[np.ndarray, ...]:
    """Split the groups of rows by ``keys`` (rows sorted so that equal (label, keys) are contiguous).

    The first part of every old group keeps its label (its state is updated where it lies); the
    other parts get labels ``n_states, n_states + 1, ...`` (their states start from copies).
    Returns the rows' new labels, the first row of every part (parts in row order), the part that
    keeps each old label, the parts that are copies, and the old labels they copy.
    """
    change = np.empty(len(label), dtype=bool)
    change[0] = True
    np.not_equal(label[1:], label[:-1], out=change[1:])
    change[1:] |= (keys[1:] != keys[:-1]).any(axis=1)
    first = np.flatnonzero(change)
    parent = label[first]
    head = np.empty(len(first), dtype=bool)
    head[0] = True
    np.not_equal(parent[1:], parent[:-1], out=head[1:])
    extra = np.flatnonzero(~head)
    lead = np.empty(n_states, dtype=np.intp)
    lead[parent[head]] = np.flatnonzero(head)
    part_label = parent.copy()
    part_label[extra] = np.arange(n_states, n_states + len(extra))
    return part_label[np.cumsum(change) - 1], first, lead, extra, parent[extra]


def _run_chunk(program: _Program, n: int, angles: np.ndarray, buffers: list[np.ndarray]) -> np.ndarray:
    """Values of rows sorted by :func:`_row_order`: one state per distinct prefix at every kernel.

    ``buffers`` are three flat arrays of ``len(angles) * 2**n`` amplitudes, allocated once per run
    (fresh memory is slow to touch): each kernel reads its states from one of the first two and
    writes the other; the third takes the copies of split states and the expectation squares.
    """
    label = np.zeros(len(angles), dtype=np.intp)
    states = np.ones((1, 1), dtype=complex)  # the product-state prologue starts with no qubits
    for step, kernel in enumerate(program.kernels):
        size = 2 ** n if isinstance(kernel, _Expand) else states.shape[1] * (1 + isinstance(kernel, _Fresh))
        slots = kernel.slots
        if not slots:
            out = _rows(buffers[step % 2], len(states), size)
            kernel.apply(states, kernel.operators(None), n, out)
            states = out
            continue
        keys = angles[:, slots]
        label, first, lead, extra, sources = _regroup(label, keys, len(states))
        ops = kernel.operators(keys[first])
        out = _rows(buffers[step % 2], len(first), size)
        kernel.apply(states, ops[lead], n, out[:len(states)])
        if len(extra):  # the other parts of split groups start from copies of their group's state
            copies = np.take(states, sources, axis=0, mode="clip", out=_rows(buffers[2], len(sources), states.shape[1]))
            kernel.apply(copies, ops[extra], n, out[len(states):])
        states = out
    return program.observables.expectations(states, buffers[2].view(float))[label]


def _rows(buffer: np.ndarray, rows: int, size: int) -> np.ndarray:
    """The first ``rows * size`` entries of a flat buffer as a ``(rows, size)`` array."""
    return buffer[:rows * size].reshape(rows, size)


def simulate(circuit: Circuit, values) -> np.ndarray:
    """Exact expectation values at symbol ``values`` ``(..., n_symbols)`` -> ``(..., n_out)``.

    Example:
        >>> import qshift, numpy as np
        >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
        >>> float(np.round(qshift.simulate(c, [np.pi / 2])[0], 12))
        1.0
    """
    rows, batch = circuit.check_values(values)
    result = LocalSimulator().run(circuit, circuit.slot_angles(rows))
    return result.values.reshape(batch + (circuit.n_outputs,))
