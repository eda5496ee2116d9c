"""qshift.keras.QuantumLayer: symbol mapping, gradients, config and .keras round trips, and a hybrid
classifier trained with model.fit on two moons."""

import numpy as np
import pytest

import qshift

tf = pytest.importorskip("tensorflow", reason="needs qshift[tf]")
import keras  # noqa: E402

from qshift.keras import QuantumLayer  # noqa: E402
from random_circuits import encoder_circuit as encoder  # noqa: E402


def encoder_circuit(n_qubits: int, layers: int) -> qshift.Circuit:
    return encoder(n_qubits, layers, name="moons")


def two_moons(n: int, noise: float, rng) -> tuple[np.ndarray, np.ndarray]:
    t = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    upper = np.c_[np.cos(t), np.sin(t)]
    lower = np.c_[1 - np.cos(t), 0.5 - np.sin(t)]
    x = np.where(label[:, None] == 0, upper, lower) + rng.normal(0, noise, (n, 2))
    return x.astype("float32"), label.astype("float32")


def test_layer_maps_features_and_weights_to_symbols(rng):
    c = encoder_circuit(2, 1)  # symbols x0 x1 a0_0 b0_0 a0_1 b0_1
    layer = QuantumLayer(c, inputs=["x1", "x0"], weights=["b0_1", "a0_0", "b0_0", "a0_1"])
    x = rng.uniform(-1, 1, (5, 2)).astype("float32")
    y = layer(x)
    w = layer.circuit_weights.numpy()
    values = np.c_[x[:, 1], x[:, 0], np.tile([w[1], w[2], w[3], w[0]], (5, 1))]
    assert y.shape == (5, 2) and y.dtype == tf.float32
    np.testing.assert_allclose(y.numpy(), qshift.simulate(c, values), atol=1e-6)
    assert layer.weight_symbols == ("b0_1", "a0_0", "b0_0", "a0_1")
    assert layer.stats.circuits == 5


def test_gradients_reach_weights_and_features_with_leading_dimensions(rng):
    c = encoder_circuit(2, 1)
    layer = QuantumLayer(c, inputs=["x0", "x1"])
    x = tf.constant(rng.uniform(-1, 1, (2, 3, 2)), tf.float32)
    upstream = rng.normal(size=(2, 3, 2))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    g_x, g_w = tape.gradient(y, [x, layer.circuit_weights], output_gradients=tf.constant(upstream, tf.float32))
    w = layer.circuit_weights.numpy().astype(float)
    values = np.concatenate([x.numpy().astype(float), np.broadcast_to(w, (2, 3, 4))], axis=-1)
    vjp = np.einsum("...m,...mn->...n", upstream, qshift.derivatives(c, values, order=1).jacobian)
    assert y.shape == (2, 3, 2)
    np.testing.assert_allclose(g_x.numpy(), vjp[..., :2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g_w.numpy(), vjp[..., 2:].sum(axis=(0, 1)), rtol=1e-5, atol=1e-6)


def test_config_round_trip_keeps_circuit_split_and_initializer():
    c = encoder_circuit(2, 1)
    layer = QuantumLayer(c, inputs=["x0", "x1"], initializer=keras.initializers.Constant(0.25), shift=np.pi / 4,
                         name="q")
    config = layer.get_config()
    assert "OPENQASM 3" in config["circuit"] and config["shift"] == np.pi / 4
    clone = QuantumLayer.from_config(config)
    assert clone.circuit == c and clone.input_symbols == ("x0", "x1") and clone.name == "q"
    assert clone.weight_symbols == layer.weight_symbols and clone.function.shift == np.pi / 4
    clone.build((None, 2))
    np.testing.assert_array_equal(clone.circuit_weights.numpy(), np.full(4, 0.25, "float32"))


def test_bad_symbol_splits_and_feature_counts():
    c = encoder_circuit(2, 1)
    with pytest.raises(qshift.QShiftError, match="missing: \\['x1'\\]"):
        QuantumLayer(c, inputs=["x0"], weights=["a0_0", "b0_0", "a0_1", "b0_1"])
    with pytest.raises(qshift.QShiftError, match="named twice"):
        QuantumLayer(c, inputs=["x0", "x1", "a0_0"], weights=["a0_0", "b0_0", "a0_1", "b0_1"])
    with pytest.raises(qshift.QShiftError, match="unknown: \\['theta'\\]"):
        QuantumLayer(c, inputs=["theta", "x0", "x1"])
    with pytest.raises(qshift.QShiftError, match="list of symbol names"):
        QuantumLayer(c, inputs="x0")
    with pytest.raises(qshift.QShiftError, match="3 input features for 2 input symbols"):
        QuantumLayer(c, inputs=["x0", "x1"])(np.zeros((4, 3), "float32"))


def test_a_layer_on_a_backend_object_says_why_it_cannot_be_saved():
    layer = QuantumLayer(encoder_circuit(1, 1), inputs=["x0"], device=qshift.LocalSimulator())
    with pytest.raises(qshift.QShiftError, match="device given by name"):
        layer.get_config()


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # Keras saving TF variables
def test_hybrid_classifier_learns_two_moons_and_reloads(tmp_path):
    rng = np.random.default_rng(7)
    x_train, y_train = two_moons(300, 0.1, rng)
    x_test, y_test = two_moons(200, 0.1, rng)
    keras.utils.set_random_seed(3)
    quantum = QuantumLayer(encoder_circuit(3, 2), inputs=["x0", "x1", "x2"])
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3),
                              quantum, keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    assert quantum.output.shape == (None, 3) and quantum.count_params() == 12
    summary = []
    model.summary(print_fn=lambda line, **_: summary.append(line))
    assert any("QuantumLayer" in line and "(None, 3)" in line and "12" in line for line in summary)

    model.fit(x_train, y_train, epochs=15, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.9, accuracy

    path = tmp_path / "hybrid.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded.layers[2], QuantumLayer)
    np.testing.assert_allclose(reloaded.predict(x_test, verbose=0), model.predict(x_test, verbose=0), atol=1e-6)


# -- input_gradients=False: the weights only ----------------------------------------------------------
def circuits_of(layer, fn):
    before = layer.stats.circuits
    result = fn()
    return result, layer.stats.circuits - before


def test_input_gradients_false_keeps_the_weight_derivatives_and_cuts_the_circuits(rng):
    # The 4-qubit model: 4 data symbols, 16 weights. Per row, a gradient runs 2n + 1 = 41 circuits with
    # every symbol and 2w + 1 = 33 with the weights only (+24 %); a Hessian 2n^2 + n + 1 = 821 and
    # 2w^2 + w + 1 = 529 (+55 %).
    c = encoder_circuit(4, 2)
    rows, n, w = 3, c.n_symbols, 16
    x = tf.constant(rng.uniform(-1, 1, (rows, 4)), tf.float64)
    upstream = tf.constant(rng.normal(size=(rows, 4)))
    got = {}
    for flag in (True, False):
        layer = QuantumLayer(c, inputs=["x0", "x1", "x2", "x3"], input_gradients=flag, dtype="float64",
                             initializer=keras.initializers.RandomUniform(-3, 3, seed=4))
        layer.build((None, 4))
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                loss = tf.reduce_sum(layer(x) * upstream)
            (g_x, g_w), gradient = circuits_of(layer, lambda: inner.gradient(loss, [x, layer.circuit_weights]))
        hess, hessian = circuits_of(layer, lambda: outer.jacobian(g_w, layer.circuit_weights))
        got[flag] = (g_x.numpy(), g_w.numpy(), hess.numpy(), gradient + rows, gradient + hessian + rows)
    values = np.c_[x.numpy(), np.tile(layer.circuit_weights.numpy(), (rows, 1))]
    d = qshift.derivatives(c, values, order=2)
    u = upstream.numpy()
    want_gx = np.einsum("bm,bmn->bn", u, d.jacobian)[:, :4]
    want_gw = np.einsum("bm,bmn->n", u, d.jacobian)[4:]
    want_hw = np.einsum("bm,bmij->ij", u, d.hessian)[4:, 4:]
    for flag, (g_x, g_w, hess, _, _) in got.items():
        np.testing.assert_allclose(g_w, want_gw, atol=1e-12)
        np.testing.assert_allclose(hess, want_hw, atol=1e-12)
        if flag:
            np.testing.assert_allclose(g_x, want_gx, atol=1e-12)
        else:
            assert np.all(g_x == 0)
    assert got[True][3:] == (rows * (2 * n + 1), rows * (2 * n**2 + n + 1)) == (123, 2463)
    assert got[False][3:] == (rows * (2 * w + 1), rows * (2 * w**2 + w + 1)) == (99, 1587)
    assert got[False][4] == qshift.plan(c, order=2, wrt=list(c.symbols[4:]), rows=rows).circuits


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # Keras saving TF variables
def test_a_model_on_raw_features_trains_the_same_with_fewer_circuits_and_reloads(tmp_path):
    rng = np.random.default_rng(5)
    x, y = two_moons(64, 0.1, rng)
    c = encoder_circuit(2, 2)  # 2 data symbols, 8 weights
    runs = {}
    for flag in (True, False):
        keras.utils.set_random_seed(3)
        quantum = QuantumLayer(c, inputs=["x0", "x1"], input_gradients=flag)
        model = keras.Sequential([keras.Input((2,)), quantum, keras.layers.Dense(1, activation="sigmoid")])
        model.compile(keras.optimizers.Adam(0.1), "binary_crossentropy")
        history = model.fit(x, y, epochs=4, batch_size=16, verbose=0, shuffle=False)
        runs[flag] = (model, quantum.stats.circuits, history.history["loss"])
    assert runs[True][1] == 4 * 64 * (2 * 10 + 1) and runs[False][1] == 4 * 64 * (2 * 8 + 1)
    for a, b in zip(runs[True][0].get_weights(), runs[False][0].get_weights()):  # the same training steps
        np.testing.assert_allclose(a, b, atol=1e-5)
    model, _, loss = runs[False]
    assert loss[-1] < loss[0] - 0.05, loss

    model.save(tmp_path / "raw.keras")
    reloaded = keras.models.load_model(tmp_path / "raw.keras")
    layer = reloaded.layers[0]
    assert layer.input_gradients is False and layer.function.wrt == layer.weight_symbols
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    before = layer.stats.circuits
    reloaded.train_on_batch(*two_moons(16, 0.1, rng))  # new rows: nothing in the cache from predict
    assert layer.stats.circuits - before == 16 * (2 * 8 + 1)


def test_input_gradients_in_the_config_and_checked():
    c = encoder_circuit(2, 1)
    config = QuantumLayer(c, inputs=["x0", "x1"], input_gradients=False).get_config()
    assert config["input_gradients"] is False
    assert QuantumLayer.from_config(config).function.wrt == ("a0_0", "b0_0", "a0_1", "b0_1")
    del config["input_gradients"]  # a file saved before the option: every symbol, as then
    assert QuantumLayer.from_config(config).function.wrt is None
    with pytest.raises(qshift.RequestError, match="input_gradients must be True or False"):
        QuantumLayer(c, inputs=["x0", "x1"], input_gradients="no")


def test_input_gradients_false_with_a_weight_that_feeds_no_gate():
    qasm = ('OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] x;\ninput float[64] w;\n'
                     'input float[64] spare;\nqubit[1] q;\nry(x) q[0];\nrx(w) q[0];\n'
                     '#pragma braket result expectation z(q[0])\n')
    layer = QuantumLayer(qasm, inputs=["x"], input_gradients=False, initializer=keras.initializers.Constant(0.4))
    assert layer.weight_symbols == ("w", "spare") and layer.function.wrt == ("w",)
    with tf.GradientTape() as tape:
        y = layer(tf.constant([[0.7]]))
    g = tape.gradient(y, layer.circuit_weights).numpy()
    np.testing.assert_allclose(g, [-np.cos(0.7) * np.sin(0.4), 0.0], rtol=1e-6)  # <Z> = cos(x) cos(w)
    assert layer.stats.circuits == 2 * 1 + 1
