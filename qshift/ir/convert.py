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

import numpy as np

from qshift._errors import (CircuitError, NonAffineAngleError, QShiftError, QubitIndexError, SymbolError,
                            UnknownGateError, require)
from qshift.ir.angle import Angle, as_angle
from qshift.ir.gates import ALIASES, GATES, MULTI_ANGLE, expand
from qshift.ir.operation import CircuitParts, Operation
from qshift.ir.pauli import PauliString

__all__ = ["pennylane_parts", "qiskit_parts"]

_QSHIFT_GATES = set(GATES) | set(ALIASES) | set(MULTI_ANGLE)


# -- shared ---------------------------------------------------------------------------------------

def _located(exc: QShiftError, where: str) -> QShiftError:
    """The same error with ``where`` (e.g. ``instruction 3 (rx)``) in front of its problem."""
    return type(exc)(f"{where}: {exc.problem}", expected=exc.expected, received=exc.received, fix=exc.fix,
                     line=exc.line)


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


def _qiskit_observables(observables, n_qubits: int) -> tuple[PauliString, ...]:
    single = isinstance(observables, str) or not isinstance(observables, (list, tuple))
    items = [observables] if single else list(observables)
    return tuple(_qiskit_observable(obs, n_qubits, f"observable {i}") for i, obs in enumerate(items))


def _qiskit_observable(obs, n_qubits: int, where: str) -> PauliString:
    """A :class:`PauliString` from a little-endian label, ``Pauli`` or one-term ``SparsePauliOp``."""
    from qiskit.quantum_info import Pauli, SparsePauliOp

    if isinstance(obs, PauliString):
        return obs
    if isinstance(obs, SparsePauliOp):
        obs = _single_term(obs, where)
    elif isinstance(obs, str):
        obs = _parse_label(obs, where)
    elif not isinstance(obs, Pauli):
        raise CircuitError(f"{where}: cannot read {type(obs).__name__} as an observable",
                           expected="a Pauli label like 'XZ', a Pauli or a one-term SparsePauliOp",
                           received=repr(obs), fix="pass Pauli products; sums are separate outputs")
    if obs.phase != 0:
        raise CircuitError(f"{where}: Pauli {obs} has a phase", expected="coefficient 1", received=str(obs),
                           fix="drop the sign or phase and rescale the result yourself")
    if obs.num_qubits != n_qubits:
        raise CircuitError(f"{where}: observable acts on {obs.num_qubits} qubit(s), the circuit has {n_qubits}",
                           expected=f"a label of length {n_qubits}", received=str(obs),
                           fix="pad with I; labels are little-endian (rightmost character is qubit 0)")
    letters = obs.to_label()[::-1]  # little-endian: character q from the right is qubit q
    return PauliString.parse({q: p for q, p in enumerate(letters) if p != "I"})


def _parse_label(label: str, where: str):
    from qiskit.quantum_info import Pauli

    if not re.fullmatch(r"[IXYZ]+", label):
        raise CircuitError(f"{where}: cannot read Pauli label {label!r}",
                           expected="letters I, X, Y, Z, rightmost for qubit 0 (e.g. 'IXZ')", received=repr(label),
                           fix="write one letter per qubit with no signs or spaces")
    return Pauli(label)


def _single_term(op, where: str):
    if len(op) != 1 or abs(complex(op.coeffs[0]) - 1) > 1e-12:
        terms = ", ".join(f"{_coefficient(c)}*{p}" for p, c in op.to_list())
        raise CircuitError(f"{where}: SparsePauliOp must be one Pauli product with coefficient 1",
                           expected="one term, coefficient 1", received=terms,
                           fix="pass each term as its own observable and combine the results yourself")
    return op.paulis[0]


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
}
_PL_SKIPPED = {"Barrier", "GlobalPhase", "Snapshot"}  # no effect on expectation values
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
    if isinstance(other, numbers.Real):
        return float(other)
    if isinstance(other, np.ndarray) and other.ndim == 0 and np.isrealobj(other):
        return float(other)
    return NotImplemented


def pennylane_parts(qfunc_or_tape, symbols=None, wires=None) -> CircuitParts:
    """The parts of a :class:`~qshift.Circuit` from a PennyLane quantum function, QNode or tape.

    Args:
        qfunc_or_tape: a function applying PennyLane gates and returning ``qml.expval`` of Pauli
            products (one or a tuple); a QNode wrapping one; or a ``QuantumScript``/tape.
        symbols: for a function, the names of its arguments (default: its parameters without
            defaults, from its signature). For a tape of numbers, one name per trainable
            parameter (default ``p0, p1, ...``); the tape's values are then the symbol values.
        wires: the wire order; wire ``wires[i]`` becomes qubit ``i`` (see the module docstring).

    Example:
        >>> import pennylane as qml
        >>> tape = qml.tape.QuantumScript([qml.RX(0.3, 0), qml.CNOT([0, 1])], [qml.expval(qml.Y(1))])
        >>> parts = pennylane_parts(tape)
        >>> parts.symbols, str(parts.outputs[0])
        (('p0',), 'Y1')
    """
    qml = require("pennylane", "pennylane")
    source, device_wires = _unwrap_qnode(qml, qfunc_or_tape)
    if isinstance(source, qml.tape.QuantumScript):
        tape, outputs = source, list(source.measurements)
        angles, names = _tape_angles(tape, symbols)
        name = "tape"
    else:
        tape, outputs, names = _record(qml, source, symbols)
        angles = [_recorded_angle(p) for op in tape.operations for p in op.parameters]
        name = getattr(source, "__name__", "circuit")
    order = _wire_order(tape, wires, device_wires)
    index = {w: i for i, w in enumerate(order)}
    ops = _pennylane_ops(tape.operations, iter(angles), index)
    out = tuple(_pennylane_output(m, index, f"output {i}") for i, m in enumerate(outputs))
    return CircuitParts(len(order), tuple(ops), out, names, name)


def _unwrap_qnode(qml, source):
    """The quantum function or tape inside ``source``, and its device's wires (or ``None``)."""
    if isinstance(source, qml.QNode):
        return source.func, source.device.wires
    if isinstance(source, qml.tape.QuantumScript) or callable(source):
        return source, None
    raise CircuitError("cannot convert this object from PennyLane", expected="a quantum function, QNode or tape",
                       received=type(source).__name__, fix="pass the function that applies the gates")


def _record(qml, qfunc, symbols):
    """Call ``qfunc`` with symbolic arguments; the tape, returned measurements and symbol names."""
    names = _check_names(symbols, "symbols=") if symbols is not None else _argument_names(qfunc)
    args = [_Symbolic(Angle(n)) for n in names]
    try:
        with qml.queuing.AnnotatedQueue() as queue:
            result = qfunc(*args)
    except QShiftError:
        raise
    except Exception as exc:
        raise CircuitError("the quantum function failed when called with symbolic arguments",
                           expected=f"a function of {list(names)} using them only in gate angles, as a*x + b",
                           received=f"{type(exc).__name__}: {exc}",
                           fix="take one scalar argument per symbol (no arrays), use only + - * / with numbers "
                               "(qml.math/np functions of a symbol are not affine), or pass a recorded tape") from exc
    tape = qml.tape.QuantumScript.from_queue(queue)
    return tape, _returned_measurements(qml, result), names


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


def _tape_angles(tape, symbols) -> tuple[list[Angle], tuple[str, ...]]:
    """One :class:`Angle` per operation parameter of a tape, and the symbol names."""
    params = [p for op in tape.operations for p in op.parameters]
    if any(isinstance(p, (Angle, _Symbolic)) for p in params):
        angles = [_recorded_angle(p) for p in params]
        used = tuple(dict.fromkeys(a.symbol for a in angles if a.symbol is not None))
        return angles, _check_names(symbols, "symbols=") if symbols is not None else used
    trainable = [i for i in tape.trainable_params if i < len(params)]
    names = _check_names(symbols if symbols is not None else [f"p{k}" for k in range(len(trainable))], "symbols=")
    if len(names) != len(trainable):
        raise SymbolError("symbols= does not match the tape's trainable parameters",
                          expected=f"{len(trainable)} name(s), one per trainable parameter",
                          received=f"{len(names)}: {list(names)}", fix="give one name per trainable parameter")
    symbol_of = dict(zip(trainable, names))
    return [Angle(symbol_of[i]) if i in symbol_of else _recorded_angle(p) for i, p in enumerate(params)], names


def _recorded_angle(param) -> Angle:
    if isinstance(param, _Symbolic):
        return param.angle
    if isinstance(param, Angle):
        return param
    value = np.asarray(param)
    if value.ndim != 0 or not np.isrealobj(value):
        raise CircuitError("a gate parameter is not one real number", expected="a scalar angle",
                           received=repr(param), fix="batched (broadcast) parameters are not supported: "
                                                     "convert one row at a time")
    return Angle.constant(float(value))


def _wire_order(tape, wires, device_wires) -> list:
    used = list(tape.wires)
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


def _pennylane_ops(operations, angles, index: dict) -> list[Operation]:
    ops: list[Operation] = []
    for i, op in enumerate(operations):
        where = f"operation {i} ({op.name})"
        params = [next(angles) for _ in op.parameters]
        if op.name in _PL_SKIPPED:
            continue
        gate, order, params = _pennylane_gate(op, params, where)
        qubits = tuple(index[w] for w in op.wires)
        _append(ops, gate, qubits, tuple(params[k] for k in order), where)
    return ops


def _pennylane_gate(op, params: list[Angle], where: str) -> tuple[str, tuple[int, ...], list[Angle]]:
    """(qshift gate, parameter order, parameters) for one PennyLane operation."""
    if op.name in _PL_GATES:
        gate, order = _PL_GATES[op.name]
        return gate, order, params
    base = getattr(op, "base", None)
    if op.name.startswith("Adjoint(") and base is not None and base.name in _PL_GATES:
        gate, order = _PL_GATES[base.name]
        if gate in _SELF_INVERSE or gate in _INVERSE:
            return _INVERSE.get(gate, gate), order, params
        if len(order) == 1:
            return gate, order, [-p for p in params]
    if "MidMeasure" in op.name or op.name.startswith("Conditional"):
        raise CircuitError(f"{where}: mid-circuit measurements and conditionals are not supported",
                           expected="unitary gates only", received=op.name,
                           fix="remove qml.measure and qml.cond: outputs are the returned expectation values")
    raise UnknownGateError(f"{where}: PennyLane operation {op.name!r} has no qshift gate",
                           expected="one of " + ", ".join(sorted(_PL_GATES)), received=op.name,
                           fix="decompose it first (e.g. qml.transforms.decompose with those gates)")


def _pennylane_output(m, index: dict, where: str) -> PauliString:
    """A :class:`PauliString` from ``qml.expval`` of a Pauli product with coefficient 1."""
    import pennylane as qml

    if not isinstance(m, qml.measurements.ExpectationMP) or m.obs is None:
        raise CircuitError(f"{where}: {type(m).__name__} is not supported", expected="qml.expval(<Pauli product>)",
                           received=repr(m), fix="return expectation values of Pauli products only "
                                                 "(no probs, samples, variances, states or counts)")
    rep = m.obs.pauli_rep
    if rep is None or len(rep) != 1:
        what = "not a Pauli product" if rep is None else f"a sum of {len(rep)} Pauli products"
        raise CircuitError(f"{where}: observable {m.obs} is {what}", expected="one Pauli product, e.g. Z(0) @ X(1)",
                           received=repr(m.obs), fix="return one qml.expval per Pauli term and combine them yourself")
    ((word, coeff),) = rep.items()
    if abs(complex(coeff) - 1) > 1e-12:
        raise CircuitError(f"{where}: observable {m.obs} has coefficient {coeff}", expected="coefficient 1",
                           received=repr(m.obs), fix="drop the coefficient and rescale the result yourself")
    return PauliString.parse({index[w]: p for w, p in dict(word).items()})
