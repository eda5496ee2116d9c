"""Workload (a) without TensorFlow: value + gradient + Hessian of the hardware-efficient ansatz by
``qshift.derivatives(order=2)``, beside PennyLane's ``param_shift_hessian`` (``default.qubit``) and
Qiskit Aer's ``EstimatorV2`` fed every shifted row in one call, in the same run, same circuit, same
angles.

Circuit: ``qshift.hardware_efficient(q, L)`` (RY.RZ on every qubit per layer, CNOT ring), ``<Z0>``
(single) or every qubit's ``<Z>`` (all) as outputs, ``n = 2qL`` symbols, 4-12 qubits, 1-3 layers.

* qshift: ``qshift.derivatives(c, x, order=2)``; circuits from ``d.stats.circuits``, checked against
  the planner's minimum ``qshift.plan(c, order=2).circuits`` (``2n^2 + n + 1``).
* qshift, ``method="adjoint"``: ``qshift.derivatives(c, x, order=2, method="adjoint")`` (the Hessian by the
  shift rule applied to adjoint gradients, or the shifted batch, as qshift's planner picks: the row's
  ``method_used`` says which), when this qshift has the keyword; otherwise the row says "not available".
* PennyLane: ``qml.gradients.param_shift_hessian`` on a ``default.qubit`` QNode built op by op from the
  same circuit (``tests/reference.py``); circuits counted by ``qml.Tracker``. It returns the Hessian
  alone (its count, ``2n^2 - n + 1`` after its own dedup, has no value or gradient in it).
* Aer: the ``2n^2 + n + 1`` distinct two-term-rule rows (``_common.hessian_rows``) in one
  ``EstimatorV2.run`` call (``default_precision=0``, exact), value, gradient and Hessian assembled
  from them in NumPy; the time includes building the rows and the assembly.

Sizes where a peer would take more than ``LIMIT`` seconds (estimated from its last size) are skipped
with the estimate as the reason; the 10-qubit, 2-layer, all-outputs size is always measured.
Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/derivatives.py`` (``--quick`` for tiny sizes).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import qshift  # noqa: E402
from _common import (M, TARGET, Limit, ansatz_case, assemble_hessian, has_keyword, hessian_grid,  # noqa: E402
                     max_abs_diff, measure, not_available, print_rows, progress, row)

QSHIFT, PENNYLANE, AER = M.QSHIFT, M.PL_HESSIAN, M.AER
LIMIT = {PENNYLANE: 25.0, AER: 12.0}


def run_qshift(circuit, x, order: int = 2, **options):
    d = qshift.derivatives(circuit, x, order=order, **options)
    return d, d.stats.circuits


def adjoint_row(base: dict, circuit, x, reference, order: int = 2) -> dict:
    """``qshift.derivatives(..., method="adjoint")`` measured like the default (no planner minimum: what it runs
    is sweeps and, for higher orders, the circuits of the shift rule around them)."""
    base = row(method=M.QSHIFT_ADJOINT, peer=False, **base)
    if not has_keyword(qshift.derivatives, "method"):
        return not_available(base, "qshift.derivatives(method=...)")
    r = measure(base, lambda: run_qshift(circuit, x, order, method="adjoint"), repeats=5,
                check=lambda d: max(max_abs_diff(d.tensors[k], reference.tensors[k]) for k in reference.tensors))
    if r["status"] == "ok":
        d = qshift.derivatives(circuit, x, order=order, method="adjoint")
        r.update(method_used=str(getattr(d, "method", "")), sweeps=sweeps(d.stats))
    return r


def sweeps(stats) -> dict:
    """The adjoint counters ``Stats`` has (forward and backward sweeps), by name."""
    fields = dataclasses.asdict(stats) if dataclasses.is_dataclass(stats) else vars(stats)
    return {k: v for k, v in fields.items() if "sweep" in k}


def pennylane_hessian(circuit, x):
    import pennylane as qml
    from pennylane import numpy as pnp
    from reference import pennylane_qnode

    qnode = pennylane_qnode(circuit)
    params = pnp.array(x, requires_grad=True)
    with qml.Tracker(qnode.device) as tracker:
        hess = qml.gradients.param_shift_hessian(qnode)(params)
    return np.array(hess, dtype=float).reshape(circuit.n_outputs, len(x), len(x)), tracker.totals["executions"]


def aer_hessian(circuit, x):
    """Value, gradient and Hessian from one batched EstimatorV2 call on the distinct shifted rows."""
    from simulator import aer_estimator, aer_pub, hessian_rows

    rows = hessian_rows(x)
    ev = aer_estimator().run([aer_pub(circuit, rows)]).result()[0].data.evs
    return assemble_hessian(ev, len(x)), len(rows)


def pennylane_not_run(layers: int, outputs: str) -> str | None:
    if outputs == "single" and layers != 2:
        return ("not run, to fit the time budget: PennyLane's time hardly depends on the outputs "
                "(see this size's 'all' row; 2-layer sizes run both)")
    return None


def collect(quick: bool = False) -> list[dict]:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    limits = {name: Limit(seconds) for name, seconds in LIMIT.items()}
    rows = []
    for q, layers, outputs in hessian_grid(quick):
        c, x, reference, minimum, base = ansatz_case("hessian", q, layers, outputs, 2)
        must = (q, layers, outputs) == TARGET
        work = minimum * len(c.operations) * (1 + 2 ** q / 4096)
        ours = measure(row(method=QSHIFT, peer=False, min_circuits=minimum, **base),
                       lambda: run_qshift(c, x), repeats=5,
                       check=lambda d: max_abs_diff(d.hessian, reference.hessian))
        rows.append(ours)
        rows.append(adjoint_row(base, c, x, reference))
        skip = None if quick else pennylane_not_run(layers, outputs)
        rows.append(row(method=PENNYLANE, status="skipped", note=skip, **base) if skip else measure(
            row(method=PENNYLANE, **base), lambda: pennylane_hessian(c, x), repeats=2, budget=12,
            limit=limits[PENNYLANE], work=work, must=must,
            check=lambda h: max_abs_diff(h, reference.hessian)))
        rows.append(measure(
            row(method=AER, **base), lambda: aer_hessian(c, x), repeats=2, budget=8, limit=limits[AER],
            work=work, must=must,
            check=lambda t: max(max_abs_diff(a, b) for a, b in zip(t, reference.tensors.values()))))
        progress(rows[-4:])
    return rows


def main(quick: bool) -> None:
    from _common import header

    print(header("Workload (a): value + gradient + Hessian, qshift.derivatives vs PennyLane vs Aer",
                 ["numpy", "pennylane", "qiskit-aer", "qshift"]))
    print()
    print_rows(collect(quick), ["config", "symbols", "method", "status", "circuits", "min_circuits", "seconds",
                                "max_diff", "note"])


if __name__ == "__main__":
    main("--quick" in sys.argv)
