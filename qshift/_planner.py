"""The planner: which shifted circuits a derivative request needs, and how to combine them.

``make_plan(circuit, orders)`` returns a :class:`Plan` for one row of base
angles: the distinct *points* (shift patterns over the slots) and, for every
requested order, a sparse linear map from the points' values to the unique
entries of the derivative tensor. Rows repeat the same template.

How an entry is built. A derivative with respect to symbols ``(i_1..i_k)``
is, by the chain rule, a sum over slot tuples ``(s_1..s_k)`` with
``symbol(s_j) = i_j`` of ``prod a_{s_j}`` times the slot derivative — the
``a`` of ``a * symbol + b``, and every slot a tied symbol feeds. A slot
derivative is the tensor product of one-slot stencils (:mod:`qshift._rules`)
for the multiplicity of each slot.

How points merge. A point's key is the sorted tuple of ``(slot, folded
multiple)`` with nonzero multiples — exact integers, never a float comparison
of angles, and two slots that merely hold equal angles are different keys.
A point that the value, the gradient and the Hessian all need is one point.

Example:
    >>> import qshift
    >>> c = qshift.hardware_efficient(2, 1)          # 4 symbols, one slot each
    >>> p = make_plan(c, (0, 1, 2))
    >>> p.points_per_row, 2 * 4 ** 2 + 4 + 1
    (37, 37)
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ._circuit import Circuit
from ._errors import RequestError
from ._rules import Stencil, first_order, stencil

__all__ = ["Plan", "make_plan"]

PointKey = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class OrderMap:
    """The sparse map from point values to the unique entries of one derivative order.

    ``entry = sum(coefficient * value[point])`` over the terms of that entry. Entries are the
    sorted symbol multi-indices (``itertools.combinations_with_replacement`` order).
    """

    order: int
    entries: np.ndarray  # (E, order) symbol multi-indices, sorted within each row
    entry_index: np.ndarray  # (T,) entry of each term, ascending
    point_index: np.ndarray  # (T,) point of each term
    coefficients: np.ndarray  # (T,)

    @property
    def n_terms(self) -> int:
        return len(self.coefficients)

    def unmerged_points(self) -> int:
        """Points this order needs if every entry ran its own stencil (no sharing between entries)."""
        return int(len(self.point_index))


@dataclass(frozen=True)
class Plan:
    """What a derivative request will run, inspectable before anything runs.

    Attributes:
        circuit: the circuit.
        orders: the derivative orders requested, ascending (0 is the value).
        wrt: indices of the symbols differentiated.
        shift: the shift parameter ``s`` (``None``: the default ``pi/2``).
        keys: the distinct points of one row (``()`` is the unshifted circuit).
        shifts: ``(points_per_row, n_slots)`` angle shift of every point.
        maps: one :class:`OrderMap` per order.
        rows: how many rows of base angles the plan serves.
    """

    circuit: Circuit
    orders: tuple[int, ...]
    wrt: tuple[int, ...]
    shift: float | None
    keys: tuple[PointKey, ...]
    shifts: np.ndarray = field(repr=False)
    maps: tuple[OrderMap, ...] = field(repr=False)
    rows: int = 1

    # -- counts -----------------------------------------------------------------------------------
    @property
    def points_per_row(self) -> int:
        return len(self.keys)

    @property
    def circuits(self) -> int:
        """Distinct circuits the request runs (before any cache hits)."""
        return self.points_per_row * self.rows

    @property
    def naive_circuits(self) -> int:
        """Circuits a naive nested recursion runs: each order applies the first-order rule of every
        slot to every point of the order below, nothing merged or reused."""
        per_level = sum(len(first_order(self._frequencies(s), self.shift).terms) for s in self._slots())
        return self.rows * sum(per_level ** k for k in range(max(self.orders) + 1))

    @property
    def unmerged_circuits(self) -> int:
        """Circuits if every tensor entry ran its own (merged) stencil, sharing nothing between entries."""
        return self.rows * sum(m.unmerged_points() for m in self.maps)

    def with_rows(self, rows: int) -> "Plan":
        return Plan(self.circuit, self.orders, self.wrt, self.shift, self.keys, self.shifts, self.maps, rows)

    def _slots(self) -> list[int]:
        wrt = set(self.wrt)
        return [s for s in range(self.circuit.n_slots) if self.circuit.slot_symbol[s] in wrt]

    def _frequencies(self, slot: int) -> tuple[float, ...]:
        return self.circuit.operations[self.circuit.slot_operations[slot]].spec.frequencies

    # -- points and contraction ------------------------------------------------------------------
    def points(self, base: np.ndarray) -> np.ndarray:
        """Slot angles of every point: ``base`` ``(rows, n_slots)`` -> ``(rows * points_per_row, n_slots)``,
        row-major (all points of row 0 first)."""
        return (base[:, None, :] + self.shifts[None, :, :]).reshape(-1, self.circuit.n_slots)

    def contract(self, values: np.ndarray, variances: np.ndarray | None = None) -> tuple[dict, dict | None]:
        """Point values ``(rows * points_per_row, n_out)`` -> ``{order: (rows, n_out) + (n_wrt,) * order}``.

        With ``variances`` (of the point estimates), also the variance of every entry, assuming
        independent points: ``sum(coefficient**2 * variance)``.
        """
        rows, n_out = values.shape[0] // self.points_per_row, values.shape[1]
        tensors = {m.order: self._contract_order(m, values, rows, n_out, square=False) for m in self.maps}
        if variances is None:
            return tensors, None
        var = {m.order: self._contract_order(m, variances, rows, n_out, square=True) for m in self.maps}
        return tensors, var

    def _contract_order(self, m: OrderMap, values: np.ndarray, rows: int, n_out: int, square: bool) -> np.ndarray:
        per_point = values.reshape(rows, self.points_per_row, n_out).transpose(1, 0, 2).reshape(self.points_per_row, -1)
        coeff = m.coefficients ** 2 if square else m.coefficients
        contrib = coeff[:, None] * per_point[m.point_index]
        unique = np.zeros((len(m.entries), per_point.shape[1]))
        if m.n_terms:
            starts = np.flatnonzero(np.r_[True, m.entry_index[1:] != m.entry_index[:-1]])
            unique[m.entry_index[starts]] = np.add.reduceat(contrib, starts, axis=0)
        unique = unique.reshape(len(m.entries), rows, n_out).transpose(1, 2, 0)
        full = unique[..., _symmetric_index(len(self.wrt), m.order)]
        return full.reshape((rows, n_out) + (len(self.wrt),) * m.order)

    def summary(self) -> str:
        """One line of counts: circuits planned, naive and unmerged."""
        return (f"{self.circuits} circuits for orders {list(self.orders)} of {len(self.wrt)} symbols"
                f" x {self.rows} row(s) (naive nesting: {self.naive_circuits}, per-entry: {self.unmerged_circuits})")

    def _repr_html_(self) -> str:
        return f"<b>Plan</b>: {self.summary()}"


@lru_cache(maxsize=32)
def _symmetric_index(n: int, order: int) -> np.ndarray:
    """For every full multi-index (row-major over ``(n,) * order``), its unique sorted entry's position."""
    if order == 0:
        return np.zeros(1, dtype=np.intp)
    full = np.indices((n,) * order).reshape(order, -1).T
    full.sort(axis=1)
    code = np.zeros(len(full), dtype=np.int64)
    for col in range(order):
        code = code * n + full[:, col]
    unique = np.array(list(itertools.combinations_with_replacement(range(n), order)), dtype=np.int64)
    ucode = np.zeros(len(unique), dtype=np.int64)
    for col in range(order):
        ucode = ucode * n + unique[:, col]
    return np.searchsorted(ucode, code)


def _slot_stencils(circuit: Circuit, shift: float | None, max_order: int) -> list[list[Stencil]]:
    table = []
    for op_index in circuit.slot_operations:
        freqs = circuit.operations[op_index].spec.frequencies
        table.append([stencil(freqs, k, shift) for k in range(max_order + 1)])
    return table


def _slot_terms(multiset: tuple[tuple[int, int], ...], stencils) -> list[tuple[PointKey, float]]:
    """Tensor product of one-slot stencils: ``multiset`` is ``((slot, multiplicity), ...)``."""
    result: list[tuple[PointKey, float]] = [((), 1.0)]
    for slot, k in multiset:
        rule = stencils[slot][k]
        result = [(key + ((slot, t.multiple),) if t.multiple else key, c * t.coefficient)
                  for key, c in result for t in rule.terms]
    return result


def _entry_terms(entry: tuple[int, ...], slots_of: list[list[int]], a: np.ndarray, stencils) -> dict[PointKey, float]:
    """Point -> coefficient for one symbol multi-index, chain rule over the slots each symbol feeds."""
    weights: dict[tuple, float] = defaultdict(float)
    for slot_tuple in itertools.product(*(slots_of[i] for i in entry)):
        counts: dict[int, int] = defaultdict(int)
        for s in slot_tuple:
            counts[s] += 1
        weights[tuple(sorted(counts.items()))] += float(np.prod(a[list(slot_tuple)])) if slot_tuple else 1.0
    terms: dict[PointKey, float] = defaultdict(float)
    for multiset, weight in weights.items():
        if weight == 0.0:
            continue
        for key, c in _slot_terms(multiset, stencils):
            terms[key] += weight * c
    return terms


def _check_request(circuit: Circuit, orders, wrt) -> tuple[tuple[int, ...], tuple[int, ...]]:
    orders = tuple(sorted(set(int(k) for k in orders)))
    if not orders or orders[0] < 0:
        raise RequestError("derivative order must be a non-negative integer", expected="order >= 0",
                           received=str(list(orders)), fix="pass order=0 (value), 1 (gradient), 2 (Hessian), ...")
    if wrt is None:
        return orders, tuple(range(circuit.n_symbols))
    names = [wrt] if isinstance(wrt, str) else list(wrt)
    used = {circuit.symbols[i] for i in circuit.slot_symbol}
    index = []
    for name in names:
        if name not in circuit.symbols:
            raise RequestError(f"unknown symbol {name!r} in wrt", expected=f"symbols of the circuit {list(circuit.symbols)}",
                               received=repr(name), fix="pass names from circuit.symbols")
        if name not in used:
            raise RequestError(f"symbol {name!r} feeds no gate, so it has no derivative to compute",
                               expected=f"a symbol used by some gate: {sorted(used)}", received=repr(name),
                               fix="drop it from wrt, or use it in the circuit")
        index.append(circuit.symbols.index(name))
    if len(set(index)) != len(index):
        raise RequestError("wrt names a symbol twice", expected="distinct symbols", received=str(names),
                           fix="list each symbol once")
    return orders, tuple(index)


@lru_cache(maxsize=64)
def _cached_plan(circuit: Circuit, orders: tuple[int, ...], wrt: tuple[int, ...], shift: float | None) -> Plan:
    stencils = _slot_stencils(circuit, shift, max(orders))
    a, _ = circuit.slot_coefficients
    slots_of = [[s for s in range(circuit.n_slots) if circuit.slot_symbol[s] == i] for i in wrt]
    index: dict[PointKey, int] = {(): 0}
    maps = []
    for order in orders:
        entries = list(itertools.combinations_with_replacement(range(len(wrt)), order))
        e_idx, p_idx, coef = [], [], []
        for e, entry in enumerate(entries):
            for key, c in sorted(_entry_terms(entry, slots_of, a, stencils).items()):
                if c != 0.0:
                    e_idx.append(e)
                    p_idx.append(index.setdefault(key, len(index)))
                    coef.append(c)
        maps.append(OrderMap(order, np.array(entries, dtype=np.intp).reshape(len(entries), order),
                             np.array(e_idx, dtype=np.intp), np.array(p_idx, dtype=np.intp), np.array(coef)))
    keys = tuple(index)
    shifts = np.zeros((len(keys), circuit.n_slots))
    for p, key in enumerate(keys):
        for slot, multiple in key:
            shifts[p, slot] = stencils[slot][1].shift(multiple)
    return Plan(circuit, orders, wrt, shift, keys, shifts, tuple(maps))


def make_plan(circuit: Circuit, orders=(0, 1), *, wrt=None, shift: float | None = None, rows: int = 1) -> Plan:
    """Plan the points and contraction for derivative ``orders`` of ``circuit`` (``rows`` base rows).

    Args:
        circuit: the circuit.
        orders: an int ``k`` (meaning ``0..k``) or the orders wanted, e.g. ``(2,)``.
        wrt: symbol names to differentiate (default: all symbols; unused symbols get zeros).
        shift: the shift parameter ``s`` in ``(0, pi)``; ``None`` for ``pi/2``.
        rows: rows of base angles the request will carry.
    """
    if isinstance(orders, (int, np.integer)):
        orders = range(int(orders) + 1) if orders >= 0 else (int(orders),)
    orders, wrt_index = _check_request(circuit, orders, wrt)
    if shift is not None and not (isinstance(shift, (int, float)) and math.isfinite(shift)):
        raise RequestError("shift must be a number", expected="0 < shift < pi", received=repr(shift),
                           fix="pass a float such as pi/4, or None")
    return _cached_plan(circuit, orders, wrt_index, None if shift is None else float(shift)).with_rows(rows)
