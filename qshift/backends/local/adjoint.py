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

__all__ = ["AdjointResult", "adjoint", "adjoint_cost"]

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
    return _AdjointProgram(kernels, _observables(circuit), _term_actions(circuit), inverse)


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
    program = _program(circuit)
    n, rows = circuit.n_qubits, len(angles)
    stacked = 1 if upstream is not None else circuit.n_outputs
    per_row = (len(program.kernels) + 1 + 3 * stacked) * _BYTES_PER_AMPLITUDE << n  # states kept, adjoint states
    if per_row > max_memory:
        raise SimulationMemoryError(
            f"the adjoint method keeps every intermediate state, and one row of {circuit.name!r} does not fit",
            expected=f"at most {max_memory / 1024 ** 3:.2f} GiB of working memory",
            received=f"{per_row / 1024 ** 3:.2f} GiB for one row ({len(program.kernels)} kernels, {n} qubits, "
                     f"{stacked} adjoint state(s))",
            fix="raise the simulator's max_memory, or differentiate with the shift rule (leave method= out)")
    chunk = max(1, min(rows, max_memory // per_row))
    values = np.empty((rows, circuit.n_outputs))
    shape = (rows, circuit.n_slots) if upstream is not None else (rows, circuit.n_outputs, circuit.n_slots)
    gradients = np.empty(shape)
    for start in range(0, rows, chunk):
        part = slice(start, start + chunk)
        weights = _term_weights(circuit, None if upstream is None else upstream[part], len(angles[part]))
        values[part], grads = _run(program, circuit, angles[part], weights)
        gradients[part] = grads[:, 0] if upstream is not None else grads
    return AdjointResult(values, gradients, rows, rows * stacked)


def _term_weights(circuit: Circuit, upstream: np.ndarray | None, rows: int) -> np.ndarray:
    """``(rows, K, n_terms)``: the weight of each term in each adjoint state's observable."""
    w = np.asarray(circuit.term_weights)
    if upstream is None:
        return np.broadcast_to(w, (rows,) + w.shape)
    return (np.asarray(upstream, dtype=float) @ w)[:, None, :]


def _run(program: _AdjointProgram, circuit: Circuit, angles: np.ndarray, weights: np.ndarray):
    n, g, k = circuit.n_qubits, len(angles), weights.shape[1]
    kernels = program.kernels
    states = np.empty((len(kernels) + 1, g, 2 ** n), dtype=complex)
    states[0] = 0
    states[0, :, 0] = 1
    ops = []
    for i, kernel in enumerate(kernels):
        op = kernel.operators(angles[:, kernel.slots] if kernel.slots else None)
        ops.append(op)
        kernel.apply(states[i], op, n, states[i + 1])
    final = states[-1]
    terms = program.observables.expectations(final, np.empty(2 * final.size))
    values = circuit.combine(terms)

    lam = _observable_times(program, final, weights)  # (g, k, 2**n)
    spare = np.empty_like(lam)
    grads = np.zeros((g, k, circuit.n_slots))
    for i in range(len(kernels) - 1, -1, -1):
        kernel = kernels[i]
        if kernel.slots:
            grads[:, :, kernel.slots] = _kernel_gradient(kernel, angles[:, kernel.slots], ops[i], lam, states[i],
                                                         states[i + 1], n)
        if i:  # the adjoint state before the first kernel is never needed
            _apply_adjoint(program, i, kernel, ops[i], lam, spare, n)
            lam, spare = spare, lam
    return values, grads


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


def _kernel_gradient(kernel, angles: np.ndarray, op, lam: np.ndarray, before: np.ndarray, after: np.ndarray,
                     n: int) -> np.ndarray:
    """``(g, k, slots of the kernel)``: ``2 Re <lambda| dK/dtheta |before>`` for each of the kernel's angles."""
    if isinstance(kernel, _Diagonal):
        w = np.conj(lam) * after[:, None, :]
        return 2 * (w.imag @ np.array(kernel.generators).T)
    reduced = _reduced(kernel, lam, before, n)  # (g, k, d, d)
    d_ops = _operator_derivatives(kernel, angles)  # (slots, g or 1, d, d)
    return 2 * np.einsum("jgab,gkab->gkj", d_ops, reduced).real


def _reduced(kernel, lam: np.ndarray, before: np.ndarray, n: int) -> np.ndarray:
    """``M[g, k, a, b] = sum conj(lam[g, k, a]) before[g, b]`` over the qubits the kernel does not touch."""
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


def _operator_derivatives(kernel, angles: np.ndarray) -> np.ndarray:
    """``(slots, g, d, d)``: the kernel's matrix with one of its gates ``U`` replaced by ``-i G U``."""
    if isinstance(kernel, _General):
        spec = kernel.op.spec
        return (-1j * spec.generator @ spec.unitary(angles[:, 0]))[None]
    if isinstance(kernel, _OneQubit):
        return _run_derivatives(kernel, angles)
    parts, col, mats, derivs = kernel.parts, 0, [], []
    for part in parts:
        width = len(part.slots)
        sub = angles[:, col:col + width]
        mats.append(part.operators(sub if width else None).astype(complex))
        derivs.append(_run_derivatives(part, sub) if width else np.empty((0, 1, 2, 2)))
        col += width
    out = []
    for p, dp in enumerate(derivs):
        for j in range(len(dp)):
            m = None
            for q, u in enumerate(mats):
                u = dp[j] if q == p else u
                m = u if m is None else _kron(m, u)
            out.append(m)
    g = max(m.shape[0] for m in out)
    return np.stack([np.broadcast_to(m, (g,) + m.shape[1:]) for m in out])


def _run_derivatives(kernel: _OneQubit, angles: np.ndarray) -> np.ndarray:
    """``(slots, g, 2, 2)`` for a fused run of one-qubit gates ``U_m ... U_1``."""
    mats, slot_positions, col = [], [], 0
    for gate, slot, const in kernel.ops:
        spec = GATES[gate]
        if not spec.parametrized:
            u = spec.matrix[None]
        elif slot is None:
            u = spec.unitary(const)
        else:
            u = spec.closed_form(angles[:, col])
            slot_positions.append((len(mats), spec.generator))
            col += 1
        mats.append(u.astype(complex))
    prefix = [np.eye(2, dtype=complex)[None]]  # prefix[i] = U_i ... U_1 (prefix[0] = I)
    for u in mats:
        prefix.append(u @ prefix[-1])
    suffix = [np.eye(2, dtype=complex)[None]] * (len(mats) + 1)  # suffix[i] = U_m ... U_{i+2}
    for i in range(len(mats) - 2, -1, -1):
        suffix[i] = suffix[i + 1] @ mats[i + 1]
    out = [suffix[i] @ (-1j * generator) @ mats[i] @ prefix[i] for i, generator in slot_positions]
    g = max(m.shape[0] for m in out)
    return np.stack([np.broadcast_to(m, (g, 2, 2)) for m in out])


def _kron(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched Kronecker product of ``(g, p, p)`` and ``(g, q, q)`` (either ``g`` may be 1)."""
    p, q = a.shape[-1], b.shape[-1]
    return (a[:, :, None, :, None] * b[:, None, :, None, :]).reshape(-1, p * q, p * q)
