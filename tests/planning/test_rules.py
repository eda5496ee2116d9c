"""Shift rules against closed forms: trigonometric polynomials with the gate's frequencies."""

import math

import numpy as np
import pytest

import qshift
from qshift.planning.rules import first_order, stencil


def _trig(freqs, rng):
    """A random trigonometric polynomial with these frequencies and its k-th derivative."""
    a0, a, b = rng.normal(), rng.normal(size=len(freqs)), rng.normal(size=len(freqs))
    w = np.array(freqs)

    def f(x, k=0):
        # d^k/dx^k of a cos(wx) + b sin(wx): w^k [a cos(wx + k pi/2) + b sin(wx + k pi/2)]
        out = a0 if k == 0 else 0.0
        return out + np.sum(w ** k * (a * np.cos(w * x + k * np.pi / 2) + b * np.sin(w * x + k * np.pi / 2)))

    return f


def _apply(rule, f, x):
    return sum(t.coefficient * f(x + rule.shift(t.multiple)) for t in rule.terms)


@pytest.mark.parametrize("freqs", [(1.0,), (0.5, 1.0), (1.0, 2.0, 3.0), (0.5, 1.5)])
@pytest.mark.parametrize("order", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("shift", [None, math.pi / 4, 1.0])
def test_stencils_are_exact(freqs, order, shift, rng):
    if len(freqs) > 1 and shift == 1.0:
        shift = 0.7
    f = _trig(freqs, rng)
    rule = stencil(freqs, order, shift)
    for x in rng.uniform(-3, 3, 4):
        assert _apply(rule, f, x) == pytest.approx(f(x, order), abs=1e-9)


def test_two_term_rule_is_the_textbook_one():
    r = first_order((1.0,))
    assert [(t.multiple, t.coefficient) for t in r.terms] == [(1, 0.5), (3, -0.5)]
    assert r.shift(1) == pytest.approx(math.pi / 2) and r.shift(3) == pytest.approx(-math.pi / 2)


def test_four_term_rule_for_controlled_rotations():
    """Wierichs et al. Eq. (32): shifts +-pi/2, +-3pi/2, coefficients (sqrt2 +- 1) / (4 sqrt2)."""
    r = first_order((0.5, 1.0))
    coeffs = {round(r.shift(t.multiple), 12): t.coefficient for t in r.terms}
    c1, c2 = (math.sqrt(2) + 1) / (4 * math.sqrt(2)), (math.sqrt(2) - 1) / (4 * math.sqrt(2))
    assert coeffs[round(math.pi / 2, 12)] == pytest.approx(c1)
    assert coeffs[round(-math.pi / 2, 12)] == pytest.approx(-c1)
    assert coeffs[round(3 * math.pi / 2, 12)] == pytest.approx(-c2)
    assert coeffs[round(-3 * math.pi / 2, 12)] == pytest.approx(c2)


def test_folding_merges_by_period():
    # second order, s = pi/2: f(x+pi) and f(x-pi) are the same circuit
    assert [t.multiple for t in stencil((1.0,), 2).terms] == [0, 2]
    # s = 1.0: the period is no whole number of shifts, nothing folds
    assert [t.multiple for t in stencil((1.0,), 2, 1.0).terms] == [-2, 0, 2]
    assert stencil((1.0,), 2, 1.0).modulus is None


@pytest.mark.parametrize("shift", [0.0, math.pi, -0.3, 4.0])
def test_shift_out_of_range(shift):
    with pytest.raises(qshift.RequestError, match="0 < s < pi"):
        first_order((1.0,), shift)


@pytest.mark.parametrize("freqs", [(1.0,), (0.5, 1.0), (1.0, 2.0, 3.0)])
@pytest.mark.parametrize("shift", [None, math.pi / 3])
def test_second_order_on_first_order_points(freqs, shift, rng):
    from qshift.planning.rules import second_order_reusing_first

    rule = second_order_reusing_first(freqs, shift)
    first = {t.multiple for t in first_order(freqs, shift).terms}
    assert {t.multiple for t in rule.terms} <= first | {0}
    f = _trig(freqs, rng)
    for x in rng.uniform(-3, 3, 3):
        assert _apply(rule, f, x) == pytest.approx(f(x, 2), abs=1e-9)
