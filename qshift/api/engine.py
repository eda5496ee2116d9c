"""The engine: a checked :class:`~qshift.api.request.Request` in, :class:`~qshift.Derivatives` out.

Plan, then run, then contract. The request's plan says which shifted circuits
are needed; its sampling strategy runs them through its executor (cache,
store, backend); the plan's contraction turns their values into the value,
gradient, Hessian and higher tensors. Nothing here checks arguments, opens a
store or prices the request again: :meth:`Request.of` did that once, which is
what lets :mod:`qshift.tf` call :func:`run` for every order of every call.
The one thing decided per run is the seed of a sampled request that keeps a
store: the store records it with the request (see :func:`run`).

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
from qshift.cost.sampling import Samples, Sampling
from qshift.execution.store import request_key

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


def _result(request: Request, samples: Samples) -> Derivatives:
    """The tensors (and standard errors) in the request's batch shape."""
    plan = request.plan
    tensors, variances = plan.contract(samples.values, samples.variances)
    head = request.batch + (request.circuit.n_outputs,)
    shape = {k: head + (len(plan.wrt),) * k for k in tensors}
    stderr = None if variances is None else {k: np.sqrt(np.maximum(v, 0)).reshape(shape[k])
                                             for k, v in variances.items()}
    store = request.executor.store
    return Derivatives({k: v.reshape(shape[k]) for k, v in tensors.items()}, stderr, samples.stats, plan,
                       samples.variances, samples.shots_per_point, store and str(store.path))
