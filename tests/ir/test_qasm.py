"""OpenQASM 3 in and out: every refusal names its line and says expected / received / fix; every circuit
round-trips through ``to_qasm``; fingerprints are stable across processes."""

import builtins
import io
import os
import subprocess
import sys

import numpy as np
import pytest

import qshift
from qshift import Circuit

HEAD = 'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\ninput float[64] phi;\nqubit[2] q;\n'
BODY_LINE = 6  # the first line after HEAD
OUTPUT = "#pragma braket result expectation z(q[0])\n"


def refused(body: str, error=qshift.QasmError, *, head: str = HEAD, output: str = OUTPUT):
    """Read HEAD + body + output, expecting ``error``; return the error after checking its rendering."""
    with pytest.raises(error) as info:
        Circuit.from_qasm(head + body + output)
    err = info.value
    assert isinstance(err, qshift.QShiftError)
    text = str(err)
    for label in ("expected:", "received:", "fix:"):
        assert label in text, text
    if err.line is not None:
        assert text.startswith(f"line {err.line}: "), text
    return err


# -- bad input --------------------------------------------------------------------------------------

def test_syntax_error_names_its_line():
    err = refused("h q[0];\nrx(theta q[1];\n")
    assert err.line == BODY_LINE + 1


def test_missing_semicolon_names_the_next_line():
    err = refused("h q[0]\ncx q[0], q[1];\n")
    assert err.line == BODY_LINE + 1 and "'cx'" in err.received


def test_unknown_gate():
    err = refused("h q[0];\nfoo(theta) q[1];\n", qshift.UnknownGateError)
    assert err.line == BODY_LINE + 1 and "'foo'" in err.received and "rx" in err.expected


@pytest.mark.parametrize("statement, expected", [
    ("cx q[0];", "2 qubit(s) and 0 angle(s)"),
    ("h q[0], q[1];", "1 qubit(s) and 0 angle(s)"),
    ("rx q[0];", "1 qubit(s) and 1 angle(s)"),
    ("rx(theta, phi) q[0];", "1 qubit(s) and 1 angle(s)"),
    ("x(0.5) q[0];", "1 qubit(s) and 0 angle(s)"),
    ("u3(theta, phi) q[0];", "1 qubit(s) and 3 angle(s)"),
    ("cx q[1], q[1];", "distinct qubits"),
])
def test_wrong_arity(statement, expected):
    err = refused(f"h q[0];\n{statement}\n", qshift.GateArityError)
    assert err.line == BODY_LINE + 1 and err.expected == expected


def test_qubit_out_of_range():
    err = refused("h q[0];\ncx q[0], q[2];\n", qshift.QubitIndexError)
    assert err.line == BODY_LINE + 1 and err.received == "q[2]"


def test_observable_qubit_out_of_range():
    err = refused("", qshift.QubitIndexError, output="#pragma braket result expectation x(q[0]) @ z(q[7])\n")
    assert err.line == BODY_LINE and err.received == "q[7]"


def test_duplicate_symbol():
    err = refused("input float[64] theta;\n", qshift.SymbolError)
    assert err.line == BODY_LINE and "declared twice" in err.problem


def test_undeclared_symbol():
    err = refused("rx(2*alpha) q[0];\n", qshift.SymbolError)
    assert err.line == BODY_LINE and err.received == "'alpha'" and "input float[64] alpha;" in err.fix


@pytest.mark.parametrize("angle", ["theta*phi", "sin(theta)", "theta**2", "1/theta", "cos(2*theta + 1)",
                                   "theta / (phi + 1)", "theta + phi"])
def test_non_affine_angle(angle):
    err = refused(f"h q[1];\nrx({angle}) q[0];\n", qshift.NonAffineAngleError)
    assert err.line == BODY_LINE + 1 and "a * symbol + b" in err.expected


def test_constant_functions_of_numbers_are_fine():
    c = Circuit.from_qasm(HEAD + "rx(sin(pi/2) * theta + 2**3) q[0];\nry(phi) q[1];\n" + OUTPUT)
    assert c.operations[0].angle == qshift.Angle("theta", 1.0, 8.0)


@pytest.mark.parametrize("statement, words", [
    # (measure, bit declarations, gate definitions, ctrl @ / inv @ and gphase are read now: tests/ir/test_qasm_peers.py)
    ("measure q[0];\nh q[0];", "mid-circuit measurement"),
    ("reset q[1];", "reset is not supported"),
    ("int[32] k = 3;", "ClassicalDeclaration"),
    ("float[64] f = theta;", "ClassicalDeclaration"),
    ("ctrl @ rxx(theta) q[0], q[1], q[0];", "same qubit twice"),
    ("output float[64] r;", "unsupported I/O declaration"),
    ("input int[32] n;", "unsupported I/O declaration"),
    ("#pragma braket noise bit_flip(0.1) q[0]", "unsupported pragma"),
    ("#pragma braket result probability q[0]", "unsupported pragma"),
    ("#pragma braket result expectation h(q[0])", "unsupported observable"),
    ("for int i in [0:1] { x q[0]; }", "ForInLoop"),
])
def test_unsupported_statements(statement, words):
    err = refused(f"h q[0];\n{statement}\n", qshift.CircuitError)
    assert err.line == BODY_LINE + 1 + statement.count("\n") and words in str(err)


def test_program_without_outputs():
    err = refused("h q[0];\n", output="")
    assert "no outputs" in err.problem


def test_include_of_another_file_is_refused_without_reading_it(tmp_path, monkeypatch):
    extra = tmp_path / "extra.inc"
    extra.write_text("gate myh a { h a; }\n")  # valid OpenQASM 3, and used by the program
    program = tmp_path / "program.qasm"
    program.write_text('OPENQASM 3.0;\ninclude "stdgates.inc";\ninclude "extra.inc";\nqubit[1] q;\nmyh q[0];\n'
                       + OUTPUT)
    opened = []

    def spy(real):
        def wrapper(file, *args, **kwargs):
            opened.append(os.fspath(file) if isinstance(file, (str, bytes, os.PathLike)) else file)
            return real(file, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(builtins, "open", spy(builtins.open))
    monkeypatch.setattr(io, "open", spy(io.open))
    monkeypatch.setattr(os, "open", spy(os.open))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(qshift.QasmError) as info:
        Circuit.from_qasm(program)
    assert info.value.line == 3 and "extra.inc" in info.value.received
    assert any(str(f).endswith("program.qasm") for f in opened)
    assert not any("extra.inc" in str(f) for f in opened), opened


def test_unreadable_path():
    with pytest.raises(qshift.QasmError) as info:
        Circuit.from_qasm("no/such/file.qasm")
    assert "fix:" in str(info.value) and "no/such/file.qasm" in str(info.value)


def test_library_names_read_as_the_cli_reads_them(tmp_path, monkeypatch):
    c = Circuit.from_qasm("vqe-h2")
    assert c == Circuit.from_qasm(qshift.circuit_path("vqe-h2")) and c.name == "vqe-h2"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sin").write_text(qshift.circuit_path("ising-2q").read_text())
    assert Circuit.from_qasm("sin") == Circuit.from_qasm(qshift.circuit_path("sin"))  # a name is a name
    assert Circuit.from_qasm(tmp_path / "sin").symbols == ("coupling", "field")  # a Path is a file
    with pytest.raises(qshift.QasmError) as info:
        Circuit.from_qasm("vqe-h3")
    assert "qshift.library()" in info.value.fix
    text = "OPENQASM 3.0; qubit[1] q; x q[0]; #pragma braket result expectation z(q[0])"
    assert Circuit.from_qasm(text).name == "circuit"  # OpenQASM text stays text


@pytest.mark.parametrize("text, received", [("", "an empty text"), ("  \n\t\n", "an empty text"),
                                            ("// just a comment\n/* and another */\n", "only comments")])
def test_an_empty_program_is_a_qasm_error(tmp_path, text, received):
    path = tmp_path / "empty.qasm"
    path.write_text(text)
    for source in (path, str(path), text):
        with pytest.raises(qshift.QasmError) as info:
            Circuit.from_qasm(source)
        assert info.value.problem == "the program is empty" and info.value.received == received
        assert "fix:" in str(info.value)


# -- round trips ------------------------------------------------------------------------------------

def assert_round_trip(c: Circuit, rng):
    back = Circuit.from_qasm(c.to_qasm())
    assert back == c
    assert back.operations == c.operations and back.outputs == c.outputs and back.symbols == c.symbols
    values = rng.uniform(-np.pi, np.pi, (4, c.n_symbols))
    np.testing.assert_allclose(qshift.simulate(back, values), qshift.simulate(c, values), atol=1e-12, rtol=0)


def test_library_round_trips(library_circuit, rng):
    assert_round_trip(library_circuit, rng)


# Symbol names include gate names and the register's name: to_qasm must still write a readable program.
_NAMES = ["theta", "x", "u", "q", "cx", "w_0", "θ"]
_GATE_CHOICES = sorted(qshift.GATES) + ["u3", "u2", "cu", "u", "u1", "cnot", "xx", "yy", "zz", "phase", "cphase"]


def _random_builder_circuit(rng, n_qubits=4, n_ops=25) -> Circuit:
    from qshift.ir.gates import arity

    b = qshift.CircuitBuilder(n_qubits)
    symbols = b.inputs(*rng.permutation(_NAMES)[:4])
    coefficients = [1.0, -1.0, 2.0, 0.5, np.pi / 2, -np.pi, 1 / 3, 1e-7]
    for _ in range(n_ops):
        name = _GATE_CHOICES[rng.integers(len(_GATE_CHOICES))]
        nq, na = arity(name)
        if nq > n_qubits:
            continue
        angles = []
        for _ in range(na):
            a, c = rng.choice(coefficients), rng.choice(coefficients + [0.0])
            angles.append(a * symbols[rng.integers(4)] + c if rng.random() < 0.7 else float(rng.normal()))
        b.gate(name, *angles, *(int(q) for q in rng.permutation(n_qubits)[:nq]))
    for _ in range(3):
        qubits = rng.permutation(n_qubits)[: rng.integers(0, n_qubits + 1)]
        b.expectation({int(q): "XYZ"[rng.integers(3)] for q in qubits})
    return b.build()


@pytest.mark.parametrize("seed", range(10))
def test_random_builder_circuits_round_trip(seed):
    rng = np.random.default_rng(seed)
    assert_round_trip(_random_builder_circuit(rng), rng)


def test_symbol_named_like_the_register_round_trips(rng):
    b = qshift.CircuitBuilder(2)
    q, x = b.inputs("q", "x")
    c = b.rx(q, 0).x(1).rzz(-x + 0.5, 0, 1).expectation("Z0 Z1").expectation({}).build()
    text = c.to_qasm()
    assert "qubit[2] q_;" in text and "input float[64] q;" in text
    assert_round_trip(c, rng)


def test_negative_zero_offsets_round_trip(rng):
    b = qshift.CircuitBuilder(1)
    t = b.input("theta")
    c = b.rx(-1.0 * t + 0.0, 0).ry(-t, 0).rz(t * 0, 0).p(-0.0, 0).expectation("Z0").build()
    assert_round_trip(c, rng)


def test_to_qasm_is_readable_by_qiskit(rng):
    import qiskit_qasm3_import  # noqa: F401  (the test extra has it)
    from reference import qiskit_expectations

    c = Circuit.from_qasm(qshift.circuit_path("u3-cp"))
    values = rng.uniform(-3, 3, c.n_symbols)
    np.testing.assert_allclose(qiskit_expectations(c.to_qasm(), dict(zip(c.symbols, values))),
                               qshift.simulate(c, values), atol=1e-10)


# -- fingerprints -----------------------------------------------------------------------------------

def _fingerprint_in_subprocess(path, seed: str) -> str:
    code = f"import qshift; print(qshift.Circuit.from_qasm({str(path)!r}).fingerprint)"
    env = dict(os.environ, PYTHONHASHSEED=seed)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


def test_fingerprint_is_stable_across_processes():
    path = qshift.circuit_path("u3-cp")
    first, second = _fingerprint_in_subprocess(path, "1"), _fingerprint_in_subprocess(path, "2")
    assert first == second == Circuit.from_qasm(path).fingerprint
    assert len(first) == 32


def test_fingerprint_changes_with_an_angle_coefficient():
    text = qshift.circuit_path("u3-cp").read_text()
    assert "cp(2*lam + 0.1)" in text
    base = Circuit.from_qasm(text)
    changed = Circuit.from_qasm(text.replace("cp(2*lam + 0.1)", "cp(2.5*lam + 0.1)"))
    offset = Circuit.from_qasm(text.replace("cp(2*lam + 0.1)", "cp(2*lam + 0.2)"))
    assert len({base.fingerprint, changed.fingerprint, offset.fingerprint}) == 3
    assert base != changed


def test_fingerprint_ignores_the_name_and_layout_of_the_text():
    text = qshift.circuit_path("sin").read_text()
    spaced = text.replace(";", " ;").replace("ry(theta)", "ry( 1.0 * theta + 0 )")
    assert Circuit.from_qasm(text) == Circuit.from_qasm(spaced)
