"""Compiling a circuit for the local simulator: the program of fused kernels it runs.

:func:`_compile` (cached per circuit) fuses the operations into kernels
(:mod:`~qshift.backends.local.kernels`) and then reshapes the program:

* **A folded tail.** Trailing permutation-like kernels are absorbed into the
  observables (``P^dag O P`` is again an index move times coefficients). When
  every output is diagonal (``Z``/``I`` only), trailing diagonal gates cannot
  change the result and are dropped, also from the end of one-qubit runs on
  qubits no later kernel mixes: rows that differ only in such slots share a state.
* **A product-state prologue.** The circuit starts in ``|0...0>``, so leading
  one-qubit kernels on qubits not yet touched keep the state a product: it is
  stored only over the touched qubits and each such kernel multiplies in the
  column ``M|0>`` of its matrix (states of ``2**k`` amplitudes instead of ``2**n``).
* **Blocks.** One-qubit kernels on adjacent qubits are fused into blocks of up to
  three qubits.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qshift.backends.local.kernels import (_Block, _Diagonal, _Expand, _Fresh, _General, _Monomial, _OneQubit,
                                           _bits)
from qshift.backends.local.observables import _Observables, _observables
from qshift.ir.circuit import Circuit
from qshift.ir.gates import GateKind

_BLOCK_QUBITS = 3  # adjacent one-qubit kernels are fused into blocks of up to this many qubits


@dataclass(frozen=True)
class _Program:
    """A compiled circuit: kernels in order, the observables they end in, and the slots they read."""

    kernels: tuple
    observables: "_Observables"
    read_order: np.ndarray  # every slot some kernel reads, in reading order


@lru_cache(maxsize=64)
def _compile(circuit: Circuit) -> _Program:
    """Turn a circuit into a program (cached by fingerprint)."""
    n = circuit.n_qubits
    kernels, observables = _fold_tail(_kernels(circuit), _observables(circuit), n)
    kernels = _fuse_blocks(_product_prologue(kernels, n))
    read = np.array([s for kernel in kernels for s in kernel.slots], dtype=np.intp)
    return _Program(tuple(kernels), observables, read)


def _kernels(circuit: Circuit) -> list:
    """Fuse the circuit's operations into kernels (one-qubit runs, monomial runs, diagonal runs)."""
    n = circuit.n_qubits
    slot_of = {op_index: s for s, op_index in enumerate(circuit.slot_operations)}
    kernels: list = []
    pending: dict[int, _OneQubit] = {}

    def flush():
        for q in sorted(pending):
            kernels.append(pending[q])
        pending.clear()

    for i, op in enumerate(circuit.operations):
        slot = slot_of.get(i)
        spec = op.spec
        if spec.n_qubits == 1:
            pending.setdefault(op.qubits[0], _OneQubit(op.qubits[0])).ops.append(
                (op.gate, slot, op.angle.b if op.angle is not None else 0.0))
            continue
        if any(q in pending for q in op.qubits):
            flush()
        last = kernels[-1] if kernels else None
        if spec.kind is GateKind.DIAGONAL and spec.parametrized:
            if not isinstance(last, _Diagonal):
                last = _Diagonal(n, np.ones(2 ** n, dtype=complex))
                kernels.append(last)
            last.absorb(op, slot, n)
        elif spec.kind is GateKind.DIAGONAL and isinstance(last, _Diagonal):
            last.const = last.const * spec.matrix.diagonal()[_bits(n, op.qubits)]
        elif spec.kind in (GateKind.MONOMIAL, GateKind.DIAGONAL) and not spec.parametrized:
            if not isinstance(last, _Monomial):
                last = _Monomial(n)
                kernels.append(last)
            last.absorb(op, n)
        else:
            kernels.append(_General(op, slot))
    flush()
    return kernels


def _fold_tail(kernels: list, observables: "_Observables", n: int) -> tuple[list, "_Observables"]:
    """Absorb the end of the circuit into the observables, walking back from the last kernel.

    Monomial kernels at the very end fold into the observables. With diagonal observables,
    diagonal kernels at the end are dropped, and a one-qubit run loses its trailing diagonal
    gates when no kept kernel after it mixes its qubit (a diagonal gate commutes with kept
    kernels on other qubits and with diagonal kernels, and then only changes phases).
    """
    diagonal = observables.diagonal
    kept: list = []
    blocked: set[int] = set()  # qubits some kept, non-diagonal kernel acts on later
    at_tail = True
    for kernel in reversed(kernels):
        if at_tail and isinstance(kernel, _Monomial) and observables.can_fold:
            observables = observables.fold(kernel)
            continue
        if diagonal and at_tail and isinstance(kernel, _Diagonal):
            continue
        if diagonal and isinstance(kernel, _OneQubit) and kernel.qubit not in blocked:
            kernel = kernel.without_trailing_diagonal()
            if not kernel.ops:
                continue
        at_tail = False
        blocked |= _mixed_qubits(kernel, n)
        kept.append(kernel)
    return kept[::-1], observables


def _mixed_qubits(kernel, n: int) -> set[int]:
    """Qubits a kept kernel may mix (so diagonal gates before it cannot move past it)."""
    if isinstance(kernel, _OneQubit):
        return {kernel.qubit}
    if isinstance(kernel, _General):
        return set(kernel.op.qubits)
    if isinstance(kernel, _Diagonal):
        return set()
    return set(range(n))


def _fuse_blocks(kernels: list) -> list:
    """Fuse runs of one-qubit kernels on ascending adjacent qubits into blocks of up to
    ``_BLOCK_QUBITS`` qubits, counted from the run's end (the least significant qubits, where a
    block is cheapest). One pass over the states then does the work of several."""
    out: list = []
    run: list[_OneQubit] = []
    for kernel in kernels + [None]:
        if isinstance(kernel, _OneQubit) and run and kernel.qubit == run[-1].qubit + 1:
            run.append(kernel)
            continue
        while run:
            size = len(run) % _BLOCK_QUBITS or _BLOCK_QUBITS
            block, run = run[:size], run[size:]
            out.append(block[0] if size == 1 else _Block(tuple(block)))
        if isinstance(kernel, _OneQubit):
            run = [kernel]
        elif kernel is not None:
            out.append(kernel)
    return out


def _product_prologue(kernels: list, n: int) -> list:
    """Leading one-qubit kernels on untouched qubits become :class:`_Fresh`, then :class:`_Expand`."""
    touched: list[int] = []
    out = []
    for kernel in kernels:
        if not isinstance(kernel, _OneQubit) or kernel.qubit in touched:
            break
        out.append(_Fresh(kernel, sum(t < kernel.qubit for t in touched)))
        touched.append(kernel.qubit)
    rest = kernels[len(out):]
    if len(touched) < n:
        out.append(_Expand(tuple(sorted(touched))))
    return out + rest
