"""The quantum part of one training step: a batch of 32 rows, its expectations and its vector-Jacobian
product (VJP), qshift's side of issue 17's comparison with tensorcircuit-ng's ``jit(vmap(value_and_grad))``
and qulacs's ``backprop`` (``bench/fast_peers.py``, run in its own virtualenv by ``bench/run_all.py``).

Circuit: ``qshift.hardware_efficient(q, 2)``, every qubit's ``<Z>`` an output, 4-12 qubits. Inputs
(``_common.vjp_batch``): symbol values ``X`` ``(32, n)`` uniform in [-pi, pi) and upstream vectors ``U``
``(32, q)`` (standard normal), the same arrays on the peers' side. The VJP is ``U[b] . dE/dtheta (X[b])``, one
``(n,)`` vector per row; every method returns it with the expectations ``E(X)`` ``(32, q)``, and both are
checked against ``qshift.derivatives(c, X, order=1)`` (float64).

* ``qshift.derivatives Jacobian, contracted``: ``qshift.derivatives(c, X, order=1)`` (the shift rule, the
  default), then ``einsum("bq,bqn->bn", U, jacobian)``; circuits against ``qshift.plan(c, order=1, rows=32)``.
* ``... method=adjoint``: the same call with ``method="adjoint"``.
* ``LocalSimulator.adjoint``: the engine's vector-Jacobian product itself, ``LocalSimulator().adjoint(c,
  c.slot_angles(X), U)`` times ``c.slot_jacobian`` (one forward and one backward sweep per row, no Jacobian:
  what a training step's backward pass runs, without TensorFlow around it).
* ``qshift.tf tape.gradient in tf.function``: ``y = f(x)``, ``tape.gradient(y, x, output_gradients=u)`` in one
  ``tf.function`` traced before timing, ``f = qshift.tf.function(c)``; each timed call gets new angles
  (``X + k * 1e-3``), so nothing comes from ``f``'s cache. ``... method=adjoint``: ``qshift.tf.function(c,
  method="adjoint")``.

The rows whose API this qshift does not have (``method=`` or ``LocalSimulator.adjoint``, looked up) say
"not available"; nothing else is measured in their place.
Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/vjp.py`` (``--quick`` for tiny sizes).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import qshift  # noqa: E402
from _common import (BATCH, M, config_name, has_keyword, max_abs_diff, measure, not_available, peer_grid,  # noqa: E402
                     print_rows, progress, row, vjp_batch)

REPEATS = 5


def contract(upstream: np.ndarray, jacobian: np.ndarray) -> np.ndarray:
    return np.einsum("bq,bqn->bn", upstream, jacobian)


def reference(circuit, x: np.ndarray, upstream: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expectations and VJP from qshift's shift-rule Jacobian: what every method is checked against."""
    d = qshift.derivatives(circuit, x, order=1)
    return d.value, contract(upstream, d.jacobian)


def checker(circuit, x, upstream):
    value, vjp = reference(circuit, x, upstream)
    return lambda result: max(max_abs_diff(result[1], vjp),
                              0.0 if result[0] is None else max_abs_diff(result[0], value))


def jacobian_runner(circuit, x, upstream, **options):
    def run():
        d = qshift.derivatives(circuit, x, order=1, **options)
        return (d.value, contract(upstream, d.jacobian)), d.stats.circuits
    return run


def traced_vjp(circuit, x, upstream, **options):
    """A runner: ``f(x)`` and ``tape.gradient(f(x), x, output_gradients=u)`` in one traced ``tf.function``;
    new angles on every call; returns ``((value, vjp), circuits)`` and checks against qshift at those angles."""
    import tensorflow as tf

    f = qshift.tf.function(circuit, **options)

    @tf.function
    def step(x, u):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        return y, tape.gradient(y, x, output_gradients=u)

    u = tf.constant(upstream)
    step(tf.constant(x + 0.5), u)  # traces
    calls = iter(range(1, 1 << 30))
    state = {}

    def run():
        before, k = f.stats.circuits, next(calls)
        y, g = step(tf.constant(x + k * 1e-3), u)
        state["k"] = k
        return (y.numpy(), g.numpy()), f.stats.circuits - before

    def check(result):
        return checker(circuit, x + state["k"] * 1e-3, upstream)(result)

    return run, check


def size_rows(q: int, layers: int) -> list[dict]:
    c = qshift.hardware_efficient(q, layers)
    x, u = vjp_batch(q, layers)
    minimum = qshift.plan(c, order=1, rows=BATCH).circuits
    base = dict(workload="vjp", config=config_name(q, layers, "all"), peer=False, qubits=q, layers=layers,
                outputs="all", symbols=c.n_symbols, rows=BATCH)
    check = checker(c, x, u)
    rows = [measure(row(method=M.QSHIFT_JAC_VJP, min_circuits=minimum, **base), jacobian_runner(c, x, u),
                    repeats=REPEATS, check=check)]
    adjoint = row(method=M.QSHIFT_ADJOINT_VJP, **base)
    if has_keyword(qshift.derivatives, "method"):
        rows.append(measure(adjoint, jacobian_runner(c, x, u, method="adjoint"), repeats=REPEATS, check=check))
    else:
        rows.append(not_available(adjoint, "qshift.derivatives(method=...)"))
    entry = row(method=M.QSHIFT_VJP, **base)
    simulator = qshift.LocalSimulator()
    if hasattr(simulator, "adjoint"):
        def engine_vjp():
            r = simulator.adjoint(c, c.slot_angles(x), u)
            return (r.values, r.gradients @ c.slot_jacobian), None
        rows.append(measure(entry, engine_vjp, repeats=REPEATS, check=check))
    else:
        rows.append(not_available(entry, "LocalSimulator.adjoint"))
    run, check_tf = traced_vjp(c, x, u)
    rows.append(measure(row(method=M.QSHIFT_TF_VJP, min_circuits=minimum, **base), run, repeats=REPEATS,
                        check=check_tf))
    adjoint_tf = row(method=M.QSHIFT_TF_ADJOINT_VJP, **base)
    if has_keyword(qshift.tf.function, "method"):
        run, check_tf = traced_vjp(c, x, u, method="adjoint")
        rows.append(measure(adjoint_tf, run, repeats=REPEATS, check=check_tf))
    else:
        rows.append(not_available(adjoint_tf, "qshift.tf.function(method=...)"))
    return rows


def collect(quick: bool = False) -> list[dict]:
    rows = []
    for q, layers, _ in peer_grid(quick):
        done = size_rows(q, layers)
        progress(done)
        rows += done
    return rows


def main(quick: bool) -> None:
    from _common import header

    print(header("The batch VJP of one training step: qshift (the peers run in bench/.venv-peers)",
                 ["numpy", "tensorflow", "qshift"]))
    print()
    print_rows(collect(quick), ["config", "symbols", "method", "status", "circuits", "min_circuits", "seconds",
                                "max_diff", "note"])


if __name__ == "__main__":
    main("--quick" in sys.argv)
