"""qshift.minimize against independent references: the exact ground energy (numpy eigvalsh of
PennyLane's Hamiltonian matrix), scipy's optimizers over qshift.simulate, closed forms of sin."""

import math

import numpy as np
import pytest

import qshift
from qshift.api.minimize import newton_step, trust_region_step
from chemistry import h2_excitations, h2_hamiltonian



@pytest.fixture(scope="module")
def h2():
    """H2 (STO-3G, 4 qubits, 15 terms): a particle-conserving ansatz from Hartree-Fock, and the exact energy."""
    _, circuit = h2_excitations()
    return circuit, h2_hamiltonian()[1]


@pytest.fixture(scope="module")
def h2_1d(h2):
    """The same energy with only the double excitation (one symbol)."""
    return h2_excitations(singles=False)[1]


def test_the_ansatz_reaches_the_exact_ground_energy(h2):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    circuit, exact = h2
    best = scipy_optimize.minimize(lambda x: qshift.simulate(circuit, x)[0], np.full(3, 0.05), method="BFGS")
    assert circuit.n_outputs == 1
    assert best.fun == pytest.approx(exact, abs=1e-8)


@pytest.mark.parametrize("method", ["newton", "trust-region"])
def test_second_order_methods_reach_the_ground_energy_from_hartree_fock(h2, method):
    circuit, exact = h2
    r = qshift.minimize(circuit, np.zeros(3), method=method)
    assert r.success and r.nit <= 8
    assert abs(r.fun - exact) < 1e-6
    assert r.fun_stderr is None and r.jac_stderr is None
    assert np.all(np.abs(r.jac) <= 1e-6)
    assert np.linalg.eigvalsh(r.hess).min() > 0
    np.testing.assert_allclose(qshift.simulate(circuit, r.x), [r.fun], atol=1e-12)
    assert np.all(np.diff(r.history.energies[r.history.accepted]) <= 1e-12)  # accepted steps go down


def test_every_iteration_is_one_planned_request(h2):
    circuit, _ = h2
    r = qshift.minimize(circuit, np.zeros(3))
    planned = qshift.plan(circuit, order=2).circuits
    assert len(r.history) == r.nit + 1
    assert r.history.circuits.tolist() == [planned] * len(r.history)
    assert r.stats.circuits == r.history.circuits.sum() == planned * (r.nit + 1)
    assert all(it.stats.jobs == 1 for it in r.history)
    first = qshift.minimize(circuit, np.zeros(3), method="adam", maxiter=2)
    assert first.history.circuits.tolist() == [qshift.plan(circuit, order=1).circuits] * 3
    assert first.hess is None


def test_adam_gets_close(h2):
    circuit, exact = h2
    r = qshift.minimize(circuit, np.zeros(3), method="adam", maxiter=40)
    assert r.nit == 40 and not r.success and "maxiter" in r.message
    assert abs(r.fun - exact) < 1e-3
    assert np.min(np.nonzero(r.history.energies - exact < 1e-3)) <= 10


def test_with_shots_it_stops_within_the_error_bars(h2):
    circuit, exact = h2
    r = qshift.minimize(circuit, np.zeros(3), shots=4000, seed=11, maxiter=20)
    assert r.success and r.nit < 20 and "standard errors" in r.message
    assert r.fun_stderr > 0 and abs(r.fun - exact) <= 3 * r.fun_stderr
    assert np.all(np.abs(r.jac) <= np.maximum(1e-6, 2 * r.jac_stderr))  # the documented stopping rule
    assert np.all(r.history.energy_stderr > 0) and np.all(r.history.shots > 0)
    assert r.stats.shots == r.history.shots.sum()
    again = qshift.minimize(circuit, np.zeros(3), shots=4000, seed=11, maxiter=20)
    np.testing.assert_array_equal(again.history.energies, r.history.energies)  # one child seed per request
    other = qshift.minimize(circuit, np.zeros(3), shots=4000, seed=12, maxiter=20)
    assert other.history.energies[0] != r.history.energies[0]


def test_with_shots_on_a_noisy_emulator_it_reaches_the_noisy_optimum(h2_1d):
    pytest.importorskip("qiskit_aer")
    noisy_optimum = qshift.minimize(h2_1d, [0.0], device="aer-noisy", tol=1e-9)  # the density matrix: no shots
    assert noisy_optimum.success and noisy_optimum.fun_stderr is None
    r = qshift.minimize(h2_1d, [0.0], device="aer-noisy", shots=4000, seed=3)
    assert r.success and abs(r.fun - noisy_optimum.fun) <= 3 * r.fun_stderr


def test_an_indefinite_hessian_does_not_blow_the_step_up():
    sin = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))  # sin(theta): a maximum at pi/2
    for method in ("newton", "trust-region"):
        r = qshift.minimize(sin, [math.pi / 2], method=method, radius=0.3)
        steps, radii = r.history.step_norms[1:], r.history.radii[1:]
        assert steps[0] == pytest.approx(0.3)  # along the negative curvature, to the radius
        assert np.all(steps <= radii + 1e-12)
        assert np.all(np.diff(r.history.energies[r.history.accepted]) < 0)
        assert r.success and r.fun == pytest.approx(-1, abs=1e-12) and math.sin(r.x[0]) == pytest.approx(-1)
    near = qshift.minimize(sin, [1.4], maxiter=1, radius=0.25)  # a gradient pointing up a slope of -H
    assert near.history.step_norms[1] == pytest.approx(0.25) and near.history.energies[1] < near.history.energies[0]


def test_rejected_steps_shrink_the_radius_and_count_as_iterations():
    b = qshift.CircuitBuilder(1)
    t = b.input("t")
    c = b.ry(3 * t, 0).expectation("X0").build()  # sin(3 t): a quadratic model that overshoots
    r = qshift.minimize(c, [0.1], radius=2.0, max_radius=2.0)
    rejected = ~r.history.accepted
    assert rejected.any() and r.success
    i = int(np.argmax(rejected))
    assert r.history.radii[i + 1] == pytest.approx(r.history.step_norms[i] / 4)
    assert r.nit == len(r.history) - 1 and r.fun == pytest.approx(-1, abs=1e-12)


def test_trust_region_step_solves_the_subproblem():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(5)
    for n, radius in [(1, 0.3), (3, 0.5), (4, 2.0), (5, 0.1)]:
        a = rng.normal(size=(n, n))
        h, g = (a + a.T) / 2, rng.normal(size=n)
        p = trust_region_step(g, h, radius)
        model = lambda q, g=g, h=h: g @ q + 0.5 * q @ h @ q
        ball = {"type": "ineq", "fun": lambda q, r=radius: r ** 2 - q @ q}
        best = min((scipy_optimize.minimize(model, x0, constraints=[ball], method="SLSQP", tol=1e-12)
                    for x0 in rng.normal(size=(8, n)) * radius / 2), key=lambda o: o.fun)
        assert np.linalg.norm(p) <= radius + 1e-9
        assert model(p) <= best.fun + 1e-7


def test_steps_in_the_hard_case_and_inside_the_radius():
    g, h = np.array([0.0, 1.0]), np.diag([-1.0, 2.0])  # no gradient along the negative curvature
    for step in (trust_region_step(g, h, 1.0), newton_step(g, h, 1.0)):
        assert np.linalg.norm(step) == pytest.approx(1.0) and abs(step[0]) > 0.5
        assert g @ step + 0.5 * step @ h @ step < 0
    np.testing.assert_allclose(newton_step([1.0, -2.0], [[2.0, 0.0], [0.0, 4.0]], 10.0), [-0.5, 0.5])
    long = newton_step([1.0, 0.0], [[1e-3, 0.0], [0.0, 1.0]], 0.2)
    np.testing.assert_allclose(long, [-0.2, 0.0])


def test_newton_shortens_a_long_step_where_trust_region_bends_it():
    g, h = np.array([1.0, 1.0]), np.diag([1.0, 100.0])
    newton, tr = newton_step(g, h, 0.1), trust_region_step(g, h, 0.1)
    model = lambda p: g @ p + 0.5 * p @ h @ p
    np.testing.assert_allclose(newton / np.linalg.norm(newton), -np.linalg.solve(h, g) / np.linalg.norm(np.linalg.solve(h, g)))
    assert np.linalg.norm(newton) == pytest.approx(0.1) and np.linalg.norm(tr) == pytest.approx(0.1)
    assert model(tr) < model(newton) - 1e-3


def test_output_picks_one_of_several():
    b = qshift.CircuitBuilder(2)
    x, y = b.inputs("x", "y")
    c = b.ry(x, 0).ry(y, 1).expectation("Z0").expectation({"Z1": 1.0, "X0": 0.5}).build()
    with pytest.raises(qshift.RequestError, match="2 outputs|has 2") as err:
        qshift.minimize(c, [0.1, 0.2])
    assert "output=" in err.value.fix
    r = qshift.minimize(c, [0.3, 0.2], output=1)
    assert r.fun == pytest.approx(-1.5, abs=1e-9)  # Z1 + X0 / 2 on separate qubits
    assert r.x.shape == (2,) and r.history.circuits[0] == qshift.plan(c, order=2).circuits
    with pytest.raises(qshift.RequestError, match="output"):
        qshift.minimize(c, [0.1, 0.2], output=2)


def test_wrt_keeps_the_other_symbols(h2):
    circuit, _ = h2
    r = qshift.minimize(circuit, [0.0, 0.1, -0.1], wrt=["t"])
    assert r.wrt == ("t",) and r.jac.shape == (1,) and r.hess.shape == (1, 1)
    assert r.x[1:].tolist() == [0.1, -0.1]
    grid = np.linspace(0.1, 0.3, 2001)
    rows = np.column_stack([grid, np.full_like(grid, 0.1), np.full_like(grid, -0.1)])
    assert r.fun <= qshift.simulate(circuit, rows)[:, 0].min() + 1e-9
    assert r.history.circuits[0] == qshift.plan(circuit, order=2, wrt=["t"]).circuits


def test_callback_sees_each_iteration_and_can_stop():
    sin = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    seen = []
    r = qshift.minimize(sin, [0.5], callback=lambda res: seen.append(res) or len(seen) == 2)
    assert [s.nit for s in seen] == [0, 1] and r.nit == 1 and not r.success and "callback" in r.message
    assert isinstance(seen[0], qshift.MinimizeResult) and seen[1].x == r.x

    def stop(res):
        raise StopIteration

    assert qshift.minimize(sin, [0.5], method="adam", callback=stop).nit == 0


def test_result_views_and_prices():
    sin = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    r = qshift.minimize(sin, [0.5])
    assert r.price is None and np.isnan(r.history.prices).all()
    text = str(r)
    assert "newton" in text and "energy" in text and len(text.splitlines()) == len(r.history) + 3
    assert "<table" in r._repr_html_() and repr(r).startswith("MinimizeResult(method='newton'")
    priced = qshift.LocalSimulator(profile=qshift.load_profile("ionq-forte"))
    p = qshift.minimize(sin, [0.5], device=priced, shots=100, seed=1, maxiter=2)
    each = qshift.estimate(sin, order=2, device=priced, shots=100).planned.price
    assert p.history.prices.tolist() == [each] * len(p.history) and p.price == pytest.approx(each * len(p.history))


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "bfgs"}, "unknown minimize method"),
    ({"maxiter": 0}, "maxiter"),
    ({"maxiter": 2.5}, "maxiter"),
    ({"tol": -1.0}, "tol"),
    ({"radius": 0.0}, "radius"),
    ({"radius": 5.0}, "radius must not exceed"),
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"seed": -3}, "seed"),
    ({"callback": 3}, "callback"),
    ({"wrt": ["nope"]}, "unknown symbol"),
])
def test_bad_arguments_raise_request_errors(kwargs, match):
    sin = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    with pytest.raises(qshift.RequestError, match=match) as err:
        qshift.minimize(sin, [0.5], **kwargs)
    assert err.value.fix


@pytest.mark.parametrize("x0", [[float("nan")], [[0.1], [0.2]], [0.1, 0.2]])
def test_bad_starting_points_raise_values_errors(x0):
    sin = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    with pytest.raises(qshift.ValuesError, match="x0"):
        qshift.minimize(sin, x0)


def test_a_scalar_starts_a_one_symbol_circuit():
    sin = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    assert qshift.minimize(sin, 0.5).x.shape == (1,)
