"""The Braket backend runs an injected AwsDevice through the same code path as the local simulator.

Uses the local Braket REST stand-in of tests/fakes (no network, no credentials); the end-to-end
cloud behaviour (retries, faults, resumption) is covered with that stand-in elsewhere.
"""

import numpy as np
import pytest

import qshift

pytest.importorskip("braket", reason="needs qshift[braket]")
pytest.importorskip("moto", reason="needs qshift[test]")
import moto.server  # noqa: E402,F401  (the test extra has it)

from backend_cases import conformance_circuit  # noqa: E402
from fakes import QPU_ARN, SV1_ARN, braket_service  # noqa: E402,F401  (fixture)


def test_injected_aws_devices(braket_service):
    fb = braket_service
    c = conformance_circuit()
    rows = np.random.default_rng(1).uniform(-1, 1, (3, c.n_slots))
    exact = qshift.LocalSimulator().run(c, rows).values
    sv1 = qshift.BraketBackend(device=fb.device(SV1_ARN), name="sv1", run_options=fb.poll)
    assert sv1.exact
    r = sv1.run(c, rows)
    np.testing.assert_allclose(r.values, exact, atol=1e-9)
    assert r.jobs == 3  # one quantum task per circuit
    qpu = qshift.BraketBackend(device=fb.device(QPU_ARN), name="qpu", run_options=fb.poll)
    assert not qpu.exact and qpu.default_shots == 1000
    r = qpu.run(c, rows, shots=500)
    true_stderr = np.sqrt((1 - exact ** 2) / 500)  # the sampled variance can be 0 when every shot agrees
    assert r.executions == 6 and np.all(np.abs(r.values - exact) <= 5 * true_stderr + 1e-9)
    with pytest.raises(qshift.DeviceError, match="only samples"):
        qpu.run(c, rows)
