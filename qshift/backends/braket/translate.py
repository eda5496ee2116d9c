"""qshift circuits as Amazon Braket circuits: one ``FreeParameter`` per slot.

Slot ``s`` becomes ``FreeParameter("s_<s>")``, so one compiled program serves
every row of a batch (rows are ``inputs``). Gates map to Braket's by name
(``p`` -> ``phaseshift``, ``rxx`` -> ``xx``, ``sx`` -> ``v`` ...); the four
qshift gates Braket lacks are written as textbook circuits of Braket gates,
exact including the angle:

* ``crz(t) c, t``  = ``rz(t/2) t; cnot c, t; rz(-t/2) t; cnot c, t``
* ``cry(t) c, t``  = ``ry(t/2) t; cnot c, t; ry(-t/2) t; cnot c, t``
* ``crx(t) c, t``  = ``rx(t/2) t; cz c, t; rx(-t/2) t; cz c, t``
* ``ch c, t``      = ``ry(-pi/4) t; cz c, t; ry(pi/4) t``

Every qubit gets an identity first, so that a qubit with no gates is still part
of the program and measured. Optional depolarizing noise follows every one- and
two-qubit qshift operation (density-matrix simulators only).

Needs ``amazon-braket-sdk`` (``pip install 'qshift[braket]'``).
"""

from __future__ import annotations

import math
from functools import lru_cache

from qshift.ir.circuit import Circuit
from qshift._errors import require
from qshift.backends._common import Depolarizing, Step, steps
from qshift.ir.grouping import MeasurementGroup, basis_rotations

__all__ = ["parameter_name", "to_braket"]

_NAMES = {
    "id": "i", "x": "x", "y": "y", "z": "z", "h": "h", "s": "s", "sdg": "si", "t": "t", "tdg": "ti", "sx": "v",
    "cx": "cnot", "cy": "cy", "cz": "cz", "swap": "swap", "ccx": "ccnot", "cswap": "cswap",
    "rx": "rx", "ry": "ry", "rz": "rz", "p": "phaseshift", "cp": "cphaseshift",
    "rxx": "xx", "ryy": "yy", "rzz": "zz",
}


def parameter_name(slot: int) -> str:
    """The Braket ``FreeParameter`` name of slot ``slot``."""
    return f"s_{slot}"


@lru_cache(maxsize=128)
def to_braket(circuit: Circuit, group: MeasurementGroup | None = None, noise: Depolarizing | None = None,
              results: bool = False):
    """A Braket ``Circuit`` for ``circuit``.

    Args:
        group: append this measurement group's basis rotations (for sampling).
        noise: depolarizing noise after every one- and two-qubit operation.
        results: add one ``Expectation`` result type per output (for exact runs).

    Example:
        >>> import qshift
        >>> b = qshift.CircuitBuilder(2)
        >>> c = b.ry(b.input("t"), 0).cx(0, 1).expectation("Z0 Z1").build()
        >>> print(to_braket(c).to_ir().source.splitlines()[-2])   # doctest: +SKIP
        cnot q[0], q[1];
    """
    require("braket.circuits", "braket")
    from braket.circuits import Circuit as BraketCircuit, FreeParameter

    bc = BraketCircuit()
    for q in range(circuit.n_qubits):
        bc.i(q)
    params = [FreeParameter(parameter_name(s)) for s in range(circuit.n_slots)]
    for step in steps(circuit):
        angle = (params[step.slot] if step.slot is not None else step.constant) if step.parametrized else None
        _gate(bc, step, angle)
        p = noise.probability(len(step.qubits)) if noise is not None else 0.0
        if p > 0:
            _noise(bc, step.qubits, p)
    if group is not None:
        for gate, q in basis_rotations(group):
            getattr(bc, _NAMES[gate])(q)
    if results:
        for pauli in circuit.outputs:
            observable, target = braket_observable(pauli)
            bc.expectation(observable, target=target)
    return bc


def braket_observable(pauli):
    """``(observable, target)`` for a qshift Pauli product (the identity on qubit 0 when empty)."""
    from braket.circuits import Observable

    if not pauli.factors:
        return Observable.I(), [0]
    ops = [getattr(Observable, p)() for _, p in pauli.factors]
    observable = ops[0]
    for op in ops[1:]:
        observable = observable @ op
    return observable, list(pauli.qubits)


def _gate(bc, step: Step, angle) -> None:
    q = step.qubits
    if step.gate in _DECOMPOSED:
        _DECOMPOSED[step.gate](bc, q, angle)
    elif angle is None:
        getattr(bc, _NAMES[step.gate])(*q)
    else:
        getattr(bc, _NAMES[step.gate])(*q, angle)


def _controlled_rotation(rotation: str, entangler: str):
    def write(bc, q, angle):
        c, t = q
        getattr(bc, rotation)(t, angle * 0.5)
        getattr(bc, entangler)(c, t)
        getattr(bc, rotation)(t, angle * -0.5)
        getattr(bc, entangler)(c, t)

    return write


def _ch(bc, q, _angle) -> None:
    c, t = q
    bc.ry(t, -math.pi / 4).cz(c, t).ry(t, math.pi / 4)


_DECOMPOSED = {
    "crz": _controlled_rotation("rz", "cnot"),
    "cry": _controlled_rotation("ry", "cnot"),
    "crx": _controlled_rotation("rx", "cz"),
    "ch": _ch,
}


def _noise(bc, qubits, p: float) -> None:
    if len(qubits) == 1:
        bc.depolarizing(qubits[0], p)
    else:
        bc.two_qubit_depolarizing(qubits[0], qubits[1], p)
