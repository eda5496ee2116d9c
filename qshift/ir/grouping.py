"""Measurement groups: which outputs one execution on a sampling device can estimate together.

A sampling device measures every qubit in one basis per execution. Outputs that
are *qubit-wise commuting* (on every qubit they share, they ask for the same
Pauli) can be read from the same shots, after rotating each measured qubit into
its basis: ``X`` by ``h``, ``Y`` by ``sdg`` then ``h``. ``x(q[0])`` and
``z(q[0])`` cannot: they need two executions. Exact simulators need none of
this — they run once per point.

Outputs are grouped greedily in output order (first group that fits), which is
deterministic and optimal for the usual cases (all-``Z`` outputs: one group).

Example:
    >>> import qshift
    >>> b = qshift.CircuitBuilder(2)
    >>> c = b.h(0).expectation("X0").expectation("Z0").expectation("Z1").build()
    >>> [g.outputs for g in measurement_groups(c)]
    [(0, 2), (1,)]
    >>> basis_rotations(measurement_groups(c)[0])
    [('h', 0)]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qshift.ir.circuit import Circuit

__all__ = ["MeasurementGroup", "basis_rotations", "estimate_from_bits", "measurement_groups", "n_groups"]


@dataclass(frozen=True)
class MeasurementGroup:
    """Outputs read from one execution, and the basis each measured qubit is read in.

    Attributes:
        outputs: indices into ``circuit.outputs``.
        basis: ``(qubit, 'X' | 'Y' | 'Z')`` pairs, sorted by qubit.
    """

    outputs: tuple[int, ...]
    basis: tuple[tuple[int, str], ...]


@lru_cache(maxsize=256)
def measurement_groups(circuit: Circuit) -> tuple[MeasurementGroup, ...]:
    """The circuit's outputs in qubit-wise-commuting groups (greedy, in output order)."""
    groups: list[tuple[list[int], dict[int, str]]] = []
    for k, pauli in enumerate(circuit.outputs):
        for outputs, basis in groups:
            if all(basis.get(q, p) == p for q, p in pauli.factors):
                outputs.append(k)
                basis.update(pauli.factors)
                break
        else:
            groups.append(([k], dict(pauli.factors)))
    return tuple(MeasurementGroup(tuple(o), tuple(sorted(b.items()))) for o, b in groups)


def n_groups(circuit: Circuit) -> int:
    """How many executions a sampling device needs per point."""
    return len(measurement_groups(circuit))


def basis_rotations(group: MeasurementGroup) -> list[tuple[str, int]]:
    """``(gate, qubit)`` pairs to append so that measuring ``Z`` reads the group's bases."""
    gates = {"X": ("h",), "Y": ("sdg", "h"), "Z": ()}
    return [(g, q) for q, p in group.basis for g in gates[p]]


def estimate_from_bits(circuit: Circuit, group: MeasurementGroup, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimates and per-shot variances of the group's outputs from measured bits.

    Args:
        bits: ``(shots, n_qubits)`` array of 0/1, column ``q`` is qubit ``q`` measured after
            the group's basis rotations.

    Returns:
        ``(values, variances)``, each of length ``len(group.outputs)``; a shot of a Pauli
        product is ``+1`` or ``-1`` (parity of its qubits), so its variance is ``1 - mean**2``.

    Example:
        >>> import numpy as np, qshift
        >>> c = qshift.CircuitBuilder(1).x(0).expectation("Z0").build()
        >>> estimate_from_bits(c, measurement_groups(c)[0], np.ones((4, 1), dtype=int))
        (array([-1.]), array([0.]))
    """
    bits = np.asarray(bits, dtype=np.int64)
    values = np.empty(len(group.outputs))
    for j, k in enumerate(group.outputs):
        qubits = list(circuit.outputs[k].qubits)
        parity = bits[:, qubits].sum(axis=1) % 2 if qubits else np.zeros(len(bits), dtype=np.int64)
        values[j] = 1.0 - 2.0 * parity.mean()
    return values, np.maximum(1.0 - values ** 2, 0.0)
