"""``qshift.tf.function``: a circuit as a TensorFlow op with derivatives of any order.

The recursion. ``f = qshift.tf.function(circuit)`` maps symbol values ``x``
``(..., n)`` to expectation values ``(..., m)``. Behind ``f`` stands a family of
ops ``D0, D1, D2, ...``: ``Dk(x)`` is the order-``k`` derivative tensor
``(..., m) + (n,) * k``, computed in NumPy by the engine behind ``qshift.derivatives``
(:func:`qshift.api.engine.run`, on ``f``'s request moved to ``x`` and ``orders=(k,)``:
the arguments, the shots and the executor are checked and resolved once, when ``f`` is made).
Each ``Dk`` is a ``tf.custom_gradient`` whose gradient is the vector-Jacobian
product written with ordinary TF ops on the *next* op::

    grad_k(u) = einsum(u, D{k+1}(x))      # u: (..., m) + (n,) * k  ->  (..., n)

TensorFlow differentiates ``grad_k`` like any other TF code: linearly in the
upstream ``u``, and in ``x`` through ``D{k+1}``, whose own custom gradient
calls ``D{k+2}``, and so on. A tape nested ``k`` deep reaches ``Dk``; nothing
is written per order, and upstream gradients are honoured exactly because
each order only ever contracts them with the next tensor.

The caching at each order. Every ``Dk`` of one ``f`` sends its points through
one :class:`~qshift.Executor` with a bounded LRU evaluation cache, keyed by
exact angles. The points of order ``k >= 1`` never include lower-order points
except the unshifted one (the forward pass's), so a nested-tape computation
costs the planner's union count::

    order  created by                 new circuits (two-term gates, n symbols)
    0      f(x)                       1
    1      tape.gradient              2n           -> 2n + 1 in total
    2      a tape around that         2n^2 - n     -> 2n^2 + n + 1 = plan(order=2).circuits
    k      k nested tapes             the rest of qshift.plan(circuit, order=k).circuits

TensorFlow asks for the same ``Dk(x)`` again and again: the loop of
``tape.jacobian(..., experimental_use_pfor=False)`` runs the backward pass once
per output entry. A small memo of the last derivative tensors (exact devices
only; noisy estimates are never reused across requests) answers those without
replanning, and the cache answers anything it misses, so no output and no row
is ever executed twice. ``f.stats`` counts what was actually run.

Eager versus graph mode. Eagerly, ``tf.custom_gradient`` records ``grad_k`` on
the tape and TF calls it eagerly, or while tracing the loop body of a
vectorized ``tape.jacobian`` (a ``tf.function``); ``grad_k`` then refers to the
eager input, which every graph may capture. Inside ``tf.function`` (and Keras
``fit``) TF wraps the outputs in an ``IdentityN`` op with a gradient override
and calls ``grad_k`` when it builds the gradient graph; ``grad_k`` then refers
to a copy of the input made in the op's own graph (never to a tensor of another
function's graph), so TF's capture of forward tensors also works for the
backward graph of a backward graph.

The vectorized Jacobian. ``Dk`` runs as ``tf.numpy_function(...,
stateful=False)``. Declaring it stateless is what makes
``experimental_use_pfor=True`` (the default) correct at every nesting: pfor
keeps a stateless op whose inputs do not depend on the loop index as it is, and
``D{k+1}(x)`` never depends on which output entry the loop is on, so its
custom gradient survives. (A *stateful* ``numpy_function`` is rewritten by pfor
into a ``while_loop`` whose copy of the op has lost the gradient override; an
outer tape then gets zeros without an error.) What cannot work is calling ``f``
inside ``tf.vectorized_map`` or ``pfor`` on values that depend on the loop
index: pfor then rewrites the op itself and drops its gradient. ``f`` detects
that and raises :class:`~qshift.QShiftError`; ``f`` takes leading batch
dimensions, so call it on the whole batch instead. Inside one ``tf.function``,
a vectorized ``tape.jacobian`` around an unvectorized one (``pfor`` on the outer
tape, ``False`` on the innermost) is beyond TensorFlow itself: its pfor cannot
convert the gradient of a ``while_loop``, and it raises its own ``ValueError``
("Vectorization can be disabled ...") for plain TF ops just as for ``f``. Use
the same ``experimental_use_pfor`` on every tape there, or run eagerly.

Gradients only where asked. ``qshift.tf.function(circuit, wrt=[names])``
differentiates only the listed symbols; the others are constants, as if each
were wrapped in ``tf.stop_gradient``. Every ``Dk`` then asks the engine for
the listed symbols only (the planner's ``wrt``) and scatters the answer into
the full symbol axes, zeros elsewhere, so the shapes above do not change and
the recursion needs nothing else: ``grad_k`` contracts with ``D{k+1}``,
whose entries vanish whenever one of their indices is not listed, so the
gradient (and every higher entry of a nested tape) that involves such a symbol
is exactly zero. The circuits drop to ``qshift.plan(circuit, order=k,
wrt=wrt).circuits`` per row: ``2 * len(wrt) + 1`` for a value and its
gradient, ``2 w^2 + w + 1`` (``w = len(wrt)``) for a Hessian of two-term gates.
Input features fed straight from a dataset are the use: their derivatives are
never needed (``QuantumLayer(..., input_gradients=False)`` in
:mod:`qshift.keras`).

The adjoint method. With ``method="adjoint"`` (exact simulators), the gradient
of ``D0`` is not ``einsum(u, D1(x))``: it is one op ``V(x, u)``, the
vector-Jacobian product by the adjoint method (one forward and one backward
sweep per row, the Jacobian never formed), which is all a training step needs.
``V``'s own custom gradient goes back into the family: ``dV/du . w = D1(x) w``
and ``dV/dx . w = u . D2(x) . w``, where ``D1`` is the adjoint Jacobian and ``D2``
the shift rule applied to adjoint gradients (or the shifted batch, whichever the
simulator's cost model finds cheaper; see :func:`qshift.derivatives`). Nested
tapes therefore work as with the shift rule, and ``f.stats`` counts the sweeps
(``forward_sweeps``, ``backward_sweeps``) besides any circuits. Inside a
vectorized ``tape.jacobian`` the upstream depends on pfor's loop index, and pfor
would rewrite ``V`` and drop its gradient; there ``D0``'s gradient stays
``einsum(u, D1(x))`` with the adjoint Jacobian ``D1`` (one run for all entries).

``numpy_function`` cannot be compiled by XLA: keep ``jit_compile`` off (the
Keras layer tells Keras so).

Example:
    >>> import numpy as np, tensorflow as tf, qshift
    >>> f = qshift.tf.function(qshift.Circuit.from_qasm(qshift.circuit_path("sin")))
    >>> x = tf.constant([0.5], dtype=tf.float64)
    >>> with tf.GradientTape() as outer:
    ...     outer.watch(x)
    ...     with tf.GradientTape() as inner:
    ...         inner.watch(x)
    ...         y = f(x)
    ...     g = inner.gradient(y, x)
    >>> h = outer.gradient(g, x)
    >>> np.allclose([y[0], g[0], h[0]], [np.sin(0.5), np.cos(0.5), -np.sin(0.5)])
    True
    >>> f.stats.circuits, f.stats.jobs
    (4, 3)
"""

from __future__ import annotations

import functools
import re
import string
import threading
from collections import OrderedDict

import numpy as np

from qshift._errors import QShiftError, RequestError, ValuesError, require

tf = require("tensorflow", "tf")

from qshift.api.engine import run  # noqa: E402
from qshift.api.request import Arguments, Request  # noqa: E402
from qshift.execution.cluster import as_executor  # noqa: E402
from qshift.execution.executor import EvaluationCache, Stats  # noqa: E402
from qshift.ir.circuit import Circuit  # noqa: E402
from qshift.planning.planner import wrt_names  # noqa: E402

__all__ = ["QuantumFunction", "function"]

_MEMO_ENTRIES = 8  # derivative tensors kept for repeated requests at the same values ...
_MEMO_BYTES = 64 * 2**20  # ... and at most this much memory for them
_TAPES = 2  # forward sweeps kept for their backward pass (method="adjoint") ...
_TAPE_BYTES = 256 * 2**20  # ... and at most this much memory for them
_LOOP_VAR = re.compile(r"(^|/)loop_body(_\d+)?/PlaceholderWithDefault(_\d+)?$")


def function(circuit, device="local", shots: int | None = None, shift: float | None = None, *,
             seed: int | None = None, cache_size: int = 100_000, executor=None, wrt=None,
             method: str = "shift", mitigation=None) -> "QuantumFunction":
    """A TensorFlow callable ``f(values) -> expectations`` with parameter-shift derivatives of any order.

    Args:
        circuit: a :class:`~qshift.Circuit`, or OpenQASM 3 text or a path to a ``.qasm`` file.
        device: a device name or backend object (see ``qshift.available_devices()``).
        shots: shots per circuit (``None``: exact, when the device allows).
        seed: makes shot sampling reproducible.
        shift: the shift parameter ``s`` in ``(0, pi)`` (default ``pi/2``).
        cache_size: most circuit evaluations kept in ``f``'s cache (least recently used go first).
        executor: run the circuits through this executor, or on a Dask cluster given a
            ``dask.distributed.Client`` or a scheduler address (``qshift[dask]``).
        wrt: the symbol names to differentiate (default ``None``: every symbol). The others are
            constants: their derivatives, of every order, are zero (as with ``tf.stop_gradient``)
            and cost no circuits, so a gradient runs ``2 * len(wrt) + 1`` circuits per row.
        method: ``"shift"`` (default: every order by the shift rule, the circuits a QPU runs) or
            ``"adjoint"`` (exact simulators such as ``"local"``: a backward pass is one adjoint
            vector-Jacobian product per row, whatever the number of symbols; higher orders as in
            :func:`qshift.derivatives`). See "The adjoint method" in the module notes.
        mitigation: as for :func:`qshift.derivatives` (noisy devices): every order's points are
            mitigated before they are contracted.

    Returns:
        A :class:`QuantumFunction`: ``values`` ``(..., n_symbols)`` -> ``(..., n_outputs)``, computed
        in float64 and returned in the dtype of ``values`` (float64 for integer values).

    Example:
        >>> import tensorflow as tf, qshift
        >>> f = qshift.tf.function(qshift.hardware_efficient(2, 1))
        >>> f(tf.zeros((5, 4))).shape
        TensorShape([5, 2])

        Only ``y0_1`` differentiated (the full gradient is ``[-0.195208, 0, -0.294044, 0]``):

        >>> g = qshift.tf.function(qshift.hardware_efficient(2, 1), wrt=["y0_1"])
        >>> x = tf.constant([0.1, 0.2, 0.3, 0.4], tf.float64)
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = tf.reduce_sum(g(x))
        >>> [round(float(v), 6) for v in tape.gradient(y, x)]
        [0.0, 0.0, -0.294044, 0.0]
        >>> g.stats.circuits  # 2 * len(wrt) + 1
        3
    """
    return QuantumFunction(circuit, device=device, shots=shots, shift=shift, seed=seed, cache_size=cache_size,
                           executor=executor, wrt=wrt, method=method, mitigation=mitigation)


class QuantumFunction:
    """A circuit as a differentiable TensorFlow function; see :func:`function` and the module notes.

    Attributes:
        circuit: the circuit.
        executor: the :class:`~qshift.Executor` every derivative order runs through.
        stats: cumulative counters of what ``f`` executed (``circuits``, ``jobs``, ``cache_hits`` ...).
        cache: the bounded evaluation cache shared by every order.
        wrt: the symbols differentiated, as a tuple of names (``None``: all of them).
    """

    def __init__(self, circuit, *, device="local", shots=None, shift=None, seed=None, cache_size=100_000,
                 executor=None, wrt=None, method="shift", mitigation=None):
        self.circuit = _as_circuit(circuit)
        self.device, self.shots, self.shift, self.seed, self.method = device, shots, shift, seed, method
        self.mitigation = mitigation
        self.wrt = wrt_names(self.circuit, wrt)
        self.executor = as_executor(executor, device, cache=EvaluationCache(cache_size), progress=False)
        self._request = Request.of(self.circuit, np.zeros(self.circuit.n_symbols),
                                   Arguments(orders=(0,), shots=shots, seed=seed, shift=shift, wrt=self.wrt,
                                             executor=self.executor, method=method, mitigation=mitigation))
        self._wrt_index = None if self.wrt is None else np.array(self._request.plan.wrt, dtype=np.intp)
        self._slot_to_symbol = self.circuit.slot_jacobian.copy()  # d angle / d symbol, zero off wrt
        if self._wrt_index is not None:
            self._slot_to_symbol[:, np.setdiff1d(np.arange(self.circuit.n_symbols), self._wrt_index)] = 0
        self._lock = threading.Lock()
        self._memo: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._tapes: OrderedDict[tuple, object] = OrderedDict()  # method="adjoint": forward sweeps by values

    @property
    def stats(self) -> Stats:
        return self.executor.stats

    @property
    def cache(self) -> EvaluationCache:
        return self.executor.cache

    def __repr__(self) -> str:
        return (f"QuantumFunction({self.circuit.name!r}: {self.circuit.n_symbols} symbols -> "
                f"{self.circuit.n_outputs} outputs on {self.executor.backend.name}; "
                f"{self.stats.circuits} circuits, {self.stats.jobs} jobs so far)")

    def __call__(self, values) -> "tf.Tensor":
        """Expectation values ``(..., n_outputs)`` at ``values`` ``(..., n_symbols)``."""
        return self._apply(values, 0)

    def derivative(self, values, order: int = 1) -> "tf.Tensor":
        """The order-``k`` derivative tensor ``(..., n_outputs) + (n_symbols,) * order``, itself differentiable.

        With ``wrt``, the tensor keeps every symbol axis: an entry with an index outside ``wrt`` is zero
        (those symbols are constants), the others are the derivatives themselves.

        Example:
            >>> import numpy as np, qshift
            >>> f = qshift.tf.function(qshift.Circuit.from_qasm(qshift.circuit_path("sin")))
            >>> float(np.round(f.derivative([0.0], order=3)[0, 0, 0, 0], 6))
            -1.0
        """
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 0:
            raise RequestError(
                "derivative order must be a non-negative integer", expected="0, 1, 2, ...", received=repr(order),
                fix="pass order=1 for the Jacobian, 2 for the Hessian")
        return self._apply(values, int(order))

    # -- the op family D0, D1, D2, ... ---------------------------------------------------------------
    def _apply(self, values, order: int) -> "tf.Tensor":
        values = tf.convert_to_tensor(values)
        self._check_values(values)
        x = tf.cast(values, tf.float64)
        _refuse_loop_variant(x)
        result = self._op(order, x)(x)
        return tf.cast(result, values.dtype if values.dtype.is_floating else tf.float64)

    def _op(self, order: int, root):
        """``D{order}`` with its custom gradient; ``root`` is the float64 input ``f`` was called with."""

        @tf.custom_gradient
        def derivative_op(x):
            source = root if _is_eager(root) else tf.identity(x)  # see "Eager versus graph mode"

            result = self._evaluate(order, x)

            def grad(upstream):
                if upstream is None:
                    return None
                if order == 0 and self.method == "adjoint" and not _varies_in_pfor_loop(upstream):
                    if _is_eager(upstream):
                        return self._vjp_op(root)(source, upstream)
                    with tf.control_dependencies([result]):  # after the forward pass that records the tape
                        return self._vjp_op(root)(source, upstream)
                return _vjp(upstream, self._op(order + 1, root)(source), order)

            return result, grad

        return derivative_op

    def _vjp_op(self, root):
        """``V(x, u) = u . D1(x)`` by the adjoint method (``method="adjoint"``), with its custom gradient:
        linear in ``u`` (through ``D1``) and, in ``x``, ``u . D2(x) . w`` (through ``D2``)."""

        @tf.custom_gradient
        def vjp_op(x, upstream):
            source = root if _is_eager(root) else tf.identity(x)
            weights = tf.identity(upstream)

            def grad(w):
                if w is None:
                    return None, None
                d1 = self._op(1, root)(source)
                d2 = self._op(2, root)(source)
                return (tf.einsum("...kij,...k,...i->...j", d2, weights, w),
                        tf.einsum("...ki,...i->...k", d1, w))

            out = tf.numpy_function(self._vjp, [x, upstream], tf.float64, stateful=False, name="qshift_adjoint_vjp")
            out.set_shape(x.shape)
            return out, grad

        return vjp_op

    def _record(self, x: np.ndarray) -> np.ndarray | None:
        """The values at ``x`` from a recorded forward sweep, kept for the backward pass's VJP (``None``
        when the device cannot keep it)."""
        rows, _ = self.circuit.check_values(x)
        tape = self.executor.adjoint_tape(self.circuit, self.circuit.slot_angles(rows))
        if tape is None:
            return None
        self._tapes[_values_key(x)] = tape
        while len(self._tapes) > _TAPES or sum(t.nbytes for t in self._tapes.values()) > _TAPE_BYTES:
            self._tapes.popitem(last=False)
        return tape.values

    def _vjp(self, x: np.ndarray, upstream: np.ndarray) -> np.ndarray:
        """NumPy side of the adjoint VJP: ``(..., n_symbols)`` from values and upstream ``(..., n_outputs)``:
        the backward sweep of the forward pass's tape, or a whole adjoint run when there is none."""
        if x.size == 0:
            return np.zeros(x.shape)
        rows, _ = self.circuit.check_values(x)
        upstream = np.asarray(upstream, dtype=np.float64).reshape(len(rows), -1)
        with self._lock:  # kept, not popped: a jacobian loop without pfor asks once per output entry
            tape = self._tapes.get(_values_key(x))
        if tape is not None:
            gradients = self.executor.adjoint_gradients(tape, upstream)
        else:
            gradients = self.executor.adjoint(self.circuit, self.circuit.slot_angles(rows), upstream).gradients
        return (gradients @ self._slot_to_symbol).reshape(x.shape)

    def _evaluate(self, order: int, x) -> "tf.Tensor":
        out = tf.numpy_function(functools.partial(self._tensor, order), [x], tf.float64, stateful=False,
                                name=f"qshift_order_{order}")
        out.set_shape(x.shape[:-1].concatenate((self.circuit.n_outputs,) + (self.circuit.n_symbols,) * order))
        return out

    def _tensor(self, order: int, x: np.ndarray) -> np.ndarray:
        """NumPy side of ``D{order}``: memo, then cache, then the device."""
        key = (order,) + _values_key(x)
        with self._lock:
            hit = self._memo.get(key)
            if hit is not None:
                self._memo.move_to_end(key)
                return hit
            result = self._compute(order, x)
            if self._request.exact:
                self._remember(key, result)
            return result

    def _remember(self, key: tuple, result: np.ndarray) -> None:
        self._memo[key] = result
        while len(self._memo) > _MEMO_ENTRIES or sum(v.nbytes for v in self._memo.values()) > _MEMO_BYTES:
            self._memo.popitem(last=False)

    def _compute(self, order: int, x: np.ndarray) -> np.ndarray:
        shape = x.shape[:-1] + (self.circuit.n_outputs,) + (self.circuit.n_symbols,) * order
        if x.size == 0 and self.circuit.n_symbols:
            return np.zeros(shape)
        if order == 0 and self.method == "adjoint":
            values = self._record(x)
            if values is not None:
                return values.reshape(shape)
        d = run(self._request.at(x, (order,)))
        result = _scatter(np.asarray(d.derivative(order), dtype=np.float64), self._wrt_index, shape, order)
        result.flags.writeable = False
        return result

    def _check_values(self, values) -> None:
        n = self.circuit.n_symbols
        if not (values.dtype.is_floating or values.dtype.is_integer):
            raise ValuesError(
                "values must be real numbers", expected="a float or integer tensor",
                received=f"dtype {values.dtype.name}", fix="cast the values to tf.float32 or tf.float64")
        if values.shape.rank == 0 or (values.shape.rank is not None and values.shape[-1] not in (None, n)):
            raise ValuesError(
                f"values have the wrong shape for circuit {self.circuit.name!r}",
                expected=f"shape (..., {n}), one value per symbol {list(self.circuit.symbols)}",
                received=f"shape {values.shape}",
                fix=f"pass a tensor whose last axis has length {n}, in the order of circuit.symbols")


def _values_key(x: np.ndarray) -> tuple:
    return x.shape, np.ascontiguousarray(x, dtype=np.float64).tobytes()


def _scatter(tensor: np.ndarray, wrt_index, shape: tuple, order: int) -> np.ndarray:
    """``tensor`` ``(..., n_out) + (n_wrt,) * order`` on the full symbol axes ``shape``, zeros off ``wrt_index``."""
    if wrt_index is None:
        return np.ascontiguousarray(tensor).reshape(shape)
    head = shape[:len(shape) - order]
    full = np.zeros(shape)
    full[(Ellipsis,) + np.ix_(*(wrt_index,) * order)] = tensor.reshape(head + (len(wrt_index),) * order)
    return full


def _vjp(upstream, next_derivative, order: int):
    """``sum(upstream * next_derivative)`` over the output axis and the ``order`` derivative axes."""
    axes = string.ascii_lowercase[:order + 1]
    return tf.einsum(f"...{axes},...{axes}z->...z", upstream, next_derivative)


def _is_eager(tensor) -> bool:
    return isinstance(tensor, tf.__internal__.EagerTensor)


def _refuse_loop_variant(x) -> None:
    """Raise when ``x`` depends on the loop index of a pfor/vectorized_map body (see the module notes)."""
    if _is_eager(x) or not _depends_on_pfor_loop(x):
        return
    raise QShiftError(
        "qshift.tf.function was called inside tf.vectorized_map / pfor on values that depend on the loop "
        "index; TensorFlow's vectorizer would drop the op's custom gradient and derivatives would be wrong",
        expected="values that do not depend on the loop index of a vectorized loop",
        received=f"{x.name}, computed from the loop index of a pfor body",
        fix="call f on the whole batch (it accepts leading batch dimensions) instead of vectorized_map; "
            "for Jacobians, nested tape.jacobian works as is, or use experimental_use_pfor=False")


def _varies_in_pfor_loop(tensor) -> bool:
    """Whether ``tensor`` changes with the loop index of a vectorized loop (a ``tape.jacobian`` with pfor).

    Such an upstream would make pfor rewrite the adjoint VJP op and drop its gradient, so the backward
    pass then contracts it with the (adjoint) Jacobian op ``D1`` instead, which pfor keeps as it is.
    """
    return not _is_eager(tensor) and _depends_on_pfor_loop(tensor)


def _depends_on_pfor_loop(tensor) -> bool:
    seen, stack = set(), [tensor.op]
    while stack:
        op = stack.pop()
        if op.type == "PlaceholderWithDefault" and _LOOP_VAR.search(op.name):
            return True
        for t in op.inputs:
            if t.op not in seen:
                seen.add(t.op)
                stack.append(t.op)
    return False


def _as_circuit(circuit) -> Circuit:
    if isinstance(circuit, Circuit):
        return circuit
    if isinstance(circuit, str) or hasattr(circuit, "__fspath__"):
        return Circuit.from_qasm(circuit)
    raise QShiftError("circuit must be a qshift.Circuit, OpenQASM 3 text or a .qasm path",
                      expected="qshift.Circuit", received=type(circuit).__name__,
                      fix="build one with qshift.CircuitBuilder or qshift.Circuit.from_qasm")
