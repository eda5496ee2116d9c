"""Checks of request arguments shared by the request API, the estimate and the shot rules.

:func:`qshift.derivatives`, :func:`qshift.plan`, :func:`qshift.estimate` and
:func:`~qshift.cost.families.choices` take the same ``order`` / ``orders`` /
``shots`` / ``target_stderr`` / ``max_cost`` / ``rows`` arguments; they are checked here, once, with the
same messages everywhere, and :func:`plan_request` makes the plan they describe.

Limits are put up front: shots (and pilot shots) at most
:data:`~qshift.backends.profiles.MAX_SHOTS` per execution; orders whole numbers up to
:data:`~qshift.planning.planner.MAX_ORDER`; ``max_cost`` a finite amount, 0 or more.

``orders`` is a sequence of whole numbers, such as ``(2,)`` or ``[0, 1]``. A bare int
(``orders=5``) is refused rather than guessed at: it could mean ``(5,)`` or ``order=5``
(``0..5``), and the message offers both.

Example:
    >>> check_orders(2, None)
    (0, 1, 2)
    >>> check_orders(5, (2,))
    (2,)
    >>> check_shots(None), check_shots(1000)
    (None, 1000)
"""

from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from qshift._errors import RequestError
from qshift.backends.profiles import MAX_SHOTS
from qshift.ir.circuit import Circuit
from qshift.planning.planner import MAX_ORDER, Plan, check_order, check_rows, make_plan

__all__ = ["check_max_cost", "check_orders", "check_pilot_shots", "check_rows", "check_shots", "check_target",
           "plan_request"]


def check_orders(order, orders) -> tuple[int, ...]:
    """The orders a request computes: ``orders`` as given (a sequence of whole numbers), else ``0 .. order``."""
    if orders is not None:
        return _orders(orders)
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool):
        raise RequestError("order must be an integer", expected="0, 1, 2, ...", received=repr(order),
                           fix="pass order=2 for value, gradient and Hessian")
    return tuple(range(check_order(order) + 1))


_MOST_ORDERS = 256  # entries of an orders= sequence (there are only MAX_ORDER + 1 distinct orders)


def _orders(orders) -> tuple[int, ...]:
    if isinstance(orders, numbers.Number) or isinstance(orders, np.ndarray) and orders.ndim == 0:
        raise RequestError("orders must be a sequence of orders", expected="e.g. orders=(2,) or orders=[0, 1]",
                           received=f"orders={orders!r}",
                           fix=f"pass orders=({orders!r},) for that order alone, or order={orders!r} for 0..{orders!r}")
    if isinstance(orders, (str, bytes)) or not hasattr(orders, "__iter__"):
        raise RequestError("orders must be a sequence of whole numbers", expected="e.g. orders=(2,) or orders=[0, 1]",
                           received=f"orders={orders!r} ({type(orders).__name__})",
                           fix="pass a tuple or list of ints, e.g. orders=(1, 2)")
    given = list(itertools.islice(iter(orders), _MOST_ORDERS + 1))  # never iterate a huge range
    if not given:
        raise RequestError("orders names no order", expected="at least one order, e.g. orders=(1,)",
                           received=f"orders={orders!r}", fix="pass orders=(1,), or leave orders out and pass order=")
    if len(given) > _MOST_ORDERS:
        raise RequestError("orders names too many orders", expected=f"orders in 0..{MAX_ORDER}, each once",
                           received=f"more than {_MOST_ORDERS} orders", fix="name each order you want once")
    try:
        return tuple(check_order(k.item() if isinstance(k, np.generic) else k) for k in given)
    except RequestError as err:
        raise RequestError(f"orders must be whole numbers from 0 to {MAX_ORDER}: {err.problem}",
                           expected=err.expected, received=f"orders={orders!r}", fix=err.fix) from None


def check_shots(shots) -> int | None:
    """Shots per execution: a positive integer up to ``MAX_SHOTS``, or ``None`` (the device's default)."""
    if shots is None:
        return None
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise RequestError("shots must be a positive integer or None", expected="e.g. shots=1000, or None (exact)",
                           received=repr(shots), fix="pass a positive integer")
    _check_shot_limit("shots", shots)
    return int(shots)


def _check_shot_limit(name: str, shots) -> None:
    if shots > MAX_SHOTS:
        raise RequestError(f"{name} is beyond the limit of shots per execution",
                           expected=f"{name} <= {MAX_SHOTS:,} (devices take about 10**5 to 10**6)",
                           received=f"{name}={shots}", fix=f"pass {name}={MAX_SHOTS:,} or fewer; for a smaller error, "
                                                            "average several requests or use target_stderr=")


def check_pilot_shots(pilot_shots) -> int:
    """Shots per circuit of a target's pilot run: a positive integer up to ``MAX_SHOTS``."""
    if isinstance(pilot_shots, bool) or not isinstance(pilot_shots, (int, np.integer)) or pilot_shots < 1:
        raise RequestError("pilot_shots must be a positive integer", expected="e.g. pilot_shots=100",
                           received=repr(pilot_shots), fix="pass the shots per circuit of the pilot run")
    _check_shot_limit("pilot_shots", pilot_shots)
    return int(pilot_shots)


def check_max_cost(max_cost) -> float | None:
    """A price limit: ``None`` (no limit) or a finite amount, 0 or more.

    ``nan`` would pass every comparison, so it is refused, as are infinities (``None`` is "no limit").

    Example:
        >>> check_max_cost(None), check_max_cost(20)
        (None, 20.0)
    """
    if max_cost is None:
        return None
    ok = isinstance(max_cost, numbers.Real) and not isinstance(max_cost, bool)
    if not ok or not math.isfinite(max_cost) or max_cost < 0:
        raise RequestError("max_cost must be an amount of money, 0 or more", expected="a finite number, e.g. "
                           "max_cost=20.0 (in the device's currency), or None for no limit",
                           received=f"max_cost={max_cost!r}", fix="pass a finite number >= 0, or leave max_cost out")
    return float(max_cost)


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
        rows = circuit.check_values(values)[0].shape[0] or 1
    elif rows is not None:
        rows = check_rows(rows)
    return make_plan(circuit, check_orders(order, orders), wrt=wrt, shift=shift, rows=rows or 1, rule=rule)
