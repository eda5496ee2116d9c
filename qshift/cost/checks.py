"""Checks of request arguments shared by the request API, the estimate and the shot rules.

:func:`qshift.derivatives`, :func:`qshift.plan`, :func:`qshift.estimate` and
:func:`~qshift.cost.families.choices` take the same ``order`` / ``orders`` /
``shots`` / ``target_stderr`` arguments; they are checked here, once, with the
same messages everywhere, and :func:`plan_request` makes the plan they describe.

Example:
    >>> check_orders(2, None)
    (0, 1, 2)
    >>> check_orders(5, (2,))
    (2,)
    >>> check_shots(None), check_shots(1000)
    (None, 1000)
"""

from __future__ import annotations

import numpy as np

from qshift._errors import RequestError
from qshift.ir.circuit import Circuit
from qshift.planning.planner import Plan, make_plan

__all__ = ["check_orders", "check_pilot_shots", "check_shots", "check_target", "plan_request"]


def check_orders(order, orders) -> tuple[int, ...]:
    """The orders a request computes: ``orders`` as given, else ``0 .. order``."""
    if orders is not None:
        return tuple(orders)
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool):
        raise RequestError("order must be an integer", expected="0, 1, 2, ...", received=repr(order),
                           fix="pass order=2 for value, gradient and Hessian")
    if order < 0:
        raise RequestError("derivative order must be a non-negative integer", expected="order >= 0",
                           received=repr(order), fix="pass order=0 (value), 1 (gradient), 2 (Hessian), ...")
    return tuple(range(order + 1))


def check_shots(shots) -> int | None:
    """Shots per execution: a positive integer, or ``None`` (the device's default)."""
    if shots is None:
        return None
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise RequestError("shots must be a positive integer or None", expected="e.g. shots=1000, or None (exact)",
                           received=repr(shots), fix="pass a positive integer")
    return int(shots)


def check_pilot_shots(pilot_shots) -> int:
    """Shots per circuit of a target's pilot run: a positive integer."""
    if isinstance(pilot_shots, bool) or not isinstance(pilot_shots, (int, np.integer)) or pilot_shots < 1:
        raise RequestError("pilot_shots must be a positive integer", expected="e.g. pilot_shots=100",
                           received=repr(pilot_shots), fix="pass the shots per circuit of the pilot run")
    return int(pilot_shots)


def check_target(target_stderr) -> float:
    """A target standard error: a positive number (below 10)."""
    if not isinstance(target_stderr, (int, float)) or isinstance(target_stderr, bool) or not 0 < target_stderr < 10:
        raise RequestError("target_stderr must be a positive number", expected="e.g. target_stderr=0.01",
                           received=repr(target_stderr), fix="pass the standard error each entry should reach")
    return float(target_stderr)


def plan_request(circuit: Circuit, order, orders, *, values=None, rows: int | None = None, wrt=None, shift=None,
                 rule: str = "standard") -> Plan:
    """The plan of a request: ``rows`` rows (or as many as ``values`` has; default one)."""
    if values is not None:
        rows = circuit.check_values(values)[0].shape[0]
    return make_plan(circuit, check_orders(order, orders), wrt=wrt, shift=shift, rows=rows or 1, rule=rule)
