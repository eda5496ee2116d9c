"""``qshift.derivatives`` and ``qshift.plan``: plan, then run, then contract.

The planner (:mod:`qshift.planning.planner`) says which shifted circuits are needed,
the executor (:mod:`qshift.execution.executor`) runs them through the cache and the
backend, and the plan's contraction turns their values into the value,
gradient, Hessian and higher tensors. None of the three knows about TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qshift.ir.circuit import Circuit
from qshift.execution.cluster import as_executor
from qshift.backends.registry import resolve_device
from qshift._errors import RequestError
from qshift.cost.estimate import check_cost
from qshift.execution.executor import Executor, Stats
from qshift.planning.planner import Plan, make_plan
from qshift.execution.store import open_store

__all__ = ["Derivatives", "derivatives", "plan"]


@dataclass(frozen=True)
class Derivatives:
    """The result of :func:`derivatives`.

    Attributes:
        tensors: ``{order: array}``; order ``k`` has shape ``batch + (n_out,) + (n_wrt,) * k``.
        stderr: the same shapes, standard errors from shot noise (``None`` for exact devices).
        stats: what this request executed (circuits, jobs, executions, shots, cache hits; with a
            store, points from the store, re-attached and submitted).
        plan: the plan that was run.
        store: the evaluation store's file, when one was used.
    """

    tensors: dict[int, np.ndarray]
    stderr: dict[int, np.ndarray] | None
    stats: Stats
    plan: Plan = field(repr=False)
    point_variances: np.ndarray | None = field(default=None, repr=False)
    shots_per_point: np.ndarray | None = field(default=None, repr=False)
    store: str | None = field(default=None, repr=False)

    def derivative(self, k: int) -> np.ndarray:
        """The order-``k`` tensor: ``batch + (n_out,) + (n_symbols,) * k``."""
        if k not in self.tensors:
            raise RequestError(f"order {k} was not computed", expected=f"one of {sorted(self.tensors)}",
                               received=repr(k), fix=f"request it: qshift.derivatives(..., order={k})")
        return self.tensors[k]

    def standard_error(self, k: int) -> np.ndarray:
        """Standard errors of the order-``k`` tensor (shot noise; zeros would mean exact)."""
        if self.stderr is None:
            raise RequestError("this result is exact: it has no standard errors", expected="a request with shots",
                               received="shots=None", fix="pass shots=N to estimate from samples")
        self.derivative(k)
        return self.stderr[k]

    def covariance(self, k: int, *, output: int = 0, row: int = 0) -> np.ndarray:
        """Covariance of the order-``k`` entries of one output and row, ``(n^k, n^k)`` (flattened).

        Points shared between entries correlate their errors: the unshifted circuit enters every
        diagonal Hessian entry, so the diagonal moves together.
        """
        self.standard_error(k)
        m = next(m for m in self.plan.maps if m.order == k)
        per_row = self.plan.points_per_row
        var = self.point_variances[row * per_row:(row + 1) * per_row, output]
        dense = np.zeros((len(m.entries), per_row))
        np.add.at(dense, (m.entry_index, m.point_index), m.coefficients)
        unique = (dense * var) @ dense.T
        from qshift.planning.planner import _symmetric_index

        index = _symmetric_index(len(self.plan.wrt), k)
        return unique[np.ix_(index, index)]

    @property
    def value(self) -> np.ndarray:
        return self.derivative(0)

    @property
    def jacobian(self) -> np.ndarray:
        return self.derivative(1)

    @property
    def hessian(self) -> np.ndarray:
        return self.derivative(2)

    def __repr__(self) -> str:
        shapes = ", ".join(f"order {k}: {v.shape}" for k, v in sorted(self.tensors.items()))
        return f"Derivatives({shapes}; {self.stats.circuits} circuits, {self.stats.jobs} job(s))"

    def _repr_html_(self) -> str:
        from qshift._display import derivatives_html

        return derivatives_html(self)


def _orders(order, orders) -> tuple[int, ...]:
    if orders is not None:
        return tuple(orders)
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool):
        raise RequestError("order must be an integer", expected="0, 1, 2, ...", received=repr(order),
                           fix="pass order=2 for value, gradient and Hessian")
    if order < 0:
        raise RequestError("derivative order must be a non-negative integer", expected="order >= 0",
                           received=repr(order), fix="pass order=0 (value), 1 (gradient), 2 (Hessian), ...")
    return tuple(range(order + 1))


def _check_shots(shots) -> int | None:
    if shots is None:
        return None
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise RequestError("shots must be a positive integer or None", expected="e.g. shots=1000, or None (exact)",
                           received=repr(shots), fix="pass a positive integer")
    return int(shots)


def plan(circuit: Circuit, order: int = 1, *, values=None, rows: int | None = None, wrt=None, shift=None,
         orders=None, rule: str = "standard") -> Plan:
    """What :func:`derivatives` would run, without running anything.

    Example:
        >>> import qshift
        >>> p = qshift.plan(qshift.hardware_efficient(10, 2), order=2)
        >>> p.circuits, p.naive_circuits
        (3241, 6481)
    """
    if values is not None:
        rows = circuit.check_values(values)[0].shape[0]
    return make_plan(circuit, _orders(order, orders), wrt=wrt, shift=shift, rows=rows or 1, rule=rule)


def derivatives(circuit: Circuit, values, order: int = 1, *, device="local", shots: int | None = None,
                seed: int | None = None, shift: float | None = None, rule: str = "standard", wrt=None,
                orders=None, executor=None, progress: bool | None = None,
                max_cost: float | None = None, target_stderr: float | None = None,
                allocation: str | None = None, pilot_shots: int = 100, store=None) -> Derivatives:
    """Value and derivatives up to ``order`` of every output, by the parameter-shift rule.

    Args:
        circuit: the circuit.
        values: symbol values ``(..., n_symbols)``; leading dimensions are batch dimensions.
        order: highest derivative order (0 value, 1 Jacobian, 2 Hessian, any k).
        device: a device profile name (``"local"``, ``"aer"``, ...; see
            ``qshift.available_devices()``), a path to a ``.toml`` profile, or a backend object.
        shots: shots per execution (``None``: the device profile's default; exact when it has none).
        seed: makes shot sampling reproducible.
        shift: the shift parameter ``s`` in ``(0, pi)`` (default ``pi/2``).
        rule: ``"standard"`` (merged tensor-product stencils) or ``"min-circuits"`` (the
            circuit-minimal Hessian: fewer circuits, larger coefficients, so more shot noise).
        wrt: symbol names to differentiate (default all; unused symbols get zero derivatives).
        orders: exactly which orders to compute, e.g. ``(2,)`` (overrides ``order``).
        executor: run through this :class:`~qshift.execution.executor.Executor` (its cache and counters)
            instead of a fresh one for ``device``; or a ``dask.distributed.Client`` (or a
            scheduler address) to run the circuits on a Dask cluster (``qshift[dask]``).
        progress: show a progress bar on long runs (default: when stderr is a terminal).
        max_cost: refuse to start (:class:`~qshift.CostLimitError`) when the estimated price of
            the planned circuits on ``device`` exceeds this (see :func:`qshift.estimate`).
        target_stderr: sample until every entry's standard error is about this: a pilot of
            ``pilot_shots`` per circuit measures each circuit's spread, then each circuit is topped up
            to its share (see :mod:`qshift.cost.shots`). ``rule`` may then also be ``"min-shots"`` (same
            circuits, shots by weight) or ``"min-cost"`` (the cheapest family on the device).
        allocation: ``"uniform"`` (the same shots everywhere) or ``"optimal"`` (shots by each
            circuit's weight in the result; with ``shots=N`` the total stays ``N`` per circuit).
        store: a persistent :class:`~qshift.EvaluationStore` of results and submitted tasks, so that
            a rerun after a crash pays only for what never ran: ``None`` (default) the user cache
            file for cloud and shot-based devices and none for exact simulators, ``False`` none,
            ``True`` the user cache file, or a path (see :mod:`qshift.execution.store`). ``stats`` then says
            how many points came from the store, were re-attached or were submitted.

    Example:
        >>> import qshift, numpy as np
        >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
        >>> d = qshift.derivatives(c, [0.5], order=3)
        >>> np.allclose([d.value[0], d.jacobian[0, 0], d.hessian[0, 0, 0], d.derivative(3)[0, 0, 0, 0]],
        ...             [np.sin(0.5), np.cos(0.5), -np.sin(0.5), -np.cos(0.5)])
        True
        >>> d.stats.circuits, d.stats.jobs
        (4, 1)
    """
    from qshift.cost.shots import resolve_family, run_allocated, run_to_target

    shots = _check_shots(shots)
    rows, batch = circuit.check_values(values)
    order_args = {"order": order, "rows": len(rows), "wrt": wrt, "shift": shift, "orders": orders}
    planner_rule, optimal = resolve_family(rule, target_stderr, allocation, circuit, order_args, device) \
        if rule in ("min-shots", "min-cost") or target_stderr is not None or allocation is not None else (rule, False)
    the_plan = make_plan(circuit, _orders(order, orders), wrt=wrt, shift=shift, rows=len(rows), rule=planner_rule)
    if target_stderr is not None and seed is None and store is None:
        store = False  # the pilot and the top-up of a point are separate draws: keep them out of the store
    executor = _executor(executor, device, progress, store, draws_apart=target_stderr is not None and seed is None)
    backend = getattr(executor, "backend", None)
    if shots is None:
        shots = getattr(backend, "default_shots", None)
    check_cost(the_plan, circuit, backend, shots, max_cost)
    points = the_plan.points(circuit.slot_angles(rows))
    per_point = None
    if target_stderr is not None:
        point_values, point_var, per_point, stats = run_to_target(
            executor, circuit, the_plan, points, target_stderr=target_stderr, optimal=optimal,
            pilot_shots=pilot_shots, seed=seed)
    elif optimal and shots:
        point_values, point_var, per_point, stats = run_allocated(executor, circuit, the_plan, points,
                                                                  shots=shots, seed=seed)
    else:
        point_values, point_var, stats = executor.evaluate(circuit, points, shots=shots, seed=seed)
        if point_var is not None:
            point_var = point_var / shots if shots else point_var
    tensors, variances = the_plan.contract(point_values, point_var)
    shape = lambda k: batch + (circuit.n_outputs,) + (len(the_plan.wrt),) * k
    tensors = {k: v.reshape(shape(k)) for k, v in tensors.items()}
    stderr = None if variances is None else {k: np.sqrt(np.maximum(v, 0)).reshape(shape(k)) for k, v in variances.items()}
    used = getattr(executor, "store", None)
    return Derivatives(tensors, stderr, stats, the_plan, point_var, per_point, used and str(used.path))


def _executor(executor, device, progress, store, *, draws_apart: bool):
    """The request's executor: the one given, or a new one for ``device`` with the store asked for."""
    if executor is not None:
        if store is not None:
            raise RequestError("store= applies to the executor made for device=, not to one passed in",
                               expected="store=None with executor=", received=f"store={store!r}",
                               fix="make the executor with it: "
                                   "qshift.Executor(backend, store=qshift.EvaluationStore(path))")
        return as_executor(executor, device, progress=progress)
    backend = resolve_device(device)
    opened = open_store(store, backend)
    if opened is not None and draws_apart:
        raise RequestError("target_stderr with a store needs a seed", expected="seed=N",
                           received="seed=None", fix="pass seed= (the pilot and top-up samples are then stored apart), "
                                                     "or store=False")
    return Executor(backend, progress=progress, store=opened)
