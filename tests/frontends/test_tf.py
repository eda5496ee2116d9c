"""qshift.tf.function: nested-tape derivatives of every order against qshift.derivatives, PennyLane and
closed forms; circuit counts against the planner; eager and graph mode; the VJP contract; pfor."""

import math
import subprocess
import sys

import numpy as np
import pytest

import qshift
from qshift.api.request import Request

tf = pytest.importorskip("tensorflow", reason="needs qshift[tf]")

from reference import pennylane_derivatives, pennylane_qnode

SIN = qshift.circuit_path("sin")
BLOG_WEIGHTS = [0.4, 0.1, 0.2]


def tape_derivatives(fn, x, order, pfor=True, first="jacobian"):
    """``[value, d1, ..., d_order]`` of ``fn`` at ``x`` by ``order`` nested tapes.

    The innermost tape takes ``tape.gradient`` when ``first == "gradient"`` (a scalar-valued
    derivative), every other level ``tape.jacobian(..., experimental_use_pfor=pfor)``; ``pfor``
    may also be one flag per level, innermost first.
    """
    pfors = (pfor,) * order if isinstance(pfor, bool) else tuple(pfor)

    def level(k):
        if k == 0:
            return [fn(x)]
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            results = level(k - 1)
        if k == 1 and first == "gradient":
            results.append(tape.gradient(results[-1], x))
        else:
            results.append(tape.jacobian(results[-1], x, experimental_use_pfor=pfors[k - 1]))
        return results

    return level(order)


def count(f, fn):
    """Circuits and jobs ``f`` executed while running ``fn()``; returns (result, circuits, jobs)."""
    before = f.stats.copy()
    result = fn()
    spent = f.stats - before
    return result, spent.circuits, spent.jobs


def elementwise_sin(shift):
    """The blog's ``sin`` of a vector: the sin circuit applied with a trailing symbol axis of size 1."""
    f = qshift.tf.function(qshift.Circuit.from_qasm(SIN), shift=shift)
    return lambda v: tf.reshape(f(tf.reshape(v, (-1, 1))), tf.shape(v)), f


# -- the blog's examples ------------------------------------------------------------------------------
def test_blog_sin_to_fourth_order():
    sin, f = elementwise_sin(math.pi / 2)
    w = tf.Variable(BLOG_WEIGHTS)
    with tf.GradientTape() as t4:
        with tf.GradientTape() as t3:
            with tf.GradientTape() as t2:
                with tf.GradientTape() as t1:
                    res = sin(w)
                grad = t1.gradient(res, w)
            grad2 = t2.gradient(grad, w)
        grad3 = t3.gradient(grad2, w)
    grad4 = t4.gradient(grad3, w)
    x = np.array(BLOG_WEIGHTS, dtype=np.float32)
    for got, want in zip([res, grad, grad2, grad3, grad4], [np.sin(x), np.cos(x), -np.sin(x), -np.cos(x), np.sin(x)]):
        assert got.dtype == tf.float32
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-7)
    # three rows: 3 * plan(order=4) circuits in all; with shift pi/2, orders 3 and 4 fold onto orders 1 and 2
    # (sin(x + 3pi/2) = sin(x - pi/2)), so they are answered from the cache without a job
    assert (f.stats.circuits, f.stats.jobs) == (3 * qshift.plan(f.circuit, order=4).circuits, 3)


def test_blog_third_order_listing_prints_the_second_derivative():
    sin, _ = elementwise_sin(math.pi / 2)
    w = tf.Variable(BLOG_WEIGHTS)
    with tf.GradientTape() as tape1:
        with tf.GradientTape() as tape2:
            with tf.GradientTape() as tape3:
                res = sin(w)
            grad = tape3.gradient(res, w)
        tape2.gradient(grad, w)
    np.testing.assert_allclose(tape1.gradient(grad, w).numpy(), -np.sin(BLOG_WEIGHTS), rtol=1e-6)


@pytest.mark.parametrize("pfor", [False, True])
def test_blog_composite_model(pfor):
    sin4, _ = elementwise_sin(math.pi / 4)
    sin2, _ = elementwise_sin(math.pi / 2)
    weights = tf.Variable(BLOG_WEIGHTS)
    with tf.GradientTape(persistent=True) as tape1:
        with tf.GradientTape(persistent=True) as tape2:
            y = tf.stack([weights[1] * weights[2], weights[2], weights[0]])
            res = sin4(weights) + 3 * sin2(y) ** 2
        grad = tape2.gradient(res, weights)
    hess = tape1.jacobian(grad, weights, experimental_use_pfor=pfor)
    np.testing.assert_allclose(res.numpy(), [0.39061818, 0.21824193, 0.6536093], rtol=2e-6)
    np.testing.assert_allclose(grad.numpy(), [3.0731294, 1.0189977, 2.1603184], rtol=2e-6)
    np.testing.assert_allclose(hess.numpy(), [[3.7908227, 0, 0], [0, 0.13997458, 0.23987202],
                                              [0, 0.23987202, 5.3876476]], rtol=2e-6, atol=1e-7)


# -- every order against independent references -------------------------------------------------------
def pennylane_third(circuit, x):
    """Third derivative tensor (n_out, n, n, n) by PennyLane autograd backprop (independent of shift rules)."""
    import pennylane as qml
    from pennylane import numpy as pnp

    qnode = pennylane_qnode(circuit)
    backprop = qml.QNode(qnode.func, qnode.device, diff_method="backprop")
    fn = lambda v: qml.math.stack(backprop(v))  # noqa: E731
    third = qml.jacobian(qml.jacobian(qml.jacobian(fn)))(pnp.array(x, requires_grad=True))
    return np.asarray(third)


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")  # inside PennyLane's autograd backprop
@pytest.mark.parametrize("name", ["sin", "ising-2q", "u3-cp", "controlled-rotations", "bell-xx-yy"])
def test_small_library_circuits_match_pennylane_to_third_order(name, rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path(name))
    x = rng.uniform(-2, 2, c.n_symbols)
    pl_value, pl_jac, pl_hess = pennylane_derivatives(c, x)
    pl_third = pennylane_third(c, x)
    for pfor in (True, False):
        f = qshift.tf.function(c)
        value, jac, hess, third = tape_derivatives(f, tf.constant(x), 3, pfor=pfor)
        np.testing.assert_allclose(value.numpy(), pl_value, atol=1e-10)
        np.testing.assert_allclose(jac.numpy(), pl_jac, atol=1e-10)
        np.testing.assert_allclose(hess.numpy(), pl_hess, atol=1e-9)
        np.testing.assert_allclose(third.numpy(), pl_third, atol=1e-9)
        np.testing.assert_allclose(third.numpy(), qshift.derivatives(c, x, order=3).derivative(3), atol=1e-12)
        assert f.stats.circuits == qshift.plan(c, order=3).circuits


@pytest.mark.parametrize("name", ["vqe-h2", "hea-4q-2l", "reuploading-classifier", "qaoa-maxcut-6", "hea-8q-2l"])
def test_larger_library_circuits_match_derivatives(name, rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path(name))
    f = qshift.tf.function(c)
    x = rng.uniform(-2, 2, c.n_symbols)
    results = tape_derivatives(f, tf.constant(x), 2)
    d = qshift.derivatives(c, x, order=2)
    for k, got in enumerate(results):
        np.testing.assert_allclose(got.numpy(), d.derivative(k), atol=1e-10)
    assert f.stats.circuits == qshift.plan(c, order=2).circuits
    if name in ("vqe-h2", "hea-4q-2l"):  # PennyLane is slow on the others; test_derivatives covers them
        _, pl_jac, pl_hess = pennylane_derivatives(c, x)
        np.testing.assert_allclose(results[1].numpy(), pl_jac, atol=1e-10)
        np.testing.assert_allclose(results[2].numpy(), pl_hess, atol=1e-9)


# -- what it costs ------------------------------------------------------------------------------------
def test_gradient_costs_2n_circuits_beyond_the_forward_pass():
    c = qshift.hardware_efficient(3, 1)
    n = c.n_symbols
    f = qshift.tf.function(c)
    x = tf.constant(np.linspace(-1, 1, n))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, circuits, jobs = count(f, lambda: f(x))
    assert (circuits, jobs) == (1, 1)
    _, circuits, jobs = count(f, lambda: tape.gradient(y, x))
    assert (circuits, jobs) == (2 * n, 1)


@pytest.mark.parametrize("pfor", [True, False])
@pytest.mark.parametrize("first", ["gradient", "jacobian"])
def test_hessian_by_nested_tapes_costs_the_plan(pfor, first):
    c = qshift.hardware_efficient(3, 1)  # one two-term slot per symbol, 3 outputs
    n = c.n_symbols
    f = qshift.tf.function(c)
    x = tf.constant(np.linspace(-1.3, 0.9, n))
    fn = (lambda v: tf.reduce_sum(f(v) * [0.5, -1.0, 2.0])) if first == "gradient" else f
    results, circuits, jobs = count(f, lambda: tape_derivatives(fn, x, 2, pfor=pfor, first=first))
    assert circuits == 2 * n**2 + n + 1 == qshift.plan(c, order=2).circuits
    assert jobs == 3  # value, gradient, Hessian: one job each, no re-execution per output or per row
    d = qshift.derivatives(c, x.numpy(), order=2)
    want = np.einsum("m,mij->ij", [0.5, -1.0, 2.0], d.hessian) if first == "gradient" else d.hessian
    np.testing.assert_allclose(results[2].numpy(), want, atol=1e-10)


@pytest.mark.parametrize("pfor", [True, False])
def test_third_order_costs_the_plan(pfor, rng):
    c = qshift.hardware_efficient(2, 1)
    f = qshift.tf.function(c)
    x = tf.constant(rng.uniform(-2, 2, c.n_symbols))
    results, circuits, jobs = count(f, lambda: tape_derivatives(f, x, 3, pfor=pfor))
    assert (circuits, jobs) == (qshift.plan(c, order=3).circuits, 4)
    np.testing.assert_allclose(results[3].numpy(), qshift.derivatives(c, x.numpy(), order=3).derivative(3),
                               atol=1e-10)


@pytest.mark.parametrize("pfors", [(True, False, True), (False, False, False), (False, False, True)])
def test_third_order_with_mixed_pfor_in_a_graph_works_wherever_tensorflow_does(pfors, rng):
    # An unvectorized inner jacobian under a vectorized outer one, in one tf.function, is beyond
    # TensorFlow's pfor for plain TF ops too: qshift raises the same error there, never a wrong number.
    c = qshift.hardware_efficient(2, 1)
    x = tf.constant(rng.uniform(-2, 2, c.n_symbols))
    plain = lambda v: tf.stack([tf.reduce_sum(tf.sin(v) * tf.cos(2 * v)), tf.reduce_sum(v ** 3)])  # noqa: E731
    f = qshift.tf.function(c)
    if pfors == (False, False, True):
        for fn in (plain, f):
            with pytest.raises(ValueError, match="Vectorization can be disabled"):
                tf.function(lambda v, fn=fn: tape_derivatives(fn, v, 3, pfor=pfors)[-1])(x)
        return
    third = tf.function(lambda v: tape_derivatives(f, v, 3, pfor=pfors)[-1])(x)
    np.testing.assert_allclose(third.numpy(), qshift.derivatives(c, x.numpy(), order=3).derivative(3), atol=1e-10)
    assert f.stats.circuits == qshift.plan(c, order=3).circuits


def test_repeated_calls_hit_the_cache(rng):
    c = qshift.hardware_efficient(2, 1)
    f = qshift.tf.function(c)
    x = tf.constant(rng.uniform(-2, 2, c.n_symbols))
    tape_derivatives(f, x, 2)
    _, circuits, jobs = count(f, lambda: tape_derivatives(f, x, 2, pfor=False))
    assert (circuits, jobs) == (0, 0)


def test_cache_and_memo_are_bounded(rng):
    c = qshift.hardware_efficient(2, 1)
    f = qshift.tf.function(c, cache_size=50)
    for _ in range(30):
        x = tf.constant(rng.uniform(-2, 2, (3, c.n_symbols)))
        tape_derivatives(lambda v: tf.reduce_sum(f(v)), x, 1, first="gradient")
    assert len(f.cache) == 50
    assert len(f._memo) <= 8
    assert f.stats.circuits == 30 * 3 * (1 + 2 * c.n_symbols)


# -- modes, dtypes, shapes ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("pfor", [True, False])
def test_graph_mode_with_batch_dimensions(dtype, pfor, rng):
    c = qshift.hardware_efficient(2, 1)
    f = qshift.tf.function(c)
    x = rng.uniform(-2, 2, (2, 3, c.n_symbols))

    @tf.function
    def derivatives(v):
        with tf.GradientTape(persistent=True) as outer:
            outer.watch(v)
            with tf.GradientTape(persistent=True) as inner:
                inner.watch(v)
                y = f(v)
            jac = inner.jacobian(y, v, experimental_use_pfor=pfor)  # (2, 3, m, 2, 3, n)
        return y, jac, outer.jacobian(jac, v, experimental_use_pfor=pfor)  # (2, 3, m, 2, 3, n, 2, 3, n)

    (y, jac, hess), circuits, jobs = count(f, lambda: derivatives(tf.constant(x, dtype)))
    d = qshift.derivatives(c, x, order=2)
    assert y.dtype == jac.dtype == hess.dtype == dtype and y.shape == (2, 3, c.n_outputs)
    assert circuits == 6 * qshift.plan(c, order=2).circuits
    assert jobs <= 3  # a graph may run the Hessian op first; the value then comes from the cache
    tol = 1e-6 if dtype == tf.float32 else 1e-12
    np.testing.assert_allclose(y.numpy(), d.value, atol=tol)
    for i, j in np.ndindex(2, 3):  # rows do not mix: only the row's own block is nonzero
        np.testing.assert_allclose(jac.numpy()[i, j, :, i, j], d.jacobian[i, j], atol=tol)
        np.testing.assert_allclose(hess.numpy()[i, j, :, i, j, :, i, j], d.hessian[i, j], atol=tol)
    assert np.abs(jac.numpy()).sum() == pytest.approx(np.abs(d.jacobian).sum(), rel=1e-5)


def test_eager_and_graph_agree_and_outputs_keep_the_input_dtype(rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2"))
    f = qshift.tf.function(c)
    x = rng.uniform(-1, 1, (4, c.n_symbols))
    for dtype in (tf.float32, tf.float64, tf.int32):
        eager = f(tf.cast(x * 3, dtype))
        graph = tf.function(f)(tf.cast(x * 3, dtype))
        assert eager.dtype == graph.dtype == (dtype if dtype.is_floating else tf.float64)
        np.testing.assert_array_equal(eager.numpy(), graph.numpy())


def test_derivative_method_gives_any_order_and_is_differentiable(rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
    f = qshift.tf.function(c)
    x = tf.constant(rng.uniform(-2, 2, c.n_symbols))
    with tf.GradientTape() as tape:
        tape.watch(x)
        hess = f.derivative(x, order=2)
    third = tape.jacobian(hess, x)
    d = qshift.derivatives(c, x.numpy(), order=3)
    np.testing.assert_allclose(hess.numpy(), d.hessian, atol=1e-12)
    np.testing.assert_allclose(third.numpy(), d.derivative(3), atol=1e-12)
    with pytest.raises(qshift.RequestError, match="non-negative"):
        f.derivative(x, order=-1)


# -- the VJP contract ---------------------------------------------------------------------------------
def test_gradients_reach_weights_and_data_and_honour_upstream(rng):
    c = qshift.hardware_efficient(2, 1)  # symbols y0_0 z0_0 y0_1 z0_1: data feeds y, weights feed z
    f = qshift.tf.function(c)
    data = tf.Variable(rng.uniform(-1, 1, (5, 2)))
    weights = tf.Variable(rng.uniform(-1, 1, 2))
    frozen = tf.Variable(0.3, dtype=tf.float64, trainable=False)
    steps = tf.constant(2)
    upstream = rng.normal(size=(5, c.n_outputs))
    with tf.GradientTape() as tape:
        w = tf.broadcast_to(weights, (5, 2)) + frozen * tf.cast(steps, tf.float64)
        values = tf.stack([data[:, 0], w[:, 0], data[:, 1], w[:, 1]], axis=-1)
        y = f(values)
    g_data, g_weights, g_frozen, g_steps = tape.gradient(y, [data, weights, frozen, steps],
                                                         output_gradients=tf.constant(upstream))
    jac = qshift.derivatives(c, tf.stack([data[:, 0], w[:, 0], data[:, 1], w[:, 1]], -1).numpy(), order=1).jacobian
    vjp = np.einsum("bm,bmn->bn", upstream, jac)
    np.testing.assert_allclose(g_data.numpy(), vjp[:, [0, 2]], atol=1e-12)
    np.testing.assert_allclose(g_weights.numpy(), vjp[:, [1, 3]].sum(0), atol=1e-12)
    assert g_frozen is None and g_steps is None


def test_integer_values_get_no_gradient():
    f = qshift.tf.function(qshift.Circuit.from_qasm(SIN))
    x = tf.constant([[1], [2]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    assert y.dtype == tf.float64
    assert tape.gradient(y, x) is None


def test_hessian_through_a_nonlinear_classical_function(rng):
    c = qshift.hardware_efficient(2, 1)
    f = qshift.tf.function(c)
    a = rng.normal(size=(c.n_symbols, 3))
    w0 = rng.uniform(-1, 1, 3)
    g = lambda w: tf.tanh(tf.linalg.matvec(tf.constant(a), w)) * 2  # noqa: E731
    loss = lambda w: tf.reduce_sum(f(g(w)) * [1.0, -0.5])  # noqa: E731
    _, grad, hess = tape_derivatives(loss, tf.Variable(w0), 2, first="gradient")
    # chain rule by hand: L = u . f(g(w))
    u = np.array([1.0, -0.5])
    z = a @ w0
    gw, dg = 2 * np.tanh(z), 2 * (1 - np.tanh(z) ** 2)[:, None] * a  # g(w) and its Jacobian (n, 3)
    d2g = (-4 * np.tanh(z) * (1 - np.tanh(z) ** 2))[:, None, None] * a[:, :, None] * a[:, None, :]
    d = qshift.derivatives(c, gw, order=2)
    uj, uh = u @ d.jacobian, np.einsum("m,mij->ij", u, d.hessian)
    np.testing.assert_allclose(grad.numpy(), uj @ dg, atol=1e-12)
    np.testing.assert_allclose(hess.numpy(), dg.T @ uh @ dg + np.einsum("n,nij->ij", uj, d2g), atol=1e-11)


# -- pfor, errors, shots ------------------------------------------------------------------------------
def test_vectorized_map_over_loop_dependent_values_raises(rng):
    f = qshift.tf.function(qshift.hardware_efficient(2, 1))
    x = tf.constant(rng.uniform(-1, 1, (3, 4)))
    with pytest.raises(qshift.QShiftError, match="experimental_use_pfor=False"):
        tf.vectorized_map(f, x)
    np.testing.assert_allclose(tf.vectorized_map(lambda s: f(x[0]) * s, tf.constant([1.0, 2.0], tf.float64)),
                               np.outer([1, 2], f(x[0])), atol=1e-12)  # loop-invariant values are fine


def test_values_of_the_wrong_shape_or_type():
    f = qshift.tf.function(qshift.hardware_efficient(2, 1))
    with pytest.raises(qshift.ValuesError, match=r"shape \(\.\.\., 4\)"):
        f(tf.zeros((2, 3)))
    with pytest.raises(qshift.ValuesError, match="real numbers"):
        f(tf.zeros((2, 4), tf.complex64))
    with pytest.raises(qshift.ValuesError, match="wrong shape"):
        tf.function(f)(tf.zeros((2, 5)))
    with pytest.raises(qshift.QShiftError, match="qshift.Circuit"):
        qshift.tf.function(42)


def test_qasm_text_and_paths_are_accepted():
    c = qshift.Circuit.from_qasm(SIN)
    for source in (SIN, c.to_qasm()):
        assert qshift.tf.function(source).circuit == c


def test_shots_estimate_the_exact_derivatives(rng):
    c = qshift.hardware_efficient(2, 1)
    exact = qshift.tf.function(c)
    noisy = qshift.tf.function(c, shots=20_000, seed=7)
    x = tf.constant(rng.uniform(-1, 1, c.n_symbols))
    want = tape_derivatives(exact, x, 1)
    got = tape_derivatives(noisy, x, 1)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), atol=0.05)
    assert noisy.stats.shots > 0


def test_missing_tensorflow_is_a_clear_error():
    code = ("import sys; sys.modules['tensorflow'] = None\nimport qshift\n"
            "try:\n    qshift.tf\nexcept qshift.MissingExtraError as e:\n    print('qshift[tf]' in str(e))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"


def test_every_order_runs_on_the_request_checked_once(monkeypatch, rng):
    # The op calls the engine with f's request moved to x and order k: the arguments are not
    # checked again, no executor is made and no store opened per order.
    f = qshift.tf.function(qshift.hardware_efficient(2, 1), shots=300, seed=2)
    made = []
    monkeypatch.setattr(Request, "of", classmethod(lambda cls, *a: made.append(a)))
    monkeypatch.setattr(qshift.api.derivatives, "derivatives", None)
    values = tape_derivatives(f, tf.constant(rng.uniform(-1, 1, 4)), 2)
    assert made == [] and [v.shape for v in values] == [(2,), (2, 4), (2, 4, 4)]
    assert f.stats.shots == 300 * f.stats.executions


# -- gradients only where asked (wrt) -----------------------------------------------------------------
REUPLOADING = qshift.circuit_path("reuploading-classifier")  # x0, x1 fed to three RY gates each; w0..w11 once


def masked(c, wrt):
    """Indices of the listed symbols and of the others."""
    listed = [c.symbols.index(s) for s in wrt]
    return listed, [i for i in range(c.n_symbols) if i not in listed]


@pytest.mark.parametrize("wrt", [["w3", "x0", "w10"], ["x1"]])
@pytest.mark.parametrize("rows", [(), (3,)])
def test_wrt_keeps_the_listed_derivatives_zeroes_the_others_and_costs_the_plan(wrt, rows, rng):
    c = qshift.Circuit.from_qasm(REUPLOADING)
    f = qshift.tf.function(c, wrt=wrt)
    x = tf.constant(rng.uniform(-2, 2, rows + (c.n_symbols,)))
    r = int(np.prod(rows))
    listed, others = masked(c, wrt)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y, forward, _ = count(f, lambda: f(x))
        grad, gradient, _ = count(f, lambda: inner.gradient(y, x))  # (*rows, n): one output, so the row's Jacobian
        hess, hessian, jobs = count(f, lambda: outer.jacobian(grad, x))
    assert forward + gradient == qshift.plan(c, order=1, wrt=wrt, rows=r).circuits
    assert forward + gradient + hessian == qshift.plan(c, order=2, wrt=wrt, rows=r).circuits == f.stats.circuits
    d = qshift.derivatives(c, x.numpy(), order=2)  # every symbol: the reference entries
    hess = hess.numpy().reshape((r, c.n_symbols, r, c.n_symbols))
    block = np.stack([hess[i, :, i] for i in range(r)]).reshape(rows + (c.n_symbols,) * 2)
    assert np.all(hess.transpose(0, 2, 1, 3)[~np.eye(r, dtype=bool)] == 0)  # rows do not mix
    np.testing.assert_allclose(grad.numpy()[..., listed], d.jacobian[..., 0, listed], atol=1e-12)
    np.testing.assert_allclose(block[..., listed, :][..., listed], d.hessian[..., 0, listed, :][..., listed],
                               atol=1e-12)
    assert np.all(grad.numpy()[..., others] == 0)
    assert np.all(block[..., others, :] == 0) and np.all(block[..., :, others] == 0)


def test_wrt_of_two_term_gates_costs_2w_plus_1_and_2w2_plus_w_plus_1_per_row(rng):
    c = qshift.hardware_efficient(3, 2)  # 12 symbols, one two-term gate each
    wrt = ["z0_1", "y1_0", "y1_2", "z1_2"]
    w = len(wrt)
    for r in (1, 4):
        f = qshift.tf.function(c, wrt=wrt)
        x = tf.constant(rng.uniform(-2, 2, (r, c.n_symbols)))
        _, circuits, jobs = count(f, lambda: tape_derivatives(lambda v: tf.reduce_sum(f(v)), x, 1, first="gradient"))
        assert (circuits, jobs) == (r * (2 * w + 1), 2)
        _, circuits, jobs = count(f, lambda: tape_derivatives(f, x, 2))
        assert (circuits, jobs) == (r * (2 * w**2 - w), 1)  # the value and the gradient are cached
        assert f.stats.circuits == r * (2 * w**2 + w + 1) == qshift.plan(c, order=2, wrt=wrt, rows=r).circuits


def test_wrt_agrees_with_finite_differences_of_the_exact_state(rng):
    c = qshift.Circuit.from_qasm(REUPLOADING)
    wrt = ["x0", "w5"]
    f = qshift.tf.function(c, wrt=wrt)
    x0 = rng.uniform(-2, 2, c.n_symbols)
    listed, others = masked(c, wrt)
    _, jac, hess = tape_derivatives(f, tf.constant(x0), 2)
    value = lambda v: float(np.ravel(qshift.simulate(c, v))[0])  # noqa: E731  exact simulation, no shift rule
    e = np.eye(c.n_symbols)
    h1, h2 = 1e-5, 1e-3
    fd_jac = [(value(x0 + h1 * e[i]) - value(x0 - h1 * e[i])) / (2 * h1) for i in listed]
    fd_hess = [[(value(x0 + h2 * (e[i] + e[j])) - value(x0 + h2 * (e[i] - e[j])) - value(x0 - h2 * (e[i] - e[j]))
                 + value(x0 - h2 * (e[i] + e[j]))) / (4 * h2**2) for j in listed] for i in listed]
    np.testing.assert_allclose(jac.numpy()[0, listed], fd_jac, atol=1e-8)
    np.testing.assert_allclose(hess.numpy()[0][np.ix_(listed, listed)], fd_hess, atol=2e-5)
    assert np.all(jac.numpy()[0, others] == 0) and np.all(hess.numpy()[0, others] == 0)
    assert np.all(hess.numpy()[0][:, others] == 0)


@pytest.mark.parametrize("graph", [False, True])
def test_wrt_is_stop_gradient_on_the_others_at_every_order(graph, rng):
    # The reference: the full function with tf.stop_gradient on the unlisted columns, through a
    # nonlinear classical map, so the upstream of every order is not trivial.
    c = qshift.hardware_efficient(2, 2)
    wrt = ["y0_0", "y1_1", "z0_1"]
    listed, _ = masked(c, wrt)
    mask = tf.constant(np.isin(np.arange(c.n_symbols), listed))
    full, only = qshift.tf.function(c), qshift.tf.function(c, wrt=wrt)
    a = tf.constant(rng.normal(size=(c.n_symbols, 5)))
    g = lambda w: tf.sin(tf.linalg.matvec(a, w)) * 2  # noqa: E731
    stopped = lambda v: full(tf.where(mask, v, tf.stop_gradient(v)))  # noqa: E731
    losses = [lambda w, fn=fn: tf.reduce_sum(fn(g(w)) * [1.0, -0.7]) for fn in (stopped, only)]
    w0 = tf.constant(rng.uniform(-1, 1, 5))
    run_ = (lambda fn: tf.function(lambda w: tape_derivatives(fn, w, 3, first="gradient"))(w0)) if graph else \
        (lambda fn: tape_derivatives(fn, w0, 3, first="gradient"))
    want, got = run_(losses[0]), run_(losses[1])
    for k in range(4):
        np.testing.assert_allclose(got[k].numpy(), want[k].numpy(), atol=1e-11)
    assert np.abs(got[3].numpy()).max() > 0.1
    assert only.stats.circuits < full.stats.circuits


def test_derivative_method_with_wrt_keeps_every_symbol_axis(rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("u3-cp"))
    f = qshift.tf.function(c, wrt=["phi", "theta"])
    x = rng.uniform(-2, 2, (2, c.n_symbols))
    listed, others = masked(c, ["phi", "theta"])
    d = qshift.derivatives(c, x, order=3)
    for k in range(4):
        got = f.derivative(x, order=k).numpy()
        assert got.shape == (2, c.n_outputs) + (c.n_symbols,) * k
        for index in np.ndindex((c.n_symbols,) * k):
            entry = got[(Ellipsis,) + index]
            if set(index) <= set(listed):
                np.testing.assert_allclose(entry, d.derivative(k)[(Ellipsis,) + index], atol=1e-12)
            else:
                assert np.all(entry == 0)
    assert f.stats.circuits == qshift.plan(c, order=3, wrt=["phi", "theta"], rows=2).circuits


def test_wrt_is_checked_when_the_function_is_made():
    c = qshift.hardware_efficient(2, 1)
    for bad, message in [(3, "list of symbol names"), ([0, 1], "list of symbol names"), ([b"y0_0"], "list of"),
                         (["y0_0", "theta"], "unknown symbol 'theta'"), (["z0_1", "z0_1"], "twice")]:
        with pytest.raises(qshift.RequestError, match=message):
            qshift.tf.function(c, wrt=bad)
    assert qshift.tf.function(c, wrt="y0_1").wrt == ("y0_1",)
    assert qshift.tf.function(c).wrt is None
