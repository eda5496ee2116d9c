"""Conversions from Qiskit and PennyLane: each converted circuit is checked against qshift's simulator
and against the source library's own simulation (Qiskit ``Statevector``, PennyLane ``default.qubit``)."""

import sys

import numpy as np
import pytest

import qshift
from qshift.ir.convert import _Symbolic

pytest.importorskip("pennylane", reason="needs qshift[pennylane]")
pytest.importorskip("qiskit", reason="needs qshift[aer]")
import pennylane as qml  # noqa: E402
import qiskit  # noqa: E402,F401

from qiskit.circuit import Parameter, ParameterVector, QuantumCircuit  # noqa: E402
from qiskit.circuit.library import U1Gate, U2Gate, U3Gate  # noqa: E402
from qiskit.quantum_info import Pauli, SparsePauliOp, Statevector  # noqa: E402
from helpful import assert_helpful  # noqa: E402



# -- Qiskit ---------------------------------------------------------------------------------------

def _qiskit_circuit():
    theta, phi, lam = Parameter("theta"), Parameter("phi"), Parameter("lam")
    qc = QuantumCircuit(4, name="many-gates")
    qc.h(0); qc.x(1); qc.y(2); qc.z(3); qc.s(0); qc.sdg(1); qc.t(2); qc.tdg(3); qc.sx(0); qc.id(1)
    qc.rx(2 * theta + 0.5, 0); qc.ry(phi, 1); qc.rz(-lam / 3, 2); qc.p(theta - 1, 3)
    qc.barrier()
    qc.cx(0, 1); qc.cy(1, 2); qc.cz(2, 3); qc.ch(3, 0); qc.swap(0, 2); qc.ccx(0, 1, 3); qc.cswap(3, 2, 1)
    qc.crx(phi, 0, 3); qc.cry(0.5 * lam + 0.2, 3, 1); qc.crz(theta, 1, 0); qc.cp(2 * phi, 2, 0)
    qc.rxx(lam, 0, 1); qc.ryy(theta + 0.3, 1, 2); qc.rzz(-phi, 2, 3)
    qc.u(theta, phi, lam, 0); qc.append(U3Gate(phi, 0.4, lam), [1]); qc.append(U2Gate(lam, 0.7), [2])
    qc.append(U1Gate(theta), [3]); qc.cu(theta, phi, 0.3, lam, 1, 3)
    qc.delay(100, 0)
    qc.h(1); qc.sx(2)
    return qc


_QISKIT_OBSERVABLES = ["ZIXY", Pauli("XXYZ"), SparsePauliOp("YZII"),
                       SparsePauliOp.from_sparse_list([("ZZ", [0, 3], 1.0)], 4), "IIII"]


def _qiskit_reference(qc, observables, values: dict):
    state = Statevector(qc.assign_parameters(values))
    ops = [SparsePauliOp(o) if isinstance(o, (str, Pauli)) else o for o in observables]
    return np.array([state.expectation_value(op).real for op in ops])


def test_qiskit_matches_statevector_and_simulator(rng):
    qc = _qiskit_circuit()
    c = qshift.Circuit.from_qiskit(qc, _QISKIT_OBSERVABLES)
    assert c.symbols == ("lam", "phi", "theta")  # circuit.parameters is sorted by name
    assert c.n_qubits == 4 and c.n_outputs == 5 and c.name == "many-gates"
    for _ in range(4):
        values = rng.uniform(-np.pi, np.pi, 3)
        expected = _qiskit_reference(qc, _QISKIT_OBSERVABLES, dict(zip(qc.parameters, values)))
        np.testing.assert_allclose(qshift.simulate(c, values), expected, atol=1e-10, rtol=0)


def test_qiskit_labels_are_little_endian():
    qc = QuantumCircuit(2)
    qc.x(1)  # |10> in qiskit order: qubit 1 is 1
    c = qshift.Circuit.from_qiskit(qc, ["ZI", "IZ"])
    assert [str(o) for o in c.outputs] == ["Z1", "Z0"]
    np.testing.assert_allclose(qshift.simulate(c, np.zeros(0)), [-1.0, 1.0])


def test_qiskit_affine_angles_are_read_exactly():
    theta = Parameter("theta")
    qc = QuantumCircuit(1)
    qc.rx(2 * theta + 0.5, 0); qc.ry(theta / 4 - 1, 0); qc.rz(theta - theta, 0); qc.p(theta * 0 + 0.25, 0)
    angles = [op.angle for op in qshift.Circuit.from_qiskit(qc, "Z").operations]
    assert angles == [qshift.Angle("theta", 2, 0.5), qshift.Angle("theta", 0.25, -1), qshift.Angle("theta", 0, 0),
                      qshift.Angle("theta", 0, 0.25)]


def test_qiskit_symbol_order_can_be_fixed():
    qc = _qiskit_circuit()
    theta = next(p for p in qc.parameters if p.name == "theta")
    c = qshift.Circuit.from_qiskit(qc, "ZZZZ", symbols=[theta, "lam", "phi"])
    assert c.symbols == ("theta", "lam", "phi")
    values = {"theta": 0.3, "lam": -1.2, "phi": 0.8}
    default = qshift.Circuit.from_qiskit(qc, "ZZZZ")
    np.testing.assert_allclose(qshift.simulate(c, [values[s] for s in c.symbols]),
                               qshift.simulate(default, [values[s] for s in default.symbols]), atol=1e-12)


def test_qiskit_parameter_vector_names_become_identifiers(rng):
    w = ParameterVector("w", 3)
    qc = QuantumCircuit(2)
    qc.ry(w[0], 0); qc.ry(w[1], 1); qc.cx(0, 1); qc.rz(w[2], 1)
    c = qshift.Circuit.from_qiskit(qc, ["XZ", "ZX"])
    assert c.symbols == ("w_0", "w_1", "w_2")
    assert qshift.Circuit.from_qasm(c.to_qasm()) == c
    assert qshift.Circuit.from_qiskit(qc, "ZZ", symbols=[w[2], "w[0]", w[1]]).symbols == ("w_2", "w_0", "w_1")
    values = rng.uniform(-3, 3, 3)
    np.testing.assert_allclose(qshift.simulate(c, values),
                               _qiskit_reference(qc, ["XZ", "ZX"], dict(zip(w, values))), atol=1e-10)


def test_qiskit_qubits_of_several_registers_keep_their_circuit_index():
    from qiskit.circuit import QuantumRegister

    a, b = QuantumRegister(1, "a"), QuantumRegister(2, "b")
    qc = QuantumCircuit(a, b)
    qc.x(b[1])
    c = qshift.Circuit.from_qiskit(qc, "ZII")
    assert c.operations[0].qubits == (2,)
    assert qshift.simulate(c, np.zeros(0))[0] == pytest.approx(-1.0)


@pytest.mark.parametrize("build, words", [
    (lambda qc, t, p: qc.measure(0, 0), ["instruction 1 (measure)", "remove the measurements"]),
    (lambda qc, t, p: qc.reset(0), ["instruction 1 (reset)"]),
])
def test_qiskit_measure_and_reset_are_refused(build, words):
    t, p = Parameter("t"), Parameter("p")
    qc = QuantumCircuit(2, 1)
    qc.rx(t, 0)
    build(qc, t, p)
    with pytest.raises(qshift.CircuitError) as err:
        qshift.Circuit.from_qiskit(qc, "ZZ")
    assert_helpful(err, *words)


def test_qiskit_classical_control_is_refused():
    qc = QuantumCircuit(2, 1)
    qc.h(0)
    with qc.if_test((qc.clbits[0], 1)):
        qc.x(1)
    with pytest.raises(qshift.CircuitError) as err:
        qshift.Circuit.from_qiskit(qc, "ZZ")
    assert_helpful(err, "instruction 1 (if_else)", "classical control")


def test_qiskit_unknown_gate_names_the_instruction():
    qc = QuantumCircuit(2)
    qc.h(0); qc.dcx(0, 1)
    with pytest.raises(qshift.UnknownGateError) as err:
        qshift.Circuit.from_qiskit(qc, "ZZ")
    assert_helpful(err, "instruction 1 (dcx)", "transpile")


@pytest.mark.parametrize("angle", [
    lambda t, p: t * p, lambda t, p: t ** 2, lambda t, p: t.sin(), lambda t, p: 1 / t, lambda t, p: t + p,
])
def test_qiskit_non_affine_angles_are_refused(angle):
    t, p = Parameter("t"), Parameter("p")
    qc = QuantumCircuit(1)
    qc.ry(0.1, 0); qc.rx(angle(t, p), 0)
    with pytest.raises(qshift.NonAffineAngleError) as err:
        qshift.Circuit.from_qiskit(qc, "Z")
    assert_helpful(err, "instruction 1 (rx)", "not affine")


@pytest.mark.parametrize("obs, words", [
    (SparsePauliOp(["ZZ", "XX"], coeffs=[1.0, 0.5j]), ["complex coefficient", "+1*ZZ, (0+0.5j)*XX"]),
    (Pauli("iZZ"), ["complex coefficient"]),
    ("-ZZ", ["cannot read Pauli label"]),
    ("Z0 Z1", ["cannot read Pauli label"]),
    ("ZZZ", ["acts on 3 qubit(s), the circuit has 2"]),
    (np.eye(4), ["cannot read ndarray"]),
])
def test_qiskit_bad_observables_are_refused(obs, words):
    qc = QuantumCircuit(2)
    qc.h(0)
    with pytest.raises(qshift.CircuitError) as err:
        qshift.Circuit.from_qiskit(qc, ["ZI", obs])
    assert_helpful(err, "observable 1", *words)


@pytest.mark.parametrize("symbols, words", [
    (["t"], ["['p'] are not in symbols="]),
    (["t", "p", "x"], ["'x'", "does not use"]),
    (["t", "p", "t"], ["more than once"]),
    ([Parameter("t"), "p", "t"], ["more than once"]),
])
def test_qiskit_bad_symbols_are_refused(symbols, words):
    t, p = Parameter("t"), Parameter("p")
    qc = QuantumCircuit(1)
    qc.rx(t, 0); qc.ry(p, 0)
    with pytest.raises(qshift.SymbolError) as err:
        qshift.Circuit.from_qiskit(qc, "Z", symbols=symbols)
    assert_helpful(err, *words)


def test_qiskit_colliding_parameter_names_are_refused():
    qc = QuantumCircuit(1)
    qc.rx(Parameter("w[0]"), 0); qc.ry(Parameter("w_0"), 0)
    with pytest.raises(qshift.SymbolError) as err:
        qshift.Circuit.from_qiskit(qc, "Z")
    assert_helpful(err, "collide")


def test_missing_qiskit_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "qiskit", None)
    with pytest.raises(qshift.MissingExtraError) as err:
        qshift.Circuit.from_qiskit(object(), "Z")
    assert_helpful(err, "qshift[aer]")


# -- PennyLane ------------------------------------------------------------------------------------

def _many_gates(theta, phi, lam):
    qml.Hadamard("a"); qml.PauliX(1); qml.PauliY("c"); qml.PauliZ(0); qml.S("a"); qml.T(1); qml.SX("c")
    qml.RX(2 * theta + 0.5, "a"); qml.RY(phi, 1); qml.RZ(-lam / 3, "c"); qml.PhaseShift(theta - 1, 0)
    qml.CNOT(["a", 1]); qml.CZ([1, "c"]); qml.CY(["c", 0]); qml.SWAP([0, "a"])
    qml.Toffoli(["a", 1, 0]); qml.CSWAP([0, "c", 1])
    qml.CRX(phi, ["a", 0]); qml.CRY(0.5 * lam + 0.2, [0, 1]); qml.CRZ(theta, [1, "a"])
    qml.ControlledPhaseShift(np.float64(2) * phi, ["c", "a"])
    qml.IsingXX(lam, ["a", 1]); qml.IsingYY(theta + 0.3, [1, "c"]); qml.IsingZZ(-phi, ["c", 0])
    qml.Rot(theta, phi, lam, "a"); qml.Rot(0.3, lam, -theta, 0); qml.U3(phi, 0.4, lam, 1)
    qml.adjoint(qml.S)("c"); qml.adjoint(qml.RX)(lam, 0); qml.Barrier(["a", 1])
    qml.Hadamard(1); qml.SX(0)
    return (qml.expval(qml.Z("a") @ qml.X(1)), qml.expval(qml.Y("c")), qml.expval(qml.X(0) @ qml.Y(1) @ qml.Z("c")),
            qml.expval(qml.Identity("a")), qml.expval(1.0 * qml.Z(0)))


_WIRES = [0, 1, "a", "c"]


def _pennylane_reference(qfunc, values, wires=_WIRES):
    return np.array(qml.QNode(qfunc, qml.device("default.qubit", wires=wires))(*values))


def test_pennylane_matches_default_qubit_and_simulator(rng):
    c = qshift.Circuit.from_pennylane(_many_gates, wires=_WIRES)
    assert c.symbols == ("theta", "phi", "lam") and c.n_qubits == 4 and c.n_outputs == 5
    for _ in range(4):
        values = rng.uniform(-np.pi, np.pi, 3)
        np.testing.assert_allclose(qshift.simulate(c, values), _pennylane_reference(_many_gates, values),
                                   atol=1e-10, rtol=0)


def test_pennylane_angles_are_read_exactly():
    def f(x):
        qml.RX(2 * x + 0.5, 0); qml.RY(np.pi / 4 * x, 0); qml.RZ(1 - x, 0); qml.PhaseShift(x / 2, 0)
        qml.RX(-x, 0); qml.RY(np.array(3.0) * x, 0); qml.RZ(x - x, 0); qml.RX(0.7, 0)
        return qml.expval(qml.Z(0))

    angles = [op.angle for op in qshift.Circuit.from_pennylane(f).operations]
    A = qshift.Angle
    assert angles == [A("x", 2, 0.5), A("x", np.pi / 4), A("x", -1, 1), A("x", 0.5), A("x", -1), A("x", 3),
                      A("x", 0, 0), A.constant(0.7)]


def test_pennylane_conventions_rot_ising_phase():
    """Rot(phi, theta, omega) is RZ(phi) first; IsingXX is rxx; PhaseShift is p."""
    def f(a, b, c):
        qml.Rot(a, b, c, 0); qml.IsingXX(a, [0, 1]); qml.PhaseShift(b, 1)
        return qml.expval(qml.Z(0))

    ops = qshift.Circuit.from_pennylane(f).operations
    assert [(op.gate, op.angle.symbol) for op in ops] == [("rz", "a"), ("ry", "b"), ("rz", "c"), ("rxx", "a"),
                                                          ("p", "b")]


def test_pennylane_symbol_order_and_names():
    def f(theta, phi, wires=(0, 1)):  # a parameter with a default is not a symbol
        qml.RX(theta, wires[0]); qml.RY(phi, wires[1])
        return qml.expval(qml.Z(0) @ qml.Z(1))

    assert qshift.Circuit.from_pennylane(f).symbols == ("theta", "phi")
    renamed = qshift.Circuit.from_pennylane(f, symbols=["a", "b"])
    assert renamed.symbols == ("a", "b")
    assert [op.angle.symbol for op in renamed.operations] == ["a", "b"]


def test_pennylane_wire_order(rng):
    def f(x):
        qml.RY(x, "b"); qml.CNOT(["b", "a"])
        return qml.expval(qml.X("b") @ qml.Z("a"))

    assert str(qshift.Circuit.from_pennylane(f).outputs[0]) == "Z0 X1"  # sorted: a, b
    c = qshift.Circuit.from_pennylane(f, wires=["b", "z", "a"])
    assert c.n_qubits == 3 and str(c.outputs[0]) == "X0 Z2"
    mixed = qshift.Circuit.from_pennylane(lambda x: (qml.RX(x, "w"), qml.CNOT(["w", 3]), qml.expval(qml.Z(3)))[-1],
                                          symbols=["x"])
    assert str(mixed.outputs[0]) == "Z1"  # labels that cannot be sorted keep first appearance
    qnode = qml.QNode(f, qml.device("default.qubit", wires=["a", "q", "b"]))
    from_qnode = qshift.Circuit.from_pennylane(qnode)
    assert from_qnode.n_qubits == 3 and str(from_qnode.outputs[0]) == "Z0 X2"
    x = rng.uniform(-3, 3, 1)
    for circuit in (c, from_qnode):
        np.testing.assert_allclose(qshift.simulate(circuit, x), qnode(x[0]), atol=1e-10)


def test_pennylane_numeric_tape_trainable_parameters_become_symbols():
    ops = [qml.RX(0.3, 0), qml.Rot(0.1, 0.2, 0.4, 1), qml.CNOT([0, 1]), qml.CRY(-0.7, [1, 0])]
    tape = qml.tape.QuantumScript(ops, [qml.expval(qml.Z(0) @ qml.X(1)), qml.expval(qml.Y(1))])
    tape.trainable_params = [0, 2, 4]
    c = qshift.Circuit.from_pennylane(tape)
    assert c.symbols == ("p0", "p1", "p2")
    assert [op.angle for op in c.operations if op.angle is not None] == [
        qshift.Angle("p0"), qshift.Angle.constant(0.1), qshift.Angle("p1"), qshift.Angle.constant(0.4),
        qshift.Angle("p2")]  # Rot(phi, theta, omega) is rz(phi) ry(theta) rz(omega)
    values = [p for i, p in enumerate(tape.get_parameters(trainable_only=False)) if i in (0, 2, 4)]
    expected = qml.execute([tape], qml.device("default.qubit"))[0]
    np.testing.assert_allclose(qshift.simulate(c, values), expected, atol=1e-10)
    assert qshift.Circuit.from_pennylane(tape, symbols=["a", "b", "c"]).symbols == ("a", "b", "c")


def test_pennylane_symbolic_tape_reads_its_angles():
    theta = qshift.Angle("theta")
    tape = qml.tape.QuantumScript([qml.RX(2 * theta, 0), qml.RY(0.5, 0)], [qml.expval(qml.Z(0))])
    c = qshift.Circuit.from_pennylane(tape)
    assert c.symbols == ("theta",) and c.operations[0].angle == qshift.Angle("theta", 2.0)


def test_symbolic_arguments_stay_affine():
    x = _Symbolic(qshift.Angle("x"))
    assert (np.float64(2) * x + 1).angle == qshift.Angle("x", 2, 1)
    assert np.add(x, 1.5).angle == qshift.Angle("x", 1, 1.5)
    assert np.subtract(1.0, x).angle == qshift.Angle("x", -1, 1)
    assert np.negative(x / 4).angle == qshift.Angle("x", -0.25)


@pytest.mark.parametrize("angle, error, words", [
    (lambda t, p: t * p, qshift.NonAffineAngleError, ["affine"]),
    (lambda t, p: t + p, qshift.NonAffineAngleError, ["affine"]),
    (lambda t, p: np.sin(t), qshift.NonAffineAngleError, ["numpy.sin"]),
    (lambda t, p: t ** 2, qshift.NonAffineAngleError, ["power"]),
    (lambda t, p: 1 / t, qshift.NonAffineAngleError, ["division by a symbol"]),
    (lambda t, p: t / p, qshift.NonAffineAngleError, ["division by a symbol"]),
    (lambda t, p: abs(t), qshift.NonAffineAngleError, ["abs()"]),
    (lambda t, p: float(t), qshift.CircuitError, ["numeric value of symbol 't'"]),
    (lambda t, p: t if t > 0 else p, qshift.CircuitError, ["numeric value of symbol 't'"]),
    (lambda t, p: qml.math.cos(t), qshift.CircuitError, ["failed when called with symbolic arguments"]),
    (lambda t, p: t[0], qshift.CircuitError, ["one scalar argument per symbol"]),
])
def test_pennylane_non_affine_use_of_symbols_is_refused(angle, error, words):
    def f(t, p):
        qml.RX(angle(t, p), 0)
        return qml.expval(qml.Z(0))

    with pytest.raises(error) as err:
        qshift.Circuit.from_pennylane(f)
    assert_helpful(err, *words)


@pytest.mark.parametrize("measurement, words", [
    (lambda: qml.probs(wires=[0]), ["ProbabilityMP", "no probs"]),
    (lambda: qml.sample(qml.Z(0)), ["SampleMP"]),
    (lambda: qml.var(qml.Z(0)), ["VarianceMP"]),
    (lambda: qml.expval(qml.X(0) @ qml.Y(0)), ["complex coefficient 1j"]),
    (lambda: qml.expval(qml.Hermitian(np.diag([1.0, 2.0]), 0)), ["not a sum of Pauli products"]),
])
def test_pennylane_unsupported_measurements_are_refused(measurement, words):
    def f(x):
        qml.RX(x, 0); qml.CNOT([0, 1])
        return qml.expval(qml.Z(1)), measurement()

    with pytest.raises(qshift.CircuitError) as err:
        qshift.Circuit.from_pennylane(f)
    assert_helpful(err, "output 1", *words)


class _Opaque(qml.operation.Operation):
    """A PennyLane operation with neither a qshift gate nor a decomposition."""

    num_wires = 2
    num_params = 1


def test_pennylane_unknown_operation_names_its_index():
    def f(x):
        qml.RX(x, 0); _Opaque(x, [0, 1])
        return qml.expval(qml.Z(0))

    with pytest.raises(qshift.UnknownGateError) as err:
        qshift.Circuit.from_pennylane(f)
    assert_helpful(err, "operation 1 (_Opaque)", "no decomposition", "decompose")


def test_pennylane_mid_circuit_measurement_is_refused():
    def f(x):
        qml.RX(x, 0)
        qml.cond(qml.measure(0), qml.X)(1)
        return qml.expval(qml.Z(1))

    with pytest.raises(qshift.CircuitError) as err:
        qshift.Circuit.from_pennylane(f)
    assert_helpful(err, "operation 1", "mid-circuit")


def test_pennylane_returning_a_number_is_refused():
    with pytest.raises(qshift.CircuitError) as err:
        qshift.Circuit.from_pennylane(lambda x: (qml.RX(x, 0), 1.0)[1], symbols=["x"])
    assert_helpful(err, "output 0", "qml.expval")


@pytest.mark.parametrize("kwargs, error, words", [
    ({"wires": [0]}, qshift.QubitIndexError, ["[1]", "wires="]),
    ({"wires": [0, 1, 0]}, qshift.CircuitError, ["twice"]),
    ({"symbols": ["x", "x"]}, qshift.SymbolError, ["more than once"]),
    ({"symbols": ["not a name"]}, qshift.SymbolError, ["not an identifier"]),
])
def test_pennylane_bad_wires_and_symbols_are_refused(kwargs, error, words):
    def f(x):
        qml.RX(x, 0); qml.CNOT([0, 1])
        return qml.expval(qml.Z(1))

    with pytest.raises(error) as err:
        qshift.Circuit.from_pennylane(f, **kwargs)
    assert_helpful(err, *words)


def test_pennylane_tape_with_wrong_symbol_count_is_refused():
    tape = qml.tape.QuantumScript([qml.RX(0.3, 0), qml.RY(0.1, 0)], [qml.expval(qml.Z(0))])
    with pytest.raises(qshift.SymbolError) as err:
        qshift.Circuit.from_pennylane(tape, symbols=["a"])
    assert_helpful(err, "2 name(s)")


def test_pennylane_signature_without_names_needs_symbols():
    with pytest.raises(qshift.SymbolError) as err:
        qshift.Circuit.from_pennylane(lambda *args: qml.expval(qml.Z(0)))
    assert_helpful(err, "symbols=")


def test_missing_pennylane_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pennylane", None)
    with pytest.raises(qshift.MissingExtraError) as err:
        qshift.Circuit.from_pennylane(lambda x: None)
    assert_helpful(err, "qshift[pennylane]")
