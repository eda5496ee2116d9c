"""qshift.estimate: circuits, executions, tasks, shots and price before anything runs."""

import math

import numpy as np
import pytest

import qshift
from qshift.cost.estimate import cost_of
from qshift.backends.profiles import load_profile


@pytest.fixture(scope="module")
def hea8():
    return qshift.hardware_efficient(8, 2)


def test_ionq_forte_hessian_of_the_8_qubit_ansatz(hea8, capsys):
    e = qshift.estimate(hea8, order=2, device="ionq-forte")
    print(e)
    plan = qshift.plan(hea8, order=2)
    assert (e.planned.circuits, e.naive.circuits) == (plan.circuits, plan.naive_circuits) == (2081, 4161)
    assert e.groups == 1 and e.shots_per_execution == 1000
    # program sets of at most 100 executables: one $0.30 task per 100 circuits, $0.08 per shot
    assert (e.planned.tasks, e.naive.tasks) == (21, 42)
    assert (e.planned.shots, e.naive.shots) == (2_081_000, 4_161_000)
    assert e.planned.price == pytest.approx(21 * 0.30 + 2_081_000 * 0.08)
    assert e.naive.price == pytest.approx(42 * 0.30 + 4_161_000 * 0.08)
    assert e.saving == pytest.approx(e.naive.price - e.planned.price) and e.saving > 160_000
    text = capsys.readouterr().out
    for figure in ("2,081", "4,161", "2,081,000", "166,486.30 USD", "332,892.60 USD", "ionq-forte", "2026-11-23"):
        assert figure in text


def test_sampling_devices_price_every_measurement_group():
    b = qshift.CircuitBuilder(2)
    x = b.input("x")
    c = b.ry(x, 0).cx(0, 1).expectation("X0").expectation("Z0").expectation("Z1").build()
    e = qshift.estimate(c, order=1, device="ionq-forte", shots=500)
    assert e.groups == 2
    assert e.planned.executions == 2 * e.planned.circuits == 2 * qshift.plan(c, order=1).circuits
    assert e.planned.shots == 500 * e.planned.executions
    exact = qshift.estimate(c, order=1, device="aer")
    assert exact.groups == 1 and exact.planned.executions == exact.planned.circuits and exact.planned.price == 0


def test_estimate_matches_what_a_sampled_run_counts():
    b = qshift.CircuitBuilder(2)
    x = b.input("x")
    c = b.ry(x, 0).cx(0, 1).expectation("X0").expectation("Z0").expectation("Z1").build()
    e = qshift.estimate(c, order=2, device="local", shots=100)
    d = qshift.derivatives(c, [0.3], order=2, shots=100, seed=1)
    assert (d.stats.circuits, d.stats.executions, d.stats.shots) == (
        e.planned.circuits, e.planned.executions, e.planned.shots)


def test_program_set_limits_split_tasks():
    forte = load_profile("ionq-forte")
    assert cost_of(100, forte, shots=1000, groups=1).tasks == 1
    assert cost_of(101, forte, shots=1000, groups=1).tasks == 2
    # 200,000 shots per program set: at 4,000 shots, 50 executables per task
    assert cost_of(100, forte, shots=4000, groups=1).tasks == 2
    assert cost_of(0, forte, shots=1000, groups=1).price == 0


def test_per_minute_simulators_and_per_second_ibm(hea8):
    sv1 = qshift.estimate(hea8, order=1, device="braket-sv1")
    # one task per circuit, each billed the 3-second minimum at $0.075 per minute
    assert sv1.planned.tasks == sv1.planned.circuits == qshift.plan(hea8, order=1).circuits
    assert sv1.planned.price == pytest.approx(sv1.planned.tasks * 3.0 * 0.075 / 60)
    ibm = qshift.estimate(hea8, order=1, device="ibm-brisbane")
    assert ibm.planned.seconds == pytest.approx(2.0 + ibm.planned.shots * 0.00025)
    assert ibm.planned.price == pytest.approx(1.60 * ibm.planned.seconds)


def test_rows_and_shots_scale_the_estimate(hea8):
    one = qshift.estimate(hea8, order=1, device="iqm-garnet")
    many = qshift.estimate(hea8, order=1, device="iqm-garnet", values=np.zeros((3, hea8.n_symbols)), shots=2000)
    assert many.planned.circuits == 3 * one.planned.circuits
    assert many.planned.shots == 3 * 2 * one.planned.shots


def test_estimate_accepts_backends_and_profiles():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    built = qshift.backends.registry.resolve_device("aer")
    assert qshift.estimate(c, device=built).device == "aer"
    assert qshift.estimate(c, device=load_profile("ionq-forte")).planned.price > 0
    plain = qshift.estimate(c, device=qshift.LocalSimulator())  # no profile: no prices
    assert plain.planned.price == 0 and plain.prices_read is None
    with pytest.raises(qshift.RequestError):
        qshift.estimate(c, device="ionq-forte", shots=0)


def test_estimate_text_is_a_table():
    e = qshift.estimate(qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2")), order=1, device="rigetti-ankaa-3")
    lines = str(e).splitlines()
    assert lines[2].startswith("planned") and lines[3].startswith("naive") and "saves" in lines[4]
    assert e.groups == math.ceil(e.planned.executions / e.planned.circuits)
    assert "<pre>" in e._repr_html_()


# -- the max_cost guard and profile-driven shots --------------------------------------------------

class _Priced:
    """The local simulator posing as a priced sampling device (its profile is ionq-forte's)."""

    def __init__(self):
        self.inner = qshift.LocalSimulator()
        self.name, self.exact, self.max_batch, self.default_shots = "priced", False, None, 100
        self.profile = load_profile("ionq-forte")
        self.calls = 0

    def run(self, circuit, angles, *, shots=None, seed=None):
        self.calls += 1
        return self.inner.run(circuit, angles, shots=shots, seed=seed)


def test_max_cost_refuses_before_anything_runs():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
    device = _Priced()
    expected = qshift.estimate(c, order=2, device=device.profile, shots=100).planned.price
    with pytest.raises(qshift.CostLimitError) as info:
        qshift.derivatives(c, [0.1, 0.2], order=2, device=device, max_cost=10.0)
    assert device.calls == 0
    message = str(info.value)
    assert f"{expected:,.2f} USD" in message and "10.00 USD" in message and "fix:" in message
    assert isinstance(info.value, qshift.QShiftError)
    d = qshift.derivatives(c, [0.1, 0.2], order=2, device=device, max_cost=expected + 1, seed=1)
    assert device.calls == 1 and d.stats.shots == 100 * d.stats.executions  # the profile's default shots


def test_max_cost_on_free_devices_and_cloud_estimates(hea8):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    assert qshift.derivatives(c, [0.1], order=2, device="local", max_cost=0.0).stats.circuits == 4
    with pytest.raises(qshift.DeviceError, match="credentials"):  # cloud: refused before any pricing matters
        qshift.derivatives(hea8, np.zeros(hea8.n_symbols), order=2, device="ionq-forte", max_cost=1e9)


def test_default_shots_come_from_the_device_and_give_standard_errors():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    d = qshift.derivatives(c, [0.4], order=1, device=_Priced(), seed=3)
    assert d.stats.shots == 100 * d.stats.executions
    assert d.standard_error(1).shape == d.jacobian.shape and np.all(d.standard_error(1) > 0)


# -- every rule family priced as it runs ------------------------------------------------------------

def _counts(x):
    return (x.circuits, x.executions, x.shots, x.jobs)


@pytest.fixture(scope="module")
def three_outputs():
    """Two symbols, three outputs in two measurement groups (X0 apart from Z0, Z1)."""
    b = qshift.CircuitBuilder(2)
    x, y = b.input("x"), b.input("y")
    return b.ry(x, 0).cx(0, 1).rx(y, 1).expectation("X0").expectation("Z0").expectation("Z1").build()


@pytest.mark.parametrize("kw", [
    {"shots": 300},
    {"shots": 300, "rule": "min-circuits"},
    {"shots": 300, "allocation": "optimal"},
    {"shots": 300, "allocation": "optimal", "rule": "min-circuits"},
    {"shots": 300, "allocation": "uniform"},
])
def test_fixed_shots_are_priced_exactly_as_they_run(three_outputs, kw):
    c, values = three_outputs, np.array([[0.3, -0.4], [1.1, 0.2]])
    e = qshift.estimate(c, order=2, device="local", values=values, **kw)
    d = qshift.derivatives(c, values, order=2, seed=5, **kw)
    assert _counts(e.planned) == _counts(d.stats)  # circuits, executions, shots and calls, all equal
    assert e.groups == 2 and not e.expected
    assert e.allocation == kw.get("allocation", "uniform")
    if e.allocation == "optimal":
        assert d.stats.shots == int(d.shots_per_point.sum()) * 2  # shots by weight, two groups each
        assert e.planned.jobs > 1  # one call per shot level


@pytest.mark.parametrize("rule, allocation", [("standard", None), ("min-shots", None), ("min-circuits", None),
                                              ("min-cost", None), ("standard", "optimal")])
def test_a_target_is_priced_as_an_upper_bound_of_what_runs(three_outputs, rule, allocation):
    c, x = three_outputs, [0.3, -0.4]
    e = qshift.estimate(c, order=2, device="local", target_stderr=0.05, rule=rule, allocation=allocation,
                        pilot_shots=200)
    assert e.expected and e.target_stderr == 0.05 and e.pilot_shots == 200
    assert "expected figures" in str(e) and "expected" in e._repr_html_()
    for seed in (1, 2, 3):
        d = qshift.derivatives(c, x, order=2, target_stderr=0.05, rule=rule, allocation=allocation, pilot_shots=200,
                               seed=seed)
        assert d.stats.circuits == e.planned.circuits == d.plan.circuits
        assert d.stats.shots <= e.planned.shots and d.stats.executions <= e.planned.executions
        assert d.stats.shots >= 200 * 2 * d.plan.circuits  # the pilot at least
    # the worst case sigma^2 = 1 is what a run tops up with on an output of mean 0 (X0 at x = pi/2)
    worst = qshift.derivatives(c, [np.pi / 2, np.pi / 2], order=2, target_stderr=0.05, rule=rule,
                               allocation=allocation, pilot_shots=200, seed=4)
    assert worst.stats.shots <= e.planned.shots


def test_min_cost_prices_the_family_it_picks():
    c = qshift.hardware_efficient(3, 1)
    table = qshift.cost.families.choices(c, order=2, target_stderr=0.05, device="ionq-forte")
    picked = qshift.cost.families.cheapest(table).rule
    e = qshift.estimate(c, order=2, device="ionq-forte", target_stderr=0.05, rule="min-cost")
    same = qshift.estimate(c, order=2, device="ionq-forte", target_stderr=0.05, rule=picked)
    assert e.rule == picked and _counts(e.planned) == _counts(same.planned)
    assert e.planned.price == same.planned.price


@pytest.mark.parametrize("device", ["ionq-forte", "ibm-brisbane", "braket-sv1", "local"])
def test_the_table_of_families_shows_what_estimate_prices_for_each(device):
    # `qshift plan --target-stderr` prints this table and rule="min-cost" picks from it: every row
    # must be the estimate of a request with that family (pilot and worst-case top-ups included)
    c = qshift.hardware_efficient(3, 1)
    args = {"rule": "standard", "allocation": "uniform"}, {"rule": "min-shots"}, {"rule": "min-circuits"}
    for pilot in (100, 300):
        table = qshift.cost.families.choices(c, order=2, target_stderr=0.05, device=device, rows=2,
                                             pilot_shots=pilot)
        for choice, family in zip(table, args):
            e = qshift.estimate(c, order=2, device=device, target_stderr=0.05, rows=2, pilot_shots=pilot, **family)
            assert e.expected and e.pilot_shots == pilot
            assert (choice.circuits, choice.shots, choice.tasks) == (e.planned.circuits, e.planned.shots,
                                                                      e.planned.tasks)
            assert choice.price == pytest.approx(e.planned.price, rel=1e-12, abs=1e-12)
    assert [ch.rule for ch in table] == ["standard", "min-shots", "min-circuits"]


def test_rules_that_need_a_target_say_so_as_derivatives_does():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    for rule in ("min-shots", "min-cost"):
        with pytest.raises(qshift.RequestError) as est:
            qshift.estimate(c, order=1, rule=rule)
        with pytest.raises(qshift.RequestError) as run:
            qshift.derivatives(c, [0.1], order=1, rule=rule)
        assert str(est.value) == str(run.value) and "target_stderr" in str(est.value)
    for bad in ({"allocation": "greedy"}, {"target_stderr": -1.0}, {"target_stderr": 0.1, "pilot_shots": 0},
                {"rule": "fastest"}):
        with pytest.raises(qshift.RequestError):
            qshift.estimate(c, order=1, **bad)


def test_max_cost_prices_the_request_s_strategy():
    from qshift.cost.estimate import check_cost
    from qshift.cost.sampling import OptimalAllocation, TargetError

    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
    backend = _Priced()
    plan = qshift.plan(c, order=2)
    target = qshift.estimate(c, order=2, device=backend, target_stderr=0.05)
    with pytest.raises(qshift.CostLimitError) as info:
        check_cost(plan, c, backend, None, target.planned.price - 1, TargetError(0.05, False, 100))
    assert f"{target.planned.price:,.2f} USD" in str(info.value)
    assert check_cost(plan, c, backend, None, target.planned.price, TargetError(0.05, False, 100)) == target.planned
    optimal = qshift.estimate(c, order=2, device=backend, allocation="optimal")
    assert optimal.shots_per_execution >= 100 and optimal.allocation == "optimal"  # the device's 100 shots
    assert check_cost(plan, c, backend, 100, 1e12, OptimalAllocation(100)) == optimal.planned


def test_a_target_over_several_rows_stays_under_its_estimate(rng):
    c = qshift.hardware_efficient(2, 1)
    values = rng.uniform(-np.pi, np.pi, (2, c.n_symbols))
    e = qshift.estimate(c, order=1, values=values, target_stderr=0.03, rule="min-shots")
    assert e.rows == 2 and e.planned.circuits == qshift.plan(c, order=1, rows=2).circuits
    for seed in range(4):
        d = qshift.derivatives(c, values, order=1, target_stderr=0.03, rule="min-shots", seed=seed)
        assert d.stats.circuits == e.planned.circuits and d.stats.shots <= e.planned.shots


@pytest.mark.parametrize("rule", ["standard", "min-shots", "min-circuits"])
def test_a_hamiltonians_target_is_priced_at_its_own_worst_case_variance(rule):
    # An energy's per-shot variance can reach (sum |c|)^2, not 1: the estimate bounds what runs spend.
    c = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2-energy"))
    e = qshift.estimate(c, order=1, target_stderr=0.01, rule=rule, pilot_shots=200)
    assert e.expected
    pauli_only = qshift.Circuit(c.n_qubits, c.operations, c.terms[:1], c.symbols)
    assert e.planned.shots > qshift.estimate(pauli_only, order=1, target_stderr=0.01, rule=rule,
                                             pilot_shots=200).planned.shots
    for x in ([0.22, 0.0, 0.0], [1.3, -0.8, 2.0]):
        d = qshift.derivatives(c, x, order=1, target_stderr=0.01, rule=rule, pilot_shots=200, seed=2)
        assert d.stats.shots <= e.planned.shots and d.stats.circuits == e.planned.circuits
        assert d.standard_error(1).max() <= 0.01 * 1.3  # the target, within the pilot's estimate of sigma


def test_devices_that_give_every_group_the_same_shots_are_priced_at_their_own_worst_case():
    # Braket tasks and IBM runtime jobs run every measurement group with the request's shots; the local
    # simulator splits them by weight. The worst-case variance, hence the estimate, differs.
    pytest.importorskip("braket")
    c = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2-energy"))
    split = qshift.estimate(c, order=1, device="local", target_stderr=0.07, rule="min-shots", pilot_shots=200)
    uniform = qshift.estimate(c, order=1, device="braket-local", target_stderr=0.07, rule="min-shots",
                              pilot_shots=200)
    assert uniform.planned.shots > split.planned.shots
    d = qshift.derivatives(c, [1.3, -0.8, 2.0], order=1, device="braket-local", target_stderr=0.07,
                           rule="min-shots", pilot_shots=200, seed=3)
    assert d.stats.shots <= uniform.planned.shots and d.standard_error(1).max() <= 0.07 * 1.3
