"""Mitigated Hessians on a noisy emulator: how much bias each mitigation removes, and what it costs on QPUs.

Device: ``aer-noisy-readout`` (Qiskit Aer's density matrix; depolarizing noise ``p1 = 0.001`` after every one-
and ``p2 = 0.01`` after every two-qubit operation, and readout errors ``P(1|0) = 0.02``, ``P(0|1) = 0.05`` on
every qubit). Circuits, with every output's value, gradient and Hessian (``order=2``):

* ``vqe-h2``: 4 qubits, 3 symbols at ``(0.22, 0.1, -0.1)``, its 14 Pauli terms as outputs (126 Hessian entries);
* ``hea 4q 1l``: ``qshift.hardware_efficient(4, 1)``, 8 symbols at ``linspace(0.2, 1.4, 8)``, every ``<Z_q>``
  (256 Hessian entries).

Mitigations: none (``raw``), ``"readout"``, ``"zne"`` (global folding at scale factors 1, 3, 5, Richardson),
``("readout", "zne")``, and both with ZNE's cheaper variant ``{"scale_factors": (1, 3), "extrapolation": "linear"}``
(standard errors amplified 1.58x instead of Richardson's 2.28x, less bias removed), each through
``qshift.derivatives(..., mitigation=...)`` as a user calls it.

What each column is:

* ``max error``: ``max |H - H_exact|`` over every entry; ``H_exact`` from the noiseless local simulator.
  ``exact`` rows run without shots (Aer's exact expectation values of the noisy density matrix, readout error
  included): the bias alone. Shot rows are seeded (``seed=1``) at one budget per circuit: 2,000 shots per
  execution for ``vqe-h2``, 20,000 for ``hea 4q 1l`` (its raw bias, 0.08, needs more shots to stand out).
* ``within 3 SE``: fraction of entries with ``|H - H_exact| <= 3 * d.standard_error(2)`` (the reported standard
  errors: shot noise, the extrapolation's amplification and the calibration's shot noise). A raw Hessian's
  small fraction says that its error is bias, not shot noise.
* ``median SE``: the median reported standard error of the entries (how much noise the mitigation adds).
* ``circuits`` / ``executions``: what the request ran (calibration included; 0 when reused), ``s``: its wall time.
* price multiplier: ``qshift.estimate(vqe-h2, order=2, shots=1000, device=d, mitigation=m)``: planned price with
  the mitigation over the unmitigated planned price, on every profile in ``qshift.available_devices()`` that
  has a price (nothing is run).

The readout calibration (two circuits) is taken once per process and hour (its reuse window) and seeded by
that window, not by the request's seed: ``readout`` rows with shots change from one hour to the next by the
calibration's noise, which their standard errors include. Run: ``.venv/bin/python bench/mitigation.py``
(under two minutes on one core); ``--append`` appends the tables to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import qshift  # noqa: E402

DEVICE = "aer-noisy-readout"
LINEAR = {"readout": True, "zne": {"scale_factors": (1, 3), "extrapolation": "linear"}}
MITIGATIONS = (("raw", None), ("readout", "readout"), ("zne", "zne"), ("readout + zne", ("readout", "zne")),
               ("readout + zne (1, 3) linear", LINEAR))
PRICED = MITIGATIONS[1:]
SEED = 1


def cases() -> list[tuple[str, qshift.Circuit, np.ndarray, int]]:
    """(name, circuit, symbol values, shots per execution of the seeded rows)."""
    return [("vqe-h2", qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2")), np.array([0.22, 0.1, -0.1]), 2000),
            ("hea 4q 1l", qshift.hardware_efficient(4, 1), np.linspace(0.2, 1.4, 8), 20000)]


def accuracy_rows() -> list[dict]:
    rows = []
    for name, circuit, x, budget in cases():
        exact = qshift.derivatives(circuit, x, order=2).hessian
        for shots in (None, budget):
            for label, mitigation in MITIGATIONS:
                start = time.perf_counter()
                d = qshift.derivatives(circuit, x, order=2, device=DEVICE, shots=shots, seed=SEED if shots else None,
                                       store=False, mitigation=mitigation)
                seconds = time.perf_counter() - start
                error, se = np.abs(d.hessian - exact), d.standard_error(2)
                rows.append({"circuit": name, "shots": shots, "mitigation": label, "max_error": float(error.max()),
                             "within": float(np.mean(error <= 3 * se)) if shots else None,
                             "median_se": float(np.median(se)) if shots else None, "circuits": d.stats.circuits,
                             "executions": d.stats.executions, "seconds": seconds})
    return rows


def price_rows() -> list[tuple[str, str, float, list[float]]]:
    """(device, currency, unmitigated planned price, [multiplier per mitigation]) for every priced profile."""
    vqe = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2"))
    out = []
    for device in qshift.available_devices():
        plain = qshift.estimate(vqe, order=2, device=device, shots=1000)
        if not plain.planned.price:
            continue
        multipliers = [qshift.estimate(vqe, order=2, device=device, shots=1000, mitigation=m).planned.price
                       / plain.planned.price for _, m in PRICED]
        out.append((device, plain.currency, plain.planned.price, multipliers))
    return out


def accuracy_table(rows) -> str:
    lines = [("| circuit | shots | mitigation | max error | vs raw | within 3 SE | median SE | circuits | executions "
              "| s |"), "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    raw = {(r["circuit"], r["shots"]): r["max_error"] for r in rows if r["mitigation"] == "raw"}
    for r in rows:
        ratio = raw[r["circuit"], r["shots"]] / r["max_error"]
        within = "" if r["within"] is None else f"{100 * r['within']:.0f} %"
        se = "" if r["median_se"] is None else f"{r['median_se']:.4f}"
        shots = "exact" if r["shots"] is None else f"{r['shots']:,}"
        lines.append(f"| {r['circuit']} | {shots} | {r['mitigation']} "
                     f"| {r['max_error']:.4f} | {ratio:.1f}x | {within} | {se} | {r['circuits']:,} "
                     f"| {r['executions']:,} | {r['seconds']:.1f} |")
    return "\n".join(lines)


def price_table(rows) -> str:
    head = " | ".join(label for label, _ in PRICED)
    lines = [f"| device | unmitigated | {head} |", "|---|---:|" + "---:|" * len(PRICED)]
    for device, currency, price, multipliers in rows:
        lines.append(f"| {device} | {price:,.2f} {currency} | " + " | ".join(f"{m:.2f}x" for m in multipliers) + " |")
    return "\n".join(lines)


def report(accuracy, prices) -> str:
    return "\n".join([
        f"## Mitigated Hessians on `{DEVICE}` (`bench/mitigation.py`)", "",
        ("Largest error of every output's Hessian against the noiseless one: `exact` rows without shots (the bias "
         "alone), the others seeded. ZNE: global folding at 1, 3, 5, Richardson, unless the row says (1, 3) linear. "
         "`within 3 SE`: entries within three reported standard errors of the exact ones. "
         f"`OMP_NUM_THREADS=1`; load average at the end {', '.join(f'{v:.2f}' for v in os.getloadavg())}."), "",
        accuracy_table(accuracy), "",
        ("Price multiplier of each mitigation: `qshift.estimate(vqe-h2, order=2, shots=1000, mitigation=...)`, "
         "planned price over the unmitigated planned price, on every profile with a price."), "",
        price_table(prices), ""])


if __name__ == "__main__":
    text = report(accuracy_rows(), price_rows())
    print(text)
    if "--append" in sys.argv:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md"), "a") as f:
            f.write("\n" + text)
