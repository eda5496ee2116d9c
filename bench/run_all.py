"""Every benchmark in ``bench/`` in one run, side by side with its peers, into one report.

Runs each module's ``collect(quick)`` in this process (``bench/.venv``'s TensorFlow 2.21 / Keras 3,
PennyLane, Aer, Dask), then TensorFlow Quantum's side in its own virtualenv (``bench/.venv-tfq``, see
``bench/tfq_peer.py``) and the fastest simulator peers, tensorcircuit-ng on JAX and qulacs, in theirs
(``bench/.venv-peers``, see ``bench/fast_peers.py``; one process per part, each with its own time limit),
checks every peer's values against qshift's, and writes ``RESULTS.md`` (tables, targets, the machine,
versions, date), ``results.json`` (every row) and PNG plots into the output folder. A peer virtualenv that
is missing or failed to install is reported in the results, never fatal.

Single-threaded, and said so in the results: ``OMP_NUM_THREADS=1``, ``QSHIFT_NUM_THREADS=1``, ``XLA_FLAGS`` with
``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` (JAX), TensorFlow's intra- and
inter-op threads 1 (here and in TFQ's process).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/run_all.py`` (what ``make bench`` runs; about 15
minutes on 2 cores) or ``--quick`` (tiny sizes, well under a minute, written to a temporary folder
unless ``--out`` says otherwise). ``--skip tfq peers dask_scaling`` leaves parts out.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("QSHIFT_NUM_THREADS", "1")  # the local simulator's own threads: one, like every peer
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import report  # noqa: E402
from _common import (M, angles, config_name, error_text, gradient_grid, hessian_grid, machine,  # noqa: E402
                     max_abs_diff, peer_grid, row, third_order_grid, training_configs, vjp_batch)

MODULES = ["bandwidth", "derivatives", "tf_hessian", "gradient", "third_order", "training", "vjp", "estimates",
           "lih", "simulator", "scaling", "dask_scaling"]
TFQ_PYTHON = os.path.join(HERE, ".venv-tfq", "bin", "python")
TFQ_TIMEOUT = 900
PEERS_PYTHON = os.path.join(HERE, ".venv-peers", "bin", "python")
# Seconds each part of bench/fast_peers.py may take (its own process is stopped then; the rows it finished
# stay), and the most one measurement may take within it. JAX's compile is most of tc_hessian's time.
PEER_PARTS = {"tc_vjp": 150, "tc_hessian": 240, "tc_training": 200, "qulacs_hessian": 120, "qulacs_vjp": 60}
PEER_PARTS_QUICK = dict.fromkeys(PEER_PARTS, 60)
PEER_PER_RUN = 20.0
TRAINING_EPOCHS, TRAINING_BUDGET = 3, 30.0  # the peers' epochs after the first, as bench/training.py


def single_thread() -> dict:
    """TensorFlow on one intra-op and one inter-op thread (``OMP_NUM_THREADS`` and ``XLA_FLAGS`` are set above);
    returns the settings in force, as the results state them (TensorFlow's cannot change once it has run)."""
    threads = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "XLA_FLAGS": os.environ.get("XLA_FLAGS")}
    try:
        import tensorflow as tf
    except ImportError:
        return threads
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already ran in this process (under pytest): say what it has
        pass
    threads["TensorFlow intra/inter-op threads"] = (f"{tf.config.threading.get_intra_op_parallelism_threads()}/"
                                                    f"{tf.config.threading.get_inter_op_parallelism_threads()}"
                                                    " (0: TensorFlow's default, every core)")
    return threads


def run_module(name: str, quick: bool) -> list[dict]:
    start = time.perf_counter()
    print(f"[{name}]", file=sys.stderr, flush=True)
    try:
        rows = importlib.import_module(name).collect(quick)
    except Exception as exc:  # one broken benchmark must not lose the others' results
        traceback.print_exc()
        rows = [row(name, f"bench/{name}.py", status="failed", note=error_text(exc), peer=False)]
    print(f"[{name}] {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    for r in rows:
        r.setdefault("module", name)
    return rows


# -- specs for the peers' processes -------------------------------------------------------------------
def training_spec(quick: bool) -> list[dict]:
    """The training benchmark's sizes with their data and the Keras model's initial weights."""
    from training import config_label, data, initial_weights

    out = []
    for cfg in training_configs(quick):
        x, y = data(cfg["qubits"], cfg["samples"])
        out.append(dict(cfg, config=config_label(cfg), x=x.tolist(), y=y.tolist(), epochs=TRAINING_EPOCHS,
                        budget=TRAINING_BUDGET, **initial_weights(cfg)))
    return out


def sizes(grid) -> list[dict]:
    return [dict(config=config_name(q, layers, outputs), qubits=q, layers=layers, outputs=outputs,
                 x=angles(2 * q * layers).tolist()) for q, layers, outputs in grid]


def tfq_spec(quick: bool) -> dict:
    return {"gradient": sizes(gradient_grid(quick)), "hessian": sizes(hessian_grid(quick)),
            "third": sizes(third_order_grid(quick)), "training": training_spec(quick)}


def peers_spec(quick: bool) -> dict:
    vjp = []
    for size in sizes(peer_grid(quick)):
        x, upstream = vjp_batch(size["qubits"], size["layers"])
        vjp.append(dict(size, x=x.tolist(), upstream=upstream.tolist()))
    return {"vjp": vjp, "hessian": sizes(peer_grid(quick)), "training": training_spec(quick),
            "budget": PEER_PARTS_QUICK if quick else PEER_PARTS, "per_run": PEER_PER_RUN}


def install_error(venv: str, what: str, setup: str) -> tuple[str, str]:
    """(status, note) of a peer virtualenv that is not there: ``skipped`` when never created, ``failed``
    with pip's error lines from the install log (or the log's tail) when its install failed."""
    log = os.path.join(HERE, venv, "install.log")
    if not os.path.exists(log):
        return "skipped", f"bench/{venv} is missing (create it with bench/{setup}, as make bench does)"
    with open(log, errors="replace") as f:
        lines = [line.rstrip() for line in f if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR") or re.match(r"^\w+(Error|Exception): ", line)]
    return "failed", f"{what} install failed: " + " / ".join((errors or lines)[-3:])[:600]


def installed(venv: str, python: str) -> bool:
    return os.path.exists(os.path.join(HERE, venv, ".installed")) and os.path.exists(python)


# -- TensorFlow Quantum, in its own virtualenv --------------------------------------------------------
def run_tfq(quick: bool, workdir: str) -> tuple[list[dict], dict | None]:
    print("[tfq]", file=sys.stderr, flush=True)
    start = time.perf_counter()
    if not installed(".venv-tfq", TFQ_PYTHON):
        status, note = install_error(".venv-tfq", "TFQ", "setup_tfq.sh")
        return [row("tfq", "TensorFlow Quantum", status=status, note=note)], None
    spec_path, out_path = os.path.join(workdir, "tfq-spec.json"), os.path.join(workdir, "tfq-rows.json")
    with open(spec_path, "w") as f:
        json.dump(tfq_spec(quick), f)
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    env.pop("KERAS_BACKEND", None)
    try:
        done = subprocess.run([TFQ_PYTHON, os.path.join(HERE, "tfq_peer.py"), spec_path, out_path], env=env,
                              timeout=TFQ_TIMEOUT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except subprocess.TimeoutExpired:
        return [row("tfq", "TensorFlow Quantum", status="failed", note=f"timed out (> {TFQ_TIMEOUT} s)")], None
    print(f"[tfq] {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    if done.returncode != 0 or not os.path.exists(out_path):
        return [row("tfq", "TensorFlow Quantum", status="failed",
                    note=f"bench/tfq_peer.py exited with {done.returncode}: " + tail(done.stdout))], None
    with open(out_path) as f:
        result = json.load(f)
    return check_tfq(result["rows"]), result["machine"]


def tail(output: str, lines: int = 3) -> str:
    return " / ".join([line for line in (output or "").splitlines() if line.strip()][-lines:])


def check_tfq(rows: list[dict]) -> list[dict]:
    """Compare TFQ's values and Jacobians with qshift's at the same angles (TFQ computes in float32)."""
    import qshift

    for r in rows:
        result = r.pop("result", None)
        r["module"] = "tfq_peer"
        if result is None:
            continue
        c = qshift.hardware_efficient(r["qubits"], r["layers"], outputs=r["outputs"])
        d = qshift.derivatives(c, angles(c.n_symbols), order=1)
        r["max_diff"] = max(max_abs_diff(result["value"], d.value), max_abs_diff(result["jacobian"], d.jacobian))
    return rows


# -- tensorcircuit-ng and qulacs, in their own virtualenv ---------------------------------------------
def run_peers(quick: bool, workdir: str) -> tuple[list[dict], dict | None]:
    """Every part of ``bench/fast_peers.py`` in its own process with its time limit; the rows a part did
    not finish are reported as timed out or failed, with the reason."""
    if not installed(".venv-peers", PEERS_PYTHON):
        status, note = install_error(".venv-peers", "tensorcircuit-ng / qulacs", "setup_peers.sh")
        return [row("peers", "tensorcircuit-ng, qulacs", status=status, note=note)], None
    spec_path = os.path.join(workdir, "peers-spec.json")
    spec = peers_spec(quick)
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("KERAS_BACKEND", None)
    rows, info = [], None
    for part, limit in spec["budget"].items():
        print(f"[peers: {part}]", file=sys.stderr, flush=True)
        start, out_path = time.perf_counter(), os.path.join(workdir, f"peers-{part}.json")
        note = None
        try:  # the part's own budget skips sizes; the process limit is a little above it
            done = subprocess.run([PEERS_PYTHON, os.path.join(HERE, "fast_peers.py"), part, spec_path, out_path],
                                  env=env, timeout=limit + 60, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
            if done.returncode != 0:
                note = f"bench/fast_peers.py {part} exited with {done.returncode}: " + tail(done.stdout)
        except subprocess.TimeoutExpired:
            note = f"timed out: part {part} stopped at {limit + 60} s"
        print(f"[peers: {part}] {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        if not os.path.exists(out_path):
            rows.append(row("peers", f"tensorcircuit-ng, qulacs: {part}", status="failed", note=note or "no output"))
            continue
        with open(out_path) as f:
            result = json.load(f)
        info = info or result["machine"]
        rows += result["rows"] + unfinished(result, note)
    return check_peers(rows), info


def unfinished(result: dict, note: str | None) -> list[dict]:
    """Rows for what a part planned but did not finish (it timed out or crashed)."""
    done = {(r["workload"], r["method"], r["config"]) for r in result["rows"]}
    return [row(p["workload"], p["method"], config=p["config"], qubits=p["qubits"], layers=p["layers"],
                outputs="all", module="fast_peers", status="skipped" if note and note.startswith("timed out") else
                "failed", note=note or "not run")
            for p in result["planned"] if (p["workload"], p["method"], p["config"]) not in done]


def check_peers(rows: list[dict]) -> list[dict]:
    """Compare the peers' values, VJPs, gradients and Hessians with qshift's (float64) at the same inputs."""
    import qshift
    from vjp import reference

    for r in rows:
        result = r.pop("result", None)
        if result is None:
            continue
        c = qshift.hardware_efficient(r["qubits"], r["layers"])
        if r["workload"] == "vjp":
            value, vjp = reference(c, *vjp_batch(r["qubits"], r["layers"]))
            r["max_diff"] = max(max_abs_diff(result["value"], value), max_abs_diff(result["vjp"], vjp))
        else:
            d = qshift.derivatives(c, angles(c.n_symbols), order=2)
            r["max_diff"] = max(max_abs_diff(result[k], t) for k, t in
                                zip(("value", "jacobian", "hessian"), (d.value, d.jacobian, d.hessian)))
    return rows


def compare_losses(rows: list[dict]) -> None:
    """Every training row's loss curve against qshift's default row at the same size: ``loss_diff``, the
    largest difference over the epochs both ran (the models start from the same weights and data)."""
    for r in rows:
        ours = [q for q in rows if q["workload"] == "training" and q["method"] == M.QSHIFT_KERAS
                and q["config"] == r["config"] and q.get("losses")]
        if r["workload"] == "training" and r.get("losses") and ours and r is not ours[0]:
            n = min(len(r["losses"]), len(ours[0]["losses"]))
            r["loss_diff"] = max_abs_diff(r["losses"][:n], ours[0]["losses"][:n])


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: well under a minute")
    parser.add_argument("--out", help="output folder (default: bench/ for a full run, a temporary folder with --quick)")
    parser.add_argument("--only", nargs="*", choices=MODULES,
                        help="run only these modules (and TFQ and the peers unless skipped)")
    parser.add_argument("--skip", nargs="*", default=[], choices=MODULES + ["tfq", "peers"], help="leave these out")
    args = parser.parse_args(argv)
    out = args.out or (tempfile.mkdtemp(prefix="qshift-bench-") if args.quick else HERE)
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    info = machine()
    info["threads"] = single_thread()
    rows = []
    for name in args.only or MODULES:
        if name not in args.skip:
            rows += run_module(name, args.quick)
    tfq_info = peers_info = None
    with tempfile.TemporaryDirectory() as workdir:
        if "tfq" not in args.skip:
            tfq_rows, tfq_info = run_tfq(args.quick, workdir)
            rows += tfq_rows
        if "peers" not in args.skip:
            peer_rows, peers_info = run_peers(args.quick, workdir)
            rows += peer_rows
    compare_losses(rows)
    wall = time.perf_counter() - start
    info["load average at the end"] = machine()["load average"]
    results = {"mode": "quick" if args.quick else "full", "wall_seconds": wall, "machine": info,
               "tfq_machine": tfq_info, "peers_machine": peers_info, "rows": rows}
    results["targets"] = report.targets(rows)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1, default=_json_default)
    report.write(results, out)
    print(f"wrote {out}/RESULTS.md, results.json and plots in {wall:.0f} s", file=sys.stderr)
    return out


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


if __name__ == "__main__":
    main()
