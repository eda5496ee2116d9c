"""Workload (b): one training epoch of a hybrid Keras model, first-order gradients, batches of 32 rows.

Model: ``Dense(q, tanh) -> quantum layer -> Dense(1)``, MSE loss, Adam. The quantum layer is
``qshift.keras.QuantumLayer(hardware_efficient(q, L), inputs=[first layer's RY symbols])``: the
Dense layer's q outputs feed the first layer's RY angles, the other ``2qL - q`` angles are the layer's
trainable weights, every qubit's ``<Z>`` is an output. Data: ``samples`` rows of ``q`` features and
one target, uniform in [-1, 1) from a fixed seed (the same arrays go to TensorFlow Quantum's run,
``bench/tfq_peer.py``, which builds the same model with ``tfq.layers.Expectation`` and its
``ParameterShift`` differentiator).

Timed: ``model.fit(X, Y, batch_size=32, epochs=1, shuffle=False)``; the first epoch (tracing
included) and the best of ``EPOCHS`` more. Circuits: the layer's ``stats.circuits`` over one epoch,
checked against the planner's minimum, ``steps * qshift.plan(c, order=1, rows=32).circuits``
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
from _common import SEED, M, print_rows, progress, row, timed, training_configs  # noqa: E402

EPOCHS = 3
QSHIFT = M.QSHIFT_KERAS


def data(qubits: int, samples: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (samples, qubits)), rng.uniform(-1, 1, (samples, 1))


def config_label(cfg: dict) -> str:
    return f"{cfg['qubits']}q {cfg['layers']}l all, {cfg['samples']} samples / batch {cfg['batch']}"


def build_model(circuit, qubits: int):
    import keras

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((qubits,))
    hidden = keras.layers.Dense(qubits, activation="tanh")(inputs)
    layer = qshift.keras.QuantumLayer(circuit, inputs=[f"y0_{q}" for q in range(qubits)])
    outputs = keras.layers.Dense(1)(layer(hidden))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model, layer


def run_config(cfg: dict) -> dict:
    q, layers, samples, batch = cfg["qubits"], cfg["layers"], cfg["samples"], cfg["batch"]
    c = qshift.hardware_efficient(q, layers)
    x, y = data(q, samples)
    model, layer = build_model(c, q)
    fit = lambda: model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0).history["loss"][-1]
    first, _ = timed(fit)
    best, circuits = float("inf"), None
    for _ in range(EPOCHS):
        before = layer.stats.circuits
        seconds, loss = timed(fit)
        best, circuits = min(best, seconds), layer.stats.circuits - before
    steps = -(-samples // batch)
    minimum = (samples // batch) * qshift.plan(c, order=1, rows=batch).circuits
    if samples % batch:
        minimum += qshift.plan(c, order=1, rows=samples % batch).circuits
    return row("training", QSHIFT, config=config_label(cfg), peer=False, qubits=q, layers=layers, outputs="all",
               symbols=c.n_symbols, samples=samples, batch=batch, steps=steps, seconds=best, repeats=EPOCHS,
               first_epoch_seconds=first, circuits=circuits, min_circuits=minimum, loss=float(loss))


def collect(quick: bool = False) -> list[dict]:
    rows = []
    for cfg in training_configs(quick):
        rows.append(run_config(cfg))
        progress(rows[-1:])
    return rows


def main(quick: bool) -> None:
    from _common import header

    print(header("Workload (b): one training epoch of a hybrid Keras model", ["numpy", "tensorflow", "keras", "qshift"]))
    print()
    print_rows(collect(quick), ["config", "method", "steps", "circuits", "min_circuits", "first_epoch_seconds",
                                "seconds", "loss"])


if __name__ == "__main__":
    main("--quick" in sys.argv)
