"""Cost before running: ``qshift.estimate`` and the ``max_cost`` guard.

An estimate counts what a derivative request would send — distinct circuits
(the planner's points), executions (times the measurement groups on a
sampling device), provider calls, billed tasks and shots — and prices them
with the device profile's ``[price]`` (and ``[time]`` for time-billed
devices; see :mod:`qshift.cost.pricing` for how executions become billed
tasks). It does so for the planned request and for naive nesting (every order
differentiating the one below it, nothing shared), so the planner's saving
shows in money. Estimates ignore the evaluation cache: a run may cost less.

It takes the arguments of :func:`qshift.derivatives` that decide what runs —
``rule``, ``allocation``, ``target_stderr``, ``pilot_shots`` — and prices the
executor calls the run makes (the ``calls`` of its :mod:`~qshift.cost.sampling` strategy): fixed shots and
optimal allocation are what a run sends, exactly. A target standard error is
a pilot and then top-ups that depend on the spread the pilot measures; the
estimate prices them with the spread at its worst case, so its shots are an
*expected* figure, an upper bound of what a run tops up, and it says so
(:attr:`Estimate.expected`).

Example:
    >>> import qshift
    >>> e = qshift.estimate(qshift.hardware_efficient(8, 2), order=2, device="ionq-forte")
    >>> e.planned.circuits, e.naive.circuits, e.planned.tasks, e.planned.shots
    (2081, 4161, 21, 2081000)
    >>> round(e.planned.price, 2), round(e.naive.price, 2)
    (166486.3, 332892.6)
    >>> t = qshift.estimate(qshift.hardware_efficient(2, 1), order=1, device="ionq-forte", target_stderr=0.05)
    >>> t.expected, t.planned.circuits == qshift.plan(qshift.hardware_efficient(2, 1), order=1).circuits
    (True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qshift._display import estimate_html, text_table
from qshift._errors import CostLimitError
from qshift.backends.base import Backend
from qshift.backends.registry import resolve_profile
from qshift.cost.checks import check_max_cost, check_pilot_shots, check_rows, check_shots, plan_request
from qshift.cost.pricing import Cost, cost_of, cost_of_calls, money
from qshift.cost.families import executions_per_circuit, price_calls, request_family
from qshift.cost.mitigation import Mitigated, mitigated
from qshift.cost.sampling import Sampling, TargetError, base_strategy, sampling_for
from qshift.ir.circuit import Circuit
from qshift.planning.planner import Plan

__all__ = ["Cost", "CostLimitError", "Estimate", "cost_of", "estimate"]

_money = money


@dataclass(frozen=True)
class Estimate:
    """:func:`estimate`'s answer: the planned and the naive cost of one request on one device.

    Attributes:
        shots_per_execution: the shots of every execution (fixed shots), or their mean per circuit
            and measurement group, rounded up (optimal allocation; a target: pilot and top-ups
            together), or ``None`` (exact). The naive cost is priced with these shots per circuit.
        rule: the rule family priced (``"min-cost"`` resolved to the family it picks).
        allocation: ``"uniform"`` or ``"optimal"`` (shots by each circuit's weight).
        target_stderr, pilot_shots: the target and its pilot, when one is priced.
        expected: ``True`` when the shots (and the price) are an expected figure rather than what
            the run sends for sure: a target's top-ups, priced with the shot variance at its worst
            case (an upper bound of what a run tops up).
        mitigation: what is mitigated, in words (``None``: nothing); ``planned`` and ``naive`` then include it.
        unmitigated: the planned cost without mitigation (``None`` without mitigation).
        mitigation_costs: ``(name, extra cost)`` of each mitigation: ``"readout"`` (its two calibration
            circuits, unless a calibration of the last ``max_age`` seconds is reused) and ``"zne"``
            (every point again at each scale factor beyond the first).
    """

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
    rule: str = "standard"
    allocation: str = "uniform"
    target_stderr: float | None = None
    pilot_shots: int | None = None
    expected: bool = False
    mitigation: str | None = None
    unmitigated: Cost | None = None
    mitigation_costs: tuple[tuple[str, Cost], ...] = ()

    @property
    def saving(self) -> float:
        """Naive price minus planned price."""
        return self.naive.price - self.planned.price

    @property
    def shots_text(self) -> str:
        """How the shots are spent, in words (the head line of the text and HTML views)."""
        if self.target_stderr is not None:
            return (f"expected shots: a pilot of {self.pilot_shots:,} per execution, then top-ups to a standard "
                    f"error of {self.target_stderr:g} on every entry ({self.allocation} allocation, worst-case "
                    f"shot variance: an upper bound), about {self.shots_per_execution:,} per circuit and measurement group in all")
        if self.shots_per_execution is None:
            return "exact"
        if self.allocation == "optimal":
            return f"shots by weight (optimal allocation), about {self.shots_per_execution:,} per execution"
        return f"{self.shots_per_execution:,} shots per execution"

    def __str__(self) -> str:
        rule = "" if self.rule == "standard" else f", rule {self.rule}"
        head = (f"{self.circuit} orders {list(self.orders)} x {self.rows} row(s) on {self.device}{rule}: "
                f"{self.groups} measurement group(s), {self.shots_text}")
        costs = (("planned", self.planned), ("naive", self.naive))
        if self.unmitigated is not None:
            costs = (("unmitigated", self.unmitigated),) + tuple((f"+ {name}", c) for name, c in self.mitigation_costs) \
                + costs
            head += f"; mitigation: {self.mitigation}"
        cells = [[label, f"{c.circuits:,}", f"{c.executions:,}", f"{c.tasks:,}", f"{c.jobs:,}", f"{c.shots:,}",
                  _money(c.price, self.currency)] for label, c in costs]
        header = ["", "circuits", "executions", "tasks", "jobs", "shots", "price"]
        lines = [head, text_table([header] + cells, widths=(11, 10, 10, 6, 5, 12, 14))]  # columns widen to the numbers
        lines.append(f"planner saves {_money(self.saving, self.currency)}"
                     + (f" (prices read {self.prices_read} from {self.source})" if self.prices_read else " (no prices: free)"))
        if self.expected:
            lines.append("shots and price are expected figures (top-ups at the worst-case shot variance: "
                         "a run spends at most this many shots)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return estimate_html(self)


def estimate(circuit: Circuit, order: int = 1, *, device="local", shots: int | None = None, values=None,
             rows: int | None = None, wrt=None, shift: float | None = None, orders=None,
             rule: str = "standard", allocation: str | None = None, target_stderr: float | None = None,
             pilot_shots: int = 100, mitigation=None) -> Estimate:
    """Circuits, tasks, shots and price of ``qshift.derivatives(circuit, ..., order)`` on ``device``, unrun.

    Works for every profile, cloud targets included (nothing is sent, no credentials needed). It
    prices the plan :func:`qshift.derivatives` runs with the same arguments: the same circuits,
    and for fixed shots (uniform or optimal allocation) the same executions and shots.

    Args:
        circuit: the circuit.
        order: highest derivative order (or ``orders=`` for exactly which).
        device: a profile name or path, a profile, or a backend (priced only if built from a profile).
        shots: shots per execution (default: the device's; ``None`` on an exact device: exact).
        values: symbol values (only their number of rows matters), or ``rows=`` (a positive whole number).
        wrt, shift: as for :func:`qshift.derivatives`.
        rule: ``"standard"``, ``"min-circuits"``, or with ``target_stderr`` also ``"min-shots"`` and
            ``"min-cost"`` (the family the device's prices make cheapest), as for :func:`qshift.derivatives`.
        allocation: ``"uniform"`` or ``"optimal"``, as for :func:`qshift.derivatives`.
        target_stderr, pilot_shots: price a pilot of ``pilot_shots`` per circuit and the top-ups to
            this standard error, with the shot variance at its worst case (:attr:`Estimate.expected`).
            ``pilot_shots`` is checked even without a target.
        mitigation: ``"readout"``, ``"zne"``, both, or their options (:func:`~qshift.cost.mitigation.parse_mitigation`):
            the planned and naive costs include it, and :attr:`Estimate.unmitigated` and
            :attr:`Estimate.mitigation_costs` show what it adds.

    Example:
        >>> import qshift
        >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
        >>> e = qshift.estimate(c, order=2, device="local", shots=1000, allocation="optimal")
        >>> e.planned.circuits, e.allocation, e.expected
        (79, 'optimal', False)
    """
    shots = check_shots(shots)
    pilot = check_pilot_shots(pilot_shots)  # checked even when unused: a bad value is a mistake either way
    if values is not None:
        n_rows = circuit.check_values(values)[0].shape[0] or 1
    else:
        n_rows = 1 if rows is None else check_rows(rows)
    profile = resolve_profile(device)
    shots = _shots(shots, device, profile)
    pilot = pilot if target_stderr is not None else None
    order_args = {"order": order, "orders": orders, "wrt": wrt, "shift": shift, "rows": n_rows or 1}
    family, optimal = request_family(circuit, rule, target_stderr, allocation, order_args, device, pilot or 100)
    the_plan = plan_request(circuit, order, orders, rows=n_rows, wrt=wrt, shift=shift, rule=family)
    strategy = mitigated(sampling_for(shots, optimal=optimal, target_stderr=target_stderr, pilot_shots=pilot or 100),
                         mitigation)
    max_batch = device.max_batch if _is_backend(device) else None
    plain = price_calls(base_strategy(strategy), the_plan, circuit, profile, max_batch)
    planned = price_calls(strategy, the_plan, circuit, profile, max_batch)
    groups = executions_per_circuit(strategy, circuit)
    mean = math.ceil(plain.shots / (plain.circuits * groups)) if plain.shots else None
    naive = cost_of(the_plan.naive_circuits, profile, shots=mean, groups=groups, max_batch=max_batch)
    extra = _mitigation_costs(strategy, plain, the_plan, circuit, profile, max_batch)
    if extra:
        naive = cost_of_calls([(the_plan.naive_circuits * len(strategy.scale_factors), mean, True)]
                              + [(2, strategy.calibration_shots, True, 1)] * bool(strategy.mitigation.readout),
                              profile, groups=groups, max_batch=max_batch)
    price = profile.price if profile is not None else None
    return Estimate(profile.name if profile else getattr(device, "name", str(device)), circuit.name,
                    tuple(the_plan.orders), the_plan.rows, groups, mean, planned, naive,
                    price.currency if price else "USD", price.prices_read if price else None,
                    price.source if price else None, rule=_family_name(rule, family, optimal),
                    allocation="optimal" if optimal and mean else "uniform", target_stderr=target_stderr,
                    pilot_shots=pilot, expected=isinstance(strategy, TargetError),
                    mitigation=str(strategy.mitigation) if extra else None, unmitigated=plain if extra else None,
                    mitigation_costs=extra)


def _mitigation_costs(strategy, plain: Cost, the_plan: Plan, circuit: Circuit, profile,
                      max_batch: int | None) -> tuple[tuple[str, Cost], ...]:
    """What each mitigation of a :class:`~qshift.cost.mitigation.Mitigated` strategy adds to the plain plan."""
    if not isinstance(strategy, Mitigated):
        return ()
    out = []
    if strategy.mitigation.readout is not None:
        groups = executions_per_circuit(strategy, circuit)
        out.append(("readout", cost_of_calls([(2, strategy.calibration_shots, True, 1)], profile, groups=groups,
                                             max_batch=max_batch)))
    if strategy.mitigation.zne is not None:
        only_zne = Mitigated(strategy.inner, type(strategy.mitigation)(zne=strategy.mitigation.zne))
        full = price_calls(only_zne, the_plan, circuit, profile, max_batch)
        out.append(("zne", _minus(full, plain)))
    return tuple(out)


def _minus(a: Cost, b: Cost) -> Cost:
    seconds = None if a.seconds is None else a.seconds - (b.seconds or 0.0)
    return Cost(a.circuits - b.circuits, a.executions - b.executions, a.jobs - b.jobs, a.tasks - b.tasks,
                a.shots - b.shots, seconds, a.price - b.price)


def _is_backend(device) -> bool:
    return all(hasattr(device, attr) for attr in ("run", "name", "exact"))


def _shots(shots: int | None, device, profile) -> int | None:
    """The shots a request runs with there: its own, else the backend's default, else the profile's."""
    if shots is not None:
        return shots
    if _is_backend(device):
        return getattr(device, "default_shots", None)
    return profile.shots if profile is not None else None


def _family_name(rule: str, family: str, optimal: bool) -> str:
    """The family a request runs: ``min-cost`` becomes the one it picked."""
    if rule != "min-cost":
        return rule
    return "min-circuits" if family == "min-circuits" else ("min-shots" if optimal else "standard")


def _device_name(backend: Backend) -> str:
    """The device as the user named it: the profile's name (and the backend's, when it differs)."""
    profile = backend.profile
    if profile is None or profile.name == backend.name:
        return repr(backend.name)
    return f"{profile.name!r} (backend {backend.name!r})"


def check_cost(the_plan: Plan, circuit: Circuit, backend: Backend, shots: int | None,
               max_cost: float | None, sampling: Sampling | None = None) -> Cost | None:
    """Refuse a request whose planned price exceeds ``max_cost`` (raises :class:`CostLimitError`).

    The price is that of the calls ``sampling`` (the request's strategy) would make for
    ``the_plan`` on ``backend`` — what :func:`estimate` prices for the same arguments; without a
    strategy, ``shots`` on every circuit. The error names the device as the user did (its profile).
    ``max_cost`` must be a finite amount, 0 or more (:func:`~qshift.cost.checks.check_max_cost`), and a
    price that is not a number never passes.
    """
    max_cost = check_max_cost(max_cost)
    if max_cost is None:
        return None
    profile = backend.profile
    strategy = sampling if sampling is not None else sampling_for(shots)
    cost = price_calls(strategy, the_plan, circuit, profile, backend.max_batch)
    if not cost.price <= max_cost:  # written so that a NaN price is refused too
        currency = profile.price.currency if profile and profile.price else "USD"
        raise CostLimitError(
            f"the request would cost about {_money(cost.price, currency)} on {_device_name(backend)}, "
            "over max_cost",
            expected=f"at most {_money(max_cost, currency)}",
            received=f"{_money(cost.price, currency)} for {cost.circuits:,} circuits, {cost.executions:,} executions, "
                     f"{cost.tasks:,} task(s), {cost.shots:,} shots",
            fix="raise max_cost, lower shots or the order, differentiate fewer symbols (wrt=), or use a cheaper device")
    return cost
