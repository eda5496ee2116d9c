"""The gate table: closed forms against exp(-i theta G), frequencies, periods, kinds, fixed matrices."""

import math

import numpy as np
import pytest

from qshift import GATES, GateArityError, UnknownGateError
from qshift.ir.gates import GateKind, expand, lookup

pytest.importorskip("scipy", reason="needs qshift[test]")
from scipy.linalg import expm  # noqa: E402

PARAMETRIZED = sorted(name for name, spec in GATES.items() if spec.parametrized)
ONE_FREQUENCY = ["rx", "ry", "rz", "p", "cp", "rxx", "ryy", "rzz", "rzx", "sexcp", "sexcm", "dexcp", "dexcm"]
CONTROLLED_ROTATIONS = ["crx", "cry", "crz"]
EXCITATIONS = ["sexc", "dexc"]  # also {1/2, 1}: tests/ir/test_chemistry_gates.py


def test_the_table_has_every_parametrized_gate():
    assert sorted(ONE_FREQUENCY + CONTROLLED_ROTATIONS + EXCITATIONS) == PARAMETRIZED


@pytest.mark.parametrize("name", PARAMETRIZED)
def test_closed_form_is_the_exponential_of_the_generator(name, rng):
    spec = GATES[name]
    np.testing.assert_allclose(spec.generator, spec.generator.conj().T, atol=0)  # Hermitian
    thetas = np.concatenate([rng.uniform(-4 * np.pi, 4 * np.pi, 6), [0.0, np.pi, -np.pi / 2]])
    batch = spec.unitary(thetas)
    assert batch.shape == (len(thetas), 2 ** spec.n_qubits, 2 ** spec.n_qubits)
    for theta, u in zip(thetas, batch):
        np.testing.assert_allclose(u, expm(-1j * theta * spec.generator), atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", ONE_FREQUENCY)
def test_one_frequency_gates(name):
    assert GATES[name].frequencies == (1.0,)
    assert GATES[name].period == pytest.approx(2 * math.pi)


@pytest.mark.parametrize("name", CONTROLLED_ROTATIONS + EXCITATIONS)
def test_controlled_rotations_have_two_frequencies(name):
    assert GATES[name].frequencies == (0.5, 1.0)
    assert GATES[name].period == pytest.approx(4 * math.pi)


def _proportional(a, b) -> bool:
    """``a == c * b`` for some unit complex ``c`` (equal up to a global phase)."""
    k = np.argmax(np.abs(b))
    c = a.flat[k] / b.flat[k]
    return abs(abs(c) - 1) < 1e-12 and np.allclose(a, c * b, atol=1e-12)


@pytest.mark.parametrize("name", PARAMETRIZED)
def test_period_is_the_period_of_the_gate_up_to_global_phase(name, rng):
    """Expectation values repeat after one period: U(theta + T) is U(theta) up to a global phase,
    and after half a period they do not (CRX(t + 2 pi) = (Z on the control) CRX(t), RX(t + pi) = -i X RX(t))."""
    spec = GATES[name]
    theta = rng.uniform(-3, 3)
    assert _proportional(spec.unitary(theta + spec.period)[0], spec.unitary(theta)[0])
    assert not _proportional(spec.unitary(theta + spec.period / 2)[0], spec.unitary(theta)[0])


def test_frequencies_are_the_eigenvalue_differences_of_the_generator():
    for name in PARAMETRIZED:
        eig = np.linalg.eigvalsh(GATES[name].generator)
        diffs = sorted({round(abs(a - b), 12) for a in eig for b in eig} - {0.0})
        assert tuple(diffs) == GATES[name].frequencies, name


@pytest.mark.parametrize("name, kind", [
    ("rz", GateKind.DIAGONAL), ("p", GateKind.DIAGONAL), ("crz", GateKind.DIAGONAL), ("cp", GateKind.DIAGONAL),
    ("rzz", GateKind.DIAGONAL), ("z", GateKind.DIAGONAL), ("s", GateKind.DIAGONAL), ("t", GateKind.DIAGONAL),
    ("cz", GateKind.DIAGONAL), ("id", GateKind.DIAGONAL),
    ("x", GateKind.MONOMIAL), ("y", GateKind.MONOMIAL), ("cx", GateKind.MONOMIAL), ("cy", GateKind.MONOMIAL),
    ("swap", GateKind.MONOMIAL), ("ccx", GateKind.MONOMIAL), ("cswap", GateKind.MONOMIAL),
    ("iswap", GateKind.MONOMIAL),
    ("h", GateKind.GENERAL), ("sx", GateKind.GENERAL), ("ch", GateKind.GENERAL), ("rx", GateKind.GENERAL),
    ("ry", GateKind.GENERAL), ("crx", GateKind.GENERAL), ("cry", GateKind.GENERAL), ("rxx", GateKind.GENERAL),
    ("ryy", GateKind.GENERAL), ("rzx", GateKind.GENERAL), ("sxdg", GateKind.GENERAL), ("ecr", GateKind.GENERAL),
])
def test_kinds(name, kind):
    assert GATES[name].kind is kind


@pytest.mark.parametrize("name", ["rz", "p", "crz", "cp", "rzz"])
def test_diagonal_generator(name, rng):
    spec = GATES[name]
    theta = rng.uniform(-3, 3)
    np.testing.assert_allclose(np.diag(spec.unitary(theta)[0]), np.exp(-1j * theta * spec.diagonal_generator),
                               atol=1e-14)


def test_fixed_gates_are_unitary_and_textbook():
    for name, spec in GATES.items():
        if not spec.parametrized:
            m = spec.unitary()
            np.testing.assert_allclose(m @ m.conj().T, np.eye(len(m)), atol=1e-14, err_msg=name)
    m = {name: GATES[name].unitary() for name in GATES if not GATES[name].parametrized}
    np.testing.assert_allclose(m["sx"] @ m["sx"], m["x"], atol=1e-14)
    np.testing.assert_allclose(m["s"] @ m["s"], m["z"], atol=1e-14)
    np.testing.assert_allclose(m["t"] @ m["t"], m["s"], atol=1e-14)
    np.testing.assert_allclose(m["sdg"], m["s"].conj().T, atol=0)
    np.testing.assert_allclose(m["tdg"], m["t"].conj().T, atol=0)
    np.testing.assert_allclose(m["sxdg"], m["sx"].conj().T, atol=0)
    np.testing.assert_allclose(m["iswap"] @ m["iswap"], np.kron(m["z"], m["z"]), atol=0)
    np.testing.assert_allclose(m["ecr"] @ m["ecr"], np.eye(4), atol=1e-15)  # ECR is its own inverse
    np.testing.assert_allclose(m["h"] @ m["z"] @ m["h"], m["x"], atol=1e-14)
    np.testing.assert_allclose(m["y"], 1j * m["x"] @ m["z"], atol=0)
    assert m["cx"][3, 2] == 1 and m["cx"][2, 2] == 0  # the first qubit is the control (most significant bit)
    np.testing.assert_allclose(m["ccx"][6:, 6:], m["x"], atol=0)
    np.testing.assert_allclose(m["cswap"][4:, 4:], m["swap"], atol=0)


def test_rotations_at_pi():
    np.testing.assert_allclose(GATES["rx"].unitary(np.pi)[0], -1j * GATES["x"].unitary(), atol=1e-15)
    np.testing.assert_allclose(GATES["p"].unitary(np.pi / 2)[0], GATES["s"].unitary(), atol=1e-15)
    np.testing.assert_allclose(GATES["cp"].unitary(np.pi)[0], GATES["cz"].unitary(), atol=1e-15)


@pytest.mark.parametrize("alias, name", [("cnot", "cx"), ("CX", "cx"), ("u1", "p"), ("phase", "p"),
                                         ("cphase", "cp"), ("xx", "rxx"), ("yy", "ryy"), ("zz", "rzz"), ("i", "id"),
                                         ("cu1", "cp"), ("v", "sx"), ("vi", "sxdg"), ("si", "sdg"), ("ti", "tdg"),
                                         ("ccnot", "ccx"), ("phaseshift", "p"), ("cphaseshift", "cp")])
def test_aliases(alias, name):
    assert lookup(alias) is GATES[name]


def test_unknown_gate_lists_the_known_ones():
    with pytest.raises(UnknownGateError) as err:
        lookup("xx_minus_yy", line=4)
    text = str(err.value)
    assert text.startswith("line 4: unknown gate 'xx_minus_yy'") and "crx" in text and "fix:" in text
    assert "xx_plus_yy" in text and "gpi" in text  # the expanded gates are listed too


def test_expand_u2_and_arity():
    assert [(g, a) for g, _, a in expand("u2", (0,), (0.1, 0.2))] == [("rz", 0.2), ("ry", math.pi / 2), ("rz", 0.1)]
    assert expand("cnot", (0, 1), ()) == [("cx", (0, 1), None)]
    with pytest.raises(GateArityError) as err:
        expand("cu", (0, 1), (0.1, 0.2, 0.3), line=9)
    assert err.value.line == 9 and err.value.expected == "2 qubit(s) and 4 angle(s)"
