"""Cost before running: ``qshift.estimate`` and the ``max_cost`` guard.

An estimate counts what a derivative request would send — distinct circuits
(the planner's points), executions (times the measurement groups on a
sampling device), provider calls, billed tasks and shots — and prices them
with the device profile's ``[price]`` (and ``[time]`` for time-billed
devices). It does so for the planned request and for naive nesting (every
order differentiating the one below it, nothing shared), so the planner's
saving shows in money. Estimates ignore the evaluation cache: a run may cost
less, never more.

How a profile's ``task`` turns executions into billed tasks:

* ``"job"``: one task per provider call (``ceil(circuits / max_batch)``);
* ``"execution"``: one task per circuit run (Braket ``run_batch`` on SV1/DM1);
* ``"program_set"``: program sets of at most ``max_executables`` executables and
  ``max_total_shots`` shots, one task and one provider call each.

Example:
    >>> import qshift
    >>> e = qshift.estimate(qshift.hardware_efficient(8, 2), order=2, device="ionq-forte")
    >>> e.planned.circuits, e.naive.circuits, e.planned.tasks, e.planned.shots
    (2081, 4161, 21, 2081000)
    >>> round(e.planned.price, 2), round(e.naive.price, 2)
    (166486.3, 332892.6)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qshift._display import estimate_html
from qshift._errors import CostLimitError
from qshift.backends.base import Backend
from qshift.backends.profiles import DeviceProfile
from qshift.backends.registry import resolve_profile
from qshift.cost.checks import check_shots, plan_request
from qshift.ir.circuit import Circuit
from qshift.ir.grouping import n_groups
from qshift.planning.planner import Plan

__all__ = ["Cost", "CostLimitError", "Estimate", "cost_of", "estimate"]


@dataclass(frozen=True)
class Cost:
    """What one way of running a request would send and cost.

    Attributes:
        circuits: distinct circuits (points).
        executions: circuit runs (circuits x measurement groups on a sampling device).
        jobs: provider calls.
        tasks: billed tasks (see the module docstring).
        shots: shots in all.
        seconds: billed device time (time-billed devices only, else ``None``).
        price: the price in the profile's currency (``0.0`` for a device without prices).
    """

    circuits: int
    executions: int
    jobs: int
    tasks: int
    shots: int
    seconds: float | None
    price: float


@dataclass(frozen=True)
class Estimate:
    """:func:`estimate`'s answer: the planned and the naive cost of one request on one device."""

    device: str
    circuit: str
    orders: tuple[int, ...]
    rows: int
    groups: int
    shots_per_execution: int | None
    planned: Cost
    naive: Cost
    currency: str
    prices_read: str | None
    source: str | None

    @property
    def saving(self) -> float:
        """Naive price minus planned price."""
        return self.naive.price - self.planned.price

    def __str__(self) -> str:
        shots = "exact" if self.shots_per_execution is None else f"{self.shots_per_execution} shots per execution"
        head = (f"{self.circuit} orders {list(self.orders)} x {self.rows} row(s) on {self.device}: "
                f"{self.groups} measurement group(s), {shots}")
        lines = [head, f"{'':10}{'circuits':>12}{'executions':>12}{'tasks':>8}{'jobs':>7}{'shots':>14}{'price':>16}"]
        for label, c in (("planned", self.planned), ("naive", self.naive)):
            lines.append(f"{label:10}{c.circuits:>12,}{c.executions:>12,}{c.tasks:>8,}{c.jobs:>7,}{c.shots:>14,}"
                         f"{_money(c.price, self.currency):>16}")
        lines.append(f"planner saves {_money(self.saving, self.currency)}"
                     + (f" (prices read {self.prices_read} from {self.source})" if self.prices_read else " (no prices: free)"))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return estimate_html(self)


def _money(amount: float, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def cost_of(circuits: int, profile: DeviceProfile | None, *, shots: int | None, groups: int,
            max_batch: int | None = None) -> Cost:
    """The cost of running ``circuits`` distinct circuits on a device described by ``profile``.

    Example:
        >>> from qshift.backends.profiles import load_profile
        >>> c = cost_of(250, load_profile("ionq-forte"), shots=1000, groups=2)
        >>> c.executions, c.tasks, c.shots, round(c.price, 2)
        (500, 5, 500000, 40001.5)
    """
    executions = circuits * (groups if shots else 1)
    total_shots = executions * (shots or 0)
    max_batch = max_batch if max_batch is not None else (profile.max_batch if profile else None)
    jobs = math.ceil(circuits / max_batch) if max_batch else int(circuits > 0)
    tasks = _tasks(profile, circuits, executions, jobs, shots, max_batch, groups)
    if profile is not None and profile.task == "program_set" and shots:
        jobs = tasks  # one provider call per program set
    seconds = _seconds(profile, tasks, executions, total_shots)
    return Cost(circuits, executions, jobs, tasks, total_shots, seconds, _price(profile, tasks, total_shots, seconds))


def _tasks(profile, circuits, executions, jobs, shots, max_batch, groups) -> int:
    unit = profile.task if profile is not None else "job"
    if unit == "execution":
        return executions
    if unit == "job" or not executions:
        return jobs
    per_set = profile.max_executables or executions
    if shots and profile.max_total_shots:
        per_set = max(1, min(per_set, profile.max_total_shots // shots))
    rows = max_batch or circuits
    full, rest = divmod(circuits, rows)
    per_call = lambda r: math.ceil(r * (groups if shots else 1) / per_set)
    return full * per_call(rows) + (per_call(rest) if rest else 0)


def _seconds(profile, tasks: int, executions: int, shots: int) -> float | None:
    if profile is None or profile.time is None:
        return None
    t = profile.time
    busy = tasks * t.per_task_s + executions * t.per_execution_s + shots * t.per_shot_s
    return max(busy, tasks * t.minimum_task_s)


def _price(profile, tasks: int, shots: int, seconds: float | None) -> float:
    if profile is None or profile.price is None:
        return 0.0
    p = profile.price
    price = tasks * p.per_task + shots * p.per_shot
    if seconds is not None:
        price += seconds * (p.per_second + p.per_minute / 60.0)
    return float(price)


def estimate(circuit: Circuit, order: int = 1, *, device="local", shots: int | None = None, values=None,
             rows: int | None = None, wrt=None, shift: float | None = None, orders=None,
             rule: str = "standard") -> Estimate:
    """Circuits, tasks, shots and price of ``qshift.derivatives(circuit, ..., order)`` on ``device``, unrun.

    Works for every profile, cloud targets included (nothing is sent, no credentials needed).

    Args:
        circuit: the circuit.
        order: highest derivative order (or ``orders=`` for exactly which).
        device: a profile name or path, a profile, or a backend (priced only if built from a profile).
        shots: shots per execution (default: the profile's; ``None`` on an exact device: exact).
        values: symbol values (only their number of rows matters), or ``rows=``.
        wrt, shift, rule: as for :func:`qshift.derivatives`.
    """
    profile = resolve_profile(device)
    shots = check_shots(shots)
    if shots is None and profile is not None:
        shots = profile.shots
    the_plan = plan_request(circuit, order, orders, values=values, rows=rows, wrt=wrt, shift=shift, rule=rule)
    groups = n_groups(circuit) if shots else 1
    planned = cost_of(the_plan.circuits, profile, shots=shots, groups=groups)
    naive = cost_of(the_plan.naive_circuits, profile, shots=shots, groups=groups)
    price = profile.price if profile is not None else None
    return Estimate(profile.name if profile else getattr(device, "name", str(device)), circuit.name,
                    tuple(the_plan.orders), the_plan.rows, groups, shots, planned, naive,
                    price.currency if price else "USD", price.prices_read if price else None,
                    price.source if price else None)


def check_cost(the_plan: Plan, circuit: Circuit, backend: Backend, shots: int | None,
               max_cost: float | None) -> Cost | None:
    """Refuse a request whose planned price exceeds ``max_cost`` (raises :class:`CostLimitError`)."""
    if max_cost is None:
        return None
    profile = backend.profile
    groups = n_groups(circuit) if shots else 1
    cost = cost_of(the_plan.circuits, profile, shots=shots, groups=groups, max_batch=backend.max_batch)
    if cost.price > max_cost:
        currency = profile.price.currency if profile and profile.price else "USD"
        raise CostLimitError(
            f"the request would cost about {_money(cost.price, currency)} on {backend.name!r}, "
            "over max_cost",
            expected=f"at most {_money(max_cost, currency)}",
            received=f"{_money(cost.price, currency)} for {cost.circuits:,} circuits, {cost.executions:,} executions, "
                     f"{cost.tasks:,} task(s), {cost.shots:,} shots",
            fix="raise max_cost, lower shots or the order, differentiate fewer symbols (wrt=), or use a cheaper device")
    return cost
