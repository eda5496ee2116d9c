"""TensorFlow Quantum's side of the benchmarks. Runs in its own virtualenv, ``bench/.venv-tfq``
(TensorFlow 2.18, tf-keras 2.18, tensorflow-quantum 0.7.6, ``TF_USE_LEGACY_KERAS=1``), which
``make bench`` creates (``bench/setup_tfq.sh``); qshift is not installed there.

Input: a JSON spec written by ``bench/run_all.py`` (sizes, symbol values, training data and the Keras
model's initial weights), so both sides compute the same thing. Output: JSON rows in the schema of
``bench/_common.py`` plus the values TFQ computed, which the runner compares with qshift's.

Two differentiators, one row each: TFQ's default (``tfq.layers.Expectation()`` without ``differentiator=``,
which TFQ 0.7.6 resolves to ``tfq.differentiators.Adjoint()`` when no ``backend`` is given: what a TFQ user
gets), and ``tfq.differentiators.ParameterShift()``.

* gradient: value and Jacobian of ``hardware_efficient(q, L)`` (the same gates as a Cirq circuit:
  ``cirq.ry``, ``cirq.rz``, CNOT ring; ``cirq.Z`` outputs) through ``tfq.layers.Expectation``, by
  ``tape.jacobian`` inside one ``tf.function`` (TFQ's fastest way here: eagerly, pfor retraces on every
  call); best of 3 after the tracing call.
* hessian / third order (``ParameterShift``): the same with two (three) nested tapes, eagerly: TFQ raises
  ``LookupError`` (its op has no gradient of its gradient), recorded as the row's note.
* training: ``Dense(q, tanh) -> layer -> Dense(1)`` where the layer is the ``ControlledPQC`` pattern:
  the Dense outputs feed the first layer's RY symbols, the layer's trainable weights the others, one
  ``tfq.layers.Expectation`` call per batch; same data, initial weights, batch size, optimizer and
  loss as ``bench/training.py``; the first epoch and the best of 3 more (fewer when they would take over
  the spec's budget); every epoch's loss is kept, for the runner to compare with qshift's.

TensorFlow runs with one intra-op and one inter-op thread (``tf.config.threading``).

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

from _common import SEED, M, epochs, error_text, machine, measure, row, timed, traced_value_and_jacobian  # noqa: E402

DIFFERENTIATORS = {M.TFQ_ADJOINT: None, M.TFQ: "ParameterShift"}  # None: TFQ's default (adjoint)


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


def expectation_layer(method: str):
    """``tfq.layers.Expectation`` as a TFQ user gets it (no ``differentiator=``), or with ``ParameterShift``."""
    import tensorflow_quantum as tfq

    name = DIFFERENTIATORS[method]
    return tfq.layers.Expectation() if name is None else tfq.layers.Expectation(
        differentiator=getattr(tfq.differentiators, name)())


def expectation_fn(qubits: int, layers: int, outputs: str, method: str):
    import tensorflow as tf
    import tensorflow_quantum as tfq

    circuit, names, observables = hea(qubits, layers, outputs)
    layer = expectation_layer(method)
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


def derivative_rows(workload: str, order: int, sizes: list[dict], method: str) -> list[dict]:
    import tensorflow as tf

    rows = []
    for size in sizes:
        q, layers, outputs = size["qubits"], size["layers"], size["outputs"]
        fn = expectation_fn(q, layers, outputs, method)
        x = tf.constant(np.array(size["x"])[None], dtype=tf.float32)
        base = row(workload, method, config=size["config"], qubits=q, layers=layers, outputs=outputs,
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
        print(f"  tfq {workload} {method} {size['config']}: {r['status']} {r['seconds'] or ''}", file=sys.stderr,
              flush=True)
    return rows


def training_model(cfg: dict, method: str):
    """The training benchmark's model in tf-keras with TFQ, from the spec's initial weights."""
    import tensorflow as tf

    qubits, layers = cfg["qubits"], cfg["layers"]
    circuit, names, observables = hea(qubits, layers, "all")
    import tensorflow_quantum as tfq

    class ControlledCircuit(tf.keras.layers.Layer):
        """Features -> the first layer's RY symbols, trainable weights -> the rest (ControlledPQC pattern)."""

        def build(self, input_shape):
            self.w = self.add_weight(name="circuit_weights", shape=(len(names) - qubits,))
            self.expectation = expectation_layer(method)
            self.circuit = tfq.convert_to_tensor([circuit])

        def call(self, x):
            b = tf.shape(x)[0]
            values = tf.gather(tf.concat([x, tf.tile(self.w[None], [b, 1])], axis=1), cfg["order"], axis=1)
            return self.expectation(tf.tile(self.circuit, [b]), symbol_names=names, symbol_values=values,
                                    operators=observables)

    tf.keras.utils.set_random_seed(SEED)
    hidden, quantum = tf.keras.layers.Dense(qubits, activation="tanh"), ControlledCircuit()
    out = tf.keras.layers.Dense(1)
    x_in = tf.keras.Input((qubits,))
    model = tf.keras.Model(x_in, out(quantum(hidden(x_in))))
    w = {k: np.array(v, dtype=np.float32) for k, v in cfg["weights"].items()}
    hidden.set_weights([w["w1"], w["b1"]])
    quantum.set_weights([w["wc"]])
    out.set_weights([w["w2"], w["b2"]])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
    return model


def training_rows(configs: list[dict], method: str) -> list[dict]:
    rows = []
    for cfg in configs:
        x, y = np.array(cfg["x"], dtype=np.float32), np.array(cfg["y"], dtype=np.float32)
        base = row("training", method, config=cfg["config"], qubits=cfg["qubits"], layers=cfg["layers"],
                   outputs="all", samples=len(x), batch=cfg["batch"], steps=-(-len(x) // cfg["batch"]))
        try:
            model = training_model(cfg, method)
            fit = lambda: model.fit(x, y, batch_size=cfg["batch"], epochs=1, shuffle=False,
                                    verbose=0).history["loss"][-1]
            first, first_loss = timed(fit)
            best, losses, runs = epochs(fit, cfg["epochs"], cfg["budget"])
        except Exception as exc:
            rows.append(dict(base, status="failed", note=error_text(exc)))
            continue
        rows.append(dict(base, seconds=best, repeats=runs, first_epoch_seconds=first, loss=losses[-1],
                         losses=[float(first_loss)] + losses, note="TFQ reports no circuit counts"))
        print(f"  tfq training {method} {cfg['config']}: {best:.3g} s", file=sys.stderr, flush=True)
    return rows


def main(spec_path: str, out_path: str) -> None:
    with open(spec_path) as f:
        spec = json.load(f)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    rows = []
    for method in DIFFERENTIATORS:
        rows += derivative_rows("gradient", 1, spec["gradient"], method)
    rows += derivative_rows("hessian", 2, spec["hessian"], M.TFQ)
    rows += derivative_rows("third", 3, spec["third"], M.TFQ)
    for method in DIFFERENTIATORS:
        rows += training_rows(spec["training"], method)
    info = machine(["numpy", "tensorflow", "tf-keras", "tensorflow-quantum", "cirq-core", "sympy"])
    with open(out_path, "w") as f:
        json.dump({"machine": info, "rows": rows}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
