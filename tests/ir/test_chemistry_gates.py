"""The excitation gates (sexc, dexc and their Plus/Minus forms) against PennyLane, the reference.

Unitaries against ``qml.matrix``; frequencies against PennyLane's ``parameter_frequencies``;
derivatives of order 1, 2 and 3 of the H2 UCC circuit against PennyLane's backprop
(``default.qubit``) and against finite differences of PennyLane's values; the circuit counts of
the shift rules; the OpenQASM round trip and Qiskit reading the documented definitions.
Every backend's agreement with the local simulator is in tests/backends (the conformance suite
and test_translation's all-gates circuit, which holds every gate of the table).
"""

import math

import numpy as np
import pytest

import qshift
from qshift.ir.gates import GATES, decomposition

pytest.importorskip("pennylane", reason="needs qshift[pennylane]")
import pennylane as qml  # noqa: E402
from pennylane import numpy as pnp  # noqa: E402

PENNYLANE = {
    "sexc": qml.SingleExcitation, "sexcp": qml.SingleExcitationPlus, "sexcm": qml.SingleExcitationMinus,
    "dexc": qml.DoubleExcitation, "dexcp": qml.DoubleExcitationPlus, "dexcm": qml.DoubleExcitationMinus,
}
ANGLES = np.array([0.0, 0.37, -1.2, np.pi, 2.9, -5.5, 4 * np.pi - 0.1])


def _proportional(a, b) -> bool:
    """``a == c * b`` for a unit complex ``c`` (equal up to a global phase)."""
    k = np.argmax(np.abs(b))
    c = a.flat[k] / b.flat[k]
    return abs(abs(c) - 1) < 1e-12 and np.allclose(a, c * b, atol=1e-12)


# -- the gates ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", PENNYLANE)
def test_unitary_is_pennylanes(name):
    spec = GATES[name]
    batch = spec.unitary(ANGLES)
    for theta, u in zip(ANGLES, batch):
        expected = qml.matrix(PENNYLANE[name](theta, wires=range(spec.n_qubits)))
        np.testing.assert_allclose(u, expected, atol=1e-14, rtol=0)


@pytest.mark.parametrize("name", PENNYLANE)
def test_frequencies_and_period_are_pennylanes(name):
    spec = GATES[name]
    (expected,) = PENNYLANE[name](0.1, wires=range(spec.n_qubits)).parameter_frequencies
    assert spec.frequencies == tuple(float(f) for f in expected)
    assert spec.period == pytest.approx(2 * math.pi / min(expected))
    assert spec.parametrized and spec.n_qubits == {"s": 2, "d": 4}[name[0]]


def test_frequencies_of_each_family():
    assert GATES["sexc"].frequencies == GATES["dexc"].frequencies == (0.5, 1.0)  # four-term rule
    for name in ("sexcp", "sexcm", "dexcp", "dexcm"):
        assert GATES[name].frequencies == (1.0,)  # two-term rule


_PIECES = {"cx": qml.CNOT, "cry": qml.CRY, "ry": qml.RY, "h": qml.Hadamard, "x": qml.PauliX,
           "cp": qml.ControlledPhaseShift, "rzz": qml.IsingZZ}


@pytest.mark.parametrize("name", PENNYLANE)
def test_provider_decomposition_is_the_gate_up_to_a_global_phase(name):
    """The pieces the Qiskit and Braket translators write, as PennyLane gates, on scrambled wires."""
    wires = [3, 0, 4, 1][:GATES[name].n_qubits]
    for theta in ANGLES:
        def pieces(theta=theta):
            for gate, qubits, scale in decomposition(name, tuple(wires)):
                args = () if scale is None else (scale * theta,)
                _PIECES[gate](*args, wires=list(qubits))

        got = qml.matrix(pieces, wire_order=range(5))()
        expected = qml.matrix(PENNYLANE[name](theta, wires=wires), wire_order=range(5))
        assert _proportional(got, expected), (name, theta)


def test_reference_qasm_definitions_are_pennylanes():
    """tests/reference.py defines these gates for Qiskit's importer; they must be PennyLane's gates."""
    pytest.importorskip("qiskit_qasm3_import", reason="needs qshift[test]")
    import qiskit.qasm3
    from qiskit.quantum_info import Operator

    from reference import _EXTRA_GATES

    for name, cls in PENNYLANE.items():
        n = GATES[name].n_qubits
        qubits = ", ".join(f"q[{i}]" for i in range(n))
        text = f'OPENQASM 3.0;\ninclude "stdgates.inc";\n{_EXTRA_GATES}\nqubit[{n}] q;\n{name}(0.83) {qubits};\n'
        got = Operator(qiskit.qasm3.loads(text)).reverse_qargs().data  # Qiskit is little-endian
        assert _proportional(got, qml.matrix(cls(0.83, wires=range(n)))), name


# -- derivatives: the H2 UCC circuit --------------------------------------------------------------

def h2(weights):
    qml.BasisState(np.array([1, 1, 0, 0]), wires=range(4))
    qml.DoubleExcitation(weights[0], wires=[0, 1, 2, 3])
    qml.SingleExcitation(weights[1], wires=[0, 2])
    qml.SingleExcitation(weights[2], wires=[1, 3])
    return (qml.expval(qml.Z(0) @ qml.Z(2)), qml.expval(qml.X(0) @ qml.X(1) @ qml.Y(2) @ qml.Y(3)),
            qml.expval(qml.Y(0) @ qml.X(2)), qml.expval(qml.Z(3)))


W = np.array([0.31, -0.72, 1.18])


@pytest.fixture(scope="module")
def ucc():
    return qshift.Circuit.from_pennylane(h2, symbols={"weights": 3})


def _backprop(qfunc, n_qubits):
    qnode = qml.QNode(qfunc, qml.device("default.qubit", wires=n_qubits), diff_method="backprop")
    return lambda x: qml.math.stack(qnode(x))


def _backprop_derivative(f, x, order):
    for _ in range(order):
        f = qml.jacobian(f)
    return np.asarray(f(pnp.array(x, requires_grad=True)), dtype=float)


def _finite_differences(f, x, order, h):
    """Nested central differences of ``f`` (PennyLane values): ``(n_out,) + (n,) * order``."""
    if order == 0:
        return np.asarray(f(x), dtype=float)
    columns = [(_finite_differences(f, x + h * e, order - 1, h) - _finite_differences(f, x - h * e, order - 1, h))
               / (2 * h) for e in np.eye(len(x))]
    return np.stack(columns, axis=-1)


def test_ucc_circuit_reads_native_gates(ucc):
    assert ucc.symbols == ("weights_0", "weights_1", "weights_2")
    assert [op.gate for op in ucc.operations] == ["x", "x", "dexc", "sexc", "sexc"]
    assert [op.qubits for op in ucc.operations[2:]] == [(0, 1, 2, 3), (0, 2), (1, 3)]


@pytest.mark.parametrize("order", [1, 2, 3])
def test_ucc_derivatives_match_pennylane_backprop(ucc, order):
    d = qshift.derivatives(ucc, W, order=order)
    f = _backprop(h2, 4)
    np.testing.assert_allclose(d.value, np.asarray(f(pnp.array(W)), dtype=float), atol=1e-12)
    for k in range(1, order + 1):
        np.testing.assert_allclose(d.derivative(k), _backprop_derivative(f, W, k), atol=1e-10, err_msg=f"order {k}")


def test_ucc_derivatives_match_finite_differences(ucc):
    d = qshift.derivatives(ucc, W, order=2)
    qnode = qml.QNode(h2, qml.device("default.qubit", wires=4))

    def f(x):
        return np.array(qnode(x))

    np.testing.assert_allclose(d.jacobian, _finite_differences(f, W, 1, 1e-5), atol=1e-8)
    np.testing.assert_allclose(d.hessian, _finite_differences(f, W, 2, 1e-4), atol=1e-6)


def test_ucc_circuit_counts(ucc):
    """Three four-term slots: 4 points each at order 1; the order-2 diagonal adds 3 per slot and each
    pair of slots 4 x 4. What runs is what the plan counts."""
    assert qshift.plan(ucc, order=1).circuits == 1 + 4 * 3
    assert qshift.plan(ucc, order=2).circuits == 1 + 4 * 3 + 3 * 3 + 16 * math.comb(3, 2)
    for order in (1, 2):
        d = qshift.derivatives(ucc, W, order=order)
        assert d.stats.circuits == qshift.plan(ucc, order=order).circuits and d.stats.jobs == 1


@pytest.mark.parametrize("gate, terms", [("sexc", 4), ("dexc", 4), ("sexcp", 2), ("sexcm", 2), ("dexcp", 2),
                                         ("dexcm", 2)])
def test_one_slot_counts(gate, terms):
    """Order 1 of one excitation angle: its shifted circuits plus the value."""
    b = qshift.CircuitBuilder(4)
    b.x(0).h(1).gate(gate, b.input("t"), *range(GATES[gate].n_qubits))
    c = b.expectation("Z0 Z2").build()
    assert qshift.plan(c, order=1).circuits == 1 + terms
    assert qshift.derivatives(c, [0.4], order=1).stats.circuits == 1 + terms


def plus_minus(w):
    qml.BasisState(np.array([1, 0, 1, 0]), wires=range(4))
    qml.Hadamard(1)
    qml.SingleExcitationPlus(w[0], wires=[0, 1])
    qml.SingleExcitationMinus(w[1], wires=[2, 1])
    qml.DoubleExcitationPlus(w[2], wires=[0, 1, 2, 3])
    qml.DoubleExcitationMinus(2 * w[3] - 0.4, wires=[3, 1, 2, 0])
    qml.SingleExcitation(w[0], wires=[1, 3])
    return qml.expval(qml.X(1) @ qml.Z(3)), qml.expval(qml.Y(0) @ qml.Y(2)), qml.expval(qml.Z(1))


@pytest.mark.filterwarnings("ignore:Casting complex values to real")  # autograd, inside PennyLane's backprop
def test_plus_minus_derivatives_match_pennylane_backprop():
    c = qshift.Circuit.from_pennylane(plus_minus, symbols={"w": 4})
    assert [op.gate for op in c.operations if op.angle is not None] == ["sexcp", "sexcm", "dexcp", "dexcm", "sexc"]
    assert qshift.plan(c, order=1).circuits == 1 + 2 * 4 + 4  # four two-term slots and one four-term slot
    x = np.array([0.5, -1.3, 0.8, 2.1])
    d = qshift.derivatives(c, x, order=2)
    f = _backprop(plus_minus, 4)
    np.testing.assert_allclose(d.value, np.asarray(f(pnp.array(x)), dtype=float), atol=1e-12)
    np.testing.assert_allclose(d.jacobian, _backprop_derivative(f, x, 1), atol=1e-10)
    np.testing.assert_allclose(d.hessian, _backprop_derivative(f, x, 2), atol=1e-10)


# -- OpenQASM -------------------------------------------------------------------------------------

def _every_excitation() -> qshift.Circuit:
    b = qshift.CircuitBuilder(5)
    a, t = b.inputs("a", "theta")
    b.x(0).x(1).h(4).dexc(a, 0, 1, 2, 3).sexc(0.5 * t + 0.2, 1, 3).sexcp(-a, 2, 4).sexcm(t, 4, 0)
    b.dexcp(2 * t, 4, 2, 1, 0).dexcm(a - 1.5, 1, 3, 4, 0).dexc(0.7, 3, 2, 1, 0).sexc(math.pi / 2, 4, 0)
    return b.expectation("Z0").expectation("X4 Z2").expectation("Y1 Y3").expectation("Z1 Z2 Z3").build()


def test_qasm_round_trip(rng):
    c = _every_excitation()
    text = c.to_qasm()
    for line in ("dexc(a) q[0], q[1], q[2], q[3];", "sexc(0.5*theta + 0.2) q[1], q[3];",
                 "dexcm(a - 1.5) q[1], q[3], q[4], q[0];", "sexc(pi/2) q[4], q[0];"):
        assert line in text, text
    back = qshift.Circuit.from_qasm(text)
    assert back == c and back.operations == c.operations
    values = rng.uniform(-3, 3, (3, 2))
    np.testing.assert_allclose(qshift.simulate(back, values), qshift.simulate(c, values), atol=1e-13)


def test_qasm_long_names_are_aliases():
    text = ('OPENQASM 3.0; input float[64] t; qubit[4] q; single_excitation(t) q[0], q[1]; '
            'double_excitation_plus(2*t) q[0], q[1], q[2], q[3]; '
            '#pragma braket result expectation z(q[0])')
    c = qshift.Circuit.from_qasm(text)
    assert [op.gate for op in c.operations] == ["sexc", "dexcp"]


def test_qiskit_reads_the_written_qasm_with_the_documented_definitions(rng):
    pytest.importorskip("qiskit_qasm3_import", reason="needs qshift[test]")
    from reference import qiskit_expectations

    c = _every_excitation()
    for values in rng.uniform(-3, 3, (2, 2)):
        np.testing.assert_allclose(qiskit_expectations(c.to_qasm(), dict(zip(c.symbols, values))),
                                   qshift.simulate(c, values), atol=1e-10)


def test_wrong_arity_is_refused():
    with pytest.raises(qshift.GateArityError) as err:
        qshift.CircuitBuilder(4).dexc(0.1, 0, 1, 2)
    assert "4 qubit(s) and 1 angle(s)" in str(err.value)
