"""The local simulator on several threads: the same numbers as on one, and clear errors for bad settings."""

import numpy as np
import pytest

import qshift
from qshift.backends.local.simulator import LocalSimulator
from tests.helpful import assert_helpful


@pytest.fixture(scope="module")
def wide():
    return qshift.hardware_efficient(12, 1)  # 2**12 amplitudes: large enough for threads, shifted and adjoint


def test_shifted_batch_on_two_threads_equals_one(wide):
    x = np.random.default_rng(0).uniform(-1, 1, wide.n_symbols)
    one = qshift.derivatives(wide, x, order=2, device=LocalSimulator(threads=1))
    two = qshift.derivatives(wide, x, order=2, device=LocalSimulator(threads=2, max_memory="64MiB"))
    assert two.stats.circuits == one.stats.circuits == qshift.plan(wide, order=2).circuits
    for k in range(3):
        np.testing.assert_allclose(two.derivative(k), one.derivative(k), rtol=0, atol=1e-13)


def test_adjoint_halves_on_two_threads_equal_one(wide):
    rng = np.random.default_rng(1)
    angles = wide.slot_angles(rng.uniform(-1, 1, (7, wide.n_symbols)))
    upstream = rng.normal(size=(7, wide.n_outputs))
    one, two = LocalSimulator(threads=1), LocalSimulator(threads=2)
    for u in (upstream, None):
        a, b = one.adjoint(wide, angles, u), two.adjoint(wide, angles, u)
        np.testing.assert_allclose(b.values, a.values, rtol=0, atol=1e-13)
        np.testing.assert_allclose(b.gradients, a.gradients, rtol=0, atol=1e-13)
        assert (b.forward_sweeps, b.backward_sweeps) == (a.forward_sweeps, a.backward_sweeps)
    tape = two.adjoint_tape(wide, angles)
    assert tape.rows == 7 and len(tape.tapes) == 2
    np.testing.assert_allclose(tape.values, one.adjoint(wide, angles, upstream).values, rtol=0, atol=1e-13)
    np.testing.assert_allclose(tape.gradients(upstream), one.adjoint(wide, angles, upstream).gradients,
                               rtol=0, atol=1e-13)


def test_threads_default_from_the_environment(monkeypatch):
    monkeypatch.setenv("QSHIFT_NUM_THREADS", "1")
    assert LocalSimulator().threads == 1
    monkeypatch.setenv("QSHIFT_NUM_THREADS", "3")
    assert LocalSimulator().threads == 3
    monkeypatch.delenv("QSHIFT_NUM_THREADS")
    assert LocalSimulator().threads >= 1


@pytest.mark.parametrize("threads", [0, -1, 1.5, "two", True])
def test_bad_threads_are_refused(threads):
    with pytest.raises(qshift.DeviceError) as info:
        LocalSimulator(threads=threads)
    assert_helpful(info, "threads")


def test_bad_thread_variable_is_refused(monkeypatch):
    monkeypatch.setenv("QSHIFT_NUM_THREADS", "many")
    with pytest.raises(qshift.DeviceError) as info:
        LocalSimulator()
    assert_helpful(info, "QSHIFT_NUM_THREADS")
