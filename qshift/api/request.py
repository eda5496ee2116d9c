"""One derivative request, checked once: what to compute, where, and how to spend shots.

:func:`qshift.derivatives` gathers its keyword arguments in :class:`Arguments`
and :meth:`Request.of` turns them into a :class:`Request`, in this order: the
shots, the seed, ``max_cost`` and ``pilot_shots`` (their types and limits), ``resume``, the values, the rule family (``rule`` / ``target_stderr`` /
``allocation``; ``"min-cost"`` asks the device's prices), the plan (orders,
``wrt``, ``shift``), the executor and its store, the shots the device runs
with (:meth:`~qshift.Backend.resolve_shots`, the one place that decides
"exact or how many shots"), that ``resume=True`` has a store to replay from,
the ``max_cost`` guard and the sampling strategy
(:mod:`qshift.cost.sampling`). Nothing is run.

Sizes are limited before anything is allocated: shots at most
:data:`~qshift.backends.profiles.MAX_SHOTS`, orders at most
:data:`~qshift.planning.planner.MAX_ORDER` (fewer with more than one batch dimension: a
result has the batch axes, an output axis and one axis per order, and NumPy at most 64), and
every derivative tensor at most :data:`~qshift.planning.planner.MAX_TENSOR_ENTRIES` entries
(rows x outputs x ``n_wrt ** order``).

:func:`qshift.api.engine.run` then runs a request. A TensorFlow op
(:mod:`qshift.tf`) builds its request once and moves it to each call's values
and order with :meth:`Request.at`, so nothing above is checked or opened again.

Example:
    >>> import qshift
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> r = Request.of(c, [[0.1], [0.2]], Arguments(order=2, shots=100, seed=1))
    >>> r.plan.circuits, r.shots, type(r.sampling).__name__
    (8, 100, 'FixedShots')
    >>> r.at([0.3], (1,)).plan.circuits
    3
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from qshift._errors import DeviceError, RequestError
from qshift._seeding import check_seed
from qshift.cost.checks import check_max_cost, check_orders, check_pilot_shots, check_shots
from qshift.cost.estimate import check_cost
from qshift.cost.families import request_family
from qshift.cost.mitigation import mitigated
from qshift.cost.sampling import Exact, Sampling, base_strategy, sampling_for
from qshift.execution.cluster import as_executor, names_a_cluster
from qshift.ir.circuit import Circuit
from qshift.planning.planner import MAX_TENSOR_ENTRIES, NUMPY_MAX_DIMS, Plan, make_plan, wrt_names

__all__ = ["Arguments", "Request"]


@dataclass(frozen=True)
class Arguments:
    """The keyword arguments of :func:`qshift.derivatives`, as given (the same defaults)."""

    order: int = 1
    orders: tuple[int, ...] | None = None
    device: object = "local"
    shots: int | None = None
    seed: int | None = None
    shift: float | None = None
    rule: str = "standard"
    wrt: object = None
    executor: object = None
    progress: bool | None = None
    max_cost: float | None = None
    target_stderr: float | None = None
    allocation: str | None = None
    pilot_shots: int = 100
    store: object = None
    resume: bool | None = None
    method: str = "shift"
    mitigation: object = None


METHODS = ("shift", "adjoint")


@dataclass(frozen=True)
class Request:
    """A checked request: the circuit at rows of values, the plan, the executor and the sampling strategy.

    Attributes:
        circuit: the circuit.
        rows: the values as ``(rows, n_symbols)``.
        batch: the leading shape of the values (the result's batch dimensions).
        plan: what runs.
        executor: what runs it (an :class:`~qshift.Executor` or a Dask executor).
        shots: the shots per execution the device runs with (``None``: exact).
        sampling: how the shots are spent (:mod:`qshift.cost.sampling`).
        wrt, shift: as given, to plan again at other orders (:meth:`at`).
        resume: whether an unseeded sampled request replays a recorded one (``None``: only an
            interrupted one; see :func:`qshift.api.engine.run`).
        method: ``"shift"`` (every derivative by the shift rule: the circuits a QPU would run) or
            ``"adjoint"`` (exact simulators: gradients by the adjoint method, higher orders by the
            shift rule applied to adjoint gradients, or the shifted batch when that is cheaper).
    """

    circuit: Circuit
    rows: np.ndarray
    batch: tuple[int, ...]
    plan: Plan
    executor: object
    shots: int | None
    sampling: Sampling
    wrt: object = None
    shift: float | None = None
    resume: bool | None = None
    method: str = "shift"

    @classmethod
    def of(cls, circuit: Circuit, values, args: Arguments) -> "Request":
        """Check ``args`` for ``circuit`` at ``values`` and resolve the executor, the shots and the strategy."""
        shots = check_shots(args.shots)
        check_seed(args.seed)
        check_max_cost(args.max_cost)
        check_pilot_shots(args.pilot_shots)  # also when no target uses it: a bad value is a mistake either way
        _check_resume(args.resume)
        method = _check_method(args.method)
        rows, batch = circuit.check_values(values)
        orders = check_orders(args.order, args.orders)
        _check_result(circuit, orders, args.wrt, len(rows), batch)
        rule, optimal = _family(circuit, len(rows), args)
        the_plan = make_plan(circuit, orders, wrt=args.wrt, shift=args.shift, rows=len(rows), rule=rule)
        executor = _executor(args)
        _check_device_qubits(circuit, executor.backend)
        shots = executor.backend.resolve_shots(shots)
        if args.resume and shots is not None and executor.store is None:
            raise RequestError("resume=True replays a request from the store, and this one has none",
                               expected="a store", received="no evaluation store",
                               fix="pass store= the file the earlier run used (or leave resume out)")
        if method == "adjoint":
            _check_adjoint(executor, shots, args)
        sampling = mitigated(_sampling(shots, optimal, args), args.mitigation)  # parsed and checked here
        if method == "adjoint" and sampling is not base_strategy(sampling):
            raise RequestError("method='adjoint' is exact and noiseless, and mitigation corrects noisy devices",
                               expected="no mitigation with method='adjoint'",
                               received=f"mitigation={args.mitigation!r}", fix="leave mitigation= or method= out")
        check_cost(the_plan, circuit, executor.backend, shots, args.max_cost, sampling)
        return cls(circuit, rows, batch, the_plan, executor, shots, sampling, args.wrt, args.shift, args.resume,
                   method)

    @property
    def exact(self) -> bool:
        """``True`` when the request runs without shot noise."""
        return isinstance(base_strategy(self.sampling), Exact)

    def at(self, values, orders: tuple[int, ...]) -> "Request":
        """The same request at other ``values`` and ``orders``: only the values are checked and the plan remade."""
        rows, batch = self.circuit.check_values(values)
        _check_result(self.circuit, tuple(orders), self.wrt, len(rows), batch)
        the_plan = make_plan(self.circuit, tuple(orders), wrt=self.wrt, shift=self.shift, rows=len(rows),
                             rule=self.plan.rule)
        return replace(self, rows=rows, batch=batch, plan=the_plan)


def _check_result(circuit: Circuit, orders: tuple[int, ...], wrt, rows: int, batch: tuple[int, ...]) -> None:
    """Refuse a result NumPy cannot shape (too many axes) or too large to hold, before anything is planned."""
    _check_axes(circuit, orders, batch)
    _check_entries(circuit, orders, wrt, rows)


def _check_axes(circuit: Circuit, orders: tuple[int, ...], batch: tuple[int, ...]) -> None:
    most = NUMPY_MAX_DIMS - max(1, len(batch)) - 1  # the batch axes (one row axis at least) and the outputs
    for k in orders:
        if k > most:
            raise RequestError(f"an order-{k} result with {len(batch)} batch dimension(s) has more axes than NumPy "
                               "allows", expected=f"order <= {most} with values of shape {batch + (circuit.n_symbols,)} "
                               f"(NumPy arrays have at most {NUMPY_MAX_DIMS} axes: batch, output, one per order)",
                               received=f"order {k}", fix="flatten the batch dimensions of the values into one "
                                                          f"(values.reshape(-1, {circuit.n_symbols})), or lower the order")


def _check_entries(circuit: Circuit, orders: tuple[int, ...], wrt, rows: int) -> None:
    n_wrt = circuit.n_symbols if wrt is None else len(wrt_names(circuit, wrt))
    for k in orders:
        entries = rows * circuit.n_outputs * n_wrt ** k
        if entries > MAX_TENSOR_ENTRIES:
            raise RequestError(f"the order-{k} derivatives of {rows:,} rows would have {entries:,} entries",
                               expected=f"at most {MAX_TENSOR_ENTRIES:,} entries in one derivative tensor "
                                        "(rows x outputs x symbols**order)",
                               received=f"{rows:,} rows x {circuit.n_outputs} outputs x {n_wrt}**{k} = {entries:,}",
                               fix="split the rows into several requests, differentiate fewer symbols (wrt=[...]) "
                                   "or ask for lower orders (orders=(k,) computes only the orders named)")


def _check_device_qubits(circuit: Circuit, backend) -> None:
    """Refuse a circuit wider than the device's profile says it is (``max_qubits``), before anything runs."""
    profile = getattr(backend, "profile", None)
    most = getattr(profile, "max_qubits", None)
    if most is not None and circuit.n_qubits > most:
        raise DeviceError(f"circuit {circuit.name!r} needs {circuit.n_qubits} qubits and device {profile.name!r} "
                          f"has {most}", expected=f"at most {most} qubits (max_qubits of the profile)",
                          received=f"{circuit.n_qubits} qubits", fix="use fewer qubits, or a larger device")


def _family(circuit: Circuit, rows: int, args: Arguments) -> tuple[str, bool]:
    """(the planner's rule, allocate shots by weight?) of a request."""
    order_args = {"order": args.order, "rows": rows, "wrt": args.wrt, "shift": args.shift, "orders": args.orders}
    return request_family(circuit, args.rule, args.target_stderr, args.allocation, order_args, args.device,
                          args.pilot_shots)


def _check_method(method) -> str:
    if not isinstance(method, str) or method not in METHODS:
        raise RequestError("unknown differentiation method", expected="method='shift' (the default: the shift "
                           "rule, the circuits a QPU runs) or method='adjoint' (exact simulators only)",
                           received=f"method={method!r}", fix="pass method='shift' or method='adjoint'")
    return method


def _check_adjoint(executor, shots: int | None, args: Arguments) -> None:
    """Refuse ``method="adjoint"`` where it cannot run: with shots, on a device without it, with a shot rule."""
    backend = executor.backend
    fix = "leave method= out (the shift rule runs anywhere), or run exactly on device='local'"
    if shots is not None:
        raise RequestError("method='adjoint' differentiates exact statevectors, and this request samples shots",
                           expected="an exact run (shots=None on an exact simulator such as 'local')",
                           received=f"shots={shots} on device {backend.name!r}", fix=fix)
    if getattr(backend, "adjoint", None) is None or not callable(getattr(executor, "adjoint", None)):
        where = "a Dask cluster" if not callable(getattr(executor, "adjoint", None)) else f"device {backend.name!r}"
        raise RequestError(f"method='adjoint' is not available on {where}",
                           expected="the local statevector simulator in this process (device='local')",
                           received=where, fix=fix)
    if args.rule != "standard" or args.target_stderr is not None or args.allocation is not None:
        raise RequestError("method='adjoint' is exact and takes no shot rule",
                           expected="rule='standard', no target_stderr and no allocation",
                           received=f"rule={args.rule!r}, target_stderr={args.target_stderr!r}, "
                                    f"allocation={args.allocation!r}", fix="leave those arguments out")


def _check_resume(resume) -> None:
    if resume is not None and not isinstance(resume, bool):
        raise RequestError("resume must be True, False or None", expected="resume=True (replay the latest "
                           "recorded request), False (never) or None (only an interrupted one)",
                           received=repr(resume), fix="pass resume=True, resume=False, or leave it out")


def _executor(args: Arguments):
    """The request's executor: the one given, or a new one for ``device`` with the store asked for.

    An unseeded request with a store runs with a seed recorded in the store (the engine draws
    it), so the pilot and the top-ups of ``target_stderr`` are stored apart like any other draws.
    """
    if args.executor is not None and args.store is not None and not names_a_cluster(args.executor):
        raise RequestError("store= applies to the executor made for device= or for a Dask cluster, not to one "
                           "passed in", expected="store=None with executor=", received=f"store={args.store!r}",
                           fix="make the executor with it: "
                               "qshift.Executor(backend, store=qshift.EvaluationStore(path))")
    return as_executor(args.executor, args.device, progress=args.progress, store=args.store)


def _sampling(shots: int | None, optimal: bool, args: Arguments) -> Sampling:
    if args.target_stderr is None:
        return sampling_for(shots, args.seed, optimal=optimal)
    return sampling_for(shots, args.seed, optimal=optimal, target_stderr=args.target_stderr,
                        pilot_shots=check_pilot_shots(args.pilot_shots))
