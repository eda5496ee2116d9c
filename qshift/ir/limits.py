"""Limits put up front: sizes beyond which qshift refuses input at once, saying so, instead of hanging.

Every reader (OpenQASM, Qiskit, PennyLane, the builder) checks a circuit's qubit count here before
anything is allocated or computed from it; what a particular device can hold (a statevector in
memory, a QPU's qubits) is checked by that device on top of this.

Example:
    >>> check_qubits(4)
    4
    >>> check_qubits(10 ** 12)
    Traceback (most recent call last):
    ...
    qshift._errors.CircuitError: a circuit of 1000000000000 qubits is beyond what qshift handles
      expected: at most 10000 qubits
      received: 1000000000000
      fix: use fewer qubits (no device runs more than about a thousand)
"""

from __future__ import annotations

import numbers

from qshift._errors import CircuitError

__all__ = ["MAX_QUBITS", "check_qubits"]

MAX_QUBITS = 10_000
"""The most qubits a circuit may declare (no device has more than a few thousand)."""


def check_qubits(n, *, line: int | None = None) -> int:
    """``n`` as an ``int`` when it is a whole number of qubits in ``1..MAX_QUBITS``, else a :class:`CircuitError`."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise CircuitError("a circuit needs a whole, positive number of qubits", expected="n_qubits >= 1",
                           received=repr(n), fix="declare at least one qubit", line=line)
    if n > MAX_QUBITS:
        raise CircuitError(f"a circuit of {n} qubits is beyond what qshift handles",
                           expected=f"at most {MAX_QUBITS} qubits", received=str(n),
                           fix="use fewer qubits (no device runs more than about a thousand)", line=line)
    return int(n)
