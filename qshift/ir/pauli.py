"""Observables: Pauli products, and real weighted sums of them (Hamiltonians).

A circuit's output is the expectation of a :class:`PauliString` (``Z0 Z1``) or of a
:class:`PauliSum` (``0.5 Z0 Z1 - 0.2 X0 + 1.1``): one output either way, whose value,
gradient and Hessian are single entries.

Example:
    >>> h = PauliSum.parse({"Z0 Z1": 0.5, "X0": -0.2, "": 1.1})
    >>> str(h), h.constant, [str(p) for _, p in h.terms]
    ('0.5 Z0 Z1 - 0.2 X0 + 1.1', 1.1, ['Z0 Z1', 'X0'])
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Union

from qshift._errors import CircuitError

__all__ = ["Observable", "PauliString", "PauliSum", "as_observable"]

_PAULI_RE = re.compile(r"\s*([IXYZixyz])\s*_?\s*(\d+)\s*")


@dataclass(frozen=True)
class PauliString:
    """A product of Pauli operators on distinct qubits, e.g. ``X0 Z1``; identity factors dropped.

    Example:
        >>> PauliString.parse("X0 Z1")
        PauliString(X0 Z1)
        >>> PauliString.parse({2: "Y"}).factors
        ((2, 'Y'),)
    """

    factors: tuple[tuple[int, str], ...]

    @classmethod
    def parse(cls, spec: "str | Mapping[int, str] | PauliString") -> "PauliString":
        if isinstance(spec, PauliString):
            return spec
        if isinstance(spec, Mapping):
            items = [(int(q), str(p).upper()) for q, p in spec.items()]
        elif isinstance(spec, str):
            items = _parse_text(spec)
        else:
            raise CircuitError("cannot read Pauli product", expected="a string like 'X0 Z1' or a dict {qubit: 'X'}",
                               received=type(spec).__name__, fix="pass 'Z0' or {0: 'Z'}")
        qubits = [q for q, _ in items]
        if len(set(qubits)) != len(qubits):
            raise CircuitError(f"Pauli product {spec!r} names a qubit twice", expected="each qubit at most once",
                               received=str(qubits), fix="multiply the factors on one qubit yourself")
        for _, p in items:
            if p not in "IXYZ":
                raise CircuitError(f"unknown Pauli {p!r}", expected="I, X, Y or Z", received=repr(p), fix="use I, X, Y or Z")
        return cls(tuple(sorted((q, p) for q, p in items if p != "I")))

    @property
    def qubits(self) -> tuple[int, ...]:
        return tuple(q for q, _ in self.factors)

    def __str__(self) -> str:
        return " ".join(f"{p}{q}" for q, p in self.factors) or "I"

    def __repr__(self) -> str:
        return f"PauliString({self})"


@dataclass(frozen=True)
class PauliSum:
    """A Hamiltonian: ``sum_k c_k P_k + constant`` with real ``c_k`` and distinct Pauli products ``P_k``.

    Terms keep their first-appearance order; a product given twice is merged (coefficients
    added), identity terms go into ``constant``, and terms whose coefficient is exactly zero
    are dropped.

    Example:
        >>> PauliSum.parse([(0.5, "Z0 Z1"), (-0.25, "X0"), (0.25, "Z1 Z0"), (2.0, "I")])
        PauliSum(0.75 Z0 Z1 - 0.25 X0 + 2)
    """

    terms: tuple[tuple[float, PauliString], ...]
    constant: float = 0.0

    @classmethod
    def parse(cls, spec) -> "PauliSum":
        """From a ``{product: coefficient}`` mapping (``""`` or ``"I"``: the constant), ``(coefficient, product)``
        pairs, a :class:`PauliString` (coefficient 1) or a :class:`PauliSum`."""
        if isinstance(spec, PauliSum):
            return spec
        if isinstance(spec, PauliString):
            return cls(((1.0, spec),)) if spec.factors else cls((), 1.0)
        if isinstance(spec, Mapping):
            pairs = [(c, p) for p, c in spec.items()]
        elif isinstance(spec, Iterable) and not isinstance(spec, (str, bytes)):
            pairs = list(spec)
            if not all(isinstance(item, tuple) and len(item) == 2 for item in pairs):
                raise CircuitError("cannot read a weighted sum of Pauli products",
                                   expected="(coefficient, product) pairs", received=repr(spec)[:200],
                                   fix="pass [(0.5, 'Z0 Z1'), (-0.2, 'X0')] or {'Z0 Z1': 0.5, 'X0': -0.2}")
        else:
            raise CircuitError("cannot read a weighted sum of Pauli products",
                               expected="a dict {'Z0 Z1': 0.5, 'X0': -0.2, '': 1.1} or (coefficient, product) pairs",
                               received=type(spec).__name__, fix="pass {'Z0 Z1': 0.5, '': 1.1}")
        merged: dict[PauliString, float] = {}
        constant = 0.0
        for coefficient, product in pairs:
            c = _real_coefficient(coefficient, product)
            identity = isinstance(product, str) and product.strip() in ("", "I", "i")
            pauli = PauliString(()) if identity else PauliString.parse(product)
            if not pauli.factors:
                constant += c
            else:
                merged[pauli] = merged.get(pauli, 0.0) + c
        return cls(tuple((c, p) for p, c in merged.items() if c != 0.0), constant)

    @property
    def qubits(self) -> tuple[int, ...]:
        """Every qubit some term acts on, sorted."""
        return tuple(sorted({q for _, p in self.terms for q in p.qubits}))

    @property
    def norm(self) -> float:
        """``sum_k |c_k|``: the largest the non-constant part can be in absolute value."""
        return math.fsum(abs(c) for c, _ in self.terms)

    def __str__(self) -> str:
        text = ""
        for c, p in self.terms:
            sign = "-" if c < 0 else "+"
            text += f" {sign} {_number(abs(c))} {p}" if text else f"{'-' if c < 0 else ''}{_number(abs(c))} {p}"
        if self.constant or not text:
            sign = "-" if self.constant < 0 else "+"
            text += f" {sign} {_number(abs(self.constant))}" if text else _number(self.constant)
        return text

    def short(self, terms: int = 3) -> str:
        """The sum as text, its first ``terms`` terms only when it has more (for tables and drawings).

        Example:
            >>> PauliSum.parse({"Z0": 0.5, "Z1": 0.25, "X0": -1.0, "Y1": 2.0, "": 1.0}).short(2)
            '0.5 Z0 + 0.25 Z1 + ... (4 terms and a constant)'
        """
        if len(self.terms) <= terms:
            return str(self)
        head = str(PauliSum(self.terms[:terms]))
        return f"{head} + ... ({len(self.terms)} terms{' and a constant' if self.constant else ''})"

    def __repr__(self) -> str:
        return f"PauliSum({self})"


Observable = Union[PauliString, PauliSum]
"""What an output measures: a Pauli product or a weighted sum of them."""


def as_observable(spec) -> "Observable":
    """A :class:`PauliString` for a plain product (``"Z0 Z1"``, ``{0: "Z"}``), a :class:`PauliSum` for a
    weighted one (``{"Z0 Z1": 0.5, "": 1.1}``, ``[(0.5, "Z0")]``).

    A mapping whose keys are qubit indices is a product; one whose keys are product texts is a sum.

    Example:
        >>> as_observable("X0 Z1"), as_observable({"Z0": 0.5, "": 1.0})
        (PauliString(X0 Z1), PauliSum(0.5 Z0 + 1))
    """
    if isinstance(spec, (PauliString, PauliSum, str)):
        return PauliString.parse(spec) if not isinstance(spec, PauliSum) else spec
    if isinstance(spec, Mapping) and all(isinstance(k, numbers.Integral) for k in spec):  # {}: the identity
        return PauliString.parse(spec)
    return PauliSum.parse(spec)


def _real_coefficient(value, product) -> float:
    """A term's coefficient as a finite real number (a complex one only with no imaginary part)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise CircuitError(f"the coefficient of {product!r} is not a number", expected="a finite real number",
                           received=repr(value), fix="write the term as (0.5, 'Z0'), or {'Z0': 0.5}")
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
        if abs(value.imag) > 1e-12 * max(1.0, abs(value.real)):
            raise CircuitError(f"the coefficient of {product!r} is complex", expected="a real coefficient "
                               "(an observable is Hermitian)", received=repr(value),
                               fix="pass the real part, or check the operator is Hermitian")
        value = value.real
    c = float(value)
    if not math.isfinite(c):
        raise CircuitError(f"the coefficient of {product!r} is not finite", expected="a finite real number",
                           received=repr(value), fix="check the Hamiltonian's coefficients")
    return c


def _number(x: float) -> str:
    """The shortest text that reads back to ``x`` (``2`` for 2.0)."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def _parse_text(spec: str) -> list[tuple[int, str]]:
    """``(qubit, letter)`` factors of a text like ``'X0 Z1'``, ``'X0 @ Z1'`` or ``'x_0*z_1'``."""
    text = spec.replace("@", " ").replace("*", " ")
    if text.strip() in ("I", "i"):  # the identity, as str(PauliString(())) writes it
        return []
    pos, items = 0, []
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _PAULI_RE.match(text, pos)
        if not m:
            raise CircuitError(
                f"cannot read Pauli product {spec!r}",
                expected="factors like 'X0 Z1' (Pauli letter then qubit index)",
                received=repr(spec), fix="write e.g. 'Z0', 'X0 Z1' or {0: 'X', 1: 'Z'}",
            )
        items.append((int(m.group(2)), m.group(1).upper()))
        pos = m.end()
    return items
