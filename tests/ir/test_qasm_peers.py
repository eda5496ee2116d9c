"""OpenQASM as the peers write it: Qiskit's ``qasm3.dumps`` and ``qasm2.dumps``, Braket's export, and the
language features they use (gate definitions, modifiers, broadcasts, measurements, OpenQASM 2).

Every value is checked against the peer's own simulator (Qiskit's ``Statevector`` of the original circuit,
Braket's ``LocalSimulator``) to 1e-10, and gradients against central finite differences of those values."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("qiskit", reason="needs qshift[aer] (Qiskit is the reference and the exporter)")
import qiskit.qasm2  # noqa: E402
import qiskit.qasm3  # noqa: E402
from qiskit import QuantumCircuit  # noqa: E402
from qiskit.circuit import Parameter  # noqa: E402
from qiskit.circuit import library as qlib  # noqa: E402
from qiskit.quantum_info import SparsePauliOp, Statevector  # noqa: E402

import qshift
from qshift import Circuit

OUTPUTS_3 = ["Z0", "X1 Y2", "Z0 Z1 Z2", {"Z0 Z1": 0.5, "X2": -0.25, "": 1.5}]


def _pauli_op(spec, n: int) -> SparsePauliOp:
    """A qshift output spec ("X1 Y2", or {"Z0 Z1": 0.5, "": 1.5}) as Qiskit's operator (little-endian indices)."""
    pairs = spec.items() if isinstance(spec, dict) else [(spec, 1.0)]
    terms = []
    for product, coefficient in pairs:
        factors = [(f[0], int(f[1:])) for f in product.split()]
        terms.append(("".join(p for p, _ in factors), [q for _, q in factors], coefficient))
    return SparsePauliOp.from_sparse_list(terms, n)


def statevector_values(qc: QuantumCircuit, values: dict, outputs) -> np.ndarray:
    """Qiskit's expectation values of ``outputs`` on ``qc`` (final measurements removed) at ``values``."""
    qc = qc.remove_final_measurements(inplace=False)
    bound = qc.assign_parameters({p: values[p] for p in qc.parameters}) if qc.parameters else qc
    state = Statevector(bound)
    return np.array([float(np.real(state.expectation_value(_pauli_op(o, qc.num_qubits)))) for o in outputs])


def _qasm3_name(name: str) -> str:
    """How ``qiskit.qasm3.dumps`` writes a parameter's name: ``θ[0]`` becomes ``_θ_0_``."""
    return name if name.isidentifier() else "_" + re.sub(r"\W", "_", name)


def symbol_values(c: Circuit, qc: QuantumCircuit, rng) -> tuple[np.ndarray, dict]:
    """Random values for the circuit's symbols, and the same values keyed by Qiskit's parameters."""
    by_name = {_qasm3_name(p.name): p for p in qc.parameters}
    assert sorted(by_name) == sorted(c.symbols)
    x = rng.uniform(-np.pi, np.pi, c.n_symbols)
    return x, {by_name[s]: v for s, v in zip(c.symbols, x)}


def check_against_qiskit(qc: QuantumCircuit, rng, outputs=OUTPUTS_3, gradients: bool = True) -> Circuit:
    """Read ``qasm3.dumps(qc)`` with outputs attached; its values (and gradients) must be Qiskit's."""
    c = Circuit.from_qasm(qiskit.qasm3.dumps(qc), outputs=outputs)
    assert c.n_qubits == qc.num_qubits
    x, values = symbol_values(c, qc, rng)
    np.testing.assert_allclose(qshift.simulate(c, x), statevector_values(qc, values, outputs), atol=1e-10, rtol=0)
    if gradients and c.n_symbols:
        jacobian = qshift.derivatives(c, x, order=1).jacobian
        h = 1e-5
        for k, (s, _) in enumerate(zip(c.symbols, x)):
            shifted = []
            for sign in (1, -1):
                moved = dict(values)
                param = next(p for p in qc.parameters if _qasm3_name(p.name) == s)
                moved[param] = values[param] + sign * h
                shifted.append(statevector_values(qc, moved, outputs))
            np.testing.assert_allclose(jacobian[:, k], (shifted[0] - shifted[1]) / (2 * h), atol=1e-6, rtol=0)
    return c


# -- Qiskit's qasm3.dumps ---------------------------------------------------------------------------

def _qiskit_gates_circuit() -> QuantumCircuit:
    """Gates Qiskit's exporter writes as gate definitions (rxx, ecr, rzx, r, ryy, rzz, sxdg, cs, csx, iswap,
    dcx, ccz), plus parametrized U and cu, ending with measure_all (a barrier and measurements)."""
    a, t = Parameter("a"), Parameter("θ")
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.rxx(a, 0, 1)
    qc.ecr(1, 2)
    qc.rzx(2 * t + 1, 0, 2)
    qc.sx(0)
    qc.r(a, t, 1)
    qc.ryy(t, 0, 2)
    qc.rzz(a, 1, 2)
    qc.cu(a, t, 0.3, 0.1, 0, 1)
    qc.sxdg(2)
    qc.cs(0, 1)
    qc.csx(1, 2)
    qc.iswap(0, 1)
    qc.dcx(0, 2)
    qc.u(a, t, 1, 0)
    qc.ccz(0, 1, 2)
    qc.measure_all()
    return qc


def test_qiskit_dumps_of_gate_definitions_and_measurements(rng):
    qc = _qiskit_gates_circuit()
    text = qiskit.qasm3.dumps(qc)
    assert "gate rxx" in text and "gate ecr" in text and "gate r(" in text and "measure" in text
    check_against_qiskit(qc, rng)


@pytest.mark.parametrize("make", [
    lambda: qlib.efficient_su2(3, reps=1),
    lambda: qlib.efficient_su2(3, reps=1).decompose(),
    lambda: qlib.real_amplitudes(3, reps=2),
    lambda: qlib.real_amplitudes(3, reps=2).decompose(),
    lambda: qlib.qaoa_ansatz(SparsePauliOp(["ZZI", "IZZ"]), reps=2),
    lambda: qlib.qaoa_ansatz(SparsePauliOp(["ZZI", "IZZ"]), reps=2).decompose(),
], ids=["efficient_su2", "efficient_su2-decomposed", "real_amplitudes", "real_amplitudes-decomposed",
        "qaoa_ansatz", "qaoa_ansatz-decomposed"])
def test_qiskit_library_circuits(make, rng):
    check_against_qiskit(make(), rng)


def test_qiskit_dumps_with_measure_all_needs_outputs():
    text = qiskit.qasm3.dumps(_qiskit_gates_circuit())
    with pytest.raises(qshift.QasmError) as info:
        Circuit.from_qasm(text)
    assert "outputs=" in info.value.fix and "measures" in info.value.problem


def test_a_circuit_read_from_qiskit_round_trips(rng):
    c = Circuit.from_qasm(qiskit.qasm3.dumps(qlib.efficient_su2(2, reps=1).decompose()), outputs=["Z0 Z1"])
    back = Circuit.from_qasm(c.to_qasm())
    assert back == c


# -- modifiers and definitions, against Qiskit's importer -------------------------------------------

PREP = "".join(f"ry({0.3 + 0.4 * i}) q[{i}];\nrz({0.2 + 0.5 * i}) q[{i}];\n" for i in range(3))
HEAD = 'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] a;\ninput float[64] b;\nqubit[3] q;\n'
ALL_PAULIS = [f"{p}{k}" for k in range(3) for p in "XYZ"] + ["X0 Y1", "Z0 X2", "Y0 Y1 Y2"]


def check_against_qiskit_importer(body: str, rng, prep: str = PREP) -> Circuit:
    """``body`` after a generic state preparation: qshift's values must be those of Qiskit's reading."""
    text = HEAD + prep + body
    c = Circuit.from_qasm(text, outputs=ALL_PAULIS)
    qc = qiskit.qasm3.loads(text)
    x = rng.uniform(-2, 2, 2)
    values = {p: x[c.symbols.index(p.name)] for p in qc.parameters}
    np.testing.assert_allclose(qshift.simulate(c, x), statevector_values(qc, values, ALL_PAULIS), atol=1e-10, rtol=0)
    return c


@pytest.mark.parametrize("body", [
    "ctrl @ x q[0], q[1];", "ctrl @ ctrl @ x q[0], q[1], q[2];", "ctrl(2) @ x q[2], q[0], q[1];",
    "ctrl @ y q[0], q[1];", "ctrl @ z q[0], q[1];", "ctrl @ h q[1], q[0];", "ctrl @ s q[0], q[1];",
    "ctrl @ tdg q[0], q[1];", "ctrl @ sx q[0], q[1];", "ctrl @ rx(a) q[0], q[1];", "ctrl @ ry(2*a + 1) q[0], q[1];",
    "ctrl @ rz(b) q[0], q[1];", "ctrl @ p(a) q[0], q[1];", "ctrl @ phase(a) q[0], q[1];",
    "ctrl @ U(a, b, 0.3) q[0], q[1];", "ctrl @ u3(a, 0.2, b) q[0], q[1];", "ctrl @ u2(a, b) q[0], q[1];",
    "ctrl @ swap q[0], q[1], q[2];", "ctrl @ cx q[0], q[1], q[2];", "ctrl @ cz q[0], q[1], q[2];",
    "ctrl @ cp(a) q[0], q[1], q[2];", "ctrl @ crx(a) q[2], q[0], q[1];", "ctrl @ ctrl @ rz(a) q[0], q[1], q[2];",
    "ctrl @ ch q[0], q[1], q[2];", "ctrl @ ctrl @ gphase(a) q[1], q[2];", "ctrl @ gphase(a) q[1];",
    "negctrl @ x q[0], q[1];", "negctrl @ rx(a) q[0], q[1];", "ctrl @ negctrl @ x q[0], q[1], q[2];",
    "inv @ s q[0];", "inv @ t q[0];", "inv @ sx q[0];", "inv @ h q[0];", "inv @ rx(a) q[0];",
    "inv @ U(a, b, 0.4) q[0];", "inv @ u2(a, b) q[0];", "inv @ crx(a) q[0], q[1];",
    "inv @ cu(a, b, 0.3, 0.2) q[0], q[1];", "ctrl @ inv @ sx q[0], q[1];", "inv @ ctrl @ sx q[0], q[1];",
    "pow(2) @ rx(a) q[0];", "pow(0.5) @ rx(a) q[0];", "pow(-1.5) @ rz(b) q[0];", "pow(3) @ s q[0];",
    "pow(2) @ sx q[0];", "pow(5) @ t q[0];", "pow(-1) @ t q[0];", "pow(2) @ U(0.4, 0.5, 0.3) q[0];",
    "pow(-2) @ U(0.7, 0.2, 0.3) q[0];", "ctrl @ pow(2) @ sx q[0], q[1];",
    "gate g(t) x, y { rx(t/2) x; cx x, y; rz(1/2) y; }\ng(a) q[0], q[1];",
    "gate g(t) x, y { rx(t/2) x; cx x, y; rz(t) y; }\nctrl @ g(a) q[2], q[0], q[1];",
    "gate g(t) x, y { rx(t/2) x; cx x, y; rz(t) y; gphase(t); }\nctrl @ g(a) q[2], q[0], q[1];",
    "gate g(t) x, y { rx(t/2) x; cx x, y; rz(t) y; }\ninv @ g(2*a + 1) q[2], q[0];",
    "gate g(t) x, y { rx(t/2) x; cx x, y; rz(t) y; }\npow(-3) @ g(0.3) q[0], q[1];",
    "gate g(t) x, y { rx(t) x; cx x, y; }\ngate k(s) x, y, z { g(s) x, y; g(-s) y, z; h z; }\nk(a) q[0], q[1], q[2];",
    "gate rzz(t) x, y { cx x, y; rz(t) y; cx x, y; }\nrzz(a) q[0], q[1];",
    "h q;", "cx q[0:1], q[1:2];", "x q[{0, 2}];", "h q[-1];", "ry(1/2) q[0];", "ry(-3/2) q[0];",
])
def test_modifiers_definitions_and_broadcasts_match_qiskit(body, rng):
    check_against_qiskit_importer(body, rng)


def test_broadcast_pairs_registers_and_repeats_single_qubits(rng):
    text = ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] a;\nqubit[2] b;\nqubit c;\n'
            "h a;\ncx a, b;\ncx c, b;\nrz(0.3) a;\n")
    c = Circuit.from_qasm(text, outputs=["Z0 Z2"])
    assert [(op.gate, op.qubits) for op in c.operations] == [
        ("h", (0,)), ("h", (1,)), ("cx", (0, 2)), ("cx", (1, 3)), ("cx", (4, 2)), ("cx", (4, 3)),
        ("rz", (0,)), ("rz", (1,))]
    check_against_qiskit_importer("h q;\ncx q[0], q[1:2];\n", rng, prep="")


def _state_of(qc: QuantumCircuit, outputs) -> np.ndarray:
    return statevector_values(qc, {}, outputs)


@pytest.mark.parametrize("body, build", [
    ("inv @ iswap q[0], q[1];", lambda qc: qc.append(qlib.iSwapGate().inverse(), [0, 1])),
    ("pow(3) @ iswap q[0], q[1];", lambda qc: [qc.iswap(0, 1) for _ in range(3)]),
    ("inv @ ecr q[1], q[2];", lambda qc: qc.append(qlib.ECRGate().inverse(), [1, 2])),
    ("ctrl @ sxdg q[0], q[1];", lambda qc: qc.append(qlib.SXdgGate().control(1), [0, 1])),
    ("ctrl @ r(0.3, 0.7) q[0], q[1];", lambda qc: qc.append(qlib.RGate(0.3, 0.7).control(1), [0, 1])),
    ("csx q[0], q[1];", lambda qc: qc.csx(0, 1)),
    ("cu1(0.4) q[2], q[0];", lambda qc: qc.append(qlib.CU1Gate(0.4), [2, 0])),
    ("cu3(0.4, 0.5, 0.6) q[2], q[0];", lambda qc: qc.append(qlib.CU3Gate(0.4, 0.5, 0.6), [2, 0])),
    ("rccx q[0], q[1], q[2];", lambda qc: qc.rccx(0, 1, 2)),
    ("inv @ rccx q[0], q[1], q[2];", lambda qc: qc.append(qlib.RCCXGate().inverse(), [0, 1, 2])),
])
def test_modifiers_qiskit_cannot_import_match_qiskit_gates(body, build):
    """Gates Qiskit's importer has no definition for: the reference is Qiskit's own gate objects."""
    c = Circuit.from_qasm('OPENQASM 3.0;\nqubit[3] q;\n' + PREP + body, outputs=ALL_PAULIS)
    qc = qiskit.qasm3.loads('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\n' + PREP)
    build(qc)
    np.testing.assert_allclose(qshift.simulate(c, []), _state_of(qc, ALL_PAULIS), atol=1e-10, rtol=0)


def test_qelib1_gates_without_a_table_entry_match_qiskit():
    """qelib1.inc's many-controlled gates, from qelib1's own definitions, against Qiskit's gate objects."""
    prep = "".join(f"ry({0.3 + 0.4 * i}) q[{i}];\nrz({0.2 + 0.5 * i}) q[{i}];\n" for i in range(5))
    body = "c3x q[0], q[1], q[2], q[3];\nc3sqrtx q[4], q[0], q[1], q[2];\nrc3x q[1], q[2], q[3], q[4];\n" \
           "c4x q[4], q[3], q[2], q[1], q[0];\nu0(0.5) q[0];\n"
    outputs = [f"{p}{k}" for k in range(5) for p in "XYZ"] + ["X0 Y1 Z2 X3 Y4"]
    c = Circuit.from_qasm('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[5];\n' + prep + body, outputs=outputs)
    qc = qiskit.qasm3.loads('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[5] q;\n' + prep)
    qc.append(qlib.C3XGate(), [0, 1, 2, 3])
    qc.append(qlib.C3SXGate(), [4, 0, 1, 2])
    qc.append(qlib.RC3XGate(), [1, 2, 3, 4])
    qc.append(qlib.C4XGate(), [4, 3, 2, 1, 0])
    np.testing.assert_allclose(qshift.simulate(c, []), _state_of(qc, outputs), atol=1e-10, rtol=0)


def test_gate_definitions_keep_angles_affine():
    text = HEAD + "gate g(t, u) x { rx(2*t + 1) x; rz(u/2 - t) x; }\ng(3*a - 1, 0.5) q[0];\n"
    c = Circuit.from_qasm(text, outputs=["Z0"])
    assert [op.angle for op in c.operations] == [qshift.Angle("a", 6.0, -1.0), qshift.Angle("a", -3.0, 1.25)]
    with pytest.raises(qshift.NonAffineAngleError) as info:  # u/2 - t of two symbols
        Circuit.from_qasm(text.replace("0.5) q[0]", "b) q[0]"), outputs=["Z0"])
    assert info.value.line == 6 and "called on line 7" in info.value.problem


# -- measurements, outputs=, inputs ---------------------------------------------------------------

@pytest.mark.parametrize("tail", [
    "bit[3] c;\nc = measure q;\n", "bit[3] c;\nmeasure q -> c;\n", "bit[3] c = measure q;\n",
    "bit[3] meas;\nbarrier q;\nmeas[0] = measure q[0];\nmeas[1] = measure q[1];\nmeas[2] = measure q[2];\n",
    "creg c[3];\nmeasure q[0] -> c[0];\nmeasure q[1:2] -> c[1:2];\n", "measure q[0];\nz q[1];\nmeasure q[1:2];\n",
])
def test_final_measurements_are_ignored_when_outputs_are_given(tail):
    text = HEAD + "h q[0];\ncx q[0], q[1];\nrx(a) q[2];\n" + tail
    c = Circuit.from_qasm(text, outputs=["Z0 Z1", "Y2"])
    assert [op.gate for op in c.operations][:3] == ["h", "cx", "rx"]
    np.testing.assert_allclose(qshift.simulate(c, [0.3, 0.0]), [1.0, -np.sin(0.3)], atol=1e-12)


def test_outputs_accept_what_the_builder_accepts():
    text = HEAD + "h q[0];\ncx q[0], q[1];\n"
    c = Circuit.from_qasm(text, outputs=["Z0 Z1", {2: "Z"}, {"X0 X1": 0.5, "Z2": -0.25, "": 1.0},
                                         qshift.PauliString.parse("Y0")])
    np.testing.assert_allclose(qshift.simulate(c, [0.1, 0.2]), [1.0, 1.0, 1.25, 0.0], atol=1e-12)
    assert Circuit.from_qasm(text, outputs="Z0 Z1").outputs == (qshift.PauliString.parse("Z0 Z1"),)
    builder = qshift.CircuitBuilder(3)
    builder.inputs("a", "b")
    built = builder.h(0).cx(0, 1).expectation({"X0 X1": 0.5, "Z2": -0.25, "": 1.0}).build()
    assert Circuit.from_qasm(text, outputs=[{"X0 X1": 0.5, "Z2": -0.25, "": 1.0}]) == built


@pytest.mark.parametrize("outputs, words", [
    ([], "outputs= is empty"), (["Z7"], "qubit"), (3, "not a list"),
])
def test_bad_outputs_are_refused(outputs, words):
    with pytest.raises(qshift.CircuitError) as info:
        Circuit.from_qasm(HEAD + "h q[0];\n", outputs=outputs)
    assert words in str(info.value)


def test_outputs_are_refused_for_a_file_with_its_own():
    with pytest.raises(qshift.QasmError) as info:
        Circuit.from_qasm(HEAD + "h q[0];\n#pragma braket result expectation z(q[0])\n", outputs=["Z1"])
    assert "its own outputs" in info.value.problem and "drop outputs=" in info.value.fix


def test_input_angle_and_float_widths_are_symbols():
    text = ('OPENQASM 3.0;\ninclude "stdgates.inc";\ninput angle[32] a;\ninput float b;\ninput angle c;\n'
            "input float[32] d;\nqubit q;\nrx(a) q;\nry(b) q;\nrz(c) q;\nrx(d) q;\n")
    assert Circuit.from_qasm(text, outputs=["Z0"]).symbols == ("a", "b", "c", "d")


# -- OpenQASM 2 ---------------------------------------------------------------------------------------

def test_qiskit_qasm2_dumps(rng):
    qc = _qiskit_gates_circuit()
    qc = qc.assign_parameters(dict(zip(qc.parameters, rng.uniform(-2, 2, qc.num_parameters))))
    qc.remove_final_measurements()
    qc.append(qlib.CU1Gate(0.3), [1, 0])
    qc.append(qlib.CU3Gate(0.3, 0.2, 0.7), [2, 0])
    qc.append(qlib.U2Gate(0.3, 0.2), [1])
    qc.rccx(0, 1, 2)
    qc.measure_all()
    text = qiskit.qasm2.dumps(qc)
    assert text.startswith("OPENQASM 2.0;") and "qelib1.inc" in text and "->" in text
    c = Circuit.from_qasm(text, outputs=OUTPUTS_3)
    np.testing.assert_allclose(qshift.simulate(c, []), statevector_values(qc, {}, OUTPUTS_3), atol=1e-10, rtol=0)


def test_qiskit_qasm2_dumps_of_efficient_su2(rng):
    qc = qlib.efficient_su2(3, reps=2).decompose()
    qc = qc.assign_parameters(rng.uniform(-2, 2, qc.num_parameters))
    c = Circuit.from_qasm(qiskit.qasm2.dumps(qc), outputs=OUTPUTS_3)
    np.testing.assert_allclose(qshift.simulate(c, []), statevector_values(qc, {}, OUTPUTS_3), atol=1e-10, rtol=0)


OPENQASM_2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
qreg r[1];
creg c[2];
creg d[1];
U(0.1, 0.2, 0.3) q[0];
CX q[0], r[0];
u1(1/2) q[1];
cu1(0.2) q[0], q[1];
u3(0.1, 0.2, 0.3) r[0];
u2(2^2, pi/4) q[0];
cu3(0.4, 0.5, 0.6) r[0], q[1];
gate mine(t) a, b { u1(t/2) a; cx a, b; u3(t, 0, 0) b; }
mine(0.7) q[1], r[0];
h q;
cx q, r[0];
barrier q, r;
measure q -> c;
measure r[0] -> d[0];
"""


def test_openqasm_2_file_as_written_by_hand(tmp_path):
    path = tmp_path / "old.qasm"
    path.write_text(OPENQASM_2)
    c = Circuit.from_qasm(path, outputs=OUTPUTS_3)
    assert c.name == "old" and c.n_qubits == 3
    reference = qiskit.qasm2.loads(OPENQASM_2)
    np.testing.assert_allclose(qshift.simulate(c, []), statevector_values(reference, {}, OUTPUTS_3), atol=1e-10,
                               rtol=0)
    assert c.operations[4].gate == "p" and c.operations[4].angle.b == 0.5  # OpenQASM 2: 1/2 is real


# -- integer division, as Qiskit's importer and Braket's interpreter read it ---------------------------

@pytest.mark.parametrize("angle", ["1/2", "3/2", "-3/2", "5/-2", "7/2*pi", "1.0/2", "1/2.0", "(1/2)*pi", "pi/2"])
def test_integer_division_matches_qiskit_and_braket(angle):
    braket = pytest.importorskip("braket.devices")
    from braket.ir.openqasm import Program

    text = f"OPENQASM 3.0;\nqubit[1] q;\nry({angle}) q[0];\n"  # Braket reads no include
    outputs = ["Z0", "X0"]
    mine = qshift.simulate(Circuit.from_qasm(text, outputs=outputs), [])
    with_include = text.replace("\n", '\ninclude "stdgates.inc";\n', 1)  # Qiskit needs it
    from_qiskit = statevector_values(qiskit.qasm3.loads(with_include), {}, outputs)
    program = text + "#pragma braket result expectation z(q[0])\n#pragma braket result expectation x(q[0])\n"
    from_braket = np.array(braket.LocalSimulator().run(Program(source=program), shots=0).result().values, dtype=float)
    np.testing.assert_allclose(mine, from_qiskit, atol=1e-12)
    np.testing.assert_allclose(mine, from_braket, atol=1e-12)


# -- Braket ---------------------------------------------------------------------------------------------

def test_braket_export_matches_the_local_simulator():
    pytest.importorskip("braket.circuits")
    from braket.circuits import Circuit as BraketCircuit
    from braket.circuits import FreeParameter, Observable
    from braket.circuits.serialization import IRType
    from braket.devices import LocalSimulator

    alpha, beta = FreeParameter("alpha"), FreeParameter("beta")
    bc = (BraketCircuit().h(0).rx(0, alpha).cnot(0, 1).ry(1, 2 * beta + 0.5).xx(0, 1, alpha).phaseshift(1, beta)
          .s(0).si(1).t(0).ti(1).v(0).vi(1).cphaseshift(0, 1, alpha).swap(0, 1).ccnot(0, 1, 2).yy(1, 2, beta)
          .zz(0, 2, 0.3).rz(2, alpha).cy(0, 2).cz(1, 2).iswap(0, 2)
          .expectation(Observable.Z(0) @ Observable.Z(1)).expectation(Observable.X(2))
          .expectation(Observable.Y(1) @ Observable.X(0)))
    c = Circuit.from_qasm(bc.to_ir(IRType.OPENQASM).source)
    device = LocalSimulator()

    def braket_values(values: dict) -> np.ndarray:
        return np.array(device.run(bc, shots=0, inputs=values).result().values, dtype=float)

    values = {"alpha": 0.37, "beta": -1.1}
    x = np.array([values[s] for s in c.symbols])
    np.testing.assert_allclose(qshift.simulate(c, x), braket_values(values), atol=1e-10, rtol=0)
    jacobian, h = qshift.derivatives(c, x, order=1).jacobian, 1e-5
    for k, s in enumerate(c.symbols):
        up, down = dict(values), dict(values)
        up[s] += h
        down[s] -= h
        np.testing.assert_allclose(jacobian[:, k], (braket_values(up) - braket_values(down)) / (2 * h), atol=1e-6)
