"""The built-in simulator against Qiskit Aer's EstimatorV2 on a shifted Hessian batch.

The batch is every distinct point a value + gradient + Hessian needs with the two-term
shift rule at one random base row ``x`` of the hardware-efficient ansatz
``qshift.hardware_efficient(n, 2)`` (``S = 4n`` symbols, one slot each):

* ``x``;
* ``x +- (pi/2) e_i`` for every i (``2S`` rows);
* ``x + pi e_i`` for every i (``S`` rows; ``+pi`` and ``-pi`` coincide modulo ``2 pi``);
* ``x + (+-pi/2) e_i + (+-pi/2) e_j`` for every ``i < j`` and all four sign pairs.

For 10 qubits that is 1 + 80 + 40 + 3120 = 3241 rows. Both simulators get the same rows in one
call each: ``LocalSimulator.run(circuit, angles)`` and one Aer ``EstimatorV2`` PUB (circuit with
``Parameter``s, observables broadcast against the parameter-value rows, ``default_precision=0``).
Values are checked to agree (max abs diff < 1e-10); times are best-of-N wall seconds in this
process, the two simulators alternating.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/simulator.py`` (``--quick``: 4 qubits only)
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))

import qshift  # noqa: E402
from _common import cpu_model, hessian_rows  # noqa: E402
from qshift import LocalSimulator  # noqa: E402

SEED = 7
CASES = [(6, "all"), (6, "single"), (10, "all"), (10, "single"), (12, "all"), (12, "single")]
QUICK_CASES = [(4, "all")]
REPEATS = {4: 3, 6: 5, 10: 4, 12: 3}  # timed rounds per size (the first one also checks the values)
TOLERANCE = 1e-10


def to_qiskit(circuit: qshift.Circuit):
    """The qshift circuit as a parametrized Qiskit circuit and its observables (qubit q = qubit q)."""
    from qiskit.circuit import Parameter, QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp

    params = {name: Parameter(name) for name in circuit.symbols}
    qc = QuantumCircuit(circuit.n_qubits)
    for op in circuit.operations:
        if op.angle is None:
            getattr(qc, op.gate)(*op.qubits)
        else:
            angle = op.angle.b if op.angle.symbol is None else op.angle.a * params[op.angle.symbol] + op.angle.b
            getattr(qc, op.gate)(angle, *op.qubits)
    observables = []
    for pauli in circuit.outputs:
        label = "".join(p for _, p in pauli.factors)
        qubits = [q for q, _ in pauli.factors]
        observables.append(SparsePauliOp.from_sparse_list([(label, qubits, 1.0)], circuit.n_qubits))
    return qc, [params[name] for name in circuit.symbols], observables


def aer_estimator():
    """Aer's exact estimator (no shot noise)."""
    from qiskit_aer.primitives import EstimatorV2

    return EstimatorV2(options={"default_precision": 0})


def aer_pub(circuit: qshift.Circuit, values: np.ndarray) -> tuple:
    """One EstimatorV2 PUB: every output at every row of symbol ``values`` ``(B, n)``."""
    qc, params, observables = to_qiskit(circuit)
    return qc, [observables], {tuple(params): values[:, None, :]}  # (1, n_out) x (B, 1) -> (B, n_out)


def best_of(fns, repeats: int) -> tuple[list[float], list]:
    """Best wall time of each function over ``repeats`` rounds, and each one's first result; the
    functions alternate within a round, so that load from elsewhere hits both sides alike."""
    best, first = [float("inf")] * len(fns), [None] * len(fns)
    for round_ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            result = fn()
            best[i] = min(best[i], time.perf_counter() - t0)
            first[i] = result if round_ == 0 else first[i]
    return best, first


def run_case(n_qubits: int, outputs: str) -> dict:
    circuit = qshift.hardware_efficient(n_qubits, 2, outputs=outputs)
    x = np.random.default_rng(SEED).uniform(-np.pi, np.pi, circuit.n_symbols)
    values = hessian_rows(x)
    angles = circuit.slot_angles(values)
    estimator, pub = aer_estimator(), aer_pub(circuit, values)

    sim = LocalSimulator()
    sim.run(circuit, angles[:1])  # compiles the circuit (cached); Aer has no such step to warm
    (t_local, t_aer), (local, aer) = best_of(
        [lambda: sim.run(circuit, angles).values, lambda: estimator.run([pub]).result()[0].data.evs],
        REPEATS[n_qubits])
    diff = float(np.max(np.abs(local - aer)))
    if not diff < TOLERANCE:
        raise SystemExit(f"{n_qubits} qubits, outputs={outputs}: values differ by {diff:.3g}")
    return dict(rows=len(values), qubits=n_qubits, outputs=outputs, local=t_local, aer=t_aer, diff=diff)


def header() -> str:
    import qiskit
    import qiskit_aer

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return "\n".join([
        f"date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}; "
        f"load average {load}",
        f"python {platform.python_version()}, numpy {np.__version__}, qiskit {qiskit.__version__}, "
        f"qiskit-aer {qiskit_aer.__version__}",
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}",
        "circuit: qshift.hardware_efficient(n, 2); rows: value + gradient + Hessian points (two-term rule)",
        "peer: qiskit_aer.primitives.EstimatorV2(default_precision=0), all rows in one PUB; "
        f"times: best of {'/'.join(str(r) for r in REPEATS.values())} ({'/'.join(str(q) for q in REPEATS)} qubits), "
        "alternating",
    ])


def collect(quick: bool = False) -> list[dict]:
    """The cases as benchmark rows: the local simulator and Aer on the same rows, one call each."""
    from _common import row

    rows = []
    for n_qubits, outputs in QUICK_CASES if quick else CASES:
        r = run_case(n_qubits, outputs)
        base = dict(workload="simulator", config=f"{n_qubits}q 2l {outputs}", qubits=n_qubits, layers=2,
                    outputs=outputs, rows=r["rows"], circuits=r["rows"], max_diff=r["diff"],
                    repeats=REPEATS[n_qubits])
        rows.append(row(method="LocalSimulator.run", peer=False, seconds=r["local"], **base))
        rows.append(row(method="Aer EstimatorV2.run, one PUB", seconds=r["aer"], **base))
    return rows


def main(argv: list[str]) -> None:
    if argv == ["--quick"]:
        argv = [f"{q}:{o}" for q, o in QUICK_CASES]
    cases = CASES if not argv else [(int(a.split(":")[0]), a.split(":")[1]) for a in argv]
    print(header())
    print()
    print(f"{'rows':>6} {'qubits':>6} {'outputs':>8} {'local s':>9} {'aer s':>9} {'aer/local':>9} {'max diff':>9}")
    for n_qubits, outputs in cases:
        r = run_case(n_qubits, outputs)
        print(f"{r['rows']:>6} {r['qubits']:>6} {r['outputs']:>8} {r['local']:>9.4f} {r['aer']:>9.4f} "
              f"{r['aer'] / r['local']:>9.2f} {r['diff']:>9.1e}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
