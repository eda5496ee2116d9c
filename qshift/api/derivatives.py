"""``qshift.derivatives`` and ``qshift.plan``: plan, then run, then contract.

The planner (:mod:`qshift.planning.planner`) says which shifted circuits are needed,
the executor (:mod:`qshift.execution.executor`) runs them through the cache and the
backend, and the plan's contraction turns their values into the value,
gradient, Hessian and higher tensors. None of the three knows about TensorFlow.

:func:`derivatives` checks its arguments once into a
:class:`~qshift.api.request.Request` and hands it to the engine
(:func:`qshift.api.engine.run`); see :mod:`qshift.api.request` for the order of the checks.
"""

from __future__ import annotations

from qshift.api.engine import run
from qshift.api.request import Arguments, Request
from qshift.api.result import Derivatives
from qshift.cost.checks import plan_request
from qshift.ir.circuit import Circuit
from qshift.planning.planner import Plan

__all__ = ["Derivatives", "derivatives", "plan"]


def plan(circuit: Circuit, order: int = 1, *, values=None, rows: int | None = None, wrt=None, shift=None,
         orders=None, rule: str = "standard") -> Plan:
    """What :func:`derivatives` would run, without running anything.

    Example:
        >>> import qshift
        >>> p = qshift.plan(qshift.hardware_efficient(10, 2), order=2)
        >>> p.circuits, p.naive_circuits
        (3241, 6481)
    """
    return plan_request(circuit, order, orders, values=values, rows=rows, wrt=wrt, shift=shift, rule=rule)


def derivatives(circuit: Circuit, values, order: int = 1, *, device="local", shots: int | None = None,
                seed: int | None = None, shift: float | None = None, rule: str = "standard", wrt=None,
                orders=None, executor=None, progress: bool | None = None,
                max_cost: float | None = None, target_stderr: float | None = None,
                allocation: str | None = None, pilot_shots: int = 100, store=None,
                resume: bool | None = None, method: str = "shift", mitigation=None) -> Derivatives:
    """Value and derivatives up to ``order`` of every output, by the parameter-shift rule.

    Args:
        circuit: the circuit.
        values: symbol values ``(..., n_symbols)``; leading dimensions are batch dimensions.
        order: highest derivative order (0 value, 1 Jacobian, 2 Hessian, any k up to
            :data:`~qshift.planning.planner.MAX_ORDER`; every tensor at most
            :data:`~qshift.planning.planner.MAX_TENSOR_ENTRIES` entries).
        device: a device profile name (``"local"``, ``"aer"``, ...; see
            ``qshift.available_devices()``), a path to a ``.toml`` profile, or a backend object.
        shots: shots per execution (``None``: the device profile's default; exact when it has none),
            at most :data:`~qshift.backends.profiles.MAX_SHOTS`.
        seed: makes shot sampling reproducible: a non-negative integer (not a ``Generator``) or ``None``.
        shift: the shift parameter ``s`` in ``(0, pi)`` (default ``pi/2``).
        rule: ``"standard"`` (merged tensor-product stencils) or ``"min-circuits"`` (the
            circuit-minimal Hessian: fewer circuits, larger coefficients, so more shot noise).
        wrt: symbol names to differentiate (default all; unused symbols get zero derivatives).
        orders: exactly which orders to compute, a sequence of whole numbers such as ``(2,)``
            (overrides ``order``). A bare int is refused, not guessed: ``orders=(5,)`` is the fifth
            order alone, ``order=5`` the orders 0 to 5.
        executor: run through this :class:`~qshift.execution.executor.Executor` (its cache and counters)
            instead of a fresh one for ``device``; or a ``dask.distributed.Client`` (or a
            scheduler address) to run the circuits on a Dask cluster (``qshift[dask]``).
        progress: a progress bar of the circuits run (``tqdm``; the notebook widget in Jupyter).
            ``None`` (default): on runs longer than about two seconds, when stderr is a terminal or
            in a Jupyter kernel; ``True``: at once; ``False``: never.
        max_cost: refuse to start (:class:`~qshift.CostLimitError`) when the estimated price of
            the planned circuits on ``device`` exceeds this (see :func:`qshift.estimate`): a finite
            amount, 0 or more (``None``: no limit).
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
        resume: what an unseeded request with shots does with the store. Each such request is
            recorded there with a seed of its own. ``None`` (default): resume only an *interrupted*
            request (the same circuit, device, shots and values whose run crashed or was stopped):
            it runs with its recorded seed, so finished circuits come from the store, tasks still
            running are re-attached and a crash never pays twice; a request that completed is
            **not** replayed: a repeat draws a fresh seed and new samples, because repeated
            experiments must be independent samples, not one sample copied. ``True``: replay the
            latest recorded request (its results come from the store; ``stats.from_store``).
            ``False``: always sample anew. A seeded request always runs with its seed (the same
            numbers, from the store when there); exact results have no seed.
        method: ``"shift"`` (default): every derivative by the shift rule, the circuits a QPU would
            run (``stats.circuits`` counts them). ``"adjoint"``: exact simulators only (``device=
            "local"``, no shots): the gradient by the adjoint method, one forward and one backward
            sweep per row and output whatever the number of symbols (``stats.forward_sweeps``,
            ``stats.backward_sweeps``); above order 1, the shift rule applied to adjoint gradients
            (a Hessian in ``2P + 1`` adjoint runs per row) or the shifted batch, whichever the
            simulator's cost model finds cheaper (``Derivatives.method`` says which ran). Pick it
            to train or explore on a simulator; keep the default to count, price or rehearse what
            hardware will run.
        mitigation: correct a noisy device's bias on every shifted point before the derivatives
            are formed (:mod:`qshift.cost.mitigation`): ``"readout"`` (per-qubit assignment
            calibration, two circuits reused for an hour; exact for the tensored model), ``"zne"``
            (zero-noise extrapolation by global unitary folding at scale factors 1, 3, 5, Richardson),
            both as ``("readout", "zne")``, or options such as ``{"zne": {"scale_factors": (1, 3),
            "extrapolation": "linear"}, "readout": {"shots": 4000, "max_age": 3600}}``. Standard errors
            include the extrapolation's amplification and the calibration's own shot noise;
            ``qshift.estimate(..., mitigation=...)`` prices the extra circuits. On IBM devices,
            ``"runtime"`` (or ``{"runtime": {"resilience_level": 2, ...}}``) sends the batch as
            EstimatorV2 jobs with IBM's own resilience options instead of mitigating here.

    Example:
        >>> import qshift, numpy as np
        >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
        >>> d = qshift.derivatives(c, [0.5], order=3)
        >>> np.allclose([d.value[0], d.jacobian[0, 0], d.hessian[0, 0, 0], d.derivative(3)[0, 0, 0, 0]],
        ...             [np.sin(0.5), np.cos(0.5), -np.sin(0.5), -np.cos(0.5)])
        True
        >>> d.stats.circuits, d.stats.jobs
        (4, 1)

        Repeats with shots and a store are independent samples; ``resume=True`` replays:

        >>> import os, tempfile
        >>> store = os.path.join(tempfile.mkdtemp(), "runs.sqlite")
        >>> a = qshift.derivatives(c, [0.5], shots=100, store=store)
        >>> b = qshift.derivatives(c, [0.5], shots=100, store=store)
        >>> again = qshift.derivatives(c, [0.5], shots=100, store=store, resume=True)
        >>> b.stats.from_store, again.stats.from_store, bool((again.jacobian == b.jacobian).all())
        (0, 3, True)

        The adjoint method (exact simulators): no circuits, one forward and one backward sweep:

        >>> a = qshift.derivatives(c, [0.5], method="adjoint")
        >>> bool(np.allclose(a.jacobian, np.cos(0.5))), a.stats.circuits, a.stats.forward_sweeps, a.method
        (True, 0, 1, 'adjoint')
    """
    args = Arguments(order=order, orders=orders, device=device, shots=shots, seed=seed, shift=shift, rule=rule,
                     wrt=wrt, executor=executor, progress=progress, max_cost=max_cost, target_stderr=target_stderr,
                     allocation=allocation, pilot_shots=pilot_shots, store=store, resume=resume,
                     method=method, mitigation=mitigation)
    return run(Request.of(circuit, values, args))
