"""Value + gradient (first order), the part of workload (a) TensorFlow Quantum can do: qshift beside
TFQ's ``Expectation`` layer with its ``ParameterShift`` differentiator (``bench/tfq_peer.py``, run in
its own virtualenv by ``bench/run_all.py``, which merges the rows and compares the values).

* ``qshift.derivatives(c, x, order=1)``;
* ``qshift.tf.function(c)`` under one ``tape.jacobian`` (pfor), eagerly, a fresh function per run
  (eager pfor traces its loop on every call);
* the same inside one ``tf.function``, traced once before timing, as TFQ's side runs; each timed
  call gets new angles (``x + k * 1e-3``), so no result comes from qshift's cache.

Circuits are checked against the planner's minimum ``qshift.plan(c, order=1).circuits`` (``2n + 1``).
Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/gradient.py`` (``--quick`` for tiny sizes).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

sys.path.insert(0, os.path.dirname(__file__))

import qshift  # noqa: E402
from _common import (M, ansatz_case, gradient_grid, max_abs_diff, measure, print_rows, progress, row,  # noqa: E402
                     traced_value_and_jacobian)
from derivatives import run_qshift  # noqa: E402
from tf_hessian import run_qshift as run_qshift_tf  # noqa: E402


def traced_jacobian(circuit, x):
    """A runner: value and Jacobian by ``qshift.tf.function`` in a ``tf.function`` traced once, new angles per call."""
    import tensorflow as tf

    f = qshift.tf.function(circuit)
    run = traced_value_and_jacobian(f)
    run(tf.constant(x + 0.5))  # traces
    calls = iter(range(1, 1 << 30))

    def runner():
        before = f.stats.circuits
        k = next(calls)
        y, jac = run(tf.constant(x + k * 1e-3))
        return (k, jac.numpy()), f.stats.circuits - before

    return runner


def collect(quick: bool = False) -> list[dict]:
    rows = []
    for q, layers, outputs in gradient_grid(quick):
        c, x, exact, minimum, base = ansatz_case("gradient", q, layers, outputs, 1)
        reference, base = exact.jacobian, base | dict(peer=False, min_circuits=minimum)
        done = [measure(row(method=M.QSHIFT, **base), lambda: run_qshift(c, x, order=1), repeats=5,
                        check=lambda d: max_abs_diff(d.jacobian, reference)),
                measure(row(method=M.QSHIFT_TF_GRAD, **base), lambda: run_qshift_tf(c, x, True, 1),
                        repeats=3, check=lambda j: max_abs_diff(j, reference)),
                measure(row(method=M.QSHIFT_TF_GRAPH, **base), traced_jacobian(c, x), repeats=3,
                        check=lambda kj: max_abs_diff(kj[1], qshift.derivatives(c, x + kj[0] * 1e-3, order=1).jacobian))]
        progress(done)
        rows += done
    return rows


def main(quick: bool) -> None:
    from _common import header

    print(header("Value + gradient: qshift (TFQ runs in its own virtualenv)", ["numpy", "tensorflow", "qshift"]))
    print()
    print_rows(collect(quick), ["config", "symbols", "method", "status", "circuits", "min_circuits", "seconds",
                                "max_diff"])


if __name__ == "__main__":
    main("--quick" in sys.argv)
