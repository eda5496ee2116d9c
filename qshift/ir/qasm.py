"""OpenQASM 3 (and 2) in and out, through the ``openqasm3`` reference parser.

A source is program text, a path (a :class:`pathlib.Path` or any ``os.PathLike``, or a
``str`` ending in ``.qasm``), or the name of a circuit of the library (``"vqe-h2"``).
Anything else is program text: a string is never taken for a path because it has no ``;``.
A file must be a regular file of at most :data:`MAX_FILE_BYTES` bytes of UTF-8 text.

The accepted language (docs/qasm.md): ``OPENQASM 3.x`` (or ``2.0``); ``include
"stdgates.inc"`` / ``"qelib1.inc"`` (never read: their gates are built in); ``input float``
/ ``input angle`` symbols (a symbol may share a gate's name, as builder and converter
circuits do: gates are only called, symbols only read); ``qubit[n] q;`` / ``qreg q[n];``
registers; the gates of :mod:`qshift.ir.gates` and the file's own ``gate`` definitions
(inlined at each call) with the modifiers ``ctrl @``, ``negctrl @``, ``inv @``, ``pow(k) @``
where the result is exact in the gate table; a register as an operand broadcasts; ``barrier``,
``gphase``, ``bit``/``creg`` declarations and final measurements are ignored; outputs are
``#pragma braket result expectation`` Pauli products or ``#pragma qshift expectation``
weighted sums, or come from ``outputs=``. Angles are affine in one symbol. Anything else is
refused with a :class:`~qshift.QasmError` (or a more specific ``CircuitError``) naming the line.
A circuit file never reads another file.

Constant arithmetic follows the OpenQASM 3 types, as Qiskit's importer and Braket's
interpreter do: an integer divided by an integer is an integer (``1/2`` is ``0``, ``-3/2`` is
``-2``: floor division); OpenQASM 2 has only reals (``1/2`` is ``0.5``, ``^`` is a power).

:func:`qasm_parts` returns the parts of a circuit (:class:`~qshift.ir.operation.CircuitParts`);
:meth:`~qshift.Circuit.from_qasm` builds and validates the :class:`~qshift.Circuit`.
:func:`to_qasm` reads any circuit-like object (``n_qubits``, ``symbols``, ``operations``,
``outputs``).

Example:
    >>> parts = qasm_parts("OPENQASM 3.0; input float[64] x; qubit[1] q; rx(2*x) q[0]; "
    ...                    "#pragma braket result expectation z(q[0])")
    >>> parts.symbols, str(parts.operations[0].angle), str(parts.outputs[0])
    (('x',), '2.0*x', 'Z0')
    >>> text = "OPENQASM 3.0; qubit[2] q; h q; ctrl @ rx(1/2 + 0.25) q[0], q[1];"
    >>> [(op.gate, op.qubits) for op in qasm_parts(text, outputs=["Z0 Z1"]).operations]
    [('h', (0,)), ('h', (1,)), ('crx', (0, 1))]
"""

from __future__ import annotations

import cmath
import contextlib
import functools
import io
import math
import os
import re
import stat
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from qshift._data import shipped_files
from qshift._errors import (
    CircuitError,
    GateArityError,
    MissingExtraError,
    NonAffineAngleError,
    QasmError,
    QubitIndexError,
    SymbolError,
    UnknownGateError,
)
from qshift._format import format_affine
from qshift.ir.angle import Angle, as_angle
from qshift.ir.gates import GATES, MULTI_ANGLE, arity, decomposition, expand
from qshift.ir.limits import check_qubits
from qshift.ir.operation import CircuitParts, Operation
from qshift.ir.pauli import PauliString, PauliSum, as_observable

__all__ = ["qasm_parts", "to_qasm"]

MAX_FILE_BYTES = 10 * 2 ** 20
"""The largest circuit file :func:`qasm_parts` reads (10 MiB); raise it here for a larger file."""

MAX_OPERATIONS = 1_000_000
"""The most gates a program may expand to (gate definitions, ``pow`` and broadcasts included)."""

_CONSTANTS = {"pi": math.pi, "π": math.pi, "tau": 2 * math.pi, "τ": 2 * math.pi, "euler": math.e, "ℇ": math.e}
_FUNCTIONS = {"sin": math.sin, "cos": math.cos, "tan": math.tan, "exp": math.exp, "sqrt": math.sqrt,
              "arcsin": math.asin, "arccos": math.acos, "arctan": math.atan, "ln": math.log, "log": math.log}
_INT_LIMIT = 2 ** 1023  # an integer constant beyond this has no float: refused
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_VERSION = re.compile(r"^\s*OPENQASM\s+([^;\s]*)\s*;")
_SUM_PRAGMA = "qshift expectation"
_INCLUDES = ("stdgates.inc", "qelib1.inc")
# qshift gate -> how Braket's OpenQASM writes it (its built-in gates, and the ctrl @ modifier); it reads no
# include files. The excitation gates (qshift extensions) have no Braket name.
_BRAKET_GATES = {"id": "i", "x": "x", "y": "y", "z": "z", "h": "h", "s": "s", "sdg": "si", "t": "t", "tdg": "ti",
                 "sx": "v", "cx": "cnot", "cy": "cy", "cz": "cz", "ch": "ctrl @ h", "swap": "swap", "ccx": "ccnot",
                 "cswap": "cswap", "rx": "rx", "ry": "ry", "rz": "rz", "p": "phaseshift", "crx": "ctrl @ rx",
                 "cry": "ctrl @ ry", "crz": "ctrl @ rz", "cp": "cphaseshift", "rxx": "xx", "ryy": "yy", "rzz": "zz",
                 "ecr": "ecr", "iswap": "iswap", "sxdg": "vi"}
_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_FACTOR = r"[ixyzIXYZ]\s*\(\s*[A-Za-z_]\w*\s*(?:\[\s*\d+\s*\])?\s*\)"
_SUM_TERM = re.compile(rf"\s*([+-])?\s*({_NUMBER})?\s*(?:\*\s*)?({_FACTOR}(?:\s*@\s*{_FACTOR})*)?\s*")
_OBS_FACTOR = re.compile(r"^\s*([ixyzIXYZ])\s*\(\s*([A-Za-z_]\w*)\s*(?:\[\s*(\d+)\s*\])?\s*\)\s*$")

# Multi-angle gates whose expansion (qshift.ir.gates.expand) is exact, and those exact up to the phase
# exp(i (phi + lam) / 2) (OpenQASM's U); any other one has an unknown phase and cannot be controlled.
_EXACT_EXPANSIONS = frozenset({"cu", "cu3", "r", "prx", "xx_plus_yy", "gpi", "gpi2", "ms"})
_U_PHASE = frozenset({"u3", "u", "U", "u2"})

# Gates of OpenQASM 2's qelib1.inc (Qiskit's) for when the gate table has no entry of that name; the
# c3x, c3sqrtx, rccx and rc3x bodies are Qiskit's qelib1.inc definitions.
_FALLBACK_GATES = """
gate u0(gamma) q { }
gate sxdg a { inv @ sx a; }
gate csx a, b { ctrl @ sx a, b; }
gate cu1(lam) a, b { cp(lam) a, b; }
gate cu3(theta, phi, lam) c, t { ctrl @ U(theta, phi, lam) c, t; }
gate rccx a, b, c { u2(0, pi) c; u1(pi/4) c; cx b, c; u1(-pi/4) c; cx a, c; u1(pi/4) c; cx b, c; u1(-pi/4) c;
  u2(0, pi) c; }
gate rc3x a, b, c, d { u2(0, pi) d; u1(pi/4) d; cx c, d; u1(-pi/4) d; u2(0, pi) d; cx a, d; u1(pi/4) d;
  cx b, d; u1(-pi/4) d; cx a, d; u1(pi/4) d; cx b, d; u1(-pi/4) d; u2(0, pi) d; u1(pi/4) d; cx c, d;
  u1(-pi/4) d; u2(0, pi) d; }
gate c3x a, b, c, d { h d; p(pi/8) a; p(pi/8) b; p(pi/8) c; p(pi/8) d; cx a, b; p(-pi/8) b; cx a, b; cx b, c;
  p(-pi/8) c; cx a, c; p(pi/8) c; cx b, c; p(-pi/8) c; cx a, c; cx c, d; p(-pi/8) d; cx b, d; p(pi/8) d;
  cx c, d; p(-pi/8) d; cx a, d; p(pi/8) d; cx c, d; p(-pi/8) d; cx b, d; p(pi/8) d; cx c, d; p(-pi/8) d;
  cx a, d; h d; }
gate c3sqrtx a, b, c, d { h d; cu1(pi/8) a, d; h d; cx a, b; h d; cu1(-pi/8) b, d; h d; cx a, b; h d;
  cu1(pi/8) b, d; h d; cx b, c; h d; cu1(-pi/8) c, d; h d; cx a, c; h d; cu1(pi/8) c, d; h d; cx b, c; h d;
  cu1(-pi/8) c, d; h d; cx a, c; h d; cu1(pi/8) c, d; h d; }
gate c4x a, b, c, d, e { h e; cu1(pi/2) d, e; h e; c3x a, b, c, d; h e; cu1(-pi/2) d, e; h e; c3x a, b, c, d;
  c3sqrtx a, b, c, e; }
"""


# -- sources ------------------------------------------------------------------------------------

def _read_source(source) -> tuple[str, str]:
    """``(program text, circuit name)``: paths and library names are read, anything else is text."""
    if isinstance(source, os.PathLike):
        path = Path(source)
        return _read_file(path), path.stem
    if not isinstance(source, str):
        raise QasmError("cannot read a circuit from this object",
                        expected="OpenQASM text, a pathlib.Path, a str ending in .qasm, or a library name",
                        received=type(source).__name__, fix="pass a str or pathlib.Path")
    word = source.strip()
    if "\n" in word or ";" in word:
        return source, "circuit"
    if word in _library():  # a library circuit's name, e.g. "vqe-h2"
        return _read_file(_library()[word]), word
    if word.lower().endswith(".qasm"):
        return _read_file(Path(word)), Path(word).stem
    if word and not any(ch.isspace() for ch in word):
        raise QasmError(f"{word[:80]!r} is not OpenQASM text, a .qasm path or a library circuit name",
                        expected="OpenQASM text, a path ending in .qasm (or a pathlib.Path), or one of "
                                 + ", ".join(_library()), received=repr(word[:80]),
                        fix="pick a name from qshift.library(); to read a file pass pathlib.Path(...) or a "
                            "name ending in .qasm (nothing was read)")
    return source, "circuit"


def _library() -> dict[str, Path]:
    return shipped_files("circuits", ".qasm", CircuitError, "the circuit library")


def _read_file(path: Path) -> str:
    """The UTF-8 text of a regular file of at most :data:`MAX_FILE_BYTES` bytes; opened without blocking,
    so a FIFO or a device is refused before anything is read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise QasmError(f"cannot read {str(path)!r}",
                        expected="an existing .qasm file, a library circuit name or OpenQASM 3 text",
                        received=f"{type(exc).__name__}: {exc.strerror or exc}",
                        fix="check the path, or pick a name from qshift.library() (or pass the program text "
                            "itself)") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise QasmError(f"{str(path)!r} is not a regular file", expected="a .qasm text file",
                            received="a directory" if stat.S_ISDIR(info.st_mode) else "a device, pipe or socket",
                            fix="pass the path of a circuit file (nothing was read)")
        data = _read_bounded(fd, path, info.st_size)
    finally:
        os.close(fd)
    return _decode(data, path)


def _read_bounded(fd: int, path: Path, size: int) -> bytes:
    too_large = QasmError(f"{str(path)!r} is larger than {MAX_FILE_BYTES} bytes",
                          expected=f"a circuit file of at most {MAX_FILE_BYTES} bytes", received=f"{size} bytes"
                          if size > MAX_FILE_BYTES else f"more than {MAX_FILE_BYTES} bytes",
                          fix="check the path; for a larger circuit raise qshift.ir.qasm.MAX_FILE_BYTES")
    if size > MAX_FILE_BYTES:
        raise too_large
    chunks, total = [], 0
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > MAX_FILE_BYTES:
            raise too_large
        chunks.append(chunk)


def _decode(data: bytes, path: Path) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QasmError(f"{str(path)!r} is not UTF-8 text", expected="an OpenQASM text file (UTF-8)",
                        received=f"a byte that is not UTF-8 at offset {exc.start}",
                        fix="check the path: this looks like a binary file") from None
    if "\x00" in text:
        raise QasmError(f"{str(path)!r} is not a text file", expected="an OpenQASM text file",
                        received=f"a NUL byte at offset {text.index(chr(0))}",
                        fix="check the path: this looks like a binary file")
    return text


def _check_not_empty(text: str) -> None:
    """An empty program (nothing but blanks and comments) is refused before the parser sees it."""
    if not _COMMENT.sub("", text).strip():
        raise QasmError("the program is empty", expected="an OpenQASM 3 program: qubits, gates and "
                        "'#pragma braket result expectation' outputs",
                        received="an empty text" if not text.strip() else "only comments",
                        fix="check the file: it has no statements")


def _version(text: str) -> int:
    """The major language version the header declares (3 when there is none); others are refused."""
    body = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    m = _VERSION.match(body)
    if m is None:
        return 3
    version = m.group(1)
    major = version.split(".")[0]
    if major in ("2", "3") and re.fullmatch(r"\d+(\.\d+)?", version):
        return int(major)
    raise QasmError(f"OpenQASM version {version} is not supported", expected="OPENQASM 3 (3.0, 3.1 ...) or "
                    "OPENQASM 2.0", received=f"OPENQASM {version};", fix="declare OPENQASM 3.0 (or 2.0)",
                    line=body[:m.start(1)].count("\n") + 1)


def _parse(text: str, version: int):
    try:
        import openqasm3
        from openqasm3.parser import QASM3ParsingError
    except ImportError as exc:  # pragma: no cover - openqasm3 is a core dependency
        raise MissingExtraError("reading OpenQASM needs the 'openqasm3' parser", expected="openqasm3[parser]",
                                received=str(exc), fix="pip install qshift") from exc
    what = f"OpenQASM {version}"
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # ANTLR's console listener would print each error too
            return openqasm3.parse(text)
    except RecursionError:
        raise
    except QASM3ParsingError as exc:
        line, detail = _syntax_location(exc)
        raise QasmError(f"malformed {what}", expected=f"a valid {what} program",
                        received=detail, fix="fix the syntax at the line shown", line=line) from None
    except Exception as exc:  # the reference visitor raises plain errors on some constructs
        raise QasmError(f"malformed {what}", expected=f"a valid {what} program",
                        received=f"{type(exc).__name__}: {str(exc)[:200]}", fix="fix the program's syntax") from None


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


# -- deep expressions -----------------------------------------------------------------------------

_DEEP_RECURSION = 120_000  # frames: about 20,000 terms in one expression
_DEEP_STACK = 512 * 2 ** 20  # bytes of (virtual) stack for the thread that reads a deep program


def _deep(fn, *args):
    """``fn(*args)``; if it recurses too deeply (a sum of thousands of terms: the parser and the reader
    recurse once per operator), again in a thread with a larger stack and recursion limit."""
    try:
        return fn(*args)
    except RecursionError:
        pass
    outcome: dict = {}

    def run():
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, _DEEP_RECURSION))
        try:
            outcome["value"] = fn(*args)
        except RecursionError:  # dropped here: its traceback is as deep as the recursion, freed on this stack
            outcome["too deep"] = True
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc.with_traceback(None)
        finally:
            sys.setrecursionlimit(old)

    worker = threading.Thread(target=run, name="qshift-qasm-deep")
    size = threading.stack_size()
    try:
        threading.stack_size(_DEEP_STACK)  # read when the thread starts
        worker.start()
    except (ValueError, RuntimeError):  # a platform without large thread stacks: refused below
        outcome["too deep"] = True
    else:
        worker.join()
    finally:
        threading.stack_size(size)
    error = outcome.get("error")
    if outcome.get("too deep"):
        raise QasmError("an expression is nested too deeply", expected="at most about 20,000 operators in one "
                        "expression", received="a deeper expression",
                        fix="compute the constant beforehand and write the number") from None
    if error is not None:
        raise error
    return outcome["value"]


# -- constant folding -------------------------------------------------------------------------------
# A value is an ``int`` (an integer-typed constant, exact) or an :class:`Angle` (float-typed: a constant,
# or affine in one symbol). OpenQASM 3 keeps integer literals integers, so ``1/2`` is an integer division
# (floor, as Qiskit's importer and Braket's interpreter compute it); OpenQASM 2 has only reals.

class _Scope(NamedTuple):
    """What names mean where an expression is read: inputs at top level, parameters in a gate body."""

    names: Mapping[str, Angle]
    reals: bool = False  # OpenQASM 2: every number is real, and ``^`` is a power
    gate: str | None = None  # the gate whose body this is
    visible: frozenset | None = None  # in a body: the program's gates defined before that gate (None: all)


def _too_large(what: str) -> QasmError:
    return QasmError("a constant is too large", expected="numbers within the float range (about 1.8e308)",
                     received=what, fix="check the expression: an angle this large is a mistake")


def _text(where) -> str:
    """What an error shows of an expression: the text itself, or an AST node written back."""
    return where if isinstance(where, str) else _describe(where)


def _int(value: int, where) -> int:
    if abs(value) > _INT_LIMIT:
        digits = len(str(abs(value))) if abs(value) < 10 ** 4000 else "thousands of"
        raise _too_large(f"an integer of {digits} digits in {_text(where)}")
    return value


def _real(value, where) -> Angle:
    """A finite real constant, else a :class:`QasmError` naming the expression."""
    if isinstance(value, complex) or not math.isfinite(value):
        raise QasmError("a constant expression has no finite real value", expected="a finite real number",
                        received=f"{_text(where)} = {value!r}", fix="check the expression")
    return Angle.constant(value)


def _finite(angle: Angle, where) -> Angle:
    if not (math.isfinite(angle.a) and math.isfinite(angle.b)):
        raise QasmError("an angle is not finite", expected="a * symbol + b with finite a and b",
                        received=_text(where), fix="check the expression: a number overflowed")
    return angle


def _as_angle_value(value) -> Angle:
    if isinstance(value, int):
        try:
            return Angle.constant(float(value))
        except OverflowError:
            raise _too_large(f"the integer {str(value)[:40]}...") from None
    return value


def _value(e, scope: _Scope):
    """The value of expression ``e``: an exact ``int`` or an :class:`Angle`."""
    from openqasm3 import ast

    if isinstance(e, ast.IntegerLiteral):
        value = _int(int(e.value), "an integer literal")
        return _as_angle_value(value) if scope.reals else value
    if isinstance(e, ast.FloatLiteral):
        if not math.isfinite(float(e.value)):
            raise _too_large("a float literal beyond 1.8e308")
        return _real(float(e.value), e)
    if isinstance(e, ast.Identifier):
        return _name(e.name, scope)
    if isinstance(e, ast.UnaryExpression) and e.op.name == "-":
        return -_value(e.expression, scope)
    if isinstance(e, ast.BinaryExpression) and e.op.name in _BINARY:
        op = "**" if scope.reals and e.op.name == "^" else e.op.name
        if op in ("+", "-", "*", "/", "**", "%"):
            return _binary(op, _value(e.lhs, scope), _value(e.rhs, scope), e)
    if isinstance(e, ast.FunctionCall) and e.name.name in _FUNCTIONS:
        return _function(e, scope)
    raise QasmError("unsupported angle expression", expected="numbers, pi, inputs, + - * / ** and sin, cos, "
                    "tan, exp, ln, sqrt, arcsin, arccos, arctan of constants", received=_describe(e),
                    fix="write the angle as a * symbol + b")


_BINARY = ("+", "-", "*", "/", "**", "%", "^")


def _name(name: str, scope: _Scope) -> Angle:
    if name in scope.names:
        return scope.names[name]
    if name in _CONSTANTS:
        return Angle.constant(_CONSTANTS[name])
    if scope.gate is not None:
        raise SymbolError(f"unknown name {name!r} in the body of gate {scope.gate!r}",
                          expected=f"one of its parameters {sorted(scope.names)} or a constant (pi, tau, euler)",
                          received=repr(name), fix="a gate body sees only its own parameters: pass the value as "
                          "a parameter")
    raise SymbolError(f"undeclared symbol {name!r}", expected=f"one of the inputs {list(scope.names)}",
                      received=repr(name), fix=f"declare it first: input float[64] {name};")


def _binary(op: str, lhs, rhs, e):
    if isinstance(lhs, int) and isinstance(rhs, int):
        return _integer_binary(op, lhs, rhs, e)
    lhs, rhs = _as_angle_value(lhs), _as_angle_value(rhs)
    if op == "**":
        return _power_of(lhs, rhs, e)
    if op == "%":
        raise QasmError("% of a non-integer", expected="integers on both sides of %", received=_describe(e),
                        fix="use % only between integers")
    if op == "/" and not rhs.is_constant:
        raise NonAffineAngleError("division by a symbol is not affine", expected="a * symbol + b",
                                  received=f"({lhs}) / ({rhs})", fix="use a linear expression")
    if op == "/" and rhs.b == 0:
        raise QasmError("division by zero in an angle", expected="a nonzero divisor",
                        received=f"({lhs}) / 0", fix="fix the expression")
    result = {"+": lambda: lhs + rhs, "-": lambda: lhs - rhs, "*": lambda: lhs * rhs, "/": lambda: lhs / rhs}[op]()
    return _finite(result, e)


def _integer_binary(op: str, a: int, b: int, e) -> "int | Angle":
    if op in ("/", "%") and b == 0:
        raise QasmError("division by zero in an angle", expected="a nonzero divisor", received=_describe(e),
                        fix="fix the expression")
    if op == "**" and b < 0:
        if a == 0:
            raise QasmError("zero to a negative power", expected="a nonzero base", received=_describe(e),
                            fix="fix the expression")
        return _real(float(a) ** b, e)
    if op == "**" and abs(a) > 1 and b * math.log2(abs(a)) > 1024:
        raise _too_large(_describe(e))
    result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a // b,
              "%": lambda: a % b, "**": lambda: a ** b}[op]()
    return _int(result, e)


def _power_of(base: Angle, exponent: Angle, e) -> Angle:
    if not (base.is_constant and exponent.is_constant):
        raise NonAffineAngleError("a power of a symbol is not affine", expected="a * symbol + b",
                                  received=f"({base}) ** ({exponent})", fix="use a linear expression")
    try:
        value = base.b ** exponent.b
    except (OverflowError, ZeroDivisionError) as exc:
        raise QasmError("a constant expression has no finite real value", expected="a finite real number",
                        received=f"{_describe(e)}: {exc}", fix="check the expression") from None
    return _real(value, e)


def _function(e, scope: _Scope) -> Angle:
    name = e.name.name
    if len(e.arguments) != 1:
        raise QasmError(f"{name} takes one argument", expected=f"{name}(x)",
                        received=f"{len(e.arguments)} arguments: {_describe(e)}", fix=f"call {name} with one value")
    arg = _as_angle_value(_value(e.arguments[0], scope))
    if not arg.is_constant:
        raise NonAffineAngleError(f"{name}() of a symbol is not affine", expected="a * symbol + b",
                                  received=_describe(e), fix="move the nonlinearity into classical code")
    try:
        value = _FUNCTIONS[name](arg.b)
    except (ValueError, OverflowError) as exc:
        raise QasmError(f"{name}({arg.b!r}) has no finite real value", expected=f"an argument in {name}'s domain",
                        received=f"{_describe(e)}: {exc}", fix="check the expression") from None
    return _real(value, e)


def _angle(e, scope: _Scope) -> Angle:
    return _finite(_as_angle_value(_value(e, scope)), e)


def _integer(e, scope: _Scope, what: str) -> int:
    """An integer constant (register sizes, indices, ``ctrl(n)``): integer literals stay integers."""
    value = _value(e, scope._replace(reals=False))
    if isinstance(value, int):
        return value
    raise QasmError(f"{what} must be an integer constant", expected="e.g. 3", received=_describe(e),
                    fix="write an integer")


def _number(e, scope: _Scope, what: str) -> float | int:
    """A constant number (``pow(k)``): an ``int`` when integer-typed."""
    value = _value(e, scope)
    if isinstance(value, int):
        return value
    if value.is_constant:
        return value.b
    raise QasmError(f"{what} must be a constant", expected="a number", received=_describe(e),
                    fix="write a number (symbols may only appear in gate angles)")


# -- modifiers: exact rewrites in the gate table ----------------------------------------------------
# A gate call becomes a list of pieces: one-angle gates of the table on global qubits, plus "gphase"
# (a global phase, which matters once controlled) and "?phase" (a phase qshift does not know: such a
# list cannot be controlled). ctrl distributes over a product (C(AB) = C(A) C(B)), inv reverses it.

class _Piece(NamedTuple):
    gate: str
    qubits: tuple[int, ...]
    angle: Angle | None = None


_PHASE, _UNKNOWN_PHASE = "gphase", "?phase"
_ATOL = 1e-12


def _refuse(label: str, why: str) -> QasmError:
    """``label`` (the modifiers and the gate, e.g. ``"ctrl @ rxx"``) has no exact form in the gate table."""
    return QasmError(f"{label} is not supported", expected="a modifier whose result is exact in qshift's gates "
                     "(ctrl @ x/rx/ry/rz/p/h/swap/U ..., inv @ any fixed or one-angle gate, pow(k) @ a rotation "
                     "or integer k)", received=f"{label}: {why}",
                     fix="write the gate it stands for (e.g. cx, crx, sdg), or decompose it")


@functools.cache
def _fixed_named(n_qubits: int, key: bytes) -> str | None:
    """The fixed gate of the table whose matrix is exactly the (rounded) one in ``key``."""
    target = np.frombuffer(key, dtype=complex).reshape(2 ** n_qubits, 2 ** n_qubits)
    for spec in GATES.values():
        if not spec.parametrized and spec.n_qubits == n_qubits and np.allclose(spec.matrix, target, atol=_ATOL):
            return spec.name
    return None


def _find_fixed(matrix: np.ndarray) -> str | None:
    n = int(round(math.log2(len(matrix))))
    return _fixed_named(n, np.ascontiguousarray(np.round(matrix, 13) + 0.0, dtype=complex).tobytes())


@functools.cache
def _controlled_rotation(name: str) -> str | None:
    """The one-angle gate whose generator is ``|1><1| (x) G`` for ``name``'s generator ``G``."""
    target = np.kron(np.diag([0.0, 1.0]), GATES[name].generator)
    for spec in GATES.values():
        if spec.parametrized and spec.generator.shape == target.shape and np.allclose(spec.generator, target,
                                                                                      atol=_ATOL):
            return spec.name
    return None


def _is_control_form(m: np.ndarray) -> bool:
    h = len(m) // 2
    return bool(np.allclose(m[:h, h:], 0, atol=_ATOL) and np.allclose(m[h:, :h], 0, atol=_ATOL))


@functools.cache
def _order(name: str) -> int | None:
    """The least ``m <= 8`` with ``U ** m = I`` exactly (phase included) for fixed gate ``name``."""
    m = GATES[name].matrix
    power = np.eye(len(m), dtype=complex)
    for k in range(1, 9):
        power = power @ m
        if np.allclose(power, np.eye(len(m)), atol=_ATOL):
            return k
    return None


def _one_qubit(m: np.ndarray, q: int) -> list[_Piece]:
    """A 2x2 unitary exactly (phase included): ``gphase(a); p(phi)`` when diagonal, else
    ``rz(d); ry(g); rz(b); gphase(a)`` (``m = e^{ia} RZ(b) RY(g) RZ(d)``); zero angles dropped."""
    if abs(m[0, 1]) < _ATOL and abs(m[1, 0]) < _ATOL:
        alpha = cmath.phase(m[0, 0])
        pieces = [(_PHASE, (), alpha), ("p", (q,), cmath.phase(m[1, 1]) - alpha)]
    else:
        alpha = cmath.phase(m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]) / 2
        v = m * cmath.exp(-1j * alpha)
        gamma = 2 * math.atan2(abs(v[1, 0]), abs(v[0, 0]))
        total = -2 * cmath.phase(v[0, 0]) if abs(v[0, 0]) > _ATOL else 0.0
        diff = 2 * cmath.phase(v[1, 0])
        pieces = [("rz", (q,), (total - diff) / 2), ("ry", (q,), gamma), ("rz", (q,), (total + diff) / 2),
                  (_PHASE, (), alpha)]
    return [_Piece(g, qs, Angle.constant(a)) for g, qs, a in pieces if a != 0.0]


def _exact_pieces(name: str, qubits: tuple[int, ...]) -> list[_Piece] | None:
    """Fixed gate ``name`` as one-angle pieces, exactly: a one-qubit gate by its Euler angles, a
    controlled one-qubit gate as the controlled pieces of its target's; ``None`` for any other."""
    m = GATES[name].matrix
    if len(m) == 2:
        return _one_qubit(m, qubits[0])
    if len(m) == 4 and _is_control_form(m) and np.allclose(m[:2, :2], np.eye(2), atol=_ATOL):
        return _control(_one_qubit(m[2:, 2:], qubits[1]), qubits[0], name)
    return None


def _control(pieces: list[_Piece], c: int, label: str) -> list[_Piece]:
    """``ctrl @`` with control qubit ``c``: every piece controlled (exact, phases become ``p`` on ``c``)."""
    out: list[_Piece] = []
    for piece in pieces:
        out += _control_piece(piece, c, label)
    return out


def _control_piece(p: _Piece, c: int, label: str) -> list[_Piece]:
    if p.gate == _PHASE:
        return [_Piece("p", (c,), p.angle)]
    if p.gate == _UNKNOWN_PHASE:
        raise _refuse(label, "its expansion is exact only up to a global phase")
    if c in p.qubits:
        raise GateArityError(f"ctrl @ {label}: the control is also a target", expected="distinct qubits",
                             received=f"control {c} on a gate on {list(p.qubits)}", fix="use different qubits")
    spec = GATES[p.gate]
    if spec.parametrized:
        name = _controlled_rotation(spec.name)
        if name is not None:
            return [_Piece(name, (c,) + p.qubits, p.angle)]
        if _is_control_form(spec.generator) and np.allclose(spec.generator[:len(spec.generator) // 2], 0,
                                                            atol=_ATOL):
            a, rest, half = p.qubits[0], p.qubits[1:], p.angle * 0.5  # C(C-R(t)): Barenco et al.'s V = R(t/2)
            return [_Piece(spec.name, (a,) + rest, half), _Piece("cx", (c, a)), _Piece(spec.name, (a,) + rest, -half),
                    _Piece("cx", (c, a)), _Piece(spec.name, (c,) + rest, half)]
        raise _refuse(label, f"qshift has no controlled {spec.name}")
    name = _find_fixed(np.kron(np.diag([1.0, 0.0]), np.eye(len(spec.matrix)))
                       + np.kron(np.diag([0.0, 1.0]), spec.matrix))
    if name is not None:
        return [_Piece(name, (c,) + p.qubits)]
    exact = _exact_pieces(spec.name, p.qubits)
    if exact is None:
        raise _refuse(label, f"qshift has no controlled {spec.name}")
    return _control(exact, c, label)


def _inverse(pieces: list[_Piece], label: str) -> list[_Piece]:
    out: list[_Piece] = []
    for p in reversed(pieces):
        out += _inverse_piece(p, label)
    return out


def _inverse_piece(p: _Piece, label: str) -> list[_Piece]:
    if p.gate == _UNKNOWN_PHASE:
        return [p]
    if p.gate == _PHASE or GATES[p.gate].parametrized:  # exp(-i t G) ** -1 = exp(-i (-t) G)
        return [p._replace(angle=-p.angle)]
    m = GATES[p.gate].matrix
    name = _find_fixed(m.conj().T)
    if name is not None:
        return [_Piece(name, p.qubits)]
    order = _order(p.gate)
    if order is not None:
        return [p] * (order - 1)
    if len(m) == 2:
        return _one_qubit(m.conj().T, p.qubits[0])
    raise _refuse(label, f"qshift has no inverse of {p.gate}")


def _power(pieces: list[_Piece], k: float | int, label: str) -> list[_Piece]:
    """``pow(k) @``: a one-angle gate's angle times ``k`` (any real ``k``, as Qiskit's importer reads it);
    anything else for an integer ``k`` only, repeated (a fixed gate modulo its order)."""
    rotations = [p for p in pieces if p.gate != _UNKNOWN_PHASE]
    if len(rotations) == 1 and (rotations[0].gate == _PHASE or GATES[rotations[0].gate].parametrized):
        return [p if p.gate == _UNKNOWN_PHASE else p._replace(angle=_finite(p.angle * k, f"pow({k}) @ {label}"))
                for p in pieces]
    if isinstance(k, float) and not k.is_integer():
        raise _refuse(label, "a non-integer power of a gate that is not a one-angle rotation")
    k = int(k)
    if len(rotations) == 1 and len(pieces) == 1 and _order(pieces[0].gate) is not None:
        return pieces * (k % _order(pieces[0].gate))
    if k < 0:
        pieces, k = _inverse(pieces, label), -k
    _check_count(len(pieces) * k, label)
    return pieces * k


def _check_count(n: int, what: str) -> None:
    if n > MAX_OPERATIONS:
        raise QasmError(f"the program expands to more than {MAX_OPERATIONS:,} gates", expected=f"at most "
                        f"{MAX_OPERATIONS:,} gates after gate definitions, pow and broadcasts are expanded",
                        received=what, fix="check for a runaway pow(k) or nested gate definitions")


# -- the reader -------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _fallback_definitions() -> dict:
    import openqasm3

    return {s.name.name: s for s in openqasm3.parse(_FALLBACK_GATES).statements}


class _Reader:
    """Walks the AST of one program and collects the parts of a circuit."""

    def __init__(self, name: str, version: int, outputs: tuple | None):
        self.name = name
        self.reals = version == 2
        self.given_outputs = outputs
        self.symbols: list[str] = []
        self.registers: dict[str, tuple[int, int | None]] = {}  # name -> (offset, size or None for a lone qubit)
        self.bits: set[str] = set()
        self.n_qubits = 0
        self.ops: list[Operation] = []
        self.outputs: list = []
        self.gates: dict = {}  # the program's gate definitions, by name: (definition, gates defined before it)
        self.measured: dict[int, int | None] = {}  # qubit -> line of its measurement
        self.scope = _Scope({}, self.reals)  # what names mean at top level: the inputs

    def read(self, program) -> CircuitParts:
        from openqasm3 import ast

        handlers = {
            ast.Include: self._include, ast.IODeclaration: self._io, ast.QubitDeclaration: self._qubits,
            ast.ClassicalDeclaration: self._classical, ast.QuantumGateDefinition: self._define,
            ast.QuantumGate: self._gate, ast.QuantumPhase: self._gate, ast.Pragma: self._pragma,
            ast.QuantumBarrier: lambda s: None, ast.QuantumMeasurementStatement: self._measure,
            ast.QuantumReset: self._reset,
        }
        for statement in program.statements:
            handler = handlers.get(type(statement))
            if handler is None:
                raise QasmError(f"unsupported statement {type(statement).__name__}",
                                expected="include, input float/angle, qubit and bit declarations, gate definitions, "
                                         "gates, barrier, final measurements, #pragma braket result expectation",
                                received=_describe(statement), line=_line(statement),
                                fix="remove it: qshift circuits have no classical code or control flow; outputs are "
                                    "expectation pragmas (or outputs=)")
            _at_line(_line(statement), handler, statement)
        return CircuitParts(self.n_qubits, tuple(self.ops), self._outputs(), tuple(self.symbols), self.name)

    def _outputs(self) -> tuple:
        if self.given_outputs is not None and self.outputs:
            raise QasmError("the program declares its own outputs and outputs= was given",
                            expected="outputs= only for a program without result pragmas",
                            received=f"{len(self.outputs)} pragma output(s) and {len(self.given_outputs)} in outputs=",
                            fix="drop outputs=, or remove the '#pragma ... expectation' lines")
        if self.given_outputs is not None:
            return self.given_outputs
        if not self.outputs:
            measured = " (it measures qubits: qshift computes expectation values instead)" if self.measured else ""
            raise QasmError("the program declares no outputs" + measured,
                            expected="at least one '#pragma braket result expectation <pauli product>', or "
                                     "outputs= given to from_qasm", received="none",
                            fix="add e.g. '#pragma braket result expectation z(q[0])', or pass "
                                "outputs=['Z0 Z1', ...] to Circuit.from_qasm")
        return tuple(self.outputs)

    # -- declarations -----------------------------------------------------------------------------
    def _include(self, s) -> None:
        if s.filename not in _INCLUDES:
            raise QasmError(f"include of {s.filename!r} refused", expected='include "stdgates.inc" (or OpenQASM 2\'s '
                            '"qelib1.inc"), whose gates are built in', received=f'include "{s.filename}"',
                            fix="inline the gates you need: a circuit file must not read other files")

    def _io(self, s) -> None:
        from openqasm3 import ast

        if s.io_identifier is not ast.IOKeyword.input or not isinstance(s.type, (ast.FloatType, ast.AngleType)):
            raise QasmError("unsupported I/O declaration", expected="input float[64] NAME; or input angle NAME;",
                            received=_describe(s), fix="declare inputs as 'input float[64] name;'")
        name = s.identifier.name
        if name in self.symbols:
            raise SymbolError(f"symbol {name!r} declared twice", expected="each input declared once",
                              received=f"a second 'input float[64] {name};'", fix="remove the duplicate")
        if name in _CONSTANTS or name in self.registers:  # a gate name is fine: gates are only called
            raise SymbolError(f"input name {name!r} clashes with a built-in constant or a register",
                              expected="a fresh name", received=repr(name), fix="rename the input")
        self.symbols.append(name)
        self.scope.names[name] = Angle(name)

    def _qubits(self, s) -> None:
        name = s.qubit.name
        if name in self.registers or name in self.symbols or name in self.bits:
            raise QasmError(f"register {name!r} declared twice", expected="distinct register names",
                            received=repr(name), fix="rename one register")
        size = None if s.size is None else check_qubits(_integer(s.size, self.scope, "a register size"))
        check_qubits(self.n_qubits + (size or 1))
        self.registers[name] = (self.n_qubits, size)
        self.n_qubits += 1 if size is None else size

    def _classical(self, s) -> None:
        """``bit[n] c;`` / ``creg c[n];`` (kept for measurements), or ``bit c = measure q;``."""
        from openqasm3 import ast

        init = s.init_expression
        if not isinstance(s.type, ast.BitType) or not (init is None or isinstance(init, ast.QuantumMeasurement)):
            raise QasmError("unsupported statement ClassicalDeclaration", expected="bit[n] c; or creg c[n]; (for "
                            "measurements only)", received=_describe(s),
                            fix="remove it: qshift circuits have no classical variables")
        self.bits.add(s.identifier.name)
        if init is not None:
            self._measured(init.qubit)

    def _define(self, s) -> None:
        """A ``gate`` definition, inlined at each call. It may shadow a built-in gate (the file's meaning wins);
        its body may call only gates known before it, so definitions never recurse."""
        from openqasm3 import ast

        name = s.name.name
        if name in self.gates:
            raise QasmError(f"gate {name!r} defined twice", expected="one definition per gate",
                            received=f"a second 'gate {name} ...'", fix="rename or remove one definition")
        for st in s.body:
            if isinstance(st, ast.QuantumGate) and st.name.name == name:
                raise QasmError(f"gate {name!r} calls itself", expected="a body of previously defined gates",
                                received=_describe(st), line=_line(st), fix="gate definitions cannot be recursive")
            if isinstance(st, ast.QuantumGate) and st.name.name not in self.gates:
                _at_line(_line(st), self._known, st.name.name)
        self.gates[name] = (s, frozenset(self.gates))

    @staticmethod
    def _known(name: str) -> None:
        if name not in MULTI_ANGLE and name not in _fallback_definitions():
            arity(name)  # UnknownGateError for an unknown gate

    # -- gates ------------------------------------------------------------------------------------
    def _gate(self, s) -> None:
        """A gate call (``QuantumGate``) or ``gphase`` (``QuantumPhase``), broadcast over registers."""
        for qubits in self._broadcast(s.qubits):
            pieces = self._call(s, qubits, self.scope, _line(s))
            for p in pieces:
                if p.gate in (_PHASE, _UNKNOWN_PHASE):
                    continue  # a global phase: no effect on expectation values
                measured = [q for q in p.qubits if q in self.measured]
                if measured:
                    raise QasmError("a gate after a measurement (mid-circuit measurement)",
                                    expected="measurements only at the end of the circuit",
                                    received=f"{_describe(s)} acts on qubit {measured[0]}, measured on line "
                                             f"{self.measured[measured[0]]}",
                                    fix="move the measurements to the end (qshift computes expectation values)")
                self.ops.append(Operation(p.gate, p.qubits, p.angle))
            _check_count(len(self.ops), "the gates of the program")

    def _call(self, s, qubits: tuple[int, ...], scope: _Scope, line: int | None) -> list[_Piece]:
        """The pieces of one call ``s`` on global ``qubits``: the gate (inlined if defined here), then its
        modifiers from the innermost out."""
        from openqasm3 import ast

        is_phase = isinstance(s, ast.QuantumPhase)
        name = "gphase" if is_phase else s.name.name
        angles = (_angle(s.argument, scope),) if is_phase else tuple(_angle(a, scope) for a in s.arguments)
        modifiers = [self._modifier(m, scope) for m in s.modifiers]
        n_controls = sum(n for kind, n in modifiers if kind in ("ctrl", "negctrl"))
        label = " @ ".join([_modifier_text(kind, n) for kind, n in modifiers] + [name])
        if modifiers and len(set(qubits)) != len(qubits):
            raise GateArityError(f"gate {label!r} applied to the same qubit twice", expected="distinct qubits",
                                 received=str(list(qubits)), fix="use different qubits", line=line)
        if is_phase:
            pieces = [_Piece(_PHASE, (), angles[0])]
            _check_arity(label, n_controls, qubits, line)
        else:
            pieces = self._base(name, angles, qubits, n_controls, label, line, scope.visible)
        controls = list(qubits[:n_controls])
        for kind, n in reversed(modifiers):
            if kind == "inv":
                pieces = _inverse(pieces, label)
            elif kind == "pow":
                pieces = _power(pieces, n, label)
            else:
                for c in reversed(controls[len(controls) - n:]):
                    flip = [_Piece("x", (c,))] if kind == "negctrl" else []
                    pieces = flip + _control(pieces, c, label) + flip
                del controls[len(controls) - n:]
        return pieces

    def _modifier(self, m, scope: _Scope) -> tuple[str, float | int]:
        kind = m.modifier.name
        if kind == "inv":
            return kind, 1
        if kind == "pow":
            return kind, _number(m.argument, scope, "the power of pow(k)")
        n = 1 if m.argument is None else _integer(m.argument, scope, f"the count of {kind}(n)")
        if n < 1:
            raise QasmError(f"{kind}({n}) needs at least one control", expected=f"{kind}(n) with n >= 1",
                            received=f"{kind}({n})", fix=f"write {kind} @ or {kind}(2) @")
        return kind, n

    def _base(self, name: str, angles, qubits, n_controls: int, label: str, line, visible) -> list[_Piece]:
        """The gate itself on its target qubits (the last ones), exactly (its global phase kept): the program's
        definition if one is ``visible``, else the gate table's, else a fallback definition (qelib1's)."""
        targets = tuple(qubits[n_controls:])
        definition, known = self.gates.get(name, (None, frozenset())) if visible is None or name in visible \
            else (None, frozenset())
        if definition is None and name not in MULTI_ANGLE:
            try:
                arity(name)
            except UnknownGateError:
                definition = _fallback_definitions().get(name)
                if definition is None:
                    raise
        if definition is not None:
            _check_arity(label, n_controls + len(definition.qubits), qubits, line,
                         (len(definition.arguments), len(angles)))
            return self._inline(definition, angles, targets, line, known)
        if n_controls:
            _check_arity(label, n_controls + arity(name)[0], qubits, line)
        pieces = [_Piece(g, qs, None if a is None else as_angle(a)) for g, qs, a in expand(name, targets, angles,
                                                                                            line=line)]
        if name in _U_PHASE:  # U(theta, phi, lam) = exp(i (phi + lam) / 2) RZ(phi) RY(theta) RZ(lam)
            pieces += [_Piece(_PHASE, (), as_angle(a) * 0.5) for a in angles[-2:]]  # one phase per symbol
        elif name in MULTI_ANGLE and name not in _EXACT_EXPANSIONS:
            pieces.append(_Piece(_UNKNOWN_PHASE, ()))
        return pieces

    def _inline(self, definition, angles, targets: tuple[int, ...], line, visible: frozenset) -> list[_Piece]:
        """A defined gate's body on ``targets`` with its parameters bound to ``angles``; it sees the program's
        gates ``visible`` where it was defined, so no definition can reach itself."""
        gate = definition.name.name
        if len(set(targets)) != len(targets):
            raise GateArityError(f"gate {gate!r} applied to the same qubit twice", expected="distinct qubits",
                                 received=str(list(targets)), fix="use different qubits", line=line)
        scope = _Scope(dict(zip((a.name for a in definition.arguments), angles)), self.reals, gate, visible)
        wires = dict(zip((q.name for q in definition.qubits), targets))
        pieces: list[_Piece] = []
        for st in definition.body:
            try:
                pieces += self._body_statement(st, wires, scope)
            except CircuitError as exc:  # the body's line, and the call's
                where = f" (in gate {gate!r} called on line {line})" if line is not None and exc.line != line else ""
                raise type(exc)(exc.problem + where, expected=exc.expected, received=exc.received, fix=exc.fix,
                                line=exc.line if exc.line is not None else _line(st)) from None
            _check_count(len(pieces), f"the body of gate {gate!r}")
        return pieces

    def _body_statement(self, st, wires: dict, scope: _Scope) -> list[_Piece]:
        from openqasm3 import ast

        if isinstance(st, ast.QuantumBarrier):
            return []
        if not isinstance(st, (ast.QuantumGate, ast.QuantumPhase)):
            raise QasmError(f"unsupported statement in the body of gate {scope.gate!r}", expected="gate calls",
                            received=_describe(st), fix="a gate body holds gate calls only", line=_line(st))
        qubits = tuple(self._wire(q, wires, scope.gate) for q in st.qubits)
        return self._call(st, qubits, scope, _line(st))

    @staticmethod
    def _wire(q, wires: dict, gate: str) -> int:
        from openqasm3 import ast

        if isinstance(q, ast.Identifier) and q.name in wires:
            return wires[q.name]
        raise QasmError(f"unknown qubit in the body of gate {gate!r}", expected=f"one of its qubits {list(wires)}",
                        received=_describe(q), fix="a gate body acts on its own qubit arguments only")

    # -- operands ---------------------------------------------------------------------------------
    def _broadcast(self, operands) -> list[tuple[int, ...]]:
        """One qubit tuple per application: a register (or a slice) applies the gate to each of its qubits in
        turn, paired with the other registers of the same size; a single qubit is repeated."""
        groups = [self._operand(q) for q in operands]
        sizes = {len(g) for g, whole in groups if whole}
        if len(sizes) > 1:
            raise QasmError("registers of different sizes in one gate", expected="registers of equal size (a "
                            "gate on whole registers pairs their qubits)", received=", ".join(
                                f"{_describe(q)} ({len(g)} qubits)" for q, (g, whole) in zip(operands, groups) if whole),
                            fix="index the registers, or use registers of equal size")
        n = sizes.pop() if sizes else 1
        return [tuple(g[i] if whole else g[0] for g, whole in groups) for i in range(n)]

    def _operand(self, q) -> tuple[list[int], bool]:
        """The global qubits of one operand, and whether it is a register (broadcast) or a single qubit."""
        from openqasm3 import ast

        if isinstance(q, ast.Identifier):
            offset, size = self._register(q.name)
            return ([offset], False) if size is None else (list(range(offset, offset + size)), True)
        index = q.indices[0] if isinstance(q, ast.IndexedIdentifier) and len(q.indices) == 1 else None
        if isinstance(index, ast.DiscreteSet):  # q[{0, 2}]
            return [self._register_qubit(q.name.name, i) for i in self._indices(q.name.name, index.values)], True
        if isinstance(index, list) and len(index) == 1 and isinstance(index[0], ast.RangeDefinition):  # q[0:2]
            return [self._register_qubit(q.name.name, i) for i in self._indices(q.name.name, index)], True
        if isinstance(index, list) and len(index) == 1:
            return [self._register_qubit(q.name.name, _integer(index[0], self.scope, "a qubit index"))], False
        raise QasmError("unsupported qubit operand", expected="q[i], a register q, a slice q[a:b] or q[{i, j}]",
                        received=_describe(q), fix="apply the gate to single qubits or whole registers")

    def _indices(self, name: str, items) -> list[int]:
        from openqasm3 import ast

        size = self._register(name)[1] or 1
        out: list[int] = []
        for item in items:
            if not isinstance(item, ast.RangeDefinition):
                out.append(_integer(item, self.scope, "a qubit index"))
                continue
            start = 0 if item.start is None else _integer(item.start, self.scope, "a range start")
            end = size - 1 if item.end is None else _integer(item.end, self.scope, "a range end")
            step = 1 if item.step is None else _integer(item.step, self.scope, "a range step")
            if step == 0:
                raise QasmError("a range with step 0", expected="a nonzero step", received=f"{name}[...:0:...]",
                                fix="write a:b or a:step:b")
            start, end = (start + size if start < 0 else start), (end + size if end < 0 else end)
            out += list(range(start, end + (1 if step > 0 else -1), step))  # OpenQASM ranges include their end
        return out

    def _register(self, name: str) -> tuple[int, int | None]:
        if name not in self.registers:
            raise QasmError(f"unknown qubit register {name!r}", expected=f"one of {sorted(self.registers)}",
                            received=repr(name), fix=f"declare it: qubit[n] {name};")
        return self.registers[name]

    def _register_qubit(self, name: str, index: int | None) -> int:
        offset, size = self._register(name)
        if size is None and index is None:
            return offset
        if size is None:
            raise QasmError(f"{name!r} is a single qubit, not a register", expected=name,
                            received=f"{name}[{index}]", fix=f"write {name}, or declare qubit[n] {name};")
        if index is None:
            raise QasmError(f"register {name!r} used as a whole", expected=f"{name}[i] for one qubit",
                            received=name, fix="index the register")
        if -size <= index < 0:
            index += size  # OpenQASM 3 counts negative indices from the end
        if not 0 <= index < size:
            raise QubitIndexError(f"qubit {name}[{index}] is outside the register", expected=f"0 <= i < {size}",
                                  received=f"{name}[{index}]", fix=f"use an index below {size} or enlarge {name}")
        return offset + index

    # -- measurements and outputs -----------------------------------------------------------------
    def _measure(self, s) -> None:
        """``measure q;``, ``c = measure q;``, ``measure q -> c;``: ignored, and no gate may follow on ``q``."""
        self._measured(s.measure.qubit)

    def _measured(self, operand) -> None:
        qubits, _ = self._operand(operand)
        for q in qubits:
            self.measured.setdefault(q, _line(operand))

    def _reset(self, s) -> None:
        raise QasmError("reset is not supported", expected="a circuit that starts in |0...0> and is not reset",
                        received=_describe(s), fix="remove the reset (every qubit starts in |0>); qshift has no "
                        "mid-circuit reset or measurement")

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


def _check_arity(label: str, n_qubits: int, qubits, line, angles: tuple[int, int] | None = None) -> None:
    """``len(qubits) == n_qubits`` (controls included) and, for ``angles = (expected, given)``, as many angles."""
    if len(qubits) == n_qubits and (angles is None or angles[0] == angles[1]):
        return
    wanted = f"{n_qubits} qubit(s)" + ("" if angles is None else f" and {angles[0]} angle(s)")
    given = f"{len(qubits)} qubit(s)" + ("" if angles is None else f" and {angles[1]} angle(s)")
    raise GateArityError(f"gate {label!r} applied with {given}", expected=wanted,
                         received=f"{given}: {list(qubits)}", line=line,
                         fix="pass one control qubit per ctrl, then the gate's own qubits and angles")


def _modifier_text(kind: str, n) -> str:
    if kind == "inv" or (kind in ("ctrl", "negctrl") and n == 1):
        return kind
    return f"{kind}({n})"


def _at_line(line: int | None, fn, *args):
    """``fn(*args)``, with ``line`` put on a :class:`CircuitError` that names none."""
    try:
        return fn(*args)
    except CircuitError as exc:
        if exc.line is None and line is not None:
            raise type(exc)(exc.problem, expected=exc.expected, received=exc.received, fix=exc.fix,
                            line=line) from None
        raise


def _line(node) -> int | None:
    span = getattr(node, "span", None)
    return None if span is None else span.start_line


def _describe(node) -> str:
    try:
        from openqasm3 import dumps

        text = " ".join(dumps(node).split())
        return text if len(text) < 120 else text[:117] + "..."
    except Exception:
        return type(node).__name__


def _as_outputs(outputs) -> tuple | None:
    """``outputs=``: one observable, or a sequence of them (anything :func:`~qshift.ir.pauli.as_observable`
    takes: ``"Z0 Z1"``, ``{0: "Z"}``, ``{"Z0": 0.5, "": 1.0}``, a PauliString or PauliSum)."""
    if outputs is None:
        return None
    if isinstance(outputs, (str, PauliString, PauliSum, Mapping)):
        outputs = [outputs]
    try:
        items = list(outputs)
    except TypeError:
        raise QasmError("outputs= is not a list of observables", expected="e.g. ['Z0 Z1', {'X0': 0.5}]",
                        received=type(outputs).__name__, fix="pass a list of Pauli products or sums") from None
    if not items:
        raise QasmError("outputs= is empty", expected="at least one observable", received="[]",
                        fix="pass e.g. outputs=['Z0']")
    return tuple(as_observable(o) for o in items)


def _read_text(text: str, name: str, outputs: tuple | None) -> CircuitParts:
    version = _version(text)
    return _Reader(name, version, outputs).read(_parse(text, version))


def qasm_parts(source, outputs=None) -> CircuitParts:
    """The parts of the circuit in OpenQASM text, a path or a library name (``Circuit(*parts)`` validates them).

    ``outputs`` (one observable or a list, as :func:`~qshift.ir.pauli.as_observable` takes them) gives the
    outputs of a program that declares none; a program with its own output pragmas refuses it.
    """
    text, name = _read_source(source)
    _check_not_empty(text)
    return _deep(_read_text, text, name, _as_outputs(outputs))


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
            lines.append(f"// output {o} = " + " + ".join(parts) + "  (r{k}: result type k below)")
        lines += [f"#pragma braket result expectation {_product_text(t, reg)}" for t in circuit.terms]
        return "\n".join(lines) + "\n"
    for out in circuit.outputs:
        if isinstance(out, PauliSum):
            lines.append(f"#pragma {_SUM_PRAGMA} {_sum_text(out, reg)}")
            continue
        lines.append(f"#pragma braket result expectation {_product_text(out, reg)}")
    return "\n".join(lines) + "\n"
