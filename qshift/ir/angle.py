"""Affine angles ``a * symbol + b`` in at most one symbol.

An :class:`Angle` is what a gate's angle is in the IR: builder code combines
symbols with numbers (``2 * theta + 0.5``) and anything that is not affine in
one symbol raises :class:`~qshift.NonAffineAngleError` (``np.sin(theta)``,
``math.sin(theta)`` and ``theta * theta`` included). NumPy numbers work like
Python's (``np.float64(2) * theta``, ``np.pi / 2``).

Example:
    >>> theta = Angle("theta")
    >>> 2 * theta + 0.5
    Angle(symbol='theta', a=2.0, b=0.5)
    >>> str(theta / 2 - 1), as_angle(0.25)
    ('0.5*theta - 1.0', Angle(symbol=None, a=0.0, b=0.25))
"""

from __future__ import annotations

import numbers
import operator
from dataclasses import dataclass

import numpy as np

from qshift._errors import CircuitError, NonAffineAngleError
from qshift._format import format_affine

__all__ = ["Angle", "as_angle"]


@dataclass(frozen=True)
class Angle:
    """An affine angle ``a * symbol + b``; ``symbol is None`` for a constant ``b``.

    Angles support ``+``, ``-``, ``*`` and ``/`` with numbers, so builder code reads
    like the math: ``2 * theta + 0.5``.
    """

    symbol: str | None
    a: float = 1.0
    b: float = 0.0

    def __post_init__(self):  # "+ 0.0" turns -0.0 into 0.0, so equal angles have equal fingerprints
        object.__setattr__(self, "a", float(self.a) + 0.0 if self.symbol is not None else 0.0)
        object.__setattr__(self, "b", float(self.b) + 0.0)

    @classmethod
    def constant(cls, value: float) -> "Angle":
        return cls(None, 0.0, float(value))

    @property
    def is_constant(self) -> bool:
        return self.symbol is None

    def __add__(self, other):
        if isinstance(other, numbers.Real):
            return Angle(self.symbol, self.a, self.b + float(other))
        if isinstance(other, Angle) and (other.symbol is None or self.symbol is None or other.symbol == self.symbol):
            return Angle(self.symbol or other.symbol, self.a + other.a, self.b + other.b)
        if isinstance(other, Angle):
            raise _non_affine(f"({self}) + ({other})")
        return NotImplemented

    __radd__ = __add__

    def __neg__(self):
        return Angle(self.symbol, -self.a, -self.b)

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        if isinstance(other, numbers.Real):
            return Angle(self.symbol, self.a * float(other), self.b * float(other))
        if isinstance(other, Angle) and other.is_constant:
            return self * other.b
        if isinstance(other, Angle) and self.is_constant:
            return other * self.b
        if isinstance(other, Angle):
            raise _non_affine(f"({self}) * ({other})")
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, numbers.Real):
            return self * (1.0 / float(other))
        if isinstance(other, Angle) and other.is_constant:
            return self * (1.0 / other.b)
        if isinstance(other, Angle):
            raise _non_affine(f"({self}) / ({other})")
        return NotImplemented

    def __rtruediv__(self, other):
        if isinstance(other, numbers.Real) and self.is_constant:
            return Angle.constant(float(other) / self.b)
        if isinstance(other, numbers.Real):
            raise _non_affine(f"{other} / ({self})")
        return NotImplemented

    def __pow__(self, other):
        if isinstance(other, numbers.Real) and self.is_constant:
            return Angle.constant(self.b ** float(other))
        if isinstance(other, (numbers.Real, Angle)):
            raise _non_affine(f"({self}) ** ({other})")
        return NotImplemented

    def __rpow__(self, other):
        if isinstance(other, numbers.Real) and self.is_constant:
            return Angle.constant(float(other) ** self.b)
        if isinstance(other, numbers.Real):
            raise _non_affine(f"{other} ** ({self})")
        return NotImplemented

    def __float__(self) -> float:
        if self.is_constant:
            return self.b
        raise NonAffineAngleError(
            f"the symbol {self.symbol!r} has no number while the circuit is built",
            expected="a * symbol + b, or a constant", received=f"float({self})",
            fix="gate angles are affine in one symbol: feed a function of your data (sin(x), ...) as a symbol's "
                "value instead, e.g. an input 'sx' set to sin(x)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy on angles: arithmetic stays affine (``np.float64(2) * theta``), constants fold
        (``np.sin(Angle.constant(1.0))``), anything else of a symbol is a :class:`~qshift.NonAffineAngleError`."""
        scalars = all(isinstance(x, (Angle, numbers.Real)) for x in inputs)
        if method == "__call__" and not kwargs and ufunc.__name__ in _OPERATORS:
            if scalars:  # Python floats: NumPy's own scalars would hand the operation back here
                return _OPERATORS[ufunc.__name__](*(x if isinstance(x, Angle) else float(x) for x in inputs))
            return ufunc(*(np.asarray(x, dtype=object) if isinstance(x, Angle) else x for x in inputs))
        if method == "__call__" and not kwargs and scalars and all(_constant(x) for x in inputs):
            return Angle.constant(ufunc(*(x.b if isinstance(x, Angle) else x for x in inputs)))
        args = ", ".join(str(x) for x in inputs)
        raise NonAffineAngleError(
            f"np.{ufunc.__name__} of a symbol is not an affine angle",
            expected="a * symbol + b, or a constant (NumPy numbers such as np.pi / 2 are fine)",
            received=f"np.{ufunc.__name__}({args})" + ("" if method == "__call__" else f" ({method})"),
            fix="gate angles are affine in one symbol: feed a function of your data (sin(x), ...) as a symbol's "
                "value instead, e.g. an input 'sx' set to sin(x)")

    def __str__(self) -> str:
        return format_affine(self.symbol, self.a, self.b)


_OPERATORS = {"add": operator.add, "subtract": operator.sub, "multiply": operator.mul,
              "true_divide": operator.truediv, "divide": operator.truediv, "negative": operator.neg,
              "positive": operator.pos, "power": operator.pow, "equal": operator.eq, "not_equal": operator.ne}


def _constant(x) -> bool:
    return not isinstance(x, Angle) or x.is_constant


def _non_affine(text: str) -> NonAffineAngleError:
    return NonAffineAngleError(
        "an angle must be affine in at most one symbol",
        expected="a * symbol + b, or a constant", received=text,
        fix="split the gate into one gate per symbol (angles add for rotations about the same axis)",
    )


def as_angle(value) -> Angle:
    """``value`` as an :class:`Angle`: an angle as is, a real number as a constant.

    Raises:
        CircuitError: ``value`` is neither (e.g. a string or a complex number).

    Example:
        >>> as_angle(Angle("x")) == Angle("x"), as_angle(1)
        (True, Angle(symbol=None, a=0.0, b=1.0))
    """
    if isinstance(value, Angle):
        return value
    if isinstance(value, numbers.Real):
        return Angle.constant(float(value))
    raise CircuitError("a gate angle must be a number or an affine symbol expression",
                       expected="e.g. 0.5, theta, 2*theta + 0.1", received=repr(value),
                       fix="declare symbols with builder.input(name) and combine them with numbers")
