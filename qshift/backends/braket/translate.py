"""qshift circuits as Amazon Braket circuits: one ``FreeParameter`` per slot.

Slot ``s`` becomes ``FreeParameter("s_<s>")``, so one compiled program serves
every row of a batch (rows are ``inputs``). Gates map to Braket's by name
(``p`` -> ``phaseshift``, ``rxx`` -> ``xx``, ``sx`` -> ``v``, ``sxdg`` -> ``vi``, ``ecr``,
``iswap`` ...); the four qshift gates Braket lacks are written as textbook circuits of Braket
gates, exact including the angle:

* ``crz(t) c, t``  = ``rz(t/2) t; cnot c, t; rz(-t/2) t; cnot c, t``
* ``cry(t) c, t``  = ``ry(t/2) t; cnot c, t; ry(-t/2) t; cnot c, t``
* ``crx(t) c, t``  = ``rx(t/2) t; cz c, t; rx(-t/2) t; cz c, t``
* ``ch c, t``      = ``ry(-pi/4) t; cz c, t; ry(pi/4) t``

The excitation gates (``sexc``, ``dexc`` and their Plus/Minus forms) and ``rzx`` are first
written as their :func:`~qshift.ir.gates.decomposition` (CNOTs, ``cry``, ``ry``, ``cp``, ``rzz``,
``h`` ..., exact up to a global phase), each piece's angle ``scale * s_<s>``. The gates qshift
expands when it reads them (IonQ's ``gpi``, ``gpi2``, ``ms``, IQM's ``prx`` ...) reach Braket
as their expansions, which every Braket simulator runs.

Every qubit gets an identity first, so that a qubit with no gates is still part
of the program and measured. Optional depolarizing noise follows every one- and
two-qubit qshift operation (density-matrix simulators only).

Rows of slot angles become the programs' inputs (:func:`inputs`, :func:`binding`), and
measured bits come back as estimates of a measurement group's outputs (:func:`fill`).

Needs ``amazon-braket-sdk`` (``pip install 'qshift[braket]'``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from qshift._errors import require
from qshift.backends._common import Depolarizing, Step, steps
from qshift.ir.circuit import Circuit
from qshift.ir.gates import decomposition
from qshift.ir.grouping import MeasurementGroup, add_group_estimates, basis_rotations

__all__ = ["binding", "braket_observable", "exact_values", "fill", "inputs", "parameter_name", "to_braket"]

_NAMES = {
    "id": "i", "x": "x", "y": "y", "z": "z", "h": "h", "s": "s", "sdg": "si", "t": "t", "tdg": "ti", "sx": "v",
    "sxdg": "vi", "cx": "cnot", "cy": "cy", "cz": "cz", "swap": "swap", "ccx": "ccnot", "cswap": "cswap",
    "ecr": "ecr", "iswap": "iswap",
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
        for pauli in circuit.terms:  # a Hamiltonian's terms are result types of their own (combined after)
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
    for gate, qubits, scale in decomposition(step.gate, step.qubits):
        _braket_gate(bc, gate, qubits, None if scale is None else (angle if scale == 1.0 else angle * scale))


def _braket_gate(bc, gate: str, q: tuple[int, ...], angle) -> None:
    if gate in _DECOMPOSED:
        _DECOMPOSED[gate](bc, q, angle)
    elif angle is None:
        getattr(bc, _NAMES[gate])(*q)
    else:
        getattr(bc, _NAMES[gate])(*q, angle)


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


def inputs(angles: np.ndarray) -> list[dict[str, float]]:
    """The ``inputs`` of one task per row of slot ``angles`` (``FreeParameter`` name -> angle).

    Example:
        >>> inputs(np.array([[0.5, 1.0]]))
        [{'s_0': 0.5, 's_1': 1.0}]
    """
    return [{parameter_name(s): float(v) for s, v in enumerate(row)} for row in angles]


def binding(CircuitBinding, program, rows: np.ndarray):
    """One program-set entry: ``program`` bound to every row of ``rows`` (``CircuitBinding`` is the SDK's class).

    A circuit without slots (one row) is its own executable.
    """
    if rows.shape[1] == 0:
        return program
    input_sets = {parameter_name(s): [float(v) for v in rows[:, s]] for s in range(rows.shape[1])}
    return CircuitBinding(program, input_sets=input_sets)


def fill(values: np.ndarray, variances: np.ndarray, circuit: Circuit, group: MeasurementGroup, rows,
         results) -> None:
    """Add ``group``'s estimates at ``rows`` from the measurements of ``results`` (one per row).

    ``values`` and ``variances`` start as :func:`~qshift.ir.grouping.blank_estimates`: an output
    spread over several groups sums their parts.
    """
    for row, result in zip(rows, results):
        bits = _bits(result.measurements, result.measured_qubits, circuit.n_qubits)
        add_group_estimates(values, variances, circuit, group, row, bits)


def exact_values(circuit: Circuit, result) -> np.ndarray:
    """Every output of one exact result: the expectation result types of the terms, combined."""
    from braket.circuits import ResultType

    types = [ResultType.Expectation(*braket_observable(p)) for p in circuit.terms]
    return circuit.combine(np.array([float(result.get_value_by_result_type(t)) for t in types]))


def _bits(measurements, measured_qubits, n_qubits: int) -> np.ndarray:
    """Measured bits as ``(shots, n_qubits)`` with column ``q`` for qubit ``q``."""
    m = np.asarray(measurements, dtype=np.int64)
    out = np.zeros((len(m), n_qubits), dtype=np.int64)
    out[:, list(measured_qubits)] = m
    return out
