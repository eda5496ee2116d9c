"""Qiskit's extra gates and the IonQ/IQM natives against the SDK that defines each of them.

* Qiskit (``Operator(gate)``, little-endian: qshift's matrix is ``Operator(gate).reverse_qargs()``):
  the table entries ``rzx`` (RZXGate, frequency ``{1}``), ``ecr``, ``iswap``, ``sxdg``, the alias
  ``cu1`` (CU1Gate = ``cp``), and the expanded ``r`` (RGate), ``cu3`` (CU3Gate, its phase kept under
  the control) and ``xx_plus_yy`` (XXPlusYYGate).
* Braket (``Gate.to_matrix()``, big-endian like qshift): the expanded ``gpi``, ``gpi2``, ``ms``
  (GPi, GPi2, MS; IonQ) and ``prx`` (PRx; IQM), and Braket's names ``v``, ``vi``, ``ecr``, ``iswap``.

Every matrix here is equal to the SDK's exactly (no global phase is dropped), at several angles;
the expansions (products of their one-angle gates) too. Derivatives of order 1 and 2 with a symbol
in every angle position are checked against finite differences of Qiskit's ``Statevector`` of a
circuit built directly with Qiskit's gates (or, for the Braket gates, Braket's matrices as Qiskit
``UnitaryGate`` objects). Every backend's agreement with the local simulator is in tests/backends
(the all-gates circuit of backend_cases holds every table gate and every expanded gate).
"""

import math

import numpy as np
import pytest

import qshift
from qshift.ir.gates import GATES, MULTI_ANGLE, decomposition, expand, lookup

pytest.importorskip("qiskit", reason="needs qshift[aer]")
pytest.importorskip("braket.circuits", reason="needs qshift[braket]")
from braket.circuits import Gate as BraketGate  # noqa: E402
from qiskit import QuantumCircuit  # noqa: E402
from qiskit.circuit.library import (CU1Gate, CU3Gate, ECRGate, RGate, RZXGate, SXdgGate, UnitaryGate,  # noqa: E402
                                    XXPlusYYGate, iSwapGate)
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector  # noqa: E402

ANGLES = np.array([0.0, 0.37, -1.2, np.pi, 2.9, -5.5, 4 * np.pi - 0.1])

QISKIT_FIXED = {"ecr": ECRGate, "iswap": iSwapGate, "sxdg": SXdgGate}
QISKIT_ROTATIONS = {"rzx": RZXGate, "cu1": CU1Gate}
QISKIT_EXPANDED = {"r": RGate, "cu3": CU3Gate, "xx_plus_yy": XXPlusYYGate}
BRAKET_EXPANDED = {"gpi": BraketGate.GPi, "gpi2": BraketGate.GPi2, "ms": BraketGate.MS, "prx": BraketGate.PRx}
NEW_EXPANDED = [*QISKIT_EXPANDED, *BRAKET_EXPANDED]


def _big_endian(gate) -> np.ndarray:
    """Qiskit's matrix with the first qubit as the most significant bit (qshift's order)."""
    return Operator(gate).reverse_qargs().data


def _unitary(ops, n: int) -> np.ndarray:
    """The product of ``(gate, qubits, angle)`` one-angle gates (``expand``'s output) on ``n`` qubits."""
    u = np.eye(2 ** n, dtype=complex).reshape((2,) * n + (2 ** n,))
    for gate, qubits, angle in ops:
        spec = GATES[gate]
        m = spec.unitary(float(angle))[0] if spec.parametrized else spec.unitary()
        k = len(qubits)
        u = np.tensordot(m.reshape((2,) * (2 * k)), u, axes=(list(range(k, 2 * k)), list(qubits)))
        u = np.moveaxis(u, list(range(k)), list(qubits))
    return u.reshape(2 ** n, 2 ** n)


def _expanded_unitary(name: str, angles, reverse: bool = False) -> np.ndarray:
    n_qubits, _ = MULTI_ANGLE[name]
    qubits = tuple(range(n_qubits))[::-1] if reverse else tuple(range(n_qubits))
    return _unitary(expand(name, qubits, tuple(angles)), n_qubits)


def _random_angles(rng, n_angles: int, count: int = 6) -> np.ndarray:
    return np.vstack([rng.uniform(-2 * np.pi, 2 * np.pi, (count, n_angles)), np.full((1, n_angles), np.pi),
                      np.zeros((1, n_angles))])


# -- the table entries ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", QISKIT_FIXED)
def test_fixed_gates_are_qiskits_exactly(name):
    np.testing.assert_allclose(GATES[name].unitary(), _big_endian(QISKIT_FIXED[name]()), atol=1e-15, rtol=0)


def test_ecr_is_not_symmetric_and_qiskit_lists_its_qubits_the_other_way():
    """Qiskit's little-endian matrix is qshift's gate on the qubits listed in reverse."""
    ecr = GATES["ecr"].unitary()
    swap = GATES["swap"].unitary()
    assert not np.allclose(swap @ ecr @ swap, ecr)
    np.testing.assert_allclose(swap @ ecr @ swap, Operator(ECRGate()).data, atol=1e-15)


@pytest.mark.parametrize("name, kind", [("ecr", "general"), ("iswap", "monomial"), ("sxdg", "general"),
                                        ("rzx", "general")])
def test_kinds(name, kind):
    assert GATES[name].kind.value == kind


@pytest.mark.parametrize("name", QISKIT_ROTATIONS)
def test_one_angle_gates_are_qiskits_exactly(name):
    spec = lookup(name)
    for theta, u in zip(ANGLES, spec.unitary(ANGLES)):
        np.testing.assert_allclose(u, _big_endian(QISKIT_ROTATIONS[name](theta)), atol=1e-15, rtol=0)
        swap = GATES["swap"].unitary()  # the qubits the other way: Qiskit's little-endian matrix
        np.testing.assert_allclose(swap @ u @ swap, Operator(QISKIT_ROTATIONS[name](theta)).data, atol=1e-15)


def test_rzx_frequencies_period_and_generator():
    spec = GATES["rzx"]
    assert spec.parametrized and spec.n_qubits == 2
    assert spec.frequencies == (1.0,) and spec.period == pytest.approx(2 * math.pi)
    z, x = np.diag([1.0, -1.0]), np.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(spec.generator, np.kron(z, x) / 2, atol=0)  # Z on the first qubit, X on the second


def test_cu1_is_cp():
    assert lookup("cu1") is GATES["cp"] and GATES["cp"].frequencies == (1.0,)


@pytest.mark.parametrize("name, braket", [("sx", BraketGate.V), ("sxdg", BraketGate.Vi), ("ecr", BraketGate.ECR),
                                          ("iswap", BraketGate.ISwap), ("sdg", BraketGate.Si),
                                          ("tdg", BraketGate.Ti)])
def test_fixed_gates_are_brakets_exactly(name, braket):
    np.testing.assert_allclose(GATES[name].unitary(), braket().to_matrix(), atol=1e-15, rtol=0)


@pytest.mark.parametrize("alias, name", [("v", "sx"), ("vi", "sxdg"), ("si", "sdg"), ("ti", "tdg"),
                                         ("ccnot", "ccx"), ("cnot", "cx"), ("phaseshift", "p"),
                                         ("cphaseshift", "cp"), ("cu1", "cp"), ("i", "id")])
def test_braket_and_qiskit_names_are_aliases(alias, name):
    assert lookup(alias) is GATES[name]


def test_braket_aliases_mean_brakets_gates():
    for alias, braket in [("phaseshift", BraketGate.PhaseShift), ("cphaseshift", BraketGate.CPhaseShift)]:
        for theta, u in zip(ANGLES, lookup(alias).unitary(ANGLES)):
            np.testing.assert_allclose(u, braket(theta).to_matrix(), atol=1e-15, rtol=0)
    np.testing.assert_allclose(lookup("ccnot").unitary(), BraketGate.CCNot().to_matrix(), atol=0)


def test_pennylane_operations_have_the_same_matrices():
    """The PennyLane backend writes ECR, ISWAP, adjoint(SX) and PauliRot('ZX') for these gates."""
    qml = pytest.importorskip("pennylane")
    for name, op in [("ecr", qml.ECR(wires=[0, 1])), ("iswap", qml.ISWAP(wires=[0, 1])),
                     ("sxdg", qml.adjoint(qml.SX(wires=0)))]:
        np.testing.assert_allclose(qml.matrix(op), GATES[name].unitary(), atol=1e-15, err_msg=name)
    for theta, u in zip(ANGLES, GATES["rzx"].unitary(ANGLES)):
        np.testing.assert_allclose(qml.matrix(qml.PauliRot(theta, "ZX", wires=[0, 1])), u, atol=1e-15)


def test_rzx_decomposition_for_providers_without_it_is_exact():
    for theta in ANGLES:
        pieces = [(g, q, None if s is None else s * theta) for g, q, s in decomposition("rzx", (0, 1))]
        np.testing.assert_allclose(_unitary(pieces, 2), GATES["rzx"].unitary(theta)[0], atol=1e-14)
    assert decomposition("rzx", (1, 0), keep=frozenset({"rzx"})) == [("rzx", (1, 0), 1.0)]


def test_reference_qasm_definitions_are_qiskits():
    """tests/reference.py defines these gates for Qiskit's importer; they must be Qiskit's gates (up to
    a global phase, which a QASM gate definition drops)."""
    pytest.importorskip("qiskit_qasm3_import", reason="needs qshift[test]")
    import qiskit.qasm3

    from reference import _EXTRA_GATES

    for name, gate in [("rzx(0.83)", RZXGate(0.83)), ("ecr", ECRGate()), ("iswap", iSwapGate()),
                       ("sxdg", SXdgGate())]:
        n = gate.num_qubits
        qubits = ", ".join(f"q[{i}]" for i in range(n))
        text = f'OPENQASM 3.0;\ninclude "stdgates.inc";\n{_EXTRA_GATES}\nqubit[{n}] q;\n{name} {qubits};\n'
        assert Operator(qiskit.qasm3.loads(text)).equiv(Operator(gate)), name


# -- the expanded gates ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", QISKIT_EXPANDED)
def test_expansion_is_qiskits_gate_exactly(name, rng):
    n_qubits, n_angles = MULTI_ANGLE[name]
    for angles in _random_angles(rng, n_angles):
        expected = QISKIT_EXPANDED[name](*angles)
        np.testing.assert_allclose(_expanded_unitary(name, angles), _big_endian(expected), atol=1e-13, rtol=0)
        if n_qubits == 2:  # cu3 and xx_plus_yy are not symmetric: the qubits the other way are little-endian
            np.testing.assert_allclose(_expanded_unitary(name, angles, reverse=True), Operator(expected).data,
                                       atol=1e-13, rtol=0)


@pytest.mark.parametrize("name", BRAKET_EXPANDED)
def test_expansion_is_brakets_gate_exactly(name, rng):
    n_qubits, n_angles = MULTI_ANGLE[name]
    swap = GATES["swap"].unitary()
    for angles in _random_angles(rng, n_angles):
        expected = BRAKET_EXPANDED[name](*angles).to_matrix()
        np.testing.assert_allclose(_expanded_unitary(name, angles), expected, atol=1e-13, rtol=0)
        if n_qubits == 2:
            np.testing.assert_allclose(_expanded_unitary(name, angles, reverse=True), swap @ expected @ swap,
                                       atol=1e-13, rtol=0)


def test_ms_third_angle_is_brakets_default_written_out(rng):
    phi0, phi1 = rng.uniform(-3, 3, 2)
    np.testing.assert_allclose(_expanded_unitary("ms", (phi0, phi1, np.pi / 2)),
                               BraketGate.MS(phi0, phi1).to_matrix(), atol=1e-13)
    with pytest.raises(qshift.GateArityError) as err:
        expand("ms", (0, 1), (phi0, phi1))
    assert err.value.expected == "2 qubit(s) and 3 angle(s)"


def test_cu3_keeps_the_phase_under_the_control(rng):
    """u3 is its expansion up to a global phase; cu3 is not a controlled u3 expansion without it."""
    theta, phi, lam = rng.uniform(-3, 3, 3)
    u3 = _expanded_unitary("u3", (theta, phi, lam))
    qiskit_u3 = _big_endian(CU3Gate(theta, phi, lam))[2:, 2:]
    np.testing.assert_allclose(np.exp(0.5j * (phi + lam)) * u3, qiskit_u3, atol=1e-13)
    assert not np.allclose(_expanded_unitary("cu3", (theta, phi, lam))[2:, 2:], u3, atol=1e-6)


@pytest.mark.parametrize("name", NEW_EXPANDED)
def test_every_expanded_angle_is_a_one_angle_slot_with_a_known_rule(name):
    n_qubits, n_angles = MULTI_ANGLE[name]
    symbols = [qshift.ir.angle.Angle(f"s{j}") for j in range(n_angles)]
    ops = expand(name, tuple(range(n_qubits)), tuple(symbols))
    fed = set()
    for gate, _, angle in ops:
        spec = GATES[gate]
        if angle is None or isinstance(angle, float):
            continue
        assert spec.parametrized and spec.frequencies, gate
        fed.add(angle.symbol)
    assert fed == {f"s{j}" for j in range(n_angles)}  # every angle reaches a slot


# -- derivatives against finite differences of Qiskit's statevector -------------------------------

def _qiskit_operation(name: str, angles):
    """``(Qiskit operation, reverse the qubits?)``: Qiskit's own gate, or Braket's matrix as a
    ``UnitaryGate`` (big-endian, so appended on the qubits in reverse)."""
    if name in QISKIT_ROTATIONS:
        return QISKIT_ROTATIONS[name](*angles), False
    if name in QISKIT_EXPANDED:
        return QISKIT_EXPANDED[name](*angles), False
    return UnitaryGate(BRAKET_EXPANDED[name](*angles).to_matrix()), True


OUTPUTS = ["X0 Z1", "Y1 X2", "Z0 Y2", "Z2", "X0 X1 X2"]


def _prepare(b) -> None:
    b.ry(0.3, 0).rx(-0.7, 1).h(2).cx(0, 2).ry(1.1, 2).rz(0.4, 1).cx(2, 1)


def _qiskit_prepare(qc) -> None:
    qc.ry(0.3, 0), qc.rx(-0.7, 1), qc.h(2), qc.cx(0, 2), qc.ry(1.1, 2), qc.rz(0.4, 1), qc.cx(2, 1)


def _finish(qc) -> None:
    qc.cx(1, 0), qc.ry(0.5, 1)


# (gate, qubits, angle j = a * symbol[k] + b as (k, a, b)); symbols are those the angles name
CASES = [
    ("rzx", (2, 0), [(0, 1.3, 0.2)]),
    ("cu1", (1, 2), [(0, -0.8, 0.1)]),
    ("r", (1,), [(0, 1.0, 0.0), (1, -1.5, 0.3)]),
    ("r", (0,), [(0, 1.0, 0.0), (0, 0.5, -0.2)]),  # one symbol in both angles
    ("prx", (2,), [(1, 0.5, 0.0), (0, 2.0, -0.4)]),
    ("cu3", (2, 1), [(0, 1.0, 0.0), (1, 1.0, 0.2), (2, -0.7, 0.0)]),
    ("xx_plus_yy", (2, 0), [(0, 1.0, 0.0), (1, 1.2, -0.5)]),
    ("gpi", (1,), [(0, 1.0, 0.3)]),
    ("gpi2", (0,), [(0, -1.0, 0.0)]),
    ("ms", (2, 1), [(0, 1.0, 0.0), (1, 1.0, 0.0), (2, 1.0, 0.0)]),
    ("ms", (0, 2), [(0, 1.0, 0.0), (0, -1.0, 0.4), (1, 0.5, 0.0)]),  # a symbol in two angles
]


def _case_circuit(name, qubits, spec) -> qshift.Circuit:
    b = qshift.CircuitBuilder(3, name=name)
    symbols = b.inputs(*[f"s{k}" for k in range(1 + max(k for k, _, _ in spec))])
    _prepare(b)
    b.gate(name, *[a * symbols[k] + c for k, a, c in spec], *qubits)
    b.cx(1, 0).ry(0.5, 1)
    for out in OUTPUTS:
        b.expectation(out)
    return b.build()


def _qiskit_values(name, qubits, spec, x) -> np.ndarray:
    qc = QuantumCircuit(3)
    _qiskit_prepare(qc)
    operation, reverse = _qiskit_operation(name, [a * x[k] + c for k, a, c in spec])
    qc.append(operation, list(qubits[::-1] if reverse else qubits))
    _finish(qc)
    state = Statevector(qc)
    observables = [SparsePauliOp.from_sparse_list([("".join(p for p, _ in f), [int(q) for _, q in f], 1.0)], 3)
                   for f in ([(t[0], t[1:]) for t in out.split()] for out in OUTPUTS)]
    return np.array([float(np.real(state.expectation_value(o))) for o in observables])


def _finite_differences(f, x, order: int, h: float) -> np.ndarray:
    """Nested central differences: ``(n_out,) + (n,) * order``."""
    if order == 0:
        return f(x)
    columns = [(_finite_differences(f, x + h * e, order - 1, h) - _finite_differences(f, x - h * e, order - 1, h))
               / (2 * h) for e in np.eye(len(x))]
    return np.stack(columns, axis=-1)


@pytest.mark.parametrize("name, qubits, spec", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_derivatives_match_finite_differences_of_qiskit(name, qubits, spec, rng):
    c = _case_circuit(name, qubits, spec)
    x = rng.uniform(-2.5, 2.5, c.n_symbols)
    d = qshift.derivatives(c, x, order=2)

    def f(v):
        return _qiskit_values(name, qubits, spec, v)

    np.testing.assert_allclose(d.value, f(x), atol=1e-12)
    np.testing.assert_allclose(d.jacobian, _finite_differences(f, x, 1, 1e-5), atol=1e-7)
    np.testing.assert_allclose(d.hessian, _finite_differences(f, x, 2, 1e-4), atol=1e-6)
    assert np.abs(d.jacobian).max() > 1e-3  # the gate's angles matter here


# -- shift-rule circuit counts --------------------------------------------------------------------

@pytest.mark.parametrize("name, order_1, order_2", [
    ("rzx", 1 + 2, 1 + 2 + 1),  # one two-term slot; order 2 adds the folded shift by pi
    ("cu1", 1 + 2, 1 + 2 + 1),
    ("gpi", 1 + 2, 1 + 2 + 1),  # gpi(phi) is one slot rz(-2 phi)
    ("r", 1 + 3 * 2, None),  # rz(-phi), rx(theta), rz(phi): three two-term slots
    ("xx_plus_yy", 1 + 4 * 2, None),  # rz(beta), rxx(theta/2), ryy(theta/2), rz(-beta)
])
def test_circuit_counts(name, order_1, order_2):
    n_qubits, n_angles = MULTI_ANGLE.get(name) or (GATES[lookup(name).name].n_qubits, 1)
    b = qshift.CircuitBuilder(2)
    symbols = b.inputs(*[f"s{j}" for j in range(n_angles)])
    b.h(0).ry(0.3, 1).gate(name, *symbols, *range(n_qubits))
    c = b.expectation("X0 Z1").expectation("Y1").build()
    assert qshift.plan(c, order=1).circuits == order_1
    d = qshift.derivatives(c, np.linspace(0.3, 0.9, n_angles), order=1)
    assert d.stats.circuits == order_1 and d.stats.jobs == 1
    if order_2 is not None:
        assert qshift.plan(c, order=2).circuits == order_2


# -- reading them ---------------------------------------------------------------------------------

def test_qasm_reads_every_new_gate_by_name(rng):
    text = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
input float[64] phi;
qubit[3] q;
h q[0]; h q[1]; h q[2];
rzx(theta) q[0], q[1];
r(theta, phi) q[0];
ecr q[2], q[0];
iswap q[1], q[2];
sxdg q[1];
cu1(2*phi) q[0], q[2];
cu3(theta, phi, 0.3) q[2], q[1];
xx_plus_yy(phi, theta - 0.5) q[1], q[0];
gpi(phi) q[2];
gpi2(theta) q[1];
ms(theta, phi, pi/4) q[0], q[2];
prx(phi, -theta) q[1];
#pragma braket result expectation x(q[0]) @ z(q[1])
#pragma braket result expectation y(q[2])
#pragma braket result expectation z(q[0]) @ y(q[1]) @ x(q[2])
"""
    c = qshift.Circuit.from_qasm(text)
    b = qshift.CircuitBuilder(3)
    theta, phi = b.inputs("theta", "phi")
    b.h(0).h(1).h(2).rzx(theta, 0, 1).r(theta, phi, 0).ecr(2, 0).iswap(1, 2).sxdg(1).cu1(2 * phi, 0, 2)
    b.cu3(theta, phi, 0.3, 2, 1).xx_plus_yy(phi, theta - 0.5, 1, 0).gpi(phi, 2).gpi2(theta, 1)
    b.ms(theta, phi, math.pi / 4, 0, 2).prx(phi, -theta, 1)
    built = b.expectation("X0 Z1").expectation("Y2").expectation("Z0 Y1 X2").build()
    assert c.operations == built.operations
    assert [op.gate for op in c.operations[3:6]] == ["rzx", "rz", "rx"]
    values = rng.uniform(-3, 3, (3, 2))
    np.testing.assert_allclose(qshift.simulate(c, values), qshift.simulate(built, values), atol=1e-13)


def _expectation(state: np.ndarray, product: dict[int, str], n: int) -> float:
    paulis = {"X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]]), "Z": np.diag([1, -1]),
              "I": np.eye(2)}
    op = np.array([[1.0]])
    for q in range(n):  # qubit 0 is the most significant bit
        op = np.kron(op, paulis[product.get(q, "I")])
    return float(np.real(state.conj() @ op @ state))


def test_a_program_braket_writes_reads_and_runs_as_braket_runs_it():
    """Braket's own OpenQASM (its gate names, IonQ and IQM natives) against Braket's unitary."""
    from braket.circuits import Circuit as BraketCircuit

    bc = (BraketCircuit().h(0).h(1).i(1).v(1).vi(2).si(0).ti(1).cnot(0, 2).ccnot(0, 1, 2).phaseshift(1, 0.3)
          .cphaseshift(0, 1, 0.4).gpi(2, 0.5).gpi2(0, 0.6).ms(1, 2, 0.1, 0.2, 0.7).prx(0, 0.8, 0.9).ecr(2, 0)
          .iswap(0, 1).xx(0, 1, 0.2).zz(1, 2, 0.1).yy(0, 2, 0.3).ms(2, 0, -0.4, 1.3))
    source = bc.to_ir("OPENQASM").source
    lines = [ln for ln in source.splitlines() if not ln.startswith("bit[") and "measure" not in ln]
    outputs = [{0: "X", 1: "Z"}, {2: "Y"}, {0: "Z", 1: "Y", 2: "X"}, {1: "X"}]
    for out in outputs:
        factors = " @ ".join(f"{p.lower()}(q[{q}])" for q, p in sorted(out.items()))
        lines.append(f"#pragma braket result expectation {factors}")
    c = qshift.Circuit.from_qasm("\n".join(lines) + "\n")
    state = bc.to_unitary()[:, 0]
    expected = [_expectation(state, out, 3) for out in outputs]
    np.testing.assert_allclose(qshift.simulate(c, np.zeros((1, 0)))[0], expected, atol=1e-12)


def test_qiskit_circuits_with_these_gates_are_read_by_name(rng):
    """``Circuit.from_qiskit`` reads Qiskit's gates by name, Qiskit's angle order included."""
    from qiskit.circuit import Parameter

    a, t = Parameter("a"), Parameter("t")
    qc = QuantumCircuit(3)
    qc.h(0), qc.h(2), qc.rzx(2 * a, 0, 1), qc.r(t, a - 0.3, 2), qc.ecr(1, 2), qc.iswap(2, 0), qc.sxdg(1)
    qc.append(CU1Gate(t), [2, 0]), qc.append(CU3Gate(a, t, 0.2), [1, 0]), qc.append(XXPlusYYGate(t, -a), [0, 2])
    observables = ["ZXY", "IIX", "YZI"]
    c = qshift.Circuit.from_qiskit(qc, observables)
    assert c.symbols == ("a", "t")
    for x in rng.uniform(-3, 3, (3, 2)):
        state = Statevector(qc.assign_parameters({a: x[0], t: x[1]}))
        expected = [float(np.real(state.expectation_value(SparsePauliOp(o)))) for o in observables]
        np.testing.assert_allclose(qshift.simulate(c, x), expected, atol=1e-12)
