"""Fuzzing the front door: mutated OpenQASM files, and arbitrary text, handed to ``Circuit.from_qasm``.

Every outcome must be a circuit or a :class:`qshift.QShiftError`, within a time limit, never another
exception or a hang; a circuit that both qshift and Qiskit's importer accept must give the values
Qiskit's ``Statevector`` gives (outputs read from the pragmas by tests/reference.py's own parser).

Property-based with hypothesis, seeded (``derandomize``): the same inputs on every run. CI runs a
few hundred inputs in a few seconds; ``QSHIFT_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py -s`` runs a
long pass and prints the outcome counts.
"""

import os
import re
import signal
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import qshift

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from reference import qiskit_expectations  # noqa: E402

EXAMPLES = int(os.environ.get("QSHIFT_FUZZ_EXAMPLES", "200"))
LIMIT_S = 5.0  # the longest one input may take (parsing, and simulating a small accepted circuit)
SOURCES = [p.read_text() for p in sorted((Path(__file__).resolve().parents[1] / "circuits").glob("*.qasm"))]

TOKENS = [
    "0", "1", "-1", "2", "1/2", "7/2", "3 % 2", "2**10000", "1e308", "1e-320", "10" * 200, "pi", "tau", "euler",
    "sqrt(-1)", "ln(0)", "exp(1000)", "(-1)**0.5", "0**-1", "sin(1, 2)", "cos(pi)", "theta", "2*theta+1", "x",
    "undefined", "q", "q[0]", "q[1]", "q[99]", "q[-1]", "q[1000000000000]", "h", "cx", "rx", "ry(0.3)", "ctrl @ x",
    "negctrl @ rz(0.2)", "inv @ s", "pow(2) @ rx(0.1)", "pow(0.5) @ x", ";", "[", "]", "(", ")", "{", "}", "@", "->",
    "qubit", "bit", "measure", "reset", "gate", "def", "if", "for", "input float[64]", "input angle[32]", "output",
    "OPENQASM 2.0", "include \"qelib1.inc\"", "include \"/etc/passwd\"", "qreg", "creg", "U", "CX", "barrier",
]
STATEMENTS = [
    "h q[0];", "cx q[0], q[1];", "rx(theta) q[0];", "h q;", "measure q;", "bit[2] c;", "c = measure q;",
    "reset q[0];", "barrier q;", "gate g(a) x { rx(a) x; }", "g(0.5) q[0];", "gate r2(a) x { r2(a) x; }",
    "r2(0.1) q[0];", "ctrl @ rx(0.4) q[0], q[1];", "inv @ t q[0];", "pow(3) @ s q[0];", "input angle[32] phi;",
    "input float[64] theta;", "qubit[3] r;", "qubit[1000000000000] big;", "#pragma braket result expectation z(q[0])",
    "#pragma qshift expectation 0.5 * z(q[0]) - 2 + x(q[1])", "#pragma braket result expectation x(q[0]) @ x(q[0])",
    "#pragma unknown", "rz(" + " + ".join(["1"] * 3000) + ") q[0];", "ry(1/2) q[0];", "u3(0.1, 0.2, 0.3) q[0];",
    "OPENQASM 2.0;", "qreg a[2];", "creg m[2];", "measure a -> m;", "sexc(theta) q[0], q[1];",
]

OUTCOMES: Counter = Counter()
_QUBIT_DECLARATION = re.compile(r"^\s*(?:qubit\s*(?:\[[^\]]*\])?|qreg)\s+(\w+)", re.M)
SLOWEST = [0.0]


class _Hang(Exception):
    pass


def _alarm(*_):
    raise _Hang()


def _mutate(text: str, ops) -> str:
    lines = text.split("\n")
    for op in ops:
        kind, a, b, token = op
        if not lines:
            lines = [""]
        i, j = a % len(lines), b % len(lines)
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "insert":
            lines.insert(i, STATEMENTS[b % len(STATEMENTS)])
        elif kind == "token":
            words = lines[i].split(" ")
            words[b % len(words)] = token
            lines[i] = " ".join(words)
        elif kind == "char":
            line = lines[i]
            k = b % (len(line) + 1)
            lines[i] = line[:k] + token[:1] + line[k + 1:]
        elif kind == "truncate":
            joined = "\n".join(lines)
            lines = joined[:b % (len(joined) + 1)].split("\n")
    return "\n".join(lines)


def _outcome(text: str, *, compare: bool) -> str:
    """Read ``text`` (and, when accepted and small, simulate it and compare with Qiskit); the outcome's name."""
    start = time.perf_counter()
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, LIMIT_S)
    try:
        try:
            circuit = qshift.Circuit.from_qasm(text)
        except qshift.QShiftError as exc:
            assert "expected:" in str(exc) and "received:" in str(exc), str(exc)
            return f"refused: {type(exc).__name__}"
        if compare and circuit.n_qubits <= 6:
            values = np.linspace(0.1, 0.9, circuit.n_symbols)
            ours = qshift.simulate(circuit, values)
            _compare_with_qiskit(text, circuit, values, ours)
        return "accepted"
    except _Hang:
        return "hang"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        SLOWEST[0] = max(SLOWEST[0], time.perf_counter() - start)


def _compare_with_qiskit(text: str, circuit, values, ours) -> None:
    registers = _QUBIT_DECLARATION.findall(text)
    if registers != ["q"]:  # the reference reads pragma qubits as indices of a register named q: only then comparable
        return
    try:
        theirs = qiskit_expectations(text, dict(zip(circuit.symbols, values)))
    except _Hang:
        raise
    except Exception:  # noqa: BLE001 - Qiskit's importer refuses it (or reads outputs differently): nothing to compare
        return
    if theirs.shape == ours.shape:
        np.testing.assert_allclose(ours, theirs, atol=1e-9, err_msg=text)
        OUTCOMES["(accepted and equal to Qiskit's Statevector)"] += 1


mutation = st.tuples(st.sampled_from(["delete", "duplicate", "swap", "insert", "token", "char", "truncate"]),
                     st.integers(0, 10 ** 6), st.integers(0, 10 ** 6), st.sampled_from(TOKENS))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=True,
                suppress_health_check=list(HealthCheck))


@FUZZ
@given(st.sampled_from(range(len(SOURCES))), st.lists(mutation, min_size=1, max_size=4))
def test_a_mutated_circuit_file_is_read_or_refused_in_time(source, ops):
    outcome = _outcome(_mutate(SOURCES[source], ops), compare=True)
    OUTCOMES[outcome] += 1
    assert outcome != "hang"


@FUZZ
@given(st.text(max_size=200))
def test_any_text_is_read_or_refused_in_time_and_never_read_as_a_file(text):
    outcome = _outcome(text, compare=False)
    OUTCOMES["text " + outcome] += 1
    assert outcome != "hang"


def test_zz_report_the_outcomes():
    """(Runs after the fuzz tests in file order) the counts, for the long run's record."""
    total = sum(n for outcome, n in OUTCOMES.items() if not outcome.startswith("("))  # "(...)": a subset
    print(f"\nfuzz: {total} inputs, slowest {SLOWEST[0]:.2f} s")
    for outcome, count in sorted(OUTCOMES.items(), key=lambda kv: -kv[1]):
        print(f"  {count:7d}  {outcome}")
    assert not any("hang" in o for o in OUTCOMES)
