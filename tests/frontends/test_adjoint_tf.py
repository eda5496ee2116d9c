"""``qshift.tf.function(..., method="adjoint")`` and ``QuantumLayer(..., method="adjoint")``: gradients and
nested-tape Hessians equal the default (shift-rule) function's and ``qshift.derivatives``'s, eagerly and in
graph mode, float32 and float64, through gradient / jacobian / batch_jacobian with and without pfor; wrt;
the sweeps counted; Keras training and .keras round trips."""

import numpy as np
import pytest

import qshift
from qshift.backends.local import LocalSimulator
from qshift.ir.gates import arity

from helpful import assert_helpful
from random_circuits import encoder_circuit, random_circuit

tf = pytest.importorskip("tensorflow", reason="needs qshift[tf]")
import keras  # noqa: E402

from qshift.keras import QuantumLayer  # noqa: E402

ROWS = 5
U3CP = qshift.circuit_path("u3-cp")  # 3 symbols, 7 slots (multi-frequency cp), 2 outputs: D2 is adjoint+shift


def library(name):
    return qshift.Circuit.from_qasm(qshift.circuit_path(name))


def multi_frequency_circuit():
    """A random circuit on 4 qubits with tied, affine symbols and a tail of multi-frequency gates."""
    rng = np.random.default_rng(77)
    tail = ["crx", "sexc", "dexc", "cp", "u3", "cry"]
    assert all(arity(g)[0] <= 4 for g in tail)
    return random_circuit(rng, n_qubits=4, n_ops=20, tail=tail)


CIRCUITS = {"u3-cp": lambda: library("u3-cp"), "vqe-h2-energy": lambda: library("vqe-h2-energy"),
            "reuploading-classifier": lambda: library("reuploading-classifier"), "random": multi_frequency_circuit}


def gradient_and_hessian(f, x, upstream, direction):
    """The gradient of ``sum(upstream * f(x))`` and the Hessian of that loss by nested tapes: the inner
    ``tape.gradient`` is the adjoint VJP op; the outer ``batch_jacobian`` differentiates it."""
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
            loss = tf.reduce_sum(y * upstream)
        g = inner.gradient(loss, x)
        directional = tf.reduce_sum(g * direction)
    h = outer.gradient(directional, x)  # Hessian . direction, through the VJP op's own gradient
    return y, g, h


def reference(c, x, upstream, direction):
    d = qshift.derivatives(c, x, order=2)
    g = np.einsum("bm,bmi->bi", upstream, d.jacobian)
    h = np.einsum("bm,bmij,bj->bi", upstream, d.hessian, direction)
    return d.value, g, h


def spent(f, fn):
    before = f.stats.copy()
    result = fn()
    return result, f.stats - before


# -- gradients and Hessians against the default function ---------------------------------------------
@pytest.mark.parametrize("name", sorted(CIRCUITS))
@pytest.mark.parametrize("dtype", [tf.float64, tf.float32])
def test_gradient_and_nested_hessian_equal_the_default_function(name, dtype, rng):
    c = CIRCUITS[name]()
    x64 = rng.uniform(-2, 2, (ROWS, c.n_symbols))
    upstream = rng.normal(size=(ROWS, c.n_outputs))
    direction = rng.normal(size=(ROWS, c.n_symbols))
    adjoint, shift = qshift.tf.function(c, method="adjoint"), qshift.tf.function(c)
    args = [tf.constant(a, dtype) for a in (x64, upstream, direction)]
    got = gradient_and_hessian(adjoint, *args)
    want = gradient_and_hessian(shift, *args)
    assert all(t.dtype == dtype for t in got)
    exact = reference(c, args[0].numpy().astype(np.float64), upstream, direction)
    tol = 1e-10 if dtype == tf.float64 else 1e-5
    for a, s, e in zip(got, want, exact):
        np.testing.assert_allclose(a.numpy(), s.numpy(), atol=tol, rtol=0 if dtype == tf.float64 else 1e-6)
        np.testing.assert_allclose(a.numpy(), e, atol=tol, rtol=0 if dtype == tf.float64 else 1e-5)
        assert np.abs(a.numpy()).max() > 1e-3
    assert adjoint.stats.forward_sweeps > 0 and shift.stats.forward_sweeps == 0
    assert adjoint.stats.circuits < shift.stats.circuits


def assert_one_sweep_each_way(value, gradient, rows):
    """A value and its gradient: each row swept forward once and back once, the value computed once (by its
    circuits, or by the forward sweep that the backward pass then reuses), and no shifted circuits."""
    assert value.forward_sweeps + gradient.forward_sweeps == rows
    assert (value.backward_sweeps, gradient.backward_sweeps) == (0, rows)
    assert value.circuits + value.forward_sweeps == rows  # not both a run and a sweep for the value
    assert gradient.circuits == 0


def test_one_gradient_call_is_one_adjoint_sweep_per_row(rng):
    c = qshift.Circuit.from_qasm(U3CP)
    f = qshift.tf.function(c, method="adjoint")
    x = tf.constant(rng.uniform(-2, 2, (ROWS, c.n_symbols)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, value = spent(f, lambda: f(x))
    g, gradient = spent(f, lambda: tape.gradient(y, x))
    assert_one_sweep_each_way(value, gradient, ROWS)
    assert f.stats.forward_sweeps == f.stats.backward_sweeps == ROWS
    d = qshift.derivatives(c, x.numpy(), order=1)
    np.testing.assert_allclose(y.numpy(), d.value, atol=1e-12, rtol=0)
    np.testing.assert_allclose(g.numpy(), d.jacobian.sum(axis=1), atol=1e-10, rtol=0)
    # a second gradient at the same values, with another upstream, is still one sweep each way per row
    u = rng.normal(size=(ROWS, c.n_outputs))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    g, again = spent(f, lambda: tape.gradient(y, x, output_gradients=tf.constant(u)))
    assert again.circuits == 0 and again.backward_sweeps == ROWS and again.forward_sweeps <= ROWS
    np.testing.assert_allclose(g.numpy(), np.einsum("bm,bmi->bi", u, d.jacobian), atol=1e-10, rtol=0)


def test_a_nested_hessian_costs_one_product_one_jacobian_and_the_shifted_jacobians(rng):
    c = qshift.Circuit.from_qasm(U3CP)
    x = tf.constant(rng.uniform(-2, 2, (ROWS, c.n_symbols)))
    upstream, direction = rng.normal(size=(ROWS, c.n_outputs)), rng.normal(size=(ROWS, c.n_symbols))
    second = qshift.derivatives(c, x.numpy(), orders=(2,), method="adjoint")
    assert second.method == "adjoint+shift"  # the cost model's choice for this circuit and these rows
    f = qshift.tf.function(c, method="adjoint")
    _, stats = spent(f, lambda: gradient_and_hessian(f, x, upstream, direction))
    m = c.n_outputs
    assert stats.circuits in (0, ROWS)  # the value only (or none: the value from the product's forward sweep)
    assert stats.forward_sweeps == ROWS + ROWS + second.stats.forward_sweeps  # product, D1, D2
    assert stats.backward_sweeps == ROWS + ROWS * m + second.stats.backward_sweeps


def test_the_derivative_ops_are_adjoint_jacobians(rng):
    c = qshift.Circuit.from_qasm(U3CP)
    f = qshift.tf.function(c, method="adjoint")
    x = tf.constant(rng.uniform(-2, 2, (ROWS, c.n_symbols)))
    d = qshift.derivatives(c, x.numpy(), order=3)
    jac, stats = spent(f, lambda: f.derivative(x, order=1))
    assert (stats.circuits, stats.forward_sweeps, stats.backward_sweeps) == (0, ROWS, ROWS * c.n_outputs)
    np.testing.assert_allclose(jac.numpy(), d.jacobian, atol=1e-10, rtol=0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        hess = f.derivative(x, order=2)
    third = tape.batch_jacobian(hess, x)
    np.testing.assert_allclose(hess.numpy(), d.hessian, atol=1e-10, rtol=0)
    np.testing.assert_allclose(third.numpy(), d.derivative(3), atol=1e-10, rtol=0)


# -- jacobian, batch_jacobian, pfor, graph mode -------------------------------------------------------
def first_and_second(f, v, kind, pfor):
    """Value, first and second derivatives by nested tapes of ``kind`` (jacobian or batch_jacobian)."""
    with tf.GradientTape(persistent=True) as outer:
        outer.watch(v)
        with tf.GradientTape(persistent=True) as inner:
            inner.watch(v)
            y = f(v)
        first = getattr(inner, kind)(y, v, experimental_use_pfor=pfor)
    second = getattr(outer, kind)(first, v, experimental_use_pfor=pfor)
    return y, first, second


@pytest.mark.parametrize("graph", [False, True])
@pytest.mark.parametrize("pfor", [True, False])
@pytest.mark.parametrize("kind", ["jacobian", "batch_jacobian"])
def test_jacobians_with_and_without_pfor_eager_and_in_graphs(kind, pfor, graph, rng):
    c = qshift.Circuit.from_qasm(U3CP)
    rows = 3  # an unvectorized nested jacobian loops over every entry: (rows * m) * (rows * n)
    x = tf.constant(rng.uniform(-2, 2, (rows, c.n_symbols)))
    adjoint, shift = qshift.tf.function(c, method="adjoint"), qshift.tf.function(c)
    results = {}
    for f in (adjoint, shift):
        step = lambda v, f=f: first_and_second(f, v, kind, pfor)  # noqa: E731
        results[f.method] = (tf.function(step) if graph else step)(x)
    d = qshift.derivatives(c, x.numpy(), order=2)
    y, first, second = (t.numpy() for t in results["adjoint"])
    if kind == "jacobian":  # rows do not mix: keep each row's own block, and check the others are zero
        own1 = np.stack([first[i, :, i] for i in range(rows)])
        own2 = np.stack([second[i, :, i, :, i] for i in range(rows)])
        assert np.abs(first).sum() == pytest.approx(np.abs(own1).sum(), rel=1e-12)
        assert np.abs(second).sum() == pytest.approx(np.abs(own2).sum(), rel=1e-12)
    else:
        own1, own2 = first, second
    np.testing.assert_allclose(y, d.value, atol=1e-12, rtol=0)
    np.testing.assert_allclose(own1, d.jacobian, atol=1e-10, rtol=0)
    np.testing.assert_allclose(own2, d.hessian, atol=1e-10, rtol=0)
    for a, s in zip(results["adjoint"], results["shift"]):
        np.testing.assert_allclose(a.numpy(), s.numpy(), atol=1e-10, rtol=0)
    assert np.abs(own1).max() > 1e-2 and np.abs(own2).max() > 1e-2
    # the adjoint function ran the value's circuits at most: D1 by sweeps, D2 by shifted adjoint Jacobians
    assert adjoint.stats.circuits in (0, rows) and adjoint.stats.forward_sweeps > 0


def test_a_vectorized_jacobian_contracts_with_one_adjoint_jacobian(rng):
    c = qshift.Circuit.from_qasm(U3CP)
    f = qshift.tf.function(c, method="adjoint")
    x = tf.constant(rng.uniform(-2, 2, (ROWS, c.n_symbols)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    jac, stats = spent(f, lambda: tape.jacobian(y, x, experimental_use_pfor=True))
    # pfor's loop-dependent upstream: D0's gradient is einsum(u, D1) with one adjoint Jacobian for all entries
    assert (stats.circuits, stats.forward_sweeps, stats.backward_sweeps) == (0, ROWS, ROWS * c.n_outputs)
    d = qshift.derivatives(c, x.numpy(), order=1)
    np.testing.assert_allclose(np.stack([jac.numpy()[i, :, i] for i in range(ROWS)]), d.jacobian, atol=1e-10)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_a_graph_mode_training_step(dtype, rng):
    c = qshift.Circuit.from_qasm(U3CP)
    adjoint, shift = qshift.tf.function(c, method="adjoint"), qshift.tf.function(c)
    data = tf.constant(rng.uniform(-1, 1, (ROWS, 2)), dtype)

    def make_step(f):
        @tf.function
        def step(w):
            with tf.GradientTape() as outer:
                outer.watch(w)
                with tf.GradientTape() as inner:
                    inner.watch(w)
                    v = tf.concat([data, tf.broadcast_to(w, (ROWS, 1))], axis=-1) * 1.3
                    loss = tf.reduce_sum(tf.sin(f(v)) * [1.0, -0.5])
                g = inner.gradient(loss, w)
            return loss, g, outer.gradient(g, w)

        return step

    w = tf.constant([0.4], dtype)
    got, want = make_step(adjoint)(w), make_step(shift)(w)
    assert all(t.dtype == dtype for t in got)
    tol = 1e-10 if dtype == tf.float64 else 1e-5
    for a, s in zip(got, want):
        np.testing.assert_allclose(a.numpy(), s.numpy(), atol=tol, rtol=0)
        assert np.abs(a.numpy()).max() > 1e-3
    assert adjoint.stats.forward_sweeps > 0 and adjoint.stats.circuits < shift.stats.circuits


# -- wrt ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("graph", [False, True])
def test_wrt_differentiates_the_listed_symbols_only(graph, rng):
    c = qshift.Circuit.from_qasm(U3CP)  # symbols theta, phi, lam
    wrt = ["phi", "lam"]
    adjoint, shift = qshift.tf.function(c, method="adjoint", wrt=wrt), qshift.tf.function(c, wrt=wrt)
    x = tf.constant(rng.uniform(-2, 2, (ROWS, c.n_symbols)))
    upstream, direction = tf.constant(rng.normal(size=(ROWS, 2))), tf.constant(rng.normal(size=(ROWS, 3)))
    run = (lambda f: tf.function(lambda v: gradient_and_hessian(f, v, upstream, direction))(x)) if graph else \
        (lambda f: gradient_and_hessian(f, x, upstream, direction))
    got, want = run(adjoint), run(shift)
    for a, s in zip(got, want):
        np.testing.assert_allclose(a.numpy(), s.numpy(), atol=1e-10, rtol=0)
    g, h = got[1].numpy(), got[2].numpy()
    assert not g[:, 0].any() and not h[:, 0].any()  # theta is a constant
    d = qshift.derivatives(c, x.numpy(), order=2, wrt=wrt)
    np.testing.assert_allclose(g[:, 1:], np.einsum("bm,bmi->bi", upstream.numpy(), d.jacobian), atol=1e-10)
    np.testing.assert_allclose(
        h[:, 1:], np.einsum("bm,bmij,bj->bi", upstream.numpy(), d.hessian, direction.numpy()[:, 1:]), atol=1e-10)
    assert np.abs(g[:, 1:]).min() > 0 and adjoint.stats.forward_sweeps > 0


def test_wrt_gradient_costs_one_sweep_per_row(rng):
    c = qshift.Circuit.from_qasm(U3CP)
    f = qshift.tf.function(c, method="adjoint", wrt=["lam"])
    x = tf.constant(rng.uniform(-2, 2, (ROWS, c.n_symbols)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, value = spent(f, lambda: f(x))
    g, gradient = spent(f, lambda: tape.gradient(y, x))
    assert_one_sweep_each_way(value, gradient, ROWS)
    d = qshift.derivatives(c, x.numpy(), order=1)
    np.testing.assert_allclose(g.numpy()[:, 2], d.jacobian.sum(axis=1)[:, 2], atol=1e-10)
    assert not g.numpy()[:, :2].any()


# -- refusals -------------------------------------------------------------------------------------------
def test_bad_methods_and_shots_are_refused_when_the_function_is_made():
    c = qshift.Circuit.from_qasm(U3CP)
    with pytest.raises(qshift.RequestError) as err:
        qshift.tf.function(c, method="backprop")
    assert_helpful(err, "method", "'backprop'")
    with pytest.raises(qshift.RequestError) as err:
        qshift.tf.function(c, method="adjoint", shots=100)
    assert_helpful(err, "adjoint", "shots=100")
    with pytest.raises(qshift.RequestError) as err:
        qshift.tf.function(c, method="adjoint", device=LocalSimulator(default_shots=50))
    assert_helpful(err, "adjoint", "shots=50")


# -- Keras ------------------------------------------------------------------------------------------------
def small_model(method, input_gradients=True):
    keras.utils.set_random_seed(11)
    quantum = QuantumLayer(encoder_circuit(), inputs=["x0", "x1"], method=method, input_gradients=input_gradients)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="tanh"), quantum,
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.05), "mse")
    return model, quantum


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # Keras saving TF variables
def test_a_model_trains_the_same_with_adjoint_gradients_and_reloads(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (48, 3)).astype("float32")
    y = (np.sin(x).sum(axis=1, keepdims=True) * 0.5).astype("float32")
    runs = {}
    for method in ("adjoint", "shift"):
        model, quantum = small_model(method)
        history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
        runs[method] = (model, quantum, history.history["loss"])
    (model, quantum, losses), (other, default, reference_losses) = runs["adjoint"], runs["shift"]
    np.testing.assert_allclose(losses, reference_losses, atol=1e-6, rtol=0)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert losses[-1] < losses[0]
    # each of the 6 steps: one product of 16 rows (a forward and a backward sweep each); the default runs
    # 2n + 1 circuits per row
    assert quantum.stats.forward_sweeps == quantum.stats.backward_sweeps == 2 * 48
    assert quantum.stats.circuits in (0, 2 * 48)  # values by circuits, or by the forward sweeps themselves
    assert default.stats.circuits == 2 * 48 * (2 * 10 + 1)

    assert quantum.get_config()["method"] == "adjoint"
    model.save(tmp_path / "adjoint.keras")
    reloaded = keras.models.load_model(tmp_path / "adjoint.keras")
    layer = reloaded.layers[1]
    assert isinstance(layer, QuantumLayer) and layer.method == "adjoint" and layer.function.method == "adjoint"
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    before = layer.stats.copy()
    reloaded.train_on_batch(x[:16], y[:16])
    assert (layer.stats - before).forward_sweeps == 16  # the reloaded layer still trains by the adjoint method


def test_weights_only_with_adjoint_gradients(rng):
    _, quantum = small_model("adjoint", input_gradients=False)
    _, shift_quantum = small_model("shift", input_gradients=False)
    x = tf.constant(rng.uniform(-1, 1, (4, 2)), tf.float32)
    grads = {}
    for layer in (quantum, shift_quantum):
        layer.circuit_weights.assign(np.linspace(-1, 1, 8))
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.reduce_sum(layer(x) * [1.0, -2.0])
        grads[layer.method] = tape.gradient(out, [x, layer.circuit_weights])
    assert not np.any(grads["adjoint"][0].numpy())  # the features are constants
    for a, s in zip(grads["adjoint"], grads["shift"]):
        np.testing.assert_allclose(a.numpy(), s.numpy(), atol=1e-6)
    assert np.abs(grads["adjoint"][1].numpy()).max() > 1e-3


def test_a_graph_gradient_with_given_upstream_sweeps_forward_once():
    """``tape.gradient(y, x, output_gradients=u)`` in a ``tf.function``: the VJP does not depend on the
    forward op's output, and still runs after it, on its recorded forward sweep."""
    c = qshift.hardware_efficient(3, 2)
    f = qshift.tf.function(c, method="adjoint")
    rng = np.random.default_rng(5)
    x = tf.constant(rng.uniform(-1, 1, (6, c.n_symbols)))
    u = tf.constant(rng.normal(size=(6, c.n_outputs)))

    @tf.function
    def step(values, upstream):
        with tf.GradientTape() as tape:
            tape.watch(values)
            y = f(values)
        return tape.gradient(y, values, output_gradients=upstream)

    before = f.stats.copy()
    g = step(x, u)
    ran = f.stats - before
    assert (ran.forward_sweeps, ran.backward_sweeps, ran.circuits) == (6, 6, 0)
    expected = np.einsum("bk,bkn->bn", u.numpy(), qshift.derivatives(c, x.numpy(), order=1).jacobian)
    np.testing.assert_allclose(g.numpy(), expected, rtol=0, atol=1e-10)
