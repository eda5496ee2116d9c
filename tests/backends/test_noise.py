"""Noise: `aer-noisy` and `braket-dm` carry the same depolarizing channel after every one- and
two-qubit operation, so two independent density-matrix simulators must agree exactly."""

import numpy as np
import pytest

import qshift

from backend_cases import conformance_circuit


@pytest.fixture(scope="module")
def circuit():
    b = qshift.CircuitBuilder(3, name="noisy")
    a, c = b.input("a"), b.input("c")
    b.h(0).ry(a, 1).cx(0, 1).crx(c, 1, 2).rzz(2 * a - 0.4, 0, 2).ch(2, 0)  # crx and ch are decomposed on Braket
    return b.expectation("Z0").expectation("X1 Z2").expectation("Y0 Y2").build()


def test_aer_noisy_and_braket_dm_agree(circuit):
    rows = np.random.default_rng(2).uniform(-2, 2, (4, circuit.n_slots))
    aer = qshift.backends.registry.resolve_device("aer-noisy").run(circuit, rows).values
    braket = qshift.backends.registry.resolve_device("braket-dm").run(circuit, rows).values
    exact = qshift.LocalSimulator().run(circuit, rows).values
    np.testing.assert_allclose(aer, braket, atol=1e-9)
    assert np.abs(aer - exact).max() > 1e-3  # the noise is really there


def test_noisy_derivatives_agree(circuit):
    x = [0.3, 1.2]
    a = qshift.derivatives(circuit, x, order=2, device="aer-noisy")
    b = qshift.derivatives(circuit, x, order=2, device="braket-dm")
    np.testing.assert_allclose(a.hessian, b.hessian, atol=1e-9)


def test_noise_is_part_of_the_cache_key():
    assert qshift.AerBackend().cache_key != qshift.AerBackend(noise={"depolarizing_2q": 0.01}).cache_key
    assert qshift.backends.registry.resolve_device("aer").cache_key != qshift.backends.registry.resolve_device("aer-noisy").cache_key


def test_bad_noise_is_refused():
    with pytest.raises(qshift.DeviceError, match="depolarizing_3q"):
        qshift.AerBackend(noise={"depolarizing_3q": 0.1})
    with pytest.raises(qshift.DeviceError, match="probability"):
        qshift.AerBackend(noise={"depolarizing_1q": 1.5})
    with pytest.raises(qshift.DeviceError, match="braket_dm"):
        qshift.BraketBackend("braket_sv", noise={"depolarizing_1q": 0.01})


def test_conformance_circuit_sampled_on_noisy_aer_reports_variances():
    c = conformance_circuit()
    r = qshift.AerBackend(noise={"depolarizing_2q": 0.05}).run(c, np.zeros((2, c.n_slots)), shots=100, seed=1)
    assert r.variances.shape == (2, 3) and r.executions == 4
