"""Workload (a) through TensorFlow: the Hessian by nested ``tf.GradientTape``s, in one run:
``qshift.tf.function`` against PennyLane's TensorFlow interface (``default.qubit`` and
``lightning.qubit``) and against the naive recursive custom gradient of the blog post "Recursive
custom gradients in TensorFlow".

Circuit: ``qshift.hardware_efficient(q, L)`` (RY.RZ on every qubit per layer, CNOT ring), ``<Z0>``
(single) or every qubit's ``<Z>`` (all), ``n = 2qL`` symbols. Every tool computes the value, the
Jacobian and the full Hessian ``(m, n, n)`` with an inner ``tape.jacobian`` and an outer
``tape.jacobian``:

* qshift: ``qshift.tf.function(circuit)``, a fresh one per run (cold cache); vectorized jacobians
  (``experimental_use_pfor=True``, TF's default) and ``experimental_use_pfor=False``. Circuits from
  ``f.stats.circuits``, checked against the planner's minimum ``qshift.plan(c, order=2).circuits``.
* PennyLane: ``qml.qnode(dev, interface="tf", diff_method="parameter-shift", max_diff=2)``,
  jacobians with ``experimental_use_pfor=False`` (its TF interface needs it); circuits counted by
  ``qml.Tracker``. ``lightning.qubit`` unmodified fails (float32 results); the row "float64 results"
  subclasses it to return float64, the workaround a user would need.
* naive: a ``tf.custom_gradient`` whose gradient calls the same function at ``x +- pi/2 e_i`` (all 2n
  rows in one batched ``qshift.simulate`` call, so it is differentiable again), with vectorized
  jacobians (``1 + 2n + 4n^2`` circuits) and without (every Jacobian entry re-runs its backward pass:
  the count grows like ``m^2 n^3``). It runs on qshift's simulator, so its time shows the cost of its
  circuit count on the same engine.

Slow peers are skipped at sizes where they would take more than ``LIMIT`` seconds (estimated from
their last size), or stopped after three times that, with the reason in the row.
Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/tf_hessian.py`` (``--quick`` for tiny sizes).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import warnings  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import tensorflow as tf  # noqa: E402

import qshift  # noqa: E402
from _common import (M, Limit, ansatz_case, hessian_grid, max_abs_diff, measure, print_rows, progress,  # noqa: E402
                     row)

QSHIFT_PFOR, QSHIFT_LOOP, NAIVE_PFOR, NAIVE_LOOP = M.QSHIFT_TF, M.QSHIFT_TF_LOOP, M.NAIVE, M.NAIVE_LOOP
PL_DEFAULT, PL_LIGHTNING, PL_LIGHTNING64 = M.PL_TF, M.PL_TF_LIGHTNING, M.PL_TF_LIGHTNING64
LIMIT = 10.0  # seconds per run for every method but qshift.tf with pfor


def nested(fn, x, order: int, pfor: bool) -> list:
    """``[f(x), J, H, ...]`` up to ``order`` by ``order`` nested tapes, each taking a full ``tape.jacobian``."""
    if order == 0:
        return [fn(x)]
    with tf.GradientTape(persistent=not pfor) as tape:
        tape.watch(x)
        inner = nested(fn, x, order - 1, pfor)
    return inner + [tape.jacobian(inner[-1], x, experimental_use_pfor=pfor)]


def nested_hessian(fn, x, pfor: bool):
    """Value, Jacobian and Hessian of ``fn`` at ``x`` by two nested tapes."""
    return tuple(nested(fn, x, 2, pfor))


# -- the contenders: each returns (derivative tensor of the highest order, circuits) ------------------
def run_qshift(circuit, x, pfor: bool, order: int = 2):
    f = qshift.tf.function(circuit)
    return nested(f, tf.constant(x), order, pfor)[-1].numpy(), f.stats.circuits


def run_pennylane(circuit, x, device: str = "default.qubit", order: int = 2):
    import pennylane as qml
    from reference import pennylane_qnode

    func = pennylane_qnode(circuit).func
    dev = lightning_float64(circuit.n_qubits) if device == "lightning64" else qml.device(device, wires=circuit.n_qubits)
    qnode = qml.qnode(dev, interface="tf", diff_method="parameter-shift", max_diff=order)(func)
    with qml.Tracker(dev) as tracker:
        result = nested(lambda v: tf.stack(qnode(v)), tf.Variable(x), order, pfor=False)[-1]
    return result.numpy(), tracker.totals["executions"]


def lightning_float64(wires: int):
    """``lightning.qubit`` returning float64 results: without it PennyLane's TF interface raises
    "Tensor conversion requested dtype float64 for Tensor with dtype float32"."""
    from pennylane_lightning.lightning_qubit import LightningQubit

    def as_float64(result):
        if isinstance(result, (tuple, list)):
            return type(result)(as_float64(r) for r in result)
        return np.asarray(result, dtype=np.float64)

    class LightningFloat64(LightningQubit):
        def execute(self, circuits, execution_config=None):
            return as_float64(super().execute(circuits, execution_config))

    return LightningFloat64(wires=wires)


def run_naive(circuit, x, pfor: bool, order: int = 2):
    counter = {"circuits": 0}
    fn = naive_function(circuit, counter)
    return nested(fn, tf.constant(x), order, pfor)[-1].numpy(), counter["circuits"]


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


def contenders(c, x, order: int = 2) -> list[tuple[str, object, float, bool]]:
    """(method, runner, work for the skip estimate, is qshift) for one size."""
    n, m, ops = c.n_symbols, c.n_outputs, len(c.operations)
    size = 1 + 2 ** c.n_qubits / 4096
    minimum = qshift.plan(c, order=order).circuits
    return [
        (QSHIFT_PFOR, lambda: run_qshift(c, x, True, order), minimum * ops * size, True),
        (QSHIFT_LOOP, lambda: run_qshift(c, x, False, order), m * n ** (order - 1) * minimum * size, True),
        (NAIVE_PFOR, lambda: run_naive(c, x, True, order), (2 * n) ** order * ops * size, False),
        (NAIVE_LOOP, lambda: run_naive(c, x, False, order), m ** order * n ** (order + 1) * ops * size, False),
        (PL_DEFAULT, lambda: run_pennylane(c, x, "default.qubit", order), m ** order * minimum * ops * size, False),
        (PL_LIGHTNING, lambda: run_pennylane(c, x, "lightning.qubit", order), m ** order * minimum * ops * size, False),
        (PL_LIGHTNING64, lambda: run_pennylane(c, x, "lightning64", order), m ** order * minimum * ops * size, False),
    ]


def collect(quick: bool = False) -> list[dict]:
    warnings.filterwarnings("ignore", message=".*TensorFlow interface is deprecated")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    tf.get_logger().setLevel("ERROR")  # pfor traces one tf.function per jacobian call, by design
    limits: dict[str, Limit] = {}
    rows = []
    for q, layers, outputs in hessian_grid(quick):
        c, x, exact, minimum, base = ansatz_case("hessian", q, layers, outputs, 2)
        reference = exact.hessian
        done = []
        for method, runner, work, ours in contenders(c, x):
            limit = None if method == QSHIFT_PFOR else limits.setdefault(method, Limit(LIMIT))
            done.append(measure(row(method=method, peer=not ours, min_circuits=minimum if ours else None, **base),
                                runner, repeats=3 if ours else 2, budget=10 if ours else 6, limit=limit, work=work,
                                check=lambda h: max_abs_diff(h, reference)))
        progress(done)
        rows += done
    return rows


def main(quick: bool) -> None:
    from _common import header

    print(header("Workload (a): Hessian by nested tf.GradientTape, qshift.tf.function vs PennyLane TF vs naive "
                 "recursion", ["numpy", "tensorflow", "pennylane", "pennylane_lightning", "qshift"]))
    print()
    print_rows(collect(quick), ["config", "symbols", "method", "status", "circuits", "min_circuits", "seconds",
                                "max_diff", "note"])


if __name__ == "__main__":
    main("--quick" in sys.argv)
