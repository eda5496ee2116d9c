"""Sampled Hamiltonians behave like hardware samples: exact on eigenstates, standard errors that match the spread.

An energy's terms read from the same shots are correlated; its reported standard error must hold
that covariance (and, for derivatives, the covariance of shifted points shared by entries). These
tests measure the spread over seeds and compare it with what is reported.
"""

import numpy as np
import pytest

import qshift
import qshift.backends.local.sampling as local_sampling
from qshift.ir.grouping import group_shots, measurement_groups
from chemistry import h2_rotations




@pytest.fixture(scope="module")
def h2():
    return h2_rotations()[1]


def _eigenstate_circuit():
    # |0> |1> |+>: an eigenstate of every term, so of the sum: 0.5*(-1) + 2*(-1) - 1.5*(+1) + 0.25 = -3.75
    b = qshift.CircuitBuilder(3)
    t = b.input("t")
    return (b.x(1).h(2).rz(t, 0).expectation({"Z0 Z1": 0.5, "Z1": 2.0, "X2": -1.5, "": 0.25})
            .expectation("Z0").build())


def _devices():
    devices = [("local", lambda: qshift.LocalSimulator())]
    for module, name, build in (
            ("qiskit_aer", "aer", lambda: qshift.AerBackend()),
            ("pennylane", "default.qubit", lambda: qshift.PennyLaneBackend("default.qubit")),
            ("braket", "braket-local", lambda: qshift.BraketBackend("braket_sv")),
            ("qiskit_ibm_runtime", "ibm-fake-ideal",
             lambda: qshift.IBMBackend("fake_brisbane", noise=False))):
        devices.append(pytest.param(name, build, marks=pytest.mark.skipif(
            not _installed(module), reason=f"{module} not installed")))
    return devices


def _installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("name, build", _devices())
def test_an_eigenstate_of_every_term_gives_the_energy_exactly_on_every_shot_device(name, build):
    c = _eigenstate_circuit()
    device = build()
    angles = c.slot_angles(np.array([[0.3], [-1.2]]))
    for seed in (1, 2, 3, 4):
        r = device.run(c, angles, shots=200, seed=seed)
        np.testing.assert_array_equal(r.values, [[-3.75, 1.0], [-3.75, 1.0]])
        np.testing.assert_array_equal(r.variances, 0.0)
        assert r.executions == 2 * len(measurement_groups(c))


@pytest.mark.parametrize("name, build", _devices())
def test_every_shot_device_agrees_with_the_exact_energy_within_its_standard_error(name, build, h2):
    x = np.array([[0.4, -0.9, 0.7]])
    exact = qshift.simulate(h2, x)[0, 0]
    r = build().run(h2, h2.slot_angles(x), shots=4000, seed=11)
    stderr = np.sqrt(r.variances[0, 0] / 4000)
    assert 0 < stderr < 0.05 and abs(r.values[0, 0] - exact) < 4 * stderr


def test_over_60_seeds_the_spread_of_energy_and_gradient_matches_the_reported_error(h2):
    x = np.array([0.4, -0.9, 0.7])
    runs = [qshift.derivatives(h2, x, order=1, shots=3000, seed=seed) for seed in range(60)]
    values = np.array([d.value[0] for d in runs])
    jac = np.array([d.jacobian[0] for d in runs])
    reported_value = np.sqrt(np.mean([d.standard_error(0)[0] ** 2 for d in runs]))
    reported_jac = np.sqrt(np.mean([d.standard_error(1)[0] ** 2 for d in runs], axis=0))
    observed_value, observed_jac = values.std(ddof=1), jac.std(axis=0, ddof=1)
    assert abs(observed_value / reported_value - 1) < 0.25, (observed_value, reported_value)
    np.testing.assert_array_less(np.abs(observed_jac / reported_jac - 1), 0.25)
    exact = qshift.derivatives(h2, x, order=1)
    assert abs(values.mean() - exact.value[0]) < 4 * reported_value / np.sqrt(60)
    np.testing.assert_array_less(np.abs(jac.mean(axis=0) - exact.jacobian[0]), 4 * reported_jac / np.sqrt(60))
    print(f"H2 energy: observed spread {observed_value:.5f}, reported {reported_value:.5f}; gradient "
          f"{np.round(observed_jac, 5)} vs {np.round(reported_jac, 5)}")


def test_the_error_of_a_sum_holds_the_covariance_of_terms_measured_together():
    # Z0 and Z1 of a Bell pair are perfectly correlated: Z0 + Z1 is +-2 per shot (variance 4 at mean 0),
    # twice what independent terms would give; Z0 - Z1 is 0 on every shot.
    b = qshift.CircuitBuilder(2)
    c = b.h(0).cx(0, 1).expectation({"Z0": 1.0, "Z1": 1.0}).expectation({"Z0": 1.0, "Z1": -1.0}).build()
    r = qshift.LocalSimulator().run(c, np.zeros((1, 0)), shots=20000, seed=3)
    assert abs(r.variances[0, 0] - 4.0) < 0.01 and r.variances[0, 1] == 0.0 and r.values[0, 1] == 0.0


def test_a_split_by_weight_beats_an_even_split_at_equal_total_shots(h2, monkeypatch):
    rng = np.random.default_rng(7)
    points = rng.uniform(-np.pi, np.pi, size=(12, 3))
    exact = qshift.simulate(h2, points)[:, 0]
    angles = h2.slot_angles(points)
    weighted = group_shots(h2, 500)
    assert len(set(weighted.tolist())) > 1 and weighted.sum() == 500 * len(weighted)

    def squared_error(split):
        monkeypatch.setattr(local_sampling, "group_shots", split)
        errors = [qshift.LocalSimulator().run(h2, angles, shots=500, seed=s).values[:, 0] - exact for s in range(40)]
        return float(np.mean(np.square(errors)))

    by_weight = squared_error(group_shots)
    even = squared_error(lambda circuit, shots: np.full(len(measurement_groups(circuit)), shots))
    assert by_weight < even
    print(f"H2, 12 random points x 40 seeds, 500 shots per execution: rms energy error "
          f"{np.sqrt(by_weight):.4f} split by weight vs {np.sqrt(even):.4f} even")
