"""The engine: a checked :class:`~qshift.api.request.Request` in, :class:`~qshift.Derivatives` out.

Plan, then run, then contract. The request's plan says which shifted circuits
are needed; its sampling strategy runs them through its executor (cache,
store, backend); the plan's contraction turns their values into the value,
gradient, Hessian and higher tensors. Nothing here checks arguments, opens a
store or prices the request again: :meth:`Request.of` did that once, which is
what lets :mod:`qshift.tf` call :func:`run` for every order of every call.
The one thing decided per run is the seed of a sampled request that keeps a
store: the store records it with the request (see :func:`run`).

``method="adjoint"`` (exact simulators). Orders 0 and 1 come from one adjoint run
at the rows (the Jacobian: one backward sweep per output). Above order 1, the
order-``k`` tensor is the shift rule of order ``k - 1`` applied to the adjoint
Jacobian, one level up the same recursion as the TensorFlow op's: the planner
plans order ``k - 1``, the adjoint method evaluates value and Jacobian at every
planned point (``2P + 1`` points per row for a Hessian of two-term gates instead
of ``2P^2 + P + 1`` circuits), and the plan's contraction treats every
(output, slot) entry of the Jacobian as one more output. The device's cost
model (:meth:`~qshift.backends.local.LocalSimulator.run_cost` against
:meth:`~qshift.backends.local.LocalSimulator.adjoint_cost`, in full-size kernel
applications) picks that or the plain shifted batch, and
:attr:`~qshift.Derivatives.method` says which ran.

Example:
    >>> import qshift
    >>> from qshift.api.request import Arguments, Request
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> d = run(Request.of(c, [0.5], Arguments(order=1)))
    >>> d.stats.circuits, round(float(d.jacobian[0, 0]), 6)
    (3, 0.877583)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from qshift.api.request import Request
from qshift.api.result import Derivatives
from qshift.cost.sampling import Samples, Sampling, contract
from qshift.execution.store import request_key
from qshift.planning.planner import Plan, make_plan

__all__ = ["run"]


def run(request: Request) -> Derivatives:
    """Evaluate the request's points with its sampling strategy and contract them into tensors.

    A sampled request whose executor keeps a store is recorded there with its seed while it
    runs (:meth:`~qshift.EvaluationStore.request`). Unseeded, it runs with the seed of the same
    request when that one was interrupted (a rerun after a crash resumes: nothing is paid
    twice), and otherwise with a fresh seed (a repeat is a new, independent sample);
    ``request.resume=True`` replays the latest recorded one from the store instead.
    """
    circuit, plan = request.circuit, request.plan
    if request.method == "adjoint":
        adjoint = _adjoint_plan(request)
        if adjoint is not None:
            return _run_adjoint(request, *adjoint)
    points = plan.points(circuit.slot_angles(request.rows))
    with _recorded(request, points) as sampling:
        samples = sampling.run(request.executor, circuit, plan, points)
    return _result(request, samples)


@contextmanager
def _recorded(request: Request, points: np.ndarray) -> Iterator[Sampling]:
    """The request's strategy, with the seed it runs with (recorded in the store while it runs)."""
    store, sampling = request.executor.store, request.sampling
    if store is None or request.exact or not hasattr(sampling, "seed"):
        yield sampling
        return
    backend = request.executor.backend
    key = request_key(request.circuit.fingerprint, backend.cache_key, request.shots, points, sampling)
    with store.request(key, backend.cache_key, sampling.seed, resume=request.resume) as seed:
        yield replace(sampling, seed=seed)


def _adjoint_plan(request: Request) -> tuple[Plan, np.ndarray, bool] | None:
    """The plan of the adjoint gradients (one order lower), the slot angles they run at, and whether
    those are the rows themselves (orders 0 and 1: one adjoint run at the rows); ``None`` when the
    plain run costs the device less: a value alone is one circuit per row, and above order 1 the
    cost model decides."""
    orders, circuit = request.plan.orders, request.circuit
    if max(orders) == 0:  # a value is one circuit per row
        return None
    inner = tuple(sorted({max(k - 1, 0) for k in orders}))
    plan = make_plan(circuit, inner, wrt=request.wrt, shift=request.shift, rows=len(request.rows))
    base = circuit.slot_angles(request.rows)
    if max(orders) <= 1:
        return plan, base, True
    backend, points = request.executor.backend, plan.points(base)
    adjoint_cost = backend.adjoint_cost(circuit, len(points), len(points) * circuit.n_outputs)
    return (plan, points, False) if adjoint_cost <= backend.run_cost(circuit, request.plan.points(base)) else None


def _run_adjoint(request: Request, plan: Plan, points: np.ndarray, at_rows: bool) -> Derivatives:
    """Value and derivatives from adjoint Jacobians at ``points``, the rows or the points of ``plan``
    (see the module notes)."""
    circuit, executor = request.circuit, request.executor
    before = executor.stats.copy()
    result = executor.adjoint(circuit, points)
    n_out, rows = circuit.n_outputs, len(request.rows)
    outputs = np.concatenate([result.values, result.gradients.reshape(len(points), n_out * circuit.n_slots)], axis=1)
    inner = {0: outputs} if at_rows else plan.contract(outputs)[0]  # every Jacobian entry is one output
    slot_to_wrt = circuit.slot_jacobian[:, list(plan.wrt)]  # d angle / d symbol, on the wrt axis
    tensors = {}
    for k in request.plan.orders:
        t = inner[max(k - 1, 0)]
        if k == 0:
            tensors[0] = t[:, :n_out]
            continue
        lower = t[:, n_out:].reshape((rows, n_out, circuit.n_slots) + t.shape[2:])
        tensors[k] = np.moveaxis(np.tensordot(lower, slot_to_wrt, axes=([2], [0])), -1, 2)
    head = request.batch + (n_out,)
    tensors = {k: v.reshape(head + (len(plan.wrt),) * k) for k, v in tensors.items()}
    return Derivatives(tensors, None, executor.stats - before, plan, method="adjoint" if at_rows else "adjoint+shift")


def _result(request: Request, samples: Samples) -> Derivatives:
    """The tensors (and standard errors) in the request's batch shape."""
    plan = request.plan
    tensors, variances = contract(plan, samples)  # with the errors every point shares (a calibration's)
    head = request.batch + (request.circuit.n_outputs,)
    shape = {k: head + (len(plan.wrt),) * k for k in tensors}
    stderr = None if variances is None else {k: np.sqrt(np.maximum(v, 0)).reshape(shape[k])
                                             for k, v in variances.items()}
    store = request.executor.store
    return Derivatives({k: v.reshape(shape[k]) for k, v in tensors.items()}, stderr, samples.stats, plan,
                       samples.variances, samples.shots_per_point, store and str(store.path))
