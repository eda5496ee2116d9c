"""The circuit IR and builder: affine angles, chaining, expansion of multi-angle gates, value checks."""

import math

import numpy as np
import pytest

import qshift
from qshift import Angle, CircuitBuilder
from helpful import assert_helpful



# -- affine angles ----------------------------------------------------------------------------------

def test_angle_arithmetic_stays_affine():
    theta = Angle("theta")
    assert 2 * theta + 0.5 == Angle("theta", 2, 0.5)
    assert theta * 2 - 1 == Angle("theta", 2, -1)
    assert 1 - theta == Angle("theta", -1, 1)
    assert -(theta / 4) == Angle("theta", -0.25, 0)
    assert theta + theta == Angle("theta", 2)
    assert theta - theta == Angle("theta", 0, 0)
    assert (theta + 1) * 3 == Angle("theta", 3, 3)
    assert theta + Angle.constant(1.5) == Angle("theta", 1, 1.5)
    assert Angle.constant(2) * theta == theta * Angle.constant(2) == Angle("theta", 2)
    assert theta / Angle.constant(4) == Angle("theta", 0.25)
    assert np.float64(2.0) * theta == Angle("theta", 2)
    assert 1 / Angle.constant(4) == Angle.constant(0.25) and Angle.constant(3) ** 2 == Angle.constant(9)


def test_constant_angles_carry_no_slope():
    c = Angle.constant(0.3)
    assert c.is_constant and c.a == 0 and c.b == 0.3
    assert Angle(None, 5.0, 1.0) == Angle.constant(1.0)
    assert str(Angle("t", 2, -math.pi / 2)) == "2.0*t - pi/2"
    assert str(-Angle("t") + math.pi) == "-t + pi"


@pytest.mark.parametrize("expression, received", [
    (lambda t, p: t + p, "(theta) + (phi)"),
    (lambda t, p: t - p, "(theta) + (-phi)"),
    (lambda t, p: t * p, "(theta) * (phi)"),
    (lambda t, p: t * t, "(theta) * (theta)"),
    (lambda t, p: t / p, "(theta) / (phi)"),
    (lambda t, p: 1 / t, "1 / (theta)"),
    (lambda t, p: t ** 2, "(theta) ** (2)"),
    (lambda t, p: 2 ** t, "2 ** (theta)"),
])
def test_non_affine_combinations_are_refused(expression, received):
    with pytest.raises(qshift.NonAffineAngleError) as err:
        expression(Angle("theta"), Angle("phi"))
    assert_helpful(err, received, "a * symbol + b")


# -- builder ----------------------------------------------------------------------------------------

def test_builder_chains_and_ties_symbols():
    b = CircuitBuilder(2, name="tied")
    gamma, beta = b.inputs("gamma", "beta")
    assert b.h(0).h(1).rzz(2 * gamma, 0, 1).rx(beta, 0).rx(beta - 0.1, 1) is b
    assert b.expectation("Z0 Z1").expectation({1: "x"}) is b
    c = b.build()
    assert c.name == "tied" and c.symbols == ("gamma", "beta")
    assert c.slot_operations == (2, 3, 4) and c.slot_symbol.tolist() == [0, 1, 1]
    a, off = c.slot_coefficients
    assert a.tolist() == [2.0, 1.0, 1.0] and off.tolist() == [0.0, 0.0, -0.1]
    np.testing.assert_allclose(c.slot_angles(np.array([[0.5, 2.0]])), [[1.0, 2.0, 1.9]])
    assert [str(o) for o in c.outputs] == ["Z0 Z1", "X1"]


def test_builder_gate_method_and_aliases():
    b = CircuitBuilder(2)
    t = b.input("t")
    c = b.gate("crx", t, 0, 1).cnot(1, 0).phase(0.3, 0).cphase(t, 0, 1).xx(t, 0, 1).expectation("Z0").build()
    assert [op.gate for op in c.operations] == ["crx", "cx", "p", "cp", "rxx"]


def test_duplicate_symbol():
    b = CircuitBuilder(1)
    b.input("theta")
    with pytest.raises(qshift.SymbolError) as err:
        b.input("theta")
    assert_helpful(err, "declared twice")
    with pytest.raises(qshift.SymbolError) as err:
        qshift.Circuit(1, (), (qshift.PauliString.parse("Z0"),), ("a", "a"))
    assert_helpful(err, "more than once")


def test_undeclared_symbol():
    b = CircuitBuilder(1)
    b.input("theta")
    with pytest.raises(qshift.SymbolError) as err:
        b.rx(Angle("ghost"), 0).expectation("Z0").build()
    assert_helpful(err, "'ghost'", "declare the symbol")


def test_unknown_gate():
    with pytest.raises(qshift.UnknownGateError) as err:
        CircuitBuilder(1).gate("foo", 0)
    assert_helpful(err, "'foo'", "rx")
    with pytest.raises(AttributeError):
        CircuitBuilder(1).foo(0)


@pytest.mark.parametrize("call, expected", [
    (lambda b: b.cx(0), "2 qubit(s) and 0 angle(s)"),
    (lambda b: b.rx(0.1), "1 qubit(s) and 1 angle(s)"),
    (lambda b: b.u3(0.1, 0.2, 0), "1 qubit(s) and 3 angle(s)"),
    (lambda b: b.cu(0.1, 0.2, 0.3, 0.4, 0), "2 qubit(s) and 4 angle(s)"),
    (lambda b: b.cx(1, 1), "distinct qubits"),
])
def test_wrong_arity(call, expected):
    with pytest.raises(qshift.GateArityError) as err:
        call(CircuitBuilder(2))
    assert_helpful(err, expected)


def test_operation_with_wrong_arity_is_refused_by_the_circuit():
    z0 = (qshift.PauliString.parse("Z0"),)
    with pytest.raises(qshift.GateArityError) as err:
        qshift.Circuit(2, (qshift.Operation("rx", (0,)),), z0, ())
    assert_helpful(err, "operation 0 (rx)", "angle")
    with pytest.raises(qshift.GateArityError):
        qshift.Circuit(2, (qshift.Operation("cx", (0,)),), z0, ())


@pytest.mark.parametrize("build, where", [
    (lambda b: b.h(2).expectation("Z0"), "operation 0 (h)"),
    (lambda b: b.cx(0, -1).expectation("Z0"), "operation 0 (cx)"),
    (lambda b: b.h(0).expectation("Z0 X5"), "output Z0 X5"),
])
def test_qubit_out_of_range(build, where):
    with pytest.raises(qshift.QubitIndexError) as err:
        build(CircuitBuilder(2)).build()
    assert_helpful(err, where, "0..1")


def test_bad_angles_outputs_and_sizes():
    with pytest.raises(qshift.CircuitError) as err:
        CircuitBuilder(1).rx("theta", 0)
    assert_helpful(err, "builder.input")
    with pytest.raises(qshift.CircuitError) as err:
        CircuitBuilder(1).h(0).build()
    assert_helpful(err, "at least one output")
    with pytest.raises(qshift.CircuitError) as err:
        CircuitBuilder(0).expectation("Z0").build()
    assert_helpful(err, "at least one qubit")
    with pytest.raises(qshift.ValuesError) as err:
        CircuitBuilder(1).rx(math.inf, 0).expectation("Z0").build()
    assert_helpful(err, "non-finite")


@pytest.mark.parametrize("spec, words", [("Q0", "cannot read"), ("X0 Z0", "names a qubit twice"),
                                         ("Z", "cannot read"), (3, "int"), ({0: "W"}, "unknown Pauli")])
def test_bad_pauli_products(spec, words):
    with pytest.raises(qshift.CircuitError) as err:
        qshift.PauliString.parse(spec)
    assert_helpful(err, words)


def test_pauli_spellings():
    parse = qshift.PauliString.parse
    assert parse("X0 Z1") == parse("Z1 @ X0") == parse("x0*z1") == parse({1: "Z", 0: "X"}) == parse("X_0 Z_1 I2")
    assert str(parse("I0")) == "I" and parse("I0").qubits == ()


# -- multi-angle gates ------------------------------------------------------------------------------

def _unitary(ops, n_qubits: int) -> np.ndarray:
    """The product of ``ops`` (qubit 0 is the most significant bit), by applying them to every basis state."""
    u = np.eye(2 ** n_qubits, dtype=complex).reshape((2,) * n_qubits + (2 ** n_qubits,))
    for op in ops:
        m = op.spec.unitary(None if op.angle is None else op.angle.b)
        m = m[0] if m.ndim == 3 else m
        k = len(op.qubits)
        m = m.reshape((2,) * 2 * k)
        u = np.moveaxis(np.tensordot(m, u, axes=(list(range(k, 2 * k)), list(op.qubits))), list(range(k)),
                        list(op.qubits))
    return u.reshape(2 ** n_qubits, 2 ** n_qubits)


def _u3(theta, phi, lam):
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return np.array([[c, -np.exp(1j * lam) * s], [np.exp(1j * phi) * s, np.exp(1j * (phi + lam)) * c]])


def _equal_up_to_phase(a, b):
    k = np.argmax(np.abs(b))
    phase = a.flat[k] / b.flat[k]
    assert abs(abs(phase) - 1) < 1e-12
    np.testing.assert_allclose(a, phase * b, atol=1e-12)


def test_u3_expands_to_rz_ry_rz():
    b = CircuitBuilder(1)
    theta, phi, lam = b.inputs("theta", "phi", "lam")
    ops = b.u3(theta, phi, lam, 0).expectation("Z0").build().operations
    assert [(op.gate, op.angle) for op in ops] == [("rz", lam), ("ry", theta), ("rz", phi)]


@pytest.mark.parametrize("seed", range(5))
def test_u3_and_u2_match_the_textbook_matrix_up_to_global_phase(seed):
    theta, phi, lam = np.random.default_rng(seed).uniform(-np.pi, np.pi, 3)
    for name in ("u3", "u", "U"):
        ops = CircuitBuilder(1).gate(name, theta, phi, lam, 0).expectation("Z0").build().operations
        _equal_up_to_phase(_unitary(ops, 1), _u3(theta, phi, lam))
    ops = CircuitBuilder(1).u2(phi, lam, 0).expectation("Z0").build().operations
    _equal_up_to_phase(_unitary(ops, 1), _u3(np.pi / 2, phi, lam))


def test_cu_expands_to_phases_and_controlled_rotations():
    b = CircuitBuilder(2)
    theta, phi, lam, gamma = b.inputs("theta", "phi", "lam", "gamma")
    ops = b.cu(theta, phi, lam, gamma, 1, 0).expectation("Z0").build().operations
    assert [(op.gate, op.qubits, op.angle) for op in ops] == [
        ("p", (1,), gamma), ("p", (1,), phi / 2), ("p", (1,), lam / 2),
        ("crz", (1, 0), lam), ("cry", (1, 0), theta), ("crz", (1, 0), phi)]


@pytest.mark.parametrize("seed", range(5))
def test_cu_matches_the_textbook_matrix_exactly(seed):
    theta, phi, lam, gamma = np.random.default_rng(seed).uniform(-np.pi, np.pi, 4)
    ops = CircuitBuilder(2).cu(theta, phi, lam, gamma, 0, 1).expectation("Z0").build().operations
    expected = np.eye(4, dtype=complex)
    expected[2:, 2:] = np.exp(1j * gamma) * _u3(theta, phi, lam)
    np.testing.assert_allclose(_unitary(ops, 2), expected, atol=1e-12)


# -- values -----------------------------------------------------------------------------------------

@pytest.fixture
def two_symbols():
    b = CircuitBuilder(1)
    x, y = b.inputs("x", "y")
    return b.rx(x, 0).ry(y, 0).expectation("Z0").build()


@pytest.mark.parametrize("values, received", [
    ([0.1], "shape (1,)"), ([0.1, 0.2, 0.3], "shape (3,)"), (np.zeros((4, 1)), "shape (4, 1)"),
    (0.5, "the number 0.5"), (np.float64(0.5), "the number 0.5"),
])
def test_values_of_the_wrong_shape(two_symbols, values, received):
    with pytest.raises(qshift.ValuesError) as err:
        qshift.simulate(two_symbols, values)
    assert_helpful(err, received, "['x', 'y']")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(two_symbols, bad):
    values = np.zeros((3, 2))
    values[2, 1] = bad
    with pytest.raises(qshift.ValuesError) as err:
        qshift.simulate(two_symbols, values)
    assert_helpful(err, "NaN or infinite", "(2, 1)")


def test_non_numeric_values(two_symbols):
    with pytest.raises(qshift.ValuesError) as err:
        qshift.simulate(two_symbols, ["a", "b"])
    assert_helpful(err, "must be numbers")


def test_a_number_is_the_value_of_a_one_symbol_circuit(two_symbols):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    rows, batch = c.check_values(0.5)
    assert rows.tolist() == [[0.5]] and batch == ()
    d = qshift.derivatives(c, 0.5, order=1)
    np.testing.assert_allclose([d.value[0], d.jacobian[0, 0]], [np.sin(0.5), np.cos(0.5)], atol=1e-12)
    assert d.value.shape == qshift.derivatives(c, [0.5]).value.shape == (1,)
    with pytest.raises(qshift.ValuesError) as err:
        qshift.derivatives(two_symbols, 0.5)
    assert_helpful(err, "fits only a circuit with one symbol", "2 values")
    with pytest.raises(qshift.ValuesError, match="NaN"):
        c.check_values(float("nan"))
    none = qshift.CircuitBuilder(1).x(0).expectation("Z0").build()
    with pytest.raises(qshift.ValuesError, match="no symbols"):
        none.check_values(1.0)


def test_numpy_functions_of_a_symbol_are_refused_and_numpy_numbers_are_constants():
    b = CircuitBuilder(1)
    a = b.input("a")
    for make, name in ((lambda: np.sin(a), "np.sin"), (lambda: np.exp(2 * a), "np.exp"),
                       (lambda: np.sqrt(a + 1), "np.sqrt"), (lambda: math.sin(a), "float(a)")):
        with pytest.raises(qshift.NonAffineAngleError) as err:
            b.ry(make(), 0)
        assert_helpful(err, name, "a * symbol + b")
    with pytest.raises(qshift.NonAffineAngleError):
        b.ry(np.float64(2.0) ** a, 0)
    b.ry(np.float64(0.5), 0).ry(np.pi / 2, 0).rz(np.float64(2.0) * a + np.float32(0.25), 0).rx(a / np.int64(4), 0)
    b.rx(np.sin(Angle.constant(0.5)), 0)  # a constant folds
    c = b.expectation("Z0").build()
    angles = [op.angle for op in c.operations]
    assert angles[:2] == [Angle(None, 0.0, 0.5), Angle(None, 0.0, np.pi / 2)]
    assert angles[2] == Angle("a", 2.0, 0.25) and angles[3] == Angle("a", 0.25, 0.0)
    assert angles[4] == Angle(None, 0.0, math.sin(0.5))
    assert all(type(x.a) is float and type(x.b) is float for x in angles)
    assert (np.array([1.0, 2.0]) * a).tolist() == [a, 2 * a] and np.float64(1.0) != a


def test_circuit_without_symbols_takes_empty_value_rows():
    c = qshift.CircuitBuilder(2).x(1).expectation("Z0").expectation("Z1").build()
    np.testing.assert_allclose(qshift.simulate(c, np.zeros(0)), [1.0, -1.0])
    assert qshift.simulate(c, np.zeros((3, 0))).shape == (3, 2)


def test_negative_zero_does_not_change_the_fingerprint():
    def circuit(angle):
        b = qshift.CircuitBuilder(1)
        t = b.input("theta")
        return b.rx(angle(t), 0).rz(angle(t) * 0, 0).expectation("Z0").build()

    assert circuit(lambda t: -t) == circuit(lambda t: -1.0 * t + 0.0)
    assert qshift.Angle.constant(-0.0) == qshift.Angle.constant(0.0)
    assert str(qshift.Angle("theta", -0.0, -0.0)) == "0.0*theta"


@pytest.mark.parametrize("name", ["pi", "input", "qubit", "for", "true", "w[0]", "2x", "", 3])
def test_symbol_names_that_openqasm_cannot_declare_are_refused(name):
    with pytest.raises(qshift.SymbolError) as err:
        qshift.CircuitBuilder(1).input(name)
    assert "expected:" in str(err.value) and "fix:" in str(err.value)
    with pytest.raises(qshift.SymbolError):
        qshift.Circuit(1, (), (qshift.PauliString.parse("Z0"),), (name,))


def test_gate_names_are_fine_symbol_names():
    b = qshift.CircuitBuilder(1)
    x, u = b.inputs("x", "u")
    c = b.rx(x, 0).u3(u, 0.1, x, 0).expectation("Z0").build()
    assert c.symbols == ("x", "u") and qshift.Circuit.from_qasm(c.to_qasm()) == c
