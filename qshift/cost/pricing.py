"""What a run sends and costs on a device profile: :class:`Cost` and :func:`cost_of`.

:func:`cost_of` counts the executions, provider calls, billed tasks and shots of
running some circuits at one shot level, and prices them with the profile's
``[price]`` (and ``[time]`` for time-billed devices). A run made of several
executor calls (shot levels, a pilot and its top-ups) costs the sum of its calls
(:func:`cost_of_calls`). :mod:`qshift.cost.estimate` and :mod:`qshift.cost.shots`
price with these.

How a profile's ``task`` turns executions into billed tasks:

* ``"job"``: one task per provider call (``ceil(circuits / max_batch)``);
* ``"execution"``: one task per circuit run (Braket ``run_batch`` on SV1/DM1);
* ``"program_set"``: program sets of at most ``max_executables`` executables and
  ``max_total_shots`` shots, one task and one provider call each.

Example:
    >>> from qshift.backends.profiles import load_profile
    >>> c = cost_of_calls([(250, 100, True), (50, 400, False)], load_profile("ionq-forte"), groups=1)
    >>> c.circuits, c.executions, c.shots, c.jobs
    (250, 300, 45000, 4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qshift.backends.profiles import DeviceProfile

__all__ = ["Cost", "cost_of", "cost_of_calls", "money"]


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


def money(amount: float, currency: str) -> str:
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




def cost_of_calls(calls, profile: DeviceProfile | None, *, groups: int, max_batch: int | None = None) -> Cost:
    """The cost of a run made of several executor calls, each ``(circuits, shots, new)`` or
    ``(circuits, shots, new, groups)``.

    ``new`` says whether the call's circuits are distinct circuits of the request (a top-up runs
    circuits a pilot already ran: they count as executions, not as circuits again); ``groups``, when
    given, the measurement groups of that call's circuits (else ``groups``).
    """
    parts = [(cost_of(call[0], profile, shots=call[1], groups=call[3] if len(call) > 3 else groups,
                      max_batch=max_batch), call[2]) for call in calls]
    seconds = [c.seconds for c, _ in parts if c.seconds is not None]
    return Cost(sum(c.circuits for c, new in parts if new), sum(c.executions for c, _ in parts),
                sum(c.jobs for c, _ in parts), sum(c.tasks for c, _ in parts), sum(c.shots for c, _ in parts),
                sum(seconds) if seconds else None, sum(c.price for c, _ in parts))
