"""Derivatives of every order against independent methods: finite differences of the exact
simulator, PennyLane's param_shift / param_shift_hessian, and closed forms."""

import itertools
import math

import numpy as np
import pytest

import qshift

from random_circuits import random_circuit
from reference import pennylane_derivatives


def fd_tensor(circuit, x, order, h):
    """Nested central differences of qshift.simulate: (n_out,) + (n,) * order, O(h^2) accurate."""
    return _fd(circuit, x, order, h)


def fd_richardson(circuit, x, order, h):
    """Richardson-extrapolated nested central differences: O(h^4) accurate."""
    return (4 * _fd(circuit, x, order, h / 2) - _fd(circuit, x, order, h)) / 3


def _fd(circuit, x, order, h):
    n = len(x)
    steps = [np.vstack([np.eye(n) * h, -np.eye(n) * h])] * order
    if order == 0:
        return qshift.simulate(circuit, x)
    combos = list(itertools.product(range(2 * n), repeat=order))
    points = np.array([x + sum(steps[j][c] for j, c in enumerate(combo)) for combo in combos])
    vals = qshift.simulate(circuit, points)
    signs = np.array([np.prod([1 if c < n else -1 for c in combo]) for combo in combos])
    index = np.array([[c % n for c in combo] for combo in combos])
    out = np.zeros((circuit.n_outputs,) + (n,) * order)
    for s, idx, v in zip(signs, index, vals):
        out[(slice(None),) + tuple(idx)] += s * v
    return out / (2 * h) ** order


SMALL = ["sin", "ising-2q", "controlled-rotations", "u3-cp", "bell-xx-yy", "vqe-h2"]


def test_order_two_matches_pennylane_and_finite_differences(library_circuit, rng):
    c = library_circuit
    x = rng.uniform(-2, 2, c.n_symbols)
    d = qshift.derivatives(c, x, order=2)
    value, jac, hess = pennylane_derivatives(c, x)
    np.testing.assert_allclose(d.value, value, atol=1e-10)
    np.testing.assert_allclose(d.jacobian, jac, atol=1e-10)
    np.testing.assert_allclose(d.hessian, hess, atol=1e-9)
    np.testing.assert_allclose(d.jacobian, fd_tensor(c, x, 1, 1e-5), atol=1e-7)
    if c.n_symbols <= 16:
        np.testing.assert_allclose(d.hessian, fd_tensor(c, x, 2, 1e-4), atol=1e-5)


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("order", [3, 4])
def test_third_and_fourth_order_match_finite_differences(name, order, rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path(name))
    assert c.n_symbols <= 3  # keeps (2n)^4 finite-difference points small
    x = rng.uniform(-2, 2, c.n_symbols)
    d = qshift.derivatives(c, x, order=order)
    np.testing.assert_allclose(d.derivative(order), fd_richardson(c, x, order, 0.02), rtol=1e-4, atol=1e-4)
    assert np.abs(d.derivative(order)).max() > 1e-3  # not trivially zero


@pytest.mark.parametrize("shift", [None, math.pi / 4, 1.0])
def test_sin_closed_forms_to_order_six(shift, rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    x = rng.uniform(-3, 3, (5, 1))
    d = qshift.derivatives(c, x, order=6, shift=shift)
    cycle = [np.sin, np.cos, lambda t: -np.sin(t), lambda t: -np.cos(t)]
    for k in range(7):
        np.testing.assert_allclose(d.derivative(k).reshape(5), cycle[k % 4](x[:, 0]), atol=1e-11)


@pytest.mark.parametrize("shift", [math.pi / 4, 1.0, 2.5])
def test_non_default_shifts_give_the_same_derivatives(shift, rng):
    for name in ["hea-4q-2l", "ising-2q", "u3-cp"]:
        c = qshift.Circuit.from_qasm(qshift.circuit_path(name))
        x = rng.uniform(-2, 2, c.n_symbols)
        ref = qshift.derivatives(c, x, order=3)
        other = qshift.derivatives(c, x, order=3, shift=shift)
        for k in range(4):
            np.testing.assert_allclose(other.derivative(k), ref.derivative(k), atol=1e-8)


def test_random_circuits_match_pennylane(rng):

    for seed in range(3):
        c = random_circuit(np.random.default_rng(seed), n_qubits=3, n_ops=15)
        x = rng.uniform(-2, 2, c.n_symbols)
        d = qshift.derivatives(c, x, order=2)
        value, jac, hess = pennylane_derivatives(c, x)
        np.testing.assert_allclose(d.jacobian, jac, atol=1e-10)
        np.testing.assert_allclose(d.hessian, hess, atol=1e-9)


def test_batch_dimensions_and_symmetry(rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
    x = rng.uniform(-1, 1, (3, 2, 2))
    d = qshift.derivatives(c, x, order=3)
    assert d.derivative(3).shape == (3, 2, 3, 2, 2, 2)
    one = qshift.derivatives(c, x[2, 1], order=3)
    np.testing.assert_allclose(d.derivative(3)[2, 1], one.derivative(3), atol=1e-14)
    t = d.derivative(3)
    np.testing.assert_allclose(t, np.swapaxes(t, -1, -3), atol=1e-14)


def test_wrt_subset(rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2"))
    x = rng.uniform(-1, 1, 3)
    full = qshift.derivatives(c, x, order=2)
    part = qshift.derivatives(c, x, order=2, wrt=["phi1", "theta"])
    np.testing.assert_allclose(part.hessian, full.hessian[:, [2, 0]][:, :, [2, 0]], atol=1e-14)


def test_unused_symbol_has_zero_derivative(rng):
    text = qshift.circuit_path("sin").read_text().replace("qubit[1] q;", "input float[64] unused;\nqubit[1] q;")
    c = qshift.Circuit.from_qasm(text)
    d = qshift.derivatives(c, [0.3, 1.0], order=2)
    assert d.jacobian[0, 1] == 0 and np.all(d.hessian[0, 1] == 0)
    with pytest.raises(qshift.RequestError, match="feeds no gate"):
        qshift.derivatives(c, [0.3, 1.0], order=1, wrt=["unused"])


def test_shots_give_standard_errors(rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
    x = rng.uniform(-1, 1, 2)
    exact = qshift.derivatives(c, x, order=2)
    noisy = qshift.derivatives(c, x, order=2, shots=20000, seed=3)
    again = qshift.derivatives(c, x, order=2, shots=20000, seed=3)
    np.testing.assert_array_equal(noisy.hessian, again.hessian)
    err = noisy.standard_error(2)
    assert err.shape == exact.hessian.shape and (err > 0).all()
    assert (np.abs(noisy.hessian - exact.hessian) < 5 * err).all()
    assert noisy.stats.shots == 20000 * noisy.stats.executions == 20000 * 2 * noisy.stats.circuits  # 2 groups
    assert exact.standard_error(1).shape == exact.jacobian.shape and not exact.standard_error(1).any()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"order": -1}, qshift.RequestError, "non-negative"),
    ({"order": 1.5}, qshift.RequestError, "integer"),
    ({"device": "nowhere"}, qshift.DeviceError, "unknown device"),
    ({"shots": 0}, qshift.RequestError, "positive integer"),
    ({"shift": 0.0}, qshift.RequestError, "0 < s < pi"),
    ({"rule": "magic"}, qshift.RequestError, "unknown rule"),
    ({"wrt": ["nope"]}, qshift.RequestError, "unknown symbol"),
    ({"wrt": 5}, qshift.RequestError, "list of symbol names"),
])
def test_bad_requests(kwargs, error, match):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
    with pytest.raises(error, match=match) as info:
        qshift.derivatives(c, [0.1, 0.2], **kwargs)
    assert "fix:" in str(info.value)


def test_values_of_the_wrong_shape():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
    with pytest.raises(qshift.ValuesError, match=r"shape \(\.\.\., 2\)"):
        qshift.derivatives(c, [0.1, 0.2, 0.3], order=1)


def test_order_not_computed_is_a_clear_error():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    d = qshift.derivatives(c, [0.1], order=1)
    with pytest.raises(qshift.RequestError, match="order=2"):
        d.hessian


@pytest.mark.parametrize("shift", [None, math.pi / 4, 1.0])
def test_min_circuits_rule_is_exact(library_circuit, shift, rng):
    c = library_circuit
    x = rng.uniform(-2, 2, c.n_symbols)
    standard = qshift.derivatives(c, x, order=2)
    minimal = qshift.derivatives(c, x, order=2, rule="min-circuits", shift=shift)
    assert minimal.stats.circuits <= standard.stats.circuits
    np.testing.assert_allclose(minimal.hessian, standard.hessian, atol=1e-8)
    np.testing.assert_allclose(minimal.jacobian, standard.jacobian, atol=1e-10)


def test_circuit_without_symbols():
    b = qshift.CircuitBuilder(2)
    c = b.h(0).cx(0, 1).expectation("Z0 Z1").expectation("X0").build()
    d = qshift.derivatives(c, np.zeros((3, 0)), order=2)
    np.testing.assert_allclose(d.value, [[1.0, 0.0]] * 3, atol=1e-12)
    assert d.hessian.shape == (3, 2, 0, 0) and d.stats.circuits == 1  # three equal rows, one circuit
