"""Unitary folding for zero-noise extrapolation: the same circuit, its noise scaled by a factor.

Folding replaces the circuit's unitary ``U`` by one that equals it but runs more gates:
with noise on every gate, the noise grows with the gates while the ideal result stays.
:func:`fold_global` folds the whole circuit, ``U (U^dagger U)^n``, for an odd whole scale
factor ``1 + 2n``; for a fractional one (Mitiq's ``fold_global``) the last ``d`` operations
``L`` are folded once more, ``U (U^dagger U)^n L^dagger L``, with
``d = round((scale - 1 - 2n) * N / 2)`` of the ``N`` operations. The factor reached,
``(N + 2nN + 2d) / N``, is :attr:`Folded.scale` (within ``1 / N`` of the one asked for); the
extrapolation uses it, not the request.

Why global folding and not folding the two-qubit gates only: global folding multiplies the
noise of *every* operation by the same factor, one- and two-qubit gates and anything that
grows with depth (idling, crosstalk), which is what an extrapolation in one noise parameter
assumes. Folding only two-qubit gates is cheaper in depth but leaves single-qubit noise
unscaled, a bias that does not extrapolate away on devices (``aer-noisy``, ``braket-dm``,
``ibm-fake-brisbane``) whose single-qubit gates are noisy too. The basis rotations a sampling
device appends and the measurement itself are not folded (readout errors are what
:mod:`qshift.ir.readout` corrects).

Shifted points. The folded circuit is built once per scale factor and carries the
original's symbols: an inverse gate gets the negated angle, ``-(a * symbol + b)``, of the
same expression, so every folded slot is one of the original's slots, possibly negated
(:attr:`Folded.slot_map`, :attr:`Folded.signs`). A point of the original (a row of slot
angles, shifted or not) is the point ``angles[:, slot_map] * signs`` of the folded circuit
(:meth:`Folded.angles`): a shifted point's shift moves every copy of its slot, as the
derivative needs, and equal points stay equal, so the executor deduplicates folded points
exactly as it does the original's.

Inverses. A rotation ``exp(-i theta G)`` is inverted by ``-theta``; the fixed gates are
their own inverse (Paulis, ``h``, ``cx``, ``cy``, ``cz``, ``ch``, ``swap``, ``ccx``,
``cswap``, ``ecr``) or pairs (``s``/``sdg``, ``t``/``tdg``, ``sx``/``sxdg``); ``iswap``'s
inverse is ``z, z, iswap`` (``iswap^3 = (Z x Z) iswap``).

Example:
    >>> import numpy as np, qshift
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> f = fold_global(c, 3)
    >>> [op.gate for op in f.circuit.operations], f.slot_map.tolist(), f.signs.tolist(), f.scale
    (['ry', 'ry', 'ry'], [0, 0, 0], [1.0, -1.0, 1.0], 3.0)
    >>> f.angles(np.array([[0.5]])).tolist()
    [[0.5, -0.5, 0.5]]
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from qshift._errors import RequestError
from qshift.ir.circuit import Circuit
from qshift.ir.operation import Operation

__all__ = ["Folded", "fold_global", "inverse", "MAX_SCALE"]

MAX_SCALE = 99.0
"""The largest scale factor :func:`fold_global` folds to (a circuit 99 times as long)."""

_SELF_INVERSE = frozenset({"id", "x", "y", "z", "h", "cx", "cy", "cz", "ch", "swap", "ccx", "cswap", "ecr"})
_PAIRS = {"s": "sdg", "sdg": "s", "t": "tdg", "tdg": "t", "sx": "sxdg", "sxdg": "sx"}


@dataclass(frozen=True, eq=False)
class Folded:
    """A folded circuit and how its slots read the original's.

    Attributes:
        circuit: the folded circuit (the original's symbols and outputs).
        slot_map: ``(folded slots,)`` the original slot each folded slot is.
        signs: ``(folded slots,)`` ``+1`` (a copy of the gate) or ``-1`` (an inverse).
        scale: the scale factor reached: operations of the folded circuit over the original's.
    """

    circuit: Circuit
    slot_map: np.ndarray
    signs: np.ndarray
    scale: float

    def angles(self, points: np.ndarray) -> np.ndarray:
        """The folded circuit's slot angles for rows of the original's slot ``points`` ``(P, n_slots)``."""
        points = np.asarray(points, dtype=float)
        return np.ascontiguousarray(points[:, self.slot_map] * self.signs)


def inverse(op: Operation) -> tuple[Operation, ...]:
    """The operations that undo ``op`` (usually one).

    Example:
        >>> from qshift.ir.angle import Angle
        >>> inverse(Operation("rz", (0,), 2 * Angle("t") + 0.5))
        (Operation(gate='rz', qubits=(0,), angle=Angle(symbol='t', a=-2.0, b=-0.5)),)
        >>> [o.gate for o in inverse(Operation("iswap", (0, 1)))]
        ['z', 'z', 'iswap']
    """
    if op.angle is not None:  # every parametrized gate is exp(-i theta G)
        return (Operation(op.gate, op.qubits, -op.angle),)
    if op.gate in _SELF_INVERSE:
        return (op,)
    if op.gate in _PAIRS:
        return (Operation(_PAIRS[op.gate], op.qubits),)
    if op.gate == "iswap":
        return (Operation("z", (op.qubits[0],)), Operation("z", (op.qubits[1],)), op)
    raise RequestError(f"gate {op.gate!r} has no inverse in the folding table", expected="a gate of qshift's table",
                       received=repr(op.gate), fix="add the gate's inverse to qshift/ir/folding.py")


def fold_global(circuit: Circuit, scale: float) -> Folded:
    """``circuit`` folded globally to about ``scale`` times its operations (see the module notes).

    ``scale`` is a number from 1 to :data:`MAX_SCALE`; an odd whole number folds exactly.

    Example:
        >>> import qshift
        >>> c = qshift.hardware_efficient(2, 1)          # 5 operations
        >>> f = fold_global(c, 2)                        # one more fold of the last 2 (5 * 1 / 2, rounded)
        >>> len(f.circuit.operations), f.scale
        (9, 1.8)
    """
    scale = check_scale(scale)
    ops = circuit.operations
    n = len(ops)
    if n == 0 or scale == 1.0:
        return Folded(circuit, np.arange(circuit.n_slots), np.ones(circuit.n_slots), 1.0)
    folds, rest = divmod(scale - 1.0, 2.0)
    tail = int(round(rest * n / 2.0))
    backwards = _inverted(ops)
    sequence = [(op, i, 1) for i, op in enumerate(ops)]
    for _ in range(int(folds)):
        sequence += backwards + [(op, i, 1) for i, op in enumerate(ops)]
    if tail:
        sequence += _inverted(ops[n - tail:], start=n - tail) + [(ops[i], i, 1) for i in range(n - tail, n)]
    return _build(circuit, sequence, (n + 2 * int(folds) * n + 2 * tail) / n)


def check_scale(scale) -> float:
    """A scale factor: a finite number from 1 to :data:`MAX_SCALE`."""
    ok = isinstance(scale, (int, float, np.integer, np.floating)) and not isinstance(scale, bool)
    if not ok or not math.isfinite(scale) or not 1.0 <= scale <= MAX_SCALE:
        raise RequestError("a scale factor must be a number from 1 to 99", expected="e.g. scale_factors=(1, 3, 5)",
                           received=repr(scale), fix="pass numbers >= 1; odd whole numbers fold exactly")
    return float(scale)


def _inverted(ops, start: int = 0) -> list[tuple[Operation, int, int]]:
    """``(operation, original index, sign)`` of ``ops`` undone, last first."""
    out = []
    for i in range(len(ops) - 1, -1, -1):
        for op in inverse(ops[i]):
            out.append((op, start + i, -1 if op.angle is not None else 1))
    return out


def _build(circuit: Circuit, sequence, scale: float) -> Folded:
    slot_of = {op_index: s for s, op_index in enumerate(circuit.slot_operations)}
    slot_map, signs = [], []
    for op, i, sign in sequence:
        if op.is_slot:
            slot_map.append(slot_of[i])
            signs.append(float(sign))
    folded = dataclasses.replace(circuit, operations=tuple(op for op, _, _ in sequence),
                                 name=f"{circuit.name}-folded-x{scale:g}", group_weights=circuit.group_weights)
    return Folded(folded, np.array(slot_map, dtype=np.intp), np.array(signs), scale)
