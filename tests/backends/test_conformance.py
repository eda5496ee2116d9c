"""One conformance suite, run over every backend (see conftest.CASES).

Exact modes must agree with `local` to 1e-9; sampled estimates must lie within
5 standard errors (their own reported ones) of `local`'s exact values.
"""

import numpy as np
import pytest

import qshift
from qshift.ir.grouping import n_groups

from backend_cases import CASES, SHOTS, Case, chemistry_circuit, conformance_circuit, within


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def case(request) -> Case:
    return request.param


EXACT = [c for c in CASES if c.exact]


@pytest.fixture(params=EXACT, ids=[c.name for c in EXACT])
def exact_case(request) -> Case:
    return request.param


@pytest.fixture(scope="module")
def circuit():
    return conformance_circuit()


@pytest.fixture(scope="module")
def rows():
    return np.random.default_rng(7).uniform(-2, 2, (5, conformance_circuit().n_slots))


def _exact(circuit, rows):
    return qshift.LocalSimulator().run(circuit, rows).values


def test_backend_contract(case):
    backend = case.make()
    assert isinstance(backend, qshift.Backend)
    assert isinstance(backend.name, str) and backend.exact is case.exact
    assert backend.max_batch is None or backend.max_batch > 0
    assert isinstance(getattr(backend, "cache_key", backend.name), str)


def test_exact_values_agree_with_local(exact_case, circuit, rows):
    result = exact_case.make().run(circuit, rows)
    np.testing.assert_allclose(result.values, _exact(circuit, rows), atol=1e-9)
    assert result.variances is None
    assert (result.executions, result.jobs) == (len(rows), 1)


def test_sampled_values_within_five_standard_errors(case, circuit, rows):
    result = case.make().run(circuit, rows, shots=SHOTS, seed=11)
    assert result.values.shape == result.variances.shape == (len(rows), circuit.n_outputs)
    assert np.all((result.variances >= 0) & (result.variances <= 1 + 1e-9))
    assert within(result.values, _exact(circuit, rows), np.sqrt(result.variances / SHOTS))
    assert result.executions == len(rows) * n_groups(circuit) == len(rows) * 2
    assert result.jobs == 1


def test_a_seed_makes_sampling_reproducible(case, circuit, rows):
    backend = case.make()
    a = backend.run(circuit, rows, shots=200, seed=5)
    b = backend.run(circuit, rows, shots=200, seed=5)
    c = backend.run(circuit, rows, shots=200, seed=6)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)


def test_batch_order_is_preserved(case, circuit, rows):
    backend = case.make()
    shots = None if case.exact else SHOTS
    forward = backend.run(circuit, rows, shots=shots, seed=3).values
    backward = backend.run(circuit, rows[::-1].copy(), shots=shots, seed=3).values
    if case.exact:
        np.testing.assert_allclose(backward[::-1], forward, atol=1e-12)
    else:  # each row keeps its own (distinct) values: the nearest exact row is its own
        exact = _exact(circuit, rows)
        nearest = [int(np.argmin(np.abs(exact - v).sum(axis=1))) for v in backward[::-1]]
        assert nearest == list(range(len(rows)))


def test_order_two_derivatives_agree_with_local(case, circuit):
    x = np.array([0.4, -1.1])
    reference = qshift.derivatives(circuit, x, order=2)
    if case.exact:
        d = qshift.derivatives(circuit, x, order=2, device=case.make())
        for k in (0, 1, 2):
            np.testing.assert_allclose(d.derivative(k), reference.derivative(k), atol=1e-9)
        return
    d = qshift.derivatives(circuit, x, order=2, device=case.make(), shots=SHOTS, seed=2)
    for k in (0, 1, 2):
        assert within(d.derivative(k), reference.derivative(k), d.standard_error(k)), k


def test_counters(case, circuit):
    x = np.array([0.4, -1.1])
    plan = qshift.plan(circuit, order=2)
    if case.exact:
        d = qshift.derivatives(circuit, x, order=2, device=case.make())
        assert (d.stats.circuits, d.stats.executions, d.stats.jobs, d.stats.shots) == (plan.circuits, plan.circuits, 1, 0)
    shots = 300
    d = qshift.derivatives(circuit, x, order=1, device=case.make(), shots=shots, seed=1)
    circuits = qshift.plan(circuit, order=1).circuits
    assert d.stats.circuits == circuits and d.stats.jobs == 1
    assert d.stats.executions == 2 * circuits  # two measurement groups per point
    assert d.stats.shots == shots * d.stats.executions


def test_a_failed_provider_call_raises_a_clear_error(case, circuit, rows, monkeypatch):
    backend = case.make()
    case.break_provider(monkeypatch)
    with pytest.raises(qshift.DeviceError) as info:
        qshift.derivatives(circuit, [0.1, 0.2], order=1, device=backend, shots=None if case.exact else 100)
    message = str(info.value)
    assert backend.name in message and "provider unreachable" in message and "fix:" in message


def test_no_rows_is_no_call(case, circuit, monkeypatch):
    backend = case.make()
    case.break_provider(monkeypatch)  # a call would raise
    values, _, stats = qshift.Executor(backend).evaluate(circuit, np.zeros((0, circuit.n_slots)))
    assert values.shape == (0, circuit.n_outputs)
    assert stats.jobs == 0


def test_a_circuit_without_slots(case):
    c = qshift.CircuitBuilder(2, name="fixed").h(0).cx(0, 1).expectation("X0").expectation("Z0 Z1").build()
    backend = case.make()
    shots = None if case.exact else SHOTS
    result = backend.run(c, np.zeros((3, 0)), shots=shots, seed=1)
    assert result.values.shape == (3, 2)
    assert within(result.values, [[0.0, 1.0]] * 3, np.sqrt((result.variances if shots else 0.0) / (shots or 1)))


def test_chemistry_gates_agree_with_local(case):
    """The excitation gates (native on local and PennyLane, decomposed for Qiskit and Braket)."""
    c = chemistry_circuit()
    rows = np.random.default_rng(5).uniform(-2, 2, (3, c.n_slots))
    if case.exact:
        np.testing.assert_allclose(case.make().run(c, rows).values, _exact(c, rows), atol=1e-9)
    result = case.make().run(c, rows, shots=SHOTS, seed=4)
    assert within(result.values, _exact(c, rows), np.sqrt(result.variances / SHOTS))
