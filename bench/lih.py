"""Workload (e): the LiH energy Hessian — circuits, executions, shots for a target error and price on each
QPU profile, beside PennyLane's counts for the same Hessian.

The problem is the one ``tests/api/test_lih.py`` builds: LiH at 2.969 Bohr, 2 active electrons in 5
active orbitals (PennyLane's own Hartree-Fock, nothing downloaded): 10 qubits, a 276-term Hamiltonian
(275 Pauli terms and a constant) as the one output, ``qml.AllSinglesDoubles`` from the Hartree-Fock state
(8 single and 16 double excitations, 24 symbols), read by ``qshift.Circuit.from_pennylane``.

* **Circuits** (``kind="circuits"``): qshift's value + gradient + Hessian at one point,
  ``qshift.plan(c, order=2, rule=...)`` for ``standard`` and ``min-circuits``; PennyLane's
  ``param_shift_hessian`` (the Hessian alone) and ``param_shift`` (the gradient) tapes of the QNode's tape
  with the 24 gate angles trainable. A sampling device measures the Hamiltonian in qubit-wise commuting
  groups, so executions = circuits x groups: qshift's ``n_groups(c)``, PennyLane's
  ``group_observables(..., grouping_type="qwc")`` (what ``split_non_commuting`` sends). ``max_coeff_sq``:
  the largest ``sum_j c_j^2`` of one entry's stencil (PennyLane's read off its post-processing, which is
  linear in the tape results), to show which stencils are the same.
* **Target error** (``kind="target"``): ``qshift.estimate(c, order=2, device=..., target_stderr=eps,
  rule=...)`` on every cloud QPU profile (``cloud = true`` with shots), for ``standard``, ``min-shots``,
  ``min-circuits`` and ``min-cost``: a 100-shot pilot and top-ups at the worst-case shot variance, so
  expected figures (an upper bound of what a run spends when the bound holds). PennyLane has no
  allocation for a target error: its figure is its tapes x its groups at the uniform shots per
  execution that target needs, taken from qshift's ``standard`` family for the same orders (same
  stencils, same worst case, same pilot and shot ladder), priced by ``qshift.cost.pricing.cost_of`` on
  the same profile and task bundling. Two PennyLane rows: the Hessian alone (``param_shift_hessian``),
  and value + gradient + Hessian as three separate calls, each at the shots its own entries need.
* **Exact** (``kind="exact"``): wall seconds of qshift's exact value + gradient + Hessian on the local
  simulator (both rules), PennyLane's ``default.qubit`` backprop Hessian ``qml.jacobian(qml.jacobian(...))``
  and its ``param_shift_hessian`` tapes executed on ``default.qubit`` (timed on a sample of tapes and
  extrapolated; run in full when the estimate is under ``PL_TAPES_LIMIT``). Hessians are compared with
  PennyLane's backprop Hessian (quick mode: with qshift's other rule; PennyLane is not run).
* **Variance** (``kind="variance"``): the per-shot variance of the energy estimate with every qwc group
  measured on the same shots per execution (Braket tasks, IBM jobs), exact at the Hartree-Fock point and
  the benchmark point, against the worst case ``sum_g (sum_{t in g} |c_t|)^2``.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/lih.py`` (``--quick``: PennyLane's exact Hessians left out).
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from functools import lru_cache

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))

from _common import angles, error_text, max_abs_diff, measure, print_rows, row  # noqa: E402

import qshift  # noqa: E402

WORKLOAD = "lih"
LIH = (["Li", "H"], np.array([0.0, 0.0, 0.0, 0.0, 0.0, 2.969280527]))
CHEMICAL_ACCURACY = 1.6e-3  # Hartree
TARGETS = (CHEMICAL_ACCURACY, 1e-2)
RULES = ("standard", "min-shots", "min-circuits", "min-cost")
PL_TAPES_SAMPLE = 40  # tapes timed to extrapolate param_shift_hessian's execution
PL_TAPES_LIMIT = 120.0  # seconds: above this estimate, param_shift_hessian is not executed in full


class Q:
    """Method names of this workload."""

    PLAN = "qshift.plan"
    ESTIMATE = "qshift.estimate"
    DERIVATIVES = "qshift.derivatives (local simulator, exact)"
    PL_HESSIAN = "PennyLane param_shift_hessian"
    PL_GRADIENT = "PennyLane param_shift"
    PL_ALL = "PennyLane value + param_shift + param_shift_hessian"
    PL_BACKPROP = "PennyLane default.qubit backprop jacobian(jacobian)"
    PL_HESSIAN_RUN = "PennyLane param_shift_hessian on default.qubit"


@dataclass(frozen=True)
class Problem:
    """LiH as both tools see it: PennyLane's Hamiltonian and ansatz, qshift's circuit."""

    hamiltonian: object
    n_qubits: int
    prepare: object  # weights -> the ansatz's gates, no measurement
    ansatz: object  # weights -> the energy
    circuit: qshift.Circuit


@lru_cache(maxsize=1)
def problem() -> Problem:
    import pennylane as qml

    hamiltonian, n_qubits = qml.qchem.molecular_hamiltonian(*LIH, active_electrons=2, active_orbitals=5)
    singles, doubles = qml.qchem.excitations(2, n_qubits)
    hf = qml.qchem.hf_state(2, n_qubits)

    def prepare(weights):
        qml.AllSinglesDoubles(weights, wires=range(n_qubits), hf_state=hf, singles=singles, doubles=doubles)

    def ansatz(weights):
        prepare(weights)
        return qml.expval(hamiltonian)

    circuit = qshift.Circuit.from_pennylane(ansatz, symbols={"weights": len(singles) + len(doubles)})
    return Problem(hamiltonian, n_qubits, prepare, ansatz, circuit)


def base_row(kind: str, method: str, config: str, *, peer: bool = True, **fields) -> dict:
    return row(WORKLOAD, method, config=config, peer=peer, kind=kind, qubits=10, symbols=24, **fields)


# -- PennyLane's side -----------------------------------------------------------------------------------
def pennylane_tape(p: Problem, x: np.ndarray):
    """The QNode's tape at ``x``, the 24 gate angles trainable (not the Hamiltonian's coefficients)."""
    import pennylane as qml
    from pennylane import numpy as pnp

    qnode = qml.QNode(p.ansatz, qml.device("default.qubit", wires=p.n_qubits))
    tape = qml.workflow.construct_tape(qnode)(pnp.array(x, requires_grad=True))
    tape.trainable_params = list(range(len(x)))
    return tape


def pennylane_groups(p: Problem) -> int:
    """PennyLane's qubit-wise commuting groups of the Hamiltonian's non-constant terms."""
    import pennylane as qml

    coeffs, ops = p.hamiltonian.terms()
    keep = [i for i, op in enumerate(ops) if len(op.wires)]
    return len(qml.pauli.group_observables([ops[i] for i in keep], [coeffs[i] for i in keep],
                                           grouping_type="qwc")[0])


def pennylane_split(tape) -> int:
    """Tapes PennyLane's own ``split_non_commuting`` makes of one tape (a sampling device's executions)."""
    import pennylane as qml

    return len(qml.transforms.split_non_commuting(tape, grouping_strategy="qwc")[0])


def stencil_weight(tapes, post) -> float:
    """The largest ``sum_j c_j^2`` of an entry: the post-processing is linear in the tape results, so
    feeding it the columns of the identity (tape ``j`` returns ``e_j``) returns the coefficients."""
    eye = np.eye(len(tapes))
    coefficients = np.asarray(post([eye[j] for j in range(len(tapes))]), dtype=float)
    return float((coefficients.reshape(-1, len(tapes)) ** 2).sum(axis=1).max())


def pennylane_transforms(p: Problem, x: np.ndarray) -> dict:
    """Tapes and stencil weight of PennyLane's Hessian and gradient transforms, and its groups."""
    import pennylane as qml

    tape = pennylane_tape(p, x)
    hessian = qml.gradients.param_shift_hessian(tape)
    gradient = qml.gradients.param_shift(tape)
    return {"hessian": len(hessian[0]), "hessian_weight": stencil_weight(*hessian),
            "gradient": len(gradient[0]), "gradient_weight": stencil_weight(*gradient),
            "groups": pennylane_groups(p), "split": pennylane_split(tape)}


# -- circuits -------------------------------------------------------------------------------------------
def qshift_weight(plan: qshift.Plan, order: int) -> float:
    """The largest ``sum_j c_j^2`` over the entries of ``order`` in ``plan``."""
    from qshift.cost.shots import entry_variances

    variances, offset = entry_variances(plan, np.ones(plan.points_per_row))[:, 0], 0
    for m in plan.maps:
        if m.order == order:
            return float(variances[offset:offset + len(m.entries)].max())
        offset += len(m.entries)
    raise ValueError(f"the plan has no order {order}: its orders are {plan.orders}")


def circuit_rows(p: Problem, pl: dict | None, pl_error: str | None) -> list[dict]:
    from qshift.ir.grouping import n_groups

    c, groups = p.circuit, n_groups(p.circuit)
    config = "one point"
    rows = []
    for rule in ("standard", "min-circuits"):
        plan = qshift.plan(c, order=2, rule=rule)
        rows.append(base_row("circuits", f"{Q.PLAN} rule={rule}", config, peer=False, rule=rule,
                             computes="value + gradient + Hessian", circuits=plan.circuits, groups=groups,
                             executions=plan.circuits * groups, max_coeff_sq=qshift_weight(plan, 2)))
    peers = ((Q.PL_HESSIAN, "Hessian", "hessian"), (Q.PL_GRADIENT, "gradient", "gradient"))
    for method, computes, key in peers:
        if pl is None:
            rows.append(base_row("circuits", method, config, status="failed", note=pl_error, computes=computes))
            continue
        rows.append(base_row("circuits", method, config, peer=True, computes=computes, circuits=pl[key],
                             groups=pl["groups"], split_tapes=pl["split"], executions=pl[key] * pl["groups"],
                             max_coeff_sq=pl[f"{key}_weight"]))
    if pl is not None:
        tapes = 1 + pl["gradient"] + pl["hessian"]
        rows.append(base_row("circuits", Q.PL_ALL, config, peer=True, computes="value + gradient + Hessian "
                             "(three calls)", circuits=tapes, groups=pl["groups"], executions=tapes * pl["groups"]))
    return rows


# -- a target standard error on the QPU profiles --------------------------------------------------------
def qpu_profiles() -> list[str]:
    """The bundled cloud profiles that sample (a QPU: shots, not an exact cloud simulator)."""
    from qshift.backends.registry import bundled_profiles, load_profile

    return sorted(name for name in bundled_profiles()
                  if (prof := load_profile(name)).cloud and prof.shots)


def estimate_fields(e: qshift.Estimate) -> dict:
    c = e.planned
    return dict(family=e.rule, circuits=c.circuits, executions=c.executions, tasks=c.tasks, jobs=c.jobs,
                shots=c.shots, shots_per_execution=e.shots_per_execution, price=c.price, currency=e.currency,
                device_seconds=c.seconds, groups=e.groups, expected=e.expected, prices_read=e.prices_read)


def cost_fields(cost, currency: str, groups: int, shots_per_execution: int) -> dict:
    return dict(circuits=cost.circuits, executions=cost.executions, tasks=cost.tasks, jobs=cost.jobs,
                shots=cost.shots, shots_per_execution=shots_per_execution, price=cost.price, currency=currency,
                device_seconds=cost.seconds, groups=groups, expected=True)


def target_rows(p: Problem, device: str, eps: float, pl: dict | None) -> list[dict]:
    """qshift's families for value + gradient + Hessian, and PennyLane at the standard family's shots."""
    from qshift.backends.registry import load_profile
    from qshift.cost.pricing import cost_of, cost_of_calls

    c, config = p.circuit, f"{device}, stderr {eps:g} Ha"
    common = dict(device=device, target_stderr=eps)
    rows = []
    for rule in RULES:
        e = qshift.estimate(c, order=2, device=device, target_stderr=eps, rule=rule)
        rows.append(base_row("target", f"{Q.ESTIMATE} rule={rule}", config, peer=False, rule=rule,
                             computes="value + gradient + Hessian", **common, **estimate_fields(e)))
    if pl is None:
        return rows
    # uniform shots per execution each order needs on its own (standard family: PennyLane's stencils)
    uniform = {k: qshift.estimate(c, orders=[k], device=device, target_stderr=eps).shots_per_execution
               for k in (0, 1, 2)}
    profile, currency, groups = load_profile(device), rows[0]["currency"], pl["groups"]
    hessian = cost_of(pl["hessian"], profile, shots=uniform[2], groups=groups)
    rows.append(base_row("target", Q.PL_HESSIAN, config, peer=True, rule="uniform", computes="Hessian",
                         **common, **cost_fields(hessian, currency, groups, uniform[2])))
    calls = [(1, uniform[0], True), (pl["gradient"], uniform[1], True), (pl["hessian"], uniform[2], True)]
    everything = cost_of_calls(calls, profile, groups=groups)
    mean = math.ceil(everything.shots / everything.executions)
    rows.append(base_row("target", Q.PL_ALL, config, peer=True, rule="uniform", computes="value + gradient + "
                         "Hessian (three calls)", shots_by_order=[uniform[0], uniform[1], uniform[2]],
                         **common, **cost_fields(everything, currency, groups, mean)))
    return rows


# -- exact derivatives ----------------------------------------------------------------------------------
def exact_rows(p: Problem, x: np.ndarray, quick: bool) -> list[dict]:
    """qshift's exact value + gradient + Hessian (both rules) and PennyLane's exact Hessians, compared."""
    config = "exact, one point"
    ours = {}
    for rule in ("min-circuits", "standard"):
        minimum = qshift.plan(p.circuit, order=2, rule=rule).circuits
        base = base_row("exact", f"{Q.DERIVATIVES} rule={rule}", config, peer=False, rule=rule,
                        computes="value + gradient + Hessian", min_circuits=minimum)
        ours[rule] = timed_hessian(base, lambda rule=rule: run_qshift(p, x, rule), repeats=1 if quick else 3)
    if quick:
        peers = [(base_row("exact", m, config, status="skipped", computes="Hessian",
                           note="quick mode (full mode runs it)"), None) for m in (Q.PL_BACKPROP, Q.PL_HESSIAN_RUN)]
    else:
        peers = [timed_hessian(base_row("exact", Q.PL_BACKPROP, config, peer=True, computes="Hessian"),
                               lambda: (pennylane_backprop(p, x), None), repeats=3, budget=90.0),
                 pennylane_tapes_run(p, x)]
    reference = peers[0][1]
    for rule, (r, hessian) in ours.items():
        other = "standard" if rule == "min-circuits" else "min-circuits"
        against, name = ((reference, Q.PL_BACKPROP) if reference is not None
                         else (ours[other][1], f"qshift rule={other}"))
        if hessian is not None and against is not None:
            r.update(max_diff=max_abs_diff(hessian, against), reference=name)
    for r, hessian in peers:
        if hessian is not None and ours["min-circuits"][1] is not None:
            r.update(max_diff=max_abs_diff(hessian, ours["min-circuits"][1]), reference="qshift rule=min-circuits")
    return [r for r, _ in ours.values()] + [r for r, _ in peers]


def timed_hessian(base: dict, fn, *, repeats: int, budget: float = 30.0) -> tuple[dict, np.ndarray | None]:
    """:func:`measure` of ``fn() -> (hessian, circuits)``: the row, and the Hessian when it ran."""
    kept = {}

    def run():
        hessian, circuits = fn()
        kept["hessian"] = np.asarray(hessian, dtype=float).reshape(24, 24)
        return hessian, circuits

    r = measure(base, run, repeats=repeats, budget=budget)
    return r, kept.get("hessian") if r["status"] == "ok" else None


def run_qshift(p: Problem, x: np.ndarray, rule: str):
    d = qshift.derivatives(p.circuit, x, order=2, rule=rule)
    return d.hessian, d.stats.circuits


def pennylane_backprop(p: Problem, x: np.ndarray) -> np.ndarray:
    import pennylane as qml
    from pennylane import numpy as pnp

    qnode = qml.QNode(p.ansatz, qml.device("default.qubit", wires=p.n_qubits), diff_method="backprop")
    return np.asarray(qml.jacobian(qml.jacobian(qnode))(pnp.array(x, requires_grad=True)), dtype=float)


def pennylane_tapes_run(p: Problem, x: np.ndarray) -> tuple[dict, np.ndarray | None]:
    """``param_shift_hessian``'s tapes executed on ``default.qubit``: a sample timed, all run if affordable."""
    import pennylane as qml

    r = base_row("exact", Q.PL_HESSIAN_RUN, "exact, one point", peer=True, computes="Hessian")
    try:
        dev = qml.device("default.qubit", wires=p.n_qubits)
        tapes, post = qml.gradients.param_shift_hessian(pennylane_tape(p, x))
        start = time.perf_counter()
        qml.execute(tapes[:PL_TAPES_SAMPLE], dev, diff_method=None)
        estimate = (time.perf_counter() - start) * len(tapes) / PL_TAPES_SAMPLE
        r.update(circuits=len(tapes), estimated_seconds=estimate)
        if estimate > PL_TAPES_LIMIT:
            r.update(status="skipped", note=f"est. {estimate:.0f} s > {PL_TAPES_LIMIT:.0f} s (timed on "
                                            f"{PL_TAPES_SAMPLE} of its {len(tapes):,} tapes)")
            return r, None
        start = time.perf_counter()
        hessian = np.asarray(post(qml.execute(tapes, dev, diff_method=None)), dtype=float)
        r.update(seconds=time.perf_counter() - start, repeats=1)
        return r, hessian
    except Exception as exc:  # a peer failing is a result
        r.update(status="failed", note=error_text(exc))
        return r, None


# -- shot variance of the energy ------------------------------------------------------------------------
def variance_row(p: Problem, x: np.ndarray) -> dict:
    """Per-shot variance of the energy with every qwc group on the same shots: exact and worst case."""
    import pennylane as qml

    coeffs, ops = p.hamiltonian.terms()
    keep = [i for i, op in enumerate(ops) if len(op.wires)]
    group_ops, group_coeffs = qml.pauli.group_observables([ops[i] for i in keep], [coeffs[i] for i in keep],
                                                          grouping_type="qwc")
    matrices = [qml.matrix(qml.dot(list(cs), list(os_)), wire_order=range(p.n_qubits))
                for os_, cs in zip(group_ops, group_coeffs)]

    def variance(point):
        psi = state(p, point)
        total = 0.0
        for m in matrices:
            m_psi = m @ psi
            total += float(np.real(np.vdot(m_psi, m_psi)) - np.real(np.vdot(psi, m_psi)) ** 2)
        return total

    worst = float(sum(np.sum(np.abs(cs)) ** 2 for cs in group_coeffs))
    return base_row("variance", "per-shot variance of the energy (Ha^2)", "same shots on every qwc group",
                    peer=True, groups=len(group_ops), worst_case=worst, hartree_fock=variance(np.zeros(24)),
                    at_point=variance(x))


def state(p: Problem, x: np.ndarray) -> np.ndarray:
    import pennylane as qml

    def prepare(weights):
        p.prepare(weights)
        return qml.state()

    return np.asarray(qml.QNode(prepare, qml.device("default.qubit", wires=p.n_qubits))(x))


# -- all of it ------------------------------------------------------------------------------------------
def collect(quick: bool = False) -> list[dict]:
    p = problem()
    x = angles(p.circuit.n_symbols)
    try:
        pl, pl_error = pennylane_transforms(p, x), None
    except Exception as exc:  # PennyLane's side failing must not lose qshift's rows
        pl, pl_error = None, error_text(exc)
    rows = circuit_rows(p, pl, pl_error)
    for eps in TARGETS:
        for device in qpu_profiles():
            rows += target_rows(p, device, eps, pl)
    rows += exact_rows(p, x, quick)
    try:
        rows.append(variance_row(p, x))
    except Exception as exc:
        rows.append(base_row("variance", "per-shot variance of the energy (Ha^2)", "", peer=True,
                             status="failed", note=error_text(exc)))
    return rows


def main(quick: bool) -> None:
    start = time.perf_counter()
    rows = collect(quick)
    for kind, columns in (("circuits", ["method", "computes", "circuits", "groups", "executions", "max_coeff_sq"]),
                          ("target", ["config", "method", "family", "circuits", "executions", "shots",
                                      "shots_per_execution", "tasks", "price"]),
                          ("exact", ["method", "status", "seconds", "circuits", "max_diff", "reference", "note"]),
                          ("variance", ["method", "groups", "worst_case", "hartree_fock", "at_point"])):
        print_rows([r for r in rows if r["kind"] == kind], columns)
        print()
    print(f"{time.perf_counter() - start:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main("--quick" in sys.argv)
