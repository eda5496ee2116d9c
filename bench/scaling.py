"""Scaling: how circuits, wall time and peak memory grow with the number of symbols n, the number
of qubits and the number of input rows, with fitted exponents beside the theoretical ones.

* symbols: ``qshift.derivatives(hardware_efficient(6, L), x, order=2)`` for L = 1..8 (n = 12L):
  circuits (theory ``2n^2 + n + 1``, exponent 2; the naive nesting count ``4n^2 + 2n + 1`` beside it),
  wall time and peak memory.
* qubits: ``LocalSimulator.run`` on random rows of ``hardware_efficient(q, 2, "single")`` (no two rows share
  a prefix; ``2^20`` amplitudes in all, at least one row), q = 8..24: seconds per row (theory ``~ 2^q`` per gate; the gates grow like q too),
  peak memory of a one-row run (theory ``~ 2^q`` once a state outgrows the cache-sized chunks), the
  effective bandwidth (``bench/bandwidth.py``); Aer's ``EstimatorV2`` on the same rows beside it
  while it stays under ``AER_LIMIT`` seconds. The simulator's one-time compilation of the circuit
  (cached per circuit, so not in the run times) is timed on its own: it builds 2^q-sized index and
  coefficient arrays per gate and per output, which is why this sweep measures one output; at 20
  qubits it is also timed with every qubit's ``<Z>`` (``compile`` rows).
* rows: ``qshift.derivatives(hardware_efficient(4, 2), X[B, n], order=2)`` for B = 1..256 (theory:
  circuits, time linear in B).

Exponents are least-squares slopes of log(y) on log(x) (on log2(y) against q for qubits), over
the sizes marked in ``FIT_FROM`` (small sizes measure fixed overheads, not growth). Peak memory is
``tracemalloc``'s peak (NumPy reports its buffers to it) in a separate, untimed run.
Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/scaling.py`` (``--quick``: small sizes).
"""

from __future__ import annotations

import os
import sys
import tracemalloc

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))

import qshift  # noqa: E402
from _common import Limit, M, angles, best_of, measure, print_rows, row, timed  # noqa: E402
from qshift.backends.local.compile import _compile  # noqa: E402

AER_LIMIT = 5.0
FIT_FROM = {"symbols": 24, "qubits": 14, "qubits memory": 20, "rows": 4}


def peak_memory(fn) -> int:
    """Peak bytes allocated (Python and NumPy) while ``fn()`` runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def symbols_sweep(quick: bool) -> list[dict]:
    rows = []
    for layers in (1, 2, 3) if quick else range(1, 9):
        c = qshift.hardware_efficient(2 if quick else 6, layers)
        x = angles(c.n_symbols)
        p = qshift.plan(c, order=2)
        run = lambda: qshift.derivatives(c, x, order=2)
        seconds, d = best_of(run, 3)
        rows.append(row("scaling", "qshift.derivatives", config=f"{c.n_qubits}q {layers}l all", peer=False,
                        sweep="symbols", x=c.n_symbols, qubits=c.n_qubits, layers=layers, symbols=c.n_symbols,
                        circuits=d.stats.circuits, min_circuits=p.circuits, naive_circuits=p.naive_circuits,
                        seconds=seconds, repeats=3, peak_bytes=peak_memory(run)))
    return rows


def qubits_sweep(quick: bool) -> list[dict]:
    from bandwidth import simulator_row
    from simulator import aer_estimator, aer_pub

    aer_limit = Limit(AER_LIMIT)
    rows = []
    for q in (4, 6, 8) if quick else range(8, 25, 2):
        c = qshift.hardware_efficient(q, 2, outputs="single")
        batch = max(1, 2 ** ((12 if quick else 20) - q))
        values = angles(c.n_symbols, rows=batch)
        slot_angles = c.slot_angles(values)
        sim = qshift.LocalSimulator()
        compile_seconds, _ = timed(lambda: _compile(c))
        ours = simulator_row("scaling", f"{q}q 2l single, {batch} random rows", c, slot_angles,
                             repeats=3 if q < 22 else 2, sweep="qubits", x=q, layers=2, outputs="single",
                             symbols=c.n_symbols, compile_seconds=compile_seconds)
        ours["seconds_per_row"] = ours["seconds"] / batch
        ours["peak_bytes"] = peak_memory(lambda: sim.run(c, slot_angles[:1]))
        rows.append(ours)

        def aer():
            return aer_estimator().run([aer_pub(c, values)]).result()[0].data.evs, batch

        reference = sim.run(c, slot_angles).values
        theirs = measure(row("scaling", M.AER, config=ours["config"], sweep="qubits", x=q, qubits=q, rows=batch),
                         aer, repeats=2, budget=2 * AER_LIMIT, limit=aer_limit, work=batch * 2 ** q,
                         check=lambda ev: np.abs(ev - reference).max())
        if theirs["seconds"] is not None:
            theirs["seconds_per_row"] = theirs["seconds"] / batch
        rows.append(theirs)
        print(f"  scaling qubits {q}: compile {compile_seconds:.3g} s, local {ours['seconds']:.3g} s, "
              f"Aer {theirs['seconds'] or theirs['status']}", file=sys.stderr, flush=True)
    return rows


def compile_rows(quick: bool) -> list[dict]:
    """The simulator's one-time compilation of a circuit (cached per circuit), one output vs every qubit's."""
    rows = []
    for outputs in ("single", "all"):
        c = qshift.hardware_efficient(8 if quick else 20, 2, outputs=outputs)
        _compile.cache_clear()
        seconds, _ = timed(lambda: _compile(c))
        _compile.cache_clear()
        rows.append(row("scaling", "LocalSimulator compile", config=f"{c.n_qubits}q 2l {outputs}", peer=False,
                        sweep="compile", qubits=c.n_qubits, outputs=outputs, seconds=seconds, repeats=1,
                        peak_bytes=peak_memory(lambda: _compile(c))))
        _compile.cache_clear()
    return rows


def rows_sweep(quick: bool) -> list[dict]:
    rows = []
    c = qshift.hardware_efficient(2 if quick else 4, 2)
    for batch in (1, 2, 4) if quick else (1, 2, 4, 8, 16, 32, 64, 128, 256):
        x = angles(c.n_symbols, rows=batch)
        run = lambda: qshift.derivatives(c, x, order=2)
        seconds, d = best_of(run, 3)
        rows.append(row("scaling", "qshift.derivatives", config=f"{c.n_qubits}q 2l all, {batch} rows", peer=False,
                        sweep="rows", x=batch, qubits=c.n_qubits, layers=2, symbols=c.n_symbols, rows=batch,
                        circuits=d.stats.circuits, min_circuits=qshift.plan(c, order=2, rows=batch).circuits,
                        seconds=seconds, repeats=3, peak_bytes=peak_memory(run)))
    return rows


def fits(rows: list[dict]) -> list[dict]:
    """Fitted exponents beside the theoretical ones, one dict per (sweep, quantity, method)."""
    from _common import fit_exponent

    out = []
    specs = [("symbols", "circuits", "qshift.derivatives", 2, "circuits ~ n^2 (2n^2 + n + 1)"),
             ("symbols", "naive_circuits", "qshift.derivatives", 2, "naive nesting ~ n^2 (4n^2 + 2n + 1)"),
             ("symbols", "seconds", "qshift.derivatives", 3,
              "time: n^2 circuits, each ~n gates deep (shared prefixes cut this)"),
             ("symbols", "peak_bytes", "qshift.derivatives", 3, "memory ~ n^3: the points' angles, (2n^2 + n + 1) x n"),
             ("qubits", "seconds_per_row", "LocalSimulator.run", 1, "time per row ~ 2^q (times ~q gates)"),
             ("qubits", "seconds_per_row", M.AER, 1, "time per row ~ 2^q"),
             ("qubits", "peak_bytes", "LocalSimulator.run", 1, "memory ~ 2^q"),
             ("rows", "circuits", "qshift.derivatives", 1, "circuits ~ rows"),
             ("rows", "seconds", "qshift.derivatives", 1, "time ~ rows"),
             ("rows", "peak_bytes", "qshift.derivatives", 1, "memory ~ rows")]
    for sweep, quantity, method, theory, meaning in specs:
        start = FIT_FROM["qubits memory" if (sweep, quantity) == ("qubits", "peak_bytes") else sweep]
        pts = [(r["x"], r.get(quantity)) for r in rows
               if r.get("sweep") == sweep and r["method"] == method and r.get(quantity) and r["x"] >= start]
        if len(pts) < 2:
            pts = [(r["x"], r.get(quantity)) for r in rows
                   if r.get("sweep") == sweep and r["method"] == method and r.get(quantity)]
        xs, ys = zip(*pts) if pts else ((), ())
        if sweep == "qubits":  # y ~ 2^(k q): the slope of log y on q, in units of log 2
            fitted = float(np.polyfit(xs, np.log2(ys), 1)[0]) if len(xs) >= 2 else float("nan")
        else:
            fitted = fit_exponent(xs, ys)
        out.append(dict(sweep=sweep, quantity=quantity, method=method, fitted=fitted, theory=theory,
                        meaning=meaning, fit_range=f"{min(xs)}..{max(xs)}" if xs else "", points=len(xs)))
    return out


def collect(quick: bool = False) -> list[dict]:
    rows = symbols_sweep(quick) + qubits_sweep(quick) + compile_rows(quick) + rows_sweep(quick)
    for f in fits(rows):
        method = f.pop("method")
        rows.append(row("scaling-fit", method, config=f"{f['sweep']}: {f['quantity']}", peer=False, **f))
    return rows


def main(quick: bool) -> None:
    from _common import header

    print(header("Scaling with symbols, qubits and rows", ["numpy", "qiskit-aer", "qshift"]))
    print()
    rows = collect(quick)
    print_rows([r for r in rows if r["workload"] == "scaling"],
               ["sweep", "config", "method", "circuits", "seconds", "peak_bytes"])
    print()
    print_rows([r for r in rows if r["workload"] == "scaling-fit"],
               ["sweep", "quantity", "method", "fitted", "theory", "fit_range", "meaning"])


if __name__ == "__main__":
    main("--quick" in sys.argv)
