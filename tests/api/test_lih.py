"""LiH end to end: PennyLane's Hamiltonian and ansatz in, circuits against PennyLane's Hessian, Newton to the ground state.

LiH at 1.5712 Angstrom (2.969 Bohr) with 2 active electrons in 5 active orbitals: 10 qubits,
276 Pauli terms (PennyLane's own Hartree-Fock; nothing is downloaded), and the ansatz
``qml.AllSinglesDoubles`` from the Hartree-Fock state: 8 single and 16 double excitations, which
for two electrons span the whole active space, so its minimum is the exact ground energy.
"""

import numpy as np
import pytest

import qshift

qml = pytest.importorskip("pennylane")

LIH = (["Li", "H"], np.array([0.0, 0.0, 0.0, 0.0, 0.0, 2.969280527]))
CHEMICAL_ACCURACY = 1.6e-3  # Hartree


@pytest.fixture(scope="module")
def lih():
    hamiltonian, n_qubits = qml.qchem.molecular_hamiltonian(*LIH, active_electrons=2, active_orbitals=5)
    singles, doubles = qml.qchem.excitations(2, n_qubits)
    hf = qml.qchem.hf_state(2, n_qubits)

    def ansatz(weights):
        qml.AllSinglesDoubles(weights, wires=range(n_qubits), hf_state=hf, singles=singles, doubles=doubles)
        return qml.expval(hamiltonian)

    circuit = qshift.Circuit.from_pennylane(ansatz, symbols={"weights": len(singles) + len(doubles)})
    ground = np.linalg.eigvalsh(qml.matrix(hamiltonian, wire_order=range(n_qubits))).min()
    return circuit, ansatz, n_qubits, ground


def test_lih_is_one_output_of_native_excitation_gates(lih):
    circuit, _, n_qubits, _ = lih
    assert circuit.n_qubits == n_qubits == 10 and circuit.n_outputs == 1 and circuit.n_terms == 275
    assert circuit.n_symbols == circuit.n_slots == 24
    assert {op.gate for op in circuit.operations} == {"x", "sexc", "dexc"}


def test_value_gradient_and_hessian_need_no_more_circuits_than_pennylanes_hessian_alone(lih):
    circuit, ansatz, n_qubits, _ = lih
    from pennylane import numpy as pnp

    weights = pnp.array(np.zeros(24), requires_grad=True)
    tape = qml.workflow.construct_tape(qml.QNode(ansatz, qml.device("default.qubit", wires=n_qubits)))(weights)
    tape.trainable_params = list(range(24))  # the gate angles (not the Hamiltonian's coefficients)
    theirs, _ = qml.gradients.param_shift_hessian(tape)
    assert len(theirs) == 4489  # 1 + 3 per diagonal entry + 16 per pair: the Hessian alone
    planned = {rule: qshift.plan(circuit, order=2, rule=rule).circuits for rule in ("standard", "min-circuits")}
    # standard: the same stencils as PennyLane plus the gradient's 4 shifts per angle (96);
    # min-circuits: the circuit-minimal Hessian (equidistant shifts shared by gradient and Hessian)
    assert planned == {"standard": 4585, "min-circuits": 2029}
    assert planned["min-circuits"] <= len(theirs)
    d = qshift.derivatives(circuit, np.zeros(24), order=2, rule="min-circuits")
    assert d.stats.circuits == planned["min-circuits"] and d.hessian.shape == (1, 24, 24)
    reference = qshift.derivatives(circuit, np.zeros(24), order=2)  # the standard stencils, independently
    np.testing.assert_allclose(d.hessian, reference.hessian, atol=1e-9)


def test_newton_brings_lih_from_hartree_fock_to_chemical_accuracy(lih):
    circuit, _, _, ground = lih
    result = qshift.minimize(circuit, np.zeros(24), method="newton", maxiter=8, rule="min-circuits")
    assert result.success and result.nit <= 8
    assert abs(result.fun - ground) < CHEMICAL_ACCURACY
    assert result.history.energies[0] > ground + 0.015  # Hartree-Fock is about 20 mHa above
    print(f"LiH: Hartree-Fock {result.history.energies[0]:.6f}, Newton {result.fun:.8f} after {result.nit} steps, "
          f"exact {ground:.8f}; {int(result.stats.circuits)} circuits")
