"""The circuit library shipped in ``circuits/``."""

from __future__ import annotations

from pathlib import Path

from qshift._data import shipped_files
from qshift._errors import CircuitError
from qshift.ir.circuit import Circuit, CircuitBuilder

__all__ = ["circuit_path", "library"]


def library() -> dict[str, Path]:
    """Name -> path of every ``.qasm`` file in the library."""
    return shipped_files("circuits", ".qasm", CircuitError, "the circuit library")


def circuit_path(name: str) -> Path:
    """Path of library circuit ``name`` (e.g. ``"sin"``, ``"hea-4q-2l"``).

    Example:
        >>> circuit_path("sin").name
        'sin.qasm'
    """
    files = library()
    if name not in files:
        raise CircuitError(f"no library circuit named {name!r}", expected="one of " + ", ".join(files),
                           received=repr(name), fix="pick a name from qshift.library()")
    return files[name]


def hardware_efficient(n_qubits: int, layers: int, outputs: str = "all") -> Circuit:
    """The hardware-efficient ansatz: per layer RY then RZ on every qubit, then a ring of CNOTs.

    Symbols are ``y{layer}_{qubit}`` and ``z{layer}_{qubit}`` (``2 * n_qubits * layers`` of them),
    declared in gate order. ``outputs="all"`` measures ``Z`` on every qubit, ``"single"`` only ``Z0``.

    Example:
        >>> c = hardware_efficient(4, 2)
        >>> c.n_symbols, c.n_outputs
        (16, 4)
    """
    if outputs not in ("all", "single"):
        raise CircuitError("unknown outputs choice", expected="'all' or 'single'", received=repr(outputs),
                           fix="pass outputs='all' or outputs='single'")
    b = CircuitBuilder(n_qubits, name=f"hea-{n_qubits}q-{layers}l")
    for layer in range(layers):
        for q in range(n_qubits):
            b.ry(b.input(f"y{layer}_{q}"), q)
            b.rz(b.input(f"z{layer}_{q}"), q)
        if n_qubits > 1:
            for q in range(n_qubits if n_qubits > 2 else 1):
                b.cx(q, (q + 1) % n_qubits)
    for q in range(n_qubits if outputs == "all" else 1):
        b.expectation(f"Z{q}")
    return b.build()
