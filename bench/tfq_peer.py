"""TensorFlow Quantum's side of the benchmarks. Runs in its own virtualenv, ``bench/.venv-tfq``
(TensorFlow 2.18, tf-keras 2.18, tensorflow-quantum 0.7.6, ``TF_USE_LEGACY_KERAS=1``), which
``make bench`` creates (``bench/setup_tfq.sh``); qshift is not installed there.

Input: a JSON spec written by ``bench/run_all.py`` (sizes, symbol values, training data), so both
sides compute the same thing. Output: JSON rows in the schema of ``bench/_common.py`` plus the
values TFQ computed, which the runner compares with qshift's.

* gradient: value and Jacobian of ``hardware_efficient(q, L)`` (the same gates as a Cirq circuit:
  ``cirq.ry``, ``cirq.rz``, CNOT ring; ``cirq.Z`` outputs) through ``tfq.layers.Expectation`` with
  ``tfq.differentiators.ParameterShift()``, by ``tape.jacobian`` inside one ``tf.function`` (TFQ's
  fastest way here: eagerly, pfor retraces on every call); best of 3 after the tracing call.
* hessian / third order: the same with two (three) nested tapes, eagerly: TFQ raises ``LookupError``
  (its op has no gradient of its gradient), recorded as the row's note.
* training: ``Dense(q, tanh) -> layer -> Dense(1)`` where the layer is the ``ControlledPQC`` pattern:
  the Dense outputs feed the first layer's RY symbols, the layer's trainable weights the others, one
  ``tfq.layers.Expectation`` (``ParameterShift``) call per batch; same data, batch size, optimizer and
  loss as ``bench/training.py``; the first epoch and the best of 3 more.

Run: ``TF_USE_LEGACY_KERAS=1 bench/.venv-tfq/bin/python bench/tfq_peer.py SPEC.json OUT.json``.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))

from _common import SEED, M, error_text, machine, measure, row, timed, traced_value_and_jacobian  # noqa: E402

METHOD = M.TFQ
EPOCHS = 3


def hea(qubits: int, layers: int, outputs: str):
    """``qshift.hardware_efficient(qubits, layers, outputs)`` in Cirq, with its symbols in qshift's order."""
    import cirq
    import sympy

    wires = cirq.LineQubit.range(qubits)
    symbols, ops = [], []
    for layer in range(layers):
        for q in range(qubits):
            y, z = sympy.Symbol(f"y{layer}_{q}"), sympy.Symbol(f"z{layer}_{q}")
            symbols += [y, z]
            ops += [cirq.ry(y).on(wires[q]), cirq.rz(z).on(wires[q])]
        if qubits > 1:
            ops += [cirq.CNOT(wires[q], wires[(q + 1) % qubits]) for q in range(qubits if qubits > 2 else 1)]
    observables = [cirq.Z(w) for w in (wires if outputs == "all" else wires[:1])]
    return cirq.Circuit(ops), [str(s) for s in symbols], observables


def expectation_fn(qubits: int, layers: int, outputs: str):
    import tensorflow as tf
    import tensorflow_quantum as tfq

    circuit, names, observables = hea(qubits, layers, outputs)
    layer = tfq.layers.Expectation(differentiator=tfq.differentiators.ParameterShift())
    tensor = tfq.convert_to_tensor([circuit])

    def fn(values):  # (B, n) float32 -> (B, m)
        circuits = tf.tile(tensor, [tf.shape(values)[0]])
        return layer(circuits, symbol_names=names, symbol_values=values, operators=observables)

    return fn


def nested(fn, x, order: int) -> list:
    """``[f(x), J, H, ...]`` by ``order`` nested persistent tapes, jacobians without pfor (eager)."""
    import tensorflow as tf

    if order == 0:
        return [fn(x)]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        inner = nested(fn, x, order - 1)
    return inner + [tape.jacobian(inner[-1], x, experimental_use_pfor=False)]


def derivative_rows(workload: str, order: int, sizes: list[dict]) -> list[dict]:
    import tensorflow as tf

    rows = []
    for size in sizes:
        q, layers, outputs = size["qubits"], size["layers"], size["outputs"]
        fn = expectation_fn(q, layers, outputs)
        x = tf.constant(np.array(size["x"])[None], dtype=tf.float32)
        base = row(workload, METHOD, config=size["config"], qubits=q, layers=layers, outputs=outputs,
                   symbols=len(size["x"]))
        if order == 1:
            run = traced_value_and_jacobian(fn)  # TFQ's fastest way here (eager pfor retraces on every call)
            run(x)  # traces
            r = measure(dict(base, note="TFQ reports no circuit counts"), lambda: (run(x), None), repeats=3)
            if r["status"] == "ok":
                value, jac = (t.numpy() for t in run(x))
                r["result"] = {"value": value[0].tolist(), "jacobian": jac[0, :, 0, :].tolist()}
        else:
            r = measure(base, lambda: (nested(fn, x, order), None), repeats=1, unsupported=(LookupError,))
        rows.append(r)
        print(f"  tfq {workload} {size['config']}: {r['status']} {r['seconds'] or ''}", file=sys.stderr, flush=True)
    return rows


def training_model(qubits: int, layers: int):
    import tensorflow as tf

    circuit, names, observables = hea(qubits, layers, "all")
    inputs = [f"y0_{q}" for q in range(qubits)]
    weights = [s for s in names if s not in inputs]
    order = [(inputs + weights).index(s) for s in names]
    import tensorflow_quantum as tfq

    class ControlledCircuit(tf.keras.layers.Layer):
        """Features -> the first layer's RY symbols, trainable weights -> the rest (ControlledPQC pattern)."""

        def build(self, input_shape):
            self.w = self.add_weight(name="circuit_weights", shape=(len(weights),),
                                     initializer=tf.keras.initializers.RandomUniform(-np.pi, np.pi))
            self.expectation = tfq.layers.Expectation(differentiator=tfq.differentiators.ParameterShift())
            self.circuit = tfq.convert_to_tensor([circuit])

        def call(self, x):
            b = tf.shape(x)[0]
            values = tf.gather(tf.concat([x, tf.tile(self.w[None], [b, 1])], axis=1), order, axis=1)
            return self.expectation(tf.tile(self.circuit, [b]), symbol_names=names, symbol_values=values,
                                    operators=observables)

    tf.keras.utils.set_random_seed(SEED)
    x_in = tf.keras.Input((qubits,))
    hidden = tf.keras.layers.Dense(qubits, activation="tanh")(x_in)
    out = tf.keras.layers.Dense(1)(ControlledCircuit()(hidden))
    model = tf.keras.Model(x_in, out)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
    return model


def training_rows(configs: list[dict]) -> list[dict]:
    rows = []
    for cfg in configs:
        x, y = np.array(cfg["x"], dtype=np.float32), np.array(cfg["y"], dtype=np.float32)
        base = row("training", METHOD, config=cfg["config"], qubits=cfg["qubits"], layers=cfg["layers"],
                   outputs="all", samples=len(x), batch=cfg["batch"], steps=-(-len(x) // cfg["batch"]))
        try:
            model = training_model(cfg["qubits"], cfg["layers"])
            fit = lambda: model.fit(x, y, batch_size=cfg["batch"], epochs=1, shuffle=False, verbose=0).history["loss"][-1]
            first, _ = timed(fit)
            runs = [timed(fit) for _ in range(EPOCHS)]
        except Exception as exc:
            rows.append(dict(base, status="failed", note=error_text(exc)))
            continue
        rows.append(dict(base, seconds=min(t for t, _ in runs), repeats=EPOCHS, first_epoch_seconds=first,
                         loss=float(runs[-1][1]), note="TFQ reports no circuit counts"))
        print(f"  tfq training {cfg['config']}: {rows[-1]['seconds']:.3g} s", file=sys.stderr, flush=True)
    return rows


def main(spec_path: str, out_path: str) -> None:
    with open(spec_path) as f:
        spec = json.load(f)
    rows = derivative_rows("gradient", 1, spec["gradient"])
    rows += derivative_rows("hessian", 2, spec["hessian"])
    rows += derivative_rows("third", 3, spec["third"])
    rows += training_rows(spec["training"])
    info = machine(["numpy", "tensorflow", "tf-keras", "tensorflow-quantum", "cirq-core", "sympy"])
    with open(out_path, "w") as f:
        json.dump({"machine": info, "rows": rows}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
