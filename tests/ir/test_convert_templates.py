"""PennyLane templates, chemistry ansatze, array arguments and QNode transforms through ``from_pennylane``.

Values and gradients are checked against PennyLane itself (``default.qubit`` with
``diff_method="backprop"``), never against numbers qshift computed.
"""

import numpy as np
import pytest

import qshift

pytest.importorskip("pennylane", reason="needs qshift[pennylane]")
import pennylane as qml  # noqa: E402
from pennylane import numpy as pnp  # noqa: E402
from helpful import assert_helpful  # noqa: E402

HF = np.array([1, 1, 0, 0])



def _flat(*args) -> np.ndarray:
    """The documented order of symbol values: every argument's elements, row-major, in argument order."""
    return np.concatenate([np.ravel(a) for a in args])


def check_against_backprop(qfunc, args, symbols, n_qubits=4, **convert):
    """Convert, then compare the value and the Jacobian with PennyLane's backprop; returns the circuit."""
    c = qshift.Circuit.from_pennylane(qfunc, symbols=symbols, **convert)
    shapes = [np.shape(a) for a in args]
    sizes = np.cumsum([0] + [int(np.prod(s)) for s in shapes])
    qnode = qml.QNode(qfunc, qml.device("default.qubit", wires=n_qubits), diff_method="backprop")

    def f(x):
        parts = [x[sizes[i]:sizes[i + 1]].reshape(shape) for i, shape in enumerate(shapes)]
        return qml.math.stack(qnode(*parts)) if len(c.outputs) > 1 else qnode(*parts)

    x = _flat(*args)
    d = qshift.derivatives(c, x, order=1)
    value = np.asarray(f(pnp.array(x)), dtype=float).reshape(c.n_outputs)
    jacobian = np.asarray(qml.jacobian(f)(pnp.array(x, requires_grad=True)), dtype=float)
    np.testing.assert_allclose(d.value, value, atol=1e-8)
    np.testing.assert_allclose(d.jacobian, jacobian.reshape(c.n_outputs, len(x)), atol=1e-8)
    return c


# -- templates with array arguments ---------------------------------------------------------------

@pytest.mark.parametrize("rotation", ["X", "Y", "Z"])
def test_angle_embedding_and_basic_entangler_layers(rotation, rng):
    def circuit(features, weights):
        qml.Hadamard(0)
        qml.AngleEmbedding(features, wires=range(3), rotation=rotation)
        qml.BasicEntanglerLayers(weights, wires=range(3), rotation=qml.RY)
        return qml.expval(qml.Z(0) @ qml.X(2)), qml.expval(qml.Y(1))

    features, weights = rng.uniform(-2, 2, 3), rng.uniform(-2, 2, (2, 3))
    c = check_against_backprop(circuit, (features, weights), {"features": 3, "weights": (2, 3)}, n_qubits=3)
    assert c.symbols == ("features_0", "features_1", "features_2", "weights_0_0", "weights_0_1", "weights_0_2",
                         "weights_1_0", "weights_1_1", "weights_1_2")
    assert {op.gate for op in c.operations} == {"h", "r" + rotation.lower(), "ry", "cx"}


def test_strongly_entangling_layers(rng):
    def circuit(weights):
        qml.StronglyEntanglingLayers(weights, wires=range(4))
        return qml.expval(qml.Z(0) @ qml.Z(3)), qml.expval(qml.X(1))

    weights = rng.uniform(-2, 2, (2, 4, 3))
    c = check_against_backprop(circuit, (weights,), {"weights": weights.shape})
    assert c.n_symbols == 24 and c.symbols[:4] == ("weights_0_0_0", "weights_0_0_1", "weights_0_0_2", "weights_0_1_0")
    assert c.symbols[-1] == "weights_1_3_2"


def test_weights_indexed_by_hand(rng):
    """``def circuit(weights)`` with ``weights[i]`` and ``weights[i, j]``: one symbol per element."""
    def circuit(x, weights):
        for i in range(3):
            qml.RY(weights[0, i], wires=i)
        qml.CNOT([0, 1]); qml.CRX(2 * weights[1][2] + 0.1, wires=[1, 2])
        qml.RZ(x, wires=0); qml.RZ(0.5 - weights[1, 0], wires=0); qml.IsingXX(weights[1, 1] / 3, wires=[0, 2])
        return qml.expval(qml.X(0) @ qml.Z(1)), qml.expval(qml.Y(2))

    x, weights = np.array(0.4), rng.uniform(-2, 2, (2, 3))
    c = check_against_backprop(circuit, (x, weights), {"x": (), "weights": (2, 3)}, n_qubits=3)
    assert c.symbols == ("x", "weights_0_0", "weights_0_1", "weights_0_2", "weights_1_0", "weights_1_1",
                         "weights_1_2")
    assert c.operations[4].angle == qshift.Angle("weights_1_2", 2.0, 0.1)


@pytest.mark.parametrize("shape", [4, (4,), [4], np.zeros(4)])
def test_shape_spellings(shape):
    def circuit(w):
        for i in range(4):
            qml.RX(w[i], wires=i)
        return qml.expval(qml.Z(0))

    assert qshift.Circuit.from_pennylane(circuit, symbols={"w": shape}).symbols == ("w_0", "w_1", "w_2", "w_3")


@pytest.mark.parametrize("symbols, words", [
    ({"w": (2, -1)}, ["shape (2, -1)", "(2, 3)"]),
    ({"w": 1.5}, ["shape 1.5"]),
    ({"w": 2, "w_0": ()}, ["['w_0']", "more than once"]),
    ({"not a name": 2}, ["not an identifier"]),
])
def test_bad_shapes_and_colliding_names_are_refused(symbols, words):
    def circuit(*args):
        qml.RX(0.1, wires=0)
        return qml.expval(qml.Z(0))

    with pytest.raises(qshift.SymbolError) as err:
        qshift.Circuit.from_pennylane(circuit, symbols=symbols)
    assert_helpful(err, *words)


def test_an_array_argument_without_a_shape_says_how_to_declare_it():
    def circuit(weights):
        qml.RX(weights[0], wires=0)
        return qml.expval(qml.Z(0))

    with pytest.raises(qshift.CircuitError) as err:
        qshift.Circuit.from_pennylane(circuit)
    assert_helpful(err, "symbols={'weights': (2, 3)}")


def test_nonlinear_use_of_an_array_element_is_refused():
    def circuit(w):
        qml.RX(w[0] * w[1], wires=0)
        return qml.expval(qml.Z(0))

    with pytest.raises(qshift.NonAffineAngleError):
        qshift.Circuit.from_pennylane(circuit, symbols={"w": 2})


# -- chemistry ansatze ----------------------------------------------------------------------------

SINGLES, DOUBLES = [[0, 2], [1, 3]], [[0, 1, 2, 3]]


def test_all_singles_doubles_uses_the_native_excitation_gates(rng):
    def circuit(weights):
        qml.AllSinglesDoubles(weights, wires=range(4), hf_state=HF, singles=SINGLES, doubles=DOUBLES)
        return qml.expval(qml.Z(0) @ qml.Z(2)), qml.expval(qml.X(0) @ qml.X(1) @ qml.Y(2) @ qml.Y(3))

    c = check_against_backprop(circuit, (rng.uniform(-2, 2, 3),), {"weights": 3})
    assert [op.gate for op in c.operations] == ["x", "x", "dexc", "sexc", "sexc"]
    assert c.symbols == ("weights_0", "weights_1", "weights_2")
    assert qshift.plan(c, order=1).circuits == 1 + 3 * 4  # three four-term slots


def test_uccsd_is_decomposed_through_the_fermionic_excitations(rng):
    """UCCSD's FermionicSingle/DoubleExcitation have no qshift gate: they become their PennyLane
    decompositions (rx, rz, h, cx), every rz angle an affine function of one weight."""
    s_wires, d_wires = [[0, 1, 2], [1, 2, 3]], [[[0, 1], [2, 3]]]

    def circuit(weights):
        qml.UCCSD(weights, wires=range(4), s_wires=s_wires, d_wires=d_wires, init_state=HF)
        return qml.expval(qml.Z(0) @ qml.Z(3)), qml.expval(qml.Y(1) @ qml.Y(2))

    c = check_against_backprop(circuit, (rng.uniform(-2, 2, 3),), {"weights": 3})
    assert {op.gate for op in c.operations} <= {"x", "rx", "rz", "h", "cx"}
    assert {op.angle.symbol for op in c.operations if op.angle is not None and op.angle.symbol} == set(c.symbols)


def test_fermionic_excitations_with_scalar_arguments():
    def circuit(a, b):
        qml.BasisState(HF, wires=range(4))
        qml.FermionicSingleExcitation(a, wires=[1, 2])
        qml.FermionicDoubleExcitation(b, wires1=[0, 1], wires2=[2, 3])
        return qml.expval(qml.Z(0) @ qml.Z(3)), qml.expval(qml.X(1) @ qml.Y(2))

    c = check_against_backprop(circuit, (np.array(0.3), np.array(-0.8)), None)
    assert c.symbols == ("a", "b")


def test_numeric_tape_with_a_template_and_a_basis_state(rng):
    """A tape's trainable array parameter becomes one symbol per element; a basis state stays constant."""
    weights = rng.uniform(-1, 1, (1, 4, 3))
    tape = qml.tape.QuantumScript([qml.BasisState(HF, wires=range(4)), qml.StronglyEntanglingLayers(weights, range(4)),
                                   qml.DoubleExcitation(0.3, wires=range(4))], [qml.expval(qml.Z(0) @ qml.Y(3))])
    c = qshift.Circuit.from_pennylane(tape)
    assert c.symbols[:2] == ("p0_0_0_0", "p0_0_0_1") and c.symbols[-1] == "p1" and c.n_symbols == 13
    expected = qml.execute([tape], qml.device("default.qubit"))[0]
    np.testing.assert_allclose(qshift.simulate(c, _flat(weights, 0.3)), [expected], atol=1e-12)


def test_basis_state_must_be_constant():
    def circuit(x):
        qml.BasisState(np.array([x, 1]), wires=[0, 1])
        return qml.expval(qml.Z(0))

    with pytest.raises(qshift.CircuitError) as err:
        qshift.Circuit.from_pennylane(circuit)
    assert_helpful(err, "Basis state", "qml.BasisState", "constant")


def test_a_float_basis_state_in_a_tape_stays_constant():
    tape = qml.tape.QuantumScript([qml.BasisState(np.array([1.0, 0.0]), wires=[0, 1]), qml.RY(0.3, 1),
                                   qml.SingleExcitation(0.9, wires=[0, 1])], [qml.expval(qml.Z(1))])
    c = qshift.Circuit.from_pennylane(tape)
    assert c.symbols == ("p0", "p1") and [op.gate for op in c.operations] == ["x", "ry", "sexc"]
    expected = qml.execute([tape], qml.device("default.qubit"))[0]
    np.testing.assert_allclose(qshift.simulate(c, [0.3, 0.9]), [expected], atol=1e-12)


def test_other_operations_are_decomposed_too(rng):
    def circuit(x, y):
        qml.Hadamard(0); qml.Hadamard(2)
        qml.MultiRZ(x, wires=[0, 1, 2])
        qml.PauliRot(y, "XYZ", wires=[0, 1, 2])
        qml.adjoint(qml.Rot)(0.1, x, 0.3, wires=1)
        return qml.expval(qml.X(0) @ qml.Y(2)), qml.expval(qml.Z(1))

    check_against_backprop(circuit, (np.array(0.7), np.array(-1.1)), None, n_qubits=3)


def test_a_nonaffine_decomposition_names_the_operation():
    def circuit(f):
        qml.IQPEmbedding(f, wires=range(2))  # its decomposition multiplies two features
        return qml.expval(qml.Z(0))

    with pytest.raises(qshift.NonAffineAngleError) as err:
        qshift.Circuit.from_pennylane(circuit, symbols={"f": 2})
    assert_helpful(err, "operation 0 (IQPEmbedding)")


# -- QNode transforms -----------------------------------------------------------------------------

def ucc(weights):
    qml.BasisState(HF, wires=range(4))
    qml.DoubleExcitation(weights[0], wires=[0, 1, 2, 3])
    qml.SingleExcitation(weights[1], wires=[0, 2])
    return qml.expval(qml.Z(0) @ qml.Z(2)), qml.expval(qml.X(1))


def test_decompose_transform_is_applied(rng):
    dev = qml.device("default.qubit", wires=4)
    qnode = qml.transforms.decompose(qml.QNode(ucc, dev), gate_set={"RY", "CNOT", "Hadamard", "PauliX", "RZ"})
    c = qshift.Circuit.from_pennylane(qnode, symbols={"weights": 2})
    assert {op.gate for op in c.operations} <= {"ry", "cx", "h", "x", "rz"}
    assert not {"sexc", "dexc"} & {op.gate for op in c.operations}
    assert c.n_slots == 8 + 2  # DoubleExcitation: 8 ry(+-w/8); SingleExcitation: 2 ry(-w/2)
    x = rng.uniform(-2, 2, 2)
    np.testing.assert_allclose(qshift.simulate(c, x), qml.QNode(ucc, dev)(x), atol=1e-12)
    native = qshift.Circuit.from_pennylane(qml.QNode(ucc, dev), symbols={"weights": 2})
    np.testing.assert_allclose(qshift.derivatives(c, x, order=1).jacobian,
                               qshift.derivatives(native, x, order=1).jacobian, atol=1e-10)
    kept = qml.transforms.decompose(qml.QNode(ucc, dev), gate_set={"SingleExcitation", "DoubleExcitation", "PauliX"})
    assert [op.gate for op in qshift.Circuit.from_pennylane(kept, symbols={"weights": 2}).operations] == [
        "x", "x", "dexc", "sexc"]


def test_decomposed_quantum_function_is_recorded_decomposed():
    decomposed = qml.transforms.decompose(ucc, gate_set={"RY", "CNOT", "Hadamard", "PauliX"})
    c = qshift.Circuit.from_pennylane(decomposed, symbols={"weights": 2})
    assert {op.gate for op in c.operations} <= {"ry", "cx", "h", "x"}


def test_transforms_that_split_or_post_process_are_refused():
    def circuit(x):
        qml.RX(x, 0)
        return qml.expval(qml.Z(0)), qml.expval(qml.X(0))

    qnode = qml.transforms.split_non_commuting(qml.QNode(circuit, qml.device("default.qubit", wires=1)))
    with pytest.raises(qshift.CircuitError) as err:
        qshift.Circuit.from_pennylane(qnode)
    assert_helpful(err, "split_non_commuting", "2 circuit(s)", "without these transforms")


def test_a_transform_that_needs_numbers_is_refused():
    def circuit(x, y):
        qml.RX(x, 0); qml.RX(y, 0)
        return qml.expval(qml.Z(0))

    qnode = qml.transforms.merge_rotations(qml.QNode(circuit, qml.device("default.qubit", wires=1)))
    with pytest.raises(qshift.CircuitError) as err:
        qshift.Circuit.from_pennylane(qnode)
    assert_helpful(err, "merge_rotations")
