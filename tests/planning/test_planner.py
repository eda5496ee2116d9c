"""The counting contract: how many distinct circuits a request runs."""

import math

import numpy as np
import pytest

import qshift


def _independent(n):
    """n two-term slots, each with its own symbol."""
    b = qshift.CircuitBuilder(n)
    for q in range(n):
        b.rx(b.input(f"t{q}"), q)
    return b.expectation("Z0").build()


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_counts_two_term_default_shift(n):
    c = _independent(n)
    assert qshift.plan(c, order=0).circuits == 1
    assert qshift.plan(c, order=1).circuits == 2 * n + 1
    assert qshift.plan(c, order=2).circuits == 2 * n ** 2 + n + 1
    third = 1 + 3 * n + 4 * n * (n - 1) + (4 * n * (n - 1) * (n - 2)) // 3
    assert qshift.plan(c, order=3).circuits == third
    assert qshift.plan(c, order=3).naive_circuits == 8 * n ** 3 + 4 * n ** 2 + 2 * n + 1


@pytest.mark.parametrize("n", [2, 4])
def test_counts_are_what_runs(n, rng):
    c = _independent(n)
    for order in range(4):
        d = qshift.derivatives(c, rng.uniform(size=n), order=order)
        assert d.stats.circuits == qshift.plan(c, order=order).circuits
        assert d.stats.jobs == 1


def test_rows_and_batches_go_in_one_job(rng):
    c = _independent(3)
    d = qshift.derivatives(c, rng.uniform(size=(2, 4, 3)), order=2)
    assert d.stats.circuits == 8 * (2 * 9 + 3 + 1) and d.stats.jobs == 1
    assert d.hessian.shape == (2, 4, 1, 3, 3)


def test_tied_symbols_count_slots():
    """QAOA: gamma_k feeds 8 ZZ slots, beta_k 6 RX slots; all 28 slots are two-term, so the
    value+gradient+Hessian needs every slot pair: 2 S^2 + S + 1 with S = 28 slots."""
    c = qshift.Circuit.from_qasm(qshift.circuit_path("qaoa-maxcut-6"))
    assert (c.n_symbols, c.n_slots) == (4, 28)
    assert qshift.plan(c, order=1).circuits == 2 * 28 + 1
    assert qshift.plan(c, order=2).circuits == 2 * 28 ** 2 + 28 + 1


def test_four_term_gate_counts():
    """controlled-rotations: 4 slots, all crx/cry/crz (four-term rule). First order: 4 points
    per slot; second-order diagonal: 3 new points per slot; each slot pair: 4 x 4 points."""
    c = qshift.Circuit.from_qasm(qshift.circuit_path("controlled-rotations"))
    assert c.n_slots == 4
    assert qshift.plan(c, order=1).circuits == 1 + 4 * 4
    assert qshift.plan(c, order=2).circuits == 1 + 4 * 4 + 4 * 3 + 16 * math.comb(4, 2)


@pytest.mark.parametrize("shift", [math.pi / 4, 1.0])
def test_non_default_shift_folds_less(shift):
    """With s != pi/2, f(x+2s) and f(x-2s) are different circuits: 2 new points per diagonal."""
    n = 5
    c = _independent(n)
    assert qshift.plan(c, order=1, shift=shift).circuits == 2 * n + 1
    assert qshift.plan(c, order=2, shift=shift).circuits == 1 + 2 * n + 2 * n + 4 * math.comb(n, 2)


def test_equal_angles_never_merge(rng):
    """Two slots holding equal angles are still different slots: no point is dropped."""
    b = qshift.CircuitBuilder(2)
    u, v = b.inputs("u", "v")
    c = b.ry(u, 0).ry(v, 1).ry(u, 0).expectation("Z0 Z1").expectation("X0").build()
    d = qshift.derivatives(c, [0.3, 0.3], order=2)
    assert d.stats.circuits == 2 * 3 ** 2 + 3 + 1
    fd = _fd_hessian(c, np.array([0.3, 0.3]))
    np.testing.assert_allclose(d.hessian, fd, atol=1e-6)


def _fd_hessian(c, x, h=1e-4):
    n = len(x)
    out = np.zeros((c.n_outputs, n, n))
    for i in range(n):
        for j in range(n):
            e_i, e_j = np.eye(n)[i] * h, np.eye(n)[j] * h
            f = lambda y: qshift.simulate(c, y)
            out[:, i, j] = (f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j) + f(x - e_i - e_j)) / (4 * h * h)
    return out


def test_plan_runs_nothing_and_reports_counts():
    c = qshift.hardware_efficient(10, 2)
    p = qshift.plan(c, order=2)
    assert p.circuits == 3241 and p.naive_circuits == 1 + 80 + 80 ** 2
    assert p.unmerged_circuits > p.circuits
    assert "3241 circuits" in p.summary()
    assert qshift.plan(c, order=2, values=np.zeros((3, 40))).circuits == 3 * 3241


def test_executor_batches_to_the_backend_limit(rng):
    class Limited:
        name, exact, max_batch = "limited", True, 10

        def __init__(self):
            self.inner = qshift.LocalSimulator()
            self.calls = []

        def run(self, circuit, angles, *, shots=None, seed=None):
            self.calls.append(len(angles))
            return self.inner.run(circuit, angles)

    backend = Limited()
    c = _independent(4)
    backend.last_values = rng.uniform(size=4)
    d = qshift.derivatives(c, backend.last_values, order=2, device=backend)
    assert d.stats.circuits == 37 and d.stats.jobs == 4 and backend.calls == [10, 10, 10, 7]
    x = d.plan.circuit  # same circuit on the unlimited default device gives the same numbers
    np.testing.assert_allclose(d.hessian, qshift.derivatives(x, backend.last_values, order=2).hessian, atol=1e-14)


def test_cache_reuses_exact_results(rng):
    c = _independent(3)
    ex = qshift.Executor(qshift.LocalSimulator())
    x = rng.uniform(size=3)
    first = qshift.derivatives(c, x, order=1, executor=ex)
    second = qshift.derivatives(c, x, order=2, executor=ex)
    assert first.stats.circuits == 7
    assert second.stats.circuits == 2 * 9 + 3 + 1 - 7 and second.stats.cache_hits == 7
    assert ex.stats.circuits == 22


def test_sampled_results_not_reused_across_requests_by_default(rng):
    c = _independent(2)
    ex = qshift.Executor(qshift.LocalSimulator())
    x = rng.uniform(size=2)
    a = qshift.derivatives(c, x, order=1, shots=100, seed=1, executor=ex)
    b = qshift.derivatives(c, x, order=1, shots=100, seed=1, executor=ex)
    assert a.stats.circuits == b.stats.circuits == 5
    opt_in = qshift.Executor(qshift.LocalSimulator(), reuse_sampled=True)
    qshift.derivatives(c, x, order=1, shots=100, seed=1, executor=opt_in)
    again = qshift.derivatives(c, x, order=1, shots=100, seed=1, executor=opt_in)
    assert again.stats.circuits == 0 and again.stats.cache_hits == 5


def test_cache_is_bounded():
    cache = qshift.EvaluationCache(max_entries=5)
    for i in range(20):
        cache.put(("k", i), (np.zeros(1), None))
    assert len(cache) == 5 and cache.get(("k", 0)) is None and cache.get(("k", 19)) is not None


@pytest.mark.parametrize("n", [1, 2, 3, 5, 32])
def test_min_circuits_hessian_count(n):
    """Wierichs et al. Sec. 4: diagonals from the gradient's points, each pair 3 points along
    e_k + e_m: (3n^2 + n + 2) / 2 for value + gradient + Hessian (n=32: 1553 vs 2081)."""
    c = _independent(n)
    p = qshift.plan(c, order=2, rule="min-circuits")
    assert p.circuits == (3 * n ** 2 + n + 2) // 2
    assert p.notes == ()


def test_min_circuits_four_term_pairs():
    """Four-term slots: each diagonal reuses the gradient's four points plus f(x) (the even part
    has 3 unknowns), and along e_k + e_m the frequencies are {1/2, 1, 3/2, 2} (R = 4), so each pair
    needs 2R - 1 = 7 new points instead of 4 x 4 = 16."""
    c = qshift.Circuit.from_qasm(qshift.circuit_path("controlled-rotations"))
    standard = qshift.plan(c, order=2).circuits
    minimal = qshift.plan(c, order=2, rule="min-circuits").circuits
    assert standard == 125
    assert minimal == 1 + 4 * 4 + 0 + 7 * math.comb(4, 2)


def test_unknown_rule():
    with pytest.raises(qshift.RequestError, match="unknown rule"):
        qshift.plan(_independent(2), order=2, rule="fastest")
