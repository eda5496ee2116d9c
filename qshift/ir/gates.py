"""The gate table: one registry of every gate qshift knows.

Each entry has the gate's unitary (a closed form, vectorized over a batch of
angles) and, for a parametrized gate, its generator ``G`` with
``U(theta) = exp(-i * theta * G)``. The generator's eigenvalue differences are
the *frequencies* the shift rules need: RX/RY/RZ/P/RZZ have ``{1}``, the
controlled rotations CRX/CRY/CRZ ``{1/2, 1}``.

The chemistry gates are PennyLane's excitations, with PennyLane's matrices (the
first listed qubit is the most significant bit, as everywhere here):
``sexc(theta) a, b`` is ``SingleExcitation``, the rotation ``[[c, -s], [s, c]]``
(``c, s`` of ``theta/2``) on ``|01>, |10>``; ``dexc(theta) a, b, c, d`` is
``DoubleExcitation``, the same rotation on ``|0011>, |1100>``. Both have
frequencies ``{1/2, 1}`` (a four-term rule). Their Plus/Minus forms (``sexcp``,
``sexcm``, ``dexcp``, ``dexcm``) also give every other basis state the phase
``exp(+-i theta/2)``: frequency ``{1}``, a two-term rule. Providers without these
gates get :func:`decomposition`, exact up to a global phase.

Qiskit's extra gates follow Qiskit's matrices (``Operator(gate).reverse_qargs()``, since
Qiskit is little-endian): ``rzx(theta) a, b`` is ``exp(-i theta/2 Z_a X_b)`` (frequency
``{1}``); ``ecr``, ``iswap`` and ``sxdg`` are fixed gates (``iswap`` a monomial).
``cu1`` is ``cp``, and Braket's names are aliases (``v`` = ``sx``, ``vi`` = ``sxdg``,
``si``, ``ti``, ``ccnot``, ``phaseshift``, ``cphaseshift``).

Gates with several angles, or whose angle does not enter as ``exp(-i theta G)``, are not
entries: they are *expanded* into shiftable one-angle gates by :func:`expand`, so that every
angle the planner shifts belongs to a gate with a known shift rule. These are OpenQASM's
``u3``, ``u2``, ``cu``, Qiskit's ``r``, ``cu3`` and ``xx_plus_yy``, IonQ's ``gpi``, ``gpi2``
and ``ms`` and IQM's ``prx`` (both with Braket's matrices); see :func:`expand`.

Example:
    >>> import numpy as np
    >>> spec = GATES["rx"]
    >>> spec.frequencies
    (1.0,)
    >>> np.allclose(spec.unitary(np.array([np.pi]))[0], [[0, -1j], [-1j, 0]])
    True
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

import numpy as np

from qshift._errors import GateArityError, UnknownGateError

__all__ = ["GATES", "GateKind", "GateSpec", "decomposition", "expand", "lookup"]

_I2 = np.eye(2, dtype=complex)
_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
_Z = np.diag([1.0, -1.0]).astype(complex)
_H = np.array([[1, 1], [1, -1]], dtype=complex) / math.sqrt(2)
_P1 = np.diag([0.0, 1.0]).astype(complex)  # |1><1|
_P0 = np.diag([1.0, 0.0]).astype(complex)


class GateKind(enum.Enum):
    """How the simulator applies a gate."""

    MONOMIAL = "monomial"  # one nonzero per column: an index move times phases (X, CX, SWAP, S, CZ ...)
    DIAGONAL = "diagonal"  # diagonal for every angle: a phase multiplication (RZ, P, RZZ, CRZ ...)
    GENERAL = "general"


@dataclass(frozen=True)
class GateSpec:
    """One gate of the table.

    Attributes:
        name: canonical lower-case name.
        n_qubits: how many qubits it acts on (the first listed is the most significant
            bit of the matrix index).
        parametrized: whether it takes one angle.
        generator: for a parametrized gate, ``G`` with ``U(theta) = exp(-i theta G)``.
        kind: how the simulator applies it.
        frequencies: the distinct positive eigenvalue differences of ``G``, sorted.
        period: ``2*pi / gcd(frequencies)``: shifts are folded modulo this.
    """

    name: str
    n_qubits: int
    parametrized: bool
    matrix: np.ndarray | None = None
    generator: np.ndarray | None = None
    closed_form: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    kind: GateKind = GateKind.GENERAL
    frequencies: tuple[float, ...] = ()
    period: float = 2 * math.pi

    def unitary(self, theta: np.ndarray | float | None = None) -> np.ndarray:
        """The unitary: ``(d, d)`` for a fixed gate, ``(B, d, d)`` for an angle array ``(B,)``."""
        if not self.parametrized:
            return self.matrix
        theta = np.atleast_1d(np.asarray(theta, dtype=float))
        return self.closed_form(theta)

    @property
    def diagonal_generator(self) -> np.ndarray:
        """For a diagonal gate, the generator's diagonal ``h`` (``U = diag(exp(-i theta h))``)."""
        return np.real(np.diag(self.generator))


def _frequencies(generator: np.ndarray) -> tuple[tuple[float, ...], float]:
    eig = np.linalg.eigvalsh(generator)
    diffs = {Fraction(float(abs(a - b))).limit_denominator(64) for a in eig for b in eig}
    freqs = sorted(f for f in diffs if f > 0)
    gcd = freqs[0]
    for f in freqs[1:]:
        gcd = Fraction(math.gcd(gcd.numerator * f.denominator, f.numerator * gcd.denominator), gcd.denominator * f.denominator)
    return tuple(float(f) for f in freqs), 2 * math.pi / float(gcd)


def _kind(sample: np.ndarray) -> GateKind:
    nonzero = np.abs(sample) > 1e-12
    if np.array_equal(nonzero, np.eye(len(sample), dtype=bool)):
        return GateKind.DIAGONAL
    if (nonzero.sum(axis=0) == 1).all() and (nonzero.sum(axis=1) == 1).all():
        return GateKind.MONOMIAL
    return GateKind.GENERAL


def _fixed(name: str, matrix: np.ndarray) -> GateSpec:
    matrix = np.asarray(matrix, dtype=complex)
    n = int(round(math.log2(len(matrix))))
    return GateSpec(name, n, False, matrix=matrix, kind=_kind(matrix))


def _rotation(name: str, generator: np.ndarray, closed_form: Callable[[np.ndarray], np.ndarray]) -> GateSpec:
    generator = np.asarray(generator, dtype=complex)
    n = int(round(math.log2(len(generator))))
    freqs, period = _frequencies(generator)
    sample = closed_form(np.array([0.7]))[0]
    return GateSpec(name, n, True, generator=generator, closed_form=closed_form,
                    kind=_kind(sample), frequencies=freqs, period=period)


def _controlled(u: np.ndarray) -> np.ndarray:
    return np.kron(_P0, np.eye(len(u))) + np.kron(_P1, u)


def _batched(theta: np.ndarray, d: int) -> np.ndarray:
    return np.zeros((theta.shape[0], d, d), dtype=complex)


def _rx(t):
    m = _batched(t, 2)
    c, s = np.cos(t / 2), np.sin(t / 2)
    m[:, 0, 0] = m[:, 1, 1] = c
    m[:, 0, 1] = m[:, 1, 0] = -1j * s
    return m


def _ry(t):
    m = _batched(t, 2)
    c, s = np.cos(t / 2), np.sin(t / 2)
    m[:, 0, 0] = m[:, 1, 1] = c
    m[:, 0, 1], m[:, 1, 0] = -s, s
    return m


def _diag(h: np.ndarray):
    h = np.asarray(h, dtype=float)

    def closed_form(t):
        m = _batched(t, len(h))
        idx = np.arange(len(h))
        m[:, idx, idx] = np.exp(-1j * t[:, None] * h[None, :])
        return m

    return closed_form


def _two_axis(first: np.ndarray, second: np.ndarray | None = None):
    """The closed form of ``exp(-i theta/2 first (x) second)`` (``second`` defaults to ``first``)."""
    pp = np.kron(first, first if second is None else second)

    def closed_form(t):
        c, s = np.cos(t / 2), np.sin(t / 2)
        return c[:, None, None] * np.eye(4) - 1j * s[:, None, None] * pp

    return closed_form


def _controlled_form(inner: Callable[[np.ndarray], np.ndarray]):
    def closed_form(t):
        m = _batched(t, 4)
        m[:, 0, 0] = m[:, 1, 1] = 1.0
        m[:, 2:, 2:] = inner(t)
        return m

    return closed_form


def _excitation_generator(d: int, pair: tuple[int, int], outside: float) -> np.ndarray:
    """``Y/2`` on the span of basis states ``pair`` (so ``exp(-i theta G)`` is ``RY(theta)`` there),
    ``outside`` on every other basis state."""
    i, j = pair
    g = outside * np.eye(d, dtype=complex)
    g[i, i] = g[j, j] = 0.0
    g[i, j], g[j, i] = -0.5j, 0.5j
    return g


def _excitation(d: int, pair: tuple[int, int], outside: float):
    """The closed form of :func:`_excitation_generator`'s gate: ``[[c, -s], [s, c]]`` (``c, s`` of
    ``theta/2``) on ``pair``, the phase ``exp(-i theta outside)`` elsewhere."""
    i, j = pair
    others = np.array([k for k in range(d) if k not in pair])

    def closed_form(t):
        m = _batched(t, d)
        m[:, others, others] = np.exp(-1j * outside * t)[:, None]
        c, s = np.cos(t / 2), np.sin(t / 2)
        m[:, i, i] = m[:, j, j] = c
        m[:, i, j], m[:, j, i] = -s, s
        return m

    return closed_form


def _excitations() -> list[GateSpec]:
    """PennyLane's SingleExcitation (``|01>, |10>``) and DoubleExcitation (``|0011>, |1100>``),
    with their Plus (phase ``exp(+i theta/2)`` elsewhere) and Minus (``exp(-i theta/2)``) forms."""
    specs = []
    for name, d, pair in (("sexc", 4, (1, 2)), ("dexc", 16, (3, 12))):
        for suffix, outside in (("", 0.0), ("p", -0.5), ("m", 0.5)):
            specs.append(_rotation(name + suffix, _excitation_generator(d, pair, outside),
                                   _excitation(d, pair, outside)))
    return specs


_RZ_H = np.array([0.5, -0.5])
_P_H = np.array([0.0, -1.0])


def _table() -> dict[str, GateSpec]:
    s = np.diag([1, 1j])
    t = np.diag([1, np.exp(1j * math.pi / 4)])
    sx = np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]]) / 2
    swap = np.eye(4)[[0, 2, 1, 3]]
    ccx = np.eye(8)[[0, 1, 2, 3, 4, 5, 7, 6]]
    cswap = np.eye(8)[[0, 1, 2, 3, 4, 6, 5, 7]]
    iswap = np.array([[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]])
    ecr = (np.kron(_X, _I2) - np.kron(_Y, _X)) / math.sqrt(2)  # Qiskit's ECRGate: (IX - XY)/sqrt 2, little-endian
    specs = [
        _fixed("id", _I2), _fixed("x", _X), _fixed("y", _Y), _fixed("z", _Z), _fixed("h", _H),
        _fixed("s", s), _fixed("sdg", s.conj()), _fixed("t", t), _fixed("tdg", t.conj()), _fixed("sx", sx),
        _fixed("sxdg", sx.conj().T), _fixed("iswap", iswap), _fixed("ecr", ecr),
        _fixed("cx", _controlled(_X)), _fixed("cy", _controlled(_Y)), _fixed("cz", _controlled(_Z)),
        _fixed("ch", _controlled(_H)), _fixed("swap", swap), _fixed("ccx", ccx), _fixed("cswap", cswap),
        _rotation("rx", _X / 2, _rx),
        _rotation("ry", _Y / 2, _ry),
        _rotation("rz", np.diag(_RZ_H), _diag(_RZ_H)),
        _rotation("p", np.diag(_P_H), _diag(_P_H)),
        _rotation("crx", np.kron(_P1, _X / 2), _controlled_form(_rx)),
        _rotation("cry", np.kron(_P1, _Y / 2), _controlled_form(_ry)),
        _rotation("crz", np.diag([0, 0, 0.5, -0.5]), _diag([0, 0, 0.5, -0.5])),
        _rotation("cp", np.diag([0, 0, 0, -1.0]), _diag([0, 0, 0, -1.0])),
        _rotation("rxx", np.kron(_X, _X) / 2, _two_axis(_X)),
        _rotation("ryy", np.kron(_Y, _Y) / 2, _two_axis(_Y)),
        _rotation("rzz", np.diag([0.5, -0.5, -0.5, 0.5]), _diag([0.5, -0.5, -0.5, 0.5])),
        _rotation("rzx", np.kron(_Z, _X) / 2, _two_axis(_Z, _X)),
        *_excitations(),
    ]
    return {spec.name: spec for spec in specs}


GATES: dict[str, GateSpec] = _table()
"""Canonical gate name -> :class:`GateSpec`."""

ALIASES = {"cnot": "cx", "CX": "cx", "phase": "p", "u1": "p", "cphase": "cp", "cu1": "cp", "xx": "rxx",
           "yy": "ryy", "zz": "rzz", "i": "id", "v": "sx", "vi": "sxdg", "si": "sdg", "ti": "tdg", "ccnot": "ccx",
           "phaseshift": "p", "cphaseshift": "cp", "single_excitation": "sexc", "single_excitation_plus": "sexcp",
           "single_excitation_minus": "sexcm", "double_excitation": "dexc", "double_excitation_plus": "dexcp",
           "double_excitation_minus": "dexcm"}
"""Other spellings accepted on input (OpenQASM 3 stdgates, Qiskit and Braket names)."""

MULTI_ANGLE = {"u3": (1, 3), "u": (1, 3), "U": (1, 3), "u2": (1, 2), "cu": (2, 4), "cu3": (2, 3), "r": (1, 2),
               "prx": (1, 2), "xx_plus_yy": (2, 2), "gpi": (1, 1), "gpi2": (1, 1), "ms": (2, 3)}
"""Gates expanded by :func:`expand`: name -> (qubits, angles)."""


def lookup(name: str, *, line: int | None = None) -> GateSpec:
    """The :class:`GateSpec` for ``name`` (aliases accepted), or :class:`UnknownGateError`."""
    canonical = ALIASES.get(name, name)
    if canonical in GATES:
        return GATES[canonical]
    known = sorted(set(GATES) | set(ALIASES) | set(MULTI_ANGLE))
    raise UnknownGateError(
        f"unknown gate {name!r}",
        expected="one of " + ", ".join(known),
        received=repr(name),
        fix="use a gate from the OpenQASM 3 stdgates.inc set, one of Qiskit's (rxx, rzx, ecr, iswap, r, "
            "xx_plus_yy ...) or Braket's (gpi, gpi2, ms, prx, v ...), or the excitations sexc/dexc; "
            "or decompose it into those",
        line=line,
    )


def arity(name: str) -> tuple[int, int]:
    """(number of qubits, number of angles) that gate ``name`` takes as written."""
    if name in MULTI_ANGLE:
        return MULTI_ANGLE[name]
    spec = lookup(name)
    return spec.n_qubits, int(spec.parametrized)


def expand(name: str, qubits: tuple[int, ...], angles: tuple, *, line: int | None = None) -> list[tuple[str, tuple[int, ...], object]]:
    """Rewrite one gate as a list of ``(canonical name, qubits, angle or None)`` one-angle gates.

    Angles are opaque here except that they support negation, ``*`` and ``/`` by numbers and ``+``
    of numbers (the circuit's affine angles do); a constant is a float. A symbol may feed several
    of the gates (``r``'s ``phi`` feeds two ``rz``), each a slot with its own shift rule.

    In time order (first listed qubit ``a``, second ``b``; ``c, t`` control and target):

    * ``u3(theta, phi, lam)`` (also ``u``, ``U``): ``rz(lam); ry(theta); rz(phi)``, up to a global phase;
      ``u2(phi, lam)`` is ``u3(pi/2, phi, lam)``.
    * ``cu3(theta, phi, lam) c, t`` (Qiskit's CU3Gate): ``p(phi/2) c; p(lam/2) c; crz(lam); cry(theta);
      crz(phi)``, exact; ``cu(theta, phi, lam, gamma)`` is ``p(gamma) c`` then ``cu3(theta, phi, lam)``.
    * ``r(theta, phi)`` (Qiskit's RGate) and ``prx(theta, phi)`` (Braket's PRx, IQM):
      ``rz(-phi); rx(theta); rz(phi)``, exact.
    * ``xx_plus_yy(theta, beta) a, b`` (Qiskit's XXPlusYYGate): ``rz(beta) a; rxx(theta/2) a, b;
      ryy(theta/2) a, b; rz(-beta) a``, exact.
    * ``gpi(phi)`` (Braket's GPi, IonQ): ``rz(-2*phi); x``, exact (one slot);
      ``gpi2(phi)`` (GPi2) is ``r(pi/2, phi)``, exact.
    * ``ms(phi0, phi1, theta) a, b`` (Braket's MS, IonQ): ``rz(-phi0) a; rz(-phi1) b; rxx(theta) a, b;
      rz(phi0) a; rz(phi1) b``, exact.

    ``u3``'s matrix is ``exp(i (phi+lam)/2)`` times its expansion: a global phase, which the controlled
    forms ``cu`` and ``cu3`` keep as the phase ``p`` on the control. Braket's ``ms``
    takes its third angle ``theta`` (Braket's default ``pi/2``) explicitly, as Braket writes it.

    Example:
        >>> [op[0] for op in expand("u3", (0,), (0.1, 0.2, 0.3))]
        ['rz', 'ry', 'rz']
        >>> expand("gpi", (2,), (0.25,))
        [('rz', (2,), -0.5), ('x', (2,), None)]
    """
    n_qubits, n_angles = arity(name)
    if len(qubits) != n_qubits or len(angles) != n_angles:
        raise GateArityError(
            f"gate {name!r} applied with {len(qubits)} qubit(s) and {len(angles)} angle(s)",
            expected=f"{n_qubits} qubit(s) and {n_angles} angle(s)",
            received=f"{len(qubits)} qubit(s) {list(qubits)} and {len(angles)} angle(s)",
            fix=f"write {name}" + (f"({', '.join(['a'] * n_angles)})" if n_angles else "")
            + " " + ", ".join(f"q[{i}]" for i in range(n_qubits)),
            line=line,
        )
    if len(set(qubits)) != len(qubits):
        raise GateArityError(
            f"gate {name!r} applied to the same qubit twice",
            expected="distinct qubits", received=str(list(qubits)), fix="use different qubits", line=line,
        )
    if name not in MULTI_ANGLE:
        return [(lookup(name).name, tuple(qubits), angles[0] if angles else None)]
    return _EXPANSIONS[name](tuple(qubits), tuple(angles))


_Expanded = list[tuple[str, tuple[int, ...], object]]


def _u3(q: tuple[int, ...], angles: tuple) -> _Expanded:
    theta, phi, lam = angles
    return [("rz", q, lam), ("ry", q, theta), ("rz", q, phi)]


def _u2(q: tuple[int, ...], angles: tuple) -> _Expanded:
    phi, lam = angles
    return _u3(q, (math.pi / 2, phi, lam))


def _cu3(q: tuple[int, ...], angles: tuple) -> _Expanded:
    """``|0><0| (x) I + |1><1| (x) U3``: ``U3 = exp(i (phi+lam)/2) RZ(phi) RY(theta) RZ(lam)``, whose phase
    the control keeps."""
    theta, phi, lam = angles
    c = q[:1]
    return [("p", c, phi / 2), ("p", c, lam / 2), ("crz", q, lam), ("cry", q, theta), ("crz", q, phi)]


def _cu(q: tuple[int, ...], angles: tuple) -> _Expanded:
    theta, phi, lam, gamma = angles
    return [("p", q[:1], gamma)] + _cu3(q, (theta, phi, lam))


def _r(q: tuple[int, ...], angles: tuple) -> _Expanded:
    """``exp(-i theta/2 (cos(phi) X + sin(phi) Y)) = RZ(phi) RX(theta) RZ(-phi)``."""
    theta, phi = angles
    return [("rz", q, -phi), ("rx", q, theta), ("rz", q, phi)]


def _xx_plus_yy(q: tuple[int, ...], angles: tuple) -> _Expanded:
    """``RZ_a(-beta) exp(-i theta/4 (XX + YY)) RZ_a(beta)``; ``XX`` and ``YY`` commute."""
    theta, beta = angles
    a = q[:1]
    return [("rz", a, beta), ("rxx", q, theta / 2), ("ryy", q, theta / 2), ("rz", a, -beta)]


def _gpi(q: tuple[int, ...], angles: tuple) -> _Expanded:
    """``[[0, exp(-i phi)], [exp(i phi), 0]] = X RZ(-2 phi)``: one slot."""
    (phi,) = angles
    return [("rz", q, -2 * phi), ("x", q, None)]


def _gpi2(q: tuple[int, ...], angles: tuple) -> _Expanded:
    (phi,) = angles
    return _r(q, (math.pi / 2, phi))


def _ms(q: tuple[int, ...], angles: tuple) -> _Expanded:
    """``(RZ(phi0) (x) RZ(phi1)) RXX(theta) (RZ(-phi0) (x) RZ(-phi1))``."""
    phi0, phi1, theta = angles
    a, b = q[:1], q[1:]
    return [("rz", a, -phi0), ("rz", b, -phi1), ("rxx", q, theta), ("rz", a, phi0), ("rz", b, phi1)]


_EXPANSIONS = {"u3": _u3, "u": _u3, "U": _u3, "u2": _u2, "cu": _cu, "cu3": _cu3, "r": _r, "prx": _r,
               "xx_plus_yy": _xx_plus_yy, "gpi": _gpi, "gpi2": _gpi2, "ms": _ms}


# -- decompositions for providers without a gate ---------------------------------------------------

_Piece = tuple[str, tuple[int, ...], "float | None"]  # (gate, positions among the gate's qubits, angle scale)

_DOUBLE_EXCITATION: tuple[_Piece, ...] = tuple(
    # PennyLane's DoubleExcitation.compute_decomposition (arXiv:2104.05695, p. 17, upside down)
    (g, q, a) for g, q, a in (
        ("cx", (2, 3), None), ("cx", (0, 2), None), ("h", (3,), None), ("h", (0,), None),
        ("cx", (2, 3), None), ("cx", (0, 1), None), ("ry", (1,), 1 / 8), ("ry", (0,), -1 / 8),
        ("cx", (0, 3), None), ("h", (3,), None), ("cx", (3, 1), None), ("ry", (1,), 1 / 8),
        ("ry", (0,), -1 / 8), ("cx", (2, 1), None), ("cx", (2, 0), None), ("ry", (1,), -1 / 8),
        ("ry", (0,), 1 / 8), ("cx", (3, 1), None), ("h", (3,), None), ("cx", (0, 3), None),
        ("ry", (1,), -1 / 8), ("ry", (0,), 1 / 8), ("cx", (0, 1), None), ("cx", (2, 0), None),
        ("h", (0,), None), ("h", (3,), None), ("cx", (0, 2), None), ("cx", (2, 3), None),
    ))


def _pair_phase(scale: float) -> tuple[_Piece, ...]:
    """The phase ``exp(i * scale * theta)`` on ``|0011>`` and ``|1100>`` of four qubits: CNOTs move
    the pair to ``b=0, c=1, d=0`` (``a`` free), where a doubly controlled phase on ``(not b, c, not d)``
    (textbook, from ``cp``) marks it; then the CNOTs are undone."""
    move = (("cx", (2, 3), None), ("cx", (0, 1), None), ("cx", (0, 2), None))
    flip = (("x", (1,), None), ("x", (3,), None))
    ccp = (("cp", (2, 3), scale / 2), ("cx", (1, 2), None), ("cp", (2, 3), -scale / 2), ("cx", (1, 2), None),
           ("cp", (1, 3), scale / 2))
    return move + flip + ccp + flip + move[::-1]


_SINGLE_EXCITATION: tuple[_Piece, ...] = (("cx", (0, 1), None), ("cry", (1, 0), 1.0), ("cx", (0, 1), None))

_DECOMPOSITIONS: dict[str, tuple[_Piece, ...]] = {
    "rzx": (("h", (1,), None), ("rzz", (0, 1), 1.0), ("h", (1,), None)),  # H X H = Z: exact
    "sexc": _SINGLE_EXCITATION,
    # the phase exp(+- i theta/2) off the pair is, up to a global phase, rzz(-+theta/2)
    "sexcp": _SINGLE_EXCITATION + (("rzz", (0, 1), -0.5),),
    "sexcm": _SINGLE_EXCITATION + (("rzz", (0, 1), 0.5),),
    "dexc": _DOUBLE_EXCITATION,
    # up to the global phase exp(+- i theta/2), the pair gets exp(-+ i theta/2) instead
    "dexcp": _DOUBLE_EXCITATION + _pair_phase(-0.5),
    "dexcm": _DOUBLE_EXCITATION + _pair_phase(0.5),
}


def decomposition(name: str, qubits: tuple[int, ...], *,
                  keep: frozenset[str] = frozenset()) -> list[tuple[str, tuple[int, ...], float | None]]:
    """Gate ``name`` on ``qubits`` as gates of the table that every provider has.

    Returns ``(gate, qubits, scale)`` triples in time order; a parametrized piece takes the angle
    ``scale * theta`` (``None`` for a fixed gate). Exact up to a global phase. The excitation
    gates become CNOTs, ``cry``, ``ry``, ``h``, ``x``, ``cp`` and ``rzz``; ``rzx`` becomes
    ``h; rzz; h`` (exactly); every other gate, and every gate named in ``keep`` (those the
    provider has), is its own decomposition.

    Example:
        >>> decomposition("sexc", (3, 5))
        [('cx', (3, 5), None), ('cry', (5, 3), 1.0), ('cx', (3, 5), None)]
        >>> decomposition("rx", (0,))
        [('rx', (0,), 1.0)]
        >>> decomposition("rzx", (0, 1), keep=frozenset({"rzx"}))
        [('rzx', (0, 1), 1.0)]
    """
    spec = lookup(name)
    if spec.name not in _DECOMPOSITIONS or spec.name in keep:
        return [(spec.name, tuple(qubits), 1.0 if spec.parametrized else None)]
    return [(g, tuple(qubits[k] for k in positions), scale) for g, positions, scale in _DECOMPOSITIONS[spec.name]]
