"""The built-in simulator toward its limit: the machine's memory bandwidth, measured in the same run
by large NumPy copies, beside the local backend's effective bandwidth on Hessian batches.

* copy bandwidth: ``np.copyto`` of a ``COPY_MIB`` MiB complex array (far larger than any cache),
  best of 5; bandwidth = (bytes read + bytes written) / time. The same for a 4 MiB array (fits in
  cache), the size class the simulator's chunks are made for.
* effective bandwidth: ``LocalSimulator.run`` on the distinct value + gradient + Hessian rows of
  ``hardware_efficient(q, 2)`` (``bench/simulator.py``'s ``hessian_rows``), best of 3. Bytes: every
  state every kernel reads plus every state it writes, and the states read for the expectation
  values, as the simulator actually ran them (a state shared by rows with a common prefix counts
  once), counted in a separate, untimed run with the kernels' ``apply`` wrapped. It leaves out the
  copies of split groups and the small operator arrays, so it is a lower bound on the traffic.
  The row-by-row figure is the same per kernel for every row on its own (no sharing), the traffic a
  simulator without shared prefixes would need for the same answer in the same time.
* gate-by-gate bandwidth: the bytes of the batch itself, as a plain statevector simulation touches
  them (every row, every gate of the circuit reads and writes the full state, the expectation
  reads it once), per second of the same run. Fusion and shared prefixes are what lift it above
  the physical figure: the issue's own measure, under which sharing can beat the copy bandwidth.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bandwidth.py`` (``--quick``: small sizes).
"""

from __future__ import annotations

import contextlib
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))

import qshift  # noqa: E402
from _common import angles, best_of, print_rows, row  # noqa: E402
from qshift.backends.local import kernels as _kernels  # noqa: E402
from qshift.backends.local.compile import _compile  # noqa: E402
from qshift.backends.local.observables import _Observables  # noqa: E402

COPY_MIB = 512
KERNELS = ("_OneQubit", "_Block", "_Fresh", "_Expand", "_Monomial", "_Diagonal", "_General")


def copy_bandwidth(mib: float, repeats: int = 5) -> tuple[float, float]:
    """(bytes per second, seconds) of the best ``np.copyto`` of ``mib`` MiB, read + write counted."""
    src = np.ones(int(mib * 2 ** 20) // 16, dtype=complex)
    dst = np.empty_like(src)
    inner = max(1, int(256 // mib))  # small arrays: many copies per timing, so the timer does not dominate

    def copy():
        for _ in range(inner):
            np.copyto(dst, src)

    seconds, _ = best_of(copy, repeats, budget=60)
    return 2 * src.nbytes * inner / seconds, seconds / inner


@contextlib.contextmanager
def counting_bytes():
    """Count the state bytes the simulator's kernels read and write while inside (not for timing)."""
    counter = {"bytes": 0, "applications": 0, "state_rows": 0}
    originals = {name: getattr(_kernels, name).apply for name in KERNELS}
    expectations = _Observables.expectations

    def wrap(apply):
        def counted(self, states, ops, n, out):
            counter["bytes"] += states.nbytes + out.nbytes
            counter["applications"] += 1
            counter["state_rows"] += len(out)
            return apply(self, states, ops, n, out)
        return counted

    def counted_expectations(self, states, scratch):
        counter["bytes"] += states.nbytes
        return expectations(self, states, scratch)

    try:
        for name, apply in originals.items():
            setattr(getattr(_kernels, name), "apply", wrap(apply))
        _Observables.expectations = counted_expectations
        yield counter
    finally:
        for name, apply in originals.items():
            setattr(getattr(_kernels, name), "apply", apply)
        _Observables.expectations = expectations


def touched(circuit, slot_angles: np.ndarray) -> dict:
    """Bytes of state the local simulator reads and writes for these rows, and the row-by-row figure."""
    sim = qshift.LocalSimulator()
    with counting_bytes() as counter:
        sim.run(circuit, slot_angles)
    program = _compile(circuit)
    full = 16 * 2 ** circuit.n_qubits
    per_row = sum(2 * full for k in program.kernels if not isinstance(k, _kernels._Fresh)) + full
    gate_by_gate = (2 * len(circuit.operations) + 1) * full
    return dict(counter, row_by_row_bytes=per_row * len(slot_angles), kernels=len(program.kernels),
                gate_by_gate_bytes=gate_by_gate * len(slot_angles), gates=len(circuit.operations))


def simulator_row(workload: str, config: str, circuit, slot_angles: np.ndarray, repeats: int, **fields) -> dict:
    """Time ``LocalSimulator.run`` on these rows (best of ``repeats``) and its effective bandwidth."""
    sim = qshift.LocalSimulator()
    sim.run(circuit, slot_angles[:1])  # compiles (cached by circuit)
    seconds, _ = best_of(lambda: sim.run(circuit, slot_angles), repeats, budget=30)
    t = touched(circuit, slot_angles)
    return row(workload, "LocalSimulator.run", config=config, peer=False, qubits=circuit.n_qubits,
               rows=len(slot_angles), circuits=len(slot_angles), seconds=seconds, repeats=repeats,
               bytes=t["bytes"], effective_bandwidth=t["bytes"] / seconds, kernel_applications=t["applications"],
               state_rows=t["state_rows"], kernels=t["kernels"], row_by_row_bytes=t["row_by_row_bytes"],
               row_by_row_bandwidth=t["row_by_row_bytes"] / seconds, gates=t["gates"],
               gate_by_gate_bytes=t["gate_by_gate_bytes"], gate_by_gate_bandwidth=t["gate_by_gate_bytes"] / seconds,
               **fields)


def collect(quick: bool = False) -> list[dict]:
    from simulator import hessian_rows

    rows = []
    for mib, label in ((64 if quick else COPY_MIB, "large array (DRAM)"), (4, "4 MiB array (cache)")):
        bandwidth, seconds = copy_bandwidth(mib)
        rows.append(row("bandwidth", "np.copyto", config=f"{mib} MiB, {label}", peer=False, seconds=seconds,
                        bytes=2 * int(mib * 2 ** 20), effective_bandwidth=bandwidth, kind="copy"))
    for q in (4,) if quick else (10, 12, 14):
        c = qshift.hardware_efficient(q, 2)
        points = hessian_rows(angles(c.n_symbols))
        rows.append(simulator_row("bandwidth", f"{q}q 2l all, Hessian batch", c, c.slot_angles(points),
                                  repeats=3, kind="hessian batch", layers=2, outputs="all", symbols=c.n_symbols))
    return rows


def main(quick: bool) -> None:
    from _common import header

    print(header("Memory bandwidth: np.copyto vs the local simulator's effective bandwidth", ["numpy", "qshift"]))
    print()
    rows = collect(quick)
    for r in rows:
        r["GB/s"] = r["effective_bandwidth"] / 1e9
        r["gate-by-gate GB/s"] = r.get("gate_by_gate_bandwidth", r["effective_bandwidth"]) / 1e9
    print_rows(rows, ["config", "method", "rows", "seconds", "bytes", "GB/s", "gate-by-gate GB/s", "kernel_applications",
                      "state_rows"])


if __name__ == "__main__":
    main("--quick" in sys.argv)
