"""Hessian batches on a Dask LocalCluster of 1 and of 2 worker processes, beside the plain
single-process path, in the same run, same circuit, same angles.

Circuit: ``qshift.hardware_efficient(q, 2)`` (n = 4q symbols), ``order=2``: value, gradient
and Hessian, 1 + 3n + 2n(n-1) distinct circuits: 4657 for the 12-qubit batch (n = 48), and
6329 at 14 qubits, a size where the simulation outweighs Dask's overhead. Paths:

- *plain*: ``qshift.derivatives(c, x, order=2)``, one process, the whole batch in one backend call;
- *serial chunks*: one process, the rows cut into the chunks a Dask run uses, run one after the
  other (separates the effect of chunking from the effect of a second worker);
- *dask, k workers*: ``executor=DaskExecutor(client)`` on ``LocalCluster(n_workers=k,
  threads_per_worker=1)``; chunks sized automatically (4 per worker thread). A fresh executor
  (empty cache) per call, after one warm-up call (workers import qshift on first use);
- *dask, k workers, malloc tuned*: the same, with the workers' glibc allocator settings changed
  (``TUNED_MALLOC`` below). Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``,
  which also switches off glibc's adaptive mmap threshold, so every large temporary array of the
  simulator is mmapped and unmapped again: measurably slower simulation in a worker than in a
  plain process.

Both clusters run for the whole benchmark and the paths are timed in interleaved rounds (best of
``ROUNDS``), so drifting load from other processes hits them alike. Per-chunk overhead is
measured two ways: 200 one-row chunks of the 1-qubit ``sin`` circuit (nothing to compute), wall
time / 200; and, for the real batch on 1 worker, (dask wall - the same chunks in process) / chunks.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/dask_scaling.py`` (``--quick``: 6 qubits, one round: a smoke test).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import qshift  # noqa: E402
from _common import header, row  # noqa: E402
from qshift.execution.cluster import DaskExecutor  # noqa: E402

ROUNDS = 5
TUNED_MALLOC = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 2 ** 26,  # 64 MiB
                "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": 2 ** 25}  # 32 MiB


def serial_chunks(n_chunks: int):
    """A Runner that cuts the rows into ``n_chunks`` contiguous chunks and runs them in this process."""
    sim = qshift.LocalSimulator()

    def run(circuit, angles, *, shots, seed):
        for rows in np.array_split(np.arange(len(angles)), n_chunks):
            yield rows, sim.run(circuit, angles[rows], shots=shots, seed=seed)

    return run


def start_cluster(stack: ExitStack, workers: int, tuned: bool):
    import dask
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    with dask.config.set(TUNED_MALLOC if tuned else {}):  # the nanny reads it when it starts
        cluster = stack.enter_context(LocalCluster(n_workers=workers, processes=True, threads_per_worker=1,
                                                   dashboard_address=None, silence_logs=50,
                                                   scheduler_kwargs={"dashboard_address": ":0"}))
    client = stack.enter_context(Client(cluster, set_as_default=False))
    return client, time.perf_counter() - start


def empty_chunk_overhead(client, chunks: int = 200) -> float:
    """Seconds per chunk with nothing to compute: scheduling, transfers, bookkeeping."""
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    ex = DaskExecutor(client, chunk_rows=1, progress=False)
    ex.evaluate(c, np.array([[5.0], [6.0]]))  # ship the circuit first
    start = time.perf_counter()
    ex.evaluate(c, np.linspace(0, 1, chunks)[:, None])
    return (time.perf_counter() - start) / chunks


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def measure(n_qubits: int, clients: dict, rounds: int = ROUNDS) -> list[dict]:
    c = qshift.hardware_efficient(n_qubits, 2)
    n = c.n_symbols
    x = np.random.default_rng(1234).uniform(-np.pi, np.pi, n)
    rows = 1 + 3 * n + 2 * n * (n - 1)
    paths = {"plain `qshift.derivatives`": lambda: qshift.derivatives(c, x, order=2)}
    for label, client in clients.items():
        paths[label] = (
            lambda client=client: qshift.derivatives(c, x, order=2, executor=DaskExecutor(client, progress=False)))
    results = {name: fn() for name, fn in paths.items()}  # warm-up; tells the chunk counts
    chunks = {name: d.stats.jobs for name, d in results.items()}
    for m in sorted(set(chunks.values()) - {1}):
        paths[f"serial chunks, in process ({m})"] = (
            lambda m=m: qshift.derivatives(c, x, order=2, executor=qshift.Executor(
                qshift.LocalSimulator(), runner=serial_chunks(m))))
        chunks[f"serial chunks, in process ({m})"] = m
    best = {name: float("inf") for name in paths}
    for _ in range(rounds):
        for name, fn in paths.items():
            wall, results[name] = timed(fn)
            best[name] = min(best[name], wall)

    ref = results["plain `qshift.derivatives`"]
    assert ref.stats.circuits == rows, ref.stats
    config = f"{n_qubits}q 2l all"
    out = []
    plain, one = best["plain `qshift.derivatives`"], best["dask, 1 worker"]
    for name in sorted(paths, key=lambda p: (not p.startswith("plain"), p.startswith("dask"), "tuned" in p,
                                             chunks[p])):
        d = results[name]
        out.append(row("dask", name, config=config, peer=False, qubits=n_qubits, symbols=n, outputs=c.n_outputs,
                       processes=int(name.split()[1].strip(",")) if name.startswith("dask") else 1,
                       chunks=chunks[name], seconds=best[name], repeats=rounds, circuits=d.stats.circuits,
                       min_circuits=rows, max_diff=max(np.abs(d.tensors[k] - ref.tensors[k]).max() for k in d.tensors),
                       vs_plain=plain / best[name], vs_one_worker=one / best[name] if name.startswith("dask") else None))
    m1 = chunks["dask, 1 worker"]
    for label in ("dask, 1 worker", "dask, 1 worker, malloc tuned"):
        out.append(row("dask", f"overhead per chunk, {label}", config=config, peer=False, chunks=m1,
                       seconds=(best[label] - best[f"serial chunks, in process ({m1})"]) / m1,
                       note=f"(dask wall - the same {m1} chunks in process) / {m1}, chunks of about {rows // m1} rows"))
    return out


def collect(quick: bool = False) -> list[dict]:
    rows = []
    with ExitStack() as stack:
        started = {f"dask, {k} worker{'s' if k > 1 else ''}{', malloc tuned' if tuned else ''}":
                   start_cluster(stack, k, tuned) for tuned in (False, True) for k in (1, 2)}
        clients = {label: client for label, (client, _) in started.items()}
        for label, (client, startup) in started.items():
            rows.append(row("dask", label, config="cluster start", peer=False, seconds=startup,
                            empty_chunk_seconds=empty_chunk_overhead(client, 20 if quick else 200)))
        for n_qubits in [6] if quick else [12, 14]:
            rows += measure(n_qubits, clients, 1 if quick else ROUNDS)
    return rows


def main(quick: bool) -> None:
    print(header("Dask scaling: hardware_efficient(q, 2), order=2 (value + gradient + Hessian) on 1 vs 2 workers",
                 ["numpy", "dask", "distributed", "qshift"]))
    print(f"- load average before the run (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print()
    rows = collect(quick)
    print("| cluster | start s | overhead per empty chunk ms |")
    print("|---|---:|---:|")
    for r in rows:
        if r["config"] == "cluster start":
            print(f"| {r['method']} | {r['seconds']:.1f} | {1e3 * r['empty_chunk_seconds']:.1f} |")
    for config in dict.fromkeys(r["config"] for r in rows if r["config"] != "cluster start"):
        paths = [r for r in rows if r["config"] == config and r["circuits"]]
        print()
        print(f"## {config}: {paths[0]['symbols']} symbols, {paths[0]['min_circuits']} circuits (1 + 3n + 2n(n-1)), "
              f"{paths[0]['outputs']} outputs")
        print()
        print("| path | processes computing | chunks | wall s (best of %d) | speed-up vs plain | speed-up vs dask 1 "
              "worker | circuits | max abs diff vs plain |" % paths[0]["repeats"])
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in paths:
            vs_one = f"{r['vs_one_worker']:.2f}x" if r["vs_one_worker"] else ""
            print(f"| {r['method']} | {r['processes']} | {r['chunks']} | {r['seconds']:.3f} | {r['vs_plain']:.2f}x | "
                  f"{vs_one} | {r['circuits']} | {r['max_diff']:.1e} |")
        print()
        for r in rows:
            if r["config"] == config and not r["circuits"]:
                print(f"- {r['method']}: {r['note']} = {1e3 * r['seconds']:.0f} ms")
    print()
    print(f"- load average after the run: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"This machine has {os.cpu_count()} CPU cores, shared by the client (planning, contraction), the "
          "scheduler, the workers and anything else running: 2 workers can at best approach 2x on the "
          "simulation part, the client's part does not shrink, and timings move with the machine's load. "
          "Read the numbers as the cost of going through Dask, not as the scaling a cluster of separate "
          "machines would give.")


if __name__ == "__main__":
    main("--quick" in sys.argv)
