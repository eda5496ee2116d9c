"""Workload (b): one training epoch of a hybrid Keras model, first-order gradients, batches of 32 rows.

Model: ``Dense(q, tanh) -> quantum layer -> Dense(1)``, MSE loss, Adam(0.01). The quantum layer is
``qshift.keras.QuantumLayer(hardware_efficient(q, L), inputs=[first layer's RY symbols])``: the
Dense layer's q outputs feed the first layer's RY angles, the other ``2qL - q`` angles are the layer's
trainable weights, every qubit's ``<Z>`` is an output. Data: ``samples`` rows of ``q`` features and
one target, uniform in [-1, 1) from a fixed seed. The peers get the same arrays and the same initial
weights (:func:`initial_weights`, the Keras model's after ``keras.utils.set_random_seed``), so every side
starts from the same point and its loss curve can be compared with qshift's: TensorFlow Quantum
(``bench/tfq_peer.py``: ``tfq.layers.Expectation`` with its default differentiator, adjoint, and with
``ParameterShift``) and tensorcircuit-ng on JAX (``bench/fast_peers.py``).

Two qshift rows: the layer as created by default (the shift rule), and with ``method="adjoint"`` when this
qshift's ``QuantumLayer`` takes that keyword (otherwise the row says "not available").

Timed: ``model.fit(X, Y, batch_size=32, epochs=1, shuffle=False)``; the first epoch (tracing
included) and the best of ``EPOCHS`` more (fewer when they would take over ``BUDGET`` seconds). Every
epoch's loss is kept (``losses``). Circuits: the layer's ``stats.circuits`` over one epoch; for the default
row, checked against the planner's minimum, ``steps * qshift.plan(c, order=1, rows=32).circuits``
(every row's value and its ``2n`` shifted points; the gradient reaches every symbol, the inputs
too, because the Dense layer before the circuit trains).
Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/training.py`` (``--quick`` for a tiny size).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))

import qshift  # noqa: E402
from _common import (SEED, M, epochs, has_keyword, not_available, print_rows, progress, row, timed,  # noqa: E402
                     training_configs)

EPOCHS = 3
BUDGET = 30.0  # seconds for the epochs after the first, per row


def data(qubits: int, samples: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (samples, qubits)), rng.uniform(-1, 1, (samples, 1))


def config_label(cfg: dict) -> str:
    return f"{cfg['qubits']}q {cfg['layers']}l all, {cfg['samples']} samples / batch {cfg['batch']}"


def build_model(circuit, qubits: int, **options):
    """The Keras model; returns it and its three layers (hidden ``Dense``, ``QuantumLayer``, output ``Dense``)."""
    import keras

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((qubits,))
    hidden = keras.layers.Dense(qubits, activation="tanh")
    layer = qshift.keras.QuantumLayer(circuit, inputs=[f"y0_{q}" for q in range(qubits)], **options)
    out = keras.layers.Dense(1)
    model = keras.Model(inputs, out(layer(hidden(inputs))))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model, (hidden, layer, out)


def initial_weights(cfg: dict) -> dict:
    """The model's weights before training, by name (``w1``, ``b1``: hidden Dense; ``wc``: the circuit's
    weights in ``QuantumLayer.weight_symbols`` order; ``w2``, ``b2``: output Dense), and ``order``: where each
    circuit symbol comes from in ``[hidden outputs..., circuit weights...]``. What the peers start from."""
    c = qshift.hardware_efficient(cfg["qubits"], cfg["layers"])
    _, (hidden, layer, out) = build_model(c, cfg["qubits"])
    (w1, b1), (wc,), (w2, b2) = hidden.get_weights(), layer.get_weights(), out.get_weights()
    given = list(layer.input_symbols + layer.weight_symbols)
    weights = dict(w1=w1, b1=b1, wc=wc, w2=w2, b2=b2)
    return {"weights": {k: v.tolist() for k, v in weights.items()}, "order": [given.index(s) for s in c.symbols]}


def run_config(cfg: dict, name: str, **options) -> dict:
    q, layers, samples, batch = cfg["qubits"], cfg["layers"], cfg["samples"], cfg["batch"]
    c = qshift.hardware_efficient(q, layers)
    base = row("training", name, config=config_label(cfg), peer=False, qubits=q, layers=layers, outputs="all",
               symbols=c.n_symbols, samples=samples, batch=batch, steps=-(-samples // batch))
    if options and not has_keyword(qshift.keras.QuantumLayer, "method"):
        return not_available(base, "QuantumLayer(method=...)")
    x, y = data(q, samples)
    model, (_, layer, _) = build_model(c, q, **options)
    counts = []

    def fit():
        before = layer.stats.circuits
        loss = model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0).history["loss"][-1]
        counts.append(layer.stats.circuits - before)
        return loss

    first, first_loss = timed(fit)
    best, losses, runs = epochs(fit, EPOCHS, BUDGET)
    circuits = counts[-1]  # the last epoch's
    minimum = None
    if not options:  # the shift rule: the planner's minimum
        minimum = (samples // batch) * qshift.plan(c, order=1, rows=batch).circuits
        if samples % batch:
            minimum += qshift.plan(c, order=1, rows=samples % batch).circuits
    return dict(base, seconds=best, repeats=runs, first_epoch_seconds=first, circuits=circuits,
                min_circuits=minimum, losses=[float(first_loss)] + losses, loss=losses[-1])


def collect(quick: bool = False) -> list[dict]:
    rows = []
    for cfg in training_configs(quick):
        rows += [run_config(cfg, M.QSHIFT_KERAS), run_config(cfg, M.QSHIFT_KERAS_ADJOINT, method="adjoint")]
        progress(rows[-2:])
    return rows


def main(quick: bool) -> None:
    from _common import header

    print(header("Workload (b): one training epoch of a hybrid Keras model", ["numpy", "tensorflow", "keras", "qshift"]))
    print()
    print_rows(collect(quick), ["config", "method", "steps", "circuits", "min_circuits", "first_epoch_seconds",
                                "seconds", "loss"])


if __name__ == "__main__":
    main("--quick" in sys.argv)
