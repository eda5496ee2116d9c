"""Statevector and density-matrix devices refuse a state this machine cannot hold, before allocating it."""

import numpy as np
import pytest

import qshift

WIDE = 40  # 16 TiB as a statevector


def _wide():
    b = qshift.CircuitBuilder(WIDE)
    return b.rx(b.input("t"), 0).expectation("Z0").build()


@pytest.mark.parametrize("build, module", [
    (lambda: qshift.LocalSimulator(), None),
    (lambda: qshift.AerBackend(method="statevector"), "qiskit_aer"),
    (lambda: qshift.AerBackend(method="density_matrix"), "qiskit_aer"),
    (lambda: qshift.PennyLaneBackend("default.qubit"), "pennylane"),
    (lambda: qshift.PennyLaneBackend("default.mixed"), "pennylane"),
    (lambda: qshift.BraketBackend("braket_sv"), "braket"),
])
def test_a_state_too_large_is_a_memory_error_named_in_bytes(build, module):
    if module is not None:
        pytest.importorskip(module)
    with pytest.raises(qshift.SimulationMemoryError) as err:
        build().run(_wide(), np.array([[0.1]]))
    text = str(err.value)
    assert "expected:" in text and "fix:" in text and ("TiB" in text or "2**84 bytes" in text)


def test_the_same_through_a_request_names_the_error_not_a_device_failure():
    pytest.importorskip("qiskit_aer")
    with pytest.raises(qshift.SimulationMemoryError):
        qshift.derivatives(_wide(), [0.1], order=1, device=qshift.AerBackend(method="statevector"))
