"""qshift circuits as Qiskit circuits: one ``Parameter`` per slot, Pauli outputs as ``SparsePauliOp``.

For sampling, :func:`to_qiskit_measured` gives one measured circuit per measurement group
(the group's basis rotations appended, every qubit measured into the register ``meas``),
:func:`sampler_pubs` the Sampler PUBs of a batch, and :func:`estimates_from_samples` the
estimates and per-shot variances from the measured bits
(:func:`~qshift.ir.grouping.estimate_from_bits`).

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
from qshift.ir.grouping import basis_rotations, estimate_from_bits, measurement_groups

__all__ = ["bind_columns", "estimates_from_samples", "sampler_pubs", "to_qiskit", "to_qiskit_measured",
           "to_qiskit_observables"]


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


@lru_cache(maxsize=64)
def to_qiskit_measured(circuit: Circuit, extra: str = "aer", supported: frozenset | None = None,
                       noise=None) -> tuple:
    """One measured ``QuantumCircuit`` per measurement group of ``circuit``.

    Each is :func:`to_qiskit`'s circuit with the group's basis rotations appended (noiseless)
    and every qubit measured (qubit ``q`` into bit ``q`` of the register ``meas``).

    Example:
        >>> import qshift
        >>> b = qshift.CircuitBuilder(2)
        >>> c = b.ry(b.input("t"), 0).expectation("X0").expectation("Z0 Z1").build()
        >>> [[inst.operation.name for inst in qc.data] for qc in to_qiskit_measured(c)]
        [['ry', 'h', 'barrier', 'measure', 'measure'], ['ry', 'barrier', 'measure', 'measure']]
    """
    base = to_qiskit(circuit, extra, supported, noise)
    out = []
    for group in measurement_groups(circuit):
        qc = base.copy()
        for gate, qubit in basis_rotations(group):
            getattr(qc, gate)(qubit)
        qc.measure_all()
        out.append(qc)
    return tuple(out)


def sampler_pubs(measured, angles: np.ndarray, shots: int) -> list:
    """Sampler PUBs, one per measured circuit, every row of slot ``angles`` bound as a parameter array.

    A circuit without parameters is one PUB of ``rows * shots`` shots (split per row by
    :func:`estimates_from_samples`), so every row still gets its own samples.
    """
    pubs = []
    for qc in measured:
        if qc.num_parameters:
            pubs.append((qc, angles[:, bind_columns(qc)], int(shots)))
        else:
            pubs.append((qc, None, int(shots) * len(angles)))
    return pubs


def estimates_from_samples(circuit: Circuit, pub_results, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Estimates and per-shot variances ``(rows, n_outputs)`` from Sampler results (one per group).

    Args:
        circuit: the qshift circuit.
        pub_results: the results of :func:`sampler_pubs`' PUBs, in measurement-group order.
        rows: the number of rows of slot angles.

    Bit ``q`` of the register ``meas`` is qshift qubit ``q`` (as :func:`to_qiskit_measured`
    measures, and stays so through transpilation).
    """
    values = np.empty((rows, circuit.n_outputs))
    variances = np.empty_like(values)
    for group, result in zip(measurement_groups(circuit), pub_results):
        bits = result.data.meas.to_bool_array(order="little")
        bits = bits.reshape(rows, -1, bits.shape[-1])
        outputs = list(group.outputs)
        for row in range(rows):
            values[row, outputs], variances[row, outputs] = estimate_from_bits(circuit, group, bits[row])
    return values, variances
