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

The rule families built on these (``standard``, ``min-shots``, ``min-circuits``, and
``min-cost`` choosing among them) are compared and priced in :mod:`qshift.cost.families`.

Example:
    >>> import qshift
    >>> p = qshift.plan(qshift.Circuit.from_qasm(qshift.circuit_path("sin")), order=2)
    >>> weights(p).round(3).tolist()   # f(x) feeds the value (c = 1) and f'' (c = -1/2): sqrt(1 + 1/4)
    [1.118, 0.5, 0.5, 0.5]
"""

from __future__ import annotations

import numpy as np

from qshift.planning.planner import Plan

__all__ = ["allocate", "entry_variances", "optimal_split", "quantize", "required_shots", "top_up", "weights"]

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
