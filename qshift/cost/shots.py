"""Shots where they matter: allocation, targets by accuracy, and the rule that is cheapest.

An entry of a derivative tensor is a linear rule ``sum_j c_j f_j`` over the
plan's points. With ``N_j`` shots on point ``j`` (per-shot variance
``sigma_j^2``; for a Pauli product ``sigma^2 = 1 - f^2 <= 1``) its variance is
``sum_j c_j^2 sigma_j^2 / N_j``. For one entry, ``N_j ~ |c_j| sigma_j``
minimises it (``Var = (sum |c_j| sigma_j)^2 / N``). For a whole tensor each
point gets the weight of everything it feeds,
``w_j = sqrt(sum_e c_ej^2 sigma_j^2)``, and ``N_j ~ w_j`` minimises the summed
variance of all entries. A point's shots serve all its outputs at once, and
every output must meet the target, so ``sigma_j^2`` is its noisiest output's
(``max_o sigma_jo^2``). A target standard error ``eps`` on every entry then
fixes the total: ``N = max_e,o sum_j c_ej^2 sigma_jo^2 / (pi_j eps^2)`` with
``pi_j = w_j / sum w``. The shots each point needs only grow with any
``sigma_jo``, so pricing them at ``sigma^2 = 1`` (the most a Pauli output has)
bounds what a run, which measures ``sigma`` in a pilot, spends.

Shared points correlate entries: the unshifted ``f(x)`` enters every diagonal
Hessian entry, so their errors move together; :meth:`Derivatives.covariance`
reports it.

The rule families compared by :func:`choices` (and chosen by
``rule="min-shots"`` / ``"min-cost"``):

* ``standard``: tensor-product stencils, the same shots on every point;
* ``min-shots``: the same points, shots allocated by weight (fewest shots);
* ``min-circuits``: the circuit-minimal Hessian, shots allocated by weight
  (fewest circuits, so fewest per-task fees, but larger coefficients);
* ``min-cost``: whichever of these the device profile's prices make cheapest.

Example:
    >>> import qshift
    >>> c = qshift.hardware_efficient(3, 1)
    >>> table = choices(c, order=2, target_stderr=0.05, device="ionq-forte")
    >>> [ch.rule for ch in table]
    ['standard', 'min-shots', 'min-circuits']
    >>> table[1].shots < table[0].shots and table[2].circuits < table[0].circuits
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qshift._errors import RequestError
from qshift.backends.registry import resolve_profile
from qshift.cost.checks import check_target, plan_request
from qshift.cost.pricing import cost_of
from qshift.ir.grouping import n_groups
from qshift.planning.planner import Plan

__all__ = ["Choice", "allocate", "choices", "entry_variances", "optimal_split", "request_family", "required_shots",
           "top_up", "weights"]

RULE_FAMILIES = ("standard", "min-shots", "min-circuits", "min-cost")
_LADDER = 2 ** 0.25  # shot levels: fewer distinct levels means fewer provider calls


def _terms(plan: Plan):
    """All (entry, point, coefficient) terms of every order, entries numbered across orders."""
    offset, e, p, c = 0, [], [], []
    for m in plan.maps:
        e.append(m.entry_index + offset)
        p.append(m.point_index)
        c.append(m.coefficients)
        offset += len(m.entries)
    return np.concatenate(e), np.concatenate(p), np.concatenate(c), offset


def weights(plan: Plan, sigma2: np.ndarray | None = None) -> np.ndarray:
    """``w_j = sqrt(sum_e c_ej^2 max_o sigma_jo^2)`` for one row's points; ``sigma2`` is ``(points, n_out)`` (default 1).

    The noisiest output of a point sets its weight: its shots must bring every output to the
    target, and with it the shots a target needs only grow with each ``sigma_jo``.
    """
    entries, points, coeff, _ = _terms(plan)
    s2 = np.ones((plan.points_per_row, 1)) if sigma2 is None else np.asarray(sigma2)
    per_term = coeff ** 2 * s2[points].max(axis=1)
    return np.sqrt(np.bincount(points, per_term, minlength=plan.points_per_row))


def entry_variances(plan: Plan, shots: np.ndarray, sigma2: np.ndarray | None = None) -> np.ndarray:
    """Variance of every entry (all orders, ``(n_entries, n_out)``) for one row with ``shots`` per point."""
    entries, points, coeff, n = _terms(plan)
    s2 = np.ones((plan.points_per_row, 1)) if sigma2 is None else np.asarray(sigma2)
    per_term = (coeff ** 2)[:, None] * s2[points] / np.asarray(shots, dtype=float)[points, None]
    out = np.zeros((n, per_term.shape[1]))
    np.add.at(out, entries, per_term)
    return out


def required_shots(plan: Plan, target_stderr: float, sigma2: np.ndarray | None = None, *,
                   optimal: bool = True) -> np.ndarray:
    """Shots per point (one row, real-valued) so that every entry's standard error is <= target."""
    w = weights(plan, sigma2) if optimal else np.ones(plan.points_per_row)
    share = np.maximum(w, 1e-12 * max(w.max(), 1e-300)) / w.sum()
    worst = entry_variances(plan, share, sigma2).max()  # variance with one shot in all, split by share
    return share * worst / target_stderr ** 2


def allocate(plan: Plan, total_shots: float, sigma2: np.ndarray | None = None) -> np.ndarray:
    """Split ``total_shots`` (for one row) over the points by weight, at least one each."""
    w = weights(plan, sigma2)
    return np.maximum(1, np.floor(total_shots * w / w.sum())).astype(np.int64)


def quantize(shots: np.ndarray) -> np.ndarray:
    """Round shots up to a ladder of levels ``ceil(2^(k/4))`` (so a run needs few provider calls)."""
    shots = np.maximum(np.asarray(shots, dtype=float), 1.0)
    levels = np.ceil(_LADDER ** np.ceil(np.log(shots) / np.log(_LADDER) - 1e-9))
    return levels.astype(np.int64)


def optimal_split(plan: Plan, shots: int) -> np.ndarray:
    """Shots per point of one row for ``shots`` per circuit on average, split by weight, on the ladder.

    Example:
        >>> import qshift
        >>> optimal_split(qshift.plan(qshift.Circuit.from_qasm(qshift.circuit_path("sin")), order=2), 1000).tolist()
        [1723, 862, 862, 862]
    """
    return quantize(allocate(plan, shots * plan.points_per_row))


def top_up(plan: Plan, target_stderr: float, sigma2: np.ndarray, pilot_shots: int, *, optimal: bool) -> np.ndarray:
    """Shots each point of one row needs beyond a pilot of ``pilot_shots`` (on the ladder; 0: none).

    ``sigma2`` is the per-shot variance of every point and output, ``(points_per_row, n_out)``:
    measured by the pilot in a run, ``1`` (the worst case for Pauli outputs) in an estimate. The
    shots only grow with ``sigma2``, so the worst case bounds what any run tops up.
    """
    need = required_shots(plan, target_stderr, sigma2, optimal=optimal)
    return np.where(need > pilot_shots, quantize(np.maximum(need - pilot_shots, 1)), 0)


@dataclass(frozen=True)
class Choice:
    """One way to meet a target standard error: the rule, its circuits and shots, and the price."""

    rule: str
    circuits: int
    shots: int
    tasks: int
    price: float

    def row(self, currency: str) -> str:
        return f"{self.rule:14}{self.circuits:>10,}{self.shots:>14,}{self.tasks:>8,}{self.price:>16,.2f} {currency}"


def choices(circuit, order: int = 2, *, target_stderr: float, device="local", rows: int = 1, wrt=None,
            shift=None, orders=None) -> list[Choice]:
    """Circuits, shots and price of each rule family for ``target_stderr`` on every entry.

    Shot variances are taken at their worst case (``sigma^2 = 1`` for Pauli outputs), so real
    runs, which measure ``sigma`` in a pilot, need at most this many shots.
    """
    check_target(target_stderr)
    profile = resolve_profile(device)
    groups = n_groups(circuit)
    out = []
    for family, rule, optimal in (("standard", "standard", False), ("min-shots", "standard", True),
                                  ("min-circuits", "min-circuits", True)):
        p = plan_request(circuit, order, orders, rows=rows, wrt=wrt, shift=shift, rule=rule)
        per_point = quantize(required_shots(p, target_stderr, optimal=optimal))
        total = int(per_point.sum()) * rows * groups
        mean = math.ceil(total / (p.circuits * groups))
        cost = cost_of(p.circuits, profile, shots=mean, groups=groups)
        out.append(Choice(family, p.circuits, total, cost.tasks, cost.price - _shot_price(profile, mean * p.circuits
                                                                                            * groups - total)))
    return out


def _shot_price(profile, extra_shots: int) -> float:
    """The price of the shots the mean-shots rounding added (subtracted to price the exact total)."""
    return 0.0 if profile is None or profile.price is None else extra_shots * profile.price.per_shot


def cheapest(table: list[Choice]) -> Choice:
    return min(table, key=lambda c: (c.price, c.shots, c.circuits))


def request_family(circuit, rule: str, target_stderr, allocation, order_args: dict, device) -> tuple[str, bool]:
    """(planner rule, optimal allocation?) of a request or an estimate with these arguments.

    Plain requests (a planner rule, no target, no allocation) keep their rule and uniform shots;
    the others are resolved by :func:`resolve_family`.

    Example:
        >>> import qshift
        >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
        >>> request_family(c, "min-shots", 0.01, None, {"order": 1}, "local")
        ('standard', True)
    """
    if rule not in ("min-shots", "min-cost") and target_stderr is None and allocation is None:
        return rule, False
    return resolve_family(rule, target_stderr, allocation, circuit, order_args, device)


def resolve_family(rule: str, target_stderr, allocation, circuit, order_args: dict, device) -> tuple[str, bool]:
    """(planner rule, optimal allocation?) for a request; ``min-cost`` asks :func:`choices`."""
    if rule in ("min-shots", "min-cost") and target_stderr is None:
        raise RequestError(f"rule={rule!r} needs a target", expected="target_stderr=... with this rule",
                           received="target_stderr=None",
                           fix="pass target_stderr (e.g. 0.01), or use rule='standard' / 'min-circuits' with shots=")
    if target_stderr is not None:
        check_target(target_stderr)
    if rule == "min-cost":
        rule = cheapest(choices(circuit, target_stderr=target_stderr, device=device, **order_args)).rule
    optimal = rule in ("min-shots", "min-circuits") if allocation is None else allocation == "optimal"
    if allocation not in (None, "uniform", "optimal"):
        raise RequestError(f"unknown allocation {allocation!r}", expected="'uniform' or 'optimal'",
                           received=repr(allocation), fix="pass allocation='optimal' or 'uniform'")
    return ("min-circuits" if rule == "min-circuits" else "standard"), optimal
