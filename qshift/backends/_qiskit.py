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
(``rz(t) = exp(-i t Z / 2)``, ``p(t) = diag(1, e^{i t})``, ``rxx(t) = exp(-i t XX / 2)``;
``rzx``, ``ecr``, ``iswap`` and ``sxdg`` are Qiskit's RZXGate, ECRGate, iSwapGate and SXdgGate),
except the excitation gates (``sexc``, ``dexc`` and their Plus/Minus forms), which are
written as their :func:`~qshift.ir.gates.decomposition` (CNOTs, ``cry``, ``ry``, ``cp``,
``rzz`` ...; exact up to a global phase), each angle an expression ``scale * s[s]`` of the
slot's one parameter.

Needs ``qiskit`` (``pip install 'qshift[aer]'``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from qshift.ir.circuit import Circuit
from qshift._errors import require
from qshift.backends._common import Step, steps
from qshift.ir.gates import decomposition
from qshift.ir.grouping import add_group_estimates, basis_rotations, blank_estimates, measurement_groups

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
        for operation, qubits in _operations(qiskit, step, params):
            _append(qc, operation, qubits, supported)
        if noise is not None and noise.probability(len(step.qubits)) > 0:
            qc.append(_depolarizing(noise, len(step.qubits)), step.qubits)
    return qc


def _operations(qiskit, step: Step, params) -> list:
    """``(Qiskit gate, qubits)`` for one step: its own gate, or its decomposition's gates."""
    angle = (params[step.slot] if step.slot is not None else step.constant) if step.parametrized else None
    return [(_operation(qiskit, gate, len(qubits), _scaled(angle, scale)), qubits)
            for gate, qubits, scale in decomposition(step.gate, step.qubits, keep=_NATIVE)]


_NATIVE = frozenset({"rzx"})
"""Gates with a :func:`~qshift.ir.gates.decomposition` that Qiskit has natively (kept as they are)."""


def _scaled(angle, scale: float | None):
    if scale is None:
        return None
    return angle if scale == 1.0 else angle * scale


def _operation(qiskit, gate: str, n_qubits: int, angle):
    """The Qiskit gate object ``gate(angle)`` (built through the QuantumCircuit method of that name)."""
    scratch = qiskit.QuantumCircuit(n_qubits)
    method = getattr(scratch, gate)
    if angle is None:
        method(*range(n_qubits))
    else:
        method(angle, *range(n_qubits))
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
    """One ``SparsePauliOp`` per output, on all of the circuit's qubits: a product (coefficient 1), or a
    Hamiltonian's weighted terms and its constant (the identity's coefficient)."""
    require("qiskit", extra)
    from qiskit.quantum_info import SparsePauliOp

    n = circuit.n_qubits
    out = []
    for o in range(circuit.n_outputs):
        terms = [("".join(p for _, p in circuit.terms[t].factors), list(circuit.terms[t].qubits),
                  float(circuit.term_weights[o, t])) for t in np.flatnonzero(circuit.term_weights[o])]
        if circuit.output_constants[o] or not terms:
            terms.append(("", [], float(circuit.output_constants[o])))
        out.append(SparsePauliOp.from_sparse_list(terms, num_qubits=n))
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


def sampler_pubs(measured, angles: np.ndarray, shots) -> list:
    """Sampler PUBs, one per measured circuit, every row of slot ``angles`` bound as a parameter array.

    ``shots`` is one number, or one per measured circuit (:func:`~qshift.ir.grouping.group_shots`).
    A circuit without parameters is one PUB of ``rows * shots`` shots (split per row by
    :func:`estimates_from_samples`), so every row still gets its own samples.
    """
    per_group = np.broadcast_to(np.asarray(shots, dtype=np.int64), (len(measured),))
    pubs = []
    for qc, n in zip(measured, per_group):
        if qc.num_parameters:
            pubs.append((qc, angles[:, bind_columns(qc)], int(n)))
        else:
            pubs.append((qc, None, int(n) * len(angles)))
    return pubs


def estimates_from_samples(circuit: Circuit, pub_results, rows: int,
                           shots: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Estimates and per-shot variances ``(rows, n_outputs)`` from Sampler results (one per group).

    Args:
        circuit: the qshift circuit.
        pub_results: the results of :func:`sampler_pubs`' PUBs, in measurement-group order.
        rows: the number of rows of slot angles.
        shots: the request's shots per execution (variances are relative to it when groups ran other numbers).

    Bit ``q`` of the register ``meas`` is qshift qubit ``q`` (as :func:`to_qiskit_measured`
    measures, and stays so through transpilation).
    """
    values, variances = blank_estimates(circuit, rows)
    for group, result in zip(measurement_groups(circuit), pub_results):
        bits = result.data.meas.to_bool_array(order="little")
        bits = bits.reshape(rows, -1, bits.shape[-1])
        for row in range(rows):
            add_group_estimates(values, variances, circuit, group, row, bits[row], shots)
    return values, variances
