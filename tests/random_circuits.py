"""Circuits for tests: random ones (every gate of the table, random affine angles over three tied symbols),
and the small data-encoding model the Keras tests train."""

import qshift
from qshift.ir.gates import arity


def random_circuit(rng, n_qubits=4, n_ops=30, *, paulis="XYZ", tail=()):
    """Random gates, then random gates drawn from ``tail``, then three random Pauli outputs."""
    names = [g for g in qshift.GATES if qshift.GATES[g].n_qubits <= n_qubits] + ["u3", "u2", "cu"]
    b = qshift.CircuitBuilder(n_qubits)
    syms = b.inputs("a", "b", "c")
    for name in [names[i] for i in rng.integers(len(names), size=n_ops)] + list(tail):
        nq, na = arity(name)
        angles = [rng.uniform(-2, 2) * syms[rng.integers(3)] + rng.uniform(-1, 1) if rng.random() < 0.7
                  else float(rng.uniform(-3, 3)) for _ in range(na)]
        qubits = [int(q) for q in rng.permutation(n_qubits)[:nq]]
        b.gate(name, *angles, *qubits)
    for _ in range(3):
        qs = rng.permutation(n_qubits)[: rng.integers(1, n_qubits + 1)]
        b.expectation({int(q): paulis[rng.integers(len(paulis))] for q in qs})
    return b.build()


def encoder_circuit(n_qubits: int = 2, layers: int = 2, name: str = "encoder") -> qshift.Circuit:
    """RY(x_i) data encoding, then trainable RY.RZ layers with a CNOT chain; <Z> of every qubit."""
    b = qshift.CircuitBuilder(n_qubits, name=name)
    for q in range(n_qubits):
        b.ry(b.input(f"x{q}"), q)
    for layer in range(layers):
        for q in range(n_qubits):
            b.ry(b.input(f"a{layer}_{q}"), q).rz(b.input(f"b{layer}_{q}"), q)
        for q in range(n_qubits - 1):
            b.cx(q, q + 1)
    for q in range(n_qubits):
        b.expectation(f"Z{q}")
    return b.build()
