"""The circuit IR and builder: affine angles, chaining, expansion of multi-angle gates, value checks."""

import numpy as np
import pytest

import qshift


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
