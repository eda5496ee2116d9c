"""The Hessian by nested ``tf.GradientTape``s, three ways, in one run: ``qshift.tf.function`` against
PennyLane's TensorFlow interface and against the naive recursive custom gradient of the blog post
"Recursive custom gradients in TensorFlow".

Circuit: ``qshift.hardware_efficient(q, 2)`` (RY.RZ on every qubit per layer, CNOT ring), every
qubit's <Z> as an output, ``4q`` symbols. Every tool computes the value, the Jacobian and the full
Hessian ``(q, 4q, 4q)`` with an inner ``tape.jacobian`` and an outer ``tape.jacobian``:

* qshift: ``qshift.tf.function(circuit)``, a fresh one per run (cold cache); vectorized jacobians
  (``experimental_use_pfor=True``, TF's default) and, as a second row, ``experimental_use_pfor=False``.
* PennyLane: ``qml.qnode(default.qubit, interface="tf", diff_method="parameter-shift", max_diff=2)``,
  jacobians with ``experimental_use_pfor=False`` (its TF interface needs it); circuits counted by
  ``qml.Tracker``.
* naive: a ``tf.custom_gradient`` whose gradient calls the same function at ``x +- pi/2 e_i`` (all 2n
  rows in one batched ``qshift.simulate`` call, so it is differentiable again), with vectorized
  jacobians (1 + 2n + 4n^2 circuits) and with ``experimental_use_pfor=False`` (every Jacobian entry
  re-runs its backward pass: the count grows like m^2 n^3).

PennyLane and the unvectorized naive recursion are slow, so they run at smaller sizes (see
``--peer-qubits``); the 10-qubit qshift row is always measured. Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/tf_hessian.py`` (``--quick``
for 4 qubits only).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import warnings  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import tensorflow as tf  # noqa: E402

import qshift  # noqa: E402
from _common import header  # noqa: E402

LAYERS = 2


def nested_hessian(fn, x, pfor: bool):
    """Value, Jacobian and Hessian of ``fn`` at ``x`` by two nested tapes."""
    with tf.GradientTape(persistent=not pfor) as outer:
        outer.watch(x)
        with tf.GradientTape(persistent=not pfor) as inner:
            inner.watch(x)
            y = fn(x)
        jac = inner.jacobian(y, x, experimental_use_pfor=pfor)
    return y, jac, outer.jacobian(jac, x, experimental_use_pfor=pfor)


# -- the three contenders: each returns (hessian, circuits) -------------------------------------------
def run_qshift(circuit, x, pfor: bool):
    f = qshift.tf.function(circuit)
    _, _, hess = nested_hessian(f, tf.constant(x), pfor)
    return hess.numpy(), f.stats.circuits


def run_pennylane(circuit, x):
    import pennylane as qml
    from reference import pennylane_qnode

    func = pennylane_qnode(circuit).func
    dev = qml.device("default.qubit", wires=circuit.n_qubits)
    qnode = qml.qnode(dev, interface="tf", diff_method="parameter-shift", max_diff=2)(func)
    with qml.Tracker(dev) as tracker:
        _, _, hess = nested_hessian(lambda v: tf.stack(qnode(v)), tf.Variable(x), pfor=False)
    return hess.numpy(), tracker.totals["executions"]


def run_naive(circuit, x, pfor: bool):
    counter = {"circuits": 0}
    fn = naive_function(circuit, counter)
    _, _, hess = nested_hessian(fn, tf.constant(x), pfor)
    return hess.numpy(), counter["circuits"]


def naive_function(circuit, counter):
    """The blog's recursive custom gradient: the gradient is the same function at shifted points."""
    n = circuit.n_symbols

    def simulate(values):
        counter["circuits"] += int(np.prod(values.shape[:-1]))
        return qshift.simulate(circuit, values)

    @tf.custom_gradient
    def fn(x):
        y = tf.numpy_function(simulate, [x], tf.float64, stateful=False)
        y.set_shape(x.shape[:-1].concatenate([circuit.n_outputs]))

        def grad(dy):
            shifts = tf.constant(np.pi / 2 * np.eye(n))
            rows = tf.concat([x[..., None, :] + shifts, x[..., None, :] - shifts], axis=-2)  # (..., 2n, n)
            values = fn(rows)
            jac = (values[..., :n, :] - values[..., n:, :]) / 2  # (..., n, n_out)
            return tf.einsum("...m,...im->...i", dy, jac)

        return y, grad

    return fn


# -- the table ----------------------------------------------------------------------------------------
def measure(name, runner, reference, repeats):
    times, hess, circuits = [], None, None
    for _ in range(repeats):
        start = time.perf_counter()
        hess, circuits = runner()
        times.append(time.perf_counter() - start)
    error = np.abs(hess - reference).max()
    if error > 1e-8:
        raise AssertionError(f"{name}: Hessian differs from qshift.derivatives by {error:.1e}")
    return min(times), circuits, error


def rows_for(n_qubits, peers, repeats):
    c = qshift.hardware_efficient(n_qubits, LAYERS)
    x = np.random.default_rng(1234).uniform(-np.pi, np.pi, c.n_symbols)
    reference = qshift.derivatives(c, x, order=2).hessian
    contenders = [("qshift, pfor", lambda: run_qshift(c, x, True), repeats),
                  ("qshift, no pfor", lambda: run_qshift(c, x, False), repeats),
                  ("naive recursion, pfor", lambda: run_naive(c, x, True), repeats)]
    if peers:
        contenders += [("naive recursion, no pfor", lambda: run_naive(c, x, False), 1),
                       ("PennyLane TF, no pfor", lambda: run_pennylane(c, x), 1)]
    results = {name: measure(name, fn, reference, reps) for name, fn, reps in contenders}
    return c, results


def print_rows(c, n_qubits, results) -> None:
    base_time, base_circuits = results["qshift, pfor"][:2]
    for name, (seconds, circuits, error) in results.items():
        print(f"| {n_qubits} | {c.n_symbols} | {c.n_outputs} | {name} | {circuits} | {circuits / base_circuits:.2f}x "
              f"| {seconds:.3f} | {seconds / base_time:.1f}x | {error:.0e} |", flush=True)


def main(qshift_qubits, peer_qubits, repeats) -> None:
    warnings.filterwarnings("ignore", message=".*TensorFlow interface is deprecated")
    tf.get_logger().setLevel("ERROR")  # pfor traces one tf.function per jacobian call, by design
    print(header("Hessian by nested tf.GradientTape: qshift.tf.function vs PennyLane TF vs naive recursion",
                 ["numpy", "tensorflow", "pennylane", "qshift"]))
    print(f"- circuit: qshift.hardware_efficient(q, {LAYERS}), <Z> on every qubit; value + Jacobian + Hessian")
    print(f"- PennyLane TF and the naive recursion without pfor run at {peer_qubits} qubits only: "
          "they take minutes at 10 qubits (PennyLane ~30+ s per Hessian; naive ~25M circuits)")
    print(f"- qshift and naive with pfor: best of {repeats} runs, each with a fresh function (cold cache); "
          "the slow peers: one run")
    print()
    print("| qubits | symbols | outputs | method | circuits | vs qshift | seconds | vs qshift | max abs diff |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    speedups = []
    for q in sorted(set(qshift_qubits) | set(peer_qubits)):
        c, results = rows_for(q, q in peer_qubits, repeats)
        print_rows(c, q, results)
        if "PennyLane TF, no pfor" in results:
            speedups.append(f"{results['PennyLane TF, no pfor'][0] / results['qshift, pfor'][0]:.0f}x at {q} qubits")
    n = 4 * max(qshift_qubits)
    print()
    print("qshift (pfor) vs PennyLane TF at the same size: " + ", ".join(speedups) + " (target: >= 20x).")
    print(f"Planner minimum for n symbols with one two-term slot each: 2n^2 + n + 1 ({2 * n * n + n + 1} at n = {n}); "
          "'vs qshift' divides by the qshift pfor row of the same size.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 qubits only (a smoke test)")
    parser.add_argument("--peer-qubits", type=int, nargs="*", default=[4, 6])
    args = parser.parse_args()
    if args.quick:
        main([4], [4], repeats=1)
    else:
        main([4, 6, 8, 10], args.peer_qubits, repeats=3)
