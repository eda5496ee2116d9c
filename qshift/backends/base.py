"""The backend contract: what the core reads from a device, and what a device returns.

A backend is one class. It subclasses :class:`Backend`, sets the attributes that
differ from the defaults below and implements :meth:`Backend.run`; everything
else (caching, batching, counting, progress, the store, the cost guard) wraps it
by composition in :mod:`qshift.execution`. Such an object can be passed as
``device=`` at once. To name it in device profiles (``backend = "..."``), add one
line to :data:`qshift.backends.registry.FACTORIES`; the built-in backends take the
profile they are built from as the constructor keyword ``profile=``.

What the core reads, and nothing else:

=====================  ======================================================================
``name``               the device name shown to users and in errors
``exact``              the device can run without shot noise (a statevector simulator)
``max_batch``          most rows one :meth:`~Backend.run` call accepts (``None``: no limit)
``default_shots``      shots of a request that passes none (``None``: exact, when ``exact``)
``profile``            the :class:`~qshift.DeviceProfile` it was built from (prices, limits), or ``None``
``cloud``              it sends tasks to a provider (results are stored by default)
``cache_key``          what identifies its results in caches and the store (default ``name``)
``rows_per_chunk``     how many rows fit in memory at once (``None``: no hint)
``iter_run``           stream rows as provider tasks finish, recording tasks in a ledger
``adjoint``            optional: values and gradients by the adjoint method (``None``: the device
                       cannot; see :meth:`qshift.backends.local.LocalSimulator.adjoint`)
=====================  ======================================================================

:meth:`Backend.resolve_shots` decides whether a request runs exactly or with how
many shots: the request's own, else ``default_shots``; ``None`` (exact) only on a
device that is ``exact``. The executor never sends a backend zero rows, so
:meth:`Backend.run` always gets at least one.

Example: a new backend in a few lines.

    >>> import numpy as np, qshift
    >>> from qshift.backends.base import Backend, RunResult
    >>> class AllZero(Backend):
    ...     name = "all-zero"
    ...     def run(self, circuit, angles, *, shots=None, seed=None):
    ...         return RunResult(np.zeros((len(angles), circuit.n_outputs)), executions=len(angles))
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> qshift.derivatives(c, [0.3], device=AllZero()).jacobian
    array([[0.]])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from qshift._errors import RequestError
from qshift.backends.profiles import DeviceProfile
from qshift.ir.circuit import Circuit

__all__ = ["Backend", "NoLedger", "RunResult", "TaskEntry", "TaskLedger", "as_backend"]


@dataclass(frozen=True)
class RunResult:
    """What one :meth:`Backend.run` call returns.

    Attributes:
        values: expectation values, ``(B, n_out)``.
        variances: per-shot variances ``(B, n_out)`` when sampling (the standard error of a
            value is ``sqrt(variance / shots)``); ``None`` for exact results.
        executions: circuit runs the provider performed (one per row, or one per
            measurement group and row on sampling hardware).
        jobs: provider calls made.
    """

    values: np.ndarray
    variances: np.ndarray | None = None
    executions: int = 0
    jobs: int = 1


class Backend:
    """A device that evaluates a circuit at many rows of slot angles; subclass it and implement :meth:`run`.

    Attributes:
        name: the device name, used in messages and (by default) in cache keys.
        exact: ``True`` when the device can return results without shot noise.
        max_batch: most rows one :meth:`run` call accepts, or ``None`` for no limit.
        default_shots: shots used when a request passes none; ``None`` runs exactly.
        profile: the device profile the backend was built from, or ``None`` (the built-in
            backends take it as the constructor keyword ``profile=``).
        cloud: ``True`` when runs send tasks to a provider (kept in the store by default).
    """

    name: str = "backend"
    exact: bool = True
    max_batch: int | None = None
    default_shots: int | None = None
    profile: DeviceProfile | None = None
    cloud: bool = False
    adjoint = None  # a device that differentiates by the adjoint method defines adjoint(circuit, angles, upstream)

    @property
    def cache_key(self) -> str:
        """What identifies this device's results in caches and the store (the name unless set)."""
        return self.__dict__.get("_cache_key") or self.name

    @cache_key.setter
    def cache_key(self, value: str) -> None:
        self._cache_key = value

    def rows_per_chunk(self, n_qubits: int) -> int | None:
        """Rows of an ``n_qubits`` circuit that fit in memory at once (``None``: no hint)."""
        return None

    def resolve_shots(self, shots: int | None) -> int | None:
        """The shots a request runs with here: its own, else the device default; ``None`` means exact.

        Raises:
            RequestError: the request asks for an exact run on a device that cannot give one.
        """
        shots = self.default_shots if shots is None else shots
        if shots is None and not self.exact:
            raise RequestError(f"device {self.name!r} cannot run exactly", expected="shots=N for this device",
                               received="shots=None", fix="pass shots=1000, say")
        return shots

    def run(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None = None,
            seed: int | None = None) -> RunResult:
        """Evaluate ``circuit`` at slot angles ``angles`` ``(B, n_slots)``, ``B >= 1``: values ``(B, n_out)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement run()")

    def iter_run(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None = None, seed: int | None = None,
                 ledger: TaskLedger | None = None) -> Iterator[tuple[np.ndarray, RunResult]]:
        """Yield ``(rows, result)`` pieces as they finish; a device that sends tasks records them in ``ledger``.

        The default runs the whole batch with :meth:`run` and yields it as one piece.
        """
        yield np.arange(len(angles)), self.run(circuit, angles, shots=shots, seed=seed)


class _Foreign(Backend):
    """A backend object that does not subclass :class:`Backend` (anything with ``run``, ``name``, ``exact``).

    It reads the contract's attributes from the object where it has them, the defaults
    otherwise, and forwards every call.
    """

    def __init__(self, device):
        self.device = device
        self.name, self.exact = device.name, device.exact
        for attr in ("max_batch", "default_shots", "profile", "cloud"):
            setattr(self, attr, getattr(device, attr, getattr(Backend, attr)))

    @property
    def cache_key(self) -> str:
        return getattr(self.device, "cache_key", self.name)

    def rows_per_chunk(self, n_qubits: int) -> int | None:
        hint = getattr(self.device, "rows_per_chunk", None)
        return hint(n_qubits) if hint else None

    def run(self, circuit, angles, *, shots=None, seed=None) -> RunResult:
        return self.device.run(circuit, angles, shots=shots, seed=seed)

    def iter_run(self, circuit, angles, *, shots=None, seed=None, ledger=None):
        stream = getattr(self.device, "iter_run", None)
        if stream is None:
            return super().iter_run(circuit, angles, shots=shots, seed=seed)
        return stream(circuit, angles, shots=shots, seed=seed, ledger=ledger)

    def __getattr__(self, name):  # anything else the object offers (its own methods, options)
        if name == "device":
            raise AttributeError(name)
        return getattr(self.device, name)

    def __repr__(self) -> str:
        return repr(self.device)


def as_backend(device) -> Backend:
    """``device`` as a :class:`Backend`: itself when it subclasses it, else wrapped to read the contract."""
    return device if isinstance(device, Backend) else _Foreign(device)


@dataclass(frozen=True)
class TaskEntry:
    """What a ledger knows of the task that computes one part of one row.

    Attributes:
        task_id: the provider's task id (ARN); ``None`` while the create call had not answered.
        token: the idempotency token of the create call (resending it cannot make a second task).
        position: ``(program, executable)`` of this part within a program-set task's result.
        status: ``creating``, ``submitted``, ``COMPLETED``, ``FAILED``, ``CANCELLED``.
        attempt: how many tasks have been created for this part (1 for the first).
        group_size: how many parts the ledger records under the same token.
    """

    task_id: str | None
    token: str
    position: tuple[int, int] | None
    status: str
    attempt: int
    group_size: int = 1


class TaskLedger(Protocol):
    """Where a backend that sends provider tasks records them, so a rerun after a crash re-attaches.

    Parts are keyed by ``(row index, part)``: the row of the ``angles`` passed along, and ``-1``
    for a task computing every output or a measurement-group index. The execution layer's
    :class:`~qshift.execution.store.Ledger` keeps them in the evaluation store.

    Attributes:
        records: ``False`` when nothing is kept (no store): unfinished tasks cannot be collected later.
        reattached: rows the backend collected from tasks an earlier run created (it adds to this).
    """

    records: bool
    reattached: int

    def find(self, angles: np.ndarray, parts: Sequence[tuple[int, int]]) -> dict[tuple[int, int], TaskEntry]:
        """Recorded tasks of ``parts``."""

    def creating(self, token: str, angles: np.ndarray, parts: Sequence[tuple[int, int, tuple[int, int] | None]],
                 attempt: int) -> str:
        """Before a create call: record ``token`` for ``parts``; returns the token to send."""

    def submitted(self, token: str, task_id: str) -> None:
        """After a create call: the provider's task id for ``token``."""

    def ended(self, task_id: str, status: str, reason: str | None = None) -> None:
        """A task's final status."""


class NoLedger:
    """A :class:`TaskLedger` that records nothing: every part is new."""

    records = False

    def __init__(self):
        self.reattached = 0

    def find(self, angles, parts) -> dict:
        return {}

    def creating(self, token, angles, parts, attempt) -> str:
        return token

    def submitted(self, token, task_id) -> None:
        pass

    def ended(self, task_id, status, reason=None) -> None:
        pass
