import numpy as np
import pytest

import qshift
from qshift import LocalSimulator

from random_circuits import random_circuit
from reference import qiskit_expectations


def test_library_matches_qiskit_statevector(library_circuit, rng):
    """Every circuit file, at random angles, against Qiskit reading the same file (1e-10)."""
    text = qshift.circuit_path(library_circuit.name).read_text()
    for _ in range(3):
        values = rng.uniform(-np.pi, np.pi, library_circuit.n_symbols)
        ours = qshift.simulate(library_circuit, values)
        theirs = qiskit_expectations(text, dict(zip(library_circuit.symbols, values)))
        np.testing.assert_allclose(ours, theirs, atol=1e-10, rtol=0)


@pytest.mark.parametrize("seed", range(6))
def test_random_circuits_match_qiskit(seed):
    rng = np.random.default_rng(seed)
    c = random_circuit(rng)
    values = rng.uniform(-np.pi, np.pi, (5, 3))
    ours = qshift.simulate(c, values)
    text = c.to_qasm()
    for row, expected in zip(values, ours):
        np.testing.assert_allclose(expected, qiskit_expectations(text, dict(zip(c.symbols, row))), atol=1e-10)


_TAIL = ["rz", "p", "s", "t", "z", "x", "cx", "cz", "swap", "rzz", "crz", "cp", "ccx", "ry", "h"]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("paulis", ["Z", "XYZ"])
def test_permutation_and_phase_tails_match_qiskit(seed, paulis):
    """Circuits ending in permutations and phases (folded into the observables or dropped)."""
    rng = np.random.default_rng(100 + seed)
    tail = [_TAIL[i] for i in rng.integers(len(_TAIL), size=8)]
    c = random_circuit(rng, n_qubits=5, n_ops=12, paulis=paulis, tail=tail)
    values = rng.uniform(-np.pi, np.pi, (3, 3))
    ours = qshift.simulate(c, values)
    text = c.to_qasm()
    for row, expected in zip(values, ours):
        np.testing.assert_allclose(expected, qiskit_expectations(text, dict(zip(c.symbols, row))), atol=1e-10)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("paulis", ["Z", "XYZ"])
def test_outputs_kept_as_masks_match_qiskit(seed, paulis, monkeypatch):
    """Outputs whose dense weights would be too large keep only their qubit masks (here: always)."""
    from qshift.backends.local import observables as _observables
    from qshift.backends.local.compile import _compile

    rng = np.random.default_rng(500 + seed)
    tail = [_TAIL[i] for i in rng.integers(len(_TAIL), size=8)]
    c = random_circuit(rng, n_qubits=5, n_ops=12, paulis=paulis, tail=tail)
    monkeypatch.setattr(_observables, "_DENSE_WEIGHTS", 0)
    _compile.cache_clear()
    try:
        groups = _compile(c).observables.groups
        lazy = (_observables._ParityWeights, _observables._FlipWeights)
        assert all(isinstance(weights, lazy) for _, _, weights in groups)
        assert any(isinstance(weights, _observables._FlipWeights) for _, _, weights in groups) == (paulis == "XYZ")
        values = rng.uniform(-np.pi, np.pi, (3, 3))
        ours = qshift.simulate(c, values)
    finally:
        _compile.cache_clear()
    text = c.to_qasm()
    for row, expected in zip(values, ours):
        np.testing.assert_allclose(expected, qiskit_expectations(text, dict(zip(c.symbols, row))), atol=1e-10)


def _dense(gates, n):
    """The unitary of ``(gate, qubits)`` applied in order, by tensor contractions (qubit 0 most significant)."""
    from qshift.ir.gates import GATES

    u = np.eye(2 ** n, dtype=complex).reshape((2,) * n + (2 ** n,))
    for gate, qubits in gates:
        k = len(qubits)
        m = GATES[gate].matrix.reshape((2,) * (2 * k))
        u = np.moveaxis(np.tensordot(m, u, axes=(list(range(k, 2 * k)), list(qubits))), list(range(k)), list(qubits))
    return u.reshape(2 ** n, 2 ** n)


@pytest.mark.parametrize("seed", range(4))
def test_monomial_runs_compose_like_their_unitary(seed):
    """The index move and phases of a run of fixed gates equal the product of their matrices."""
    from qshift.ir.gates import GATES
    from qshift.backends.local.kernels import _monomial_action

    rng = np.random.default_rng(seed)
    n, names = 5, ["x", "y", "z", "s", "sdg", "t", "cx", "cz", "swap", "ccx", "cy"]
    gates = []
    for name in rng.choice(names, size=12):
        qubits = tuple(int(q) for q in rng.permutation(n)[:GATES[name].n_qubits])
        gates.append((name, qubits))
    perm, phase = _monomial_action([(g, GATES[g].matrix, q) for g, q in gates], n)
    expected = _dense(gates, n)
    ours = np.zeros((2 ** n, 2 ** n), dtype=complex)
    ours[np.arange(2 ** n), perm] = 1 if phase is None else phase
    np.testing.assert_allclose(ours, expected, atol=1e-12)


def _qasm(body: str, outputs: str) -> str:
    head = 'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] a;\ninput float[64] b;\ninput float[64] c;\nqubit[3] q;\n'
    pragmas = "".join(f"#pragma braket result expectation {o}\n" for o in outputs.split(";"))
    return head + body + "\n" + pragmas


@pytest.mark.parametrize("body", [
    "ry(a) q[0]; rz(b) q[0]; rzz(c) q[0], q[1]; ry(a) q[0];",  # a phase before a parametrized diagonal
    "ry(a) q[0]; ry(c) q[1]; rz(b) q[1]; cx q[0], q[1]; ry(a) q[0];",  # a phase moved by a CNOT
    "ry(a) q[2]; rz(b) q[2]; cz q[2], q[1]; h q[1]; ry(c) q[1]; rz(c) q[1]; cx q[1], q[0];",
    "h q[0]; h q[1]; rz(a) q[0]; crz(b) q[0], q[1]; p(c) q[1]; swap q[0], q[2];",
])
@pytest.mark.parametrize("outputs", ["z(q[0])", "z(q[0]) @ z(q[1]);z(q[2]);x(q[1])"])
def test_phases_before_the_measurement(rng, body, outputs):
    """Which trailing phases may be dropped: only those no later kernel turns into a mix."""
    text = _qasm(body, outputs)
    c = qshift.Circuit.from_qasm(text)
    for row in rng.uniform(-np.pi, np.pi, (4, 3)):
        np.testing.assert_allclose(qshift.simulate(c, row), qiskit_expectations(text, dict(zip("abc", row))),
                                   atol=1e-10)


def _layered_circuit(rng, n_qubits=7, layers=3):
    """Layers of one-qubit gates on every qubit (fixed, constant-angle and symbol angles) between
    entanglers: adjacent one-qubit kernels that the simulator fuses into blocks."""
    b = qshift.CircuitBuilder(n_qubits)
    syms = b.inputs("a", "b", "c")
    for layer in range(layers):
        for q in range(n_qubits):
            kind = rng.integers(4)
            if kind == 0:
                b.gate(["h", "sx", "t", "y"][rng.integers(4)], q)
            elif kind == 1:
                b.gate(["rx", "ry", "rz"][rng.integers(3)], float(rng.uniform(-3, 3)), q)
            else:
                b.gate(["rx", "ry", "rz", "p"][rng.integers(4)], rng.uniform(-2, 2) * syms[rng.integers(3)], q)
                b.gate("u3", syms[rng.integers(3)], 0.3 * q, -0.2, q)
        for q in range(layer % 2, n_qubits - 1, 2):
            b.gate(["cx", "cz", "rzz"][layer % 3], *([syms[layer]] if layer % 3 == 2 else []), q, q + 1)
    b.expectation({0: "Z", n_qubits - 1: "X"}).expectation({n_qubits // 2: "Y"}).expectation({1: "Z"})
    return b.build()


@pytest.mark.parametrize("seed", range(3))
def test_fused_one_qubit_blocks_match_qiskit(seed):
    from qshift.backends.local.compile import _compile
    from qshift.backends.local.kernels import _Block

    rng = np.random.default_rng(300 + seed)
    c = _layered_circuit(rng)
    assert any(isinstance(k, _Block) for k in _compile(c).kernels)
    values = rng.uniform(-np.pi, np.pi, (3, 3))
    text = c.to_qasm()
    for row, expected in zip(values, qshift.simulate(c, values)):
        np.testing.assert_allclose(expected, qiskit_expectations(text, dict(zip(c.symbols, row))), atol=1e-10)
    angles = _shifted_rows(rng, c.n_slots)
    batch = LocalSimulator().run(c, angles).values
    single = np.concatenate([LocalSimulator().run(c, row[None]).values for row in angles])
    np.testing.assert_allclose(batch, single, atol=1e-12)


@pytest.mark.parametrize("outputs", [{0: "Z"}, {1: "Y", 4: "X"}])
def test_real_blocks_match_qiskit(rng, outputs):
    """Runs of real gates (RY, H, X, Z, a constant RY) take the real product path, a run with a
    complex gate (RZ) the complex one (unless the folded tail drops it); both agree with Qiskit."""
    from qshift.backends.local.compile import _compile
    from qshift.backends.local.kernels import _Block

    b = qshift.CircuitBuilder(5)
    for layer in range(3):
        for q in range(5):
            b.gate("ry", b.input(f"a{layer}{q}"), q)
            b.gate(["x", "z", "h"][q % 3], q)
            b.gate("ry", 0.4 + layer, q)
        b.gate("ry" if layer == 1 else "rz", b.input(f"t{layer}"), 3)
        for q in range(4):
            b.gate("cx", q, q + 1)
    c = b.expectation(outputs).build()
    blocks = [k for k in _compile(c).kernels if isinstance(k, _Block)]
    last = np.float64 if outputs == {0: "Z"} else np.complex128  # Z outputs: the final RZ cannot matter
    assert [k.operators(np.zeros((1, len(k.slots)))).dtype for k in blocks] == [np.float64] * 3 + [last]
    angles = _shifted_rows(rng, c.n_slots)
    ours = LocalSimulator().run(c, angles).values
    text = c.to_qasm()
    assert c.slot_angles(angles[:1]).shape == angles[:1].shape  # one slot per symbol, angle = symbol
    for row, expected in zip(angles, ours):
        np.testing.assert_allclose(expected, qiskit_expectations(text, dict(zip(c.symbols, row))), atol=1e-10)


def _shifted_rows(rng, n_slots, base_rows=2):
    """Base rows, and rows shifted by multiples of pi/2 in one or two slots (shared prefixes)."""
    rows = []
    for base in rng.uniform(-np.pi, np.pi, (base_rows, n_slots)):
        rows.append(base)
        for i, j in rng.integers(n_slots, size=(12, 2)):
            row = base.copy()
            row[i] += np.pi / 2 * rng.integers(-2, 3)
            row[j] -= np.pi / 2 * rng.integers(0, 2)
            rows.append(row)
    rows = np.array(rows)
    return np.concatenate([rows, rows[:3]])[rng.permutation(len(rows) + 3)]


@pytest.mark.parametrize("outputs", ["all", "single"])
def test_shifted_batch_matches_qiskit(rng, outputs):
    """Shared prefixes, the product-state start and the folded tail on a 6-qubit ansatz batch."""
    c = qshift.hardware_efficient(6, 2, outputs=outputs)
    angles = _shifted_rows(rng, c.n_slots)
    ours = LocalSimulator().run(c, angles).values
    text = c.to_qasm()
    for row, expected in zip(angles, ours):
        np.testing.assert_allclose(expected, qiskit_expectations(text, dict(zip(c.symbols, row))), atol=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_random_batches_are_row_by_row(seed):
    """Every fast path against the same rows run one at a time, on 7 qubits (both 2x2 layouts)."""
    rng = np.random.default_rng(200 + seed)
    c = random_circuit(rng, n_qubits=7, n_ops=40, paulis="ZZZX"[: 1 + seed % 2 * 3],
                        tail=[_TAIL[i] for i in rng.integers(len(_TAIL), size=6)])
    angles = _shifted_rows(rng, c.n_slots)
    batch = LocalSimulator().run(c, angles).values
    single = np.concatenate([LocalSimulator().run(c, row[None]).values for row in angles])
    np.testing.assert_allclose(batch, single, atol=1e-12)


def test_batch_is_row_by_row(rng):
    """A batch with repeated and shared-prefix rows gives what each row gives alone, in order."""
    c = qshift.hardware_efficient(4, 2)
    base = rng.uniform(-1, 1, c.n_symbols)
    rows = np.repeat(base[None], 12, axis=0)
    rows[1:6, 3] += np.pi / 2
    rows[6:9, 14] -= np.pi / 2
    rows = rows[rng.permutation(12)]
    batch = qshift.simulate(c, rows)
    single = np.array([qshift.simulate(c, r) for r in rows])
    np.testing.assert_allclose(batch, single, atol=1e-13)


def test_leading_batch_dimensions(rng):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
    values = rng.uniform(size=(2, 3, 2))
    out = qshift.simulate(c, values)
    assert out.shape == (2, 3, 3)
    np.testing.assert_allclose(out[1, 2], qshift.simulate(c, values[1, 2]))


def test_chunking_gives_the_same_values(rng):
    c = qshift.hardware_efficient(6, 1)
    angles = rng.uniform(-3, 3, (50, c.n_slots))
    full = LocalSimulator().run(c, angles).values
    small = LocalSimulator(max_memory=4 * 16 * 2 ** 6 * 3)  # three rows per chunk
    assert small.rows_per_chunk(6) == 3
    np.testing.assert_allclose(small.run(c, angles).values, full, atol=1e-13)


def test_too_many_qubits_is_a_clear_error():
    c = qshift.hardware_efficient(30, 1, outputs="single")
    with pytest.raises(qshift.SimulationMemoryError) as err:
        LocalSimulator().run(c, np.zeros((1, c.n_slots)))
    assert "30-qubit" in str(err.value) and "fix:" in str(err.value)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 5)), "wrong shape"),
    (np.zeros(3), "wrong shape"),
    (np.array([[0.1, np.nan]]), "NaN or infinite"),
    (np.array([[np.inf, 0.1]]), "NaN or infinite"),
    ([["a", "b"]], "must be numbers"),
])
def test_bad_values(bad, match):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
    with pytest.raises(qshift.ValuesError, match=match):
        qshift.simulate(c, bad)


def test_sampling_is_unbiased_and_seeded():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    angles = np.full((4000, 1), 0.7)
    r1 = LocalSimulator().run(c, angles, shots=100, seed=5)
    r2 = LocalSimulator().run(c, angles, shots=100, seed=5)
    np.testing.assert_array_equal(r1.values, r2.values)
    stderr = np.sqrt((1 - np.sin(0.7) ** 2) / 100 / 4000)
    assert abs(r1.values.mean() - np.sin(0.7)) < 5 * stderr
