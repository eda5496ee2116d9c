"""Shared fixtures. Tests are stricter than user defaults: NumPy floating-point errors raise."""

import os

import numpy as np
import pytest

import qshift

# Tests never write to the user's cache: no default evaluation store (a test passes its own file).
os.environ["QSHIFT_STORE"] = "off"


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

