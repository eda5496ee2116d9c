"""The contracts every part of qshift builds on: the backend protocol and its result.

A backend implements one method, :meth:`Backend.run`. Counting, caching,
batching, retrying, progress and the cost guard wrap backends by composition
(see :mod:`qshift._executor`); no backend inherits behaviour from another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ._circuit import Circuit

__all__ = ["Backend", "RunResult"]


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


@runtime_checkable
class Backend(Protocol):
    """A device that evaluates a circuit at many slot-angle rows.

    Attributes:
        name: the device name, used in cache keys.
        exact: True when results carry no shot noise (they may then be reused freely).
        max_batch: most rows one :meth:`run` call accepts, or ``None`` for no limit.
    """

    name: str
    exact: bool
    max_batch: int | None

    def run(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None = None,
            seed: int | None = None) -> RunResult:
        """Evaluate ``circuit`` at slot angles ``angles`` ``(B, n_slots)``: values ``(B, n_out)``."""
        ...
