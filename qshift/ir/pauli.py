"""Pauli products: the observables a circuit's outputs measure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from qshift._errors import CircuitError

__all__ = ["PauliString"]

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


def _parse_text(spec: str) -> list[tuple[int, str]]:
    """``(qubit, letter)`` factors of a text like ``'X0 Z1'``, ``'X0 @ Z1'`` or ``'x_0*z_1'``."""
    text = spec.replace("@", " ").replace("*", " ")
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
