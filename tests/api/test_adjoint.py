"""``method="adjoint"``: adjoint gradients, vector-Jacobian products and adjoint-inside Hessians against the
shift rule (to 1e-10) on every library circuit and on random circuits with tied, affine symbols and every
gate; against finite differences of the exact simulator and Qiskit's Statevector; the sweeps and circuits
counted; the cost model's choice; the refusals."""

import numpy as np
import pytest

import qshift
from qshift.backends.base import Backend, RunResult
from qshift.backends.local import LocalSimulator
from qshift.ir.gates import arity

from helpful import assert_helpful
from random_circuits import random_circuit
from reference import qiskit_expectations

ROWS = 3
MULTI_FREQUENCY = ["crx", "cry", "crz", "cp", "sexc", "sexcp", "sexcm", "dexc", "dexcp", "dexcm", "u3", "u2", "cu"]
TAIL = ["rz", "p", "s", "t", "z", "x", "cx", "cz", "swap", "rzz", "crz", "cp", "ccx", "ry", "h"]  # folded tails


# -- helpers ------------------------------------------------------------------------------------------
def richardson_jacobian(circuit, x, h=1e-3):
    """``(rows, n_out, n)``: fourth-order central differences of ``qshift.simulate``, error ~h^4."""
    rows, n = x.shape
    out = np.zeros((rows, circuit.n_outputs, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        f = [qshift.simulate(circuit, x + k * e) for k in (2, 1, -1, -2)]
        out[:, :, i] = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h)
    return out


def richardson_hessian(circuit, x, h=1e-2):
    """``(n_out, n, n)`` at one row: nested second-order differences, Richardson-extrapolated."""

    def nested(step):
        n = len(x)
        out = np.zeros((circuit.n_outputs, n, n))
        for i in range(n):
            for j in range(n):
                ei, ej = np.eye(n)[i] * step, np.eye(n)[j] * step
                f = qshift.simulate(circuit, np.array([x + ei + ej, x + ei - ej, x - ei + ej, x - ei - ej]))
                out[:, i, j] = (f[0] - f[1] - f[2] + f[3]) / (4 * step ** 2)
        return out

    return (4 * nested(h / 2) - nested(h)) / 3


def rows_for(circuit, rng, rows=ROWS):
    return rng.uniform(-2, 2, (rows, circuit.n_symbols))


def half_of(circuit):
    """Every other symbol: a ``wrt`` that leaves symbols out (all of them for a one-symbol circuit)."""
    return list(circuit.symbols[::2])


def force(monkeypatch, branch):
    """Make the cost model pick ``branch`` ("adjoint+shift" or "shift") above order 1."""
    if branch == "adjoint+shift":
        monkeypatch.setattr(LocalSimulator, "run_cost", lambda self, circuit, angles: 10 ** 18)
    else:
        monkeypatch.setattr(LocalSimulator, "adjoint_cost", lambda self, circuit, rows, states: 10 ** 18)


def chosen(circuit, x, order, wrt=None):
    """What the cost model should pick at ``order`` >= 2, computed from the two cost functions directly."""
    sim, base = LocalSimulator(), circuit.slot_angles(x)
    inner = qshift.plan(circuit, order=order - 1, rows=len(x), wrt=wrt)
    n_points = len(inner.points(base))
    plain = sim.run_cost(circuit, qshift.plan(circuit, order=order, rows=len(x), wrt=wrt).points(base))
    adjoint = sim.adjoint_cost(circuit, n_points, n_points * circuit.n_outputs)
    return "adjoint+shift" if adjoint <= plain else "shift"


def assert_same(adjoint, shift, orders, atol=1e-10):
    for k in orders:
        assert adjoint.derivative(k).shape == shift.derivative(k).shape, k
        np.testing.assert_allclose(adjoint.derivative(k), shift.derivative(k), atol=atol, rtol=0, err_msg=f"order {k}")


def assert_adjoint_counts(d, rows, n_out):
    assert d.method == "adjoint"
    assert (d.stats.circuits, d.stats.forward_sweeps, d.stats.backward_sweeps) == (0, rows, rows * n_out)


def assert_branch_counts(d, circuit, rows, order, wrt, branch):
    assert d.method == branch
    if branch == "adjoint+shift":
        points = qshift.plan(circuit, order=order - 1, rows=rows, wrt=wrt).circuits
        assert (d.stats.circuits, d.stats.forward_sweeps) == (0, points)
        assert d.stats.backward_sweeps == points * circuit.n_outputs
    else:
        assert d.stats.circuits == qshift.plan(circuit, order=order, rows=rows, wrt=wrt).circuits
        assert (d.stats.forward_sweeps, d.stats.backward_sweeps) == (0, 0)


def random_case(seed):
    """A random circuit on 2..6 qubits: every gate, three tied symbols with affine angles, a tail of
    multi-frequency gates and one of permutations and phases, Pauli products in X, Y, Z (or Z only)."""
    rng = np.random.default_rng(1000 + seed)
    n_qubits = 2 + seed % 5
    fits = lambda names: [g for g in names if arity(g)[0] <= n_qubits]  # noqa: E731
    tail = [str(g) for g in rng.choice(fits(MULTI_FREQUENCY), 4)] + [str(g) for g in rng.choice(fits(TAIL), 3)]
    return random_circuit(rng, n_qubits=n_qubits, n_ops=12 + 3 * n_qubits, paulis="Z" if seed % 3 == 0 else "XYZ",
                          tail=tail)


SEEDS = range(8)


# -- gradients and vector-Jacobian products on every library circuit ---------------------------------
@pytest.mark.parametrize("wrt", [None, "half"])
def test_adjoint_gradient_matches_the_shift_rule_and_finite_differences(library_circuit, wrt, rng):
    c = library_circuit
    wrt = half_of(c) if wrt else None
    x = rows_for(c, rng)
    shift = qshift.derivatives(c, x, order=1, wrt=wrt)
    adjoint = qshift.derivatives(c, x, order=1, wrt=wrt, method="adjoint")
    assert_same(adjoint, shift, (0, 1))
    assert_adjoint_counts(adjoint, ROWS, c.n_outputs)
    assert np.abs(adjoint.jacobian).max() > 1e-3
    reference = richardson_jacobian(c, x)
    if wrt is not None:
        reference = reference[:, :, [c.symbols.index(s) for s in wrt]]
    np.testing.assert_allclose(adjoint.jacobian, reference, atol=1e-8, rtol=0)


def test_vector_jacobian_products_and_jacobians_of_the_simulator(library_circuit, rng):
    c = library_circuit
    x = rows_for(c, rng)
    shift = qshift.derivatives(c, x, order=1)
    upstream = rng.normal(size=(ROWS, c.n_outputs))
    vjp = LocalSimulator().adjoint(c, c.slot_angles(x), upstream)
    assert vjp.gradients.shape == (ROWS, c.n_slots) and c.slot_jacobian.shape == (c.n_slots, c.n_symbols)
    np.testing.assert_allclose(vjp.gradients @ c.slot_jacobian, np.einsum("bm,bmi->bi", upstream, shift.jacobian),
                               atol=1e-10, rtol=0)
    np.testing.assert_allclose(vjp.values, shift.value, atol=1e-12, rtol=0)
    assert (vjp.forward_sweeps, vjp.backward_sweeps) == (ROWS, ROWS)

    jac = LocalSimulator().adjoint(c, c.slot_angles(x))
    assert jac.gradients.shape == (ROWS, c.n_outputs, c.n_slots)
    np.testing.assert_allclose(jac.gradients @ c.slot_jacobian, shift.jacobian, atol=1e-10, rtol=0)
    assert (jac.forward_sweeps, jac.backward_sweeps) == (ROWS, ROWS * c.n_outputs)
    # the product is the Jacobian contracted with the upstream, slot by slot
    np.testing.assert_allclose(vjp.gradients, np.einsum("bm,bms->bs", upstream, jac.gradients), atol=1e-12, rtol=0)


# -- Hessians: both branches of the cost model on every library circuit -------------------------------
@pytest.mark.parametrize("branch", ["adjoint+shift", "shift"])
@pytest.mark.parametrize("wrt", [None, "half"])
def test_adjoint_hessian_matches_the_shift_rule_on_both_branches(library_circuit, branch, wrt, monkeypatch, rng):
    c = library_circuit
    wrt = half_of(c) if wrt else None
    x = rows_for(c, rng)
    shift = qshift.derivatives(c, x, order=2, wrt=wrt)
    force(monkeypatch, branch)
    adjoint = qshift.derivatives(c, x, order=2, wrt=wrt, method="adjoint")
    assert_same(adjoint, shift, (0, 1, 2))
    assert_branch_counts(adjoint, c, ROWS, 2, wrt, branch)
    assert np.abs(adjoint.hessian).max() > 1e-3


def test_the_cost_model_choice_is_the_comparison_of_its_cost_functions(library_circuit, rng):
    c = library_circuit
    x = rows_for(c, rng)
    d = qshift.derivatives(c, x, order=2, method="adjoint")
    assert d.method == chosen(c, x, 2)
    assert_same(d, qshift.derivatives(c, x, order=2), (0, 1, 2))


@pytest.mark.parametrize("name", ["sin", "ising-2q", "bell-xx-yy", "controlled-rotations", "u3-cp", "vqe-h2"])
def test_adjoint_hessian_matches_finite_differences(name, monkeypatch, rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path(name))
    x = rng.uniform(-2, 2, c.n_symbols)
    force(monkeypatch, "adjoint+shift")
    d = qshift.derivatives(c, x, order=2, method="adjoint")
    assert d.method == "adjoint+shift"
    np.testing.assert_allclose(d.hessian, richardson_hessian(c, x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["sin", "ising-2q", "controlled-rotations", "u3-cp"])
def test_third_order_with_adjoint_gradients_inside(name, monkeypatch, rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path(name))
    x = rows_for(c, rng, 2)
    shift = qshift.derivatives(c, x, order=3)
    assert shift.method == "shift" and shift.stats.circuits == qshift.plan(c, order=3, rows=2).circuits
    force(monkeypatch, "adjoint+shift")
    adjoint = qshift.derivatives(c, x, order=3, method="adjoint")
    assert_same(adjoint, shift, (0, 1, 2, 3))
    assert_branch_counts(adjoint, c, 2, 3, None, "adjoint+shift")
    assert np.abs(adjoint.derivative(3)).max() > 1e-3
    if name == "sin":
        np.testing.assert_allclose(adjoint.derivative(3)[:, 0, 0, 0, 0], -np.cos(x[:, 0]), atol=1e-12)


# -- random circuits: tied and affine symbols, every gate, multi-frequency gates ----------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_random_circuits_gradients_and_products(seed, rng):
    c = random_case(seed)
    x = rows_for(c, rng, 4)
    for wrt in (None, ["a", "c"]):
        shift = qshift.derivatives(c, x, order=1, wrt=wrt)
        adjoint = qshift.derivatives(c, x, order=1, wrt=wrt, method="adjoint")
        assert_same(adjoint, shift, (0, 1))
        assert_adjoint_counts(adjoint, 4, c.n_outputs)
    np.testing.assert_allclose(adjoint.jacobian, richardson_jacobian(c, x)[:, :, [0, 2]], atol=1e-8, rtol=0)
    upstream = rng.normal(size=(4, c.n_outputs))
    vjp = LocalSimulator().adjoint(c, c.slot_angles(x), upstream)
    full = qshift.derivatives(c, x, order=1)
    np.testing.assert_allclose(vjp.gradients @ c.slot_jacobian, np.einsum("bm,bmi->bi", upstream, full.jacobian),
                               atol=1e-10, rtol=0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("branch", ["adjoint+shift", "shift"])
def test_random_circuits_hessians_on_both_branches(seed, branch, monkeypatch, rng):
    c = random_case(seed)
    x = rows_for(c, rng, 4)
    for wrt in (None, ["a", "c"]):
        shift = qshift.derivatives(c, x, order=2, wrt=wrt)
        with monkeypatch.context() as m:
            force(m, branch)
            adjoint = qshift.derivatives(c, x, order=2, wrt=wrt, method="adjoint")
        assert_same(adjoint, shift, (0, 1, 2))
        assert_branch_counts(adjoint, c, 4, 2, wrt, branch)
    assert np.abs(adjoint.hessian).max() > 1e-3


def test_random_circuits_contain_every_kind_of_gate():
    gates = {op.gate for seed in SEEDS for op in random_case(seed).operations}
    assert {"crx", "cry", "sexc", "dexc", "rzz", "ccx", "cswap"} <= gates, gates


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_circuit_third_order(seed, monkeypatch, rng):
    c = random_case(seed)
    x = rows_for(c, rng, 2)
    shift = qshift.derivatives(c, x, order=3, wrt=["a", "b"])
    force(monkeypatch, "adjoint+shift")
    adjoint = qshift.derivatives(c, x, order=3, wrt=["a", "b"], method="adjoint")
    assert_same(adjoint, shift, (0, 1, 2, 3))
    assert_branch_counts(adjoint, c, 2, 3, ["a", "b"], "adjoint+shift")


@pytest.mark.parametrize("seed", [1, 2, 4])
def test_adjoint_values_and_directional_derivatives_match_qiskit(seed, rng):
    """Independent of qshift's simulator: Qiskit's Statevector on the circuit's own OpenQASM text."""
    c = random_case(seed)
    text = c.to_qasm()
    x = rng.uniform(-2, 2, c.n_symbols)
    upstream = rng.normal(size=c.n_outputs)
    direction = rng.normal(size=c.n_symbols)
    r = LocalSimulator().adjoint(c, c.slot_angles(x[None]), upstream[None])
    at = lambda t: upstream @ qiskit_expectations(text, dict(zip(c.symbols, x + t * direction)))  # noqa: E731
    h = 1e-3
    slope = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h)
    np.testing.assert_allclose(r.values[0], qiskit_expectations(text, dict(zip(c.symbols, x))), atol=1e-10)
    np.testing.assert_allclose((r.gradients @ c.slot_jacobian)[0] @ direction, slope, atol=1e-9)


# -- shapes, shifts, chunks, edge cases ---------------------------------------------------------------
def test_batch_dimensions_and_orders_subsets(monkeypatch, rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("u3-cp"))
    x = rng.uniform(-2, 2, (2, 3, c.n_symbols))
    shift = qshift.derivatives(c, x, order=2)
    force(monkeypatch, "adjoint+shift")
    for orders in [(2,), (0, 2), (1, 2), (1,)]:
        d = qshift.derivatives(c, x, orders=orders, method="adjoint")
        assert sorted(d.tensors) == sorted(orders)
        assert_same(d, shift, orders)
    one = qshift.derivatives(c, x[1, 2], order=2, method="adjoint")
    assert one.hessian.shape == (c.n_outputs, c.n_symbols, c.n_symbols)
    np.testing.assert_allclose(one.hessian, shift.hessian[1, 2], atol=1e-10)


@pytest.mark.parametrize("shift", [np.pi / 4, 1.0])
def test_other_shifts_with_adjoint_gradients_inside(shift, monkeypatch, rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("controlled-rotations"))
    x = rows_for(c, rng)
    reference = qshift.derivatives(c, x, order=2)
    force(monkeypatch, "adjoint+shift")
    d = qshift.derivatives(c, x, order=2, shift=shift, method="adjoint")
    assert d.method == "adjoint+shift"
    assert_same(d, reference, (0, 1, 2), atol=1e-9)


def test_rows_run_in_chunks_that_fit_the_memory(rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("hea-8q-2l"))
    x = rows_for(c, rng, 5)
    whole = LocalSimulator().adjoint(c, c.slot_angles(x))
    tight = LocalSimulator(max_memory=3 * 2 ** 20)  # a few rows at a time
    chunked = tight.adjoint(c, c.slot_angles(x))
    np.testing.assert_allclose(chunked.gradients, whole.gradients, atol=1e-13)
    d = qshift.derivatives(c, x, order=1, method="adjoint", device=tight)
    np.testing.assert_allclose(d.jacobian, whole.gradients @ c.slot_jacobian, atol=1e-13)
    with pytest.raises(qshift.SimulationMemoryError) as err:
        LocalSimulator(max_memory=2 ** 16).adjoint(c, c.slot_angles(x))
    assert_helpful(err, "max_memory", "shift rule")


def symbol_free_circuit():
    b = qshift.CircuitBuilder(2)
    b.gate("h", 0)
    b.gate("cx", 0, 1)
    b.gate("rx", 0.3, 1)
    b.expectation("Z0")
    b.expectation({0: "X", 1: "X"})
    return b.build()


@pytest.mark.parametrize("order", [1, 2])
def test_circuits_without_symbols_work(order):
    c = symbol_free_circuit()
    assert c.n_symbols == 0
    x = np.zeros((ROWS, 0))
    shift = qshift.derivatives(c, x, order=order)
    adjoint = qshift.derivatives(c, x, order=order, method="adjoint")
    assert_same(adjoint, shift, range(order + 1))
    assert adjoint.derivative(order).shape == (ROWS, 2) + (0,) * order
    r = LocalSimulator().adjoint(c, c.slot_angles(x))
    assert r.gradients.shape == (ROWS, 2, 0)
    np.testing.assert_allclose(r.values, qshift.simulate(c, x), atol=1e-14)


def test_a_symbol_that_feeds_no_gate_has_zero_derivatives(rng):
    b = qshift.CircuitBuilder(2)
    a, _unused = b.inputs("a", "unused")
    b.ry(a, 0).cx(0, 1).rx(2 * a + 0.1, 1)
    b.expectation("Z1")
    c = b.build()
    x = rows_for(c, rng)
    d = qshift.derivatives(c, x, order=2, method="adjoint")
    assert_same(d, qshift.derivatives(c, x, order=2), (0, 1, 2))
    assert not d.jacobian[..., 1].any() and not d.hessian[..., 1, :].any()


def test_no_rows_give_empty_tensors_like_the_shift_rule():
    c = qshift.hardware_efficient(2, 1)
    x = np.zeros((0, c.n_symbols))
    for order in (1, 2):
        shift = qshift.derivatives(c, x, order=order)
        assert shift.derivative(order).shape == (0, 2) + (4,) * order
        try:
            adjoint = qshift.derivatives(c, x, order=order, method="adjoint")
        except ValueError as error:  # BUG: engine._run_adjoint reshapes (0, ...) gradients with -1
            raise AssertionError(f"method='adjoint' fails on zero rows at order {order}: {error!r}") from error
        assert adjoint.derivative(order).shape == shift.derivative(order).shape
        assert adjoint.stats.circuits == 0


# -- counts -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("order", [0, 1, 2])
def test_shift_rule_counts_are_unchanged_without_method(library_circuit, order, rng):
    c = library_circuit
    x = rows_for(c, rng)
    d = qshift.derivatives(c, x, order=order)
    explicit = qshift.derivatives(c, x, order=order, method="shift")
    for r in (d, explicit):
        assert r.method == "shift"
        assert r.stats.circuits == qshift.plan(c, order=order, rows=ROWS).circuits
        assert (r.stats.forward_sweeps, r.stats.backward_sweeps) == (0, 0)
    assert_same(explicit, d, range(order + 1), atol=0)


def test_a_value_alone_is_one_circuit_per_row(rng):
    c = qshift.hardware_efficient(3, 1)
    x = rows_for(c, rng, 5)
    d = qshift.derivatives(c, x, order=0, method="adjoint")
    assert d.method == "shift" and d.stats.circuits == 5 and d.stats.forward_sweeps == 0
    np.testing.assert_allclose(d.value, qshift.simulate(c, x), atol=1e-14)


def test_one_adjoint_run_for_value_and_gradient_whatever_the_symbols(rng):
    c = qshift.hardware_efficient(6, 3, "single")  # 36 symbols: the shift rule would run 73 circuits per row
    x = rows_for(c, rng, 7)
    d = qshift.derivatives(c, x, order=1, method="adjoint")
    assert_adjoint_counts(d, 7, 1)
    assert d.stats.jobs == 1
    assert qshift.plan(c, order=1, rows=7).circuits == 7 * 73


# -- the cost model ------------------------------------------------------------------------------------
def test_a_deep_single_output_circuit_picks_shifted_adjoint_gradients(rng):
    c = qshift.hardware_efficient(6, 3, "single")
    x = rows_for(c, rng, 2)
    d = qshift.derivatives(c, x, order=2, method="adjoint")
    assert d.method == "adjoint+shift" == chosen(c, x, 2)
    assert_branch_counts(d, c, 2, 2, None, "adjoint+shift")
    assert_same(d, qshift.derivatives(c, x, order=2), (0, 1, 2))


def test_many_outputs_pick_the_shifted_batch(rng):
    c = qshift.hardware_efficient(8, 2)
    x = rows_for(c, rng, 2)
    d = qshift.derivatives(c, x, order=2, method="adjoint")
    assert d.method == "shift" == chosen(c, x, 2)
    assert_branch_counts(d, c, 2, 2, None, "shift")


def test_the_cost_functions_count_what_they_say(rng):
    c = qshift.hardware_efficient(4, 2)
    sim = LocalSimulator()
    x = rows_for(c, rng, 3)
    # more adjoint states cost more, and a Jacobian costs more than a product
    assert sim.adjoint_cost(c, 3, 3) < sim.adjoint_cost(c, 3, 3 * c.n_outputs)
    # shared prefixes are cheaper than distinct rows
    same = np.repeat(c.slot_angles(x[:1]), 3, axis=0)
    assert sim.run_cost(c, same) < sim.run_cost(c, c.slot_angles(x))


# -- refusals -----------------------------------------------------------------------------------------
class PlainBackend(Backend):
    """An exact device without an adjoint method, recording its calls."""

    name = "plain"

    def __init__(self):
        self.calls = 0

    def run(self, circuit, angles, *, shots=None, seed=None):
        self.calls += 1
        r = LocalSimulator().run(circuit, angles, shots=shots, seed=seed)
        return RunResult(r.values, r.variances, executions=r.executions, jobs=1)


SIN = qshift.circuit_path("sin")


@pytest.mark.parametrize("method", ["Adjoint", "backprop", "", None, 1])
def test_unknown_methods_are_refused(method):
    with pytest.raises(qshift.RequestError) as err:
        qshift.derivatives(qshift.Circuit.from_qasm(SIN), [0.5], method=method)
    assert_helpful(err, "method", repr(method), "'adjoint'", "'shift'")


@pytest.mark.parametrize("device", ["local", LocalSimulator(default_shots=100)])
def test_adjoint_with_shots_is_refused(device):
    kwargs = {"shots": 100} if device == "local" else {}
    with pytest.raises(qshift.RequestError) as err:
        qshift.derivatives(qshift.Circuit.from_qasm(SIN), [0.5], device=device, method="adjoint", **kwargs)
    assert_helpful(err, "adjoint", "shots=100", "method=")


def test_a_device_without_adjoint_is_refused_and_runs_nothing():
    backend = PlainBackend()
    for kwargs in ({"device": backend}, {"executor": qshift.Executor(backend)}):
        with pytest.raises(qshift.RequestError) as err:
            qshift.derivatives(qshift.Circuit.from_qasm(SIN), [0.5], method="adjoint", **kwargs)
        assert_helpful(err, "adjoint", "'plain'", "local")
    assert backend.calls == 0
    d = qshift.derivatives(qshift.Circuit.from_qasm(SIN), [0.5], device=backend)  # the shift rule runs there
    np.testing.assert_allclose(d.jacobian[0, 0], np.cos(0.5), atol=1e-12)


@pytest.mark.parametrize("device", ["aer", "default.qubit"])
def test_named_devices_without_adjoint_are_refused(device):
    if device not in qshift.available_devices():
        pytest.skip(f"{device} not installed")
    with pytest.raises(qshift.RequestError) as err:
        qshift.derivatives(qshift.Circuit.from_qasm(SIN), [0.5], device=device, method="adjoint")
    assert_helpful(err, "adjoint", repr(device))


@pytest.mark.parametrize("kwargs, word", [({"rule": "min-circuits"}, "min-circuits"),
                                          ({"target_stderr": 0.01}, "target_stderr=0.01"),
                                          ({"allocation": "optimal"}, "'optimal'")])
def test_shot_rules_with_adjoint_are_refused(kwargs, word):
    with pytest.raises(qshift.RequestError) as err:
        qshift.derivatives(qshift.Circuit.from_qasm(SIN), [0.5], order=2, method="adjoint", **kwargs)
    assert_helpful(err, "adjoint", word)
