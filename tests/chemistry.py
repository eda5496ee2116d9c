"""Molecules for tests, built by PennyLane's own quantum chemistry (its Hartree-Fock; nothing downloaded).

Each builder returns qshift circuits read from PennyLane QNode functions, so tests compare qshift's
results with PennyLane's on the very same Hamiltonian. Built once per process.
"""

from functools import lru_cache

import numpy as np
import pytest

import qshift

H2_GEOMETRY = np.array([0.0, 0.0, -0.6614, 0.0, 0.0, 0.6614])  # Bohr


@lru_cache(maxsize=1)
def h2_hamiltonian():
    """H2 (STO-3G, Jordan-Wigner): PennyLane's Hamiltonian (4 qubits, 14 terms and a constant) and its exact ground
    energy (``eigvalsh`` of its matrix)."""
    qml = pytest.importorskip("pennylane")
    hamiltonian, wires = qml.qchem.molecular_hamiltonian(["H", "H"], H2_GEOMETRY)
    assert wires == 4
    return hamiltonian, float(np.linalg.eigvalsh(qml.matrix(hamiltonian, wire_order=range(4))).min())


def h2_rotations():
    """``(ansatz, circuit)``: Hartree-Fock then RY/RX/CNOT rotations in 3 symbols (not particle-conserving:
    every term of the Hamiltonian has a nonzero expectation somewhere, which sampling tests want)."""
    qml = pytest.importorskip("pennylane")
    hamiltonian, _ = h2_hamiltonian()

    def ansatz(a, b, c):
        qml.PauliX(0), qml.PauliX(1)
        qml.RY(a, 0), qml.CNOT([0, 2]), qml.RY(b, 2), qml.CNOT([1, 3]), qml.RX(c, 3), qml.CNOT([2, 3])
        return qml.expval(hamiltonian)

    return ansatz, qshift.Circuit.from_pennylane(ansatz, wires=range(4))


def h2_excitations(singles: bool = True):
    """``(ansatz, circuit)``: Hartree-Fock, the double excitation and (``singles``) two single excitations; the
    three-symbol form reaches the exact ground energy."""
    qml = pytest.importorskip("pennylane")
    hamiltonian, _ = h2_hamiltonian()

    def full(t, a, b):
        qml.PauliX(0), qml.PauliX(1)
        qml.DoubleExcitation(t, wires=[0, 1, 2, 3])
        qml.SingleExcitation(a, wires=[0, 2]), qml.SingleExcitation(b, wires=[1, 3])
        return qml.expval(hamiltonian)

    def double(t):
        qml.PauliX(0), qml.PauliX(1)
        qml.DoubleExcitation(t, wires=[0, 1, 2, 3])
        return qml.expval(hamiltonian)

    ansatz = full if singles else double
    return ansatz, qshift.Circuit.from_pennylane(ansatz, wires=range(4))
