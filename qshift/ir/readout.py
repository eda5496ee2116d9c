"""Readout errors of the tensored model, and their exact correction on Pauli observables.

A device that reads qubit ``q`` wrongly with probabilities ``e0 = P(read 1 | 0)`` and
``e1 = P(read 0 | 1)``, independently on every qubit (the *tensored* model), turns the parity
``z = (-1)^bit`` of a qubit in state ``b`` into a measured one with conditional mean

    ``E[z_measured | b] = a + c * (-1)^b``,  offset ``a = e1 - e0``, contrast ``c = 1 - e0 - e1``.

A Pauli product ``P`` on qubits ``S`` is measured (after its basis rotations) as the product of
the measured parities, and because the qubits are read independently,

    ``<P>_measured = sum_{T in S} prod_{q in S - T} a_q  prod_{q in T} c_q  <P|_T>``     (:meth:`TensoredReadout.noisy`)

where ``P|_T`` keeps ``P``'s factors on ``T`` (``P|_{}`` is the identity). The per-shot
estimator ``prod_{q in S} (z_q - a_q) / c_q`` has mean ``<P>`` exactly, and expands into
measured sub-products:

    ``<P> = (1 / prod_{q in S} c_q)  sum_{T in S} prod_{q in S - T} (-a_q)  <P|_T>_measured``   (:meth:`TensoredReadout.corrected`)

So the correction of a Pauli product, or of a Hamiltonian term by term, is again a weighted
sum of Pauli products: measured from the same shots as the term itself (its sub-products
commute qubit-wise with it), the device's own weighted-output estimate gives its value and
a variance that holds the covariance of the sub-products (:func:`corrected_circuit`).
With symmetric errors (``a = 0``) only ``T = S`` survives: the familiar division by
``prod c_q``; with asymmetric ones the offsets bring in the lower sub-products.

Calibration: preparing ``|0...0>`` and ``|1...1>`` (:func:`calibration_circuits`) and
measuring every ``Z_q`` gives ``m0_q = c_q + a_q`` and ``m1_q = a_q - c_q``, so
``a = (m0 + m1) / 2`` and ``c = (m0 - m1) / 2`` (:meth:`TensoredReadout.from_calibration`).

Example:
    >>> r = TensoredReadout.from_errors([0.02, 0.02], [0.05, 0.05])
    >>> noisy = r.noisy(PauliString.parse("Z0 Z1"))     # c = 0.93, a = 0.03
    >>> [(round(w, 6), str(p)) for w, p in noisy.terms], round(noisy.constant, 6)
    ([(0.0279, 'Z0'), (0.0279, 'Z1'), (0.8649, 'Z0 Z1')], 0.0009)
    >>> exact = {"Z0 Z1": 0.3, "Z0": 0.6, "Z1": -0.2}      # <Z0 Z1>, <Z0>, <Z1> of some state
    >>> measured = {p: sum(w * exact[str(q)] for w, q in r.noisy(PauliString.parse(p)).terms)
    ...             + r.noisy(PauliString.parse(p)).constant for p in exact}
    >>> fix = r.corrected(PauliString.parse("Z0 Z1"))
    >>> round(sum(w * measured[str(q)] for w, q in fix.terms) + fix.constant, 12)
    0.3
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from qshift._errors import RequestError
from qshift.ir.circuit import Circuit, CircuitBuilder
from qshift.ir.grouping import group_shots, measurement_groups
from qshift.ir.pauli import Observable, PauliString, PauliSum

__all__ = ["Correction", "TensoredReadout", "calibration_circuits", "corrected_circuit"]

MAX_SUPPORT = 14
"""Most qubits one Pauli product may act on for an exact correction (it expands into ``2**k`` products)."""

_IDENTITY = PauliString(())


@dataclass(frozen=True)
class TensoredReadout:
    """Per-qubit readout errors as offsets ``a_q = e1_q - e0_q`` and contrasts ``c_q = 1 - e0_q - e1_q``.

    Attributes:
        offset: ``a_q`` for each qubit ``0, 1, ...``.
        contrast: ``c_q`` for each qubit (must not be 0: a qubit read at random cannot be corrected).
    """

    offset: tuple[float, ...]
    contrast: tuple[float, ...]

    @classmethod
    def from_errors(cls, p1_given_0, p0_given_1) -> "TensoredReadout":
        """From the flip probabilities ``P(read 1 | 0)`` and ``P(read 0 | 1)`` of each qubit."""
        e0, e1 = np.asarray(p1_given_0, dtype=float), np.asarray(p0_given_1, dtype=float)
        return cls(tuple((e1 - e0).tolist()), tuple((1.0 - e0 - e1).tolist()))

    @classmethod
    def from_calibration(cls, m0, m1) -> "TensoredReadout":
        """From the measured ``<Z_q>`` with every qubit prepared in ``0`` (``m0``) and in ``1`` (``m1``).

        Example:
            >>> r = TensoredReadout.from_calibration([0.96], [-0.9])
            >>> round(r.offset[0], 6), round(r.contrast[0], 6), round(float(r.p1_given_0[0]), 6)
            (0.03, 0.93, 0.02)
        """
        m0, m1 = np.asarray(m0, dtype=float), np.asarray(m1, dtype=float)
        contrast = (m0 - m1) / 2.0
        if np.any(np.abs(contrast) < 1e-9):
            q = int(np.argmin(np.abs(contrast)))
            raise RequestError(f"qubit {q} reads 0 and 1 alike: its readout cannot be corrected",
                               expected="a calibration where |0> and |1> read differently (contrast > 0)",
                               received=f"<Z{q}> = {m0[q]:.4f} prepared 0, {m1[q]:.4f} prepared 1",
                               fix="check the device, or calibrate with more shots")
        return cls(tuple(((m0 + m1) / 2.0).tolist()), tuple(contrast.tolist()))

    @property
    def p1_given_0(self) -> np.ndarray:
        """``e0_q = (1 - a_q - c_q) / 2``."""
        return (1.0 - np.asarray(self.offset) - np.asarray(self.contrast)) / 2.0

    @property
    def p0_given_1(self) -> np.ndarray:
        """``e1_q = (1 + a_q - c_q) / 2``."""
        return (1.0 + np.asarray(self.offset) - np.asarray(self.contrast)) / 2.0

    def noisy(self, observable: Observable) -> PauliSum:
        """What a device with these readout errors reports for ``observable``, as a sum of exact expectations."""
        return _sum(_expand(self, observable, inverse=False)[0])

    def corrected(self, observable: Observable) -> PauliSum:
        """The sum of *measured* expectations whose value is ``observable``'s exact expectation."""
        return _sum(_expand(self, observable, inverse=True)[0])

    def corrected_gradient(self, observable: Observable) -> tuple[dict, list[dict], list[dict]]:
        """The correction and its derivatives in every ``a_q`` and ``c_q``, as ``{PauliString: coefficient}``
        maps (the identity ``PauliString(())`` carries the constant)."""
        return _expand(self, observable, inverse=True, gradient=True)


def _terms(observable: Observable) -> list[tuple[float, PauliString]]:
    if isinstance(observable, PauliSum):
        return list(observable.terms) + ([(observable.constant, _IDENTITY)] if observable.constant else [])
    return [(1.0, observable)]


def _expand(model: TensoredReadout, observable: Observable, *, inverse: bool, gradient: bool = False):
    """The map of :meth:`TensoredReadout.noisy` or ``corrected`` (and its derivatives) term by term."""
    a, c = model.offset, model.contrast
    n = len(a)
    value: dict[PauliString, float] = {}
    da = [dict() for _ in range(n)] if gradient else []
    dc = [dict() for _ in range(n)] if gradient else []
    for w, pauli in _terms(observable):
        support = pauli.qubits
        if support and max(support) >= n:
            raise RequestError(f"the readout model covers {n} qubit(s) and {pauli} acts on qubit {max(support)}",
                               expected=f"qubits below {n}", received=str(pauli),
                               fix="calibrate as many qubits as the circuit has")
        if len(support) > MAX_SUPPORT:
            raise RequestError(f"readout correction of {pauli} would expand into 2**{len(support)} products",
                               expected=f"Pauli products on at most {MAX_SUPPORT} qubits",
                               received=f"{len(support)} qubits", fix="measure shorter Pauli products")
        scale = w / math.prod(c[q] for q in support) if inverse else w
        factors = dict(pauli.factors)
        for k in range(len(support) + 1):
            for kept in combinations(support, k):
                rest = [q for q in support if q not in kept]
                sub = PauliString(tuple((q, factors[q]) for q in kept))
                if inverse:
                    coef = scale * math.prod(-a[q] for q in rest)
                else:
                    coef = w * math.prod(a[q] for q in rest) * math.prod(c[q] for q in kept)
                value[sub] = value.get(sub, 0.0) + coef
                if gradient:
                    for q in rest:  # coef is affine in a_q: d/da_q replaces (-a_q) by -1
                        d = -scale * math.prod(-a[r] for r in rest if r != q)
                        da[q][sub] = da[q].get(sub, 0.0) + d
                    for q in support:
                        dc[q][sub] = dc[q].get(sub, 0.0) - coef / c[q]
    return value, da, dc


def _sum(mapping: dict[PauliString, float]) -> PauliSum:
    constant = mapping.get(_IDENTITY, 0.0)
    return PauliSum(tuple((float(w), p) for p, w in mapping.items() if p.factors and w != 0.0), float(constant))


def calibration_circuits(n_qubits: int) -> tuple[Circuit, Circuit]:
    """The two assignment-calibration circuits of the tensored model: every qubit in ``0``, every qubit in ``1``.

    Each measures ``Z_q`` on every qubit (one output per qubit, one measurement group).

    Example:
        >>> zero, one = calibration_circuits(2)
        >>> [op.gate for op in one.operations], [str(o) for o in one.outputs], zero.n_slots
        (['x', 'x'], ['Z0', 'Z1'], 0)
    """
    zero, one = CircuitBuilder(n_qubits, name=f"readout-0-{n_qubits}q"), CircuitBuilder(n_qubits, name=f"readout-1-{n_qubits}q")
    for q in range(n_qubits):
        one.x(q)
        zero.expectation(f"Z{q}")
        one.expectation(f"Z{q}")
    return zero.build(), one.build()


@dataclass(frozen=True, eq=False)
class Correction:
    """A circuit whose outputs are readout-corrected, and how to read the calibration's influence.

    Attributes:
        circuit: the measured circuit: its first ``n_outputs`` outputs are the original's,
            corrected (:meth:`TensoredReadout.corrected`); the others are the raw measured
            sub-products ``products`` (for the sensitivities). Its measurement groups are the
            original's (each sub-product read with a term it divides) and its shots are split
            over them as the original's are, so it runs the same executions and shots.
        n_outputs: the original's outputs.
        products: the sub-products measured raw, in output order after the corrected ones.
        d_offset, d_contrast: ``(n_qubits, n_outputs, 1 + len(products))``: the derivative of each
            corrected output in ``a_q`` and ``c_q``, as coefficients of ``(1, raw products...)``.
    """

    circuit: Circuit
    n_outputs: int
    products: tuple[PauliString, ...]
    d_offset: np.ndarray
    d_contrast: np.ndarray

    def split(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(corrected outputs, raw products with a leading column of ones)`` of values ``(P, outputs)``."""
        values = np.asarray(values, dtype=float)
        raw = np.concatenate([np.ones((len(values), 1)), values[:, self.n_outputs:]], axis=1)
        return values[:, :self.n_outputs], raw

    def sensitivities(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``d(corrected outputs) / d a_q`` and ``/ d c_q`` at each row: two ``(n_qubits, P, n_outputs)`` arrays."""
        _, raw = self.split(values)
        return np.einsum("qok,pk->qpo", self.d_offset, raw), np.einsum("qok,pk->qpo", self.d_contrast, raw)


def corrected_circuit(circuit: Circuit, model: TensoredReadout) -> Correction:
    """``circuit`` with every output replaced by its readout correction (see :class:`Correction`).

    Example:
        >>> import qshift
        >>> c = qshift.CircuitBuilder(2).h(0).expectation("Z0 Z1").expectation("X0").build()
        >>> fix = corrected_circuit(c, TensoredReadout.from_errors([0.02, 0.01], [0.05, 0.03]))
        >>> [str(o) for o in fix.circuit.outputs][2:], len(measurement_groups(fix.circuit))
        (['Z0', 'Z1', 'Z0 Z1', 'X0'], 2)
    """
    n = circuit.n_qubits
    parts = [model.corrected_gradient(out) for out in circuit.outputs]
    products: dict[PauliString, None] = {}
    for value, _, _ in parts:
        products.update((p, None) for p in value if p.factors)
    index = {p: k + 1 for k, p in enumerate(products)}
    d_offset = np.zeros((n, len(parts), len(products) + 1))
    d_contrast = np.zeros_like(d_offset)
    for o, (_, da, dc) in enumerate(parts):
        for q in range(n):
            for p, w in da[q].items():
                d_offset[q, o, index.get(p, 0)] += w
            for p, w in dc[q].items():
                d_contrast[q, o, index.get(p, 0)] += w
    outputs = tuple(_sum(value) for value, _, _ in parts) + tuple(products)
    fixed = Circuit(n, circuit.operations, outputs, circuit.symbols, name=f"{circuit.name}-readout")
    groups, shares = _groups_of(circuit, fixed.terms)
    fixed = dataclasses.replace(fixed, term_groups=groups, group_weights=shares)
    return Correction(fixed, circuit.n_outputs, tuple(products), d_offset, d_contrast)


def _groups_of(circuit: Circuit, terms) -> tuple[tuple[tuple[int, ...], ...], tuple[float, ...]]:
    """The original's measurement groups over ``terms`` (each term in the first group whose basis reads it)
    and the original's split of the shots over them, as weights (a group left empty is dropped)."""
    groups = measurement_groups(circuit)
    big = 1 << 40
    shares = group_shots(circuit, big).astype(float) / big
    bases = [dict(g.basis) for g in groups]
    members: list[list[int]] = [[] for _ in groups]
    for t, pauli in enumerate(terms):
        g = next(i for i, basis in enumerate(bases) if all(basis.get(q) == p for q, p in pauli.factors))
        members[g].append(t)
    kept = [g for g, m in enumerate(members) if m]
    return tuple(tuple(members[g]) for g in kept), tuple(float(shares[g]) for g in kept)
