"""Mitigated sampling: readout correction and zero-noise extrapolation around any sampling strategy.

On a noisy device every shifted point is biased, and so is every derivative built from the
points: more shots do not remove it. :class:`Mitigated` wraps a request's sampling strategy
(:mod:`qshift.cost.sampling`) and mitigates *every point* before the plan's contraction, so the
value, gradient, Hessian and higher orders are all built from mitigated points (the same
numbers as mitigating each entry: the contraction is linear, and so are both mitigations).

* **readout** (:class:`Readout`): the two calibration circuits of the tensored model
  (:func:`~qshift.ir.readout.calibration_circuits`: every qubit prepared in ``0``, then in ``1``)
  run through the request's executor like any other circuit; the measured ``<Z_q>`` give each
  qubit's offset and contrast, and every output is measured as its exact correction
  (:func:`~qshift.ir.readout.corrected_circuit`: the same executions, a Pauli sum of the
  term's sub-products), so the shot variance of a corrected value holds the covariance of
  the sub-products. The calibration's own shot noise is one error common to every point: it
  is returned as :class:`~qshift.cost.sampling.SharedError`\\ s (two per qubit) and contracted
  with the derivative, where most of it cancels (:func:`~qshift.cost.sampling.contract`).
  **Reuse**: a calibration is kept for ``max_age`` seconds (default 3600), in aligned windows
  (``floor(time / max_age)``): every request on the same device (its ``cache_key``), qubit count
  and calibration shots in the same window uses it. The window decides the calibration's seed,
  so with an evaluation store the second request reads it back from the store (also from
  another process, ``Stats.from_store``), and without one this process keeps it in memory
  (``Stats.cache_hits``). An exact request calibrates exactly.
* **zne** (:class:`ZNE`): the circuit (readout-corrected first, when both are asked) is folded
  once per scale factor (:func:`~qshift.ir.folding.fold_global`: global folding, why in that
  module), the inner strategy runs every point of the plan on every folded circuit at the
  point's own shifted angles (``Folded.angles``), through the same executor (so folded points
  are deduplicated across entries and orders like any other point), and each point is
  extrapolated to zero noise: ``sum_j gamma_j y_j``, with variance ``sum_j gamma_j**2 var_j``
  (:func:`extrapolation_weights`; Richardson's ``gamma`` for (1, 3, 5) are (15/8, -5/4, 3/8):
  the standard error grows by ``sqrt(sum gamma**2) = 2.28``).

* **runtime** (:class:`Runtime`, IBM service devices only): qshift folds and calibrates nothing; every
  point goes to IBM's runtime as EstimatorV2 jobs with IBM's own resilience options
  (``resilience_level``, ``resilience``, ``twirling``: TREX readout mitigation at level 1, the default,
  ZNE with gate twirling at level 2), and the runtime's mitigated estimates and standard errors are the
  points' values and errors (:meth:`qshift.IBMBackend.with_resilience`). Shots are IBM's
  ``default_shots``: per measurement basis, and per noise factor with ZNE; ``estimate`` and
  ``max_cost`` price every point's shots once per ZNE noise factor (:attr:`Runtime.noise_factors`) but not
  the runtime's readout calibration or twirling overhead, which IBM does not publish per circuit.
  Refused before anything runs on any other device, and on the fake IBM devices (``ibm-fake-brisbane``),
  whose local testing mode ignores resilience options (it warns so): their values would not be mitigated.

What is refused (:class:`~qshift.MitigationError`): an unknown or malformed ``mitigation``, fewer
than two distinct scale factors, ``runtime`` together with ``readout`` or ``zne``, and ``target_stderr``
(its top-ups are sized from a pilot of the raw points, not of the extrapolated ones, so the target
would not be met). Noiseless devices are
not refused: there every scale factor gives the same value and the correction is the identity,
which is what a test of the machinery wants (and what they cost there is nothing).

Example:
    >>> import numpy as np, qshift
    >>> from qshift.cost.sampling import Exact
    >>> c = qshift.hardware_efficient(2, 1)
    >>> p = qshift.plan(c, order=1)
    >>> m = Mitigated(Exact(), parse_mitigation(("readout", "zne")), clock=lambda: 7.0e5)
    >>> ex = qshift.Executor(qshift.LocalSimulator())
    >>> points = p.points(c.slot_angles(np.full((1, 4), 0.3)))
    >>> s = m.run(ex, c, p, points)                # noiseless: mitigation changes nothing
    >>> bool(np.allclose(s.values, ex.evaluate(c, points)[0], atol=1e-12)), s.stats.circuits  # 2 + 9 x 3
    (True, 29)
    >>> m.calls(p)
    [(2, None, True, 1), (9, None, True), (9, None, True), (9, None, True)]
"""

from __future__ import annotations

import hashlib
import math
import numbers
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from qshift._errors import MitigationError
from qshift._seeding import child_ints
from qshift.backends.ibm import resilience_problem
from qshift.backends.profiles import MAX_SHOTS
from qshift.cost.sampling import Call, Exact, FixedShots, OptimalAllocation, Samples, Sampling, SharedError, TargetError
from qshift.execution.executor import Executor, Stats
from qshift.ir.circuit import Circuit
from qshift.ir.folding import MAX_SCALE, Folded, fold_global
from qshift.ir.readout import Correction, TensoredReadout, calibration_circuits, corrected_circuit
from qshift.planning.planner import Plan

__all__ = ["EXTRAPOLATIONS", "Calibration", "Mitigated", "Mitigation", "Readout", "Runtime", "ZNE", "calibrate",
           "extrapolation_weights", "mitigated", "parse_mitigation"]

EXTRAPOLATIONS = ("richardson", "linear")
"""Extrapolations to zero noise: the polynomial through every point (Richardson), or a least-squares line."""

MAX_SCALE_FACTORS = 8
"""Most scale factors a ZNE request may name (Richardson's amplification explodes with more)."""


@dataclass(frozen=True)
class Readout:
    """Readout mitigation of the tensored model (see the module notes).

    Attributes:
        shots: shots of each calibration circuit (``None``: the request's shots per execution).
        max_age: seconds a calibration is reused (aligned windows; ``0``: calibrate on every request).
    """

    shots: int | None = None
    max_age: float = 3600.0


@dataclass(frozen=True)
class ZNE:
    """Zero-noise extrapolation by global folding.

    Attributes:
        scale_factors: noise scale factors, at least two distinct, each from 1 to 99 (odd whole
            numbers fold exactly; others fold the last operations once more, see
            :func:`~qshift.ir.folding.fold_global`).
        extrapolation: ``"richardson"`` or ``"linear"``.
    """

    scale_factors: tuple[float, ...] = (1.0, 3.0, 5.0)
    extrapolation: str = "richardson"


RESILIENCE_LEVELS = (0, 1, 2)
"""IBM's resilience levels: none, TREX readout mitigation (the runtime's default), and ZNE with gate twirling."""

_ZNE_NOISE_FACTORS = (1, 3, 5)  # the runtime's default noise factors (ZneOptions)


@dataclass(frozen=True)
class Runtime:
    """IBM's own mitigation, done by the runtime (IBM service devices; see the module notes).

    The fields are IBM's EstimatorV2 options, passed through as they are (checked by qiskit-ibm-runtime's
    own option classes when it is installed).

    Attributes:
        resilience_level: 0 (none), 1 (TREX readout mitigation: the runtime's default) or 2 (also ZNE with
            gate twirling).
        resilience: ``options.resilience`` fields, e.g. ``{"zne_mitigation": True, "zne": {"noise_factors":
            (1, 3, 5), "extrapolator": "linear"}}`` (``pec_mitigation`` is refused: its overhead cannot be priced).
        twirling: ``options.twirling`` fields, e.g. ``{"enable_gates": True, "num_randomizations": 32}``.

    Example:
        >>> Runtime(2).noise_factors, Runtime(1).noise_factors
        (3, 1)
        >>> Runtime(1, {"zne_mitigation": True, "zne": {"noise_factors": (1, 2)}}).options()
        {'resilience_level': 1, 'resilience': {'zne_mitigation': True, 'zne': {'noise_factors': (1, 2)}}}
    """

    resilience_level: int = 1
    resilience: Mapping = field(default_factory=dict, hash=False)
    twirling: Mapping = field(default_factory=dict, hash=False)

    def options(self) -> dict:
        """The EstimatorV2 options to set: the level, and the sub-options that were given."""
        out = {"resilience_level": self.resilience_level}
        if self.resilience:
            out["resilience"] = dict(self.resilience)
        if self.twirling:
            out["twirling"] = dict(self.twirling)
        return out

    @property
    def noise_factors(self) -> int:
        """How many times the runtime runs every point: the ZNE noise factors when ZNE is on, else 1."""
        zne = self.resilience.get("zne_mitigation")
        if zne is False or (zne is None and self.resilience_level < 2):
            return 1
        factors = (self.resilience.get("zne") or {}).get("noise_factors")
        return len(factors) if factors else len(_ZNE_NOISE_FACTORS)

    def __str__(self) -> str:
        given = ", ".join(f"{k}={v}" for k, v in self.options().items() if k != "resilience_level")
        return f"runtime (IBM resilience_level {self.resilience_level}{', ' + given if given else ''})"


@dataclass(frozen=True)
class Mitigation:
    """What a request mitigates: readout errors, gate noise by ZNE, or both (readout corrected first); or
    everything by IBM's runtime (``runtime``, alone)."""

    readout: Readout | None = None
    zne: ZNE | None = None
    runtime: Runtime | None = None

    def __str__(self) -> str:
        parts = []
        if self.readout:
            parts.append("readout")
        if self.zne:
            scales = ", ".join(f"{s:g}" for s in self.zne.scale_factors)
            parts.append(f"zne ({self.zne.extrapolation}, scale factors {scales})")
        if self.runtime:
            parts.append(str(self.runtime))
        return " + ".join(parts)


_NAMES = ("readout", "zne", "runtime")
_EXAMPLES = ('"readout", "zne", ("readout", "zne"), {"zne": {"scale_factors": (1, 3, 5), "extrapolation": '
             '"richardson"}}, {"readout": {"shots": 4000, "max_age": 3600}}, "runtime" or {"runtime": '
             '{"resilience_level": 2}} (IBM service devices)')


def parse_mitigation(spec) -> Mitigation | None:
    """A request's ``mitigation=`` as a :class:`Mitigation` (``None``: no mitigation).

    Accepted: ``None``; ``"readout"`` or ``"zne"``; a sequence of those (``("readout", "zne")``);
    a dict from those names to ``True`` or their options (``{"zne": {"scale_factors": (1, 3, 5),
    "extrapolation": "linear"}, "readout": {"shots": 4000, "max_age": 3600}}``); a :class:`Readout`,
    :class:`ZNE` or :class:`Mitigation`. On IBM service devices, ``"runtime"`` or ``{"runtime":
    {"resilience_level": 2, "resilience": {...}, "twirling": {...}}}`` (or a :class:`Runtime`), alone:
    IBM's own mitigation instead of qshift's.

    Example:
        >>> str(parse_mitigation(("readout", "zne")))
        'readout + zne (richardson, scale factors 1, 3, 5)'
        >>> parse_mitigation({"zne": {"scale_factors": [1, 2, 3], "extrapolation": "linear"}}).zne
        ZNE(scale_factors=(1.0, 2.0, 3.0), extrapolation='linear')
    """
    if spec is None or spec is False:
        return None
    if isinstance(spec, Mitigation):
        return _checked(spec)
    if isinstance(spec, (Readout, ZNE, Runtime, str)):
        spec = (spec,)
    if isinstance(spec, dict):
        items = list(spec.items())
    elif isinstance(spec, (list, tuple, set, frozenset)):
        items = [(s, True) if isinstance(s, str) else (_name_of(s), s) for s in spec]
    else:
        raise _error("mitigation must name what to mitigate", repr(spec), "pass mitigation='readout' or 'zne'")
    if not items:
        raise _error("mitigation names nothing to mitigate", repr(spec), "pass mitigation=None for none")
    found: dict[str, object] = {}
    for name, options in items:
        if name not in _NAMES:
            raise _error(f"unknown mitigation {name!r}", repr(name),
                         "use 'readout', 'zne' or both (or 'runtime' on an IBM service device)")
        if name in found:
            raise _error(f"mitigation {name!r} is named twice", repr(spec), f"name {name!r} once")
        found[name] = options
    readout = _readout(found["readout"]) if "readout" in found else None
    zne = _zne(found["zne"]) if "zne" in found else None
    runtime = _runtime(found["runtime"]) if "runtime" in found else None
    return _checked(Mitigation(readout, zne, runtime))


def _name_of(item) -> str:
    if isinstance(item, Readout):
        return "readout"
    if isinstance(item, ZNE):
        return "zne"
    if isinstance(item, Runtime):
        return "runtime"
    raise _error("mitigation entries must be names or options", repr(item), "pass ('readout', 'zne')")


def _error(problem: str, received: str, fix: str, expected: str | None = None) -> MitigationError:
    return MitigationError(problem, expected=expected or f"one of {_EXAMPLES}", received=received, fix=fix)


def _options(name: str, options, allowed: tuple[str, ...]) -> dict:
    if options is True or options is None:
        return {}
    if not isinstance(options, dict):
        raise _error(f"the options of mitigation {name!r} must be a dict", repr(options),
                     f"pass {{{name!r}: {{...}}}} or {{{name!r}: True}}", expected=f"keys among {', '.join(allowed)}")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise _error(f"unknown option {unknown[0]!r} of mitigation {name!r}", ", ".join(map(repr, unknown)),
                     f"use {', '.join(allowed)}", expected=f"keys among {', '.join(allowed)}")
    return dict(options)


def _readout(options) -> Readout:
    if isinstance(options, Readout):
        return options
    return Readout(**_options("readout", options, ("shots", "max_age")))


def _zne(options) -> ZNE:
    if isinstance(options, ZNE):
        return options
    given = _options("zne", options, ("scale_factors", "extrapolation"))
    if "scale_factors" in given:
        given["scale_factors"] = _scales(given["scale_factors"])
    return ZNE(**given)


def _runtime(options) -> Runtime:
    if isinstance(options, Runtime):
        return options
    return Runtime(**_options("runtime", options, ("resilience_level", "resilience", "twirling")))


def _scales(scales) -> tuple[float, ...]:
    if isinstance(scales, (str, bytes)) or not hasattr(scales, "__iter__"):
        raise _error("scale_factors must be a sequence of numbers", repr(scales), "pass scale_factors=(1, 3, 5)",
                     expected="at least two distinct numbers from 1 to 99")
    return tuple(float(s) if isinstance(s, numbers.Real) and not isinstance(s, bool) else s for s in scales)


def _checked(m: Mitigation) -> Mitigation:
    if m.readout is None and m.zne is None and m.runtime is None:
        raise _error("mitigation names nothing to mitigate", repr(m), "pass mitigation=None for none")
    if m.runtime is not None:
        if m.readout is not None or m.zne is not None:
            raise _error("mitigation 'runtime' is IBM's own and replaces qshift's", repr(m),
                         "pass mitigation='runtime' alone (resilience_level 1 mitigates readout, 2 adds ZNE), "
                         "or leave 'runtime' out", expected="'runtime' alone, or 'readout' and/or 'zne'")
        _check_runtime(m.runtime)
    if m.readout is not None:
        r = m.readout
        if r.shots is not None and (isinstance(r.shots, bool) or not isinstance(r.shots, numbers.Integral)
                                    or not 1 <= r.shots <= MAX_SHOTS):
            raise _error("the readout calibration's shots must be a positive whole number", f"shots={r.shots!r}",
                         "pass {'readout': {'shots': 4000}}, or leave shots out (the request's)",
                         expected=f"1 to {MAX_SHOTS:,}, or None")
        if isinstance(r.max_age, bool) or not isinstance(r.max_age, numbers.Real) or not 0 <= r.max_age < math.inf:
            raise _error("the readout calibration's max_age must be seconds, 0 or more", f"max_age={r.max_age!r}",
                         "pass {'readout': {'max_age': 3600}} (0: calibrate every request)",
                         expected="a finite number of seconds >= 0")
    if m.zne is not None:
        _check_zne(m.zne)
    return m


def _check_runtime(r: Runtime) -> None:
    level = r.resilience_level
    if isinstance(level, bool) or not isinstance(level, numbers.Integral) or level not in RESILIENCE_LEVELS:
        raise _error("IBM's resilience_level is 0, 1 or 2", f"resilience_level={level!r}",
                     "pass {'runtime': {'resilience_level': 2}} (1: readout mitigation, 2: also ZNE)",
                     expected="0, 1 or 2")
    for name in ("resilience", "twirling"):
        if not isinstance(getattr(r, name), Mapping):
            raise _error(f"the runtime's {name} options must be a dict of IBM's option fields",
                         f"{name}={getattr(r, name)!r}", f"pass {{'runtime': {{'{name}': {{...}}}}}}",
                         expected=f"a dict, as qiskit_ibm_runtime's EstimatorOptions.{name} takes")
    if r.resilience.get("pec_mitigation"):
        raise _error("the runtime's PEC is not passed through: its sampling overhead is not known before the run, "
                     "so estimate and max_cost could not price it", "resilience={'pec_mitigation': True, ...}",
                     "use resilience_level 2 (ZNE), or run PEC with qiskit-ibm-runtime directly",
                     expected="resilience options without pec_mitigation")
    problem = resilience_problem(r.options())
    if problem:
        raise _error("qiskit-ibm-runtime refuses these resilience options", problem,
                     "pass option fields of qiskit_ibm_runtime.options.EstimatorOptions (see IBM's "
                     "'Configure error mitigation' guide)", expected="valid EstimatorV2 options")


def _check_zne(z: ZNE) -> None:
    scales = z.scale_factors
    ok = isinstance(scales, tuple) and all(isinstance(s, numbers.Real) and not isinstance(s, bool)
                                           and math.isfinite(s) and 1 <= s <= MAX_SCALE for s in scales)
    if not ok:
        raise _error("scale factors must be numbers from 1 to 99", repr(scales), "pass scale_factors=(1, 3, 5)",
                     expected="a tuple of at least two distinct numbers from 1 to 99")
    if len(set(scales)) < 2 or len(set(scales)) != len(scales) or len(scales) > MAX_SCALE_FACTORS:
        raise _error("zero-noise extrapolation needs at least two distinct scale factors", repr(scales),
                     "pass scale_factors=(1, 3) for a line, (1, 3, 5) for Richardson",
                     expected=f"2 to {MAX_SCALE_FACTORS} distinct scale factors, each once")
    if z.extrapolation not in EXTRAPOLATIONS:
        raise _error(f"unknown extrapolation {z.extrapolation!r}", repr(z.extrapolation),
                     "pass extrapolation='richardson' or 'linear'", expected="'richardson' or 'linear'")


def extrapolation_weights(scales, method: str = "richardson") -> np.ndarray:
    """``gamma`` with the zero-noise value ``sum_j gamma_j * y(scales_j)`` (its variance: ``sum gamma**2 var``).

    Richardson: the polynomial of degree ``len(scales) - 1`` through every point, at 0:
    ``gamma_j = prod_{k != j} s_k / (s_k - s_j)``. Linear: the least-squares line's intercept.
    Both sum to 1 (a constant extrapolates to itself).

    Example:
        >>> extrapolation_weights([1, 3, 5]).tolist()
        [1.875, -1.25, 0.375]
        >>> np.round(extrapolation_weights([1, 3, 5], "linear"), 6).tolist()
        [1.083333, 0.333333, -0.416667]
    """
    s = np.asarray(scales, dtype=float)
    if method == "richardson":
        return np.array([math.prod(s[k] / (s[k] - s[j]) for k in range(len(s)) if k != j) for j in range(len(s))])
    design = np.stack([np.ones_like(s), s], axis=1)
    return np.linalg.pinv(design)[0]


@dataclass(frozen=True)
class Calibration:
    """A readout calibration: the model, the variance of each measured ``<Z_q>``, and when it was taken.

    Attributes:
        model: offsets and contrasts (:class:`~qshift.ir.readout.TensoredReadout`).
        m0, m1: measured ``<Z_q>`` with every qubit prepared in 0 and in 1.
        v0, v1: their variances (zeros when exact).
        window: the reuse window it belongs to (``floor(time / max_age)``).
    """

    model: TensoredReadout
    m0: np.ndarray
    m1: np.ndarray
    v0: np.ndarray
    v1: np.ndarray
    window: int


_KEPT: dict[tuple, Calibration] = {}
_KEPT_LOCK = threading.Lock()


def calibrate(executor, n_qubits: int, shots: int | None, readout: Readout = Readout(),
              now: float | None = None, seed: int | None = None) -> tuple[Calibration, Stats]:
    """The readout calibration of ``n_qubits`` on the executor's device, and what taking it ran.

    Reused within ``readout.max_age`` seconds (see the module notes): from this process's memory,
    or, through the calibration's seed, from the executor's store. A reused calibration is the
    window's, shared by every request in it (like a device's calibration, it is not the request's
    own sample); with ``max_age=0`` each request calibrates anew, with ``seed`` (the request's,
    so a seeded request then reproduces its calibration too).

    Example:
        >>> import qshift
        >>> cal, stats = calibrate(qshift.Executor(qshift.LocalSimulator()), 2, None, now=0.0)
        >>> cal.model.contrast, stats.circuits
        ((1.0, 1.0), 2)
        >>> calibrate(qshift.Executor(qshift.LocalSimulator()), 2, None, now=10.0)[1].cache_hits
        2
    """
    now = time.time() if now is None else float(now)
    age = float(readout.max_age)
    window = int(now // age) if age > 0 else None
    key = (executor.backend.cache_key, n_qubits, shots, window)
    if window is not None:
        with _KEPT_LOCK:
            kept = _KEPT.get(key)
        if kept is not None:
            return kept, Stats(cache_hits=2)
    seed = (seed if window is None else _window_seed(key)) if shots is not None else None
    stats, measured = Stats(), []
    for circuit in calibration_circuits(n_qubits):
        values, variances, st = executor.evaluate(circuit, np.zeros((1, 0)), shots=shots, seed=seed)
        stats.add(st)
        per_shot = np.zeros(n_qubits) if variances is None or shots is None else variances[0] / shots
        measured.append((values[0], per_shot))
    (m0, v0), (m1, v1) = measured
    cal = Calibration(TensoredReadout.from_calibration(m0, m1), m0, m1, v0, v1, -1 if window is None else window)
    if window is not None:
        with _KEPT_LOCK:
            _KEPT[key] = cal
    return cal, stats


def _window_seed(key: tuple) -> int:
    """The seed of a calibration window: the same on every machine for the same device, qubits, shots and window."""
    text = "\0".join(map(str, ("qshift-readout-calibration",) + key)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:7], "big")


@dataclass(frozen=True)
class Mitigated:
    """``inner``'s shots, spent on mitigated points (see the module notes).

    Attributes:
        inner: the strategy that spends the shots (:class:`~qshift.cost.sampling.Exact`,
            :class:`~qshift.cost.sampling.FixedShots` or :class:`~qshift.cost.sampling.OptimalAllocation`).
        mitigation: what to mitigate (:func:`parse_mitigation`).
        seed: the request's seed: scale factor ``j`` runs ``inner`` with its ``j``-th child.
        clock: the time a calibration is taken at (its reuse window).
    """

    inner: Sampling
    mitigation: Mitigation
    seed: int | None = None
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def run(self, executor, circuit: Circuit, plan: Plan, points: np.ndarray) -> Samples:
        """Calibrate and correct, fold and extrapolate: every point of ``points``, mitigated (by IBM's runtime
        with ``runtime``)."""
        check_inner(self.inner)
        if self.mitigation.runtime is not None:
            part = self.inner.run(runtime_executor(executor, self.mitigation.runtime), circuit, plan, points)
            executor.stats.add(part.stats)
            return part
        stats = Stats()
        measured, correction, cal = circuit, None, None
        if self.mitigation.readout is not None:
            cal, cal_stats = calibrate(executor, circuit.n_qubits, self.calibration_shots, self.mitigation.readout,
                                       self.clock(), seed=None if self.seed is None else _window_seed(("request", self.seed)))
            stats.add(cal_stats)
            correction = corrected_circuit(circuit, cal.model)
            measured = correction.circuit
        folds, weights = self._folds(measured)
        parts = [replace(self.inner, seed=seed).run(executor, f.circuit, plan, f.angles(points))
                 for f, seed in zip(folds, child_ints(self.seed, len(folds)))]
        for part in parts:
            stats.add(part.stats)
        return _extrapolated(parts, weights, circuit.n_outputs, correction, cal, stats)

    @property
    def calibration_shots(self) -> int | None:
        """Shots of each calibration circuit: the readout option's, else the request's (``None``: exact)."""
        shots = _shots(self.inner)
        if shots is None or self.mitigation.readout is None:
            return None
        return self.mitigation.readout.shots or shots

    @property
    def scale_factors(self) -> tuple[float, ...]:
        return self.mitigation.zne.scale_factors if self.mitigation.zne else (1.0,)

    def _folds(self, measured: Circuit) -> tuple[list[Folded], np.ndarray]:
        zne = self.mitigation.zne
        if zne is None:
            return [fold_global(measured, 1.0)], np.ones(1)
        if not measured.operations:
            raise MitigationError("zero-noise extrapolation needs gates to fold", expected="a circuit with operations",
                                  received=f"circuit {measured.name!r} has none", fix="leave 'zne' out of mitigation")
        folds = [fold_global(measured, s) for s in zne.scale_factors]
        reached = [f.scale for f in folds]
        if len(set(reached)) < len(reached):
            raise MitigationError("two scale factors fold this circuit alike", expected="scale factors that differ "
                                  f"by at least 2/{len(measured.operations)} (the circuit's operations)",
                                  received=f"scale factors {list(zne.scale_factors)} reach {reached}",
                                  fix="pass odd whole numbers, e.g. scale_factors=(1, 3, 5)")
        return folds, extrapolation_weights(reached, zne.extrapolation)

    def calls(self, plan: Plan, worst: np.ndarray | None = None) -> list[Call]:
        """The calibration (two circuits of one measurement group, unless reused), then ``inner``'s calls
        once per scale factor (every folded circuit is new). With ``runtime``: ``inner``'s calls, each
        execution's shots once per noise factor of the runtime's ZNE (the same jobs)."""
        check_inner(self.inner)
        if self.mitigation.runtime is not None:
            n = self.mitigation.runtime.noise_factors
            return [(c[0], c[1] * n if c[1] else c[1]) + tuple(c[2:]) for c in self.inner.calls(plan, worst)]
        calls: list[Call] = []
        if self.mitigation.readout is not None:
            calls.append((2, self.calibration_shots, True, 1))
        return calls + list(self.inner.calls(plan, worst)) * len(self.scale_factors)


def mitigated(strategy: Sampling, mitigation) -> Sampling:
    """``strategy`` wrapped in :class:`Mitigated` when ``mitigation`` (anything :func:`parse_mitigation` reads)
    asks for any, else ``strategy`` itself; checked against the strategy (``target_stderr`` is refused).

    Example:
        >>> from qshift.cost.sampling import FixedShots
        >>> mitigated(FixedShots(1000, seed=3), "zne").seed, mitigated(FixedShots(1000), None)
        (3, FixedShots(shots=1000, seed=None))
    """
    parsed = parse_mitigation(mitigation)
    if parsed is None:
        return strategy
    check_inner(strategy)
    return Mitigated(strategy, parsed, getattr(strategy, "seed", None))


def runtime_executor(executor, runtime: Runtime) -> Executor:
    """An executor like ``executor`` (its cache, store and progress) whose device sends IBM's resilience options:
    :meth:`qshift.IBMBackend.with_resilience` of its device, or a :class:`~qshift.MitigationError` when the device
    cannot pass them through. Nothing has run when it refuses."""
    backend = executor.backend
    resilient = getattr(backend, "with_resilience", None)
    if resilient is None:
        raise MitigationError(f"mitigation 'runtime' is IBM's own, and device {backend.name!r} is not an IBM device",
                              expected="an IBM service device (ibm-brisbane, or IBMBackend(service.backend(...)))",
                              received=f"device {backend.name!r} ({type(backend).__name__})",
                              fix="use mitigation='zne' and/or 'readout' (qshift folds and calibrates on any noisy "
                                  "device), or run on an IBM service device")
    if not isinstance(executor, Executor) or executor.runner is not None:
        raise MitigationError("mitigation 'runtime' runs on a plain executor", expected="qshift.Executor (the "
                              "default) without a custom runner", received=type(executor).__name__,
                              fix="leave executor= out (or pass qshift.Executor(device))")
    return Executor(resilient(runtime.options()), cache=executor.cache, reuse_sampled=executor.reuse_sampled,
                    progress=executor.progress, store=executor.store)


def check_inner(strategy) -> None:
    """Refuse a strategy a mitigation cannot wrap (a target standard error; another wrapper)."""
    if isinstance(strategy, TargetError):
        raise MitigationError("mitigation cannot be combined with target_stderr",
                              expected="shots= (fixed, or allocation='optimal') or an exact request with mitigation",
                              received=f"target_stderr={strategy.target_stderr}",
                              fix="pass shots= instead of target_stderr (the mitigated standard errors are reported)")
    if not isinstance(strategy, (Exact, FixedShots, OptimalAllocation)):
        raise MitigationError("mitigation wraps one plain sampling strategy", expected="Exact, FixedShots or "
                              "OptimalAllocation", received=type(strategy).__name__, fix="mitigate once")


def _shots(strategy) -> int | None:
    return getattr(strategy, "shots", None)


def _extrapolated(parts: list[Samples], weights: np.ndarray, n_out: int, correction: Correction | None,
                  cal: Calibration | None, stats: Stats) -> Samples:
    """Every point at zero noise (and corrected), with its variance and the calibration's shared errors."""
    values = np.zeros((len(parts[0].values), n_out))
    variances = None if parts[0].variances is None else np.zeros_like(values)
    d_offset = d_contrast = None
    for part, w in zip(parts, weights):
        raw = part.values
        values += w * raw[:, :n_out]
        if variances is not None:
            variances += w ** 2 * part.variances[:, :n_out]
        if correction is not None:
            da, dc = correction.sensitivities(raw)
            d_offset = w * da if d_offset is None else d_offset + w * da
            d_contrast = w * dc if d_contrast is None else d_contrast + w * dc
    shared = () if variances is None or cal is None else _shared(d_offset, d_contrast, cal)
    per_point = [p.shots_per_point for p in parts]
    total = None if any(p is None for p in per_point) else np.sum(per_point, axis=0)
    return Samples(values, variances, total, stats, shared)


def _shared(d_offset: np.ndarray, d_contrast: np.ndarray, cal: Calibration) -> tuple[SharedError, ...]:
    """The calibration's errors: ``a = (m0 + m1) / 2`` and ``c = (m0 - m1) / 2``, so ``d/dm0 = (d/da + d/dc) / 2``
    and ``d/dm1 = (d/da - d/dc) / 2``, one independent error per measured ``<Z_q>``."""
    out = []
    for q in range(len(cal.m0)):
        for sensitivity, variance in (((d_offset[q] + d_contrast[q]) / 2, cal.v0[q]),
                                      ((d_offset[q] - d_contrast[q]) / 2, cal.v1[q])):
            if variance > 0:
                out.append(SharedError(sensitivity, float(variance)))
    return tuple(out)
