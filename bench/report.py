"""``bench/RESULTS.md`` and its plots from the rows of one ``bench/run_all.py`` run.

Re-render without measuring: ``.venv/bin/python bench/report.py bench/results.json``.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import TARGET, M, config_name  # noqa: E402

TOLERANCE = {M.TFQ: 1e-4, M.TFQ_ADJOINT: 1e-4}  # TFQ computes in float32; everything else in float64
DEFAULT_TOLERANCE = 1e-8
TARGET_CONFIG = config_name(*TARGET)
HESSIAN_5X = (config_name(10, 2, "all"), config_name(12, 2, "all"))  # issue 17: >= 5x tensorcircuit-ng's Hessian


# -- targets ------------------------------------------------------------------------------------------
def find(rows, workload, method, config=None) -> list[dict]:
    return [r for r in rows if r["workload"] == workload and r["method"] == method
            and (config is None or r["config"] == config)]


def seconds(rows, workload, method, config) -> float | None:
    hit = [r for r in find(rows, workload, method, config) if r["status"] == "ok"]
    return hit[0]["seconds"] if hit else None


def ratio_target(rows, name, workload, peer, ours, config, threshold) -> dict:
    """``peer seconds / ours seconds`` at one size against ``threshold``. ``peer`` and ``ours`` are method
    names, or ``None``: the fastest peer (the fastest qshift row) measured at that size in this run."""
    p = fastest(rows, workload, config, peer=True) if peer is None else ok_row(rows, workload, peer, config)
    o = fastest(rows, workload, config, peer=False) if ours is None else ok_row(rows, workload, ours, config)
    if p is None or o is None:
        reason = why_missing(rows, workload, config, *((peer, True) if p is None else (ours, False)))
        return dict(target=name, measured=f"not measured ({reason})", value=None, threshold=threshold, met=None)
    value = p["seconds"] / o["seconds"]
    said = lambda r, given: f" {r['method']}" if given is None else ""
    return dict(target=name, measured=f"{times(value)} ({p['seconds']:.3g} s{said(p, peer)} / {o['seconds']:.3g} s"
                                      f"{said(o, ours)})", value=value, threshold=threshold, met=value >= threshold)


def why_missing(rows, workload, config, method, peer: bool) -> str:
    """Why ``method`` (``None``: every peer, or every qshift row) has no time at this size."""
    if method is None:
        tried = [r for r in rows if r["workload"] == workload and r["config"] == config and bool(r.get("peer")) == peer]
    else:
        tried = find(rows, workload, method, config)
    said = "; ".join(f"{r['method']}: " + (f"{r['status']}: {r['note']}" if r["status"] != "ok" else
                                            "values differ from qshift's") for r in tried)
    return f"{method or ('no peer' if peer else 'no qshift row')}: {said or 'not in this run'}"


def times(value: float) -> str:
    """A ratio as ``12.3x``, or with two significant digits below 1 (``0.031x``)."""
    return f"{value:.1f}x" if value >= 1 else f"{value:.2g}x"


def ok_row(rows, workload, method, config) -> dict | None:
    hit = [r for r in find(rows, workload, method, config) if r["status"] == "ok" and r["seconds"]]
    return hit[0] if hit else None


def fastest(rows, workload, config, peer: bool) -> dict | None:
    """The fastest row at this size measured in this run: among the peers (values not flagged wrong), or among
    qshift's own rows."""
    hit = [r for r in rows if r["workload"] == workload and r["config"] == config and r["status"] == "ok"
           and r.get("seconds") and bool(r.get("peer")) == peer and not wrong(r)]
    return min(hit, key=lambda r: r["seconds"]) if hit else None


def peer_targets(rows) -> list[dict]:
    """Issue 17's targets, and qshift's fastest row against the fastest peer at every size where the fast
    simulator peers run (training epoch, batch VJP, value + gradient + Hessian)."""
    out = []
    for config in configs(rows, "training"):
        out.append(ratio_target(rows, f"training epoch {config}: qshift >= 1.5x faster than TFQ's default "
                                      "differentiator (adjoint)", "training", M.TFQ_ADJOINT, None, config, 1.5))
        out.append(ratio_target(rows, f"training epoch {config}: qshift no slower than the fastest peer", "training",
                                None, None, config, 1))
    for config in configs(rows, "vjp"):
        out.append(ratio_target(rows, f"batch VJP {config}, 32 rows: qshift no slower than tensorcircuit-ng "
                                      "jit(vmap(value_and_grad)) (compile excluded)", "vjp", M.TC_VJP, None, config, 1))
        out.append(ratio_target(rows, f"batch VJP {config}, 32 rows: qshift no slower than the fastest peer",
                                "vjp", None, None, config, 1))
    peer_sizes = [c for c in configs(rows, "hessian") if find(rows, "hessian", M.TC_HESSIAN, c)
                  or find(rows, "hessian", M.QULACS_ROWS, c)]
    for config in peer_sizes:
        if config in HESSIAN_5X:
            out.append(ratio_target(rows, f"value + gradient + Hessian {config}: qshift >= 5x faster than "
                                          "tensorcircuit-ng jit(jacfwd(jacrev)) (compile excluded)", "hessian",
                                    M.TC_HESSIAN, None, config, 5))
        out.append(ratio_target(rows, f"value + gradient + Hessian {config}: qshift no slower than the fastest peer",
                                "hessian", None, None, config, 1))
    return out


def circuit_target(rows) -> dict:
    counted = [r for r in rows if r.get("min_circuits") is not None and r["status"] == "ok" and r["circuits"]]
    off = [r for r in counted if r["circuits"] != r["min_circuits"]]
    paths = sorted({f"{r['workload']}: {r['method']}" for r in counted})
    estimates = [r for r in rows if r["workload"] == "estimate"]
    agree = []
    for e in estimates:
        measured = [r["circuits"] for r in counted if r["workload"] == e["estimated"] and r["config"] == e["config"]]
        if measured:
            agree.append(all(m == e["circuits"] for m in measured))
    measured = (f"{len(counted) - len(off)} of {len(counted)} qshift rows at the minimum, over {len(paths)} "
                f"workload/API paths; qshift.estimate's planned count equals the measured one for "
                f"{sum(agree)} of {len(agree)} workloads")
    if off:
        measured += "; NOT at the minimum: " + ", ".join(f"{r['workload']} {r['config']} {r['method']} "
                                                          f"({r['circuits']} vs {r['min_circuits']})" for r in off)
    return dict(target="circuits at the planner's minimum on every workload and API path", measured=measured,
                value=len(counted) - len(off), threshold=len(counted), met=bool(counted) and not off and all(agree),
                paths=paths)


def targets(rows: list[dict]) -> list[dict]:
    out = [circuit_target(rows)]
    for ours in (M.QSHIFT, M.QSHIFT_TF):
        out.append(ratio_target(rows, f"Hessian {TARGET_CONFIG}: {ours} >= 20x faster than PennyLane "
                                      "param_shift_hessian", "hessian", M.PL_HESSIAN, ours, TARGET_CONFIG, 20))
    for ours in (M.QSHIFT, M.QSHIFT_TF):
        out.append(ratio_target(rows, f"Hessian {TARGET_CONFIG}: {ours} at least as fast as Aer EstimatorV2 "
                                      "(same rows, one call)", "hessian", M.AER, ours, TARGET_CONFIG, 1))
    out += peer_targets(rows)
    copies = [r for r in rows if r["workload"] == "bandwidth" and r.get("kind") == "copy" and "DRAM" in r["config"]]
    for r in rows:
        if r["workload"] == "bandwidth" and r.get("kind") == "hessian batch" and copies:
            copy = copies[0]["effective_bandwidth"]
            for key, what in (("gate_by_gate_bandwidth", "effective bandwidth (the batch's gate-by-gate bytes per "
                                                         "second: fusion and shared prefixes count)"),
                              ("effective_bandwidth", "physical traffic (bytes the kernels actually read and "
                                                      "write per second)")):
                if key not in r:
                    continue
                value = r[key] / copy
                out.append(dict(target=f"{what}, {r['config']}: at least half the copy bandwidth",
                                measured=f"{value:.2f} ({r[key] / 1e9:.1f} GB/s / {copy / 1e9:.1f} GB/s)",
                                value=value, threshold=0.5, met=value >= 0.5))
    return out


# -- Markdown -----------------------------------------------------------------------------------------
class Notes:
    """Footnotes: each distinct text once, numbered in order of first use."""

    def __init__(self):
        self.texts: list[str] = []

    def ref(self, text: str) -> str:
        if text not in self.texts:
            self.texts.append(text)
        return f"[{self.texts.index(text) + 1}]"

    def lines(self) -> list[str]:
        return [f"{i}. {t}" for i, t in enumerate(self.texts, 1)]


def num(value, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def wrong(r) -> bool:
    return r.get("max_diff") is not None and r["max_diff"] > TOLERANCE.get(r["method"], DEFAULT_TOLERANCE)


def cell(r: dict | None, notes: Notes, circuits: bool = True) -> str:
    if r is None:
        return "—"
    if r["status"] != "ok":
        if r["note"].startswith(("est. ", "timed out", "not run: failed at")):  # short: said in the cell
            return "skip: " + r["note"].replace("not run: ", "")
        word = {"skipped": "skip", "failed": "fail", "unsupported": "cannot"}[r["status"]]
        return f"{word} {notes.ref(r['note'])}"
    text = num(r["seconds"])
    if circuits and r.get("circuits"):
        text += f" ({r['circuits']:,})"
    if r.get("compile_seconds"):
        text += f" (compile {r['compile_seconds']:.2g} s)"
    if wrong(r):
        text += " ✗ " + notes.ref(f"{r['method']}: max abs diff {r['max_diff']:.1e} from qshift's values")
    return text


def table(header: list[str], body: list[list[str]], align: str | None = None) -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    out += ["| " + " | ".join(cells) + " |" for cells in body]
    return out + [""]


def configs(rows, workload) -> list[str]:
    return list(dict.fromkeys(r["config"] for r in rows if r["workload"] == workload))


def by(rows, workload, config, method) -> dict | None:
    hit = find(rows, workload, method, config)
    return hit[0] if hit else None


def matrix(rows, workload, methods, notes, extra=None) -> list[str]:
    """config x method: 'seconds (circuits)' or the reason it is missing."""
    header = ["size", "n"] + methods + [name for name, _ in extra or []]
    body = []
    for config in configs(rows, workload):
        some = next(r for r in rows if r["workload"] == workload and r["config"] == config)
        cells = [config, num(some.get("symbols"))] + [cell(by(rows, workload, config, m), notes) for m in methods]
        cells += [fn(config) for _, fn in extra or []]
        body.append(cells)
    return table(header, body, "ll" + "r" * (len(header) - 2))


def ratio(rows, workload, config, peer, ours) -> str:
    t_peer, t_ours = seconds(rows, workload, peer, config), seconds(rows, workload, ours, config)
    return "—" if t_peer is None or t_ours is None else times(t_peer / t_ours)


def gib(value) -> str:
    if value is None:
        return "—"
    return f"{value / 2 ** 20:.1f} MiB" if value >= 2 ** 20 else f"{value / 2 ** 10:.0f} KiB"


def header_lines(results: dict) -> list[str]:
    m = results["machine"]
    lines = ["# qshift benchmarks", "",
             f"- run: `{'make bench' if results['mode'] == 'full' else 'bench/run_all.py --quick'}` ({results['mode']}), "
             f"{m['date']}, {results['wall_seconds'] / 60:.1f} minutes wall time in all",
             f"- machine: {m['machine']}; {m['platform']}; Python {m['python']}; OMP_NUM_THREADS={m['OMP_NUM_THREADS']}; "
             f"no GPU; load average {m['load average']} at the start, {m.get('load average at the end', '?')} at the end",
             "- versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items())]
    threads = m.get("threads")
    if threads:
        lines.append("- single-threaded: " + "; ".join(f"{k}={v}" for k, v in threads.items())
                     + " (the peers' processes get the same environment; TFQ's sets TensorFlow's threads to 1/1)")
    tfq = results.get("tfq_machine")
    if tfq:
        lines.append("- TensorFlow Quantum's virtualenv (`bench/.venv-tfq`, `TF_USE_LEGACY_KERAS=1`): "
                     + ", ".join(f"{k} {v}" for k, v in tfq["versions"].items()))
    peers = results.get("peers_machine")
    if peers:
        lines.append("- the fast simulator peers' virtualenv (`bench/.venv-peers`, JAX on the CPU in float64): "
                     + ", ".join(f"{k} {v}" for k, v in peers["versions"].items()))
    lines += ["", "Every number below was measured in this one run, the peers side by side with qshift on the same "
              "circuits and angles. Read the ratios (peer time / qshift time at the same size, higher means qshift "
              "is faster), not the absolute times: they belong to this machine and its load. Times are the best "
              "wall seconds of a few runs (how many: `repeats` in `results.json`); a cell reads `seconds "
              "(circuits)`, circuits as each tool counted them. Values are checked against qshift's (✗ marks a "
              "difference over 1e-8, 1e-4 for TFQ's float32). Sizes a peer could not finish in the time budget "
              "are skipped with the reason in the cell or a footnote, never left out silently: `est. 64 s > 10 s` is "
              "the time estimated from the method's previous size against its per-run limit (PennyLane's "
              "`param_shift_hessian` 25 s, Aer 12 s, every other peer and qshift's unvectorized nested tapes 10 s; "
              "a run is stopped at three times its limit; tensorcircuit-ng's compile is extrapolated from its "
              "previous size against the time left to its part of `bench/fast_peers.py`). Compile times (JAX) are "
              "shown apart and never counted in the times or the ratios. A target's \"fastest peer\" is the "
              "fastest peer measured at that size in this run, whatever its method; \"qshift\" is qshift's fastest "
              "row there (each named in the measured column). How each method is run: the docstring of its module "
              "in `bench/`.", ""]
    return lines


def targets_section(results) -> list[str]:
    body = []
    for t in results["targets"]:
        met = "—" if t["met"] is None else ("yes" if t["met"] else "**no**")
        body.append([t["target"], t["measured"], met])
    return ["## Targets", ""] + table(["target", "measured in this run", "met"], body, "llr")


def hessian_section(rows, notes) -> list[str]:
    main = [M.QSHIFT, M.QSHIFT_ADJOINT, M.QSHIFT_TF, M.PL_HESSIAN, M.AER, M.TC_HESSIAN, M.QULACS_ROWS, M.NAIVE,
            M.TFQ]
    other = [M.QSHIFT_TF_LOOP, M.PL_TF, M.PL_TF_LIGHTNING, M.PL_TF_LIGHTNING64, M.NAIVE_LOOP]
    ratios = [(f"PennyLane psh / {M.QSHIFT}", lambda c: ratio(rows, "hessian", c, M.PL_HESSIAN, M.QSHIFT)),
              (f"PennyLane psh / {M.QSHIFT_TF}", lambda c: ratio(rows, "hessian", c, M.PL_HESSIAN, M.QSHIFT_TF)),
              (f"Aer / {M.QSHIFT}", lambda c: ratio(rows, "hessian", c, M.AER, M.QSHIFT)),
              (f"Aer / {M.QSHIFT_TF}", lambda c: ratio(rows, "hessian", c, M.AER, M.QSHIFT_TF)),
              ("fastest peer / fastest qshift", lambda c: fastest_ratio(rows, "hessian", c))]
    lines = ["## (a) Value + gradient + Hessian", "",
             "`hardware_efficient(q, L)`: RY.RZ on every qubit per layer, then a CNOT ring; n = 2qL symbols; "
             "outputs `<Z0>` (single) or every qubit's `<Z>` (all). qshift's circuits are value + gradient + "
             "Hessian, the planner's minimum 2n^2 + n + 1; PennyLane's `param_shift_hessian` computes the Hessian "
             "alone (2n^2 - n + 1 after its own dedup); Aer runs the same 2n^2 + n + 1 rows as qshift in one "
             "`EstimatorV2` call, and its time includes building the rows and assembling the tensors. Nested "
             "tapes: an inner and an outer `tape.jacobian`. The fast simulator peers (`bench/fast_peers.py`), at "
             "2-layer sizes: tensorcircuit-ng on JAX, `jit(lambda t: (E(t), jacrev(E)(t), jacfwd(jacrev(E))(t)))`, "
             "compile apart; qulacs running the same 2n^2 + n + 1 rows as qshift one by one. qshift's "
             "`method=adjoint` row: the Hessian as qshift's planner picks it under that method.", "",
             "Wall seconds (circuits):", ""]
    lines += matrix(rows, "hessian", main, notes)
    lines += ["Speed-ups (peer seconds / qshift seconds, same size):", ""]
    lines += table(["size"] + [name for name, _ in ratios],
                   [[c] + [fn(c) for _, fn in ratios] for c in configs(rows, "hessian")])
    lines += ["Other nested-tape paths, wall seconds (circuits):", ""]
    lines += matrix(rows, "hessian", other, notes)
    lines += ["![Hessian wall time against symbols](hessian_time.png)", ""]
    lines += ["### Value + gradient, where TensorFlow Quantum can take part", ""]
    lines += ["Wall seconds (circuits); TFQ's and the traced qshift.tf row run inside one `tf.function`, traced "
              "before timing:", ""]
    lines += matrix(rows, "gradient", [M.QSHIFT, M.QSHIFT_TF_GRAD, M.QSHIFT_TF_GRAPH, M.TFQ_ADJOINT, M.TFQ], notes,
                    [("TFQ adjoint / qshift.derivatives",
                      lambda c: ratio(rows, "gradient", c, M.TFQ_ADJOINT, M.QSHIFT)),
                     ("TFQ adjoint / qshift.tf in tf.function",
                      lambda c: ratio(rows, "gradient", c, M.TFQ_ADJOINT, M.QSHIFT_TF_GRAPH)),
                     ("TFQ ParameterShift / qshift.tf in tf.function",
                      lambda c: ratio(rows, "gradient", c, M.TFQ, M.QSHIFT_TF_GRAPH))])
    return lines


TRAINING = [M.QSHIFT_KERAS, M.QSHIFT_KERAS_ADJOINT, M.TFQ_ADJOINT, M.TFQ, M.TC_TRAINING]


def training_section(rows, notes) -> list[str]:
    body = []
    for config in configs(rows, "training"):
        ours = fastest(rows, "training", config, peer=False)
        for method in TRAINING:
            r = by(rows, "training", config, method)
            if r is None:
                continue
            ok = r["status"] == "ok"
            counted = r.get("circuits") is not None and ok and not r.get("peer")
            minimum = f" (min {r['min_circuits']:,})" if r.get("min_circuits") else ""
            body.append([config, method, num(r.get("steps")),
                         f"{r['circuits']:,}{minimum}" if counted else "not counted",
                         num(r.get("first_epoch_seconds")) if ok else cell(r, notes),
                         num(r.get("compile_seconds")), num(r["seconds"]) if ok else "—",
                         times(r["seconds"] / ours["seconds"]) if ok and ours and r.get("peer") else "",
                         num(r.get("loss")), "" if r.get("loss_diff") is None else f"{r['loss_diff']:.1e}"])
    return ["## (b) One training epoch of a hybrid Keras model", "",
            "`Dense(q, tanh) -> quantum layer -> Dense(1)`, MSE, Adam(0.01), batches of 32, first-order gradients; "
            "the Dense outputs feed the first layer's RY angles, the other angles are trainable weights, every "
            "qubit's `<Z>` is an output. qshift: `qshift.keras.QuantumLayer` under Keras 3 / TF 2.21, as created by "
            "default (the shift rule) and with `method=\"adjoint\"`; TFQ: the same model in tf-keras / TF 2.18 with "
            "`tfq.layers.Expectation` (the `ControlledPQC` pattern), with its default differentiator (adjoint) and "
            "with `ParameterShift`; tensorcircuit-ng: the same model written in JAX, one `jit` step "
            "(`value_and_grad` of the loss and Keras's Adam update) per batch. Same data, same initial weights, "
            "so the loss curves are the same up to float32 rounding (TFQ and Keras run in float32, JAX in float64): "
            "the last column is the largest difference from qshift's default row over the epochs both ran. First "
            "epoch includes tracing (and JAX's compile, also shown apart); epoch = best of the next ones (up to 3). "
            "Peer / qshift: the peer's epoch over qshift's fastest row at that size.", ""] + table(
        ["model", "method", "steps", "circuits per epoch", "first epoch s", "compile s", "epoch s",
         "peer / fastest qshift", "loss", "loss curve max diff"], body, "llrrrrrrrr")


def vjp_section(rows, notes) -> list[str]:
    methods = [M.QSHIFT_JAC_VJP, M.QSHIFT_ADJOINT_VJP, M.QSHIFT_VJP, M.QSHIFT_TF_VJP, M.QSHIFT_TF_ADJOINT_VJP,
               M.TC_VJP, M.TC_VJP_PS, M.QULACS_BACKPROP]
    if not configs(rows, "vjp"):
        return []
    return ["## (b') The batch VJP of one training step", "",
            "The quantum part of a training step: expectations `E(X)` and the vector-Jacobian product "
            "`U[b] . dE/dtheta(X[b])` of a batch of 32 rows of `hardware_efficient(q, L)`, every qubit's `<Z>` an "
            "output, fixed random upstream vectors `U` (`bench/vjp.py`; the peers in `bench/fast_peers.py`). "
            "tensorcircuit-ng: `jit(vmap(value_and_grad(g, has_aux=True)))` of `g(theta, u) = (u . E(theta), "
            "E(theta))`, `E` read from the state's probabilities, or with `expectation_ps` per output; compile "
            "apart. qulacs: `ParametricQuantumCircuit.backprop` row by row. Wall seconds (circuits):", ""] + matrix(
        rows, "vjp", methods, notes, [("fastest peer / fastest qshift", lambda c: fastest_ratio(rows, "vjp", c))])


def fastest_ratio(rows, workload, config) -> str:
    p, o = fastest(rows, workload, config, peer=True), fastest(rows, workload, config, peer=False)
    return "—" if p is None or o is None else times(p["seconds"] / o["seconds"])


def third_section(rows, notes) -> list[str]:
    methods = [M.QSHIFT, M.QSHIFT_TF, M.QSHIFT_TF_LOOP, M.NAIVE, M.NAIVE_LOOP, M.PL_TF, M.PL_TF_LIGHTNING64,
               M.PL_TF_LIGHTNING, M.TFQ]
    return ["## (c) Third derivatives", "",
            "Value and derivatives up to the third order (three nested tapes for the TF paths). qshift's minimum: "
            "`qshift.plan(c, order=3).circuits`.", ""] + matrix(rows, "third", methods, notes)


def estimate_section(rows) -> list[str]:
    body = []
    for r in (r for r in rows if r["workload"] == "estimate"):
        body.append([r["estimated"], r["config"], str(r["order"]), num(r["rows"]), num(r["circuits"]),
                     num(r["naive_circuits"]), num(r["tasks"]), f"{r['price']:,.2f}", f"{r['naive_price']:,.2f}",
                     f"{r['naive_price'] / r['price']:.2f}x" if r["price"] else "—"])
    if not body:
        return []
    r0 = next(r for r in rows if r["workload"] == "estimate")
    return [f"## (d) Circuits and dollars on a QPU: `{r0['method']}`", "",
            f"Planned (what qshift sends; the measured counts above) against naive nesting (every order "
            f"differentiating the one below, nothing shared), {r0['currency']}, the profile's default shots and "
            f"prices (read {r0.get('prices_read')}). The training row prices one epoch sent as one request.", ""] + table(
        ["workload", "size", "order", "rows", "circuits", "naive circuits", "tasks", "price", "naive price",
         "naive / planned"], body, "llrrrrrrrr")


def lih_section(rows, notes) -> list[str]:
    part = [r for r in rows if r["workload"] == "lih"]
    if not part:
        return []
    lines = ["## (e) LiH energy Hessian (`bench/lih.py`)", "",
             "LiH at 2.969 Bohr, 2 active electrons in 5 orbitals: 10 qubits, the 276-term Hamiltonian (275 Pauli "
             "terms and a constant) as the one output, `qml.AllSinglesDoubles` from Hartree-Fock (24 symbols), read "
             "by `qshift.Circuit.from_pennylane` (the problem of `tests/api/test_lih.py`). qshift computes value + "
             "gradient + Hessian; PennyLane's `param_shift_hessian` the Hessian alone. On a sampling device every "
             "circuit runs once per qubit-wise commuting group of the Hamiltonian: executions = circuits x groups.",
             ""]
    lines += lih_circuits(part, notes) + lih_targets(part) + lih_exact(part, notes) + lih_variance(part, notes)
    return lines


def lih_circuits(part, notes) -> list[str]:
    body = []
    for r in (r for r in part if r.get("kind") == "circuits"):
        if r["status"] != "ok":
            body.append([r["method"], r.get("computes", ""), cell(r, notes), "", "", ""])
            continue
        body.append([r["method"], r["computes"], num(r["circuits"]), num(r["groups"]), num(r["executions"]),
                     num(r.get("max_coeff_sq"))])
    split = next((r["split_tapes"] for r in part if r.get("split_tapes")), None)
    return ["### Circuits and executions at one point", ""] + table(
        ["method", "computes", "circuits", "qwc groups", "executions", "largest sum c^2 of an entry"], body,
        "llrrrr") + [
        "Groups: `qshift.ir.grouping.n_groups(c)` and PennyLane's `group_observables(..., grouping_type=\"qwc\")`"
        + (f" (its `split_non_commuting` makes {split} tapes of one tape)" if split else "") + ". The last column "
        "is the stencil's weight (PennyLane's read off its linear post-processing): equal weights are the same "
        "stencils; `min-circuits` trades fewer circuits for larger coefficients, so more shots per circuit.", ""]


def lih_targets(part) -> list[str]:
    target = [r for r in part if r.get("kind") == "target"]
    if not target:
        return []
    devices = list(dict.fromkeys(r["device"] for r in target))
    lines = ["### Shots and price for a target standard error on every entry", "",
             "`qshift.estimate(c, order=2, device=..., target_stderr=eps, rule=...)`: a 100-shot pilot, then "
             "top-ups to the target at the worst-case shot variance (expected figures, an upper bound of what a run "
             "spends when that bound holds). PennyLane has no shot allocation for a target error: its rows are its "
             "tapes x its groups at the uniform shots per execution that target needs, taken from qshift's "
             "`standard` family for the same order alone (the same stencils, worst case, pilot and shot ladder), "
             "priced with `qshift.cost.pricing.cost_of` on the same profile (same task bundling). \"three calls\": "
             "value, `param_shift` and `param_shift_hessian` each at the shots its own entries need. Price "
             f"({target[0]['currency']}) with billed tasks (IBM: jobs, billed per second of an assumed QPU time) "
             f"in parentheses; prices read {target[0].get('prices_read')}.", ""]
    for eps in dict.fromkeys(r["target_stderr"] for r in target):
        here = [r for r in target if r["target_stderr"] == eps]
        methods = list(dict.fromkeys(r["method"] for r in here))
        body = []
        for method in methods:
            mine = {r["device"]: r for r in here if r["method"] == method}
            first = next(iter(mine.values()))
            same = len({(r["circuits"], r["shots"]) for r in mine.values()}) == 1
            family = first.get("family", "") if method.startswith("qshift") else "uniform"
            prices = [lih_price(mine.get(d), not same) for d in devices]
            counts = ([num(first["circuits"]), num(first["executions"]), f"{first['shots']:.3g}",
                       num(first["shots_per_execution"])] if same else ["—"] * 4)
            body.append([method, first["computes"], family if same else "per device"] + counts + prices)
        best = {d: min((r for r in here if r["device"] == d and r["method"].startswith("qshift")),
                       key=lambda r: r["price"]) for d in devices}
        peer = {d: next((r for r in here if r["device"] == d and r["computes"] == "Hessian"), None) for d in devices}
        body.append(["PennyLane Hessian / cheapest qshift", "", "", "", "", "", ""]
                    + [f"{peer[d]['price'] / best[d]['price']:.1f}x" if peer[d] and best[d]["price"] else "—"
                       for d in devices])
        lines += [f"Standard error {eps:g} Ha on every entry:", ""] + table(
            ["method", "computes", "family", "circuits", "executions", "shots", "shots / execution"] + devices, body,
            "lll" + "r" * (4 + len(devices)))
    return lines


def lih_price(r, family: bool) -> str:
    if r is None:
        return "—"
    text = f"{r['price']:,.0f} ({r['tasks']:,})"
    return f"{text} {r['family']}" if family else text


def lih_exact(part, notes) -> list[str]:
    exact = [r for r in part if r.get("kind") == "exact"]
    if not exact:
        return []
    body = []
    for r in exact:
        circuits = num(r["circuits"]) + (f" (min {r['min_circuits']:,})" if r.get("min_circuits") else "")
        diff = "—" if r.get("max_diff") is None else f"{r['max_diff']:.1e} vs {r.get('reference', '?')}"
        body.append([r["method"], r["computes"], cell(r, notes, circuits=False), circuits if r["circuits"] else "—",
                     diff])
    return ["### Exact derivatives on the local simulator", "",
            "Wall seconds at one random point (best of up to 3 runs; single thread): qshift's exact value + gradient + "
            "Hessian, against PennyLane's `default.qubit` backprop Hessian (`qml.jacobian(qml.jacobian(qnode))`) "
            "and its `param_shift_hessian` tapes executed on `default.qubit` (timed on a sample of tapes first, and "
            "skipped when the estimate is over its limit).", ""] + table(
        ["method", "computes", "seconds", "circuits", "max abs diff of the Hessian"], body, "llrrl")


def lih_variance(part, notes) -> list[str]:
    r = next((r for r in part if r.get("kind") == "variance"), None)
    if r is None:
        return []
    if r["status"] != "ok":
        return [f"Per-shot variance of the energy: {cell(r, notes)}", ""]
    return [f"Per-shot variance of the energy with every one of PennyLane's {r['groups']} qwc groups on the same shots "
            f"(Braket tasks, IBM jobs), exact: {r['hartree_fock']:.3g} Ha^2 at Hartree-Fock, {r['at_point']:.3g} "
            f"Ha^2 at the benchmark point, against the worst case sum_g (sum_(t in g) |c_t|)^2 = "
            f"{r['worst_case']:.3g} Ha^2. The target's shots scale with the variance the estimate assumes.", ""]


def scaling_section(rows) -> list[str]:
    lines = ["## Scaling", ""]
    fits = [r for r in rows if r["workload"] == "scaling-fit"]
    lines += table(["sweep", "quantity", "method", "fitted exponent", "theory", "fit over", "model"],
                   [[f["sweep"], f["quantity"], f["method"], f"{f['fitted']:.2f}", str(f["theory"]), f["fit_range"],
                     f["meaning"]] for f in fits], "lllrrll")
    lines += ["Exponents: slope of log(y) on log(x) for symbols and rows; for qubits, the slope of log2(y) on q "
              "(y ~ 2^(k q), k = 1 is one doubling per qubit).", ""]
    for sweep, title, cols in (
            ("symbols", "Symbols: `qshift.derivatives(hardware_efficient(q, L), order=2)`, q fixed, L = 1, 2, ...",
             ["circuits", "naive_circuits", "seconds", "peak_bytes"]),
            ("qubits", "Qubits: `LocalSimulator.run` on random rows (no shared prefixes), and Aer on the same rows",
             ["rows", "compile_seconds", "seconds", "seconds_per_row", "peak_bytes", "effective_bandwidth"]),
            ("compile", "The simulator's one-time compilation of a circuit (cached per circuit)", ["seconds", "peak_bytes"]),
            ("rows", "Rows: `qshift.derivatives(hardware_efficient(q, 2), X[B, n], order=2)`",
             ["circuits", "seconds", "peak_bytes"])):
        part = [r for r in rows if r["workload"] == "scaling" and r.get("sweep") == sweep]
        if not part:
            continue
        body = []
        for r in part:
            cells = [r["config"], r["method"]]
            for c in cols:
                v = r.get(c)
                if r["status"] != "ok" and c == "seconds":
                    cells.append(f"{r['status']}: {r['note']}")
                elif c == "peak_bytes":
                    cells.append(gib(v))
                elif c == "effective_bandwidth":
                    cells.append("—" if v is None else f"{v / 1e9:.1f} GB/s")
                else:
                    cells.append(num(v))
            body.append(cells)
        lines += [f"### {title}", ""] + table(["size", "method"] + cols, body, "ll" + "r" * len(cols))
    lines += ["![Scaling](scaling.png)", ""]
    return lines


def bandwidth_section(rows) -> list[str]:
    part = [r for r in rows if r["workload"] == "bandwidth"]
    big = [r for r in rows if r["workload"] == "scaling" and r.get("sweep") == "qubits"
           and r["method"] == "LocalSimulator.run" and r.get("rows") == 1]
    if not part:
        return []
    copy = next((r["effective_bandwidth"] for r in part if r.get("kind") == "copy" and "DRAM" in r["config"]), None)
    body = []
    for r in part + big:
        eff, gates = r["effective_bandwidth"], r.get("gate_by_gate_bandwidth")
        body.append([r["config"], r["method"], num(r.get("rows")), num(r["seconds"]),
                     f"{gates / 1e9:.0f}" if gates else "", f"{gates / copy:.2f}" if gates and copy else "",
                     f"{r['bytes'] / 2 ** 30:.2f} GiB", f"{eff / 1e9:.1f}", f"{eff / copy:.2f}" if copy else "—",
                     f"{r['row_by_row_bandwidth'] / 1e9:.0f}" if r.get("row_by_row_bandwidth") else "",
                     f"{r['state_rows']:,} / {r['rows'] * r['kernels']:,}" if r.get("state_rows") else ""])
    return ["## The simulator toward its limit: memory bandwidth", "",
            "Copy bandwidth: `np.copyto` of one large array (DRAM) and of a 4 MiB one (cache), bytes read + written "
            "per second. Three figures for the local simulator, all per second of the same `LocalSimulator.run`:",
            "",
            "- **effective (gate-by-gate)**: the bytes of the batch itself, as a plain statevector simulation "
            "touches them: every row, every gate of the circuit reads and writes the full state, the expectation "
            "reads it once. Gate fusion and shared prefixes lift this figure; it is the one that can beat the "
            "copy bandwidth.",
            "- **physical**: the bytes of state the kernels actually read and write (a state shared by rows with a "
            "common prefix counted once, the expectation pass included, the copies of split groups not). The "
            "fused one-qubit blocks do up to eight complex multiply-adds per amplitude, so they are bound by "
            "arithmetic, not by memory: this figure stays well below the copy bandwidth by design.",
            "- **row-by-row**: the bytes the same fused kernels would touch for every row on its own (no sharing).",
            "",
            "The single-row rows at 20+ qubits come from the qubit sweep (one state of 16 MiB to 256 MiB).", ""] + table(
        ["batch", "method", "rows", "seconds", "effective GB/s", "/ DRAM copy", "physical bytes", "physical GB/s",
         "/ DRAM copy", "row-by-row GB/s", "kernel x state applications / row-by-row"], body,
        "llrrrrrrrrr") + ["![Bandwidth](bandwidth.png)", ""]


def simulator_section(rows) -> list[str]:
    if not any(r["workload"] == "simulator" for r in rows):
        return []
    body = []
    for config in configs(rows, "simulator"):
        local, aer = by(rows, "simulator", config, "LocalSimulator.run"), by(rows, "simulator", config,
                                                                           "Aer EstimatorV2.run, one PUB")
        body.append([config, num(local["rows"]), num(local["seconds"]), num(aer["seconds"]),
                     f"{aer['seconds'] / local['seconds']:.1f}x", f"{local['max_diff']:.1e}"])
    return ["## Simulator only: `LocalSimulator.run` vs Aer `EstimatorV2` on the same Hessian rows", "",
            "No planning or contraction on either side: the shifted rows of value + gradient + Hessian "
            "(`bench/simulator.py`), one call each, alternating.", ""] + table(
        ["batch", "rows", "local s", "Aer s", "Aer / local", "max abs diff"], body)


def dask_section(rows) -> list[str]:
    part = [r for r in rows if r["workload"] == "dask"]
    if not part:
        return []
    body = []
    for r in part:
        if r["config"] == "cluster start":
            body.append([r["config"], r["method"], "", "", f"{r['seconds']:.2f}",
                         f"empty chunk {1e3 * r['empty_chunk_seconds']:.1f} ms", "", ""])
        elif r.get("circuits"):
            body.append([r["config"], r["method"], num(r["processes"]), num(r["chunks"]), f"{r['seconds']:.3f}",
                         f"{r['vs_plain']:.2f}x", num(r["circuits"]), f"{r['max_diff']:.1e}"])
        else:
            body.append([r["config"], r["method"], "", num(r["chunks"]), f"{1e3 * r['seconds']:.0f} ms",
                         r["note"], "", ""])
    return ["## Dask: 1 vs 2 local workers (`bench/dask_scaling.py`)", "",
            "Two cores shared by client, scheduler and workers: read as the cost of going through Dask.", ""] + table(
        ["size", "path", "processes", "chunks", "wall s", "vs plain", "circuits", "max abs diff"], body, "llrrrrrr")


def failures_section(rows) -> list[str]:
    broken = [r for r in rows if r["workload"] in ("tfq", "peers")
              or (r["status"] == "failed" and r.get("module") == r["workload"])]
    if not broken:
        return []
    return ["## Parts that did not run", ""] + [f"- {r['method']}: {r['note']}" for r in broken] + [""]


def render(results: dict) -> str:
    rows = results["rows"]
    notes = Notes()
    lines = header_lines(results) + targets_section(results)
    lines += failures_section(rows)
    lines += hessian_section(rows, notes) + training_section(rows, notes) + vjp_section(rows, notes)
    lines += third_section(rows, notes)
    lines += estimate_section(rows) + lih_section(rows, notes) + scaling_section(rows) + bandwidth_section(rows)
    lines += simulator_section(rows) + dask_section(rows)
    if notes.texts:
        lines += ["## Notes", ""] + notes.lines() + [""]
    return "\n".join(lines)


# -- plots --------------------------------------------------------------------------------------------
def legend(ax, **kwargs) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


def plots(results: dict, out: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = results["rows"]
    written = []
    fits = {(r["sweep"], r["quantity"], r["method"]): r["fitted"] for r in rows if r["workload"] == "scaling-fit"}
    fitted = lambda name, quantity, method=M.QSHIFT: fits.get((name, quantity, method), float("nan"))

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)
        written.append(name)

    # Hessian wall time against symbols: 2-layer sizes, all outputs
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in (M.QSHIFT, M.QSHIFT_ADJOINT, M.QSHIFT_TF, M.PL_HESSIAN, M.AER, M.TC_HESSIAN, M.QULACS_ROWS, M.NAIVE,
                   M.PL_TF, M.PL_TF_LIGHTNING64):
        pts = sorted((r["symbols"], r["seconds"]) for r in find(rows, "hessian", method)
                     if r["status"] == "ok" and r.get("layers") == 2 and r.get("outputs") == "all")
        if pts:
            ax.plot(*zip(*pts), marker="o", label=method)
    ax.set(xscale="log", yscale="log", xlabel="symbols n (q qubits, 2 layers, all outputs)",
           ylabel="wall seconds", title="Value + gradient + Hessian")
    legend(ax, fontsize=7)
    save(fig, "hessian_time.png")

    # scaling: symbols, qubits, rows
    sweep = lambda name, method: [r for r in rows if r["workload"] == "scaling" and r.get("sweep") == name
                                  and r["method"] == method and r["status"] == "ok"]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    sym = sweep("symbols", M.QSHIFT)
    if sym:
        n = [r["x"] for r in sym]
        ax = axes[0][0]
        ax.plot(n, [r["circuits"] for r in sym], "o-",
                label=f"qshift circuits, 2n^2 + n + 1 (fit {fitted('symbols', 'circuits'):.2f})")
        ax.plot(n, [r["naive_circuits"] for r in sym], "s--", label="naive nesting, 4n^2 + 2n + 1")
        ax.set(xscale="log", yscale="log", xlabel="symbols n", ylabel="circuits", title="Hessian circuits vs symbols")
        legend(ax, fontsize=7)
        ax = axes[0][1]
        ax.plot(n, [r["seconds"] for r in sym], "o-", label=f"wall seconds (fit {fitted('symbols', 'seconds'):.2f})")
        ax2 = ax.twinx()
        ax2.plot(n, [r["peak_bytes"] / 2 ** 20 for r in sym], "s--", color="C1",
                 label=f"peak MiB (fit {fitted('symbols', 'peak_bytes'):.2f})")
        ax.set(xscale="log", yscale="log", xlabel=f"symbols n ({sym[0]['qubits']} qubits)", ylabel="seconds", title="Time and memory vs symbols")
        ax2.set(yscale="log", ylabel="peak MiB")
        legend(ax, loc="upper left", fontsize=7)
        legend(ax2, loc="lower right", fontsize=7)
    ax = axes[1][0]
    for method, style in (("LocalSimulator.run", "o-"), (M.AER, "s--")):
        pts = [(r["x"], r["seconds_per_row"]) for r in sweep("qubits", method) if r.get("seconds_per_row")]
        if pts:
            ax.plot(*zip(*pts), style,
                    label=f"{method}: s per row (fit 2^({fitted('qubits', 'seconds_per_row', method):.2f} q))")
    mem = [(r["x"], r["peak_bytes"]) for r in sweep("qubits", "LocalSimulator.run") if r.get("peak_bytes")]
    if mem:
        ax2 = ax.twinx()
        ax2.plot(*zip(*[(q, b / 2 ** 20) for q, b in mem]), "^:", color="C2",
                 label=f"local: peak MiB, one row (fit 2^({fitted('qubits', 'peak_bytes', 'LocalSimulator.run'):.2f} q))")
        ax2.set(yscale="log", ylabel="peak MiB")
        legend(ax2, loc="lower right", fontsize=7)
    ax.set(yscale="log", xlabel="qubits", ylabel="seconds per row", title="Qubits (2 layers, random rows)")
    legend(ax, loc="upper left", fontsize=7)
    ax = axes[1][1]
    rws = sweep("rows", M.QSHIFT)
    if rws:
        b = [r["x"] for r in rws]
        for key, style, label in (("circuits", "s--", "circuits"), ("seconds", "o-", "wall seconds"),
                                  ("peak_bytes", "^:", "peak memory")):
            ax.plot(b, [r[key] / rws[0][key] for r in rws], style, label=f"{label} (fit {fitted('rows', key):.2f})")
        ax.plot(b, [x / b[0] for x in b], color="grey", lw=0.8, label="linear")
        ax.set(xscale="log", yscale="log", xlabel=f"input rows B ({rws[0]['qubits']} qubits, 2 layers)",
               ylabel="relative to B = 1", title="Rows")
        legend(ax, fontsize=7)
    save(fig, "scaling.png")

    # bandwidth
    bw = [r for r in rows if r["workload"] == "bandwidth"] + [
        r for r in sweep("qubits", "LocalSimulator.run") if r.get("rows") == 1]
    if bw:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        labels = [f"{r['method']}: {r['config']}" for r in bw]
        y = np.arange(len(bw))
        copy = np.array([r["method"] == "np.copyto" for r in bw])
        physical = np.array([r["effective_bandwidth"] / 1e9 for r in bw])
        ax.barh(y[copy] - 0.2, physical[copy], height=0.4, color="C0", label="np.copyto (read + write)")
        ax.barh(y[~copy] - 0.2, physical[~copy], height=0.4, color="C1", label="simulator, physical traffic")
        ax.barh(y + 0.2, [r.get("gate_by_gate_bandwidth", 0) / 1e9 for r in bw], height=0.4, color="C2",
                label="effective: gate-by-gate bytes of the batch")
        ax.set_yticks(y, labels)
        ax.set(xlabel="GB/s (bytes read + written per second)", xscale="log",
               title="Copy bandwidth vs the simulator's")
        ax.legend(fontsize=7)
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=7)
        save(fig, "bandwidth.png")
    return written


def write(results: dict, out: str) -> None:
    try:
        plots(results, out)
    except Exception as exc:  # a missing plot must not lose the tables
        results["rows"].append({"workload": "report", "method": "plots", "status": "failed", "note": repr(exc),
                                "config": ""})
    with open(os.path.join(out, "RESULTS.md"), "w") as f:
        f.write(render(results))


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json")
    with open(path) as f:
        write(json.load(f), os.path.dirname(os.path.abspath(path)))
