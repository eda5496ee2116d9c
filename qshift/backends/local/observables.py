"""What the local simulator measures: every term's expectation from the final states.

The "outputs" here are the circuit's :attr:`~qshift.Circuit.terms` (its distinct Pauli
products); the simulator combines them into the circuit's outputs (:meth:`~qshift.Circuit.combine`).
Terms are grouped by the qubits where they have an X or Y factor; each group is
measured from the states in one pass (:class:`_Observables`). Permutation-like
kernels at the end of a circuit fold into the observables (``P^dag O P``) instead of
running. Outputs keep dense weights (one number per amplitude and output) up to
128 MiB in all; beyond that, only their qubit masks (:class:`_ParityWeights`,
:class:`_FlipWeights`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qshift.backends.local.kernels import _Monomial, _index_dtype
from qshift.ir.circuit import Circuit

_DENSE_WEIGHTS = 128 * 1024 ** 2  # outputs keep dense weights (one number per amplitude and output) up to this size


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
    for k, pauli in enumerate(circuit.terms):
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
    return _Observables(tuple(groups), circuit.n_terms)
