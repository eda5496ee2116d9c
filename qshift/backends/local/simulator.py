"""The built-in statevector simulator (device ``local``), vectorized over angle rows.

``LocalSimulator.run(circuit, angles[B, S])`` evaluates every row with no
Python loop over rows. These ideas make shifted batches cheap:

* **Compilation into kernels.** Consecutive one-qubit gates on a qubit are fused
  into one 2x2 matrix per row; runs of fixed permutation-like gates (X, CX,
  SWAP, CCX, S, CZ ...) become one index move times a phase vector; runs of
  parametrized diagonal gates (RZZ, CRZ, CP ...) become one phase vector
  ``exp(-i * angles @ H)``. Everything else is a batched matrix product. One-qubit
  kernels on up to three adjacent qubits are fused into one block (the kron
  product of their matrices, one pass over the states instead of three). A
  ``d x d`` block is applied as one batched ``matmul`` on a ``(groups, left, d,
  right)`` view of the states, or, when few amplitudes lie right of it, as
  ``(groups, left, d * right) @ (M kron I)`` so that each group is one BLAS call.
  A block of real gates (RY, H, X ...) is a real matrix for every angle: it acts on the
  (re, im) pairs of the amplitudes as one real product, half the arithmetic.
  Runs of fixed gates are composed with bit operations on the indices (compiling a
  24-qubit ansatz with one output takes under a second).
* **Shared prefixes.** Rows of a shifted batch differ in one or two slots. The
  simulator keeps one state per *distinct prefix*: before a kernel that reads
  slots, rows are regrouped by (their group so far, the kernel's angles), so
  rows that agree on every angle read so far share one state. Rows are sorted
  up front by their angles in the order the kernels read them, so every group
  is a contiguous run of rows and regrouping is one comparison of neighbouring
  rows (no sort per kernel). When a group splits, its first part keeps the
  state's place and only the other parts get copies. With the folded tail
  below, the Hessian batch of ``hardware_efficient(10, 2)`` (3241 rows) runs a
  fifth of the full-size kernel applications a row-by-row simulation needs;
  identical rows cost one state.
* **A product-state prologue.** The circuit starts in ``|0...0>``, so leading
  one-qubit kernels on qubits not yet touched keep the state a product: it is
  stored only over the touched qubits and each such kernel multiplies in the
  column ``M|0>`` of its matrix (states of ``2**k`` amplitudes instead of ``2**n``).
* **A folded tail.** Trailing permutation-like kernels are absorbed into the
  observables (``P^dag O P`` is again an index move times coefficients). When
  every output is diagonal (``Z``/``I`` only), trailing diagonal gates cannot
  change the result and are dropped, also from the end of one-qubit runs on
  qubits no later kernel mixes: rows that differ only in such slots share a state.
* **Cache-sized chunks.** Rows are processed in chunks, contiguous in the sorted
  order so that they keep most shared prefixes, whose states fit in 8 MiB of
  cache: every kernel then works on data already in cache, which beats
  sharing prefixes across the whole batch in memory. Kernels write into
  buffers allocated once per run and, when small, kept for the next run on the
  same thread (touching fresh memory costs more than a small run's arithmetic).
* **Bounded memory.** Chunks are never larger than ``max_memory`` allows; a
  single state too large for it raises :class:`~qshift.SimulationMemoryError`
  instead of crashing. Outputs keep dense weights (one number per amplitude and
  output) up to 128 MiB in all; beyond that, only their qubit masks.

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

import threading
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from qshift.ir.circuit import Circuit, Operation
from qshift._errors import SimulationMemoryError, ValuesError
from qshift.ir.gates import GATES, GateKind
from qshift.backends.base import Backend, RunResult

__all__ = ["LocalSimulator", "simulate"]

_BYTES_PER_AMPLITUDE = 16
_WORKING_COPIES = 4  # two state buffers, the copies of split groups, and a kernel's temporaries
_CACHE_BYTES = 8 * 1024 ** 2  # states per chunk that stay in cache through all kernels
_CACHE_MIN_ROWS = 16  # fewer rows per chunk would lose too much prefix sharing
_KEEP_BYTES = 8 * 1024 ** 2  # work buffers up to this size are kept (per thread) for the next run
_KRON_SIZE = 8  # apply a d x d block as M kron I when d * (amplitudes right of it) is at most this
_BLOCK_QUBITS = 3  # adjacent one-qubit kernels are fused into blocks of up to this many qubits
_DENSE_WEIGHTS = 128 * 1024 ** 2  # outputs keep dense weights (one number per amplitude and output) up to this size


# -- kernels ------------------------------------------------------------------------------------

@dataclass
class _OneQubit:
    """A run of one-qubit gates on one qubit, fused into one 2x2 matrix per group."""

    qubit: int
    ops: list[tuple[str, int | None, float]] = field(default_factory=list)  # (gate, slot or None, const angle)

    @property
    def slots(self) -> list[int]:
        return [s for _, s, _ in self.ops if s is not None]

    @property
    def real(self) -> bool:
        """Whether the fused matrix is real for every angle (RY, X, H ...): applied with half the arithmetic."""
        return all(_real_gate(gate, slot is not None, const) for gate, slot, const in self.ops)

    def operators(self, angles: np.ndarray | None) -> np.ndarray:
        """The fused 2x2 matrix of every group ``(G, 2, 2)``, or one ``(1, 2, 2)`` without slots
        (float when :attr:`real`)."""
        m, col = None, 0
        for gate, slot, const in self.ops:
            spec = GATES[gate]
            if not spec.parametrized:
                u = spec.matrix[None]
            elif slot is None:
                u = spec.unitary(const)
            else:
                u = spec.closed_form(angles[:, col])
                col += 1
            m = u if m is None else np.matmul(u, m)
        return np.ascontiguousarray(m.real) if self.real else m

    def apply(self, states: np.ndarray, ops: np.ndarray, n: int, out: np.ndarray) -> None:
        _apply_block(states, ops, self.qubit, 1, n, out)

    def without_trailing_diagonal(self) -> "_OneQubit":
        """The same run less the diagonal gates at its end (they only change phases)."""
        ops = list(self.ops)
        while ops and GATES[ops[-1][0]].kind is GateKind.DIAGONAL:
            ops.pop()
        return _OneQubit(self.qubit, ops)


@lru_cache(maxsize=None)
def _real_gate(gate: str, has_slot: bool, const: float) -> bool:
    """Whether a one-qubit gate's matrix is real: for every angle (its generator is imaginary) or
    at its one constant angle."""
    spec = GATES[gate]
    if not spec.parametrized:
        return bool(np.all(spec.matrix.imag == 0))
    if has_slot:
        return bool(np.all(spec.generator.real == 0))
    return bool(np.all(spec.unitary(const).imag == 0))


def _apply_block(states: np.ndarray, m: np.ndarray, qubit: int, width: int, n: int, out: np.ndarray) -> None:
    """``out[g]`` = ``m[g]`` (or one shared ``m[0]``) on qubits ``qubit .. qubit + width - 1`` of ``states[g]``.

    A real ``m`` (float) acts on the (re, im) pairs of the amplitudes as one real product: half
    the arithmetic of a complex one.
    """
    g, d = states.shape[0], 2 ** width
    left, right = 2 ** qubit, 2 ** (n - qubit - width)
    if d * right > _KRON_SIZE:  # one small product per (group, left index)
        if m.dtype == complex:
            np.matmul(m[:, None], states.reshape(g, left, d, right), out=out.reshape(g, left, d, right))
        else:
            np.matmul(m[:, None], states.view(float).reshape(g, left, d, 2 * right),
                      out=out.view(float).reshape(g, left, d, 2 * right))
    else:
        # out[g, l, (a, r)] = sum_(b, s) st[g, l, (b, s)] * k[g, (b, s), (a, r)], k = m^T kron I
        m = m.astype(complex, copy=False)
        k = np.swapaxes(m, 1, 2)[:, :, None, :, None] * np.eye(right)[:, None, :]
        k = k.reshape(len(m), d * right, d * right)
        np.matmul(states.reshape(g, left, d * right), k, out=out.reshape(g, left, d * right))


@dataclass
class _Block:
    """One-qubit kernels on adjacent qubits (most significant first) applied as one kron product."""

    parts: tuple[_OneQubit, ...]

    @property
    def slots(self) -> list[int]:
        return [s for part in self.parts for s in part.slots]

    def operators(self, angles: np.ndarray | None) -> np.ndarray:
        m, col = None, 0
        for part in self.parts:
            k = len(part.slots)
            u = part.operators(None if angles is None else angles[:, col:col + k])
            col += k
            if m is not None:  # (m kron u)[(a, c), (b, e)] = m[a, b] * u[c, e]
                u = (m[:, :, None, :, None] * u[:, None, :, None, :]).reshape(-1, 2 * len(m[0]), 2 * len(m[0]))
            m = u
        return m

    def apply(self, states: np.ndarray, ops: np.ndarray, n: int, out: np.ndarray) -> None:
        _apply_block(states, ops, self.parts[0].qubit, len(self.parts), n, out)


@dataclass
class _Fresh:
    """A one-qubit kernel on a qubit still in ``|0>`` while the state is a product.

    The state holds only the qubits touched so far (in qubit order); this kernel inserts its
    qubit at ``position`` with amplitudes ``M|0>``, the first column of its matrices.
    """

    kernel: _OneQubit
    position: int  # how many touched qubits are more significant

    @property
    def slots(self) -> list[int]:
        return self.kernel.slots

    def operators(self, angles: np.ndarray | None) -> np.ndarray:
        return self.kernel.operators(angles)[:, :, 0]  # M|0>

    def apply(self, states: np.ndarray, ops: np.ndarray, n: int, out: np.ndarray) -> None:
        column = ops[:, :, None, None]
        g = states.shape[0]
        old = states.reshape(g, 2 ** self.position, -1)
        new = out.reshape(g, old.shape[1], 2, old.shape[2])
        np.multiply(old, column[:, 0], out=new[:, :, 0])  # the qubit's |0> half, then its |1> half
        np.multiply(old, column[:, 1], out=new[:, :, 1])


@dataclass
class _Expand:
    """End of the product-state prologue: the qubits never touched join in ``|0>``."""

    touched: tuple[int, ...]  # sorted

    slots = ()

    def operators(self, angles) -> None:
        return None

    def apply(self, states: np.ndarray, ops, n: int, out: np.ndarray) -> None:
        g = states.shape[0]
        out.fill(0)
        index = (slice(None),) + tuple(slice(None) if q in self.touched else 0 for q in range(n))
        out.reshape((g,) + (2,) * n)[index] = states.reshape((g,) + (2,) * len(self.touched))


@dataclass
class _Monomial:
    """Fixed gates that each map a basis state to one basis state: ``new[i] = phase[i] * old[perm[i]]``.

    The gates are collected while compiling; the composed index move and phases are computed
    once, on first use, with bit operations on the indices (no gathers of full-size arrays).
    """

    n: int
    gates: list[tuple[str, np.ndarray, tuple[int, ...]]] = field(default_factory=list)  # circuit order
    slots: list[int] = field(default_factory=list)

    def absorb(self, op: Operation, n: int) -> None:
        self.gates.append((op.gate, op.spec.matrix, op.qubits))
        self.__dict__.pop("action", None)

    @cached_property
    def action(self) -> tuple[np.ndarray, np.ndarray | None]:
        return _monomial_action(self.gates, self.n)

    def operators(self, angles) -> None:
        return None

    def apply(self, states: np.ndarray, ops, n: int, out: np.ndarray) -> None:
        perm, phase = self.action
        np.take(states, perm, axis=1, out=out, mode="clip")  # "clip": unbuffered, indices are valid
        if phase is not None:
            out *= phase


@dataclass
class _Diagonal:
    """Parametrized diagonal gates: ``new = states * const * exp(-i * angles @ H)``."""

    n: int
    const: np.ndarray
    generators: list[np.ndarray] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)

    def absorb(self, op: Operation, slot: int | None, n: int) -> None:
        h = _expand_diagonal(op.spec.diagonal_generator, op.qubits, n)
        if slot is None:
            self.const = self.const * np.exp(-1j * op.angle.b * h)
        else:
            self.generators.append(h)
            self.slots.append(slot)

    def operators(self, angles: np.ndarray | None) -> np.ndarray:
        """The phase vector of every group ``(G, 2**n)``, or one ``(1, 2**n)`` without slots."""
        if not self.generators:
            return self.const[None]
        return np.exp(-1j * (angles @ np.array(self.generators))) * self.const

    def apply(self, states: np.ndarray, ops: np.ndarray, n: int, out: np.ndarray) -> None:
        np.multiply(states, ops, out=out)


@dataclass
class _General:
    """Any other gate: a batched matrix product on its qubits, in a few slices of the groups so
    that its temporaries (the moved axes, the product) stay within half the states' size."""

    op: Operation
    slot: int | None

    @property
    def slots(self) -> list[int]:
        return [] if self.slot is None else [self.slot]

    def operators(self, angles: np.ndarray | None) -> np.ndarray:
        spec = self.op.spec
        if not spec.parametrized:
            return spec.matrix[None]
        if self.slot is None:
            return spec.unitary(self.op.angle.b)
        return spec.unitary(angles[:, 0])

    def apply(self, states: np.ndarray, m: np.ndarray, n: int, out: np.ndarray) -> None:
        g = states.shape[0]
        step = -(-g // 4)
        for start in range(0, g, step):
            part = slice(start, start + step)
            self._apply(states[part], m[part] if len(m) > 1 else m, n, out[part])

    def _apply(self, states: np.ndarray, m: np.ndarray, n: int, out: np.ndarray) -> None:
        g, k = states.shape[0], len(self.op.qubits)
        axes = [1 + q for q in self.op.qubits]
        tail = list(range(n + 1 - k, n + 1))
        st = np.moveaxis(states.reshape((g,) + (2,) * n), axes, tail)
        shape = st.shape
        new = np.matmul(st.reshape(g, -1, 2 ** k), np.swapaxes(m, 1, 2)).reshape(shape)
        out.reshape((g,) + (2,) * n)[...] = np.moveaxis(new, tail, axes)


def _index_dtype(n: int):
    return np.int32 if n < 31 else np.int64


def _bits(n: int, qubits: tuple[int, ...], index: np.ndarray | None = None) -> np.ndarray:
    """For every basis index (or every entry of ``index``), the sub-index formed by ``qubits``
    (first qubit most significant)."""
    idx = np.arange(2 ** n, dtype=_index_dtype(n)) if index is None else index
    sub = np.zeros_like(idx)
    for q in qubits:
        sub <<= 1
        sub |= (idx >> (n - 1 - q)) & 1
    return sub


def _expand_diagonal(h: np.ndarray, qubits: tuple[int, ...], n: int) -> np.ndarray:
    return h[_bits(n, qubits)]


def _monomial_action(gates, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The index move and phases of monomial gates applied in order: ``new[i] = phase[i] * old[src[i]]``.

    Walks back from the last gate: ``src`` starts as every index, each gate (last first) maps it
    to the index it reads, and contributes its matrix entry there to the phase. The phase is
    ``None`` when every entry is 1 (X, CX, SWAP, CCX ...).
    """
    src = np.arange(2 ** n, dtype=_index_dtype(n))
    phase = None
    for gate, matrix, qubits in reversed(gates):
        shifts = [n - 1 - q for q in qubits]
        if gate in ("x", "cx", "cnot", "ccx", "toffoli"):  # flip the target where every control is 1
            flip = np.ones_like(src) if len(qubits) == 1 else (src >> shifts[0]) & 1
            for shift in shifts[1:-1]:
                flip &= (src >> shift) & 1
            src ^= flip << shifts[-1]
            continue
        d = len(matrix)
        cols = np.argmax(np.abs(matrix) > 1e-12, axis=1)  # for row r, the one column that feeds it
        factors = matrix[np.arange(d), cols]
        sub = _bits(n, qubits, src)
        if not np.all(factors == 1):
            phase = factors[sub] if phase is None else phase * factors[sub]
        if np.any(cols != np.arange(d)):
            new = cols.astype(src.dtype)[sub]
            for k, shift in enumerate(shifts):
                src &= ~(1 << shift)
                src |= ((new >> (len(qubits) - 1 - k)) & 1) << shift
    return src.astype(np.intp), phase


# -- compilation --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Program:
    """A compiled circuit: kernels in order, the observables they end in, and the slots they read."""

    kernels: tuple
    observables: "_Observables"
    read_order: np.ndarray  # every slot some kernel reads, in reading order


@lru_cache(maxsize=64)
def _compile(circuit: Circuit) -> _Program:
    """Turn a circuit into a program (cached by fingerprint)."""
    n = circuit.n_qubits
    kernels, observables = _fold_tail(_kernels(circuit), _observables(circuit), n)
    kernels = _fuse_blocks(_product_prologue(kernels, n))
    read = np.array([s for kernel in kernels for s in kernel.slots], dtype=np.intp)
    return _Program(tuple(kernels), observables, read)


def _kernels(circuit: Circuit) -> list:
    """Fuse the circuit's operations into kernels (one-qubit runs, monomial runs, diagonal runs)."""
    n = circuit.n_qubits
    slot_of = {op_index: s for s, op_index in enumerate(circuit.slot_operations)}
    kernels: list = []
    pending: dict[int, _OneQubit] = {}

    def flush():
        for q in sorted(pending):
            kernels.append(pending[q])
        pending.clear()

    for i, op in enumerate(circuit.operations):
        slot = slot_of.get(i)
        spec = op.spec
        if spec.n_qubits == 1:
            pending.setdefault(op.qubits[0], _OneQubit(op.qubits[0])).ops.append(
                (op.gate, slot, op.angle.b if op.angle is not None else 0.0))
            continue
        if any(q in pending for q in op.qubits):
            flush()
        last = kernels[-1] if kernels else None
        if spec.kind is GateKind.DIAGONAL and spec.parametrized:
            if not isinstance(last, _Diagonal):
                last = _Diagonal(n, np.ones(2 ** n, dtype=complex))
                kernels.append(last)
            last.absorb(op, slot, n)
        elif spec.kind is GateKind.DIAGONAL and isinstance(last, _Diagonal):
            last.const = last.const * spec.matrix.diagonal()[_bits(n, op.qubits)]
        elif spec.kind in (GateKind.MONOMIAL, GateKind.DIAGONAL) and not spec.parametrized:
            if not isinstance(last, _Monomial):
                last = _Monomial(n)
                kernels.append(last)
            last.absorb(op, n)
        else:
            kernels.append(_General(op, slot))
    flush()
    return kernels


def _fold_tail(kernels: list, observables: "_Observables", n: int) -> tuple[list, "_Observables"]:
    """Absorb the end of the circuit into the observables, walking back from the last kernel.

    Monomial kernels at the very end fold into the observables. With diagonal observables,
    diagonal kernels at the end are dropped, and a one-qubit run loses its trailing diagonal
    gates when no kept kernel after it mixes its qubit (a diagonal gate commutes with kept
    kernels on other qubits and with diagonal kernels, and then only changes phases).
    """
    diagonal = observables.diagonal
    kept: list = []
    blocked: set[int] = set()  # qubits some kept, non-diagonal kernel acts on later
    at_tail = True
    for kernel in reversed(kernels):
        if at_tail and isinstance(kernel, _Monomial) and observables.can_fold:
            observables = observables.fold(kernel)
            continue
        if diagonal and at_tail and isinstance(kernel, _Diagonal):
            continue
        if diagonal and isinstance(kernel, _OneQubit) and kernel.qubit not in blocked:
            kernel = kernel.without_trailing_diagonal()
            if not kernel.ops:
                continue
        at_tail = False
        blocked |= _mixed_qubits(kernel, n)
        kept.append(kernel)
    return kept[::-1], observables


def _mixed_qubits(kernel, n: int) -> set[int]:
    """Qubits a kept kernel may mix (so diagonal gates before it cannot move past it)."""
    if isinstance(kernel, _OneQubit):
        return {kernel.qubit}
    if isinstance(kernel, _General):
        return set(kernel.op.qubits)
    if isinstance(kernel, _Diagonal):
        return set()
    return set(range(n))


def _fuse_blocks(kernels: list) -> list:
    """Fuse runs of one-qubit kernels on ascending adjacent qubits into blocks of up to
    ``_BLOCK_QUBITS`` qubits, counted from the run's end (the least significant qubits, where a
    block is cheapest). One pass over the states then does the work of several."""
    out: list = []
    run: list[_OneQubit] = []
    for kernel in kernels + [None]:
        if isinstance(kernel, _OneQubit) and run and kernel.qubit == run[-1].qubit + 1:
            run.append(kernel)
            continue
        while run:
            size = len(run) % _BLOCK_QUBITS or _BLOCK_QUBITS
            block, run = run[:size], run[size:]
            out.append(block[0] if size == 1 else _Block(tuple(block)))
        if isinstance(kernel, _OneQubit):
            run = [kernel]
        elif kernel is not None:
            out.append(kernel)
    return out


def _product_prologue(kernels: list, n: int) -> list:
    """Leading one-qubit kernels on untouched qubits become :class:`_Fresh`, then :class:`_Expand`."""
    touched: list[int] = []
    out = []
    for kernel in kernels:
        if not isinstance(kernel, _OneQubit) or kernel.qubit in touched:
            break
        out.append(_Fresh(kernel, sum(t < kernel.qubit for t in touched)))
        touched.append(kernel.qubit)
    rest = kernels[len(out):]
    if len(touched) < n:
        out.append(_Expand(tuple(sorted(touched))))
    return out + rest


# -- observables --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Observables:
    """Outputs grouped by source index: ``<P> = Re sum_i psi_i conj(w_i psi_{source[i]})``.

    A group with ``source is None`` is diagonal: ``<P> = sum_i |psi_i|^2 w_i``. The weights
    ``w`` of a group are one row per output, ``(outputs, 2**n)`` (float for diagonal groups):
    folding a permutation into them is one contiguous gather per row. A group too large to
    store that way keeps only masks: :class:`_ParityWeights` (diagonal) or
    :class:`_FlipWeights` (its ``source`` is then the X/Y mask).
    """

    groups: tuple[tuple[np.ndarray, np.ndarray | None, np.ndarray], ...]  # (output indices, source, weights)
    n_outputs: int

    @property
    def diagonal(self) -> bool:
        return all(source is None for _, source, _ in self.groups)

    @property
    def can_fold(self) -> bool:
        return not any(isinstance(weights, _FlipWeights) for _, _, weights in self.groups)

    def fold(self, kernel: _Monomial) -> "_Observables":
        """The observables measured before ``kernel``: ``P^dag O P`` for ``new[i] = phase[i] old[perm[i]]``."""
        perm, phase = kernel.action
        inv = np.empty_like(perm)
        inv[perm] = np.arange(len(inv))
        groups = []
        for outputs, source, weights in self.groups:
            if isinstance(weights, _ParityWeights):  # |phase| = 1: only the index move matters
                groups.append((outputs, None, weights.before(perm)))
                continue
            folded = np.take(weights, inv, axis=1)
            if source is None:
                groups.append((outputs, None, folded))
                continue
            src = source[inv]
            if phase is not None:  # the weights are conjugated coefficients
                folded *= phase[inv] * phase[src].conj()
            groups.append((outputs, perm[src], folded))
        return _Observables(tuple(groups), self.n_outputs)

    def expectations(self, states: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        """Every output for every state; ``scratch`` is a float buffer of at least ``2 * states.size``."""
        out = np.empty((states.shape[0], self.n_outputs))
        for outputs, source, weights in self.groups:
            if isinstance(weights, _ParityWeights):
                out[:, outputs] = weights.expectations(_probabilities(states, scratch))
            elif isinstance(weights, _FlipWeights):
                out[:, outputs] = weights.expectations(states)
            elif source is None:
                out[:, outputs] = _probabilities(states, scratch) @ weights.T
            else:
                out[:, outputs] = np.real(_conjugate_terms(states, source, scratch) @ weights.T)
        return out


@dataclass(frozen=True)
class _ParityWeights:
    """Z-only outputs kept as their qubit masks, for when one float per amplitude and output would
    be too much to store (24 outputs of 24 qubits: 3 GiB): ``<Z_m> = sum_i p[source[i]] *
    (-1)**parity(i & m)`` with ``p`` the probabilities before the folded tail and ``source`` the
    tail's index move (``None``: nothing folded)."""

    masks: tuple[int, ...]  # the Z qubits of each output, as bits of the basis index
    source: np.ndarray | None = None

    def before(self, perm: np.ndarray) -> "_ParityWeights":
        """The same outputs measured before a folded index move ``new[i] ~ old[perm[i]]``."""
        return _ParityWeights(self.masks, perm if self.source is None else perm[self.source])

    def expectations(self, probabilities: np.ndarray) -> np.ndarray:
        """``(rows, outputs)`` from the probabilities ``(rows, 2**n)``."""
        p = probabilities if self.source is None else np.take(probabilities, self.source, axis=1)
        return np.stack([_signed_sum(p, mask) for mask in self.masks], axis=1)


@dataclass(frozen=True)
class _FlipWeights:
    """Outputs with X/Y factors on the qubits of ``flips``, kept as masks for when their weights and
    source indices would be too much to store: ``<P> = Re (-i)**#Y sum_i (-1)**parity(i & m)
    conj(psi_i) psi_{i ^ flips}``. The flipped state is a view (reversed axes), so nothing of
    size ``2**n`` is kept; a permutation at the circuit's end is applied, not folded."""

    flips: int
    masks: tuple[int, ...]  # the Y and Z qubits of each output, as bits of the basis index
    phases: tuple[complex, ...]  # (-i)**#Y of each output
    n: int

    def expectations(self, states: np.ndarray) -> np.ndarray:
        g, n = states.shape[0], self.n
        view = states.reshape((g,) + (2,) * n)
        flipped = view[(slice(None),) + tuple(slice(None, None, -1) if self.flips >> (n - 1 - q) & 1 else slice(None)
                                              for q in range(n))]
        z = np.conjugate(view)
        z *= flipped
        z = z.reshape(g, -1)
        return np.stack([(phase * _signed_sum(z, mask)).real for mask, phase in zip(self.masks, self.phases)], axis=1)


def _signed_sum(p: np.ndarray, mask: int) -> np.ndarray:
    """``sum_i p[:, i] * (-1)**parity(i & mask)``: the difference of the two halves of each masked
    bit, highest bit first (each step halves the data; lower bits keep their place), then a sum."""
    g = p.shape[0]
    for shift in sorted((b for b in range(mask.bit_length()) if mask >> b & 1), reverse=True):
        halves = p.reshape(g, -1, 2, 2 ** shift)
        p = halves[:, :, 0] - halves[:, :, 1]
    return p.reshape(g, -1).sum(axis=1)


def _probabilities(states: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """``|psi_i|^2`` of every state, computed in ``scratch`` (``2 * states.size`` floats)."""
    parts = states.view(float)  # (re, im) interleaved
    g, size = states.shape
    probabilities = scratch[:g * size].reshape(g, size)
    imaginary = scratch[g * size:2 * g * size].reshape(g, size)
    np.multiply(parts[:, 0::2], parts[:, 0::2], out=probabilities)
    np.multiply(parts[:, 1::2], parts[:, 1::2], out=imaginary)
    probabilities += imaginary
    return probabilities


def _conjugate_terms(states: np.ndarray, source: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """``psi_i * conj(psi_source[i])`` of every state (the conjugates of the terms), in ``scratch``."""
    terms = scratch.view(complex)[:states.size].reshape(states.shape)
    np.take(states, source, axis=1, out=terms, mode="clip")
    np.conjugate(terms, out=terms)
    terms *= states
    return terms


def _observables(circuit: Circuit) -> _Observables:
    """Outputs grouped by their X/Y mask; output ``P`` has coefficients ``c_i = (-i)**#Y *
    (-1)**parity(i & ZY)`` and weights ``conj(c)``, real for a group of Z-only outputs."""
    n = circuit.n_qubits
    idx = np.arange(2 ** n, dtype=_index_dtype(n))
    by_mask: dict[int, list[tuple[int, list[int], int]]] = {}  # X/Y mask -> (output, Z/Y bits, number of Y)
    for k, pauli in enumerate(circuit.outputs):
        flips = sum(1 << (n - 1 - q) for q, p in pauli.factors if p in "XY")
        signs = [n - 1 - q for q, p in pauli.factors if p in "YZ"]
        by_mask.setdefault(flips, []).append((k, signs, sum(p == "Y" for _, p in pauli.factors)))
    dense = sum(len(items) * 2 ** n * (16 if mask else 8) + (2 ** n * 8 if mask else 0)
                for mask, items in by_mask.items()) <= _DENSE_WEIGHTS  # weights and source indices
    groups = []
    for mask, items in by_mask.items():
        outputs = np.array([k for k, _, _ in items])
        if mask == 0 and not dense:
            groups.append((outputs, None, _ParityWeights(tuple(sum(1 << b for b in bits) for _, bits, _ in items))))
            continue
        if mask and not dense:
            groups.append((outputs, mask, _FlipWeights(mask, tuple(sum(1 << b for b in bits) for _, bits, _ in items),
                                                       tuple((-1j) ** n_y for _, _, n_y in items), n)))
            continue
        weights = np.empty((len(items), 2 ** n), dtype=float if mask == 0 else complex)
        parity = np.empty_like(idx)
        for k, (_, bits, n_y) in enumerate(items):
            parity.fill(0)
            for shift in bits:
                parity ^= (idx >> shift) & 1
            np.subtract(1, 2 * parity, out=weights[k], casting="unsafe")
            if n_y % 4:
                weights[k] *= (1j) ** n_y  # conj((-i)**#Y)
        groups.append((outputs, None, weights) if mask == 0 else (outputs, (idx ^ mask).astype(np.intp), weights))
    return _Observables(tuple(groups), circuit.n_outputs)


# -- the backend --------------------------------------------------------------------------------

class LocalSimulator(Backend):
    """The default device: an exact, batched statevector simulator in NumPy.

    Args:
        max_memory: bytes of working memory a run may use (default 2 GiB). Rows are processed
            in chunks that fit; a single state that does not fit raises
            :class:`~qshift.SimulationMemoryError`.
    """

    name = "local"
    exact = True
    max_batch = None

    def __init__(self, max_memory: int = 2 * 1024 ** 3):
        self.max_memory = int(max_memory)

    def rows_per_chunk(self, n_qubits: int) -> int:
        """How many rows fit in ``max_memory`` at once (at least one, or an error)."""
        per_row = _WORKING_COPIES * _BYTES_PER_AMPLITUDE * 2 ** n_qubits
        if per_row > self.max_memory:
            need = per_row / 1024 ** 3
            raise SimulationMemoryError(
                f"a {n_qubits}-qubit statevector does not fit in the simulator's memory limit",
                expected=f"at most {self.max_memory / 1024 ** 3:.2f} GiB of working memory",
                received=f"{need:.2f} GiB needed for one row ({n_qubits} qubits)",
                fix="use fewer qubits, raise LocalSimulator(max_memory=...), or run on a device such as 'aer'",
            )
        return max(1, self.max_memory // per_row)

    def run(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None = None,
            seed: int | None = None) -> RunResult:
        """Exact expectation values for every row of slot angles ``(B, n_slots)``."""
        angles = _check_angles(circuit, angles)
        rows = len(angles)
        if rows == 0:
            return RunResult(np.zeros((0, circuit.n_outputs)), None, 0, 1)
        chunk = min(self.rows_per_chunk(circuit.n_qubits), _cache_rows(circuit.n_qubits))  # before compiling
        program = _compile(circuit)
        order = _row_order(angles, program.read_order)
        values = np.empty((rows, circuit.n_outputs))
        buffers = _buffers(min(chunk, rows) << circuit.n_qubits)
        for start in range(0, rows, chunk):
            part = order[start:start + chunk]
            values[part] = _run_chunk(program, circuit.n_qubits, angles[part], buffers)
        if shots is not None:  # each output is sampled on its own; hardware runs one execution per group
            from qshift.ir.grouping import n_groups

            sampled = _sample(values, shots, seed)
            return RunResult(sampled.values, sampled.variances, rows * n_groups(circuit), 1)
        return RunResult(values, None, rows, 1)


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


def _check_angles(circuit: Circuit, angles) -> np.ndarray:
    angles = np.asarray(angles, dtype=float)
    if angles.ndim == 1 and circuit.n_slots == 0:
        angles = angles.reshape(-1, 0)
    if angles.ndim != 2 or angles.shape[1] != circuit.n_slots:
        raise ValuesError("slot angles have the wrong shape", expected=f"(rows, {circuit.n_slots})",
                          received=f"{angles.shape}", fix="pass one row of slot angles per evaluation")
    if not np.isfinite(angles).all():
        raise ValuesError("slot angles contain NaN or infinite entries", expected="finite angles",
                          received="non-finite entries", fix="check the values passed in")
    return angles


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
