"""Numbers and affine angles as text: one pi table for angles, OpenQASM and drawings.

Two styles share the table. The *exact* style (``digits=None``) names a multiple
of pi only when the float is exactly that multiple and otherwise writes
``repr(float)``, so the text reads back to the same float bit for bit (angles,
OpenQASM). The *short* style (``digits=n``) names a multiple of pi within
``1e-12`` and otherwise writes ``n`` significant digits (drawings).

This module is foundation: it imports nothing from qshift.

Example:
    >>> import math
    >>> format_number(math.pi / 2), format_number(0.1), format_number(0.123456789, digits=4)
    ('pi/2', '0.1', '0.1235')
    >>> format_affine("theta", 2.0, -math.pi / 4)
    '2.0*theta - pi/4'
"""

from __future__ import annotations

import math

__all__ = ["PI_FRACTIONS", "format_affine", "format_number"]

PI_FRACTIONS = ((1, 1), (1, 2), (1, 3), (1, 4), (1, 6), (1, 8), (2, 1), (2, 3), (3, 2), (3, 4))
"""``(numerator, denominator)`` of the multiples of pi written by name (``3*pi/4``), both signs."""

_SHORT_TOLERANCE = 1e-12


def format_number(x: float, digits: int | None = None) -> str:
    """``x`` as text: a multiple of pi from :data:`PI_FRACTIONS` by name, else the number.

    Args:
        x: the number.
        digits: ``None`` for the exact style (pi only for the exact float ``num * pi / den``,
            else ``repr(float(x))``); an integer for the short style (pi within ``1e-12``,
            else that many significant digits).

    Example:
        >>> import math
        >>> format_number(-3 * math.pi / 4), format_number(math.pi / 6 + 1e-15)
        ('-3*pi/4', '0.5235987755982998')
        >>> format_number(math.pi / 6 + 1e-15, digits=4), format_number(2.0, digits=4)
        ('pi/6', '2')
    """
    for num, den in PI_FRACTIONS:
        for sign in (1, -1):
            value = sign * num * math.pi / den
            if (x == value) if digits is None else (abs(x - value) < _SHORT_TOLERANCE):
                text = ("pi" if num == 1 else f"{num}*pi") + ("" if den == 1 else f"/{den}")
                return ("-" if sign < 0 else "") + text
    return repr(float(x)) if digits is None else f"{x:.{digits}g}"


def format_affine(symbol: str | None, a: float, b: float, digits: int | None = None, *,
                  minus_symbol: bool = True) -> str:
    """The angle ``a * symbol + b`` as text, numbers written by :func:`format_number`.

    Args:
        symbol: the symbol's name, or ``None`` for the constant ``b``.
        a, b: the slope and the offset.
        digits: the style of the numbers (see :func:`format_number`).
        minus_symbol: write ``-symbol`` for ``a == -1`` (else ``-1.0*symbol``).

    Example:
        >>> format_affine("x", 1.0, 0.0), format_affine("x", -1.0, 0.5), format_affine(None, 0.0, 2.0)
        ('x', '-x + 0.5', '2.0')
        >>> format_affine("x", -1.0, -0.5, minus_symbol=False)
        '-1.0*x - 0.5'
    """
    if symbol is None:
        return format_number(b, digits)
    if a == 1:
        head = symbol
    elif a == -1 and minus_symbol:
        head = f"-{symbol}"
    else:
        head = f"{format_number(a, digits)}*{symbol}"
    if b == 0:
        return head
    return f"{head} {'+' if b > 0 else '-'} {format_number(abs(b), digits)}"
