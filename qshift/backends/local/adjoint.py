"""Adjoint differentiation on the local simulator: gradients in one forward and one backward sweep.

A shift-rule gradient runs ``O(P)`` circuits per row; a training step only needs
the vector-Jacobian product ``u . J``, which the adjoint method gets from the
states themselves. With ``f = <psi|O|psi>``, ``psi = K_N ... K_1 |0>`` (the
compiled kernels of :mod:`~qshift.backends.local.kernels`) and the *adjoint
state* ``lambda_i = K_{i+1}^dag ... K_N^dag O psi``, the derivative of ``f`` by an
angle of kernel ``K_i`` is::

    df/dtheta = 2 Re <lambda_i| dK_i/dtheta |phi_{i-1}>        phi_{i-1}: the state before K_i

The **forward sweep** applies the kernels and keeps every intermediate state
(one buffer for the chunk of rows); the **backward sweep** starts from
``lambda = O psi`` and walks the kernels backwards, one ``K_i^dag`` per kernel.
Everything a kernel's angles need is one small reduced matrix: for a kernel on
``d = 2**w`` amplitudes, ``M_ab = sum conj(lambda_a) phi_b`` over the other qubits,
and every angle of the kernel (a fused run of one-qubit gates, a block of three
qubits, a two-qubit gate) has ``2 Re sum_ab (dK/dtheta)_ab M_ab`` with ``dK/dtheta``
the kernel's matrix with one gate replaced by ``-i G U`` (``U = exp(-i theta G)``).
A run of diagonal gates (RZZ, CRZ, ...) needs ``w = conj(lambda) K phi``, and
each of its angles is ``2 Im (w . h)`` with ``h`` its generator's diagonal.

* A **vector-Jacobian product** uses one adjoint state per row,
  ``O = sum_k u_k O_k``: one forward and one backward sweep per row, whatever the
  number of angles or outputs; the Jacobian itself is never formed.
* The **Jacobian** stacks one adjoint state per output (``n_outputs`` backward
  sweeps per row, run together as rows of one batch).

Rows are processed in chunks that fit ``max_memory`` (every intermediate state
of a chunk is kept), vectorized over the rows of a chunk like the simulator's
own runs. Amplitudes are complex128. Only exact, noiseless statevector runs can
be differentiated this way: a device that samples or is remote cannot.

Example:
    >>> import numpy as np, qshift
    >>> c = qshift.hardware_efficient(2, 1)
    >>> x = np.array([[0.1, 0.2, 0.3, 0.4]])
    >>> r = adjoint(c, c.slot_angles(x), max_memory=2 ** 30)
    >>> r.values.shape, r.gradients.shape     # rows x outputs, rows x outputs x slots
    ((1, 2), (1, 2, 4))
    >>> r.forward_sweeps, r.backward_sweeps   # one forward sweep, one backward sweep per output
    (1, 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qshift._errors import SimulationMemoryError
from qshift.backends._common import bytes_text
from qshift.backends.local.compile import _fuse_blocks, _kernels
from qshift.backends.local.kernels import _Diagonal, _General, _index_dtype, _Monomial, _OneQubit
from qshift.backends.local.observables import _Observables, _observables
from qshift.ir.circuit import Circuit
from qshift.ir.gates import GATES

__all__ = ["AdjointResult", "Tape", "adjoint", "adjoint_cost", "tape_fits"]

_BYTES_PER_AMPLITUDE = 16
_DENSE_TERMS = 64 * 1024 ** 2  # the terms' coefficient vectors are kept dense up to this size
_INNER_MIN = 16  # a reduced matrix sums over the amplitudes right of its kernel in one product when at least this many


@dataclass(frozen=True)
class AdjointResult:
    """What one adjoint run returns.

    Attributes:
        values: expectation values ``(B, n_outputs)``.
        gradients: derivatives by every slot angle: ``(B, n_slots)`` for a vector-Jacobian
            product (``upstream`` given), ``(B, n_outputs, n_slots)`` for the Jacobian.
        forward_sweeps: rows run forward (one per row).
        backward_sweeps: adjoint states swept back (one per row for a VJP, one per row and
            output for a Jacobian).
    """

    values: np.ndarray
    gradients: np.ndarray
    forward_sweeps: int
    backward_sweeps: int


@dataclass(frozen=True)
class _AdjointProgram:
    """A circuit compiled for adjoint runs: kernels in circuit order (no folded tail, no product
    prologue: every intermediate state is a full state), the observables for the values, and each
    term as ``(P psi)_i = coefficient_i * psi[i ^ flip]`` grouped by flip mask."""

    kernels: tuple
    observables: _Observables
    terms: tuple[tuple[int, np.ndarray, np.ndarray], ...]  # (flip mask, term indices, coefficients (T, 2**n))
    inverse: dict  # kernel index -> (index move, phase) of a monomial kernel's inverse
    slots: tuple[list[int], ...]  # the slots each kernel reads


@lru_cache(maxsize=64)
def _program(circuit: Circuit) -> _AdjointProgram:
    kernels = tuple(_fuse_blocks(_kernels(circuit)))
    inverse = {}
    for i, kernel in enumerate(kernels):
        if isinstance(kernel, _Monomial):
            perm, phase = kernel.action
            inv = np.empty_like(perm)
            inv[perm] = np.arange(len(perm))
            inverse[i] = (inv, None if phase is None else np.conj(phase)[inv])
    return _AdjointProgram(kernels, _observables(circuit), _term_actions(circuit), inverse,
                           tuple(kernel.slots for kernel in kernels))


def _term_actions(circuit: Circuit) -> tuple:
    """Every term ``P`` as ``(P psi)_i = c_i psi[i ^ flip]``, grouped by ``flip`` (X and Y qubits).

    With ``b_q`` the bit of qubit ``q`` in ``i``: ``Z`` contributes ``(-1)**b_q``, ``Y`` contributes
    ``-i (-1)**b_q`` (``Y|0> = i|1>``, ``Y|1> = -i|0>``) and flips the bit, ``X`` flips it.
    """
    n = circuit.n_qubits
    idx = np.arange(2 ** n, dtype=_index_dtype(n))
    by_flip: dict[int, list[int]] = {}
    for t, pauli in enumerate(circuit.terms):
        flip = sum(1 << (n - 1 - q) for q, p in pauli.factors if p in "XY")
        by_flip.setdefault(flip, []).append(t)
    if sum(len(ts) for ts in by_flip.values()) * 2 ** n * _BYTES_PER_AMPLITUDE > _DENSE_TERMS:
        raise SimulationMemoryError(
            f"the adjoint method keeps one vector per term, and {circuit.n_terms} terms of {n} qubits do not fit",
            expected=f"at most {bytes_text(_DENSE_TERMS.bit_length() - 1)} of term vectors",
            received=f"{circuit.n_terms} terms x 2**{n} amplitudes",
            fix="differentiate with the shift rule (leave method= out), or use fewer qubits")
    groups = []
    for flip, ts in by_flip.items():
        coeffs = np.ones((len(ts), 2 ** n), dtype=complex)
        for row, t in enumerate(ts):
            for q, p in circuit.terms[t].factors:
                bit = ((idx >> (n - 1 - q)) & 1).astype(float)
                sign = 1 - 2 * bit
                coeffs[row] *= sign if p == "Z" else (-1j * sign if p == "Y" else 1)
        real = not np.any(coeffs.imag)
        groups.append((flip, np.array(ts, dtype=np.intp), coeffs.real.copy() if real else coeffs))
    return tuple(groups)


def adjoint_cost(circuit: Circuit, rows: int, adjoint_states: int) -> int:
    """Full-size kernel applications of an adjoint run: ``rows`` forward sweeps and ``adjoint_states``
    backward sweeps (each backward kernel is one application and one reduction), plus the terms."""
    kernels = len(_program(circuit).kernels)
    return rows * kernels + 2 * adjoint_states * kernels + adjoint_states * max(1, circuit.n_terms)


def adjoint(circuit: Circuit, angles: np.ndarray, upstream: np.ndarray | None = None, *,
            max_memory: int) -> AdjointResult:
    """Values and derivatives by every slot angle at ``angles`` ``(B, n_slots)``, by the adjoint method.

    Args:
        circuit: the circuit.
        angles: rows of slot angles ``(B, n_slots)`` (see :meth:`~qshift.Circuit.slot_angles`).
        upstream: ``(B, n_outputs)`` weights of the outputs: the result is then the vector-Jacobian
            product ``sum_k upstream[b, k] * d value[b, k] / d angle``; ``None``: the Jacobian.
        max_memory: bytes of working memory; rows run in chunks that fit.

    Raises:
        SimulationMemoryError: one row's states do not fit in ``max_memory``.
    """
    rows = len(angles)
    stacked = 1 if upstream is not None else circuit.n_outputs
    chunk = _chunk_rows(circuit, rows, stacked, max_memory)
    values = np.empty((rows, circuit.n_outputs))
    shape = (rows, circuit.n_slots) if upstream is not None else (rows, circuit.n_outputs, circuit.n_slots)
    gradients = np.empty(shape)
    for start in range(0, rows, chunk):
        part = slice(start, start + chunk)
        tape = Tape.record(circuit, angles[part])
        values[part] = tape.values
        gradients[part] = tape.gradients(None if upstream is None else upstream[part])
    return AdjointResult(values, gradients, rows, rows * stacked)


def tape_fits(circuit: Circuit, rows: int, max_memory: int) -> bool:
    """Whether a :class:`Tape` of ``rows`` rows and its vector-Jacobian product fit in ``max_memory``."""
    return _per_row(circuit, 1) * rows <= max_memory


def _per_row(circuit: Circuit, stacked: int) -> int:
    """Bytes one row needs: every intermediate state, and three adjoint states per stacked output."""
    return (len(_program(circuit).kernels) + 1 + 3 * stacked) * _BYTES_PER_AMPLITUDE << circuit.n_qubits


def _chunk_rows(circuit: Circuit, rows: int, stacked: int, max_memory: int) -> int:
    per_row = _per_row(circuit, stacked)
    if per_row > max_memory:
        raise SimulationMemoryError(
            f"the adjoint method keeps every intermediate state, and one row of {circuit.name!r} does not fit",
            expected=f"at most {max_memory / 1024 ** 3:.2f} GiB of working memory",
            received=f"{per_row / 1024 ** 3:.2f} GiB for one row ({len(_program(circuit).kernels)} kernels, "
                     f"{circuit.n_qubits} qubits, {stacked} adjoint state(s))",
            fix="raise the simulator's max_memory, or differentiate with the shift rule (leave method= out)")
    return max(1, min(rows, max_memory // per_row))


class Tape:
    """The forward sweep of some rows, kept for backward sweeps: the values, and every intermediate state.

    A training step's forward pass records one (:meth:`record`) and its backward pass asks it for the
    vector-Jacobian product (:meth:`gradients`), so the forward sweep runs once per step.

    Example:
        >>> import numpy as np, qshift
        >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
        >>> tape = Tape.record(c, np.array([[0.5]]))
        >>> np.allclose([tape.values[0, 0], tape.gradients(np.ones((1, 1)))[0, 0]], [np.sin(0.5), np.cos(0.5)])
        True
    """

    def __init__(self, circuit: Circuit, angles: np.ndarray, values: np.ndarray, states: np.ndarray, ops: list):
        self.circuit, self.angles, self.values, self.states, self.ops = circuit, angles, values, states, ops

    @property
    def rows(self) -> int:
        return len(self.angles)

    @property
    def nbytes(self) -> int:
        return self.states.nbytes

    @classmethod
    def record(cls, circuit: Circuit, angles: np.ndarray) -> "Tape":
        """Run the forward sweep of ``angles`` ``(B, n_slots)``, keeping every intermediate state."""
        program, n, g = _program(circuit), circuit.n_qubits, len(angles)
        kernels = program.kernels
        states = np.empty((len(kernels) + 1, g, 2 ** n), dtype=complex)
        states[0] = 0
        states[0, :, 0] = 1
        ops = []
        for i, kernel in enumerate(kernels):
            slots = program.slots[i]
            op = kernel.operators(angles[:, slots] if slots else None)
            ops.append(op)
            kernel.apply(states[i], op, n, states[i + 1])
        final = states[-1]
        values = circuit.combine(program.observables.expectations(final, np.empty(2 * final.size)))
        return cls(circuit, angles, values, states, ops)

    def gradients(self, upstream: np.ndarray | None = None) -> np.ndarray:
        """The backward sweep: the vector-Jacobian product ``(B, n_slots)`` for ``upstream`` ``(B, n_outputs)``,
        or the Jacobian ``(B, n_outputs, n_slots)`` for ``None``."""
        circuit, angles, states = self.circuit, self.angles, self.states
        program, n, g = _program(circuit), circuit.n_qubits, self.rows
        weights = _term_weights(circuit, upstream, g)
        lam = _observable_times(program, states[-1], weights)  # (g, k, 2**n)
        spare = np.empty_like(lam)
        grads = np.zeros((g, weights.shape[1], circuit.n_slots))
        for i in range(len(program.kernels) - 1, -1, -1):
            kernel, slots = program.kernels[i], program.slots[i]
            if slots:
                grads[:, :, slots] = _kernel_gradient(kernel, angles[:, slots], lam, states[i + 1], n)
            if i:  # the adjoint state before the first kernel is never needed
                _apply_adjoint(program, i, kernel, self.ops[i], lam, spare, n)
                lam, spare = spare, lam
        return grads[:, 0] if upstream is not None else grads


def _term_weights(circuit: Circuit, upstream: np.ndarray | None, rows: int) -> np.ndarray:
    """``(rows, K, n_terms)``: the weight of each term in each adjoint state's observable."""
    w = np.asarray(circuit.term_weights)
    if upstream is None:
        return np.broadcast_to(w, (rows,) + w.shape)
    return (np.asarray(upstream, dtype=float) @ w)[:, None, :]


def _observable_times(program: _AdjointProgram, psi: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``lambda[g, k] = sum_t weights[g, k, t] P_t psi[g]``."""
    g, k = weights.shape[:2]
    n_amp = psi.shape[1]
    lam = np.zeros((g, k, n_amp), dtype=complex)
    for flip, ts, coeffs in program.terms:
        vector = weights[:, :, ts] @ coeffs  # (g, k, 2**n): the diagonal of this flip's part
        source = psi if flip == 0 else psi[:, np.arange(n_amp) ^ flip]
        lam += vector * source[:, None, :]
    return lam


def _apply_adjoint(program: _AdjointProgram, i: int, kernel, op, lam: np.ndarray, out: np.ndarray, n: int) -> None:
    """``out = K_i^dag lam`` for every adjoint state (``lam`` ``(g, k, 2**n)``)."""
    g, k, size = lam.shape
    if isinstance(kernel, _Monomial):
        inv, phase = program.inverse[i]
        np.take(lam.reshape(g * k, size), inv, axis=1, out=out.reshape(g * k, size), mode="clip")
        if phase is not None:
            out *= phase
        return
    if isinstance(kernel, _Diagonal):
        np.multiply(lam, np.conj(op)[:, None, :], out=out)
        return
    dagger = np.conj(np.swapaxes(op, -1, -2))
    if k > 1 and len(dagger) > 1:
        dagger = np.repeat(dagger, k, axis=0)
    kernel.apply(lam.reshape(g * k, size), np.ascontiguousarray(dagger), n, out.reshape(g * k, size))


def _kernel_gradient(kernel, angles: np.ndarray, lam: np.ndarray, after: np.ndarray, n: int) -> np.ndarray:
    """``(g, k, slots of the kernel)``: ``2 Re <lambda| dK/dtheta |before>`` for each of the kernel's angles.

    A gate ``U = exp(-i theta G)`` followed, within its kernel, by gates ``S`` has ``dK/dtheta =
    -i (S G S^dag) K``, so every derivative is ``2 Im <lambda| G~ |after>`` with the *moved
    generator* ``G~ = S G S^dag`` and the state after the kernel: for a block, ``G~`` acts on one of
    its qubits, and only that qubit's reduced matrix is needed.
    """
    if isinstance(kernel, _Diagonal):
        w = np.conj(lam) * after[:, None, :]
        return 2 * (w.imag @ np.array(kernel.generators).T)
    reduced = _reduced(kernel, lam, after, n)  # (g, k, d, d)
    parts = (kernel,) if isinstance(kernel, _OneQubit) else getattr(kernel, "parts", None)
    if parts is None:  # a general gate alone: its generator, not moved
        return 2 * np.einsum("ab,gkab->gk", kernel.op.spec.generator, reduced).imag[:, :, None]
    if len(parts) > 1 and _same_runs(parts):  # the same gates on every qubit of the block (a layer): one pass
        return _layer_gradient(parts, angles, reduced)
    out, col = [], 0
    for p, part in enumerate(parts):
        width = len(part.slots)
        if not width:
            continue
        local = reduced if len(parts) == 1 else _partial_trace(reduced, p, len(parts))  # (g, k, 2, 2)
        moved = _moved_generators(part, angles[:, col:col + width])  # (slots, g, 2, 2)
        out.append(2 * np.einsum("jgab,gkab->gkj", moved, local).imag)
        col += width
    return np.concatenate(out, axis=2)


def _same_runs(parts) -> bool:
    """Whether every part of a block runs the same gates (fixed angles equal, slots in the same places)."""
    first = [(gate, slot is None, const if slot is None else 0.0) for gate, slot, const in parts[0].ops]
    return bool(parts[0].slots) and all(
        [(gate, slot is None, const if slot is None else 0.0) for gate, slot, const in part.ops] == first
        for part in parts[1:])


def _layer_gradient(parts, angles: np.ndarray, reduced: np.ndarray) -> np.ndarray:
    """:func:`_kernel_gradient` of a block whose parts run the same gates: the parts' angles stacked as
    rows, so the moved generators of all of them come from one pass."""
    g, width, count = len(angles), len(parts[0].slots), len(parts)
    local = np.stack([_partial_trace(reduced, p, count) for p in range(count)])  # (parts, g, k, 2, 2)
    stacked = angles.reshape(g, count, width).transpose(1, 0, 2).reshape(count * g, width)
    moved = _moved_generators(parts[0], stacked).reshape(width, count, g, 2, 2)
    grads = 2 * np.einsum("jpgab,pgkab->gkpj", moved, local).imag  # (g, k, parts, slots of a part)
    return grads.reshape(g, grads.shape[1], count * width)


def _partial_trace(reduced: np.ndarray, position: int, width: int) -> np.ndarray:
    """The ``(g, k, 2, 2)`` reduced matrix of the block qubit at ``position`` (of ``width``): the other
    qubits traced out, e.g. ``gkabcdbc->gkad`` for the first of three."""
    rows = "abc"[:width]
    columns = "".join("d" if i == position else rows[i] for i in range(width))
    return np.einsum(f"gk{rows}{columns}->gk{rows[position]}d", reduced.reshape(reduced.shape[:2] + (2,) * (2 * width)))


def _moved_generators(run: _OneQubit, angles: np.ndarray) -> np.ndarray:
    """``(slots, g, 2, 2)``: ``S G S^dag`` for each angle of a run of one-qubit gates, ``S`` the gates
    after it in the run (``G`` itself for the last)."""
    moved = np.empty((angles.shape[1], len(angles), 2, 2), dtype=complex)
    after, col = None, angles.shape[1]
    for gate, slot, const in reversed(run.ops):
        spec = GATES[gate]
        if slot is not None:
            col -= 1
            moved[col] = spec.generator if after is None else after @ spec.generator @ np.conj(np.swapaxes(after, 1, 2))
            u = spec.closed_form(angles[:, col])
        else:
            u = spec.matrix[None] if not spec.parametrized else spec.unitary(const)
        after = u if after is None else after @ u
    return moved


def _reduced(kernel, lam: np.ndarray, before: np.ndarray, n: int) -> np.ndarray:
    """``M[g, k, a, b] = sum conj(lam[g, k, a]) before[g, b]`` over the qubits the kernel does not touch
    (``before``: any state of the rows, here the one after the kernel)."""
    g, k = lam.shape[:2]
    if isinstance(kernel, _General):
        qubits = kernel.op.qubits
        d = 2 ** len(qubits)
        tail = list(range(n - len(qubits), n))
        lt = np.moveaxis(lam.reshape((g, k) + (2,) * n), [2 + q for q in qubits], [2 + t for t in tail])
        bt = np.moveaxis(before.reshape((g,) + (2,) * n), [1 + q for q in qubits], [1 + t for t in tail])
        return np.einsum("gkra,grb->gkab", np.conj(lt.reshape(g, k, -1, d)), bt.reshape(g, -1, d))
    qubit = kernel.qubit if isinstance(kernel, _OneQubit) else kernel.parts[0].qubit
    width = 1 if isinstance(kernel, _OneQubit) else len(kernel.parts)
    d, left = 2 ** width, 2 ** qubit
    right = 2 ** (n - qubit - width)
    if right >= _INNER_MIN:  # one (d x right) @ (right x d) product per (row, state, left index), summed over left
        lt = lam.reshape(g, k, left, d, right)
        bt = np.conj(before).reshape(g, 1, left, d, right)
        return np.conj(np.matmul(lt, np.swapaxes(bt, -1, -2)).sum(axis=2))
    # few amplitudes right of the kernel: gather (left, right) into one inner axis of each row
    lt = np.ascontiguousarray(np.moveaxis(lam.reshape(g, k, left, d, right), 3, 2)).reshape(g, k, d, left * right)
    bt = np.conj(np.moveaxis(before.reshape(g, left, d, right), 2, 3)).reshape(g, 1, left * right, d)
    return np.conj(np.matmul(lt, bt))
