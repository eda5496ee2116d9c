"""Shift rules: pure functions from generator frequencies to stencils. No circuits here.

For a gate whose generator has frequencies ``Omega_1 < ... < Omega_R``, the
expectation is a trigonometric polynomial of the angle ``x``. Its derivatives
are linear combinations of the same function at shifted angles:

* one frequency ``Omega`` (RX, RY, RZ, P, RZZ ...): the two-term rule
  ``f'(x) = Omega / (2 sin s) * [f(x + s/Omega) - f(x - s/Omega)]`` for any
  ``s`` in ``(0, pi)`` (default ``pi/2``);
* several frequencies (CRX/CRY/CRZ: ``{1/2, 1}``): the general rule of
  Wierichs, Izaac, Wang and Lin (arXiv:2107.12390): with the frequencies seen
  as multiples of their gcd ``Omega_0`` up to ``R * Omega_0``, the ``2R`` shifts
  ``+-(2mu - 1) * s / (R * Omega_0)`` (``mu = 1..R``; with ``s = pi/2`` these are
  the equidistant shifts of the paper) give ``f'`` exactly by solving the
  ``R x R`` system of the odd part.

Every shift is an integer multiple ``m`` of the gate's *shift unit*
``u = s / (R * Omega_0)``. Higher orders convolve the first-order stencil with
itself; the multiples are folded modulo the gate's period ``2*pi/Omega_0``
when the period is a whole number of units (exactly, in integers: no float
comparison), equal shifts merge and zero coefficients drop. So a point's
shift is the exact key ``(slot, m mod M)``.

A shift only survives being added to an angle that is small enough: at ``x = 1e16`` a
double's spacing is 2, so ``x + pi/2`` rounds to ``x + 2``. :func:`reduce_angle` maps an
angle to its remainder modulo the gate's period, computed exactly (with ``pi`` to 1280
bits, so for every finite double): the function is periodic, so its value and every
derivative there are those at ``x``, and the shift is added to a number below the period.

Example:
    >>> rule = stencil((1.0,), order=2)
    >>> [(t.multiple, round(t.coefficient, 12)) for t in rule.terms]
    [(0, -0.5), (2, 0.5)]
    >>> rule.unit, rule.modulus
    (1.5707963267948966, 4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from fractions import Fraction

import numpy as np

from qshift._errors import RequestError

__all__ = ["ShiftTerm", "Stencil", "first_order", "period", "reduce_angle", "stencil"]

DEFAULT_SHIFT = math.pi / 2
_ZERO = 1e-13


@dataclass(frozen=True)
class ShiftTerm:
    """One term ``coefficient * f(x + multiple * unit)`` of a stencil."""

    multiple: int
    coefficient: float


@dataclass(frozen=True)
class Stencil:
    """The rule for one derivative order of one slot.

    Attributes:
        order: derivative order.
        unit: the shift unit ``u`` in radians; term ``m`` evaluates at ``x + m * u``.
        modulus: multiples are taken modulo this (``period / unit``), or ``None`` when the
            period is not a whole number of units (then nothing folds).
        terms: the terms, sorted by multiple, with no zero coefficients.
    """

    order: int
    unit: float
    modulus: int | None
    terms: tuple[ShiftTerm, ...]

    def shift(self, multiple: int) -> float:
        """The angle shift (radians) of ``multiple``, taken in ``(-period/2, period/2]``."""
        if self.modulus is not None and multiple > self.modulus // 2:
            multiple -= self.modulus
        return multiple * self.unit


def _base_frequency(frequencies: tuple[float, ...]) -> tuple[Fraction, int]:
    fracs = [Fraction(f).limit_denominator(1024) for f in frequencies]
    num = math.gcd(*(f.numerator * (math.lcm(*(g.denominator for g in fracs)) // f.denominator) for f in fracs))
    base = Fraction(num, math.lcm(*(g.denominator for g in fracs)))
    return base, int(max(fracs) / base)


@lru_cache(maxsize=256)
def period(frequencies: tuple[float, ...]) -> Fraction:
    """The gate's period in units of ``2*pi``, exactly: ``1 / Omega_0`` (``Omega_0``: the frequencies' gcd).

    Example:
        >>> period((1.0,)), period((0.5, 1.0))
        (Fraction(1, 1), Fraction(2, 1))
    """
    return 1 / _base_frequency(tuple(frequencies))[0]


_PI_BITS = 1280  # pi to this many bits reduces every finite double exactly enough (its exponent is < 1024)


@lru_cache(maxsize=1)
def _pi_fixed() -> int:
    """``floor(pi * 2**_PI_BITS)``, by Machin's formula in integers (with guard bits)."""
    guard = 64
    one = 1 << (_PI_BITS + guard)

    def arctan_inverse(k: int) -> int:  # arctan(1/k) * one
        power = total = one // k
        n, sign = 1, -1
        while power:
            power //= k * k
            n += 2
            total += sign * (power // n)
            sign = -sign
        return total

    return (4 * (4 * arctan_inverse(5) - arctan_inverse(239))) >> guard


@lru_cache(maxsize=64)
def _period_fixed(turns: Fraction) -> int:
    """The period ``2*pi*turns`` times ``2**_PI_BITS``, as an integer."""
    return 2 * _pi_fixed() * turns.numerator // turns.denominator


def reduce_angle(x: float, frequencies: tuple[float, ...]) -> float:
    """``x`` modulo the period of a gate with these frequencies, into ``[-period/2, period/2]``, exactly.

    The remainder is that of the double ``x`` modulo the true period (not modulo the period
    rounded to a double, which at ``x = 1e16`` is 0.7 rad off), rounded once.

    Example:
        >>> import math
        >>> r = reduce_angle(1e16, (1.0,))
        >>> abs(r) <= math.pi, math.isclose(math.cos(r), math.cos(1e16), abs_tol=1e-15)
        (True, True)
    """
    num, den = float(x).as_integer_ratio()  # den is a power of two, at most 2**1074
    scale = _PI_BITS - (den.bit_length() - 1)
    fixed = num << scale if scale >= 0 else num >> -scale  # x * 2**_PI_BITS (exact for |x| >= 2**-200)
    p = _period_fixed(period(frequencies))
    n = (2 * fixed + p) // (2 * p)  # nearest multiple of the period
    return (fixed - n * p) / (1 << _PI_BITS)


def _check(frequencies, shift) -> float:
    if not frequencies:
        raise RequestError("a gate with no frequencies has no shift rule", expected="a parametrized gate",
                           received="no generator frequencies", fix="differentiate only parametrized gates")
    s = DEFAULT_SHIFT if shift is None else float(shift)
    if not 0 < s < math.pi:
        raise RequestError("shift out of range", expected="a shift s with 0 < s < pi (default pi/2)",
                           received=repr(shift), fix="pass shift=None or a value strictly between 0 and pi")
    return s


@lru_cache(maxsize=256)
def first_order(frequencies: tuple[float, ...], shift: float | None = None) -> Stencil:
    """The first-derivative rule for a gate with these frequencies.

    Example:
        >>> r = first_order((0.5, 1.0))   # controlled rotations: the four-term rule
        >>> [t.multiple for t in r.terms]
        [1, 3, 5, 7]
    """
    s = _check(frequencies, shift)
    base, r = _base_frequency(tuple(frequencies))
    unit = s / (r * float(base))
    ratio = (2 * math.pi / float(base)) / unit
    modulus = int(round(ratio)) if abs(ratio - round(ratio)) < 1e-9 else None
    omegas = float(base) * np.arange(1, r + 1)
    multiples = 2 * np.arange(1, r + 1) - 1
    sines = np.sin(np.outer(multiples * unit, omegas))  # S[mu, l] = sin(Omega_l x_mu)
    if abs(np.linalg.det(sines)) < 1e-10:
        raise RequestError("this shift gives a singular rule for the gate's frequencies",
                           expected="a shift whose sines are independent", received=f"shift={s}",
                           fix="use the default shift (pi/2) for multi-frequency gates")
    weights = 0.5 * np.linalg.solve(sines.T, omegas)  # f'(0) = sum_mu y_mu (f(x_mu) - f(-x_mu))
    terms = {}
    for m, y in zip(multiples, weights):
        terms[int(m)] = terms.get(int(m), 0.0) + y
        terms[-int(m)] = terms.get(-int(m), 0.0) - y
    return _fold(1, unit, modulus, terms)


def _fold(order: int, unit: float, modulus: int | None, terms: dict[int, float]) -> Stencil:
    folded: dict[int, float] = {}
    for m, c in terms.items():
        key = m % modulus if modulus is not None else m
        folded[key] = folded.get(key, 0.0) + c
    scale = max((abs(c) for c in folded.values()), default=0.0)
    kept = tuple(ShiftTerm(int(m), float(c)) for m, c in sorted(folded.items()) if abs(c) > _ZERO * max(scale, 1.0))
    return Stencil(order, unit, modulus, kept)


@lru_cache(maxsize=1024)
def stencil(frequencies: tuple[float, ...], order: int, shift: float | None = None) -> Stencil:
    """The rule for derivative ``order`` (>= 0) of one slot: the first-order rule iterated.

    Example:
        >>> [(t.multiple, t.coefficient) for t in stencil((1.0,), 3).terms]  # f''' = -f'
        [(1, -0.5), (3, 0.5)]
    """
    first = first_order(tuple(frequencies), shift)
    if order == 0:
        return Stencil(0, first.unit, first.modulus, (ShiftTerm(0, 1.0),))
    previous = stencil(tuple(frequencies), order - 1, shift)
    terms: dict[int, float] = {}
    for a in previous.terms:
        for b in first.terms:
            m = a.multiple + b.multiple
            terms[m] = terms.get(m, 0.0) + a.coefficient * b.coefficient
    return _fold(order, first.unit, first.modulus, terms)


@lru_cache(maxsize=256)
def second_order_reusing_first(frequencies: tuple[float, ...], shift: float | None = None) -> Stencil | None:
    """A second-derivative rule on the first-order rule's own points plus the unshifted one.

    The even part ``e(t) = (f(x+t) + f(x-t)) / 2 = a0 + sum_l A_l cos(Omega_l t)`` has ``R + 1``
    unknowns; the ``R`` positive first-order shifts and ``t = 0`` determine them, and
    ``f''(x) = -sum_l Omega_l^2 A_l``. So a gradient's circuits give the diagonal of the Hessian
    with no new circuit (for one frequency and ``s = pi/2``: ``f'' = e(pi/2) - f(x)``). Returns
    ``None`` where the system is singular for this shift.

    Example:
        >>> r = second_order_reusing_first((1.0,))
        >>> [(t.multiple, round(t.coefficient, 12)) for t in r.terms]
        [(0, -1.0), (1, 0.5), (3, 0.5)]
    """
    first = first_order(tuple(frequencies), shift)
    base, r = _base_frequency(tuple(frequencies))
    omegas = float(base) * np.arange(1, r + 1)
    shifts = np.array([0.0] + [first.shift(m) for m in (2 * np.arange(1, r + 1) - 1)])
    matrix = np.hstack([np.ones((r + 1, 1)), np.cos(np.outer(shifts, omegas))])
    if abs(np.linalg.det(matrix)) < 1e-9:
        return None
    weights = np.linalg.solve(matrix.T, np.concatenate([[0.0], -omegas ** 2]))
    terms: dict[int, float] = {0: float(weights[0])}
    for m, w in zip(2 * np.arange(1, r + 1) - 1, weights[1:]):
        terms[int(m)] = terms.get(int(m), 0.0) + w / 2
        terms[-int(m)] = terms.get(-int(m), 0.0) + w / 2
    return _fold(2, first.unit, first.modulus, terms)
