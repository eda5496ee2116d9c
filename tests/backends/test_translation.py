"""Every gate of the gate table reaches every provider with qshift's angle convention.

One circuit holds every gate (parametrized gates both on a slot and with a constant
angle) and outputs needing X, Y and Z bases; each provider's exact result must equal
the local simulator's, and sampled results (which add the basis rotations) must lie
within 5 standard errors.
"""

import warnings

import numpy as np
import pytest

import qshift
from qshift.ir.grouping import n_groups

from backend_cases import all_gates_circuit, within

EXACT = {
    "aer statevector": lambda: qshift.AerBackend(method="statevector"),
    "aer density_matrix": lambda: qshift.AerBackend(method="density_matrix"),
    "default.qubit": lambda: qshift.PennyLaneBackend("default.qubit"),
    "lightning.qubit": lambda: qshift.PennyLaneBackend("lightning.qubit"),
    "braket_sv": lambda: qshift.BraketBackend("braket_sv"),
    "braket_dm": lambda: qshift.BraketBackend("braket_dm"),
}

SAMPLED = {
    "local": lambda: qshift.LocalSimulator(),
    "aer statevector": lambda: qshift.AerBackend(method="statevector"),
    "aer density_matrix": lambda: qshift.AerBackend(method="density_matrix"),
    "default.qubit": lambda: qshift.PennyLaneBackend("default.qubit"),
    "braket_sv": lambda: qshift.BraketBackend("braket_sv"),
    "ibm (fake, ideal)": lambda: qshift.IBMBackend("fake_brisbane", noise=False),
}


@pytest.fixture(scope="module")
def circuit():
    return all_gates_circuit()


@pytest.fixture(scope="module")
def rows(circuit):
    return np.random.default_rng(3).uniform(-3, 3, (3, circuit.n_slots))


@pytest.mark.parametrize("make", EXACT.values(), ids=EXACT.keys())
def test_every_gate_exact(make, circuit, rows):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # braket_dm: "noise-free circuit on the density matrix"
        result = make().run(circuit, rows)
    np.testing.assert_allclose(result.values, qshift.LocalSimulator().run(circuit, rows).values, atol=1e-9)


@pytest.mark.parametrize("make", SAMPLED.values(), ids=SAMPLED.keys())
def test_every_gate_and_basis_sampled(make, circuit, rows):
    shots = 2000
    result = make().run(circuit, rows, shots=shots, seed=8)
    exact = qshift.LocalSimulator().run(circuit, rows).values
    assert within(result.values, exact, np.sqrt(result.variances / shots))
    assert result.executions == len(rows) * 3  # X0 Y1Z2 / Z0X2 / Y0Y1Y2 need three groups


def test_qiskit_circuit_has_one_parameter_per_slot(circuit):
    from qshift.backends._qiskit import bind_columns, to_qiskit

    qc = to_qiskit(circuit)
    assert qc.num_parameters == circuit.n_slots
    assert sorted(bind_columns(qc)) == list(range(circuit.n_slots))


def test_braket_circuit_has_one_free_parameter_per_slot(circuit):
    from qshift.backends.braket.translate import to_braket

    bc = to_braket(circuit)
    assert sorted(p.name for p in bc.parameters) == sorted(f"s_{s}" for s in range(circuit.n_slots))
    assert bc.qubit_count == circuit.n_qubits


def test_ibm_transpiles_once_per_structure_to_native_gates(circuit, rows):
    backend = qshift.IBMBackend("fake_brisbane", noise=False)
    isas = backend.transpiled(circuit)  # one per measurement group, the measurements included
    assert backend.transpiled(circuit) is isas and len(isas) == n_groups(circuit)
    for isa in isas:
        assert {inst.operation.name for inst in isa.data} <= {"ecr", "rz", "sx", "x", "id", "barrier", "measure"}
        assert isa.num_qubits == 127 and isa.count_ops()["measure"] == circuit.n_qubits
