"""The fastest simulator peers, whatever their method: tensorcircuit-ng on JAX and qulacs. Runs in its own
virtualenv, ``bench/.venv-peers`` (``bench/setup_peers.sh``; qshift is not installed there), one *part* per
process, so that ``bench/run_all.py`` can give each part its own time limit.

Input: a JSON spec written by ``bench/run_all.py`` (sizes, symbol values, upstream vectors, training data and
the Keras model's initial weights), so both sides compute the same thing. Output: the rows it plans
(``planned``), and the rows done in the schema of ``bench/_common.py`` with the values each peer computed, which
the runner checks against ``qshift.derivatives`` (float64: JAX runs with ``jax_enable_x64``, tensorcircuit-ng
with ``complex128``).
The output file is rewritten after every row: a part stopped at its time limit keeps the rows it finished.

Circuit everywhere: ``qshift.hardware_efficient(q, L)``, per layer ``RY(y{l}_{i})`` then ``RZ(z{l}_{i})`` on
every qubit ``i``, then a ring of CNOTs; the outputs are every qubit's ``<Z_i>``.

Parts:

* ``tc_vjp``: the quantum part of a training step on a batch of rows, tensorcircuit-ng on JAX. Per row,
  ``g(theta, u) = (u . E(theta), E(theta))`` where ``E`` is the ``q`` expectations and ``u`` the row's
  upstream vector (fixed random numbers from the spec); ``jax.jit(jax.vmap(jax.value_and_grad(g,
  has_aux=True)))`` gives, for the whole batch at once, the expectations ``(B, q)`` and the VJP
  ``u . dE/dtheta`` ``(B, n)``. ``E`` builds ``tc.Circuit(q)`` gate by gate and reads every ``<Z_i>`` from
  the probabilities of ``c.state()`` (one state per row); ``expectation_ps(z=[i])``, one contraction per
  output, is measured beside it as a second row. Compile (``lower(...).compile()``) is timed apart; the
  time is the best of several calls of the compiled function (``block_until_ready``).
* ``tc_hessian``: value, gradient and Hessian at one point, ``jax.jit(lambda t: (E(t), jacrev(E)(t),
  jacfwd(jacrev(E))(t)))`` with the probability readout; compile apart. A size is skipped when the compile
  time, extrapolated from the previous size as ``n^2``, would not fit in the part's remaining budget.
* ``tc_training``: one epoch of the training benchmark's model in JAX: ``tanh(x W1 + b1)`` feeds the first
  layer's RY symbols, the trainable circuit weights the others, ``E`` as above (``vmap`` over the batch),
  then ``e W2 + b2``; MSE; Adam written out as Keras's (lr 0.01, beta 0.9 / 0.999, epsilon 1e-7; optax is
  not installed); one ``jax.jit`` step (``value_and_grad`` of the loss and the Adam update) per batch of 32,
  from the same initial weights and data as the Keras model, so the loss curves match. The first epoch
  (compile included) is reported, the compile also apart; the epoch time is the best of the next ones.
* ``qulacs_hessian``: the same ``2n^2 + n + 1`` distinct shifted rows that qshift's Hessian needs
  (``_common.hessian_rows``), run one by one on one ``ParametricQuantumCircuit`` (``set_parameter`` for every
  symbol, ``update_quantum_state`` on a reset state, ``get_expectation_value`` of each ``Z_i``), then
  value, gradient and Hessian assembled in NumPy; the time includes all of it.
* ``qulacs_vjp``: the batch VJP row by row with qulacs's own gradient: per row,
  ``ParametricQuantumCircuit.backprop(sum_i u_i Z_i)`` for the VJP, and one forward run for the ``q``
  expectations; the time includes building each row's observable.

qulacs's rotations are ``exp(+i theta/2 P)`` (the opposite sign to qshift's, Cirq's and tensorcircuit-ng's),
so its parameters are set to ``-theta`` and its gradients negated.

Run: ``OMP_NUM_THREADS=1 bench/.venv-peers/bin/python bench/fast_peers.py PART SPEC.json OUT.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import M, assemble_hessian, epochs, error_text, hessian_rows, machine, row, runs_of  # noqa: E402

PACKAGES = ["numpy", "jax", "jaxlib", "tensorcircuit-ng", "qulacs"]
PARTS = ("tc_vjp", "tc_hessian", "tc_training", "qulacs_hessian", "qulacs_vjp")


# -- tensorcircuit-ng on JAX --------------------------------------------------------------------------
def jax_setup():
    """JAX on the CPU in float64, tensorcircuit-ng on the JAX backend in complex128."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import tensorcircuit as tc

    tc.set_backend("jax")
    tc.set_dtype("complex128")
    return jax, tc


def hea_expectations(qubits: int, layers: int, readout: str = "probabilities"):
    """``theta (n,) -> (<Z_0>, ..., <Z_{q-1}>)`` for ``hardware_efficient(qubits, layers)`` in tensorcircuit-ng.

    ``readout="probabilities"``: every ``<Z_i>`` from ``|c.state()|^2`` (one state); ``"expectation_ps"``:
    ``c.expectation_ps(z=[i])`` for each ``i`` (tensorcircuit-ng's own expectation, one contraction each).
    """
    jax, tc = jax_setup()
    jnp = jax.numpy

    def expectations(theta):
        c = tc.Circuit(qubits)
        k = 0
        for _ in range(layers):
            for i in range(qubits):
                c.ry(i, theta=theta[k])
                c.rz(i, theta=theta[k + 1])
                k += 2
            if qubits > 1:
                for i in range(qubits if qubits > 2 else 1):
                    c.cnot(i, (i + 1) % qubits)
        if readout == "expectation_ps":
            return jnp.stack([jnp.real(c.expectation_ps(z=[i])) for i in range(qubits)])
        probs = (jnp.abs(c.state()) ** 2).reshape((2,) * qubits)
        return jnp.stack([jnp.sum(probs.take(0, axis=i)) - jnp.sum(probs.take(1, axis=i)) for i in range(qubits)])

    return expectations


def compiled(fn, *args) -> tuple[float, object]:
    """``jax.jit(fn)`` lowered and compiled for ``args``: (compile seconds, the compiled function)."""
    import jax

    start = time.perf_counter()
    exe = jax.jit(fn).lower(*args).compile()
    return time.perf_counter() - start, exe


def blocking(exe, *args):
    import jax

    return lambda: jax.block_until_ready(exe(*args))


def tc_vjp_row(size: dict, readout: str, budget: float) -> dict:
    import jax

    f = hea_expectations(size["qubits"], size["layers"], readout)

    def g(theta, u):  # (u . E(theta), E(theta)): the VJP's scalar, and the expectations as auxiliary output
        e = f(theta)
        return u @ e, e

    x, u = np.array(size["x"]), np.array(size["upstream"])
    compile_seconds, exe = compiled(jax.vmap(jax.value_and_grad(g, has_aux=True)), x, u)
    seconds, ((_, values), vjp), runs = runs_of(blocking(exe, x, u), 10, budget)
    method = M.TC_VJP if readout == "probabilities" else M.TC_VJP_PS
    return row("vjp", method, config=size["config"], qubits=size["qubits"], layers=size["layers"], outputs="all",
               symbols=x.shape[1], rows=x.shape[0], seconds=seconds, repeats=runs, compile_seconds=compile_seconds,
               result={"value": np.asarray(values).tolist(), "vjp": np.asarray(vjp).tolist()})


def tc_hessian_row(size: dict, budget: float) -> dict:
    import jax

    f = hea_expectations(size["qubits"], size["layers"])
    x = np.array(size["x"])
    compile_seconds, exe = compiled(lambda t: (f(t), jax.jacrev(f)(t), jax.jacfwd(jax.jacrev(f))(t)), x)
    seconds, (value, jac, hess), runs = runs_of(blocking(exe, x), 5, budget)
    return row("hessian", M.TC_HESSIAN, config=size["config"], qubits=size["qubits"], layers=size["layers"],
               outputs=size["outputs"], symbols=len(x), seconds=seconds, repeats=runs, compile_seconds=compile_seconds,
               result={"value": np.asarray(value).tolist(), "jacobian": np.asarray(jac).tolist(),
                       "hessian": np.asarray(hess).tolist()})


def keras_adam(lr: float = 0.01, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7):
    """Keras's Adam update as pure functions: ``init(params)``, ``update(grads, state, params)``."""
    import jax

    jnp = jax.numpy

    def init(params):
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        return {"t": jnp.zeros((), jnp.float64), "m": zeros, "v": zeros}

    def update(grads, state, params):
        t = state["t"] + 1
        alpha = lr * jnp.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        m = jax.tree_util.tree_map(lambda m, g: m + (g - m) * (1 - beta_1), state["m"], grads)
        v = jax.tree_util.tree_map(lambda v, g: v + (g * g - v) * (1 - beta_2), state["v"], grads)
        params = jax.tree_util.tree_map(lambda p, m, v: p - m * alpha / (jnp.sqrt(v) + epsilon), params, m, v)
        return params, {"t": t, "m": m, "v": v}

    return init, update


def training_step(qubits: int, layers: int, order: list[int]):
    """``step(params, adam_state, x, y) -> (params, adam_state, loss)`` for the training benchmark's model."""
    import jax

    jnp = jax.numpy
    f = jax.vmap(hea_expectations(qubits, layers))
    init, update = keras_adam()

    def loss_fn(params, x, y):
        hidden = jnp.tanh(x @ params["w1"] + params["b1"])
        weights = jnp.broadcast_to(params["wc"], (x.shape[0], params["wc"].shape[0]))
        values = jnp.concatenate([hidden, weights], axis=1)[:, jnp.array(order)]
        out = f(values) @ params["w2"] + params["b2"]
        return jnp.mean((out - y) ** 2)

    def step(params, state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        params, state = update(grads, state, params)
        return params, state, loss

    return step, init


def tc_training_row(cfg: dict, budget: float) -> dict:
    import jax

    w = cfg["weights"]
    params = {k: np.array(v, dtype=np.float64) for k, v in w.items()}
    x, y, batch = np.array(cfg["x"]), np.array(cfg["y"]), cfg["batch"]
    step, init = training_step(cfg["qubits"], cfg["layers"], cfg["order"])
    state = init(params)
    compile_seconds, exe = compiled(step, params, state, x[:batch], y[:batch])
    batches = [(x[i:i + batch], y[i:i + batch]) for i in range(0, len(x), batch)]
    if len(batches[-1][0]) != batch:  # a short last batch would need a second compile: not in this benchmark
        raise ValueError(f"{len(x)} samples are not whole batches of {batch}")
    carry = {"params": params, "state": state}

    def epoch():
        losses = []
        for xb, yb in batches:
            carry["params"], carry["state"], loss = exe(carry["params"], carry["state"], xb, yb)
            losses.append(loss)
        return float(np.mean(jax.block_until_ready(losses)))

    start = time.perf_counter()
    first_loss = epoch()
    first = time.perf_counter() - start + compile_seconds
    seconds, losses, runs = epochs(epoch, cfg["epochs"], budget)
    return row("training", M.TC_TRAINING, config=cfg["config"], qubits=cfg["qubits"], layers=cfg["layers"],
               outputs="all", symbols=len(params["wc"]) + cfg["qubits"], samples=len(x), batch=batch,
               steps=len(batches), seconds=seconds, repeats=runs,
               first_epoch_seconds=first, compile_seconds=compile_seconds, losses=[first_loss] + losses,
               loss=losses[-1])


# -- qulacs -------------------------------------------------------------------------------------------
def qulacs_circuit(qubits: int, layers: int):
    """``hardware_efficient(qubits, layers)`` as a qulacs ``ParametricQuantumCircuit`` (parameters in symbol
    order), and one ``Observable`` per ``Z_i``."""
    from qulacs import Observable, ParametricQuantumCircuit

    circuit = ParametricQuantumCircuit(qubits)
    for _ in range(layers):
        for i in range(qubits):
            circuit.add_parametric_RY_gate(i, 0.0)
            circuit.add_parametric_RZ_gate(i, 0.0)
        if qubits > 1:
            for i in range(qubits if qubits > 2 else 1):
                circuit.add_CNOT_gate(i, (i + 1) % qubits)
    observables = []
    for i in range(qubits):
        obs = Observable(qubits)
        obs.add_operator(1.0, f"Z {i}")
        observables.append(obs)
    return circuit, observables


def qulacs_expectations(circuit, observables, state, theta) -> list[float]:
    for k, angle in enumerate(theta):
        circuit.set_parameter(k, -angle)  # qulacs's RY/RZ are exp(+i angle/2 P)
    state.set_zero_state()
    circuit.update_quantum_state(state)
    return [obs.get_expectation_value(state) for obs in observables]


def qulacs_hessian_row(size: dict, budget: float) -> dict:
    from qulacs import QuantumState

    circuit, observables = qulacs_circuit(size["qubits"], size["layers"])
    state = QuantumState(size["qubits"])
    x = np.array(size["x"])

    def run():
        rows = hessian_rows(x)
        values = np.array([qulacs_expectations(circuit, observables, state, r) for r in rows])
        return assemble_hessian(values, len(x)), len(rows)

    seconds, ((value, jac, hess), circuits), runs = runs_of(run, 3, budget)
    return row("hessian", M.QULACS_ROWS, config=size["config"], qubits=size["qubits"], layers=size["layers"],
               outputs=size["outputs"], symbols=len(x), seconds=seconds, repeats=runs, circuits=circuits,
               result={"value": value.tolist(), "jacobian": jac.tolist(), "hessian": hess.tolist()})


def qulacs_vjp_row(size: dict, budget: float) -> dict:
    from qulacs import Observable, QuantumState

    q = size["qubits"]
    circuit, observables = qulacs_circuit(q, size["layers"])
    state = QuantumState(q)
    x, u = np.array(size["x"]), np.array(size["upstream"])

    def run():
        values, vjp = [], []
        for theta, weights in zip(x, u):
            values.append(qulacs_expectations(circuit, observables, state, theta))
            obs = Observable(q)
            for i, w in enumerate(weights):
                obs.add_operator(float(w), f"Z {i}")
            vjp.append(-np.array(circuit.backprop(obs)))  # parameters are -theta
        return np.array(values), np.array(vjp)

    seconds, (values, vjp), runs = runs_of(run, 5, budget)
    return row("vjp", M.QULACS_BACKPROP, config=size["config"], qubits=q, layers=size["layers"], outputs="all",
               symbols=x.shape[1], rows=x.shape[0], seconds=seconds, repeats=runs,
               result={"value": values.tolist(), "vjp": vjp.tolist()})


# -- driver -------------------------------------------------------------------------------------------
def jobs(part: str, spec: dict) -> list[tuple[dict, str, str, object]]:
    """(size, workload, method, ``run(budget) -> row``) of one part, cheapest size first."""
    if part == "tc_vjp":
        return [(s, "vjp", method, lambda b, s=s, r=readout: tc_vjp_row(s, r, b)) for s in spec["vjp"]
                for readout, method in (("probabilities", M.TC_VJP), ("expectation_ps", M.TC_VJP_PS))]
    if part == "tc_hessian":
        return [(s, "hessian", M.TC_HESSIAN, lambda b, s=s: tc_hessian_row(s, b)) for s in spec["hessian"]]
    if part == "tc_training":
        return [(s, "training", M.TC_TRAINING, lambda b, s=s: tc_training_row(s, b)) for s in spec["training"]]
    if part == "qulacs_hessian":
        return [(s, "hessian", M.QULACS_ROWS, lambda b, s=s: qulacs_hessian_row(s, b)) for s in spec["hessian"]]
    if part == "qulacs_vjp":
        return [(s, "vjp", M.QULACS_BACKPROP, lambda b, s=s: qulacs_vjp_row(s, b)) for s in spec["vjp"]]
    raise SystemExit(f"unknown part {part!r}: expected one of {', '.join(PARTS)}")


def compile_estimate(done: list[dict], size: dict) -> float | None:
    """The next size's compile seconds, extrapolated from the last compiled size as ``n^2``."""
    last = [r for r in done if r.get("compile_seconds") and r["status"] == "ok"]
    if not last:
        return None
    n = lambda r: 2 * r["qubits"] * r["layers"]
    return last[-1]["compile_seconds"] * (n(size) / n(last[-1])) ** 2


def main(part: str, spec_path: str, out_path: str) -> None:
    with open(spec_path) as f:
        spec = json.load(f)
    start, budget, done = time.perf_counter(), spec["budget"][part], []
    info = machine(PACKAGES)
    info["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "(unset)")
    planned = [dict(workload=w, method=m, config=s["config"], qubits=s["qubits"], layers=s["layers"])
               for s, w, m, _ in jobs(part, spec)]

    def write():
        with open(out_path + ".tmp", "w") as f:
            json.dump({"machine": info, "planned": planned, "rows": done}, f)
        os.replace(out_path + ".tmp", out_path)

    write()
    for size, workload, method, run in jobs(part, spec):
        left = budget - (time.perf_counter() - start)
        same = [r for r in done if r["method"] == method]
        estimate = compile_estimate(same, size) if part.startswith("tc_") else None
        base = row(workload, method, config=size["config"], qubits=size["qubits"], layers=size["layers"],
                   outputs="all")
        if estimate is not None and estimate > left:
            r = dict(base, status="skipped",
                     note=f"est. compile {estimate:.0f} s > the {left:.0f} s left of this part's {budget:.0f} s")
        else:
            try:
                r = run(min(spec["per_run"], max(left / 2, 1.0)))
            except Exception as exc:  # a peer failing is a result, not a crash of the benchmark
                r = dict(base, status="failed", note=error_text(exc))
        r["module"] = "fast_peers"
        done.append(r)
        print(f"  {part} {size['config']}: {r['status']} {r['seconds'] or r['note']}"
              + (f" (compile {r['compile_seconds']:.1f} s)" if r.get("compile_seconds") else ""),
              file=sys.stderr, flush=True)
        write()


if __name__ == "__main__":
    main(*sys.argv[1:4])
