"""Weighted observables (Hamiltonians) as one output: IR, OpenQASM, Qiskit and PennyLane in, grouping.

References are independent of qshift's simulator: Qiskit reads the written OpenQASM and computes
``Statevector.expectation_value`` of a ``SparsePauliOp`` built from the text (tests/reference.py);
PennyLane differentiates its own QNode by backprop.
"""

import math

import numpy as np
import pytest

import qshift
from qshift.ir.grouping import group_shots, measurement_groups, n_groups
from qshift.ir.pauli import PauliString, PauliSum
from random_circuits import random_circuit
from reference import qiskit_expectations
from chemistry import h2_hamiltonian, h2_rotations



# -- the observable -----------------------------------------------------------------------------

def test_a_sum_merges_repeated_products_keeps_the_constant_and_reads_back_from_its_text():
    h = PauliSum.parse([(0.5, "Z0 Z1"), (-0.25, "X0"), (0.25, "Z1 Z0"), (2.0, "I"), (0.0, "Y2"), (-1.0, "")])
    assert [(c, str(p)) for c, p in h.terms] == [(0.75, "Z0 Z1"), (-0.25, "X0")]
    assert h.constant == 1.0 and h.qubits == (0, 1) and h.norm == 1.0
    assert str(h) == "0.75 Z0 Z1 - 0.25 X0 + 1"
    assert PauliSum.parse({"Z0 Z1": 0.75, "X0": -0.25, "": 1.0}) == h
    assert qshift.CircuitBuilder(2).expectation("Z0").build().outputs == (PauliString.parse("Z0"),)


@pytest.mark.parametrize("bad, words", [
    ({"Z0": 1j}, "complex"), ({"Z0": float("nan")}, "not finite"), ({"Z0": "0.5"}, "not a number"),
    ({"Z0": True}, "not a number"), ([(0.5, "Q0")], "cannot read Pauli product"), ([0.5], "pairs"), (3.0, "cannot read"),
])
def test_a_bad_sum_is_a_clear_error(bad, words):
    with pytest.raises(qshift.CircuitError, match=words):
        qshift.CircuitBuilder(2).expectation(bad)


def test_a_constant_output_is_its_constant_with_zero_derivatives_and_one_execution():
    b = qshift.CircuitBuilder(1)
    c = b.ry(b.input("t"), 0).expectation({"": 2.0}).expectation("I").build()
    assert c.n_terms == 0 and n_groups(c) == 1
    d = qshift.derivatives(c, [0.3], order=2, shots=100, seed=1)
    np.testing.assert_array_equal(d.value, [2.0, 1.0])
    np.testing.assert_array_equal(d.jacobian, 0.0)
    np.testing.assert_array_equal(d.standard_error(0), 0.0)


def test_an_output_outside_the_qubits_is_refused():
    with pytest.raises(qshift.QubitIndexError):
        qshift.CircuitBuilder(2).expectation({"Z0": 1.0, "X5": 2.0}).build()


def test_terms_weights_and_constants_of_a_circuit():
    c = (qshift.CircuitBuilder(3).expectation({"Z0 Z1": 0.5, "X0": -0.2, "": 1.1}).expectation("Z2")
         .expectation([(3.0, "Z0 Z1"), (-1e-5, "Y1 Z2")]).build())
    assert [str(t) for t in c.terms] == ["Z0 Z1", "X0", "Z2", "Y1 Z2"]
    np.testing.assert_array_equal(c.term_weights, [[0.5, -0.2, 0, 0], [0, 0, 1, 0], [3.0, 0, 0, -1e-5]])
    np.testing.assert_array_equal(c.output_constants, [1.1, 0, 0])
    assert c.n_outputs == 3 and c.weighted
    plain = qshift.CircuitBuilder(2).expectation("Z0").expectation("X1").build()
    assert not plain.weighted and plain.terms == plain.outputs


# -- values against Qiskit ----------------------------------------------------------------------

def _random_sum(rng, n_qubits, n_terms):
    pairs = []
    for _ in range(n_terms):
        qubits = rng.choice(n_qubits, size=rng.integers(1, n_qubits + 1), replace=False)
        pairs.append((float(rng.normal()), {int(q): "XYZ"[rng.integers(3)] for q in qubits}))
    pairs.append((float(rng.normal()), {}))
    return PauliSum.parse([(c, PauliString.parse(p)) for c, p in pairs])


@pytest.mark.parametrize("seed", range(4))
def test_weighted_outputs_equal_qiskits_statevector_and_round_trip_exactly(seed):
    rng = np.random.default_rng(seed)
    base = random_circuit(rng, n_qubits=4, n_ops=25)
    sums = tuple(_random_sum(rng, 4, int(rng.integers(2, 9))) for _ in range(2))
    c = qshift.Circuit(base.n_qubits, base.operations, sums + base.outputs[:1], base.symbols)
    text = c.to_qasm()
    back = qshift.Circuit.from_qasm(text)
    assert back == c and back.outputs == c.outputs  # coefficients bit for bit
    for row in rng.uniform(-np.pi, np.pi, size=(3, c.n_symbols)):
        np.testing.assert_allclose(qshift.simulate(c, row),
                                   qiskit_expectations(text, dict(zip(c.symbols, row))), atol=1e-10)


def test_the_pragma_form_is_documented_and_read_with_signs_exponents_and_a_lone_constant():
    text = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
x q[1];
#pragma qshift expectation -2.5e-1 * z(q[0]) @ z(q[1]) + z(q[1]) - 1e+1 * x(q[0]) + .5
#pragma qshift expectation 3 - y(q[0])
"""
    c = qshift.Circuit.from_qasm(text)
    assert str(c.outputs[0]) == "-0.25 Z0 Z1 + 1 Z1 - 10 X0 + 0.5" and str(c.outputs[1]) == "-1 Y0 + 3"
    np.testing.assert_allclose(qshift.simulate(c, np.zeros((1, 0)))[0], [0.25 - 1 + 0.5, 3.0])
    for bad in ("0.5 * z(q[0]) z(q[1])", "0.5 * * z(q[0])", "", "z(q[0]) + + x(q[1])", "0.5 * w(q[0])"):
        with pytest.raises(qshift.QasmError):
            qshift.Circuit.from_qasm(text.replace("3 - y(q[0])", bad))


def test_qiskit_sparse_pauli_ops_with_real_coefficients_are_one_output_each():
    qiskit = pytest.importorskip("qiskit")
    from qiskit.circuit import Parameter
    from qiskit.quantum_info import Pauli, SparsePauliOp, Statevector

    a, b = Parameter("a"), Parameter("b")
    qc = qiskit.QuantumCircuit(3)
    qc.ry(a, 0), qc.cx(0, 1), qc.rx(b, 2), qc.h(1)
    h = SparsePauliOp.from_list([("IZZ", 0.5), ("XII", -0.3), ("III", 1.25), ("YZX", 0.7), ("IZZ", 0.1)])
    c = qshift.Circuit.from_qiskit(qc, [h, Pauli("-XII"), "ZII"])
    assert c.n_outputs == 3 and isinstance(c.outputs[0], PauliSum) and c.outputs[2] == PauliString.parse("Z2")
    x = np.array([0.4, -1.1])
    state = Statevector(qc.assign_parameters({a: x[0], b: x[1]}))
    expected = [state.expectation_value(h).real, -state.expectation_value(Pauli("XII")).real,
                state.expectation_value(Pauli("ZII")).real]
    np.testing.assert_allclose(qshift.simulate(c, x), expected, atol=1e-12)
    with pytest.raises(qshift.CircuitError, match="complex coefficient"):
        qshift.Circuit.from_qiskit(qc, SparsePauliOp.from_list([("IZZ", 0.5 + 0.5j)]))
    with pytest.raises(qshift.CircuitError, match="the circuit has 3"):
        qshift.Circuit.from_qiskit(qc, SparsePauliOp.from_list([("ZZ", 0.5)]))


# -- H2 from PennyLane --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def h2():
    qml = pytest.importorskip("pennylane")
    ansatz, circuit = h2_rotations()
    return qml, h2_hamiltonian()[0], ansatz, circuit


def test_h2_from_pennylane_is_one_output_whose_derivatives_match_backprop(h2):
    qml, hamiltonian, ansatz, c = h2
    from pennylane import numpy as pnp

    assert c.n_outputs == 1 and c.n_terms == len(hamiltonian.terms()[0]) - 1  # the identity is the constant
    x = np.array([0.2, -0.4, 0.3])
    d = qshift.derivatives(c, x, order=2)
    assert d.value.shape == (1,) and d.jacobian.shape == (1, 3) and d.hessian.shape == (1, 3, 3)
    node = qml.QNode(ansatz, qml.device("default.qubit", wires=4), diff_method="backprop")
    energy = lambda v: node(*v)  # noqa: E731
    xs = pnp.array(x, requires_grad=True)
    assert abs(d.value[0] - energy(xs)) < 1e-8
    np.testing.assert_allclose(d.jacobian[0], qml.jacobian(energy)(xs), atol=1e-8)
    np.testing.assert_allclose(d.hessian[0], qml.jacobian(qml.jacobian(energy))(xs), atol=1e-8)
    assert d.stats.circuits == qshift.plan(c, order=2).circuits  # the terms add no circuits


def test_grouping_needs_no_more_executions_than_pennylanes_qwc_groups(h2):
    qml, hamiltonian, _, c = h2
    coefficients, observables = hamiltonian.terms()
    theirs = len(qml.pauli.group_observables(observables, coefficients, grouping_type="qwc")[0])
    assert n_groups(c) <= theirs == 5
    # every group is qubit-wise commuting and every term is in exactly one group
    groups = measurement_groups(c)
    assert sorted(t for g in groups for t in g.terms) == list(range(c.n_terms))
    for g in groups:
        basis = dict(g.basis)
        assert all(basis[q] == p for t in g.terms for q, p in c.terms[t].factors)
    d = qshift.derivatives(c, [0.1, 0.2, 0.3], order=1, shots=100, seed=1)
    assert d.stats.executions == d.stats.circuits * n_groups(c)


def test_lih_terms_fit_in_no_more_groups_than_pennylane_finds():
    qml = pytest.importorskip("pennylane")
    hamiltonian, n_qubits = qml.qchem.molecular_hamiltonian(
        ["Li", "H"], np.array([0.0, 0.0, 0.0, 0.0, 0.0, 2.969280527]), active_electrons=2, active_orbitals=5)
    coefficients, observables = hamiltonian.terms()
    tape = qml.tape.QuantumScript([qml.PauliX(0), qml.PauliX(1)], [qml.expval(hamiltonian)])
    c = qshift.Circuit.from_pennylane(tape)
    assert n_qubits == 10 and c.n_terms == len(coefficients) - 1
    theirs = min(len(qml.pauli.group_observables(observables, coefficients, grouping_type="qwc", method=m)[0])
                 for m in ("lf", "rlf", "dsatur"))
    assert n_groups(c) <= theirs
    print(f"LiH: {c.n_terms} terms in {n_groups(c)} groups (PennyLane qwc: {theirs})")


# -- shots per group ------------------------------------------------------------------------------

def test_shots_are_split_over_groups_by_weight_and_sum_to_shots_per_execution():
    c = qshift.CircuitBuilder(2).expectation({"Z0 Z1": 3.0, "Z0": 4.0, "X0": 1.0, "Y1": -2.0}).build()
    groups = measurement_groups(c)
    assert [sorted(str(c.terms[t]) for t in g.terms) for g in groups] == [["Z0", "Z0 Z1"], ["X0", "Y1"]]
    split = group_shots(c, 1000)
    assert split.sum() == 2000 and split.tolist() == [round(1 + 1998 * 5 / (5 + math.sqrt(5))),
                                                       2000 - round(1 + 1998 * 5 / (5 + math.sqrt(5)))]
    plain = qshift.CircuitBuilder(2).expectation("Z0").expectation("X0").build()
    assert group_shots(plain, 1000).tolist() == [1000, 1000]


# -- the Braket export ---------------------------------------------------------------------------

def test_the_braket_dialect_runs_on_braket_and_lists_each_term_as_a_result_type():
    pytest.importorskip("braket")
    from braket.devices import LocalSimulator
    from braket.ir.openqasm import Program

    b = qshift.CircuitBuilder(3)
    a = b.input("a")
    c = (b.ry(a, 0).cx(0, 1).h(2).rxx(0.4, 1, 2).cry(0.3, 0, 2).p(0.2, 1).crz(2 * a + 0.1, 2, 0).ch(0, 1).sx(2)
         .sdg(1).tdg(0).ccx(0, 1, 2).cp(0.3, 0, 2).rzz(a, 0, 1).cswap(2, 0, 1).cy(1, 0).sexc(a - 0.2, 2, 0)
         .sexcp(0.7, 1, 2).ecr(0, 2).iswap(1, 0).sxdg(2).rzx(a, 2, 1).expectation(
             {"Z0 Z1": 0.5, "X0": -0.2, "": 1.1}).expectation("Y2").expectation({"X0": 2.0}).build())
    text = c.to_qasm(dialect="braket")
    assert text.count("#pragma braket result expectation") == c.n_terms == 3 and "include" not in text
    result = LocalSimulator().run(Program(source=text, inputs={"a": 0.3}), shots=0).result()
    terms = np.array(result.values)  # Braket's own expectations of the terms, combined as the comment says
    np.testing.assert_allclose([0.5 * terms[0] - 0.2 * terms[1] + 1.1, terms[2], 2.0 * terms[1]],
                               qshift.simulate(c, [0.3]), atol=1e-12)
    with pytest.raises(qshift.QasmError, match="dialect"):
        c.to_qasm(dialect="cirq")
