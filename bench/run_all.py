"""Every benchmark in ``bench/`` in one run, side by side with its peers, into one report.

Runs each module's ``collect(quick)`` in this process (``bench/.venv``'s TensorFlow 2.21 / Keras 3,
PennyLane, Aer, Dask), then TensorFlow Quantum's side in its own virtualenv
(``bench/.venv-tfq``, see ``bench/tfq_peer.py``), and writes ``RESULTS.md`` (tables, targets, the
machine, versions, date), ``results.json`` (every row) and PNG plots into the output folder.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/run_all.py`` (what ``make bench`` runs; about 15
minutes on 2 cores) or ``--quick`` (tiny sizes, well under a minute, written to a temporary folder
unless ``--out`` says otherwise). ``--skip tfq dask_scaling`` leaves parts out.
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
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import report  # noqa: E402
from _common import (angles, config_name, error_text, gradient_grid, hessian_grid, machine, max_abs_diff,  # noqa: E402
                     row, third_order_grid, training_configs)

MODULES = ["bandwidth", "derivatives", "tf_hessian", "gradient", "third_order", "training", "estimates", "lih",
           "simulator", "scaling", "dask_scaling"]
TFQ_PYTHON = os.path.join(HERE, ".venv-tfq", "bin", "python")
TFQ_TIMEOUT = 900


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


# -- TensorFlow Quantum, in its own virtualenv --------------------------------------------------------
def tfq_spec(quick: bool) -> dict:
    from training import config_label, data

    def sizes(grid):
        return [dict(config=config_name(q, layers, outputs), qubits=q, layers=layers, outputs=outputs,
                     x=angles(2 * q * layers).tolist()) for q, layers, outputs in grid]

    training = []
    for cfg in training_configs(quick):
        x, y = data(cfg["qubits"], cfg["samples"])
        training.append(dict(cfg, config=config_label(cfg), x=x.tolist(), y=y.tolist()))
    return {"gradient": sizes(gradient_grid(quick)), "hessian": sizes(hessian_grid(quick)),
            "third": sizes(third_order_grid(quick)), "training": training}


def install_error() -> str:
    """Why ``bench/.venv-tfq`` is not there: pip's error lines from the install log, or the log's tail."""
    log = os.path.join(HERE, ".venv-tfq", "install.log")
    if not os.path.exists(log):
        return "bench/.venv-tfq is missing (create it with bench/setup_tfq.sh, as make bench does)"
    with open(log, errors="replace") as f:
        lines = [line.rstrip() for line in f if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR") or re.match(r"^\w+(Error|Exception): ", line)]
    return "TFQ install failed: " + " / ".join((errors or lines)[-3:])[:600]


def run_tfq(quick: bool, workdir: str) -> tuple[list[dict], dict | None]:
    print("[tfq]", file=sys.stderr, flush=True)
    start = time.perf_counter()
    if not os.path.exists(os.path.join(HERE, ".venv-tfq", ".installed")) or not os.path.exists(TFQ_PYTHON):
        return [row("tfq", "TensorFlow Quantum", status="failed", note=install_error())], None
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
        tail = [line for line in done.stdout.splitlines() if line.strip()][-3:]
        return [row("tfq", "TensorFlow Quantum", status="failed",
                    note=f"bench/tfq_peer.py exited with {done.returncode}: " + " / ".join(tail))], None
    with open(out_path) as f:
        result = json.load(f)
    return check_tfq(result["rows"]), result["machine"]


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


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: well under a minute")
    parser.add_argument("--out", help="output folder (default: bench/ for a full run, a temporary folder with --quick)")
    parser.add_argument("--only", nargs="*", choices=MODULES, help="run only these modules (and TFQ unless skipped)")
    parser.add_argument("--skip", nargs="*", default=[], choices=MODULES + ["tfq"], help="leave these out")
    args = parser.parse_args(argv)
    out = args.out or (tempfile.mkdtemp(prefix="qshift-bench-") if args.quick else HERE)
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    info = machine()
    rows = []
    for name in args.only or MODULES:
        if name not in args.skip:
            rows += run_module(name, args.quick)
    tfq_info = None
    if "tfq" not in args.skip:
        with tempfile.TemporaryDirectory() as workdir:
            tfq_rows, tfq_info = run_tfq(args.quick, workdir)
        rows += tfq_rows
    wall = time.perf_counter() - start
    info["load average at the end"] = machine()["load average"]
    results = {"mode": "quick" if args.quick else "full", "wall_seconds": wall, "machine": info,
               "tfq_machine": tfq_info, "rows": rows}
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
