"""The circuit IR: a frozen description of a parametrized circuit and its outputs.

A :class:`Circuit` holds qubits, one-angle operations, named symbols and
output observables (Pauli products, or weighted sums of them: Hamiltonians). Every angle is an :class:`Angle`
``a * symbol + b`` in at most one symbol; an operation whose angle has a
symbol is a *slot*, and the slots are what the shift rules shift. One symbol
may feed several slots (QAOA's gamma feeds every ZZ).

Example:
    >>> import qshift
    >>> b = qshift.CircuitBuilder(2)
    >>> theta = b.input("theta")
    >>> b.ry(theta, 0).cx(0, 1).rz(2 * theta + 0.5, 1)
    CircuitBuilder(qubits=2, operations=3)
    >>> b.expectation("Z0 Z1")
    CircuitBuilder(qubits=2, operations=3)
    >>> c = b.build()
    >>> c.symbols, c.n_slots, c.n_outputs
    (('theta',), 2, 1)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable

import numpy as np

from qshift._display import circuit_html, circuit_svg, draw_text
from qshift._errors import CircuitError, GateArityError, QubitIndexError, SymbolError, ValuesError
from qshift.ir.angle import Angle, as_angle
from qshift.ir.convert import pennylane_parts, qiskit_parts
from qshift.ir.gates import ALIASES, GATES, MULTI_ANGLE, arity, expand, lookup
from qshift.ir.limits import check_qubits
from qshift.ir.operation import Operation
from qshift.ir.pauli import Observable, PauliString, PauliSum, as_observable
from qshift.ir.qasm import qasm_parts, to_qasm

# Angle, Operation and PauliString live in ir/angle.py, ir/operation.py and ir/pauli.py; re-exported here.
__all__ = ["Angle", "Circuit", "CircuitBuilder", "Operation", "PauliString", "PauliSum"]


@dataclass(frozen=True, eq=False)
class Circuit:
    """A frozen parametrized circuit: qubits, operations, symbols and output observables.

    Build one with :class:`CircuitBuilder`, :meth:`from_qasm`, :meth:`from_qiskit` or
    :meth:`from_pennylane`. Two circuits are equal when their structure is
    (:attr:`fingerprint`).

    Attributes:
        n_qubits: number of qubits.
        operations: one-angle gates in time order.
        outputs: one observable per output, in order: a :class:`PauliString`, or a
            :class:`PauliSum` (a Hamiltonian, still one output).
        symbols: names of the inputs, in declaration order.
        group_weights: how a sampling device splits a circuit's shots over its measurement
            groups (:func:`~qshift.ir.grouping.group_shots`); ``None``: by the coefficients. Set
            from a pilot's measured spread (:meth:`with_group_weights`); not part of the structure.
        term_groups: the measurement groups as indices into :attr:`terms`, when they are given
            rather than found (the per-group circuit of :func:`~qshift.ir.grouping.split_by_group`).

    What is measured are the :attr:`terms`: the distinct Pauli products of all outputs.
    Output ``o`` is ``term_weights[o] @ <terms> + output_constants[o]`` (:meth:`combine`).
    """

    n_qubits: int
    operations: tuple[Operation, ...]
    outputs: tuple[Observable, ...]
    symbols: tuple[str, ...]
    name: str = field(default="circuit", compare=False)
    group_weights: tuple[float, ...] | None = field(default=None, compare=False, repr=False)
    term_groups: tuple[tuple[int, ...], ...] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        _validate(self)

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def from_qasm(cls, source: "str | Path", outputs=None) -> "Circuit":
        """Read an OpenQASM 3 (or 2) program: text, a path, or a library circuit's name.

        A path is a :class:`pathlib.Path` (any ``os.PathLike``) or a ``str`` ending in ``.qasm``;
        a name such as ``"vqe-h2"`` is read from the circuit library (:func:`qshift.library`);
        any other ``str`` is program text. ``outputs`` (a list of Pauli products or sums, as
        :class:`CircuitBuilder.expectation` takes them) gives the outputs of a program that
        declares none (a Qiskit or Braket export ending in measurements). See docs/qasm.md.

        Example:
            >>> Circuit.from_qasm("vqe-h2").n_qubits
            4
            >>> Circuit.from_qasm("OPENQASM 3.0; qubit[2] q; h q; cx q[0], q[1];", outputs=["Z0 Z1"]).outputs
            (PauliString(Z0 Z1),)
        """
        return cls(*qasm_parts(source, outputs))

    def to_qasm(self, dialect: str = "qshift") -> str:
        """OpenQASM 3 text that :meth:`from_qasm` reads back to an equal circuit; ``dialect="braket"``: a
        program for Amazon Braket, one result type per Pauli term (see :func:`qshift.ir.qasm.to_qasm`)."""
        return to_qasm(self, dialect)

    @classmethod
    def from_qiskit(cls, circuit, observables, *, symbols=None) -> "Circuit":
        """From a Qiskit ``QuantumCircuit`` with ``Parameter``s and Pauli observables (needs ``qshift[aer]``)."""
        return cls(*qiskit_parts(circuit, observables, symbols=symbols))

    @classmethod
    def from_pennylane(cls, qfunc_or_tape, *, symbols=None, wires=None) -> "Circuit":
        """From a PennyLane quantum function or tape returning ``qml.expval`` of Pauli products."""
        return cls(*pennylane_parts(qfunc_or_tape, symbols=symbols, wires=wires))

    # -- derived structure ----------------------------------------------------------------------
    @cached_property
    def fingerprint(self) -> str:
        """A stable hash of the structure (same circuit, same fingerprint in every process)."""
        doc = {
            "qubits": self.n_qubits,
            "symbols": list(self.symbols),
            "operations": [[op.gate, list(op.qubits), _angle_doc(op.angle)] for op in self.operations],
            "outputs": [_output_doc(out) for out in self.outputs],
        }
        text = json.dumps(doc, separators=(",", ":"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def __eq__(self, other):
        return isinstance(other, Circuit) and self.fingerprint == other.fingerprint

    def __hash__(self):
        return hash(self.fingerprint)

    @property
    def n_symbols(self) -> int:
        return len(self.symbols)

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    @cached_property
    def terms(self) -> tuple[PauliString, ...]:
        """The distinct non-identity Pauli products the outputs need, in first-appearance order."""
        seen: dict[PauliString, None] = {}
        for out in self.outputs:
            for _, pauli in _weighted(out):
                if pauli.factors:
                    seen.setdefault(pauli, None)
        return tuple(seen)

    @property
    def n_terms(self) -> int:
        return len(self.terms)

    @cached_property
    def term_weights(self) -> np.ndarray:
        """``(n_outputs, n_terms)``: the coefficient of each term in each output."""
        index = {p: k for k, p in enumerate(self.terms)}
        weights = np.zeros((self.n_outputs, self.n_terms))
        for o, out in enumerate(self.outputs):
            for c, pauli in _weighted(out):
                if pauli.factors:
                    weights[o, index[pauli]] += c
        weights.flags.writeable = False
        return weights

    @cached_property
    def output_constants(self) -> np.ndarray:
        """``(n_outputs,)``: each output's constant (a Hamiltonian's identity term; 1 for an identity output)."""
        constants = np.array([math.fsum(c for c, p in _weighted(out) if not p.factors) for out in self.outputs])
        constants.flags.writeable = False
        return constants

    @cached_property
    def weighted(self) -> bool:
        """Whether the outputs are anything but one distinct Pauli product each (then terms are outputs)."""
        return not (self.n_terms == self.n_outputs and np.array_equal(self.term_weights, np.eye(self.n_outputs))
                    and not self.output_constants.any())

    def with_group_weights(self, weights) -> "Circuit":
        """The same circuit, its shots split over its measurement groups in proportion to ``weights``."""
        return dataclasses.replace(self, group_weights=tuple(float(w) for w in weights))

    def combine(self, term_values: np.ndarray) -> np.ndarray:
        """Output values ``(..., n_outputs)`` from term expectations ``(..., n_terms)``.

        Example:
            >>> import numpy as np, qshift
            >>> c = qshift.CircuitBuilder(2).expectation({"Z0": 0.5, "Z0 Z1": -2.0, "": 1.0}).build()
            >>> c.combine(np.array([[1.0, 0.25]]))
            array([[1.]])
        """
        term_values = np.asarray(term_values, dtype=float)
        if not self.weighted:
            return term_values
        return term_values @ self.term_weights.T + self.output_constants

    @cached_property
    def slot_operations(self) -> tuple[int, ...]:
        """Indices into :attr:`operations` of the slots (operations whose angle has a symbol)."""
        return tuple(i for i, op in enumerate(self.operations) if op.is_slot)

    @property
    def n_slots(self) -> int:
        return len(self.slot_operations)

    @cached_property
    def slot_symbol(self) -> np.ndarray:
        """For each slot, the index of its symbol in :attr:`symbols`."""
        index = {s: i for i, s in enumerate(self.symbols)}
        return np.array([index[self.operations[i].angle.symbol] for i in self.slot_operations], dtype=np.intp)

    @cached_property
    def slot_coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """``(a, b)`` arrays: slot angle = ``a * values[slot_symbol] + b``."""
        ops = [self.operations[i] for i in self.slot_operations]
        return np.array([op.angle.a for op in ops], dtype=float), np.array([op.angle.b for op in ops], dtype=float)

    @cached_property
    def slot_jacobian(self) -> np.ndarray:
        """``(n_slots, n_symbols)``: d slot angle / d symbol value (each slot's ``a`` in its symbol's column).

        A gradient by slot angles times this is the gradient by symbols (tied and affine angles summed).

        Example:
            >>> import qshift
            >>> b = qshift.CircuitBuilder(1)
            >>> t = b.input("t")
            >>> c = b.rx(2 * t, 0).ry(t + 1, 0).expectation("Z0").build()
            >>> c.slot_jacobian.tolist()
            [[2.0], [1.0]]
        """
        a, _ = self.slot_coefficients
        jacobian = np.zeros((self.n_slots, self.n_symbols))
        jacobian[np.arange(self.n_slots), self.slot_symbol] = a
        jacobian.flags.writeable = False
        return jacobian

    @cached_property
    def slot_periods(self) -> np.ndarray:
        """For each slot, the period of its gate (shifts are folded modulo it)."""
        return np.array([self.operations[i].spec.period for i in self.slot_operations], dtype=float)

    def slot_angles(self, values: np.ndarray) -> np.ndarray:
        """Map symbol values ``(..., n_symbols)`` to slot angles ``(..., n_slots)``."""
        a, b = self.slot_coefficients
        return values[..., self.slot_symbol] * a + b

    def check_values(self, values, *, name: str = "values") -> tuple[np.ndarray, tuple[int, ...]]:
        """Validate symbol values; return them as float64 ``(rows, n_symbols)`` and the batch shape.

        A single number is the value of a circuit's one symbol (one row, like ``[x]``).

        Example:
            >>> import qshift
            >>> sin = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
            >>> sin.check_values(0.5)
            (array([[0.5]]), ())

        Raises:
            ValuesError: wrong last dimension, a single number for a circuit without exactly one
                symbol, non-numeric, NaN or infinite entries.
        """
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValuesError(f"{name} must be numbers", expected=f"an array of shape (..., {self.n_symbols})",
                              received=f"{type(values).__name__}: {exc}", fix="pass a float array") from None
        if arr.ndim == 0 and self.n_symbols == 1:
            arr = arr.reshape(1)
        elif arr.ndim == 0:
            raise ValuesError(
                f"a single number for {name} fits only a circuit with one symbol",
                expected=f"one value per symbol {list(self.symbols)}: shape (..., {self.n_symbols})",
                received=f"the number {arr.item()!r}",
                fix=f"pass a list of {self.n_symbols} values in the order of circuit.symbols" if self.n_symbols
                else "pass an empty list of values: this circuit has no symbols")
        if arr.shape[-1] != self.n_symbols:
            raise ValuesError(
                f"{name} has the wrong shape for this circuit",
                expected=f"shape (..., {self.n_symbols}) — one value per symbol {list(self.symbols)}",
                received=f"shape {arr.shape}",
                fix=f"pass an array whose last axis has length {self.n_symbols}, in the order of circuit.symbols",
            )
        bad = ~np.isfinite(arr)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValuesError(f"{name} contains NaN or infinite entries", expected="finite angles",
                              received=f"{arr[where]} at index {where}", fix="replace non-finite angles before calling")
        rows = int(np.prod(arr.shape[:-1], dtype=np.int64))  # -1 cannot be inferred when n_symbols == 0
        return arr.reshape(rows, self.n_symbols), arr.shape[:-1]

    # -- display --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return (f"Circuit({self.name!r}, qubits={self.n_qubits}, operations={len(self.operations)}, "
                f"slots={self.n_slots}, symbols={list(self.symbols)}, "
                f"outputs={[o.short() if isinstance(o, PauliSum) else str(o) for o in self.outputs]})")

    def draw(self, max_width: int | None = None) -> str:
        """A text drawing: one line per qubit, gates packed into columns, then the outputs.

        ``max_width`` folds a long drawing into blocks of at most that many characters.
        """
        return draw_text(self, max_width)

    def _repr_html_(self) -> str:
        return circuit_html(self)

    def _repr_svg_(self) -> str:
        return circuit_svg(self)


def _angle_doc(angle: Angle | None):
    return None if angle is None else [angle.symbol, angle.a, angle.b]


_QASM_RESERVED = frozenset("""
    OPENQASM angle array barrier bit bool box break cal case complex const continue creg ctrl def default defcal
    defcalgrammar delay duration durationof else end extern false float for gate gphase if im in include input int
    inv let measure mutable negctrl output pow qreg qubit readonly reset return stretch switch true uint void while
    pi π tau τ euler ℇ""".split())
"""OpenQASM 3 keywords and built-in constants: names :meth:`Circuit.to_qasm` could not declare as inputs."""


def _check_symbol_name(name) -> None:
    """Raise :class:`SymbolError` unless ``name`` can be a symbol (and an OpenQASM 3 input)."""
    if isinstance(name, str) and name.isidentifier() and name not in _QASM_RESERVED:
        return
    reserved = isinstance(name, str) and name in _QASM_RESERVED
    raise SymbolError(f"{name!r} cannot be a symbol name",
                      expected="an identifier that is not an OpenQASM 3 keyword or constant, e.g. 'theta' or 'w_0'",
                      received=repr(name) + (" (reserved in OpenQASM 3)" if reserved else ""),
                      fix="use letters, digits and underscores" + (f", e.g. '{name}_'" if reserved else ""))


def _weighted(out: Observable) -> tuple[tuple[float, PauliString], ...]:
    """``(coefficient, product)`` pairs of an output; the identity product carries a constant."""
    if isinstance(out, PauliSum):
        return out.terms + (((out.constant, PauliString(())),) if out.constant else ())
    return ((1.0, out),)


def _output_doc(out: Observable):
    """An output in the fingerprint: a product's factors (as always), or a sum's terms and constant."""
    if isinstance(out, PauliSum):
        return {"terms": [[c.hex(), [list(f) for f in p.factors]] for c, p in out.terms],
                "constant": out.constant.hex()}
    return [list(f) for f in out.factors]


def _validate(c: Circuit) -> None:
    check_qubits(c.n_qubits)  # 1..MAX_QUBITS, before anything is computed from it
    for name in c.symbols:
        _check_symbol_name(name)
    if len(set(c.symbols)) != len(c.symbols):
        dup = sorted({s for s in c.symbols if c.symbols.count(s) > 1})
        raise SymbolError(f"symbol(s) {dup} declared more than once", expected="distinct symbol names",
                          received=str(list(c.symbols)), fix="rename or remove the duplicate")
    declared = set(c.symbols)
    for i, op in enumerate(c.operations):
        _validate_operation(c.n_qubits, declared, i, op)
    for out in c.outputs:
        if not isinstance(out, (PauliString, PauliSum)):
            raise CircuitError("an output must be an observable", expected="a PauliString or a PauliSum",
                               received=type(out).__name__, fix="build outputs with builder.expectation(...)")
        _check_qubits(c.n_qubits, out.qubits, f"output {out}")
    if not c.outputs:
        raise CircuitError("a circuit needs at least one output", expected="one or more Pauli expectations",
                           received="none", fix="add an expectation, e.g. builder.expectation('Z0')")



def _validate_operation(n_qubits: int, declared: set[str], i: int, op: Operation) -> None:
    spec = lookup(op.gate)
    if spec.name != op.gate:
        raise CircuitError(f"operation {i} uses alias {op.gate!r}", expected="a canonical gate name",
                           received=repr(op.gate), fix=f"use {spec.name!r}")
    if len(op.qubits) != spec.n_qubits or len(set(op.qubits)) != len(op.qubits):
        raise GateArityError(f"operation {i} ({op.gate}) has the wrong qubits",
                             expected=f"{spec.n_qubits} distinct qubit(s)", received=str(list(op.qubits)),
                             fix=f"apply {op.gate} to {spec.n_qubits} distinct qubit(s)")
    if spec.parametrized != (op.angle is not None):
        raise GateArityError(f"operation {i} ({op.gate}) has the wrong number of angles",
                             expected=f"{int(spec.parametrized)} angle(s)", received=f"{int(op.angle is not None)}",
                             fix="give parametrized gates exactly one angle and fixed gates none")
    _check_qubits(n_qubits, op.qubits, f"operation {i} ({op.gate})")
    if op.angle is not None:
        if not math.isfinite(op.angle.a) or not math.isfinite(op.angle.b):
            raise ValuesError(f"operation {i} ({op.gate}) has a non-finite angle", expected="finite numbers",
                              received=str(op.angle), fix="use finite constants")
        if op.angle.symbol is not None and op.angle.symbol not in declared:
            raise SymbolError(f"operation {i} ({op.gate}) uses undeclared symbol {op.angle.symbol!r}",
                              expected=f"one of {sorted(declared)}", received=repr(op.angle.symbol),
                              fix="declare the symbol as an input first")


def _check_qubits(n_qubits: int, qubits: Iterable[int], where: str) -> None:
    for q in qubits:
        if not isinstance(q, numbers.Integral) or not 0 <= q < n_qubits:
            raise QubitIndexError(f"{where} uses qubit {q!r}, outside the register",
                                  expected=f"an index in 0..{n_qubits - 1}", received=repr(q),
                                  fix=f"use a qubit below {n_qubits} or declare more qubits")


class CircuitBuilder:
    """Write a :class:`Circuit` in Python.

    Gate methods are named after the gates (``rx``, ``cx``, ``u3``, ``rzz`` ...): angles first,
    then qubits. Angles are numbers or affine expressions of the symbols that :meth:`input`
    returns. Every method returns the builder, so calls chain.

    Example:
        >>> import qshift, math
        >>> b = qshift.CircuitBuilder(1, name="sin")
        >>> x = b.input("x")
        >>> c = b.ry(x, 0).expectation("X0").build()
        >>> round(float(qshift.simulate(c, [[math.pi / 6]])[0, 0]), 12)
        0.5
    """

    def __init__(self, n_qubits: int, *, name: str = "circuit"):
        self.n_qubits = check_qubits(n_qubits)  # 1..MAX_QUBITS (qshift.ir.limits), refused at once
        self.name = name
        self._symbols: list[str] = []
        self._ops: list[Operation] = []
        self._outputs: list[Observable] = []

    def input(self, name: str) -> Angle:
        """Declare a symbol; returns it as an :class:`Angle` for use in gate angles."""
        _check_symbol_name(name)
        if name in self._symbols:
            raise SymbolError(f"symbol {name!r} declared twice", expected="distinct names",
                              received=repr(name), fix="reuse the Angle returned the first time")
        self._symbols.append(name)
        return Angle(name)

    def inputs(self, *names: str) -> list[Angle]:
        """Declare several symbols at once."""
        return [self.input(n) for n in names]

    def gate(self, name: str, *args) -> "CircuitBuilder":
        """Append gate ``name`` with its angles then its qubits, e.g. ``gate('crx', theta, 0, 1)``."""
        n_qubits, n_angles = arity(name)
        angles = tuple(as_angle(a) for a in args[:n_angles])
        qubits = tuple(args[n_angles:])
        for canonical, qs, angle in expand(name, qubits, angles):
            self._ops.append(Operation(canonical, tuple(qs), None if angle is None else as_angle(angle)))
        return self

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in GATES or name in ALIASES or name in MULTI_ANGLE:
            return lambda *args: self.gate(name, *args)
        raise AttributeError(f"CircuitBuilder has no gate or method {name!r}")

    def expectation(self, observable) -> "CircuitBuilder":
        """Add an output: the expectation of a Pauli product or of a weighted sum of them (a Hamiltonian).

        ``observable`` is a product (``'Z0'``, ``'X0 Z1'``, ``{0: 'X', 1: 'Z'}``) or a sum
        (``{'Z0 Z1': 0.5, 'X0': -0.2, '': 1.1}`` with ``''`` the constant, ``[(0.5, 'Z0 Z1'), ...]``,
        or a :class:`PauliSum`). A sum is one output: one value, one gradient row.

        Example:
            >>> import qshift
            >>> c = qshift.CircuitBuilder(2).h(0).expectation({"X0": 0.5, "Z1": -0.25, "": 1.0}).build()
            >>> round(float(qshift.simulate(c, np.zeros((1, 0)))[0, 0]), 12)   # 0.5 - 0.25 + 1
            1.25
        """
        self._outputs.append(as_observable(observable))
        return self

    def build(self) -> Circuit:
        return Circuit(self.n_qubits, tuple(self._ops), tuple(self._outputs), tuple(self._symbols), name=self.name)

    def __repr__(self) -> str:
        return f"CircuitBuilder(qubits={self.n_qubits}, operations={len(self._ops)})"

