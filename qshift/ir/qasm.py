"""OpenQASM 3 in and out, through the ``openqasm3`` reference parser.

A source is OpenQASM 3 text, a path to a ``.qasm`` file, or the name of a circuit
of the library (``"vqe-h2"``: one word that is no existing file).

The accepted subset (docs/qasm.md): ``include "stdgates.inc"`` only; ``input
float[64] name;`` symbols (a symbol may share a gate's name, as builder and
converter circuits do: gates are only called, symbols only read; stricter
readers such as Qiskit's refuse that); ``qubit[n] q;`` registers; stdgates gates plus
rxx/ryy/rzz (and Braket's xx/yy/zz) and qshift's excitation gates (sexc, dexc and their
Plus/Minus forms sexcp, sexcm, dexcp, dexcm) with angles affine in one symbol;
``barrier`` (ignored); outputs as ``#pragma braket result expectation``
of Pauli products. Anything else is refused with a :class:`~qshift.QasmError`
naming the line. A circuit file never reads another file.

:func:`qasm_parts` returns the parts of a circuit (:class:`~qshift.ir.operation.CircuitParts`);
:meth:`~qshift.Circuit.from_qasm` builds and validates the :class:`~qshift.Circuit`.
:func:`to_qasm` reads any circuit-like object (``n_qubits``, ``symbols``, ``operations``,
``outputs``).

Example:
    >>> parts = qasm_parts("OPENQASM 3.0; input float[64] x; qubit[1] q; rx(2*x) q[0]; "
    ...                    "#pragma braket result expectation z(q[0])")
    >>> parts.symbols, str(parts.operations[0].angle), str(parts.outputs[0])
    (('x',), '2.0*x', 'Z0')
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from qshift._data import shipped_files
from qshift._errors import CircuitError, MissingExtraError, NonAffineAngleError, QasmError, QubitIndexError, SymbolError
from qshift._format import format_affine
from qshift.ir.angle import Angle, as_angle
from qshift.ir.gates import arity, decomposition, expand
from qshift.ir.operation import CircuitParts, Operation
from qshift.ir.pauli import PauliString, PauliSum

__all__ = ["qasm_parts", "to_qasm"]

_CONSTANTS = {"pi": math.pi, "π": math.pi, "tau": 2 * math.pi, "τ": 2 * math.pi, "euler": math.e, "ℇ": math.e}
_FUNCTIONS = {"sin": math.sin, "cos": math.cos, "tan": math.tan, "exp": math.exp, "sqrt": math.sqrt,
              "arcsin": math.asin, "arccos": math.acos, "arctan": math.atan, "ln": math.log}
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_SUM_PRAGMA = "qshift expectation"
# qshift gate -> how Braket's OpenQASM writes it (its built-in gates, and the ctrl @ modifier); it reads no
# include files. The excitation gates (qshift extensions) have no Braket name.
_BRAKET_GATES = {"id": "i", "x": "x", "y": "y", "z": "z", "h": "h", "s": "s", "sdg": "si", "t": "t", "tdg": "ti",
                 "sx": "v", "cx": "cnot", "cy": "cy", "cz": "cz", "ch": "ctrl @ h", "swap": "swap", "ccx": "ccnot",
                 "cswap": "cswap", "rx": "rx", "ry": "ry", "rz": "rz", "p": "phaseshift", "crx": "ctrl @ rx",
                 "cry": "ctrl @ ry", "crz": "ctrl @ rz", "cp": "cphaseshift", "rxx": "xx", "ryy": "yy", "rzz": "zz"}
_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_FACTOR = r"[ixyzIXYZ]\s*\(\s*[A-Za-z_]\w*\s*(?:\[\s*\d+\s*\])?\s*\)"
_SUM_TERM = re.compile(rf"\s*([+-])?\s*({_NUMBER})?\s*(?:\*\s*)?({_FACTOR}(?:\s*@\s*{_FACTOR})*)?\s*")
_OBS_FACTOR = re.compile(r"^\s*([ixyzIXYZ])\s*\(\s*([A-Za-z_]\w*)\s*(?:\[\s*(\d+)\s*\])?\s*\)\s*$")


def _read_source(source) -> tuple[str, str]:
    if isinstance(source, Path):
        return _read_file(source), source.stem
    if not isinstance(source, str):
        raise QasmError("cannot read a circuit from this object", expected="OpenQASM 3 text or a path to a .qasm file",
                        received=type(source).__name__, fix="pass a str or pathlib.Path")
    if source.strip() and "\n" not in source and ";" not in source:
        path = Path(source)
        if not path.exists() and source.strip() in _library():  # a library circuit's name, e.g. "vqe-h2"
            path = _library()[source.strip()]
        return _read_file(path), path.stem
    return source, "circuit"


def _library() -> dict[str, Path]:
    return shipped_files("circuits", ".qasm", CircuitError, "the circuit library")


def _read_file(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise QasmError(f"cannot read {str(path)!r}",
                        expected="an existing .qasm file, a library circuit name or OpenQASM 3 text",
                        received=f"{type(exc).__name__}: {exc.strerror or exc}",
                        fix="check the path, or pick a name from qshift.library() (or pass the program text "
                            "itself)") from None


def _check_not_empty(text: str) -> None:
    """An empty program (nothing but blanks and comments) is refused before the parser sees it."""
    if not _COMMENT.sub("", text).strip():
        raise QasmError("the program is empty", expected="an OpenQASM 3 program: qubits, gates and "
                        "'#pragma braket result expectation' outputs",
                        received="an empty text" if not text.strip() else "only comments",
                        fix="check the file: it has no statements")


def _parse(text: str):
    try:
        import openqasm3
        from openqasm3.parser import QASM3ParsingError
    except ImportError as exc:  # pragma: no cover - openqasm3 is a core dependency
        raise MissingExtraError("reading OpenQASM needs the 'openqasm3' parser", expected="openqasm3[parser]",
                                received=str(exc), fix="pip install qshift") from exc
    try:
        return openqasm3.parse(text)
    except QASM3ParsingError as exc:
        line, detail = _syntax_location(exc)
        raise QasmError("malformed OpenQASM 3", expected="a valid OpenQASM 3 program",
                        received=detail, fix="fix the syntax at the line shown", line=line) from None
    except Exception as exc:  # the reference visitor raises plain errors on some constructs
        raise QasmError("malformed OpenQASM 3", expected="a valid OpenQASM 3 program",
                        received=f"{type(exc).__name__}: {exc}", fix="fix the program's syntax") from None


def _syntax_location(exc) -> tuple[int | None, str]:
    text = str(exc)
    m = re.match(r"L(\d+):C(\d+): (.*)", text)
    if m:
        return int(m.group(1)), m.group(3)
    cause = exc.__cause__
    while cause is not None:
        for arg in getattr(cause, "args", ()):
            token = getattr(arg, "offendingToken", None)
            if token is not None:
                return token.line, f"unexpected {token.text!r} at column {token.column}"
        cause = cause.__cause__
    return None, "a syntax error"


class _Reader:
    """Walks the AST of one program and collects the parts of a circuit."""

    def __init__(self, name: str):
        self.name = name
        self.symbols: list[str] = []
        self.registers: dict[str, tuple[int, int | None]] = {}  # name -> (offset, size or None for a lone qubit)
        self.n_qubits = 0
        self.ops: list[Operation] = []
        self.outputs: list[PauliString] = []

    def read(self, program) -> CircuitParts:
        from openqasm3 import ast

        handlers = {
            ast.Include: self._include, ast.IODeclaration: self._io, ast.QubitDeclaration: self._qubits,
            ast.QuantumGate: self._gate, ast.Pragma: self._pragma, ast.QuantumBarrier: lambda s: None,
        }
        for statement in program.statements:
            handler = handlers.get(type(statement))
            line = _line(statement)
            if handler is None:
                raise QasmError(f"unsupported statement {type(statement).__name__}",
                                expected="include, input float[64], qubit declarations, gates, barrier, "
                                         "#pragma braket result expectation",
                                received=_describe(statement), line=line,
                                fix="remove it: qshift circuits have no measurements, classical code or gate "
                                    "definitions; outputs are expectation pragmas")
            try:
                handler(statement)
            except CircuitError as exc:
                if exc.line is None:
                    raise type(exc)(exc.problem, expected=exc.expected, received=exc.received, fix=exc.fix,
                                    line=line) from None
                raise
        if not self.outputs:
            raise QasmError("the program declares no outputs",
                            expected="at least one '#pragma braket result expectation <pauli product>'",
                            received="none", fix="add e.g. '#pragma braket result expectation z(q[0])'")
        return CircuitParts(self.n_qubits, tuple(self.ops), tuple(self.outputs), tuple(self.symbols), self.name)

    def _include(self, s) -> None:
        if s.filename != "stdgates.inc":
            raise QasmError(f"include of {s.filename!r} refused", expected='only include "stdgates.inc"',
                            received=f'include "{s.filename}"',
                            fix="inline the gates you need: a circuit file must not read other files")

    def _io(self, s) -> None:
        from openqasm3 import ast

        if s.io_identifier is not ast.IOKeyword.input or not isinstance(s.type, ast.FloatType):
            raise QasmError("unsupported I/O declaration", expected="input float[64] NAME;",
                            received=_describe(s), fix="declare inputs as 'input float[64] name;'")
        name = s.identifier.name
        if name in self.symbols:
            raise SymbolError(f"symbol {name!r} declared twice", expected="each input declared once",
                              received=f"a second 'input float[64] {name};'", fix="remove the duplicate")
        if name in _CONSTANTS or name in self.registers:  # a gate name is fine: gates are only called
            raise SymbolError(f"input name {name!r} clashes with a built-in constant or a register",
                              expected="a fresh name", received=repr(name), fix="rename the input")
        self.symbols.append(name)

    def _qubits(self, s) -> None:
        name = s.qubit.name
        if name in self.registers or name in self.symbols:
            raise QasmError(f"register {name!r} declared twice", expected="distinct register names",
                            received=repr(name), fix="rename one register")
        size = None if s.size is None else self._integer(s.size, "a register size")
        self.registers[name] = (self.n_qubits, size)
        self.n_qubits += 1 if size is None else size

    def _gate(self, s) -> None:
        if s.modifiers:
            raise QasmError("gate modifiers (ctrl @, inv @, pow @) are not supported",
                            expected="a plain gate", received=_describe(s),
                            fix="use the controlled gate directly (cx, crx, cp ...) or decompose it")
        name = s.name.name
        n_qubits, n_angles = arity(name)
        angles = tuple(self._angle(a) for a in s.arguments)
        qubits = tuple(self._qubit(q) for q in s.qubits)
        for canonical, qs, angle in expand(name, qubits, angles):
            self.ops.append(Operation(canonical, qs, None if angle is None else as_angle(angle)))

    def _pragma(self, s) -> None:
        command = s.command.strip()
        if command.startswith(_SUM_PRAGMA):
            self.outputs.append(self._weighted_sum(command[len(_SUM_PRAGMA):]))
            return
        prefix = "braket result expectation"
        if not command.startswith(prefix):
            raise QasmError("unsupported pragma", expected=f"#pragma {prefix} <pauli product>, or "
                            f"#pragma {_SUM_PRAGMA} <weighted sum of products>",
                            received=f"#pragma {command}",
                            fix="outputs are expectation values of Pauli products or of weighted sums of them")
        self.outputs.append(self._product(command[len(prefix):]))

    def _product(self, text: str) -> PauliString:
        """A Pauli product ``x(q[0]) @ z(q[1])`` (``i(q[0])``: the identity)."""
        factors = {}
        for part in text.split("@"):
            m = _OBS_FACTOR.match(part)
            if not m:
                raise QasmError("unsupported observable", expected="a product like x(q[0]) @ z(q[1])",
                                received=part.strip() or "(nothing)", fix="use i/x/y/z factors on single qubits")
            qubit = self._register_qubit(m.group(2), None if m.group(3) is None else int(m.group(3)))
            if qubit in factors:
                raise QasmError("observable names a qubit twice", expected="each qubit at most once",
                                received=text.strip(), fix="combine the factors on that qubit")
            factors[qubit] = m.group(1).upper()
        return PauliString.parse(factors)

    def _weighted_sum(self, text: str) -> PauliSum:
        """``0.5 * z(q[0]) @ z(q[1]) - 0.2 * x(q[0]) + 1.1``: terms ``[sign] [number *] product`` or a number."""
        pairs, pos, body = [], 0, text.strip()
        while pos < len(body):
            m = _SUM_TERM.match(body, pos)
            if not m or m.end() == pos or (pairs and not m.group(1)) or not (m.group(2) or m.group(3)):
                raise QasmError("cannot read the weighted sum", expected="terms like 0.5 * z(q[0]) @ z(q[1]) - "
                                "0.2 * x(q[0]) + 1.1, joined by + or -", received=body[pos:].strip()[:80] or "(nothing)",
                                fix="write each term as [number *] product, or a number for the constant")
            sign = -1.0 if m.group(1) == "-" else 1.0
            coefficient = sign * (float(m.group(2)) if m.group(2) else 1.0)
            product = self._product(m.group(3)) if m.group(3) else PauliString(())
            pairs.append((coefficient, product))
            pos = m.end()
        if not pairs:
            raise QasmError("empty weighted sum", expected="at least one term", received="(nothing)",
                            fix=f"write #pragma {_SUM_PRAGMA} 0.5 * z(q[0]) + ...")
        return PauliSum.parse(pairs)

    # -- expressions ----------------------------------------------------------------------------
    def _angle(self, e) -> Angle:
        from openqasm3 import ast

        if isinstance(e, (ast.IntegerLiteral, ast.FloatLiteral)):
            return Angle.constant(float(e.value))
        if isinstance(e, ast.Identifier):
            if e.name in self.symbols:
                return Angle(e.name)
            if e.name in _CONSTANTS:
                return Angle.constant(_CONSTANTS[e.name])
            raise SymbolError(f"undeclared symbol {e.name!r}", expected=f"one of the inputs {self.symbols}",
                              received=repr(e.name), fix=f"declare it first: input float[64] {e.name};")
        if isinstance(e, ast.UnaryExpression) and e.op.name == "-":
            return -self._angle(e.expression)
        if isinstance(e, ast.BinaryExpression) and e.op.name in ("+", "-", "*", "/", "**"):
            return self._binary(e)
        if isinstance(e, ast.FunctionCall) and e.name.name in _FUNCTIONS:
            args = [self._angle(a) for a in e.arguments]
            if len(args) == 1 and args[0].is_constant:
                return Angle.constant(_FUNCTIONS[e.name.name](args[0].b))
            raise NonAffineAngleError(f"{e.name.name}() of a symbol is not affine", expected="a * symbol + b",
                                      received=_describe(e), fix="move the nonlinearity into classical code")
        raise QasmError("unsupported angle expression", expected="numbers, pi, inputs, + - * /",
                        received=_describe(e), fix="write the angle as a * symbol + b")

    def _binary(self, e) -> Angle:
        lhs, rhs = self._angle(e.lhs), self._angle(e.rhs)
        op = e.op.name
        if op == "**":
            if lhs.is_constant and rhs.is_constant:
                return Angle.constant(lhs.b ** rhs.b)
            raise NonAffineAngleError("a power of a symbol is not affine", expected="a * symbol + b",
                                      received=f"({lhs}) ** ({rhs})", fix="use a linear expression")
        if op == "/" and not rhs.is_constant:
            raise NonAffineAngleError("division by a symbol is not affine", expected="a * symbol + b",
                                      received=f"({lhs}) / ({rhs})", fix="use a linear expression")
        if op == "/" and rhs.b == 0:
            raise QasmError("division by zero in an angle", expected="a nonzero divisor",
                            received=f"({lhs}) / 0", fix="fix the expression")
        return {"+": lambda: lhs + rhs, "-": lambda: lhs - rhs, "*": lambda: lhs * rhs, "/": lambda: lhs / rhs}[op]()

    def _integer(self, e, what: str) -> int:
        from openqasm3 import ast

        if isinstance(e, ast.IntegerLiteral):
            return int(e.value)
        raise QasmError(f"{what} must be an integer literal", expected="e.g. 3", received=_describe(e),
                        fix="write the number itself")

    def _qubit(self, q) -> int:
        from openqasm3 import ast

        if isinstance(q, ast.Identifier):
            return self._register_qubit(q.name, None)
        if isinstance(q, ast.IndexedIdentifier) and len(q.indices) == 1 and len(q.indices[0]) == 1:
            index = q.indices[0][0]
            if isinstance(index, ast.IntegerLiteral):
                return self._register_qubit(q.name.name, int(index.value))
        raise QasmError("unsupported qubit operand", expected="q[i] with an integer literal i, or a lone qubit",
                        received=_describe(q), fix="apply the gate to single qubits, one statement each")

    def _register_qubit(self, name: str, index: int | None) -> int:
        if name not in self.registers:
            raise QasmError(f"unknown qubit register {name!r}", expected=f"one of {sorted(self.registers)}",
                            received=repr(name), fix=f"declare it: qubit[n] {name};")
        offset, size = self.registers[name]
        if size is None and index is None:
            return offset
        if size is None or index is None:
            raise QasmError(f"register {name!r} used as a whole", expected=f"{name}[i] for one qubit",
                            received=name if index is None else f"{name}[{index}]",
                            fix="index the register; broadcasting over registers is not supported")
        if not 0 <= index < size:
            raise QubitIndexError(f"qubit {name}[{index}] is outside the register", expected=f"0 <= i < {size}",
                                  received=f"{name}[{index}]", fix=f"use an index below {size} or enlarge {name}")
        return offset + index


def _line(node) -> int | None:
    span = getattr(node, "span", None)
    return None if span is None else span.start_line


def _describe(node) -> str:
    try:
        from openqasm3 import dumps

        text = dumps(node).strip()
        return text if len(text) < 120 else text[:117] + "..."
    except Exception:
        return type(node).__name__


def qasm_parts(source) -> CircuitParts:
    """The parts of the circuit in OpenQASM 3 text or a ``.qasm`` path (``Circuit(*parts)`` validates them)."""
    text, name = _read_source(source)
    _check_not_empty(text)
    return _Reader(name).read(_parse(text))


def _qasm_angle(angle: Angle) -> str:
    """Exact text (pi by name only for exact multiples, else ``repr``), so it reads back bit for bit."""
    return format_affine(angle.symbol, angle.a, angle.b, minus_symbol=False)


def _register_name(symbols) -> str:
    """``q``, or ``q_``, ``q__`` ... when a symbol is named ``q``."""
    name = "q"
    while name in symbols:
        name += "_"
    return name


def _product_text(pauli: PauliString, reg: str) -> str:
    return " @ ".join(f"{p.lower()}({reg}[{q}])" for q, p in pauli.factors) or f"i({reg}[0])"


def _sum_text(h: PauliSum, reg: str) -> str:
    """A weighted sum as the pragma writes it; coefficients in Python's shortest round-trip ``repr``."""
    parts = []
    for c, p in h.terms:
        sign = "-" if c < 0 or (c == 0 and math.copysign(1.0, c) < 0) else "+"
        parts.append(f"{sign} {abs(c)!r} * {_product_text(p, reg)}")
    if h.constant:
        parts.append(f"{'-' if h.constant < 0 else '+'} {abs(h.constant)!r}")
    text = " ".join(parts)
    return text[2:] if text.startswith("+ ") else "-" + text[2:]


def to_qasm(circuit, dialect: str = "qshift") -> str:
    """OpenQASM 3 text for ``circuit``; :meth:`~qshift.Circuit.from_qasm` reads it back to an equal circuit.

    ``circuit`` is a :class:`~qshift.Circuit`, or anything with its ``n_qubits``, ``symbols``,
    ``operations`` and ``outputs`` (and, for the Braket dialect, ``terms``, ``term_weights``
    and ``output_constants``).

    ``dialect="braket"`` writes a program Amazon Braket runs as it is: Braket's gate names (no
    include: ``cnot``, ``phaseshift``, ``xx``, ``ctrl @ rx`` ...), and every distinct Pauli term
    of the outputs as one ``#pragma braket result expectation`` result type, with a comment
    before them saying how each output combines the results. The excitation gates (qshift
    extensions) are written as their exact decompositions (:func:`~qshift.ir.gates.decomposition`).
    It does not read back to the same outputs: a Hamiltonian's combination is in the comment only.
    """
    if dialect not in ("qshift", "braket"):
        raise QasmError(f"unknown OpenQASM dialect {dialect!r}", expected="'qshift' or 'braket'",
                        received=repr(dialect), fix="pass dialect='qshift' (reads back) or 'braket' (for Braket)")
    braket = dialect == "braket"
    lines = ["OPENQASM 3.0;"] if braket else ["OPENQASM 3.0;", 'include "stdgates.inc";']
    lines += [f"input float[64] {s};" for s in circuit.symbols]
    reg = _register_name(circuit.symbols)
    lines.append(f"qubit[{circuit.n_qubits}] {reg};")
    for op in circuit.operations:
        if not braket:
            args = "" if op.angle is None else f"({_qasm_angle(op.angle)})"
            lines.append(f"{op.gate}{args} " + ", ".join(f"{reg}[{q}]" for q in op.qubits) + ";")
            continue
        for gate, qubits, scale in decomposition(op.gate, op.qubits):  # the excitation gates: exact pieces
            name = _BRAKET_GATES[gate]
            args = "" if scale is None else f"({_qasm_angle(Angle(op.angle.symbol, scale * op.angle.a, scale * op.angle.b))})"
            if name.startswith("ctrl @ "):  # the modifier goes before the gate and its angle
                name, args = name + args, ""
            lines.append(f"{name}{args} " + ", ".join(f"{reg}[{q}]" for q in qubits) + ";")
    if braket:
        for o in range(len(circuit.outputs)):
            parts = [f"{float(circuit.term_weights[o, t])!r} * r{t}" for t in np.flatnonzero(circuit.term_weights[o])]
            parts += [repr(float(circuit.output_constants[o]))] if circuit.output_constants[o] else []
            lines.append(f"// output {o} = " + " + ".join(parts) + f"  (r{{k}}: result type k below)")
        lines += [f"#pragma braket result expectation {_product_text(t, reg)}" for t in circuit.terms]
        return "\n".join(lines) + "\n"
    for out in circuit.outputs:
        if isinstance(out, PauliSum):
            lines.append(f"#pragma {_SUM_PRAGMA} {_sum_text(out, reg)}")
            continue
        lines.append(f"#pragma braket result expectation {_product_text(out, reg)}")
    return "\n".join(lines) + "\n"
