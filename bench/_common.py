"""Shared helpers for the benchmarks: the workloads, the machine header, timing, and one way of
measuring a method at one size (best of a few runs, or a skip/failure with its reason).

Every benchmark module exposes ``collect(quick: bool) -> list[dict]``: one dict per (workload,
size, method), in the row schema of :func:`row`. ``bench/run_all.py`` gathers them into
``bench/RESULTS.md`` and ``bench/results.json``; each module also runs on its own as a script.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import platform
import signal
import time
import traceback
from importlib import metadata

import numpy as np

SEED = 1234
PACKAGES = ["numpy", "tensorflow", "keras", "pennylane", "pennylane_lightning", "qiskit", "qiskit-aer", "dask",
            "matplotlib", "qshift"]


# -- workloads ----------------------------------------------------------------------------------------
def hessian_grid(quick: bool) -> list[tuple[int, int, str]]:
    """(qubits, layers, outputs) of workload (a), value + gradient + Hessian; cheapest first."""
    if quick:
        return [(2, 1, "single"), (2, 1, "all"), (3, 1, "all")]
    grid = [(q, layers, outputs) for q in (4, 6, 8, 10, 12) for layers in (1, 2, 3) for outputs in ("single", "all")]
    return sorted(grid, key=lambda g: (2 * g[0] * g[1], g[0], g[2] == "all"))


TARGET = (10, 2, "all")  # the configuration the speed targets are stated for


class M:
    """Method names, shared by the benchmarks and the report."""

    QSHIFT = "qshift.derivatives"
    QSHIFT_TF = "qshift.tf nested tapes (pfor)"
    QSHIFT_TF_LOOP = "qshift.tf nested tapes (no pfor)"
    QSHIFT_TF_GRAD = "qshift.tf tape.jacobian (pfor)"
    QSHIFT_TF_GRAPH = "qshift.tf tape.jacobian in tf.function"
    QSHIFT_KERAS = "qshift.keras.QuantumLayer (Keras 3)"
    PL_HESSIAN = "PennyLane param_shift_hessian (default.qubit)"
    PL_TF = "PennyLane TF nested tapes (default.qubit)"
    PL_TF_LIGHTNING = "PennyLane TF nested tapes (lightning.qubit)"
    PL_TF_LIGHTNING64 = "PennyLane TF nested tapes (lightning.qubit, float64 results)"
    AER = "Aer EstimatorV2, all rows in one call"
    NAIVE = "naive recursive custom gradient (pfor)"
    NAIVE_LOOP = "naive recursive custom gradient (no pfor)"
    TFQ = "TFQ Expectation + ParameterShift (tf-keras, TF 2.18)"
    TFQ_ADJOINT = "TFQ Expectation, default differentiator: adjoint (tf-keras, TF 2.18)"
    # issue 17: the adjoint method in qshift, and the fastest simulator peers (bench/fast_peers.py)
    QSHIFT_ADJOINT = "qshift.derivatives method=adjoint"
    QSHIFT_KERAS_ADJOINT = "qshift.keras.QuantumLayer method=adjoint (Keras 3)"
    QSHIFT_VJP = "LocalSimulator.adjoint (the engine's VJP)"
    QSHIFT_JAC_VJP = "qshift.derivatives Jacobian, contracted"
    QSHIFT_ADJOINT_VJP = "qshift.derivatives method=adjoint Jacobian, contracted"
    QSHIFT_TF_VJP = "qshift.tf tape.gradient in tf.function"
    QSHIFT_TF_ADJOINT_VJP = "qshift.tf method=adjoint tape.gradient in tf.function"
    TC_VJP = "tensorcircuit-ng JAX jit(vmap(value_and_grad))"
    TC_VJP_PS = "tensorcircuit-ng JAX jit(vmap(value_and_grad)), expectation_ps"
    TC_HESSIAN = "tensorcircuit-ng JAX jit(jacfwd(jacrev))"
    TC_TRAINING = "tensorcircuit-ng JAX model, jit step"
    QULACS_ROWS = "qulacs, shifted rows one by one"
    QULACS_BACKPROP = "qulacs backprop, row by row"


def gradient_grid(quick: bool) -> list[tuple[int, int, str]]:
    """Value + gradient (first order, where TensorFlow Quantum can take part): the 2-layer sizes."""
    return [g for g in hessian_grid(quick) if quick or g[1] == 2]


def training_configs(quick: bool) -> list[dict]:
    """Workload (b): one epoch of a hybrid Keras model, batches of 32 rows, first-order gradients."""
    if quick:
        return [dict(qubits=2, layers=1, samples=64, batch=32)]
    return [dict(qubits=q, layers=2, samples=256, batch=32) for q in (4, 8, 10, 12)]


def peer_grid(quick: bool) -> list[tuple[int, int, str]]:
    """Sizes of issue 17's comparisons with the fastest simulator peers (tensorcircuit-ng, qulacs): the batch
    VJP and value + gradient + Hessian; every qubit's ``<Z>`` is an output. A subset of :func:`hessian_grid`."""
    if quick:
        return [(2, 1, "all"), (3, 1, "all")]
    return [(q, 2, "all") for q in (4, 8, 10, 12)]


BATCH = 32  # rows of the batch VJP: one training step's batch


def vjp_batch(qubits: int, layers: int, rows: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    """The batch VJP's inputs: symbol values ``(rows, 2 q L)`` and the upstream vectors ``(rows, q)``."""
    upstream = np.random.default_rng(SEED + 1).normal(size=(rows, qubits))
    return angles(2 * qubits * layers, rows), upstream


def third_order_grid(quick: bool) -> list[tuple[int, int, str]]:
    """Workload (c): value and derivatives up to the third order."""
    if quick:
        return [(2, 1, "single")]
    return [(4, 1, "single"), (4, 1, "all"), (4, 2, "all"), (6, 2, "all")]


def config_name(qubits: int, layers: int, outputs: str) -> str:
    return f"{qubits}q {layers}l {outputs}"


def ansatz_case(workload: str, qubits: int, layers: int, outputs: str, order: int):
    """One size of a derivative workload: ``hardware_efficient(qubits, layers)``, its angles, qshift's
    derivatives up to ``order`` (what every method is checked against), the planner's minimum of
    circuits, and the row fields every method shares."""
    import qshift

    c = qshift.hardware_efficient(qubits, layers, outputs=outputs)
    x = angles(c.n_symbols)
    base = dict(workload=workload, config=config_name(qubits, layers, outputs), qubits=qubits, layers=layers,
                outputs=outputs, symbols=c.n_symbols)
    return c, x, qshift.derivatives(c, x, order=order), qshift.plan(c, order=order).circuits, base


def angles(n_symbols: int, rows: int | None = None, seed: int = SEED) -> np.ndarray:
    """Symbol values uniform in [-pi, pi): one row ``(n,)``, or ``(rows, n)``."""
    shape = (n_symbols,) if rows is None else (rows, n_symbols)
    return np.random.default_rng(seed).uniform(-np.pi, np.pi, shape)


def hessian_rows(x: np.ndarray) -> np.ndarray:
    """The distinct two-term-rule points of value, gradient and Hessian at ``x`` (``2n^2 + n + 1``): x;
    x + s e_i; x - s e_i; x + 2s e_i; then x +- s e_i +- s e_j (i < j) in the sign order ++, +-, -+, --; s = pi/2."""
    s = len(x)
    eye = np.eye(s) * (np.pi / 2)
    rows = [x[None], x + eye, x - eye, x + 2 * eye]
    i, j = np.triu_indices(s, 1)
    for si in (1, -1):
        for sj in (1, -1):
            rows.append(x + si * eye[i] + sj * eye[j])
    return np.concatenate(rows)


def assemble_hessian(ev: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value ``(m,)``, gradient ``(m, n)`` and Hessian ``(m, n, n)`` from the expectations ``(rows, m)`` at the
    points of :func:`hessian_rows`."""
    value, plus, minus, twice = ev[0], ev[1:1 + n], ev[1 + n:1 + 2 * n], ev[1 + 2 * n:1 + 3 * n]
    i, j = np.triu_indices(n, 1)
    pp, pm, mp, mm = np.split(ev[1 + 3 * n:], 4)
    hess = np.zeros((ev.shape[1], n, n))
    hess[:, i, j] = hess[:, j, i] = ((pp - pm - mp + mm) / 4).T
    hess[:, np.arange(n), np.arange(n)] = ((twice - value) / 2).T
    return value, ((plus - minus) / 2).T, hess


def has_keyword(fn, keyword: str) -> bool:
    """Whether ``fn`` (a function or a class) takes ``keyword``: how the benchmarks find out whether this qshift
    has an API (``method="adjoint"``) before measuring it; without it the row says "not available"."""
    import inspect

    try:
        return keyword in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


# -- the machine --------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3
    except (ValueError, OSError, AttributeError):
        return None


def versions(packages: list[str]) -> dict[str, str]:
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "(not installed)"
    return out


def machine(packages: list[str] = PACKAGES) -> dict:
    mem = memory_gib()
    return {
        "date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        "machine": f"{cpu_model()}, {os.cpu_count()} CPU cores" + (f", {mem:.0f} GiB" if mem else ""),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "(unset)"),
        "QSHIFT_NUM_THREADS": os.environ.get("QSHIFT_NUM_THREADS", "(unset)"),
        "load average": ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a",
        "versions": versions(packages),
    }


def header(title: str, packages: list[str]) -> str:
    m = machine(packages)
    return "\n".join([
        f"# {title}",
        f"- date: {m['date']}",
        f"- machine: {m['machine']}, {m['platform']}, Python {m['python']}",
        f"- OMP_NUM_THREADS={m['OMP_NUM_THREADS']}, QSHIFT_NUM_THREADS={m['QSHIFT_NUM_THREADS']}",
        "- " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
    ])


# -- timing -------------------------------------------------------------------------------------------
def best_of(fn, repeats: int = 3, budget: float = 60.0) -> tuple[float, object]:
    """Best wall time of up to ``repeats`` calls (fewer when a call is slow), and the last result."""
    best, result, _ = runs_of(fn, repeats, budget)
    return best, result


def runs_of(fn, repeats: int, budget: float) -> tuple[float, object, int]:
    """:func:`best_of`, also telling how many calls were made."""
    best, result, spent, runs = float("inf"), None, 0.0, 0
    for runs in range(1, repeats + 1):
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent + elapsed > budget:
            break
    return best, result, runs


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def epochs(fit, count: int, budget: float) -> tuple[float, list[float], int]:
    """Best time of up to ``count`` calls of ``fit() -> loss`` (one training epoch each; fewer when they would
    pass ``budget`` seconds), every epoch's loss, and how many ran."""
    best, losses, spent = float("inf"), [], 0.0
    for _ in range(count):
        seconds, loss = timed(fit)
        best, spent = min(best, seconds), spent + seconds
        losses.append(float(loss))
        if spent + seconds > budget:
            break
    return best, losses, len(losses)


def traced_value_and_jacobian(fn):
    """``x -> (fn(x), d fn / dx)`` in one ``tf.function`` (one tape, vectorized jacobian), for either
    TensorFlow (the main virtualenv or TFQ's); traced on its first call."""
    import tensorflow as tf

    @tf.function
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        return y, tape.jacobian(y, x)

    return run


# -- rows ---------------------------------------------------------------------------------------------
def row(workload: str, method: str, *, config: str = "", peer: bool = True, **fields) -> dict:
    """One measurement. ``status`` is ``ok``, ``skipped`` (not run, ``note`` says why), ``failed``
    (raised: ``note`` is the error) or ``unsupported`` (the tool cannot do this: ``note`` is its error)."""
    return {"workload": workload, "config": config, "method": method, "peer": peer, "status": "ok",
            "note": "", "circuits": None, "min_circuits": None, "seconds": None, "repeats": 0,
            "max_diff": None, **fields}


def not_available(base: dict, api: str) -> dict:
    """The row of a qshift API this qshift does not have (yet): shown as such, never measured another way."""
    return dict(base, status="skipped", note=f"not available: this qshift has no {api}")


def error_text(exc: BaseException) -> str:
    """The error as a user sees it: ``Type: first line of the message``."""
    message = str(exc).strip().splitlines()
    first = (message[0] if message else "").split(": <tf.Tensor")[0]  # not the tensor's varying value
    if len(first) > 120 and ". " in first[60:]:  # a long explanation: its first sentence
        first = first[:60 + first[60:].index(". ") + 1]
    return f"{type(exc).__name__}: {first}".strip()[:300]


class Limit:
    """Skip bookkeeping for one method across growing sizes.

    A size is skipped when the time estimated from the largest size done so far (seconds per unit of
    ``work``) is over ``seconds``, or when the method failed at a smaller size. Sizes marked ``must``
    are always tried.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.rate: float | None = None
        self.failed: str | None = None

    def reason_to_skip(self, work: float) -> str | None:
        if self.failed:
            return f"not run: failed at {self.failed}"
        if self.rate is not None and self.rate * work > self.seconds:
            return f"est. {self.rate * work:.0f} s > {self.seconds:.0f} s"
        return None

    def record(self, work: float, seconds: float) -> None:
        self.rate = seconds / max(work, 1e-12)


class TimedOut(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float | None):
    """Raise :class:`TimedOut` in this (main) thread after ``seconds`` of wall time."""
    if not seconds:
        yield
        return

    def alarm(signum, frame):
        raise TimedOut(f"timed out (> {seconds:.0f} s)")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def measure(base: dict, fn, *, repeats: int = 3, budget: float = 60.0, limit: Limit | None = None,
            work: float = 1.0, must: bool = False, check=None, unsupported: tuple = ()) -> dict:
    """Fill ``base`` by timing ``fn() -> (result, circuits)``: best of ``repeats`` within ``budget``.

    ``check(result) -> float`` gives the max abs difference to a reference. An exception of a type in
    ``unsupported`` marks the row ``unsupported`` (the tool cannot do it), any other one ``failed``.
    With a ``limit``, a run is stopped after three times its seconds (``skipped``, "timed out").
    """
    r = dict(base)
    reason = None if (must or limit is None) else limit.reason_to_skip(work)
    if reason:
        r.update(status="skipped", note=reason)
        return r
    try:
        with time_limit(None if (must or limit is None) else 3 * limit.seconds):
            seconds, (result, circuits), runs = runs_of(fn, repeats, budget)
    except TimedOut as exc:
        limit.record(work, max(3 * limit.seconds, (limit.rate or 0.0) * work))  # at least this slow
        r.update(status="skipped", note=str(exc))
        return r
    except unsupported as exc:
        r.update(status="unsupported", note=error_text(exc))
        return r
    except Exception as exc:  # a peer failing is a result, not a crash of the benchmark
        if limit is not None:
            limit.failed = str(base.get("config"))
        r.update(status="failed", note=error_text(exc), traceback=traceback.format_exc(limit=-3))
        return r
    if limit is not None:
        limit.record(work, seconds)
    r.update(seconds=seconds, circuits=None if circuits is None else int(circuits), repeats=runs)
    if check is not None:
        r["max_diff"] = float(check(result))
    return r


def max_abs_diff(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def fit_exponent(x, y) -> float:
    """Slope of log(y) against log(x): the exponent ``k`` in ``y ~ x**k``."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = (x > 0) & (y > 0)
    if keep.sum() < 2:
        return math.nan
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def progress(rows: list[dict]) -> None:
    """One line on stderr per size done: each method's time or status."""
    import sys

    cells = [f"{r['method']}: " + (f"{r['seconds']:.3g} s" if r["seconds"] is not None else r["status"]) for r in rows]
    print(f"  {rows[0]['workload']} {rows[0]['config']}: " + "; ".join(cells), file=sys.stderr, flush=True)


def print_rows(rows: list[dict], columns: list[str]) -> None:
    """A Markdown table of ``rows`` on stdout (used when a module runs as a script)."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            cells.append("" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v))
        print("| " + " | ".join(cells) + " |", flush=True)
