"""Circuits from Qiskit and PennyLane.

Both converters produce the parts of a circuit
(:class:`~qshift.ir.operation.CircuitParts`), as the OpenQASM reader does;
:meth:`~qshift.Circuit.from_qiskit` and :meth:`~qshift.Circuit.from_pennylane`
build the same frozen :class:`~qshift.Circuit` from them, so everything
downstream (planner, simulator, devices) is unaware of where a circuit came from.

**Qiskit** (:func:`qiskit_parts`): a ``QuantumCircuit`` whose gate angles are
numbers, ``Parameter`` objects or ``ParameterExpression`` objects affine in one parameter
(``2*theta + 0.5``). Qiskit qubit ``q`` (its index in ``circuit.qubits``) is
qshift qubit ``q``. Observables are Pauli labels in Qiskit's little-endian
order (``"XZ"`` is X on qubit 1 and Z on qubit 0), ``Pauli`` objects, or one-term
``SparsePauliOp`` objects with coefficient 1. Barriers and delays are skipped.

**PennyLane** (:func:`pennylane_parts`): a quantum function is called once with
one *symbolic* argument per symbol. Inside it, ``+ - * /`` with numbers keep an
argument affine, so ``qml.RX(2 * theta + 0.5, wires=0)`` records the angle
``2*theta + 0.5`` exactly; anything else (``np.sin(theta)``, ``theta**2``,
``theta * phi``, ``float(theta)``, ``if theta > 0``) is refused. A recorded tape
(``QuantumScript``) is read as is: each trainable parameter becomes a symbol.

*Array arguments.* ``symbols={"weights": (2, 3)}`` calls the function with a 2x3 array
of symbols, one per element, named ``weights_0_0, weights_0_1, ..., weights_1_2``
(row-major; a vector ``{"w": 4}`` gives ``w_0 .. w_3``; ``()`` is a scalar). The
circuit's symbols are every argument's elements in argument order, so the values of
``circuit(x, weights)`` are ``np.concatenate([np.ravel(x), np.ravel(weights)])`` and a
gradient's columns reshape back with ``grad[..., 1:].reshape(2, 3)``.

*Gates.* PennyLane gates qshift has are read directly, the chemistry gates included
(``SingleExcitation`` -> ``sexc``, ``DoubleExcitation`` -> ``dexc`` and their
``Plus``/``Minus`` forms, each with its exact multi-term shift rule);
``qml.BasisState`` with a constant state becomes X gates. Every other operation
(templates such as ``AngleEmbedding``, ``BasicEntanglerLayers``,
``StronglyEntanglingLayers``, ``UCCSD``, ``AllSinglesDoubles``, the
``FermionicSingleExcitation``/``FermionicDoubleExcitation`` they use, ``MultiRZ`` ...)
is replaced by its PennyLane ``decomposition()``, recursively, until every operation
is one qshift has; the symbols stay affine through it (``weight / 2``) or the
conversion is refused. A QNode's transforms (``qml.transforms.decompose(qnode,
gate_set=...)``) are applied to the recorded circuit; a transform that returns
several circuits or post-processes results is refused, never ignored.

Wire order for PennyLane: ``wires=`` when given; else the QNode's device wires
when the device declares them; else the wires in sorted order (falling back
to order of first appearance when the labels cannot be compared). The i-th
wire of that order is qshift qubit i.

Example:
    >>> import numpy as np, pennylane as qml, qshift
    >>> def f(theta, phi):
    ...     qml.RY(2 * theta + 0.5, wires="a")
    ...     qml.CNOT(wires=["a", "b"])
    ...     qml.RX(phi, wires="b")
    ...     return qml.expval(qml.Z("a") @ qml.Z("b"))
    >>> c = qshift.Circuit.from_pennylane(f)
    >>> c.symbols, [str(op.angle) for op in c.operations if op.angle is not None]
    (('theta', 'phi'), ['2.0*theta + 0.5', 'phi'])
"""

from __future__ import annotations

import inspect
import numbers
import re
from collections.abc import Mapping

import numpy as np

from qshift._errors import (CircuitError, NonAffineAngleError, QShiftError, QubitIndexError, SymbolError,
                            UnknownGateError, require)
from qshift.ir.angle import Angle, as_angle
from qshift.ir.gates import ALIASES, GATES, MULTI_ANGLE, expand
from qshift.ir.operation import CircuitParts, Operation
from qshift.ir.pauli import Observable, PauliString, PauliSum

__all__ = ["pennylane_parts", "qiskit_parts"]

_QSHIFT_GATES = set(GATES) | set(ALIASES) | set(MULTI_ANGLE)


# -- shared ---------------------------------------------------------------------------------------

def _located(exc: QShiftError, where: str) -> QShiftError:
    """The same error with ``where`` (e.g. ``instruction 3 (rx)``) in front of its problem."""
    return type(exc)(f"{where}: {exc.problem}", expected=exc.expected, received=exc.received, fix=exc.fix,
                     line=exc.line)


def _pennylane_call(fn, where: str, failure: str, *, expected: str, fix: str):
    """``fn()``: a qshift error gets ``where`` in front; any other error of PennyLane's becomes a
    :class:`CircuitError` saying ``failure`` (with PennyLane's message as what was received)."""
    try:
        return fn()
    except QShiftError as exc:
        raise _located(exc, where) from None
    except Exception as exc:  # noqa: BLE001 - PennyLane's own errors, reported with their text
        raise CircuitError(failure, expected=expected, received=f"{type(exc).__name__}: {exc}", fix=fix) from exc


def _append(ops: list[Operation], gate: str, qubits: tuple[int, ...], angles: tuple[Angle, ...], where: str):
    """Expand one gate into qshift operations, naming ``where`` in any error."""
    try:
        expanded = expand(gate, qubits, angles)
    except CircuitError as exc:
        raise _located(exc, where) from None
    for name, qs, angle in expanded:
        ops.append(Operation(name, tuple(qs), None if angle is None else as_angle(angle)))


def _check_names(names, where: str) -> tuple[str, ...]:
    """Symbol names given by the user: distinct identifiers."""
    names = tuple(names)
    for name in names:
        if not isinstance(name, str) or not name.isidentifier():
            raise SymbolError(f"{where}: symbol name {name!r} is not an identifier",
                              expected="names like 'theta' or 'w_0'", received=repr(name),
                              fix="use letters, digits and underscores")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SymbolError(f"{where}: symbol(s) {dup} given more than once", expected="distinct names",
                          received=str(list(names)), fix="list every symbol once")
    return names


def _identifier(name: str) -> str:
    """A qshift symbol name for a foreign parameter name: ``w[0]`` becomes ``w_0``.

    Example:
        >>> _identifier("w[0]"), _identifier("theta")
        ('w_0', 'theta')
    """
    text = re.sub(r"\W+", "_", name).strip("_") or "p"
    return "p_" + text if text[0].isdigit() else text


# -- Qiskit ---------------------------------------------------------------------------------------

_QISKIT_SKIPPED = {"barrier", "delay"}
_QISKIT_REFUSED = {
    "measure": "remove the measurements: qshift outputs are the expectation values you pass as observables",
    "reset": "remove the reset: a qshift circuit starts in |0...0> and cannot reset",
}


def qiskit_parts(circuit, observables, symbols=None) -> CircuitParts:
    """The parts of a :class:`~qshift.Circuit` from a Qiskit ``QuantumCircuit`` and Pauli observables.

    Args:
        circuit: the circuit; angles are numbers or expressions affine in one ``Parameter``.
        observables: one or a list of Pauli labels (little-endian: ``"XZ"`` is X on qubit 1,
            Z on qubit 0), ``Pauli`` objects or one-term ``SparsePauliOp`` objects with coefficient 1.
        symbols: names or ``Parameter`` objects fixing the symbol order; default
            ``circuit.parameters`` (sorted by name). ``ParameterVector`` elements such as
            ``w[0]`` become symbols named ``w_0``.

    Example:
        >>> from qiskit.circuit import QuantumCircuit, Parameter
        >>> theta = Parameter("theta")
        >>> qc = QuantumCircuit(2)
        >>> _ = qc.ry(2 * theta + 0.5, 0), qc.cx(0, 1)
        >>> parts = qiskit_parts(qc, ["ZZ", "IX"])
        >>> parts.symbols, [str(o) for o in parts.outputs]
        (('theta',), ['Z0 Z1', 'X0'])
    """
    require("qiskit", "aer")
    params, names = _qiskit_symbols(circuit, symbols)
    ops: list[Operation] = []
    for index, instruction in enumerate(circuit.data):
        _qiskit_instruction(ops, circuit, index, instruction, params)
    outputs = _qiskit_observables(observables, circuit.num_qubits)
    return CircuitParts(circuit.num_qubits, tuple(ops), outputs, names, circuit.name or "circuit")


def _qiskit_symbols(circuit, symbols) -> tuple[dict, tuple[str, ...]]:
    """``{Parameter: qshift name}`` and the symbol names in order."""
    available = list(circuit.parameters)
    chosen = available if symbols is None else _chosen_parameters(available, list(symbols))
    names = tuple(_identifier(p.name) for p in chosen)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SymbolError(f"parameter names collide as qshift symbols {dup}",
                          expected="parameter names that stay distinct as identifiers",
                          received=str([p.name for p in chosen]), fix="rename the Qiskit parameters")
    return dict(zip(chosen, names)), names


def _chosen_parameters(available: list, symbols: list) -> list:
    """The circuit's parameters in the order ``symbols=`` gives, each exactly once."""
    chosen = [_qiskit_parameter(available, s) for s in symbols]
    given = [p.name for p in chosen]
    dup = sorted({n for n in given if given.count(n) > 1})
    if dup:
        raise SymbolError(f"symbols= lists parameter(s) {dup} more than once", expected="each parameter once",
                          received=str(given), fix="list every parameter once")
    missing = [p.name for p in available if p.name not in given]
    if missing:
        raise SymbolError(f"circuit parameter(s) {missing} are not in symbols=",
                          expected="every parameter of the circuit listed in symbols=", received=str(given),
                          fix=f"add {missing} to symbols= (or assign them values first)")
    return chosen


def _qiskit_parameter(available: list, symbol):
    """The circuit parameter that ``symbol`` (a name or a ``Parameter``) designates."""
    name = getattr(symbol, "name", symbol)
    for p in available:
        if p.name == name:
            return p
    raise SymbolError(f"symbols= names {name!r}, which the circuit does not use",
                      expected=f"one of the circuit's parameters {[p.name for p in available]}",
                      received=repr(name), fix="list only parameters of this circuit (check the spelling)")


def _qiskit_instruction(ops: list[Operation], circuit, index: int, instruction, params: dict) -> None:
    operation = instruction.operation
    name = operation.name
    where = f"instruction {index} ({name})"
    _qiskit_refuse(operation, where)
    if name in _QISKIT_SKIPPED:
        return
    qubits = tuple(circuit.find_bit(q).index for q in instruction.qubits)
    angles = tuple(_qiskit_angle(p, params, where) for p in operation.params)
    _append(ops, name, qubits, angles, where)


def _qiskit_refuse(operation, where: str) -> None:
    """Raise for measurements, resets, classical control and gates qshift does not know."""
    name = operation.name
    if name in _QISKIT_REFUSED:
        raise CircuitError(f"{where}: {name} is not supported", expected="unitary gates only",
                           received=name, fix=_QISKIT_REFUSED[name])
    if getattr(operation, "condition", None) is not None or _is_control_flow(operation):
        raise CircuitError(f"{where}: classical control is not supported", expected="unitary gates only",
                           received=name, fix="remove classical conditions and control flow (if_test, "
                                              "for_loop, while_loop, switch)")
    if name not in _QSHIFT_GATES and name not in _QISKIT_SKIPPED:
        raise UnknownGateError(f"{where}: unknown gate {name!r}",
                               expected="one of " + ", ".join(sorted(_QSHIFT_GATES)), received=repr(name),
                               fix="transpile first, e.g. qiskit.transpile(circuit, basis_gates=['rx', 'ry', "
                                   "'rz', 'cx'])")


def _is_control_flow(operation) -> bool:
    from qiskit.circuit import ControlFlowOp

    return isinstance(operation, ControlFlowOp)


def _qiskit_angle(value, params: dict, where: str) -> Angle:
    """An :class:`Angle` from a number or a ``ParameterExpression`` affine in one parameter."""
    from qiskit.circuit import ParameterExpression

    if not isinstance(value, ParameterExpression):
        return Angle.constant(_real(value, where))
    used = list(value.parameters)
    if not used:
        return Angle.constant(_real(complex(value), where))
    if len(used) > 1:
        raise _qiskit_non_affine(value, where, f"it depends on {sorted(p.name for p in used)}")
    (param,) = used
    slope = value.gradient(param)
    if isinstance(slope, ParameterExpression):
        raise _qiskit_non_affine(value, where, f"its derivative {slope} still depends on {param.name}")
    offset = complex(value.assign(param, 0.0))
    return Angle(params[param], _real(slope, where), _real(offset, where))


def _real(value, where: str) -> float:
    number = complex(value)
    if number.imag != 0:
        raise NonAffineAngleError(f"{where}: complex angle", expected="a real angle", received=repr(value),
                                  fix="use real coefficients")
    return number.real


def _qiskit_non_affine(value, where: str, why: str) -> NonAffineAngleError:
    return NonAffineAngleError(f"{where}: angle {value} is not affine in one parameter ({why})",
                               expected="a * parameter + b, or a number", received=str(value),
                               fix="use one gate per parameter (rotation angles about one axis add), or move "
                                   "the nonlinearity into classical code feeding a new parameter")


def _qiskit_observables(observables, n_qubits: int) -> tuple[Observable, ...]:
    single = isinstance(observables, str) or not isinstance(observables, (list, tuple))
    items = [observables] if single else list(observables)
    return tuple(_qiskit_observable(obs, n_qubits, f"observable {i}") for i, obs in enumerate(items))


def _qiskit_observable(obs, n_qubits: int, where: str) -> Observable:
    """A :class:`PauliString` from a little-endian label, a ``Pauli`` or a one-term ``SparsePauliOp`` of
    coefficient 1; a :class:`PauliSum` from any other ``SparsePauliOp`` with real coefficients (one output)."""
    from qiskit.quantum_info import Pauli, SparsePauliOp

    if isinstance(obs, (PauliString, PauliSum)):
        return obs
    if isinstance(obs, SparsePauliOp):
        _check_width(obs, n_qubits, where)
        obs = obs.simplify(atol=0.0)
        if len(obs) == 1 and abs(complex(obs.coeffs[0]) - 1) <= 1e-12 and obs.paulis[0].phase == 0:
            obs = obs.paulis[0]
        else:
            return _qiskit_sum(obs, where)
    elif isinstance(obs, str):
        obs = _parse_label(obs, where)
    elif not isinstance(obs, Pauli):
        raise CircuitError(f"{where}: cannot read {type(obs).__name__} as an observable",
                           expected="a Pauli label like 'XZ', a Pauli, or a SparsePauliOp with real coefficients",
                           received=repr(obs), fix="pass Pauli products or SparsePauliOp Hamiltonians")
    _check_width(obs, n_qubits, where)
    if obs.phase != 0:
        return _qiskit_sum(SparsePauliOp(obs), where)  # -X0 is the sum -1 * X0; an imaginary phase is refused
    return _qiskit_product(obs.to_label())


def _check_width(obs, n_qubits: int, where: str) -> None:
    if obs.num_qubits != n_qubits:
        raise CircuitError(f"{where}: observable acts on {obs.num_qubits} qubit(s), the circuit has {n_qubits}",
                           expected=f"a label of length {n_qubits}", received=str(obs),
                           fix="pad with I; labels are little-endian (rightmost character is qubit 0)")


def _qiskit_product(label: str) -> PauliString:
    letters = label.lstrip("-i")[::-1]  # little-endian: character q from the right is qubit q
    return PauliString.parse({q: p for q, p in enumerate(letters) if p != "I"})


def _qiskit_sum(op, where: str) -> PauliSum:
    """A ``SparsePauliOp`` as a weighted sum: real coefficients only (the operator must be Hermitian)."""
    pairs = []
    for label, coefficient in op.to_list():
        c = complex(coefficient)
        if abs(c.imag) > 1e-12 * max(1.0, abs(c.real)):
            terms = ", ".join(f"{_coefficient(complex(k))}*{p}" for p, k in op.to_list())
            raise CircuitError(f"{where}: SparsePauliOp has a complex coefficient", expected="real coefficients "
                               "(a Hermitian observable)", received=terms,
                               fix="take the Hermitian part, e.g. (op + op.adjoint()) / 2, then .simplify()")
        pairs.append((c.real, _qiskit_product(label)))
    return PauliSum.parse(pairs)


def _parse_label(label: str, where: str):
    from qiskit.quantum_info import Pauli

    if not re.fullmatch(r"[IXYZ]+", label):
        raise CircuitError(f"{where}: cannot read Pauli label {label!r}",
                           expected="letters I, X, Y, Z, rightmost for qubit 0 (e.g. 'IXZ')", received=repr(label),
                           fix="write one letter per qubit with no signs or spaces")
    return Pauli(label)


def _coefficient(c: complex) -> str:
    return f"{c.real:+g}" if c.imag == 0 else f"({c:g})"


# -- PennyLane ------------------------------------------------------------------------------------

# PennyLane op name -> (qshift gate, order in which its parameters become that gate's angles).
_PL_GATES = {
    "RX": ("rx", (0,)), "RY": ("ry", (0,)), "RZ": ("rz", (0,)), "PhaseShift": ("p", (0,)), "U1": ("p", (0,)),
    "CNOT": ("cx", ()), "CZ": ("cz", ()), "CY": ("cy", ()), "CH": ("ch", ()), "Hadamard": ("h", ()),
    "PauliX": ("x", ()), "PauliY": ("y", ()), "PauliZ": ("z", ()), "Identity": ("id", ()),
    "S": ("s", ()), "T": ("t", ()), "SX": ("sx", ()), "SWAP": ("swap", ()), "Toffoli": ("ccx", ()),
    "CSWAP": ("cswap", ()), "CRX": ("crx", (0,)), "CRY": ("cry", (0,)), "CRZ": ("crz", (0,)),
    "ControlledPhaseShift": ("cp", (0,)), "IsingXX": ("rxx", (0,)), "IsingYY": ("ryy", (0,)),
    "IsingZZ": ("rzz", (0,)), "U2": ("u2", (0, 1)), "U3": ("u3", (0, 1, 2)),
    "Rot": ("u3", (1, 2, 0)),  # Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi) = u3(theta, omega, phi)
    "SingleExcitation": ("sexc", (0,)), "SingleExcitationPlus": ("sexcp", (0,)),
    "SingleExcitationMinus": ("sexcm", (0,)), "DoubleExcitation": ("dexc", (0,)),
    "DoubleExcitationPlus": ("dexcp", (0,)), "DoubleExcitationMinus": ("dexcm", (0,)),
}
_PL_SKIPPED = {"Barrier", "GlobalPhase", "Snapshot"}  # no effect on expectation values
_PL_STATES = {"BasisState", "BasisStatePreparation"}  # a constant basis state: X gates
_MAX_DEPTH = 32  # nested decompositions followed before giving up
_SELF_INVERSE = {"cx", "cz", "cy", "ch", "h", "x", "y", "z", "id", "swap", "ccx", "cswap"}
_INVERSE = {"s": "sdg", "t": "tdg"}


class _Symbolic:
    """A symbol as a PennyLane quantum function sees it: ``+ - * /`` with numbers stay affine.

    Every other use (a NumPy function, a power, a comparison, ``float()``) raises a qshift
    error naming the symbol, so a recorded angle is exactly the expression the function wrote.

    Example:
        >>> theta = _Symbolic(Angle("theta"))
        >>> (np.float64(2) * theta + 0.5).angle
        Angle(symbol='theta', a=2.0, b=0.5)
    """

    __slots__ = ("angle",)

    def __init__(self, angle: Angle):
        self.angle = angle

    def _apply(self, operation, other):
        value = _affine_operand(other)
        if value is NotImplemented:
            return NotImplemented
        return _Symbolic(operation(value))

    def __add__(self, other):
        return self._apply(lambda v: self.angle + v, other)

    def __radd__(self, other):
        return self._apply(lambda v: v + self.angle, other)

    def __sub__(self, other):
        return self._apply(lambda v: self.angle - v, other)

    def __rsub__(self, other):
        return self._apply(lambda v: v - self.angle, other)

    def __mul__(self, other):
        return self._apply(lambda v: self.angle * v, other)

    def __rmul__(self, other):
        return self._apply(lambda v: v * self.angle, other)

    def __truediv__(self, other):
        return self._apply(self._divide, other)

    def _divide(self, value):
        if isinstance(value, Angle) and not value.is_constant:
            raise self._refuse(f"({self.angle}) / ({value})", "division by a symbol")
        return self.angle / value

    def __rtruediv__(self, other):
        raise self._refuse(f"{other} / ({self.angle})", "division by a symbol")

    def __neg__(self):
        return _Symbolic(-self.angle)

    def __pos__(self):
        return self

    def __pow__(self, other):
        raise self._refuse(f"({self.angle}) ** {other}", "a power of a symbol")

    def __rpow__(self, other):
        raise self._refuse(f"{other} ** ({self.angle})", "a power of a symbol")

    def __abs__(self):
        raise self._refuse(f"abs({self.angle})", "abs() of a symbol")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        linear = {np.add: "__add__", np.subtract: "__sub__", np.multiply: "__mul__", np.true_divide: "__truediv__"}
        if method == "__call__" and not kwargs and ufunc in (np.negative, np.positive):
            return -self if ufunc is np.negative else self
        if method == "__call__" and not kwargs and ufunc in linear and len(inputs) == 2:
            lhs, rhs = inputs
            if lhs is self:
                return getattr(self, linear[ufunc])(rhs)
            return getattr(self, "__r" + linear[ufunc][2:])(lhs)
        raise self._refuse(f"numpy.{ufunc.__name__}({self.angle})", f"numpy.{ufunc.__name__} of a symbol")

    def _refuse(self, text: str, what: str) -> NonAffineAngleError:
        return NonAffineAngleError(f"{what} is not affine", expected="a * symbol + b in one symbol", received=text,
                                   fix="use the arguments only as a * symbol + b inside gate angles; move "
                                       "nonlinear functions into classical code feeding a new symbol")

    def _concrete(self, *_):
        raise CircuitError(f"the quantum function needs the numeric value of symbol {self.angle.symbol!r}",
                           expected="symbols used only inside gate angles, combined with numbers by + - * /",
                           received="a conversion to a number, a comparison or a truth test",
                           fix="remove control flow on the symbol, or record a tape with numbers and pass it")

    __float__ = __int__ = __complex__ = __index__ = __bool__ = _concrete
    __lt__ = __le__ = __gt__ = __ge__ = _concrete

    def __repr__(self) -> str:
        return f"<symbolic {self.angle}>"


def _affine_operand(other):
    """A number or :class:`Angle` that an affine expression may combine with, else NotImplemented."""
    if isinstance(other, _Symbolic):
        return other.angle
    if isinstance(other, np.ndarray) and other.ndim == 0 and other.dtype == object:  # an element of a symbol array
        return _affine_operand(other.item())
    if isinstance(other, numbers.Real):
        return float(other)
    if isinstance(other, np.ndarray) and other.ndim == 0 and np.isrealobj(other):
        return float(other)
    return NotImplemented


def pennylane_parts(qfunc_or_tape, symbols=None, wires=None) -> CircuitParts:
    """The parts of a :class:`~qshift.Circuit` from a PennyLane quantum function, QNode or tape.

    Args:
        qfunc_or_tape: a function applying PennyLane gates and returning ``qml.expval`` of Pauli
            products (one or a tuple); a QNode wrapping one (its transforms, such as
            ``qml.transforms.decompose``, are applied to the recorded circuit); or a
            ``QuantumScript``/tape.
        symbols: for a function, the names of its arguments (default: its parameters without
            defaults, from its signature), or a dict ``{name: shape}`` in argument order when
            some arguments are arrays: ``{"weights": (2, 3)}`` passes a 2x3 array of symbols
            ``weights_0_0, weights_0_1, ..., weights_1_2`` (row-major; ``()`` is a scalar, ``4``
            a vector ``weights_0 .. weights_3``). For a tape of numbers, one name per trainable
            parameter (default ``p0, p1, ...``; an array parameter ``p1`` gives ``p1_0, p1_1 ...``;
            basis states and other integer arrays stay constants); the tape's values are then the
            symbol values.
        wires: the wire order; wire ``wires[i]`` becomes qubit ``i`` (see the module docstring).

    Example:
        >>> import pennylane as qml
        >>> tape = qml.tape.QuantumScript([qml.RX(0.3, 0), qml.CNOT([0, 1])], [qml.expval(qml.Y(1))])
        >>> parts = pennylane_parts(tape)
        >>> parts.symbols, str(parts.outputs[0])
        (('p0',), 'Y1')
    """
    qml = require("pennylane", "pennylane")
    source, device_wires, pipeline = _unwrap_qnode(qml, qfunc_or_tape)
    if isinstance(source, qml.tape.QuantumScript):
        tape, names = _tape_with_symbols(source, symbols)
        name = "tape"
    else:
        tape, names = _record(qml, source, symbols)
        name = getattr(source, "__name__", "circuit")
    if pipeline:
        tape = _transformed(pipeline, tape)
    primitive = [(where, op) for i, top in enumerate(tape.operations)
                 for where, op in _expanded(top, f"operation {i} ({top.name})")]
    used = qml.wires.Wires.all_wires([tape.wires] + [op.wires for _, op in primitive])
    order = _wire_order(list(used), wires, device_wires)
    index = {w: i for i, w in enumerate(order)}
    ops, used_symbols = _pennylane_ops(primitive, index)
    out = tuple(_pennylane_output(m, index, f"output {i}") for i, m in enumerate(tape.measurements))
    return CircuitParts(len(order), tuple(ops), out, used_symbols if names is None else names, name)


def _unwrap_qnode(qml, source):
    """The quantum function or tape inside ``source``, its device's wires and its transforms (or ``None``)."""
    if isinstance(source, qml.QNode):
        pipeline = getattr(source, "compile_pipeline", None)
        if pipeline is None:  # PennyLane before 0.45
            pipeline = getattr(source, "transform_program", None)
        return source.func, source.device.wires, pipeline
    if isinstance(source, qml.tape.QuantumScript) or callable(source):
        return source, None, None
    raise CircuitError("cannot convert this object from PennyLane", expected="a quantum function, QNode or tape",
                       received=type(source).__name__, fix="pass the function that applies the gates")


# -- symbols --------------------------------------------------------------------------------------

def _record(qml, qfunc, symbols):
    """Call ``qfunc`` with symbolic arguments; the tape (measuring what it returns) and the symbol names."""
    args, names = _symbolic_arguments(qfunc, symbols)
    try:
        with qml.queuing.AnnotatedQueue() as queue:
            result = qfunc(*args)
    except QShiftError:
        raise
    except Exception as exc:
        raise CircuitError("the quantum function failed when called with symbolic arguments",
                           expected=f"a function of {list(names)} using them only in gate angles, as a*x + b",
                           received=f"{type(exc).__name__}: {exc}",
                           fix="take one scalar argument per symbol, or declare array arguments with their "
                               "shapes (symbols={'weights': (2, 3)}); use only + - * / with numbers "
                               "(qml.math/np functions of a symbol are not affine) and keep basis states "
                               "(qml.BasisState) constant; or pass a recorded tape") from exc
    tape = qml.tape.QuantumScript.from_queue(queue)
    return qml.tape.QuantumScript(tape.operations, _returned_measurements(qml, result)), names


def _symbolic_arguments(qfunc, symbols) -> tuple[list, tuple[str, ...]]:
    """The arguments to call ``qfunc`` with (symbols, or arrays of symbols) and the symbol names."""
    if isinstance(symbols, Mapping):
        shapes = {_check_names([k], "symbols=")[0]: _shape(k, v) for k, v in symbols.items()}
    else:
        names = _check_names(symbols, "symbols=") if symbols is not None else _argument_names(qfunc)
        shapes = dict.fromkeys(names, ())
    flat = _check_names([e for n, shape in shapes.items() for e in _element_names(n, shape)], "symbols=")
    return [_symbolic(n, shape) for n, shape in shapes.items()], flat


def _shape(name: str, value) -> tuple[int, ...]:
    """The array shape that ``symbols={name: value}`` declares."""
    shape = value.shape if isinstance(value, np.ndarray) else (value,) if isinstance(value, numbers.Integral) else value
    if (isinstance(shape, (tuple, list)) and all(isinstance(d, numbers.Integral) and not isinstance(d, bool)
                                                 and d >= 0 for d in shape)):
        return tuple(int(d) for d in shape)
    raise SymbolError(f"symbols= gives argument {name!r} the shape {value!r}",
                      expected="a shape such as (2, 3), a length such as 4, or () for a scalar",
                      received=repr(value), fix=f"write symbols={{{name!r}: (rows, columns)}} for a 2-D array argument")


def _element_names(name: str, shape: tuple[int, ...]) -> list[str]:
    """Symbol names of an argument's elements, row-major: ``w`` of shape (2,) is ``w_0, w_1``.

    Example:
        >>> _element_names("w", (2, 2)), _element_names("x", ())
        (['w_0_0', 'w_0_1', 'w_1_0', 'w_1_1'], ['x'])
    """
    return [name + "".join(f"_{i}" for i in index) for index in np.ndindex(*shape)]


def _symbolic(name: str, shape: tuple[int, ...]):
    """One symbolic argument: a :class:`_Symbolic`, or an object array of them for a shape."""
    if shape == ():
        return _Symbolic(Angle(name))
    array = np.empty(shape, dtype=object)
    for index, element in zip(np.ndindex(*shape), _element_names(name, shape)):
        array[index] = _Symbolic(Angle(element))
    return array


def _holds_symbol(param) -> bool:
    if isinstance(param, (Angle, _Symbolic)):
        return True
    return isinstance(param, np.ndarray) and param.dtype == object and any(_holds_symbol(p) for p in param.flat)


def _argument_names(qfunc) -> tuple[str, ...]:
    try:
        parameters = inspect.signature(qfunc).parameters.values()
    except (TypeError, ValueError):
        parameters = None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if parameters is None or any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        raise SymbolError("cannot read the symbol names from the function's signature",
                          expected="named positional parameters, one per symbol",
                          received=str(qfunc), fix="pass symbols=['theta', ...]")
    return tuple(p.name for p in parameters if p.kind in kinds and p.default is inspect.Parameter.empty)


def _returned_measurements(qml, result) -> list:
    items = list(result) if isinstance(result, (list, tuple)) else [result]
    for i, item in enumerate(items):
        if not isinstance(item, qml.measurements.MeasurementProcess):
            raise CircuitError(f"output {i}: the quantum function returned {type(item).__name__}",
                               expected="qml.expval(<Pauli product>) or a tuple of them", received=repr(item),
                               fix="return qml.expval(...) of each observable")
    return items


def _tape_with_symbols(tape, symbols):
    """The tape with its trainable parameters made symbolic, and the symbol names.

    A tape that already holds qshift angles is read as is (names ``None``: the symbols it uses,
    in order). Integer arrays (basis states) stay constants.
    """
    params = [p for op in tape.operations for p in op.data]  # observables' coefficients are no symbols
    if any(_holds_symbol(p) for p in params):
        return tape, (_check_names(symbols, "symbols=") if symbols is not None else None)
    states = _state_parameters(tape)
    trainable = [i for i in tape.trainable_params
                 if i < len(params) and i not in states and not _integer_array(params[i])]
    names = _check_names(symbols if symbols is not None else [f"p{k}" for k in range(len(trainable))], "symbols=")
    if len(names) != len(trainable):
        raise SymbolError("symbols= does not match the tape's trainable parameters",
                          expected=f"{len(trainable)} name(s), one per trainable parameter",
                          received=f"{len(names)}: {list(names)}", fix="give one name per trainable parameter")
    shapes = [np.shape(params[i]) for i in trainable]
    flat = _check_names([e for n, shape in zip(names, shapes) for e in _element_names(n, shape)], "symbols=")
    symbolic = [_symbolic(n, shape) for n, shape in zip(names, shapes)]
    try:
        return tape.bind_new_parameters(symbolic, trainable), flat
    except QShiftError:
        raise
    except Exception as exc:
        raise CircuitError("PennyLane refused symbols in place of the tape's trainable parameters",
                           expected="trainable parameters that are gate angles",
                           received=f"{type(exc).__name__}: {exc}",
                           fix="make the parameters that are not angles non-trainable (tape.trainable_params)") from exc


def _state_parameters(tape) -> set[int]:
    """Indices of the parameters that are basis states (``qml.BasisState``): never symbols."""
    out, k = set(), 0
    for op in tape.operations:
        if op.name in _PL_STATES or op.name == "BasisEmbedding":
            out.update(range(k, k + len(op.data)))
        k += len(op.data)
    return out


def _integer_array(param) -> bool:
    return np.ndim(param) > 0 and np.asarray(param).dtype.kind in "biu"


# -- transforms and decompositions ----------------------------------------------------------------

def _transformed(pipeline, tape):
    """The QNode's transforms (e.g. ``qml.transforms.decompose``) applied to the recorded tape.

    Only transforms that give back one circuit whose results pass through unchanged are
    accepted; any other is refused, never ignored.
    """
    what = f"the QNode's transforms ({', '.join(_transform_name(t) for t in pipeline)})"
    tapes, post = _pennylane_call(lambda: pipeline((tape,)), what, f"{what} failed on the recorded circuit",
                                  expected="transforms that only rewrite gates, such as qml.transforms.decompose",
                                  fix="convert the QNode without these transforms, or apply them to a tape of "
                                      "numbers and convert that tape")
    if len(tapes) != 1 or not _passes_results_through(post):
        raise CircuitError(f"{what} turn the circuit into {len(tapes)} circuit(s) whose results are post-processed",
                           expected="transforms that rewrite the circuit into one circuit with the same outputs, "
                                    "such as qml.transforms.decompose",
                           received=f"{len(tapes)} circuit(s) and a post-processing function",
                           fix="convert the QNode without these transforms: qshift runs and differentiates the "
                               "circuit itself")
    return tapes[0]


def _transform_name(bound) -> str:
    """``decompose`` for a bound ``qml.transforms.decompose`` (``tape_transform`` since PennyLane 0.45)."""
    function = getattr(bound, "tape_transform", None) or getattr(bound, "transform", None)
    return getattr(function, "__name__", None) or str(bound)


def _passes_results_through(post) -> bool:
    sentinel = object()
    try:
        out = post((sentinel,))
    except Exception:
        return False
    return isinstance(out, (tuple, list)) and len(out) == 1 and out[0] is sentinel


def _expanded(op, where: str, depth: int = 0) -> list[tuple[str, object]]:
    """``(where, op)`` for ``op`` when qshift has its gate, else for the ops of its decomposition
    (recursively: templates, UCCSD, Fermionic excitations, MultiRZ ...)."""
    if _native(op):
        return [(where if depth == 0 else f"{where}, decomposed into {op.name}", op)]
    if "MidMeasure" in op.name or op.name.startswith("Conditional"):
        raise CircuitError(f"{where}: mid-circuit measurements and conditionals are not supported",
                           expected="unitary gates only", received=op.name,
                           fix="remove qml.measure and qml.cond: outputs are the returned expectation values")
    if depth >= _MAX_DEPTH or not op.has_decomposition:
        inner = "" if depth == 0 else f", decomposed into {op.name}"
        raise UnknownGateError(f"{where}{inner}: PennyLane operation {op.name!r} has no qshift gate and no "
                               "decomposition", expected="one of " + ", ".join(sorted(_PL_GATES)), received=op.name,
                               fix="decompose it first (e.g. qml.transforms.decompose with those gates)")
    parts = _pennylane_call(op.decomposition, where,
                            f"{where}: PennyLane could not decompose {op.name} with symbolic angles",
                            expected="a decomposition whose angles are affine in the arguments",
                            fix="decompose it yourself into gates qshift knows, or record a tape with numbers")
    return [pair for part in parts for pair in _expanded(part, where, depth + 1)]


def _native(op) -> bool:
    """Whether qshift reads ``op`` directly (a gate of :data:`_PL_GATES`, its adjoint, a basis state, or a no-op)."""
    if op.name in _PL_GATES or op.name in _PL_SKIPPED or op.name in _PL_STATES:
        return True
    base = getattr(op, "base", None)
    if not (op.name.startswith("Adjoint(") and base is not None and base.name in _PL_GATES):
        return False
    gate, order = _PL_GATES[base.name]
    return gate in _SELF_INVERSE or gate in _INVERSE or len(order) == 1


# -- operations -----------------------------------------------------------------------------------

def _recorded_angle(param) -> Angle:
    if isinstance(param, _Symbolic):
        return param.angle
    if isinstance(param, Angle):
        return param
    value = np.asarray(param)
    if value.ndim == 0 and value.dtype == object:  # an element of an array of symbols
        return _recorded_angle(value.item())
    if value.ndim != 0 or not np.isrealobj(value):
        raise CircuitError("a gate parameter is not one real number", expected="a scalar angle",
                           received=repr(param), fix="batched (broadcast) parameters are not supported: "
                                                     "convert one row at a time")
    return Angle.constant(float(value))


def _wire_order(used: list, wires, device_wires) -> list:
    if wires is None and device_wires is not None:
        wires = list(device_wires)
    if wires is None:
        try:
            return sorted(used)
        except TypeError:
            return used
    order = list(wires)
    if len(set(order)) != len(order):
        raise CircuitError("wires= lists a wire twice", expected="distinct wire labels", received=str(order),
                           fix="list every wire once")
    missing = [w for w in used if w not in order]
    if missing:
        raise QubitIndexError(f"the circuit uses wire(s) {missing} that wires= does not list",
                              expected=f"every used wire in wires= {order}", received=str(missing),
                              fix="add the missing wires to wires=")
    return order


def _pennylane_ops(primitive, index: dict) -> tuple[list[Operation], tuple[str, ...]]:
    """qshift operations for ``(where, op)`` pairs of native PennyLane ops, and the symbols they use in order."""
    ops: list[Operation] = []
    used: dict[str, None] = {}
    for where, op in primitive:
        if op.name in _PL_SKIPPED:
            continue
        qubits = tuple(index[w] for w in op.wires)
        if op.name in _PL_STATES:
            ops.extend(_basis_state(op, qubits, where))
            continue
        params = _angles(op, where)
        used.update(dict.fromkeys(a.symbol for a in params if a.symbol is not None))
        gate, order, params = _pennylane_gate(op, params)
        _append(ops, gate, qubits, tuple(params[k] for k in order), where)
    return ops, tuple(used)


def _angles(op, where: str) -> list[Angle]:
    try:
        return [_recorded_angle(p) for p in op.parameters]
    except QShiftError as exc:
        raise _located(exc, where) from None


def _basis_state(op, qubits: tuple[int, ...], where: str) -> list[Operation]:
    """``qml.BasisState(state, wires)``: an X on every qubit whose entry is 1 (the circuit starts in ``|0...0>``)."""
    state = op.parameters[0] if op.parameters else None
    if state is None or _holds_symbol(np.asarray(state, dtype=object)):
        raise CircuitError(f"{where}: {op.name} needs a constant basis state", expected="a fixed array of 0 and 1",
                           received=repr(state), fix="pass the occupation numbers as numbers, e.g. "
                                                     "qml.BasisState(np.array([1, 1, 0, 0]), wires=range(4)), "
                                                     "not as an argument of the function")
    bits = np.asarray(state)
    if bits.shape != (len(qubits),) or not np.isin(bits, (0, 1)).all():
        raise CircuitError(f"{where}: {op.name} state {bits.tolist()} is not one bit per wire",
                           expected=f"{len(qubits)} entries, each 0 or 1", received=repr(bits.tolist()),
                           fix="give one 0/1 occupation number per wire")
    return [Operation("x", (q,), None) for q, bit in zip(qubits, bits) if bit == 1]


def _pennylane_gate(op, params: list[Angle]) -> tuple[str, tuple[int, ...], list[Angle]]:
    """(qshift gate, parameter order, parameters) for one native PennyLane operation (see :func:`_native`)."""
    if op.name in _PL_GATES:
        gate, order = _PL_GATES[op.name]
        return gate, order, params
    gate, order = _PL_GATES[op.base.name]  # Adjoint(...): the inverse gate, or the negated angle
    if gate in _SELF_INVERSE or gate in _INVERSE:
        return _INVERSE.get(gate, gate), order, params
    return gate, order, [-p for p in params]


def _pennylane_output(m, index: dict, where: str) -> Observable:
    """An output from ``qml.expval``: a :class:`PauliString` for one Pauli product of coefficient 1, a
    :class:`PauliSum` for a Hamiltonian (``qml.Hamiltonian``/``LinearCombination``, ``Sum``, ``SProd``,
    what ``qml.qchem.molecular_hamiltonian`` returns) with real coefficients."""
    import pennylane as qml

    if not isinstance(m, qml.measurements.ExpectationMP) or m.obs is None:
        raise CircuitError(f"{where}: {type(m).__name__} is not supported", expected="qml.expval(<observable>)",
                           received=repr(m), fix="return expectation values of Pauli products or Hamiltonians only "
                                                 "(no probs, samples, variances, states or counts)")
    rep = m.obs.pauli_rep
    if rep is None:
        raise CircuitError(f"{where}: observable {m.obs} is not a sum of Pauli products",
                           expected="a Pauli product or a Hamiltonian of Pauli products", received=repr(m.obs),
                           fix="write it in Pauli products (qml.pauli_decompose turns a matrix into one)")
    pairs = []
    for word, coeff in rep.items():
        c = complex(coeff)
        if abs(c.imag) > 1e-12 * max(1.0, abs(c.real)):
            raise CircuitError(f"{where}: observable {m.obs} has a complex coefficient {coeff}",
                               expected="real coefficients (a Hermitian observable)", received=repr(m.obs),
                               fix="take the Hermitian part of the operator")
        pairs.append((c.real, PauliString.parse({index[w]: p for w, p in dict(word).items()})))
    if len(pairs) == 1 and pairs[0][0] == 1.0:  # a product (the identity included), as always
        return pairs[0][1]
    return PauliSum.parse(pairs)
