"""Value + gradient + Hessian by ``qshift.derivatives(order=2)`` beside PennyLane's
``param_shift_hessian`` on ``default.qubit``, in the same run, same circuit, same angles.

Circuit: the hardware-efficient ansatz (RY.RZ on every qubit, CNOT ring) with every qubit's
<Z> as an output. Reported: distinct circuits each tool executed, wall time, and the ratio.
Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/derivatives.py`` (``--quick`` for small sizes).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import qshift  # noqa: E402
from _common import best_of, header  # noqa: E402


def pennylane_hessian(circuit, x):
    import pennylane as qml
    from pennylane import numpy as pnp
    from reference import pennylane_qnode

    qnode = pennylane_qnode(circuit)
    params = pnp.array(x, requires_grad=True)
    with qml.Tracker(qnode.device) as tracker:
        hess = qml.gradients.param_shift_hessian(qnode)(params)
    return np.array(hess, dtype=float).reshape(circuit.n_outputs, len(x), len(x)), tracker.totals["executions"]


def main(sizes) -> None:
    print(header("qshift.derivatives(order=2) vs PennyLane param_shift_hessian",
                 ["numpy", "pennylane", "qshift"]))
    print()
    print("| qubits | layers | symbols | outputs | qshift circuits | PennyLane circuits | qshift s | PennyLane s"
          " | speed-up | max abs diff |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n_qubits, layers in sizes:
        c = qshift.hardware_efficient(n_qubits, layers)
        x = np.random.default_rng(1234).uniform(-np.pi, np.pi, c.n_symbols)
        t_q, d = best_of(lambda: qshift.derivatives(c, x, order=2))
        t_p, (hess, executions) = best_of(lambda: pennylane_hessian(c, x), repeats=2, budget=90)
        diff = np.abs(d.hessian - hess).max()
        print(f"| {n_qubits} | {layers} | {c.n_symbols} | {c.n_outputs} | {d.stats.circuits} | {executions} | "
              f"{t_q:.3f} | {t_p:.2f} | {t_p / t_q:.0f}x | {diff:.1e} |", flush=True)
    print()
    print("qshift's count is value + gradient + Hessian (2n^2 + n + 1); PennyLane's is the Hessian alone "
          "(2n^2 - n + 1 with its own dedup).")


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    main([(4, 1), (4, 2)] if quick else [(4, 2), (6, 2), (8, 2), (10, 2)])
