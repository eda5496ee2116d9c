"""``qshift.minimize``: the energy of a circuit minimized with its own derivatives.

Each iteration is **one** derivative request (:mod:`qshift.api.engine`): the value, the gradient
and, for the second-order methods, the Hessian at one point, planned together so that they share
circuits. ``history[i].circuits`` is therefore the plan's count (``qshift.plan(circuit, order=2)``
for ``"newton"`` and ``"trust-region"``, ``order=1`` for ``"adam"``), less any exact cache hits.

Methods:

* ``"newton"`` (damped Newton): from the eigen-decomposition ``H = V diag(l) V^T`` it solves
  ``(H + mu I) p = -g`` with ``mu = max(0, delta - l_min)``, ``delta = 1e-3 * max(1, max|l|)``, so
  the shifted Hessian is positive definite and a negative or noisy curvature cannot turn the step
  uphill or make it huge; the step is then scaled back to the trust radius when longer. Where the
  Hessian has a significant negative eigenvalue and the step does not reach the radius (at a saddle
  or a maximum the gradient vanishes), the step moves along that eigenvector to the radius.
* ``"trust-region"``: the classic subproblem ``min g.p + p.H.p / 2`` with ``|p| <= radius``,
  solved exactly on the eigen-decomposition (More and Sorensen): the Newton step when the
  Hessian is positive definite and the step fits, otherwise ``p = -(H + lam I)^-1 g`` with
  ``lam >= max(0, -l_min)`` found by bisection so that ``|p| = radius`` (the "hard case", a gradient
  with no component along the lowest eigenvector, adds that eigenvector to reach the radius).
  Unlike ``"newton"`` a long step bends towards the gradient instead of being shortened.
* ``"adam"``: first order (Kingma and Ba), ``learning_rate`` and ``betas=(0.9, 0.999)``,
  ``eps=1e-8``; every step is taken.

Trust radius (second-order methods). A step from the iterate ``x`` to ``x + p`` is judged by the
value at ``x + p``, which arrives with the next iteration's request (so judging costs no extra
circuits): ``actual = f(x + p) - f(x)`` against the quadratic model's ``predicted = g.p + p.H.p / 2``.
The step is **accepted** when ``actual <= 0.1 * predicted + 2 * s`` (``s`` the standard error of
the difference, 0 when exact; plus ``1e-13 * max(1, |f|)`` for rounding). A **rejected** step
counts as an iteration (its request was run and paid for): the next step is computed again from
``x``'s own derivatives with the radius cut to a quarter of the step. When the ratio
``actual / predicted`` is meaningful (``|predicted|`` above that noise allowance),
a ratio below 0.25 shrinks the radius to a quarter of the step and one above 0.75 on a step that
reached the radius doubles it (up to ``max_radius``). Shot noise alone never shrinks it.

Stopping. The run stops, successfully, at the first iterate where **every gradient component is
within its error**: ``|g_i| <= max(tol, 2 * stderr_i)`` (exact results: ``|g_i| <= tol``, default
``1e-6``), and, for the second-order methods, the Hessian's lowest eigenvalue is not significantly
negative (``>= -max(tol, 2 * |stderr(H)|_F)``; otherwise the point is a saddle or a maximum and the
run goes on downhill). It also stops after ``maxiter`` steps, when the trust radius falls below
``1e-12`` (no progress at this precision), or when ``callback`` asks to.

Iterations and seeds. ``nit`` counts steps (accepted and rejected); the run makes ``nit + 1``
requests, the first at ``x0``, each one a record in ``history``. With shots, request ``i`` gets the
``i``-th child of ``numpy.random.SeedSequence(seed)`` (:mod:`qshift._seeding`), so a seeded run is
reproducible, and with an evaluation store a seeded rerun after a crash reads the finished
requests back. Every request goes through one executor (one backend, one store, one cache).

Example:
    >>> import numpy as np, qshift
    >>> sin = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))   # <X> after RY(theta): sin(theta)
    >>> r = qshift.minimize(sin, [0.5])
    >>> r.success, round(r.fun, 9), bool(np.isclose(np.sin(r.x[0]), -1))
    (True, -1.0, True)
    >>> r.nit, len(r.history), int(r.history.circuits.sum()) == r.stats.circuits
    (5, 6, True)
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from qshift._display import _CARD, _table
from qshift._errors import RequestError, ValuesError
from qshift._seeding import as_int
from qshift.api.engine import run
from qshift.api.request import Arguments, Request
from qshift.api.result import Derivatives
from qshift.cost.families import price_calls
from qshift.execution.cluster import as_executor, names_a_cluster
from qshift.execution.executor import PROGRESS_DELAY, Stats, _interactive
from qshift.ir.circuit import Circuit

__all__ = ["History", "Iteration", "MinimizeResult", "minimize", "newton_step", "trust_region_step"]

METHODS = ("newton", "trust-region", "adam")
SIGMAS = 2.0  # a gradient component within this many standard errors is indistinguishable from zero
ACCEPT, SHRINK, GROW = 0.1, 0.25, 0.75  # ratio thresholds of the trust radius
MIN_RADIUS = 1e-12


# -- the result -----------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Iteration:
    """One request of :func:`minimize`: the point, what was measured there, and what it cost.

    Attributes:
        x: the point (all symbols).
        energy: the value of the minimized output there.
        energy_stderr: its standard error from shot noise (``None`` when exact).
        grad_norm: the Euclidean norm of the gradient (over the optimized symbols).
        grad_stderr_norm: the norm of the gradient's standard errors (``None`` when exact).
        step_norm: the length of the step from the iterate to this point (0 for ``x0``).
        radius: the trust radius that step was computed with (``None`` for ``x0`` and for Adam).
        accepted: whether the point became the iterate (a rejected trial point did not).
        stats: what this request executed (circuits, jobs, executions, shots, ...).
        price: its price on the device's profile as :func:`qshift.estimate` prices the request
            (a ``target_stderr`` request: the expected figure), or ``None`` when the device has no prices.
    """

    x: np.ndarray
    energy: float
    energy_stderr: float | None
    grad_norm: float
    grad_stderr_norm: float | None
    step_norm: float
    radius: float | None
    accepted: bool
    stats: Stats = field(repr=False)
    price: float | None = None

    @property
    def circuits(self) -> int:
        return self.stats.circuits

    @property
    def shots(self) -> int:
        return self.stats.shots


@dataclass(frozen=True)
class History(Sequence):
    """Every request of a run, in order (a sequence of :class:`Iteration`), with columns as arrays.

    ``history.energies``, ``.energy_stderr`` (NaN when exact), ``.grad_norms``, ``.step_norms``,
    ``.radii`` (NaN where none), ``.accepted``, ``.circuits``, ``.shots``, ``.prices`` (NaN without
    prices) are one entry per request.
    """

    iterations: tuple[Iteration, ...] = ()

    def __getitem__(self, i):
        return self.iterations[i]

    def __len__(self) -> int:
        return len(self.iterations)

    def _column(self, name: str, dtype=float) -> np.ndarray:
        values = [getattr(it, name) for it in self.iterations]
        return np.array([np.nan if v is None else v for v in values], dtype=dtype)

    @property
    def energies(self) -> np.ndarray:
        return self._column("energy")

    @property
    def energy_stderr(self) -> np.ndarray:
        return self._column("energy_stderr")

    @property
    def grad_norms(self) -> np.ndarray:
        return self._column("grad_norm")

    @property
    def step_norms(self) -> np.ndarray:
        return self._column("step_norm")

    @property
    def radii(self) -> np.ndarray:
        return self._column("radius")

    @property
    def accepted(self) -> np.ndarray:
        return self._column("accepted", bool)

    @property
    def circuits(self) -> np.ndarray:
        return self._column("circuits", int)

    @property
    def shots(self) -> np.ndarray:
        return self._column("shots", int)

    @property
    def prices(self) -> np.ndarray:
        return self._column("price")


@dataclass(frozen=True, eq=False)
class MinimizeResult:
    """The answer of :func:`minimize`, in the shape of ``scipy.optimize.OptimizeResult``.

    Attributes:
        x: the final iterate (every symbol; those outside ``wrt`` as given in ``x0``).
        fun: the output's value there (an estimate, with shots).
        fun_stderr: its standard error (``None`` when exact).
        jac: the gradient there, over the optimized symbols (``wrt``).
        jac_stderr: its standard errors (``None`` when exact).
        hess: the Hessian there (``None`` for Adam).
        nit: steps taken, accepted and rejected (the run made ``nit + 1`` requests).
        success: whether the stopping rule was met (see :mod:`qshift.api.minimize`).
        message: why the run stopped.
        method: ``"newton"``, ``"trust-region"`` or ``"adam"``.
        history: every request (:class:`History`).
        stats: what the whole run executed (the sum of the requests' stats).
        wrt: the names of the optimized symbols.
    """

    x: np.ndarray
    fun: float
    fun_stderr: float | None
    jac: np.ndarray
    jac_stderr: np.ndarray | None
    hess: np.ndarray | None
    nit: int
    success: bool
    message: str
    method: str
    history: History = field(repr=False)
    stats: Stats = field(repr=False)
    wrt: tuple[str, ...] = field(default=(), repr=False)

    @property
    def price(self) -> float | None:
        """The summed price of the requests (``None`` on a device without prices)."""
        prices = [it.price for it in self.history]
        return None if not prices or any(p is None for p in prices) else float(sum(prices))

    def __repr__(self) -> str:
        return (f"MinimizeResult(method={self.method!r}, success={self.success}, fun={_energy(self)}, "
                f"nit={self.nit}, circuits={self.stats.circuits})")

    def __str__(self) -> str:
        head = (f"minimize ({self.method}): {self.message}\n  fun = {_energy(self)} after {self.nit} step(s), "
                f"{self.stats.circuits:,} circuits, {self.stats.shots:,} shots")
        rows = _rows(self)
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join([head] + ["  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows])

    def _repr_html_(self) -> str:
        rows = _rows(self)
        head = (f"<b>minimize</b> ({html.escape(self.method)}): {html.escape(self.message)}<br>"
                f"fun = {html.escape(_energy(self))} after {self.nit} step(s)")
        return _CARD.format(head + _table(rows[0], rows[1:]))


def _energy(r: MinimizeResult) -> str:
    return f"{r.fun:.8g}" + ("" if r.fun_stderr is None else f" ± {r.fun_stderr:.2g}")


def _rows(r: MinimizeResult, limit: int = 20) -> list[list[str]]:
    header = ["it", "energy", "± stderr", "|grad|", "step", "radius", "accepted", "circuits", "shots"]
    fmt = lambda v: "—" if v is None else f"{v:.3g}"
    rows = [[str(i), f"{it.energy:.8g}", fmt(it.energy_stderr), f"{it.grad_norm:.3g}", f"{it.step_norm:.3g}",
             fmt(it.radius), "yes" if it.accepted else "no", f"{it.circuits:,}", f"{it.shots:,}"]
            for i, it in enumerate(r.history)]
    if len(rows) > limit:
        rows = rows[:limit // 2] + [["…"] * len(header)] + rows[-limit // 2:]
    return [header] + rows


# -- steps: pure NumPy ------------------------------------------------------------------------------

def newton_step(g, h, radius: float, curvature_tol: float = 0.0) -> np.ndarray:
    """The damped Newton step: ``(H + mu I) p = -g``, made positive definite, scaled to ``radius``.

    ``mu = max(0, delta - l_min)`` with ``delta = 1e-3 * max(1, max|l|)``. A significantly
    negative eigenvalue (``l_min < -curvature_tol``) whose direction the step does not follow to the
    radius (a vanishing gradient at a saddle or a maximum) is followed there.

    Example:
        >>> newton_step([1.0, 0.0], [[2.0, 0.0], [0.0, 4.0]], radius=1.0)
        array([-0.5,  0. ])
        >>> newton_step([0.0], [[-1.0]], radius=0.5)       # a maximum: downhill, to the radius
        array([0.5])
    """
    g, lam, vecs = _eigen(g, h)
    gamma = vecs.T @ g
    delta = 1e-3 * max(1.0, float(np.max(np.abs(lam))))
    p = vecs @ (-gamma / (lam + max(0.0, delta - lam[0])))
    norm = float(np.linalg.norm(p))
    if norm > radius:
        return p * (radius / norm)
    if lam[0] < -curvature_tol:
        return _to_boundary(p, vecs[:, 0], gamma[0], radius)
    return p


def trust_region_step(g, h, radius: float) -> np.ndarray:
    """The exact solution of ``min g.p + p.H.p / 2`` subject to ``|p| <= radius`` (More and Sorensen).

    Example:
        >>> trust_region_step([1.0, 0.0], [[2.0, 0.0], [0.0, 4.0]], radius=1.0)   # the Newton step fits
        array([-0.5,  0. ])
        >>> p = trust_region_step([1.0, 1.0], [[1.0, 0.0], [0.0, -1.0]], radius=2.0)
        >>> round(float(np.linalg.norm(p)), 12)
        2.0
    """
    g, lam, vecs = _eigen(g, h)
    gamma = vecs.T @ g
    scale = max(1.0, float(np.max(np.abs(lam))))
    low = max(0.0, -float(lam[0]))
    flat = lam + low <= 1e-12 * scale  # directions the shift at ``low`` makes singular
    if not np.any(np.abs(gamma[flat]) > 1e-14 * max(1.0, float(np.linalg.norm(g)))):
        p = vecs[:, ~flat] @ (-gamma[~flat] / (lam[~flat] + low))
        if np.linalg.norm(p) <= radius:  # interior (low = 0) or the hard case (low > 0)
            return p if low == 0.0 else _to_boundary(p, vecs[:, 0], gamma[0], radius)
    shift = _secular_root(gamma, lam, low, radius)
    return vecs @ (-gamma / (lam + shift))


def _eigen(g, h) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = np.asarray(g, dtype=float)
    h = np.asarray(h, dtype=float)
    lam, vecs = np.linalg.eigh((h + h.T) / 2)  # ascending eigenvalues
    return g, lam, vecs


def _to_boundary(p: np.ndarray, v: np.ndarray, slope: float, radius: float) -> np.ndarray:
    """``p + tau v`` with ``|p + tau v| = radius``, ``tau`` of the sign that goes downhill (``-slope``)."""
    pv, pp = float(p @ v), float(p @ p)
    root = math.sqrt(max(pv * pv + radius * radius - pp, 0.0))
    tau = -pv + root if slope <= 0 else -pv - root
    return p + tau * v


def _secular_root(gamma: np.ndarray, lam: np.ndarray, low: float, radius: float) -> float:
    """The shift ``s > low`` with ``|(diag(lam) + s)^-1 gamma| = radius``, by bisection (monotone)."""
    high = low + float(np.linalg.norm(gamma)) / radius
    size = lambda s: float(np.linalg.norm(gamma / np.maximum(lam + s, 1e-300)))
    lo = low
    for _ in range(200):
        mid = 0.5 * (lo + high)
        if mid <= lo or mid >= high:
            break
        if size(mid) > radius:
            lo = mid
        else:
            high = mid
    return high


# -- one request per iteration ----------------------------------------------------------------------

@dataclass(frozen=True)
class _Point:
    """What one request measured at ``x``, restricted to the optimized symbols."""

    x: np.ndarray
    f: float
    f_se: float
    g: np.ndarray
    g_se: np.ndarray
    h: np.ndarray | None
    h_se: np.ndarray | None
    exact: bool
    stats: Stats
    price: float | None

    def gradient_small(self, tol: float) -> bool:
        """Every component within its error: ``|g_i| <= max(tol, 2 stderr_i)``."""
        return bool(np.all(np.abs(self.g) <= np.maximum(tol, SIGMAS * self.g_se)))

    def curvature_tol(self, tol: float) -> float:
        """How negative the Hessian's lowest eigenvalue may be and still be noise (or rounding)."""
        return max(tol, SIGMAS * float(np.linalg.norm(self.h_se))) if self.h_se is not None else tol

    def lowest_curvature(self) -> float:
        return float(np.linalg.eigvalsh((self.h + self.h.T) / 2)[0]) if self.h is not None and self.h.size else 0.0

    def converged(self, tol: float) -> bool:
        return self.gradient_small(tol) and self.lowest_curvature() >= -self.curvature_tol(tol)


class _Evaluator:
    """Runs the requests of one minimization through one executor, each with its own child seed."""

    def __init__(self, circuit: Circuit, args: Arguments):
        self.circuit = circuit
        self.args = args
        self.seeds = None if args.seed is None else np.random.SeedSequence(args.seed)
        self.wrt: tuple[int, ...] = ()

    def __call__(self, x: np.ndarray) -> _Point:
        seed = None if self.seeds is None else as_int(self.seeds.spawn(1)[0])
        request = Request.of(self.circuit, x, replace(self.args, seed=seed))
        d = run(request)
        self.wrt = request.plan.wrt
        return _point(x, d, _price(request))


def _price(request: Request) -> float | None:
    backend = request.executor.backend
    profile = backend.profile
    if profile is None or profile.price is None:
        return None
    return price_calls(request.sampling, request.plan, request.circuit, profile, backend.max_batch).price


def _point(x: np.ndarray, d: Derivatives, price: float | None) -> _Point:
    se = lambda k: d.standard_error(k)[0] if k in d.tensors else None
    h = d.hessian[0] if 2 in d.tensors else None
    h_se = se(2) if d.stderr is not None else None
    return _Point(x, float(d.value[0]), float(se(0)), d.jacobian[0], se(1), h, h_se, d.stderr is None,
                  d.stats.copy(), price)


# -- the run: history, callback, progress -----------------------------------------------------------

class _Run:
    """The records of a run so far, its callback and its progress bar."""

    def __init__(self, method: str, evaluate: _Evaluator, callback, maxiter: int, progress):
        self.method = method
        self.evaluate = evaluate
        self.callback = callback
        self.records: list[Iteration] = []
        self.stats = Stats()
        self.bar = _bar(method, maxiter, progress)

    def request(self, x: np.ndarray, *, step: float = 0.0, radius: float | None = None) -> _Point:
        point = self.evaluate(x)
        self.stats.add(point.stats)
        self.records.append(Iteration(x.copy(), point.f, None if point.exact else point.f_se,
                                      float(np.linalg.norm(point.g)),
                                      None if point.exact else float(np.linalg.norm(point.g_se)),
                                      step, radius, True, point.stats, point.price))
        return point

    def reject_last(self) -> None:
        self.records[-1] = replace(self.records[-1], accepted=False)

    def result(self, point: _Point, success: bool, message: str) -> MinimizeResult:
        names = tuple(self.evaluate.circuit.symbols[i] for i in self.evaluate.wrt)
        return MinimizeResult(point.x.copy(), point.f, None if point.exact else point.f_se, point.g,
                              None if point.exact else point.g_se, point.h, len(self.records) - 1, success,
                              message, self.method, History(tuple(self.records)), self.stats.copy(), names)

    def stop_asked(self, point: _Point) -> bool:
        """Report the iteration; ``True`` when the callback returns ``True`` or raises ``StopIteration``."""
        if self.bar is not None:
            self.bar.set_postfix_str(f"energy {point.f:.8g}, |grad| {np.linalg.norm(point.g):.2g}", refresh=False)
            self.bar.update(1 if len(self.records) > 1 else 0)
        if self.callback is None:
            return False
        try:
            return self.callback(self.result(point, False, "running")) is True
        except StopIteration:
            return True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _bar(method: str, maxiter: int, progress):
    if progress is False or not (progress or _interactive()):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=maxiter, desc=f"minimize ({method})", unit="step", leave=False,
                delay=0.0 if progress else PROGRESS_DELAY)


_STOPPED = "stopped by the callback"


@dataclass(frozen=True)
class _Options:
    """The checked options of one run."""

    method: str
    maxiter: int
    tol: float
    radius: float
    max_radius: float
    learning_rate: float
    betas: tuple[float, float]


def _second_order(run_: _Run, x: np.ndarray, opts: _Options) -> MinimizeResult:
    step_of = newton_step if opts.method == "newton" else (lambda g, h, r, _: trust_region_step(g, h, r))
    current = run_.request(x)
    wrt = list(run_.evaluate.wrt)
    radius = opts.radius
    if run_.stop_asked(current):
        return run_.result(current, False, _STOPPED)
    for _ in range(opts.maxiter):
        if current.converged(opts.tol):
            return run_.result(current, True, _converged(current))
        p = step_of(current.g, current.h, radius, current.curvature_tol(opts.tol))
        trial_x = current.x.copy()
        trial_x[wrt] += p
        trial = run_.request(trial_x, step=float(np.linalg.norm(p)), radius=radius)
        predicted = float(current.g @ p + 0.5 * p @ current.h @ p)
        accepted, radius = _judge(current, trial, predicted, float(np.linalg.norm(p)), radius, opts.max_radius)
        if accepted:
            current = trial
        else:
            run_.reject_last()
        if run_.stop_asked(current):
            return run_.result(current, False, _STOPPED)
        if radius < MIN_RADIUS:
            return run_.result(current, False, f"the trust radius fell below {MIN_RADIUS:g}: no progress at "
                                               "this precision")
    if current.converged(opts.tol):
        return run_.result(current, True, _converged(current))
    return run_.result(current, False, f"maxiter={opts.maxiter} steps reached")


def _judge(current: _Point, trial: _Point, predicted: float, step: float, radius: float,
           max_radius: float) -> tuple[bool, float]:
    """(accept the trial point?, the next trust radius): see the module notes."""
    actual = trial.f - current.f
    noise = SIGMAS * math.hypot(current.f_se, trial.f_se) + 1e-13 * max(1.0, abs(current.f))
    if actual > ACCEPT * predicted + noise:
        return False, step / 4
    if -predicted <= noise:
        return True, radius  # the ratio is noise: keep the radius
    ratio = actual / predicted if predicted < 0 else 1.0
    if ratio < SHRINK:
        return True, step / 4
    if ratio > GROW and step >= 0.99 * radius:
        return True, min(2 * radius, max_radius)
    return True, radius


def _adam(run_: _Run, x: np.ndarray, opts: _Options) -> MinimizeResult:
    b1, b2 = opts.betas
    current = run_.request(x)
    wrt = list(run_.evaluate.wrt)
    if run_.stop_asked(current):
        return run_.result(current, False, _STOPPED)
    m = np.zeros_like(current.g)
    v = np.zeros_like(current.g)
    for t in range(1, opts.maxiter + 1):
        if current.gradient_small(opts.tol):
            return run_.result(current, True, _converged(current))
        m = b1 * m + (1 - b1) * current.g
        v = b2 * v + (1 - b2) * current.g ** 2
        p = -opts.learning_rate * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + 1e-8)
        new_x = current.x.copy()
        new_x[wrt] += p
        current = run_.request(new_x, step=float(np.linalg.norm(p)))
        if run_.stop_asked(current):
            return run_.result(current, False, _STOPPED)
    if current.gradient_small(opts.tol):
        return run_.result(current, True, _converged(current))
    return run_.result(current, False, f"maxiter={opts.maxiter} steps reached")


def _converged(point: _Point) -> str:
    if point.exact:
        return "converged: every gradient component is within tol"
    return f"converged: every gradient component is within {SIGMAS:g} standard errors (or tol)"


# -- the public function ----------------------------------------------------------------------------

def minimize(circuit: Circuit, x0, method: str = "newton", *, output: int | None = None, device="local",
             shots: int | None = None, seed: int | None = None, target_stderr: float | None = None,
             maxiter: int = 100, tol: float = 1e-6, callback: Callable | None = None, wrt=None,
             radius: float = 0.5, max_radius: float = math.pi, learning_rate: float = 0.05,
             betas: tuple[float, float] = (0.9, 0.999), rule: str = "standard", allocation: str | None = None,
             shift: float | None = None, pilot_shots: int = 100, store=None, executor=None,
             max_cost: float | None = None, progress: bool | None = None, mitigation=None) -> MinimizeResult:
    """Minimize one output of ``circuit`` (an energy) over its symbols, from ``x0``.

    Args:
        circuit: the circuit; one output (``CircuitBuilder.expectation({...})`` with weights, or
            ``Circuit.from_pennylane`` of ``qml.expval(H)``), or several with ``output=``.
        x0: the starting point, one value per symbol (a number for a one-symbol circuit).
        method: ``"newton"`` (damped Newton in a trust region), ``"trust-region"`` (the exact
            trust-region subproblem) or ``"adam"`` (first order); see :mod:`qshift.api.minimize`.
        output: the index of the output to minimize, when the circuit has several.
        device, shots, seed, target_stderr, rule, allocation, shift, pilot_shots, store, executor:
            as for :func:`qshift.derivatives`, for every request (request ``i`` gets the ``i``-th
            child seed of ``seed``); ``store`` and ``device`` make one executor for the whole run.
        maxiter: the most steps (accepted or rejected); the run makes at most ``maxiter + 1`` requests.
        tol: the gradient tolerance: stop when every ``|g_i| <= max(tol, 2 * stderr_i)``.
        callback: called after every request with the result so far (a :class:`MinimizeResult`
            whose ``x`` is the current iterate); returning ``True`` or raising ``StopIteration``
            stops the run (``success=False``, ``message="stopped by the callback"``).
        wrt: the names of the symbols to optimize (default all); the others stay as in ``x0``.
        radius, max_radius: the initial and the largest trust radius, in radians (second-order methods).
        learning_rate, betas: Adam's step size and moment decay rates.
        max_cost: refuse any request priced over this (each request is checked before it runs,
            as with :func:`qshift.derivatives`).
        progress: a bar over the steps (``None``: on runs longer than about two seconds, in a
            terminal or Jupyter; ``True``: at once; ``False``: never, nor the requests' bars).
        mitigation: as for :func:`qshift.derivatives`, applied to every iteration's request (a
            readout calibration is taken once and reused while it is fresh).

    Returns:
        a :class:`MinimizeResult`: ``x``, ``fun`` (``fun_stderr`` with shots), ``jac``, ``hess``,
        ``nit``, ``success``, ``message``, ``history`` (every request: energies, gradient norms,
        standard errors, steps, radii, circuits, shots, prices) and ``stats`` (everything executed).

    Example:
        >>> import qshift
        >>> b = qshift.CircuitBuilder(2)
        >>> a, t = b.inputs("a", "t")
        >>> c = b.ry(a, 0).ry(t, 1).cx(0, 1).expectation({"Z0 Z1": 0.5, "X0": -0.2, "": 1.1}).build()
        >>> r = qshift.minimize(c, [0.1, 0.2], method="trust-region")
        >>> r.success, round(r.fun, 6), int(r.history.circuits[0]) == qshift.plan(c, order=2).circuits
        (True, 0.561484, True)
    """
    circuit = _one_output(circuit, output)
    opts = _options(method, maxiter, tol, radius, max_radius, learning_rate, betas)
    x = _start(circuit, x0)
    _check_seed(seed)
    _check_callback(callback)
    if executor is not None and store is not None and not names_a_cluster(executor):
        raise RequestError("store= applies to the executor minimize makes for device=, not to one passed in",
                           expected="store=None with executor=", received=f"store={store!r}",
                           fix="make the executor with it: qshift.Executor(backend, store=qshift.EvaluationStore(path))")
    shared = as_executor(executor, device, progress=None if progress else progress, store=store)
    args = Arguments(order=1 if opts.method == "adam" else 2, device=device, shots=shots, seed=seed, shift=shift,
                     rule=rule, wrt=wrt, executor=shared, progress=progress, max_cost=max_cost,
                     target_stderr=target_stderr, allocation=allocation, pilot_shots=pilot_shots,
                     mitigation=mitigation)
    run_ = _Run(opts.method, _Evaluator(circuit, args), callback, opts.maxiter, progress)
    try:
        return (_adam if opts.method == "adam" else _second_order)(run_, x, opts)
    finally:
        run_.close()


def _one_output(circuit, output) -> Circuit:
    if not isinstance(circuit, Circuit):
        raise RequestError("minimize needs a qshift.Circuit", expected="a qshift.Circuit",
                           received=type(circuit).__name__,
                           fix="convert it first: qshift.Circuit.from_qasm / from_pennylane / from_qiskit")
    n = circuit.n_outputs
    if output is None:
        if n != 1:
            raise RequestError(f"minimize minimizes one output and this circuit has {n}",
                               expected="a circuit with one output (an energy), or output= naming one",
                               received=f"{n} outputs: {', '.join(str(o) for o in circuit.outputs[:4])}"
                                        + (", ..." if n > 4 else ""),
                               fix=f"pass output=<index> (0 .. {n - 1}), or measure one weighted sum: "
                                   "CircuitBuilder.expectation({'Z0 Z1': 0.5, 'X0': -0.2, '': 1.1})")
        return circuit
    if isinstance(output, bool) or not isinstance(output, numbers.Integral) or not 0 <= output < n:
        raise RequestError("output must be the index of one of the circuit's outputs",
                           expected=f"an integer in 0 .. {n - 1}", received=repr(output),
                           fix="pass output=0 for the first output")
    if n == 1:
        return circuit
    return Circuit(circuit.n_qubits, circuit.operations, (circuit.outputs[int(output)],), circuit.symbols,
                   name=f"{circuit.name}[{int(output)}]")


def _options(method, maxiter, tol, radius, max_radius, learning_rate, betas) -> _Options:
    if method not in METHODS:
        raise RequestError(f"unknown minimize method {method!r}", expected=" or ".join(repr(m) for m in METHODS),
                           received=repr(method), fix='pass method="newton" (the default), "trust-region" or "adam"')
    if isinstance(maxiter, bool) or not isinstance(maxiter, numbers.Integral) or maxiter < 1:
        raise RequestError("maxiter must be a positive integer", expected="maxiter >= 1", received=repr(maxiter),
                           fix="pass e.g. maxiter=50")
    _positive("tol", tol, zero=True)
    _positive("radius", radius)
    _positive("max_radius", max_radius)
    _positive("learning_rate", learning_rate)
    if radius > max_radius:
        raise RequestError("radius must not exceed max_radius", expected=f"radius <= {max_radius!r}",
                           received=f"radius={radius!r}", fix="lower radius or raise max_radius")
    if (len(tuple(betas)) != 2 or not all(isinstance(b, numbers.Real) and 0 <= b < 1 for b in betas)):
        raise RequestError("betas must be two numbers in [0, 1)", expected="e.g. betas=(0.9, 0.999)",
                           received=repr(betas), fix="pass betas=(0.9, 0.999)")
    return _Options(method, int(maxiter), float(tol), float(radius), float(max_radius), float(learning_rate),
                    (float(betas[0]), float(betas[1])))


def _positive(name: str, value, *, zero: bool = False) -> None:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not zero):
        raise RequestError(f"{name} must be a {'non-negative' if zero else 'positive'} finite number",
                           expected=f"{name} {'>=' if zero else '>'} 0", received=repr(value),
                           fix=f"pass a {'non-negative' if zero else 'positive'} {name}")


def _start(circuit: Circuit, x0) -> np.ndarray:
    rows, batch = circuit.check_values(x0, name="x0")
    if batch != ():
        raise ValuesError("x0 must be one point", expected=f"shape ({circuit.n_symbols},): one value per symbol "
                          f"{list(circuit.symbols)}", received=f"shape {batch + (circuit.n_symbols,)}",
                          fix="pass one starting point (minimize one start at a time)")
    return rows[0].copy()


def _check_seed(seed) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise RequestError("seed must be a non-negative integer or None", expected="e.g. seed=7",
                           received=repr(seed), fix="pass a non-negative integer, or None")


def _check_callback(callback) -> None:
    if callback is not None and not callable(callback):
        raise RequestError("callback must be callable", expected="a function of the result so far",
                           received=type(callback).__name__, fix="pass callback=lambda result: ...")
