"""The planner: which shifted circuits a derivative request needs, and how to combine them.

``make_plan(circuit, orders)`` returns a :class:`Plan` for one row of base
angles: the distinct *points* (shift patterns over the slots) and, for every
requested order, a sparse linear map from the points' values to the unique
entries of the derivative tensor. Rows repeat the same template.

How an entry is built. A derivative with respect to symbols ``(i_1..i_k)``
is, by the chain rule, a sum over slot tuples ``(s_1..s_k)`` with
``symbol(s_j) = i_j`` of ``prod a_{s_j}`` times the slot derivative — the
``a`` of ``a * symbol + b``, and every slot a tied symbol feeds. A slot
derivative is the tensor product of one-slot stencils (:mod:`qshift.planning.rules`)
for the multiplicity of each slot.

How points merge. A point's key is the sorted tuple of ``(slot, folded
multiple)`` with nonzero multiples — exact integers, never a float comparison
of angles, and two slots that merely hold equal angles are different keys.
A point that the value, the gradient and the Hessian all need is one point.

Huge angles. :meth:`Plan.points` first reduces every base angle beyond its gate's period
modulo that period, exactly (:func:`~qshift.planning.rules.reduce_angle`), so a shift is never
lost to rounding (at ``1e16`` a double's spacing is 2); angles within one period are used as given.

Limits, checked before anything is planned: orders up to :data:`MAX_ORDER` (NumPy arrays have
at most 64 dimensions, and a tensor has a row and an output axis besides its ``order`` symbol
axes), and at most :data:`MAX_TENSOR_ENTRIES` entries ``n_wrt ** order`` in one row's
derivative tensor of one output.

Example:
    >>> import qshift
    >>> c = qshift.hardware_efficient(2, 1)          # 4 symbols, one slot each
    >>> p = make_plan(c, (0, 1, 2))
    >>> p.points_per_row, 2 * 4 ** 2 + 4 + 1
    (37, 37)
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from qshift._display import plan_html
from qshift._errors import RequestError
from qshift.ir.circuit import Circuit
from qshift.planning.rules import Stencil, first_order, reduce_angle, second_order_reusing_first, stencil

__all__ = ["MAX_ORDER", "MAX_TENSOR_ENTRIES", "Plan", "check_order", "check_rows", "make_plan", "wrt_names"]

NUMPY_MAX_DIMS = 64
"""The most dimensions a NumPy array has (NumPy 2)."""

MAX_ORDER = NUMPY_MAX_DIMS - 2
"""The highest derivative order: a tensor has a row axis, an output axis and one axis per order."""

MAX_TENSOR_ENTRIES = 10 ** 8
"""The most entries one derivative tensor may have (800 MB of float64): ``n_wrt ** order`` per row
and output when planning, times rows and outputs for a request."""

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
    rule: str = "standard"
    notes: tuple[str, ...] = ()

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
        return dataclasses.replace(self, rows=rows)

    def _slots(self) -> list[int]:
        wrt = set(self.wrt)
        return [s for s in range(self.circuit.n_slots) if self.circuit.slot_symbol[s] in wrt]

    def _frequencies(self, slot: int) -> tuple[float, ...]:
        return self.circuit.operations[self.circuit.slot_operations[slot]].spec.frequencies

    # -- points and contraction ------------------------------------------------------------------
    def points(self, base: np.ndarray) -> np.ndarray:
        """Slot angles of every point: ``base`` ``(rows, n_slots)`` -> ``(rows * points_per_row, n_slots)``,
        row-major (all points of row 0 first).

        A base angle beyond its gate's period is reduced modulo the period first, exactly, so
        that the shifts added to it survive rounding (see the module notes).
        """
        base = _reduced(np.asarray(base, dtype=float), self.circuit)
        return (base[:, None, :] + self.shifts[None, :, :]).reshape(len(base) * self.points_per_row,
                                                                     self.circuit.n_slots)

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
        return plan_html(self)


def _reduced(base: np.ndarray, circuit: Circuit) -> np.ndarray:
    """``base`` with every finite angle beyond its slot's period reduced modulo the period, exactly."""
    far = np.abs(base) > circuit.slot_periods
    far &= np.isfinite(base)
    if not far.any():
        return base
    base = base.copy()
    frequencies = [circuit.operations[i].spec.frequencies for i in circuit.slot_operations]
    for row, slot in zip(*np.nonzero(far)):
        base[row, slot] = reduce_angle(float(base[row, slot]), frequencies[slot])
    return base


_INDEX_CHUNK = 2 ** 22  # digits worked on at once by _symmetric_index (32 MiB of int64)
_INDEX_CACHED = 2 ** 16  # indices up to this size are cached


def _symmetric_index(n: int, order: int) -> np.ndarray:
    """For every full multi-index (row-major over ``(n,) * order``), its unique sorted entry's position."""
    if n ** order <= _INDEX_CACHED:
        return _cached_symmetric_index(n, order)
    return _symmetric_index_of(n, order)


@lru_cache(maxsize=32)
def _cached_symmetric_index(n: int, order: int) -> np.ndarray:
    return _symmetric_index_of(n, order)


def _symmetric_index_of(n: int, order: int) -> np.ndarray:
    if order == 0:
        return np.zeros(1, dtype=np.intp)
    unique = np.array(list(itertools.combinations_with_replacement(range(n), order)), dtype=np.int64)
    unique = unique.reshape(-1, order)
    ucode = np.zeros(len(unique), dtype=np.int64)
    for col in range(order):
        ucode = ucode * n + unique[:, col]
    total = n ** order
    out = np.empty(total, dtype=np.intp)
    step = max(1, _INDEX_CHUNK // order)
    for start in range(0, total, step):  # in chunks: never (order, n**order) digits at once
        flat = np.arange(start, min(start + step, total), dtype=np.int64)
        digits = np.empty((len(flat), order), dtype=np.int64)
        for col in range(order - 1, -1, -1):
            flat, digits[:, col] = np.divmod(flat, n)
        digits.sort(axis=1)
        code = np.zeros(len(digits), dtype=np.int64)
        for col in range(order):
            code = code * n + digits[:, col]
        out[start:start + len(digits)] = np.searchsorted(ucode, code)
    return out


RULES = ("standard", "min-circuits")


def _direction_frequencies(fk: tuple[float, ...], fm: tuple[float, ...]) -> tuple[float, ...]:
    """Frequencies of ``t -> f(x + t (e_k + e_m))``: positive sums of +-fk, 0 and +-fm."""
    from fractions import Fraction

    left = {Fraction(0)} | {sign * Fraction(f).limit_denominator(1024) for f in fk for sign in (1, -1)}
    right = {Fraction(0)} | {sign * Fraction(f).limit_denominator(1024) for f in fm for sign in (1, -1)}
    return tuple(float(f) for f in sorted({a + b for a in left for b in right if a + b > 0}))


class _SlotRules:
    """Stencils of one slot and of slot pairs, as exact keys in each slot's *base unit*
    (the unit of its first-order rule at the plan's shift), folded by the slot's period.

    ``rule="standard"``: every slot derivative is a tensor product of one-slot stencils.
    ``rule="min-circuits"`` (Wierichs et al., arXiv:2107.12390 Sec. 4): a second derivative of one
    slot uses a rule on the gradient's own points (no new circuit), and a mixed
    second derivative of slots k, m is ``(D_dir - D_kk - D_mm) / 2`` with ``D_dir`` the second
    derivative along ``e_k + e_m`` (``2R - 1`` new points instead of ``|S_k| |S_m|``); where that
    rule does not apply or saves nothing, the pair falls back to the tensor product (noted).
    """

    def __init__(self, circuit: Circuit, shift: float | None, rule: str):
        self.freqs = [circuit.operations[i].spec.frequencies for i in circuit.slot_operations]
        self.shift = shift
        self.rule = rule
        self.base = [first_order(f, shift) for f in self.freqs]
        self.fallbacks = 0
        self._one: dict[tuple[int, int], list[tuple[int, float]]] = {}

    def _to_base(self, slot: int, shift: float) -> int | None:
        """``shift`` as a folded whole multiple of the slot's base unit, or None if it is not one."""
        base = self.base[slot]
        x = shift / base.unit
        j = round(x)
        if abs(x - j) > 1e-9:
            return None
        return j % base.modulus if base.modulus is not None else j

    def _convert(self, slot: int, rule: Stencil) -> list[tuple[int, float]] | None:
        """Terms of ``rule`` as (multiple of the slot's base unit, coefficient), or None if not whole."""
        out: dict[int, float] = defaultdict(float)
        for t in rule.terms:
            j = self._to_base(slot, rule.shift(t.multiple))
            if j is None:
                return None
            out[j] += t.coefficient
        return sorted(out.items())

    def one(self, slot: int, order: int) -> list[tuple[int, float]]:
        """The order-``order`` rule of one slot."""
        if (slot, order) not in self._one:
            standard = self._convert(slot, stencil(self.freqs[slot], order, self.shift))
            if order == 2 and self.rule == "min-circuits":
                standard = self._cheaper_diagonal(slot, standard)
            self._one[slot, order] = standard
        return self._one[slot, order]

    def _cheaper_diagonal(self, slot: int, standard):
        """The second-order rule adding fewest circuits beyond the gradient's (ties: standard)."""
        half_shift = (self.shift if self.shift is not None else math.pi / 2) / 2
        reusing = second_order_reusing_first(self.freqs[slot], self.shift)
        candidates = [standard, self._convert(slot, stencil(self.freqs[slot], 2, half_shift)),
                      None if reusing is None else self._convert(slot, reusing)]
        reused = {0} | {t.multiple for t in self.base[slot].terms}
        new = lambda terms: sum(1 for m, _ in terms if m not in reused)
        return min((c for c in candidates if c is not None), key=new)

    def pair(self, k: int, m: int) -> list[tuple[PointKey, float]] | None:
        """The mixed second derivative of slots ``k < m`` by the direction rule, or None."""
        direction = stencil(_direction_frequencies(self.freqs[k], self.freqs[m]), 2, self.shift)
        if len(direction.terms) - 1 >= len(self.base[k].terms) * len(self.base[m].terms):
            self.fallbacks += 1
            return None
        terms: dict[PointKey, float] = defaultdict(float)
        for t in direction.terms:
            x = direction.shift(t.multiple)
            jk, jm = self._to_base(k, x), self._to_base(m, x)
            if jk is None or jm is None:
                self.fallbacks += 1
                return None
            terms[tuple(p for p in ((k, jk), (m, jm)) if p[1])] += t.coefficient / 2
        for slot in (k, m):
            for j, c in self.one(slot, 2):
                terms[((slot, j),) if j else ()] -= c / 2
        return list(terms.items())

    def shift_of(self, slot: int, multiple: int) -> float:
        return self.base[slot].shift(multiple)


def _slot_terms(multiset: tuple[tuple[int, int], ...], rules: _SlotRules) -> list[tuple[PointKey, float]]:
    """The rule for one slot derivative: ``multiset`` is ``((slot, multiplicity), ...)``."""
    if rules.rule == "min-circuits" and len(multiset) == 2 and multiset[0][1] == multiset[1][1] == 1:
        pair = rules.pair(multiset[0][0], multiset[1][0])
        if pair is not None:
            return pair
    result: list[tuple[PointKey, float]] = [((), 1.0)]
    for slot, k in multiset:
        result = [(key + ((slot, j),) if j else key, c * cj) for key, c in result for j, cj in rules.one(slot, k)]
    return result


def _entry_terms(entry: tuple[int, ...], slots_of: list[list[int]], a: np.ndarray, rules) -> dict[PointKey, float]:
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
        for key, c in _slot_terms(multiset, rules):
            terms[key] += weight * c
    return terms


def wrt_names(circuit: Circuit, wrt) -> tuple[str, ...] | None:
    """``wrt`` as a tuple of names (``None``: every symbol): one name, or an iterable of names.

    Only the type is checked here; :func:`make_plan` checks the names themselves.

    Example:
        >>> import qshift
        >>> wrt_names(qshift.hardware_efficient(2, 1), "y0_1")
        ('y0_1',)
    """
    if wrt is None:
        return None
    names = (wrt,) if isinstance(wrt, str) else wrt
    try:
        names = tuple(names)
    except TypeError:
        names = None
    if names is None or not all(isinstance(name, str) for name in names):
        raise RequestError("wrt must be a list of symbol names", expected=f"names from {list(circuit.symbols)}",
                           received=repr(wrt), fix="pass wrt=['name', ...], or None to differentiate every symbol")
    return names


def check_order(k) -> int:
    """One derivative order: a whole number in ``0 .. MAX_ORDER`` (``RequestError`` otherwise).

    Example:
        >>> check_order(2)
        2
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise RequestError("a derivative order must be a whole number", expected="0, 1, 2, ... (an int)",
                           received=f"{k!r} ({type(k).__name__})",
                           fix="pass whole numbers: order=2, or orders=(1, 2)")
    if k < 0:
        raise RequestError("derivative order must be a non-negative integer", expected="order >= 0",
                           received=repr(k), fix="pass order=0 (value), 1 (gradient), 2 (Hessian), ...")
    if k > MAX_ORDER:
        raise RequestError(f"derivative order {k} is beyond what a NumPy array can hold",
                           expected=f"order <= {MAX_ORDER} (NumPy's {NUMPY_MAX_DIMS} dimensions, less the row "
                                    "and output axes)",
                           received=f"order {k}", fix=f"ask for order {MAX_ORDER} or lower")
    return int(k)


def check_rows(rows, *, least: int = 1) -> int:
    """Rows of base angles a plan serves: a whole number from ``least`` (``RequestError`` otherwise).

    A user's ``rows=`` starts at 1; a plan may serve no rows at all (an empty batch of values).

    Example:
        >>> check_rows(3)
        3
    """
    if isinstance(rows, bool) or not isinstance(rows, numbers.Integral) or rows < least:
        raise RequestError("rows must be a positive whole number", expected=f"rows={least}, {least + 1}, ... (an int)",
                           received=repr(rows), fix="pass the number of rows of symbol values, e.g. rows=10")
    return int(rows)


def _check_size(orders: tuple[int, ...], n_wrt: int) -> None:
    """Refuse an order whose tensor (one row, one output) has more than MAX_TENSOR_ENTRIES entries."""
    for k in orders:
        entries = n_wrt ** k
        if entries > MAX_TENSOR_ENTRIES:
            raise RequestError(f"the order-{k} derivative of {n_wrt} symbols has {entries:,} entries per output "
                               "and row", expected=f"at most {MAX_TENSOR_ENTRIES:,} entries in one derivative tensor",
                               received=f"{n_wrt}**{k} = {entries:,}",
                               fix="differentiate fewer symbols (wrt=[...]) or ask for a lower order "
                                   "(orders=(k,) computes only the orders named)")


def _check_request(circuit: Circuit, orders, wrt) -> tuple[tuple[int, ...], tuple[int, ...]]:
    orders = tuple(sorted(set(check_order(k) for k in orders)))
    if not orders:
        raise RequestError("no derivative order asked for", expected="at least one order, e.g. orders=(1,)",
                           received="orders=()", fix="pass order=1, or orders=(0, 1)")
    names = wrt_names(circuit, wrt)
    if names is None:
        _check_size(orders, circuit.n_symbols)
        return orders, tuple(range(circuit.n_symbols))
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
    _check_size(orders, len(index))
    return orders, tuple(index)


@lru_cache(maxsize=64)
def _cached_plan(circuit: Circuit, orders: tuple[int, ...], wrt: tuple[int, ...], shift: float | None,
                 rule: str) -> Plan:
    rules = _SlotRules(circuit, shift, rule)
    a, _ = circuit.slot_coefficients
    slots_of = [[s for s in range(circuit.n_slots) if circuit.slot_symbol[s] == i] for i in wrt]
    index: dict[PointKey, int] = {(): 0}
    maps = []
    for order in orders:
        entries = list(itertools.combinations_with_replacement(range(len(wrt)), order))
        e_idx, p_idx, coef = [], [], []
        for e, entry in enumerate(entries):
            for key, c in sorted(_entry_terms(entry, slots_of, a, rules).items()):
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
            shifts[p, slot] = rules.shift_of(slot, multiple)
    notes = ()
    if rules.fallbacks:
        notes = (f"{rules.fallbacks} slot pair(s) used the tensor-product rule: the direction rule does not "
                 "apply to their frequencies or saves nothing",)
    return Plan(circuit, orders, wrt, shift, keys, shifts, tuple(maps), rule=rule, notes=notes)


def make_plan(circuit: Circuit, orders=(0, 1), *, wrt=None, shift: float | None = None, rows: int = 1,
              rule: str = "standard") -> Plan:
    """Plan the points and contraction for derivative ``orders`` of ``circuit`` (``rows`` base rows).

    Args:
        circuit: the circuit.
        orders: an int ``k`` (meaning ``0..k``) or the orders wanted, e.g. ``(2,)``; each at most
            :data:`MAX_ORDER`.
        wrt: symbol names to differentiate (default: all symbols; unused symbols get zeros).
        shift: the shift parameter ``s`` in ``(0, pi)``; ``None`` for ``pi/2``.
        rows: rows of base angles the request will carry.
        rule: ``"standard"`` (tensor-product stencils) or ``"min-circuits"`` (diagonal-direction
            mixed partials and gradient-reusing diagonals: fewer circuits, more shot noise).

    Raises:
        RequestError: an unknown rule, an order that is not a whole number in ``0..MAX_ORDER``, a
            tensor of more than :data:`MAX_TENSOR_ENTRIES` entries per row and output, bad
            ``wrt``, ``shift`` or ``rows``.
    """
    if rule not in RULES:
        raise RequestError(f"unknown rule {rule!r}", expected=" or ".join(repr(r) for r in RULES),
                           received=repr(rule), fix="pick one of the listed rules")
    rows = check_rows(rows, least=0)
    if isinstance(orders, (int, np.integer)) and not isinstance(orders, bool):
        orders = range(check_order(orders) + 1)
    orders, wrt_index = _check_request(circuit, orders, wrt)
    if shift is not None and not (isinstance(shift, (int, float)) and math.isfinite(shift)):
        raise RequestError("shift must be a number", expected="0 < shift < pi", received=repr(shift),
                           fix="pass a float such as pi/4, or None")
    return _cached_plan(circuit, orders, wrt_index, None if shift is None else float(shift), rule).with_rows(rows)
