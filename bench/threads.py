"""Both cores: the local simulator on one thread and on two, for the work where a second thread could pay.

Measured (best of a few runs, wall seconds) with ``LocalSimulator(threads=1)`` and ``LocalSimulator(threads=2)``
on ``qshift.hardware_efficient(q, 2)`` (every qubit's ``<Z>``):

* ``Hessian batch``: value + gradient + Hessian at one point by the shift rule, ``qshift.derivatives(c, x,
  order=2)``; the chunks of the shifted batch run on the threads.
* ``adjoint VJP``: the 32-row vector-Jacobian product ``LocalSimulator.adjoint(c, angles, upstream)``; the two
  halves of the rows run on the threads.

Small states (under ``2**10`` amplitudes) always run on one thread, where a second one was measured not to pay;
both are still timed here at 8 qubits to show it. ``OMP_NUM_THREADS=1`` (NumPy's BLAS on one thread).
The table is appended to ``bench/RESULTS.md`` by ``make bench``; run alone: ``.venv/bin/python bench/threads.py``.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import qshift  # noqa: E402
from qshift.backends.local.simulator import LocalSimulator  # noqa: E402


def best(work, repeats: int = 5) -> float:
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(sizes=(8, 10, 12)) -> list[tuple]:
    rows = []
    for q in sizes:
        c = qshift.hardware_efficient(q, 2)
        rng = np.random.default_rng(q)
        x = rng.uniform(-np.pi, np.pi, c.n_symbols)
        batch = c.slot_angles(rng.uniform(-np.pi, np.pi, (32, c.n_symbols)))
        upstream = rng.normal(size=(32, c.n_outputs))
        for name, work in (("Hessian batch", lambda sim: qshift.derivatives(c, x, order=2, device=sim)),
                           ("adjoint VJP", lambda sim: sim.adjoint(c, batch, upstream))):
            one = best(lambda: work(LocalSimulator(threads=1)))
            two = best(lambda: work(LocalSimulator(threads=2)))
            rows.append((f"{q}q 2l", name, one, two))
    return rows


def table(rows) -> str:
    lines = ["## Both cores: the local simulator on one and two threads", "",
             f"`OMP_NUM_THREADS=1`; load average at the end {', '.join(f'{v:.2f}' for v in os.getloadavg())}; "
             "what each row runs: `bench/threads.py`. Speed-up below 1 means the second thread did not pay.", "",
             "| size | work | 1 thread | 2 threads | speed-up |", "|---|---|---:|---:|---:|"]
    lines += [f"| {size} | {name} | {one:.4f} s | {two:.4f} s | {one / two:.2f}x |" for size, name, one, two in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = table(measure())
    print(text)
    if "--append" in sys.argv:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md"), "a") as f:
            f.write("\n" + text)
