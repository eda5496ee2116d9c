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
