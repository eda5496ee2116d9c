"""The local simulator's kernels: fused runs of gates and how each acts on a batch of states.

:mod:`~qshift.backends.local.compile` turns a circuit into a list of these; the simulator
applies them in order, one state per distinct prefix of angles.

* :class:`_OneQubit`: consecutive one-qubit gates on a qubit, fused into one 2x2 matrix per
  row. :class:`_Block`: one-qubit kernels on up to three adjacent qubits fused into one
  block (the kron product of their matrices, one pass over the states instead of three).
  A ``d x d`` block is applied as one batched ``matmul`` on a ``(groups, left, d, right)``
  view of the states, or, when few amplitudes lie right of it, as ``(groups, left, d *
  right) @ (M kron I)`` so that each group is one BLAS call. A block of real gates (RY, H,
  X ...) is a real matrix for every angle: it acts on the (re, im) pairs of the amplitudes
  as one real product, half the arithmetic.
* :class:`_Monomial`: a run of fixed permutation-like gates (X, CX, SWAP, CCX, S, CZ ...),
  one index move times a phase vector, composed with bit operations on the indices
  (compiling a 24-qubit ansatz with one output takes under a second).
* :class:`_Diagonal`: a run of parametrized diagonal gates (RZZ, CRZ, CP ...), one phase
  vector ``exp(-i * angles @ H)``.
* :class:`_General`: everything else, a batched matrix product on its qubits.
* :class:`_Fresh` and :class:`_Expand`: the product-state prologue (a state stored only
  over the qubits touched so far, then expanded to all qubits).

Qubit ``q`` is axis ``q`` of the state tensor (qubit 0 is the most significant bit).
Amplitudes are complex128.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from qshift.ir.circuit import Operation
from qshift.ir.gates import GATES, GateKind

_KRON_SIZE = 8  # apply a d x d block as M kron I when d * (amplitudes right of it) is at most this


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
