"""qshift circuits as Qiskit circuits: one ``Parameter`` per slot, Pauli outputs as ``SparsePauliOp``.

Slot ``s`` becomes the parameter ``s[s]`` of one ``ParameterVector("s", n_slots)``,
so a batch of slot-angle rows binds column by column, and a circuit
transpiled once serves every row. qshift qubit ``q`` is Qiskit qubit ``q``;
every qshift gate has a Qiskit gate of the same name and angle convention
(``rz(t) = exp(-i t Z / 2)``, ``p(t) = diag(1, e^{i t})``, ``rxx(t) = exp(-i t XX / 2)``).

Needs ``qiskit`` (``pip install 'qshift[aer]'``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from qshift.ir.circuit import Circuit
from qshift._errors import require
from qshift.backends._common import Step, steps

__all__ = ["bind_columns", "to_qiskit", "to_qiskit_observables"]


@lru_cache(maxsize=64)
def to_qiskit(circuit: Circuit, extra: str = "aer", supported: frozenset | None = None, noise=None):
    """A ``QuantumCircuit`` with one parameter per slot (no measurements).

    Args:
        circuit: the qshift circuit.
        extra: the qshift extra to name if Qiskit is missing.
        supported: gate names the executing simulator accepts; any other gate is replaced by
            its Qiskit definition (recursively). ``None``: keep every gate.
        noise: a :class:`~qshift.backends._common.Depolarizing` channel appended (as an Aer
            ``QuantumError``) after every one- and two-qubit operation, or ``None``.

    Example:
        >>> import qshift
        >>> b = qshift.CircuitBuilder(2)
        >>> c = b.ry(b.input("t"), 0).cx(0, 1).expectation("Z0 Z1").build()
        >>> qc = to_qiskit(c)
        >>> [inst.operation.name for inst in qc.data], [p.name for p in qc.parameters]
        (['ry', 'cx'], ['s[0]'])
    """
    qiskit = require("qiskit", extra)
    from qiskit.circuit import ParameterVector

    qc = qiskit.QuantumCircuit(circuit.n_qubits, name=circuit.name)
    params = ParameterVector("s", circuit.n_slots)
    for step in steps(circuit):
        _append(qc, _operation(qiskit, step, params), step.qubits, supported)
        if noise is not None and noise.probability(len(step.qubits)) > 0:
            qc.append(_depolarizing(noise, len(step.qubits)), step.qubits)
    return qc


def _operation(qiskit, step: Step, params):
    """The Qiskit gate object for one step (built through the QuantumCircuit method of that name)."""
    scratch = qiskit.QuantumCircuit(len(step.qubits))
    method = getattr(scratch, step.gate)
    local = range(len(step.qubits))
    if step.parametrized:
        method(params[step.slot] if step.slot is not None else step.constant, *local)
    else:
        method(*local)
    return scratch.data[0].operation


def _append(qc, operation, qubits, supported) -> None:
    if supported is None or operation.name in supported:
        qc.append(operation, list(qubits))
        return
    definition = operation.definition
    for inst in definition.data:
        inner = [qubits[definition.find_bit(q).index] for q in inst.qubits]
        _append(qc, inst.operation, inner, supported)


def _depolarizing(noise, k: int):
    from qiskit_aer.noise import depolarizing_error

    return depolarizing_error(noise.aer_lambda(k), k)


@lru_cache(maxsize=64)
def to_qiskit_observables(circuit: Circuit, extra: str = "aer") -> tuple:
    """One ``SparsePauliOp`` per output (coefficient 1), on all of the circuit's qubits."""
    require("qiskit", extra)
    from qiskit.quantum_info import SparsePauliOp

    n = circuit.n_qubits
    out = []
    for pauli in circuit.outputs:
        label = "".join(p for _, p in pauli.factors)
        out.append(SparsePauliOp.from_sparse_list([(label, list(pauli.qubits), 1.0)], num_qubits=n))
    return tuple(out)


def bind_columns(qc) -> np.ndarray:
    """For each parameter of ``qc`` in ``qc.parameters`` order, the slot it is (its vector index).

    A transpiled circuit may order or drop parameters; binding through this map stays right.
    """
    return np.array([p.index for p in qc.parameters], dtype=np.intp)
