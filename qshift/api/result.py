"""The answer of :func:`qshift.derivatives`: the tensors, their standard errors, and what ran.

Example:
    >>> import qshift
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> qshift.derivatives(c, [0.5], order=2)
    Derivatives(order 0: (1,), order 1: (1, 1), order 2: (1, 1, 1); 4 circuits, 1 job(s))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qshift._display import derivatives_html
from qshift._errors import RequestError
from qshift.execution.executor import Stats
from qshift.planning.planner import Plan, _symmetric_index

__all__ = ["Derivatives"]


@dataclass(frozen=True)
class Derivatives:
    """The result of :func:`derivatives`.

    Attributes:
        tensors: ``{order: array}``; order ``k`` has shape ``batch + (n_out,) + (n_wrt,) * k``.
        stderr: the same shapes, standard errors from shot noise (``None`` for exact results;
            :meth:`standard_error` then gives zeros).
        stats: what this request executed (circuits, jobs, executions, shots, cache hits; with a
            store, points from the store, re-attached and submitted).
        plan: the plan that was run (with ``method="adjoint"`` above order 1: the plan of the
            shifted adjoint gradients, one order lower).
        store: the evaluation store's file, when one was used.
        method: how the derivatives were computed: ``"shift"`` (the shift rule: circuits),
            ``"adjoint"`` (one forward and backward sweep per row and output) or ``"adjoint+shift"``
            (the shift rule applied to adjoint gradients). With ``method="adjoint"`` above order 1 the
            cheaper of ``"adjoint+shift"`` and ``"shift"`` runs, by the simulator's cost model.
    """

    tensors: dict[int, np.ndarray]
    stderr: dict[int, np.ndarray] | None
    stats: Stats
    plan: Plan = field(repr=False)
    point_variances: np.ndarray | None = field(default=None, repr=False)
    shots_per_point: np.ndarray | None = field(default=None, repr=False)
    store: str | None = field(default=None, repr=False)
    method: str = field(default="shift", repr=False)

    def derivative(self, k: int) -> np.ndarray:
        """The order-``k`` tensor: ``batch + (n_out,) + (n_symbols,) * k``."""
        if k not in self.tensors:
            raise RequestError(f"order {k} was not computed", expected=f"one of {sorted(self.tensors)}",
                               received=repr(k), fix=f"request it: qshift.derivatives(..., order={k})")
        return self.tensors[k]

    def standard_error(self, k: int) -> np.ndarray:
        """Standard errors of the order-``k`` tensor from shot noise, its shape; zeros on an exact result.

        Example:
            >>> import qshift
            >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
            >>> qshift.derivatives(c, [0.5], order=1).standard_error(1)
            array([[0.]])
        """
        tensor = self.derivative(k)
        if self.stderr is None:
            return np.zeros_like(tensor)
        return self.stderr[k]

    def covariance(self, k: int, *, output: int = 0, row: int = 0) -> np.ndarray:
        """Covariance of the order-``k`` entries of one output and row, ``(n^k, n^k)`` (flattened).

        Points shared between entries correlate their errors: the unshifted circuit enters every
        diagonal Hessian entry, so the diagonal moves together. An exact result has zero covariance.
        """
        self.derivative(k)
        m = next(m for m in self.plan.maps if m.order == k)
        per_row = self.plan.points_per_row
        if self.point_variances is None:
            n = len(_symmetric_index(len(self.plan.wrt), k))
            return np.zeros((n, n))
        var = self.point_variances[row * per_row:(row + 1) * per_row, output]
        dense = np.zeros((len(m.entries), per_row))
        np.add.at(dense, (m.entry_index, m.point_index), m.coefficients)
        unique = (dense * var) @ dense.T
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
        return derivatives_html(self)
