"""Shared fixtures. Tests are stricter than user defaults: NumPy floating-point errors raise."""

import numpy as np
import pytest

import qshift


@pytest.fixture(autouse=True)
def _strict_numpy():
    with np.errstate(all="raise", under="ignore"):
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)


LIBRARY = sorted(qshift.library())


@pytest.fixture(params=LIBRARY)
def library_circuit(request):
    return qshift.Circuit.from_qasm(qshift.circuit_path(request.param))
