"""One gate of a circuit, and the parts a circuit is made of.

:class:`CircuitParts` is what the readers (:mod:`qshift.ir.qasm`,
:mod:`qshift.ir.convert`) produce: the fields of a
:class:`~qshift.Circuit`, not yet validated. ``Circuit.from_qasm``,
``from_qiskit`` and ``from_pennylane`` build the circuit from them, so the
readers never depend on the circuit class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from qshift.ir.angle import Angle
from qshift.ir.gates import GATES, GateSpec
from qshift.ir.pauli import PauliString

__all__ = ["CircuitParts", "Operation"]


@dataclass(frozen=True)
class Operation:
    """One gate on some qubits; ``angle`` is an :class:`Angle` for a parametrized gate, else ``None``."""

    gate: str
    qubits: tuple[int, ...]
    angle: Angle | None = None

    @property
    def spec(self) -> GateSpec:
        return GATES[self.gate]

    @property
    def is_slot(self) -> bool:
        """True when the angle depends on a symbol (the planner shifts it)."""
        return self.angle is not None and not self.angle.is_constant


class CircuitParts(NamedTuple):
    """The fields of a circuit, in the order ``Circuit(*parts)`` takes them.

    Example:
        >>> import qshift
        >>> parts = CircuitParts(1, (Operation("ry", (0,), Angle("x")),), (PauliString.parse("Z0"),), ("x",), "demo")
        >>> qshift.Circuit(*parts)
        Circuit('demo', qubits=1, operations=1, slots=1, symbols=['x'], outputs=['Z0'])
    """

    n_qubits: int
    operations: tuple[Operation, ...]
    outputs: tuple[PauliString, ...]
    symbols: tuple[str, ...]
    name: str = "circuit"
