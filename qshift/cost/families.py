"""Rule families for a target standard error: what each costs, which is cheapest, what a request runs.

A request with ``target_stderr`` (or ``allocation=``) runs one of these families:

* ``standard``: tensor-product stencils, the same shots on every point;
* ``min-shots``: the same points, shots allocated by weight (fewest shots);
* ``min-circuits``: the circuit-minimal Hessian, shots allocated by weight
  (fewest circuits, so fewest per-task fees, but larger coefficients);
* ``min-cost``: whichever of these the device profile's prices make cheapest.

Each family is priced the way :func:`qshift.estimate` prices a request and the
``max_cost`` guard checks one: the calls its sampling strategy would make
(:meth:`~qshift.cost.sampling.TargetError.calls`: a pilot of ``pilot_shots`` per circuit,
then the top-ups with the shot variance at its worst case) priced with the device profile
(:func:`price_calls`). So the family ``min-cost`` picks is the one whose estimate is
cheapest, and :func:`choices` shows exactly the figures ``estimate`` gives for each.

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

from dataclasses import dataclass

from qshift._errors import RequestError
from qshift.backends.registry import resolve_profile, splits_group_shots
from qshift.cost.checks import check_pilot_shots, check_target, plan_request
from qshift.cost.pricing import Cost, cost_of_calls
from qshift.cost.sampling import Exact, Sampling, TargetError, base_strategy
from qshift.ir.circuit import Circuit
from qshift.ir.grouping import n_groups, variance_bound
from qshift.planning.planner import Plan

__all__ = ["FAMILIES", "Choice", "cheapest", "choices", "price_calls", "request_family", "resolve_family"]

FAMILIES = (("standard", "standard", False), ("min-shots", "standard", True), ("min-circuits", "min-circuits", True))
"""(family, planner rule, optimal allocation?) of each family :func:`choices` compares."""


@dataclass(frozen=True)
class Choice:
    """One way to meet a target standard error: the rule, its circuits and (expected) shots, and the price."""

    rule: str
    circuits: int
    shots: int
    tasks: int
    price: float

    def row(self, currency: str) -> str:
        return f"{self.rule:14}{self.circuits:>10,}{self.shots:>14,}{self.tasks:>8,}{self.price:>16,.2f} {currency}"


def price_calls(strategy: Sampling, the_plan: Plan, circuit: Circuit, profile, max_batch: int | None) -> Cost:
    """What ``strategy`` sends for ``the_plan`` (its executor calls, unrun), priced with ``profile``."""
    calls = strategy.calls(the_plan, variance_bound(circuit, split=splits_group_shots(profile)))
    return cost_of_calls(calls, profile, groups=executions_per_circuit(strategy, circuit), max_batch=max_batch)


def executions_per_circuit(strategy: Sampling, circuit: Circuit) -> int:
    """Executions per circuit: the measurement groups when sampling, one when exact."""
    return 1 if isinstance(base_strategy(strategy), Exact) else n_groups(circuit)


def choices(circuit, order: int = 2, *, target_stderr: float, device="local", rows: int = 1, wrt=None,
            shift=None, orders=None, pilot_shots: int = 100, max_batch: int | None = None) -> list[Choice]:
    """Circuits, expected shots and price of each family for ``target_stderr`` on every entry.

    The figures are :func:`qshift.estimate`'s for the same request with that family: a pilot
    of ``pilot_shots`` per circuit and the top-ups at the worst-case shot variance (``sigma^2 =
    1`` for Pauli outputs), so a run, which measures ``sigma`` in its pilot, spends at most this.
    """
    check_target(target_stderr)
    pilot = check_pilot_shots(pilot_shots)
    profile = resolve_profile(device)
    out = []
    for family, rule, optimal in FAMILIES:
        p = plan_request(circuit, order, orders, rows=rows, wrt=wrt, shift=shift, rule=rule)
        cost = price_calls(TargetError(target_stderr, optimal, pilot), p, circuit, profile, max_batch)
        out.append(Choice(family, p.circuits, cost.shots, cost.tasks, cost.price))
    return out


def cheapest(table: list[Choice]) -> Choice:
    """The cheapest choice (then fewest shots, then fewest circuits)."""
    return min(table, key=lambda c: (c.price, c.shots, c.circuits))


def request_family(circuit, rule: str, target_stderr, allocation, order_args: dict, device,
                   pilot_shots: int = 100) -> tuple[str, bool]:
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
    return resolve_family(rule, target_stderr, allocation, circuit, order_args, device, pilot_shots)


def resolve_family(rule: str, target_stderr, allocation, circuit, order_args: dict, device,
                   pilot_shots: int = 100) -> tuple[str, bool]:
    """(planner rule, optimal allocation?) for a request; ``min-cost`` asks :func:`choices`."""
    if rule in ("min-shots", "min-cost") and target_stderr is None:
        raise RequestError(f"rule={rule!r} needs a target", expected="target_stderr=... with this rule",
                           received="target_stderr=None",
                           fix="pass target_stderr (e.g. 0.01), or use rule='standard' / 'min-circuits' with shots=")
    if target_stderr is not None:
        check_target(target_stderr)
    if allocation not in (None, "uniform", "optimal"):
        raise RequestError(f"unknown allocation {allocation!r}", expected="'uniform' or 'optimal'",
                           received=repr(allocation), fix="pass allocation='optimal' or 'uniform'")
    if rule == "min-cost":
        max_batch = getattr(device, "max_batch", None) if hasattr(device, "run") else None
        rule = cheapest(choices(circuit, target_stderr=target_stderr, device=device, pilot_shots=pilot_shots,
                                max_batch=max_batch, **order_args)).rule
    optimal = rule in ("min-shots", "min-circuits") if allocation is None else allocation == "optimal"
    return ("min-circuits" if rule == "min-circuits" else "standard"), optimal
