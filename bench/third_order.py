"""Workload (c): third derivatives of the hardware-efficient ansatz, every path in one run.

* qshift: ``qshift.derivatives(c, x, order=3)`` and ``qshift.tf.function`` under three nested tapes
  (pfor and not); circuits checked against ``qshift.plan(c, order=3).circuits``.
* the naive recursive custom gradient (pfor and not), PennyLane's TF interface (``default.qubit``,
  ``lightning.qubit``) under three nested tapes, as in ``bench/tf_hessian.py``;
* TensorFlow Quantum cannot (``bench/tfq_peer.py`` records its ``LookupError``).

Slow peers are skipped where they would take more than ``tf_hessian.LIMIT`` seconds (estimated).
Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/third_order.py`` (``--quick`` for a tiny size).
"""

from __future__ import annotations

import os
import sys
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import tf_hessian  # noqa: E402
from _common import (M, Limit, ansatz_case, max_abs_diff, measure, print_rows, progress, row,  # noqa: E402
                     third_order_grid)
from derivatives import run_qshift  # noqa: E402

ORDER = 3
QSHIFT = M.QSHIFT


def collect(quick: bool = False) -> list[dict]:
    warnings.filterwarnings("ignore", message=".*TensorFlow interface is deprecated")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    limits: dict[str, Limit] = {}
    rows = []
    for q, layers, outputs in third_order_grid(quick):
        c, x, exact, minimum, base = ansatz_case("third", q, layers, outputs, ORDER)
        reference = exact.derivative(ORDER)
        check = lambda t: max_abs_diff(t, reference)
        done = [measure(row(method=QSHIFT, peer=False, min_circuits=minimum, **base),
                        lambda: (lambda d: (d[0].derivative(ORDER), d[1]))(run_qshift(c, x, ORDER)), repeats=5,
                        check=check)]
        for method, runner, work, ours in tf_hessian.contenders(c, x, ORDER):
            limit = None if method == tf_hessian.QSHIFT_PFOR else limits.setdefault(method, Limit(tf_hessian.LIMIT))
            done.append(measure(row(method=method, peer=not ours, min_circuits=minimum if ours else None, **base),
                                runner, repeats=3 if ours else 2, budget=10 if ours else 6, limit=limit, work=work, check=check))
        progress(done)
        rows += done
    return rows


def main(quick: bool) -> None:
    from _common import header

    print(header("Workload (c): third derivatives", ["numpy", "tensorflow", "pennylane", "qshift"]))
    print()
    print_rows(collect(quick), ["config", "symbols", "method", "status", "circuits", "min_circuits", "seconds",
                                "max_diff", "note"])


if __name__ == "__main__":
    main("--quick" in sys.argv)
