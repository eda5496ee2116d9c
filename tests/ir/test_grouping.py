"""Measurement groups: qubit-wise-commuting outputs share an execution; basis rotations; parities."""

import numpy as np

import qshift
from qshift.ir.grouping import basis_rotations, estimate_from_bits, measurement_groups, n_groups


def _circuit(*outputs, n=3):
    b = qshift.CircuitBuilder(n)
    b.h(0)
    for o in outputs:
        b.expectation(o)
    return b.build()


def test_x_and_z_on_one_qubit_need_two_groups():
    c = _circuit("X0", "Z0", "Z1", n=2)
    groups = measurement_groups(c)
    assert [g.outputs for g in groups] == [(0, 2), (1,)]
    assert [g.basis for g in groups] == [((0, "X"), (1, "Z")), ((0, "Z"),)]
    assert n_groups(c) == 2


def test_all_z_outputs_are_one_group():
    c = qshift.hardware_efficient(4, 1)
    assert n_groups(c) == 1


def test_products_group_when_they_agree_on_shared_qubits():
    c = _circuit("X0 Y1", "Y1 Z2", "X0", "Y0", "Z2")
    assert [g.outputs for g in measurement_groups(c)] == [(0, 1, 2, 4), (3,)]


def test_basis_rotations_turn_x_and_y_into_z():
    (g,) = measurement_groups(_circuit("X0 Y1 Z2"))
    assert basis_rotations(g) == [("h", 0), ("sdg", 1), ("h", 1)]


def test_rotated_circuits_measure_the_group_in_z():
    """Appending a group's rotations and reading Z parities gives the group's Pauli expectations."""
    c = qshift.Circuit.from_qasm(qshift.circuit_path("controlled-rotations"))
    x = np.array([0.3, -0.7, 1.1])
    exact = qshift.simulate(c, x)
    for g in measurement_groups(c):
        rotated = qshift.Circuit(c.n_qubits, c.operations + tuple(
            qshift.Operation(gate, (q,)) for gate, q in basis_rotations(g)),
            tuple(qshift.PauliString(tuple((q, "Z") for q in c.outputs[k].qubits)) for k in g.outputs), c.symbols)
        np.testing.assert_allclose(qshift.simulate(rotated, x), exact[list(g.outputs)], atol=1e-12)


def test_estimates_and_per_shot_variances_from_bits():
    c = _circuit("Z0 Z1", "Z1", n=2)
    (g,) = measurement_groups(c)
    bits = np.array([[0, 0], [1, 1], [1, 0], [0, 0]])
    values, variances = estimate_from_bits(c, g, bits)
    np.testing.assert_allclose(values, [0.5, 0.5])
    np.testing.assert_allclose(variances, [0.75, 0.75])


def test_local_simulator_counts_one_execution_per_group_and_row():
    c = _circuit("X0", "Z0", "Z1", n=2)
    sim = qshift.LocalSimulator()
    assert sim.run(c, np.zeros((5, 0)), shots=10, seed=1).executions == 10
    assert sim.run(c, np.zeros((5, 0))).executions == 5
