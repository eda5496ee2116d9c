"""Shots are samples on every shot device that runs here.

* An eigenstate of every output gives exactly its eigenvalue with zero variance, for many
  seeds. On the noisy devices (`aer-noisy`, `braket-dm`, `ibm-fake-brisbane`) a noisy gate
  or readout does not leave an eigenstate, so the check runs on the same backend with its
  noise switched off (same code path, same method); on the noisy device itself, the
  estimates must still be measured frequencies: ``(1 - value) * shots / 2`` whole counts, per-shot
  variance ``1 - value**2``, every value in ``[-1, 1]``.
* On `aer` and `local` the mean over many seeds converges to the exact value (Qiskit
  ``Statevector``) and the spread over seeds matches the reported standard error within 20 %.
* One provider call per request on `aer`: ``SamplerV2.run`` with shots, ``EstimatorV2.run`` without.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import qshift
from qshift.backends.registry import backend_from_profile, load_profile
from qshift.ir.grouping import n_groups

pytestmark = pytest.mark.filterwarnings("ignore:You are running a noise-free circuit:UserWarning")

SHOT_DEVICES = [d for d in qshift.available_devices() if not load_profile(d).cloud]
SEEDS = range(20)


def _noiseless(device: str):
    """The device's backend with its noise switched off (same backend class and options otherwise)."""
    profile = load_profile(device)
    options = {k: v for k, v in profile.options.items() if k != "noise"}
    if profile.backend == "ibm":
        options["noise"] = False
    return backend_from_profile(dataclasses.replace(profile, options=options))


def eigen_circuit() -> qshift.Circuit:
    """A Bell pair (eigenstate of Z0 Z1, X0 X1, Y0 Y1: three measurement groups), qubit 2 in |1>,
    qubit 3 in |+>; the slots only add phases, so every row is the same eigenstate."""
    b = qshift.CircuitBuilder(4, name="eigen")
    t, u = b.input("t"), b.input("u")
    b.h(0).cx(0, 1).rzz(t, 0, 1).x(2).rz(u, 2).h(3).rx(u, 3)
    for label in ("Z0 Z1", "X0 X1", "Y0 Y1", "Z2", "X3", "Z2 X3", "Z0 Z1 Z2"):
        b.expectation(label)
    return b.build()


EIGENVALUES = [1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -1.0]
ROWS = np.random.default_rng(5).uniform(-3, 3, (2, eigen_circuit().n_slots))  # slot angles: any will do


@pytest.mark.parametrize("device", SHOT_DEVICES)
def test_an_eigenstate_gives_its_eigenvalue_with_zero_error_for_every_seed(device):
    c = eigen_circuit()
    backend = _noiseless(device)
    for seed in SEEDS:
        r = backend.run(c, ROWS, shots=50, seed=seed)
        np.testing.assert_array_equal(r.values, [EIGENVALUES] * len(ROWS), err_msg=f"{device} seed {seed}")
        np.testing.assert_array_equal(r.variances, 0.0, err_msg=f"{device} seed {seed}")
        assert r.executions == len(ROWS) * n_groups(c) == len(ROWS) * 3


def range_circuit() -> qshift.Circuit:
    """Outputs close to +-1 at the rows below, where any added noise would leave the range."""
    b = qshift.CircuitBuilder(2, name="edge")
    a = b.input("a")
    b.ry(a, 0).cx(0, 1).h(1)
    return b.expectation("Z0").expectation("X1").expectation("Z0 Z1").build()


@pytest.mark.parametrize("device", SHOT_DEVICES)
def test_estimates_are_measured_frequencies_in_range(device):
    c = range_circuit()
    backend = qshift.backends.registry.resolve_device(device)
    shots = 16
    rows = np.array([[0.05], [np.pi - 0.05]])
    seeds = range(1) if load_profile(device).backend == "ibm" else SEEDS  # the noisy fake takes ~5 s a run
    for seed in seeds:
        r = backend.run(c, rows, shots=shots, seed=seed)
        assert np.all(np.abs(r.values) <= 1.0), (device, seed, r.values)
        counts = (1.0 - r.values) * shots / 2
        np.testing.assert_allclose(counts, np.round(counts), atol=1e-9, err_msg=f"{device} seed {seed}")
        np.testing.assert_allclose(r.variances, 1.0 - r.values ** 2, atol=1e-12)


@pytest.mark.parametrize("device", ["aer-noisy", "braket-dm"])
def test_a_gate_free_eigenstate_is_exact_on_the_noisy_simulators(device):
    """The depolarizing channel follows gates; the basis rotations are noiseless, so |00> stays exact."""
    c = qshift.CircuitBuilder(2, name="zero").expectation("Z0").expectation("Z0 Z1").expectation("Z1").build()
    backend = qshift.backends.registry.resolve_device(device)
    for seed in range(5):
        r = backend.run(c, np.zeros((2, 0)), shots=50, seed=seed)
        np.testing.assert_array_equal(r.values, 1.0)
        np.testing.assert_array_equal(r.variances, 0.0)


def spread_circuit() -> qshift.Circuit:
    """Two qubits, outputs in two measurement groups, exact values away from +-1."""
    b = qshift.CircuitBuilder(2, name="spread")
    a, c = b.input("a"), b.input("c")
    b.ry(a, 0).rx(c, 1).cx(0, 1).ry(0.4, 1)
    return b.expectation("Z0").expectation("Z0 Z1").expectation("X1").build()


SPREAD_ROWS = np.array([[0.9, 0.4], [2.0, -1.1], [-0.6, 2.5]])


def _statevector_values(circuit: qshift.Circuit, rows: np.ndarray) -> np.ndarray:
    """Exact expectation values from Qiskit's ``Statevector`` (independent of qshift's simulators)."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp, Statevector

    out = []
    for a, c in rows:
        qc = QuantumCircuit(2)
        qc.ry(a, 0)
        qc.rx(c, 1)
        qc.cx(0, 1)
        qc.ry(0.4, 1)
        state = Statevector(qc)
        out.append([state.expectation_value(SparsePauliOp(p)).real for p in ("IZ", "ZZ", "XI")])
    return np.array(out)


@pytest.mark.parametrize("device", ["aer", "local"])
def test_mean_converges_and_spread_matches_the_standard_error(device):
    c = spread_circuit()
    backend = qshift.backends.registry.resolve_device(device)
    shots, seeds = 100, 200
    runs = [backend.run(c, SPREAD_ROWS, shots=shots, seed=1000 + s) for s in range(seeds)]
    values = np.array([r.values for r in runs])                         # (seeds, rows, outputs)
    stderr = np.sqrt(np.array([r.variances for r in runs]) / shots)
    exact = _statevector_values(c, SPREAD_ROWS)
    observed = values.std(axis=0, ddof=1)
    reported = stderr.mean(axis=0)
    assert np.all(np.abs(values.mean(axis=0) - exact) <= 4 * observed / np.sqrt(seeds))
    ratio = observed / reported
    assert np.all((ratio > 0.8) & (ratio < 1.2)), ratio


def test_one_provider_call_per_request_on_aer(monkeypatch):
    from qiskit_aer.primitives import EstimatorV2, SamplerV2

    calls = {"sampler": 0, "estimator": 0}

    def counting(kind, original):
        def run(self, *args, **kwargs):
            calls[kind] += 1
            return original(self, *args, **kwargs)
        return run

    monkeypatch.setattr(SamplerV2, "run", counting("sampler", SamplerV2.run))
    monkeypatch.setattr(EstimatorV2, "run", counting("estimator", EstimatorV2.run))
    c = spread_circuit()
    x = np.array([0.9, 0.4])
    d = qshift.derivatives(c, x, order=2, device="aer", shots=200, seed=3)
    circuits = qshift.plan(c, order=2).circuits
    assert calls == {"sampler": 1, "estimator": 0}
    assert (d.stats.circuits, d.stats.jobs) == (circuits, 1)
    assert d.stats.executions == circuits * n_groups(c) == circuits * 2
    assert d.stats.shots == 200 * d.stats.executions
    qshift.derivatives(c, x, order=1, device="aer")
    assert calls == {"sampler": 1, "estimator": 1}


def test_a_failed_sampler_call_is_a_clear_device_error(monkeypatch):
    from qiskit_aer.primitives import SamplerV2

    def boom(*args, **kwargs):
        raise RuntimeError("provider unreachable")

    monkeypatch.setattr(SamplerV2, "run", boom)
    with pytest.raises(qshift.DeviceError, match="provider unreachable"):
        qshift.derivatives(spread_circuit(), [0.1, 0.2], order=1, device="aer", shots=100, seed=1)
