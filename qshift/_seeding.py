"""Seeds: how one request seed becomes the seeds of its parts, in one place.

A seeded request splits its sampling into parts (batches, Dask chunks, shot
levels, a pilot and a top-up). Part ``i`` gets the ``i``-th child of
``numpy.random.SeedSequence(seed)``, and a backend receives that child as a plain
integer (the first word of its state). An unseeded request stays unseeded in
every part (``None``).

An unseeded request that keeps an evaluation store gets a fresh seed of its own
(:func:`fresh`, from the operating system's entropy), recorded with the request,
so that a rerun after a crash can read back what it already sampled while a new
request draws new samples (see :mod:`qshift.execution.store`).

A seed is ``None`` or a non-negative whole number (:func:`check_seed`); anything else, a
NumPy ``Generator`` included, is refused with a :class:`~qshift.RequestError`.

Example:
    >>> child_ints(7, 2) == [as_int(s) for s in spawn(7, 2)]
    True
    >>> child_ints(None, 3)
    [None, None, None]
    >>> fresh() != fresh()
    True
"""

from __future__ import annotations

import numbers

import numpy as np

from qshift._errors import RequestError

__all__ = ["as_int", "check_seed", "child_ints", "fresh", "spawn"]


def check_seed(seed) -> int | None:
    """A request's seed: ``None``, or a non-negative whole number (returned as an ``int``).

    Example:
        >>> check_seed(np.int64(7)), check_seed(None)
        (7, None)
    """
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise RequestError("seed must be a non-negative integer or None", expected="e.g. seed=7",
                           received=f"{seed!r} ({type(seed).__name__})",
                           fix="pass a non-negative integer (a Generator or a text cannot seed a request), or None")
    return int(seed)


def spawn(seed, n: int) -> list[np.random.SeedSequence | None]:
    """The ``n`` children of ``SeedSequence(seed)``; ``n`` times ``None`` for an unseeded request."""
    if seed is None:
        return [None] * n
    return np.random.SeedSequence(seed).spawn(n)


def as_int(seed_seq: np.random.SeedSequence | None) -> int | None:
    """The integer seed a backend receives for ``seed_seq`` (``None`` stays ``None``)."""
    return None if seed_seq is None else int(seed_seq.generate_state(1)[0])


def child_ints(seed, n: int) -> list[int | None]:
    """The integer seeds of the ``n`` children of ``seed`` (``spawn`` then ``as_int``)."""
    return [as_int(s) for s in spawn(seed, n)]


def fresh() -> int:
    """A new seed from the operating system's entropy (128 bits, as ``SeedSequence().entropy``)."""
    return int(np.random.SeedSequence().entropy)
