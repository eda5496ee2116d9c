"""Shots where they matter: calibrated standard errors, optimal allocation, targets, cheapest rule."""

import subprocess
import sys

import numpy as np
import pytest

import qshift
from qshift.cost.families import cheapest, choices
from qshift.cost.shots import entry_variances, quantize, required_shots, weights


@pytest.fixture
def ising():
    return qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q")), np.array([0.3, 0.2])


def test_reported_standard_errors_match_the_observed_spread(ising):
    c, x = ising
    runs = [qshift.derivatives(c, x, order=2, shots=2000, seed=s) for s in range(150)]
    for k in range(3):
        samples = np.array([d.derivative(k) for d in runs])
        reported = np.mean([d.standard_error(k) for d in runs], axis=0)
        ratio = samples.std(axis=0, ddof=1) / reported
        assert np.all((ratio > 0.8) & (ratio < 1.2)), (k, ratio)


def test_optimal_allocation_beats_uniform_for_the_same_shots(ising):
    c, x = ising
    exact = qshift.derivatives(c, x, order=2)
    err = {"optimal": [], "uniform": []}
    totals = {"optimal": [], "uniform": []}
    for s in range(100):
        opt = qshift.derivatives(c, x, order=2, shots=1000, allocation="optimal", seed=s)
        per_circuit = int(round(opt.shots_per_point.sum() / opt.plan.circuits))
        uni = qshift.derivatives(c, x, order=2, shots=per_circuit, seed=10_000 + s)
        for name, d in (("optimal", opt), ("uniform", uni)):
            err[name].append(sum(((d.derivative(k) - exact.derivative(k)) ** 2).sum() for k in range(3)))
            totals[name].append(d.stats.shots)
    assert abs(np.mean(totals["optimal"]) / np.mean(totals["uniform"]) - 1) < 0.01
    # predicted gain with sigma = 1: (sum w)^2 / (P sum w^2) ~ 0.70; measured sigma < 1 and the shot
    # ladder make it ~0.83 here, so ask for a clear 10% at least
    assert np.mean(err["optimal"]) < 0.9 * np.mean(err["uniform"])


@pytest.mark.parametrize("rule", ["standard", "min-shots", "min-circuits", "min-cost"])
def test_target_stderr_is_met_and_honest(ising, rule):
    c, x = ising
    exact = qshift.derivatives(c, x, order=2)
    d = qshift.derivatives(c, x, order=2, target_stderr=0.05, rule=rule, seed=3)
    for k in range(3):
        assert d.standard_error(k).max() < 0.05 * 1.15
        assert np.all(np.abs(d.derivative(k) - exact.derivative(k)) < 5 * d.standard_error(k) + 1e-12)
    assert d.stats.circuits == d.plan.circuits


def test_min_circuits_with_shots_agrees_within_errors(ising):
    c, x = ising
    exact = qshift.derivatives(c, x, order=2)
    d = qshift.derivatives(c, x, order=2, rule="min-circuits", shots=20000, seed=11)
    assert d.stats.circuits == qshift.plan(c, order=2, rule="min-circuits").circuits < exact.stats.circuits
    assert np.all(np.abs(d.hessian - exact.hessian) < 5 * d.standard_error(2))


def test_covariance_diagonal_is_the_variance_and_shared_points_correlate(ising):
    c, x = ising
    d = qshift.derivatives(c, x, order=2, shots=1000, seed=1)
    cov = d.covariance(2, output=1)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), d.standard_error(2)[1].ravel(), rtol=1e-12)
    assert cov[0, 3] != 0  # d2/dJ2 and d2/dh2 share f(x)


def test_fewer_circuits_need_more_shots():
    """The circuit-minimal Hessian trades circuits for shots (about 1.5-1.9x for the same error)."""
    c = qshift.hardware_efficient(4, 2)
    table = {ch.rule: ch for ch in choices(c, 2, target_stderr=0.01, device="ionq-forte")}
    assert table["min-circuits"].circuits < table["min-shots"].circuits
    assert 1.3 < table["min-circuits"].shots / table["min-shots"].shots < 2.2
    assert table["min-shots"].shots < table["standard"].shots


def test_required_shots_hit_the_target_exactly():
    c = qshift.hardware_efficient(2, 1)
    p = qshift.plan(c, order=2)
    for optimal in (True, False):
        shots = required_shots(p, 0.02, optimal=optimal)
        assert entry_variances(p, shots).max() == pytest.approx(0.02 ** 2)
    assert weights(p).shape == (p.points_per_row,)
    assert np.all(quantize(np.array([1, 1.1, 7.5, 1000.0])) >= [1, 1.1, 7.5, 1000])


def _profile(tmp_path, name, per_task, per_shot):
    path = tmp_path / f"{name}.toml"
    path.write_text(f'''name = "{name}"
description = "test profile"
backend = "braket"
target = "arn:aws:braket:us-east-1::device/qpu/example/{name}"
cloud = true
shots = 1000
task = "execution"

[price]
currency = "USD"
per_task = {per_task}
per_shot = {per_shot}
prices_read = "2026-11-23"
source = "test"
''')
    return str(path)


def test_min_cost_depends_on_the_price_model(tmp_path):
    c = qshift.hardware_efficient(4, 2)
    per_shot = _profile(tmp_path, "per-shot", 0.0, 0.01)
    per_task = _profile(tmp_path, "per-task", 5.0, 0.00001)
    assert cheapest(choices(c, 2, target_stderr=0.01, device=per_shot)).rule == "min-shots"
    assert cheapest(choices(c, 2, target_stderr=0.01, device=per_task)).rule == "min-circuits"


def test_cli_plan_prints_the_rule_table(tmp_path):
    script = [sys.executable, "-m", "qshift", "plan", "hea-8q-2l", "--order", "2", "--target-stderr", "0.01"]
    out = subprocess.run(script + ["--device", "ionq-forte"], capture_output=True, text=True, check=True).stdout
    for rule in ("standard", "min-shots", "min-circuits", "min-cost picks: min-shots"):
        assert rule in out
    per_task = _profile(tmp_path, "per-task", 5.0, 0.00001)
    out = subprocess.run(script + ["--device", per_task], capture_output=True, text=True, check=True).stdout
    assert "min-cost picks: min-circuits" in out


@pytest.mark.parametrize("kwargs, match", [
    ({"rule": "min-shots"}, "needs a target"),
    ({"rule": "min-cost", "shots": 100}, "needs a target"),
    ({"target_stderr": -1.0}, "positive number"),
    ({"allocation": "random", "shots": 100}, "unknown allocation"),
])
def test_bad_shot_requests(ising, kwargs, match):
    c, x = ising
    with pytest.raises(qshift.RequestError, match=match):
        qshift.derivatives(c, x, order=2, **kwargs)


def test_exact_results_have_zero_standard_errors_and_covariance():
    c = qshift.hardware_efficient(2, 1)
    d = qshift.derivatives(c, np.full((3, c.n_symbols), 0.2), order=2)
    for k in range(3):
        assert d.standard_error(k).shape == d.derivative(k).shape and not d.standard_error(k).any()
    assert d.covariance(2).shape == (16, 16) and not d.covariance(2).any()
    sampled = qshift.derivatives(c, np.full(c.n_symbols, 0.2), order=1, shots=500, seed=1)
    assert np.all(sampled.standard_error(1) > 0)
    with pytest.raises(qshift.RequestError, match="not computed"):
        d.standard_error(3)
