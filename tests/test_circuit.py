"""The circuit IR and builder: affine angles, chaining, expansion of multi-angle gates, value checks."""

import numpy as np
import pytest

import qshift


def test_circuit_without_symbols_takes_empty_value_rows():
    c = qshift.CircuitBuilder(2).x(1).expectation("Z0").expectation("Z1").build()
    np.testing.assert_allclose(qshift.simulate(c, np.zeros(0)), [1.0, -1.0])
    assert qshift.simulate(c, np.zeros((3, 0))).shape == (3, 2)
