"""How a request spends its shots: one strategy per way, one result type.

Every strategy runs the plan's ``points`` through an executor and returns
:class:`Samples`: each point's value, the variance of that value (``None`` when
exact), the shots each point got (when they differ between points) and what was
executed. The request API picks one strategy (:func:`sampling_for`) and never
looks inside:

* :class:`Exact`: no shot noise (a statevector device, no shots asked);
* :class:`FixedShots`: the same shots on every point;
* :class:`OptimalAllocation`: the same total as ``shots`` on every point, split by each
  point's weight in the result (see :mod:`qshift.cost.shots`);
* :class:`TargetError`: a pilot measures each point's spread, then each point is topped
  up until every entry's standard error is about the target (for a Hamiltonian, the pilot also
  measures each measurement group's spread, and the top-ups split their shots by it).

Each strategy also says, without running anything, which executor calls it would
make (``calls``: circuits, shots per execution, and whether they are new circuits or
top-ups of circuits already run); :func:`qshift.estimate` and the ``max_cost`` guard
price those, so they price what runs.

Seeds: a strategy that makes several executor calls (shot levels, pilot and top-up)
gives call ``i`` the ``i``-th child of the request seed (:mod:`qshift._seeding`).

Example:
    >>> import numpy as np, qshift
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> p = qshift.plan(c, order=1)
    >>> points = p.points(c.slot_angles(np.array([[0.5]])))
    >>> s = sampling_for(1000, seed=1).run(qshift.Executor(qshift.LocalSimulator()), c, p, points)
    >>> s.values.shape, s.variances.shape, s.stats.shots
    ((3, 1), (3, 1), 3000)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from qshift._seeding import child_ints
from qshift.cost.shots import optimal_split, top_up
from qshift.execution.executor import Stats
from qshift.ir.circuit import Circuit
from qshift.ir.grouping import blank_estimates, group_spread, n_groups, split_by_group
from qshift.planning.planner import Plan

__all__ = ["Exact", "FixedShots", "OptimalAllocation", "Samples", "Sampling", "SharedError", "TargetError",
           "base_strategy", "contract", "sampling_for"]


@dataclass(frozen=True)
class SharedError:
    """An error common to every point: one draw ``delta`` (variance ``variance``) moves point ``i``'s values by
    ``sensitivity[i] * delta``.

    A readout calibration's shot noise is one: the same estimated calibration corrects every point,
    so its error is correlated across points, and a derivative (a difference of points) sees it
    through the contracted sensitivity, not point by point (:func:`contract`).

    Attributes:
        sensitivity: ``(points, n_out)``.
        variance: the variance of ``delta``.
    """

    sensitivity: np.ndarray
    variance: float


@dataclass(frozen=True)
class Samples:
    """What a strategy measured at the plan's points.

    Attributes:
        values: ``(points, n_out)`` estimates.
        variances: ``(points, n_out)`` variance of each estimate (per-shot variance / shots), or
            ``None`` for exact results.
        shots_per_point: the shots each point got, when strategies vary them (else ``None``).
        stats: what was executed.
        shared: errors common to every point (:class:`SharedError`), on top of ``variances`` (which
            are independent from point to point); :func:`contract` adds them to every entry's variance.
    """

    values: np.ndarray
    variances: np.ndarray | None
    shots_per_point: np.ndarray | None
    stats: Stats
    shared: tuple[SharedError, ...] = ()


def contract(plan: Plan, samples: Samples) -> tuple[dict, dict | None]:
    """The plan's tensors and their variances from ``samples``: the independent variances of the points
    (:meth:`~qshift.planning.planner.Plan.contract`) plus every shared error, contracted as a whole
    (``(sum_i coefficient_i * sensitivity_i)**2 * variance``).

    Example:
        >>> import numpy as np, qshift
        >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
        >>> p = qshift.plan(c, order=1)
        >>> same = SharedError(np.ones((3, 1)), 0.01)       # every point moved alike: a gradient does not see it
        >>> t, v = contract(p, Samples(np.zeros((3, 1)), np.zeros((3, 1)), None, Stats(), (same,)))
        >>> float(v[0][0, 0]), float(v[1][0, 0, 0])
        (0.01, 0.0)
    """
    tensors, variances = plan.contract(samples.values, samples.variances)
    if variances is None or not samples.shared:
        return tensors, variances
    for error in samples.shared:
        moved, _ = plan.contract(np.asarray(error.sensitivity, dtype=float))
        for k in variances:
            variances[k] = variances[k] + moved[k] ** 2 * error.variance
    return tensors, variances


def base_strategy(strategy) -> "Sampling":
    """The strategy that spends the shots: ``strategy``, or the one a wrapper (``.inner``) runs."""
    while hasattr(strategy, "inner"):
        strategy = strategy.inner
    return strategy


Call = tuple
"""One executor call a strategy makes: ``(circuits, shots per execution or None, new circuits?)``, and
optionally a fourth item, the measurement groups of those circuits when they differ from the request's
(a readout calibration's circuits have one)."""


class Sampling(Protocol):
    """A way to spend shots on a plan's points (see the module notes)."""

    def run(self, executor, circuit: Circuit, plan: Plan, points: np.ndarray) -> Samples:
        """Evaluate ``points`` (``plan.points(...)``) through ``executor``."""

    def calls(self, plan: Plan, worst: np.ndarray | None = None) -> list[Call]:
        """The executor calls :meth:`run` makes for ``plan``, unrun (what an estimate prices)."""


@dataclass(frozen=True)
class Exact:
    """No shot noise: one executor call without shots."""

    seed: int | None = None

    def run(self, executor, circuit: Circuit, plan: Plan, points: np.ndarray) -> Samples:
        values, variances, stats = executor.evaluate(circuit, points, shots=None, seed=self.seed)
        return Samples(values, variances, None, stats)

    def calls(self, plan: Plan, worst: np.ndarray | None = None) -> list[Call]:
        return [(plan.circuits, None, True)]


@dataclass(frozen=True)
class FixedShots:
    """``shots`` on every point, in one executor call."""

    shots: int
    seed: int | None = None

    def run(self, executor, circuit: Circuit, plan: Plan, points: np.ndarray) -> Samples:
        values, per_shot, stats = executor.evaluate(circuit, points, shots=self.shots, seed=self.seed)
        return Samples(values, per_shot / self.shots, None, stats)

    def calls(self, plan: Plan, worst: np.ndarray | None = None) -> list[Call]:
        return [(plan.circuits, self.shots, True)]


@dataclass(frozen=True)
class OptimalAllocation:
    """The same total shots as ``shots`` on every point, split by weight (sigma at its worst case)."""

    shots: int
    seed: int | None = None

    def run(self, executor, circuit: Circuit, plan: Plan, points: np.ndarray) -> Samples:
        split = optimal_split(plan, self.shots)
        per_point = np.tile(split, len(points) // plan.points_per_row)
        values, per_shot, stats = run_levels(executor, circuit, points, per_point, self.seed)
        return Samples(values, per_shot / per_point[:, None], per_point, stats)

    def calls(self, plan: Plan, worst: np.ndarray | None = None) -> list[Call]:
        """One call per shot level (:func:`run_levels`)."""
        return _levels(optimal_split(plan, self.shots), plan.rows, new=True)


@dataclass(frozen=True)
class TargetError:
    """Pilot every point, measure sigma, then top each point up to its share of ``target_stderr``."""

    target_stderr: float
    optimal: bool
    pilot_shots: int
    seed: int | None = None

    def run(self, executor, circuit: Circuit, plan: Plan, points: np.ndarray) -> Samples:
        pilot_seed, rest_seed = child_ints(self.seed, 2)
        f1, v1, stats, measured = self._pilot(executor, circuit, points, pilot_seed)
        extra = self._extra(plan, v1)
        total = self.pilot_shots + extra
        values, per_shot = f1.copy(), v1.copy()
        top = np.flatnonzero(extra)
        if len(top):
            f2, v2, more = run_levels(executor, measured, points[top], extra[top], rest_seed)
            more.circuits = 0  # topping up runs circuits the pilot already counted
            stats.add(more)
            w1, w2 = self.pilot_shots / total[top], extra[top] / total[top]
            values[top] = w1[:, None] * f1[top] + w2[:, None] * f2
            per_shot[top] = w1[:, None] * v1[top] + w2[:, None] * v2
        return Samples(values, per_shot / total[:, None], total, stats)

    def _pilot(self, executor, circuit: Circuit, points: np.ndarray, seed) -> tuple:
        """The pilot's values, per-shot variances and stats, and the circuit the top-ups run.

        For weighted outputs spread over several measurement groups, the pilot measures each
        output's part in each group (:func:`~qshift.ir.grouping.split_by_group`: the same
        executions), so the top-ups can split their shots by each group's measured spread
        instead of its coefficients (:func:`~qshift.ir.grouping.group_spread`).
        """
        if not circuit.weighted or n_groups(circuit) == 1:
            f1, v1, stats = executor.evaluate(circuit, points, shots=self.pilot_shots, seed=seed)
            return f1, v1, stats, circuit
        parts, owner = split_by_group(circuit)
        fp, vp, stats = executor.evaluate(parts, points, shots=self.pilot_shots, seed=seed)
        f1, v1 = blank_estimates(circuit, len(points))
        for k, (o, _) in enumerate(owner):
            f1[:, o] += fp[:, k]
            v1[:, o] += vp[:, k]
        return f1, v1, stats, circuit.with_group_weights(group_spread(circuit, owner, vp, self.pilot_shots))

    def calls(self, plan: Plan, worst: np.ndarray | None = None) -> list[Call]:
        """The pilot, then one call per top-up level, with the shot variance at its worst case.

        ``worst`` is each output's largest per-shot variance (:func:`~qshift.ir.grouping.variance_bound`:
        1 for a Pauli product, ``(sum |w|)**2``-like for a Hamiltonian; default 1). The top-ups of
        a run depend on the spread its pilot measures; at the worst case every point gets at
        least the top-up any run gives it, so the shots are an upper bound (an expected figure,
        not a promise of the task count).
        """
        bound = np.ones(1) if worst is None else np.asarray(worst, dtype=float)
        extra = top_up(plan, self.target_stderr, np.tile(bound, (plan.points_per_row, 1)), self.pilot_shots,
                       optimal=self.optimal)
        return [(plan.circuits, self.pilot_shots, True)] + _levels(extra[extra > 0], plan.rows, new=False)

    def _extra(self, plan: Plan, pilot_variances: np.ndarray) -> np.ndarray:
        """Shots each point needs beyond the pilot (on the ladder of levels; 0: none)."""
        sigma2 = np.maximum(pilot_variances, 1.0 / self.pilot_shots)
        per_row = plan.points_per_row
        return np.concatenate([top_up(plan, self.target_stderr, sigma2[r:r + per_row], self.pilot_shots,
                                      optimal=self.optimal) for r in range(0, len(sigma2), per_row)])


def sampling_for(shots: int | None, seed: int | None = None, *, optimal: bool = False,
                 target_stderr: float | None = None, pilot_shots: int = 100) -> Sampling:
    """The strategy of a request with resolved ``shots`` (``None``: exact) and these options."""
    if target_stderr is not None:
        return TargetError(target_stderr, optimal, pilot_shots, seed)
    if shots is None:
        return Exact(seed)
    return OptimalAllocation(shots, seed) if optimal else FixedShots(shots, seed)


def run_levels(executor, circuit: Circuit, points: np.ndarray, shots: np.ndarray, seed) -> tuple:
    """Evaluate ``points`` with per-point ``shots``: one executor call per distinct level.

    Returns values, per-shot variances and the summed stats.
    """
    values = np.empty((len(points), circuit.n_outputs))
    variances = np.empty_like(values)
    stats = Stats()
    levels = np.unique(shots)
    for level, level_seed in zip(levels, child_ints(seed, len(levels))):
        idx = np.flatnonzero(shots == level)
        v, var, st = executor.evaluate(circuit, points[idx], shots=int(level), seed=level_seed)
        values[idx], variances[idx] = v, var
        stats.add(st)
    return values, variances, stats


def _levels(per_point: np.ndarray, rows: int, *, new: bool) -> list[Call]:
    """One call per distinct shot level (the same levels in every row), lowest first."""
    levels, counts = np.unique(per_point, return_counts=True)
    return [(int(n) * rows, int(level), new) for level, n in zip(levels, counts)]
