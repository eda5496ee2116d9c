"""Sampling weighted outputs on the local simulator: measured outcomes, one draw per measurement group.

A Hamiltonian's terms read from the same shots are correlated, and the standard error of
the energy must say so. For a circuit whose outputs are weighted sums
(:attr:`~qshift.Circuit.weighted`) the local simulator therefore draws what hardware
measures: for each measurement group, the circuit with the group's basis rotations appended
is simulated, the probabilities of every outcome of the group's measured qubits are read
from the states (:class:`_Marginal`), and ``shots`` outcomes are drawn (multinomial). Each
output's part in the group is the mean over shots of ``s = sum_t w_t parity_t``, its
per-shot variance the spread of ``s`` (:func:`~qshift.ir.grouping.estimate_from_bits`'s
estimator, computed from outcome counts instead of a list of shots). Groups are measured
on separate shots, so their parts add, and so do their variances.

Circuits with one plain Pauli product per output keep the faster draw of each output's
parity on its own (a binomial), which has the same distribution for every output.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from qshift.backends.local.compile import _fold_tail, _fuse_blocks, _kernels, _product_prologue, _Program
from qshift.ir.circuit import Circuit
from qshift.ir.grouping import MeasurementGroup, basis_rotations, blank_estimates, group_shots, measurement_groups
from qshift.ir.operation import Operation
from qshift.ir.pauli import PauliString

__all__ = ["sample_groups"]


@dataclass(frozen=True)
class _Marginal:
    """Diagonal "observables": the probability of every outcome of ``qubits`` (the first is the top bit).

    They are diagonal (trailing diagonal gates may be dropped) and do not fold permutations
    (a permutation at the end is applied instead).
    """

    qubits: tuple[int, ...]
    n: int
    diagonal = True
    can_fold = False

    @property
    def n_outputs(self) -> int:
        return 2 ** len(self.qubits)

    def expectations(self, states: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        g = states.shape[0]
        p = (states.real ** 2 + states.imag ** 2).reshape((g,) + (2,) * self.n)
        others = tuple(1 + q for q in range(self.n) if q not in self.qubits)
        p = p.sum(axis=others) if others else p
        return p.reshape(g, self.n_outputs)  # the kept axes stay in qubit order: qubits must be ascending


@lru_cache(maxsize=64)
def _group_program(circuit: Circuit, index: int) -> tuple[_Program, np.ndarray]:
    """The program measuring group ``index`` (basis rotations appended), and each output's ``s`` per outcome."""
    group = measurement_groups(circuit)[index]
    n = circuit.n_qubits
    rotated = Circuit(n, circuit.operations + tuple(Operation(g, (q,)) for g, q in basis_rotations(group)),
                      (PauliString(()),), circuit.symbols, name=circuit.name)
    qubits = tuple(q for q, _ in group.basis)
    kernels, observables = _fold_tail(_kernels(rotated), _Marginal(qubits, n), n)
    kernels = _fuse_blocks(_product_prologue(kernels, n))
    read = np.array([s for kernel in kernels for s in kernel.slots], dtype=np.intp)
    return _Program(tuple(kernels), observables, read), _outcome_values(circuit, group, qubits)


def _outcome_values(circuit: Circuit, group: MeasurementGroup, qubits: tuple[int, ...]) -> np.ndarray:
    """``(outcomes, outputs of the group)``: ``s = sum_t w_t parity_t`` of each output at each outcome."""
    m = len(qubits)
    outcomes = np.arange(2 ** m)
    position = {q: m - 1 - j for j, q in enumerate(qubits)}
    parities = np.empty((2 ** m, len(group.terms)))
    for j, t in enumerate(group.terms):
        bits = np.zeros(2 ** m, dtype=np.int64)
        for q in circuit.terms[t].qubits:
            bits ^= (outcomes >> position[q]) & 1
        parities[:, j] = 1.0 - 2.0 * bits
    return parities @ circuit.term_weights[np.ix_(group.outputs, group.terms)].T


def sample_groups(circuit: Circuit, angles: np.ndarray, shots: int, seed: int | None,
                  evaluate: Callable[[_Program, np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sampled estimates and per-shot variances ``(rows, n_outputs)`` of every output (``shots`` per execution,
    split over the groups by :func:`~qshift.ir.grouping.group_shots`).

    ``evaluate(program, angles)`` runs a program at every row (the simulator's chunked runner).
    """
    rng = np.random.default_rng(seed)
    values, variances = blank_estimates(circuit, len(angles))
    for index, (group, n) in enumerate(zip(measurement_groups(circuit), group_shots(circuit, shots))):
        program, s = _group_program(circuit, index)
        p = np.clip(evaluate(program, angles), 0.0, None)
        p /= p.sum(axis=1, keepdims=True)
        counts = np.array([rng.multinomial(int(n), row) for row in p], dtype=float)
        mean = counts @ s / n
        spread = np.einsum("rk,rko->ro", counts, (s[None, :, :] - mean[:, None, :]) ** 2) / n
        outputs = list(group.outputs)
        values[:, outputs] += mean
        variances[:, outputs] += np.maximum(spread, 0.0) * (shots / n)  # relative to `shots` (module grouping)
    return values, variances
