"""Order-2 derivatives of a library circuit agree across local, aer, pennylane, braket and ibm (fake).

`circuits/bell-xx-yy.qasm` (ccx, swap, rxx, ryy, cx, h, ry; outputs X0 Y1 Z2 and Z2) at one
point: value, gradient and Hessian from 22 planned circuits, sent in one provider call on
every backend.

What is compared with what:

* exact backends (aer, default.qubit, lightning.qubit, braket_sv) with `local`, to 1e-9;
* `ibm` with noise=False — the circuit transpiled once for FakeBrisbane (its coupling map
  and ecr/rz/sx/x gates), sampled by the runtime's SamplerV2 and run on Aer without noise —
  with `local` within 5 of its own standard errors;
* `ibm` with Brisbane's noise (FakeBrisbane's calibration snapshot, simulated by Aer) with
  `local` within an absolute 0.25 per entry (entries are at most 0.6 here; this noise shrinks
  them by 10-25 % and its estimates sit many standard errors away, which is also checked, so
  the test would notice if the noise silently stopped being applied).
"""

import numpy as np
import pytest

import qshift

from backend_cases import within

X = np.array([0.7, -0.4])


@pytest.fixture(scope="module")
def circuit():
    return qshift.Circuit.from_qasm(qshift.circuit_path("bell-xx-yy"))


@pytest.fixture(scope="module")
def reference(circuit):
    return qshift.derivatives(circuit, X, order=2, device="local")


@pytest.mark.parametrize("device", ["aer", "default.qubit", "lightning.qubit", "braket-local"])
def test_exact_backends_agree(device, circuit, reference):
    d = qshift.derivatives(circuit, X, order=2, device=device)
    for k in (0, 1, 2):
        np.testing.assert_allclose(d.derivative(k), reference.derivative(k), atol=1e-9)
    assert (d.stats.circuits, d.stats.jobs) == (22, 1)


def test_ibm_fake_transpiled_ideal_agrees_within_standard_errors(circuit, reference):
    device = qshift.IBMBackend("fake_brisbane", noise=False)
    d = qshift.derivatives(circuit, X, order=2, device=device, shots=2000, seed=4)
    for k in (0, 1, 2):
        assert within(d.derivative(k), reference.derivative(k), d.standard_error(k)), k
    assert (d.stats.circuits, d.stats.jobs, d.stats.executions) == (22, 1, 22)


def test_ibm_fake_noisy_is_close_but_visibly_noisy(circuit, reference):
    d = qshift.derivatives(circuit, X, order=2, device="ibm-fake-brisbane", shots=2000, seed=4)
    deviation = [np.abs(d.derivative(k) - reference.derivative(k)) for k in (0, 1, 2)]
    assert max(dev.max() for dev in deviation) < 0.25
    assert max((dev / d.standard_error(k)).max() for k, dev in enumerate(deviation)) > 5
    assert np.corrcoef(d.hessian.ravel(), reference.hessian.ravel())[0, 1] > 0.95
    assert d.stats.jobs == 1 and d.stats.shots == 2000 * 22
