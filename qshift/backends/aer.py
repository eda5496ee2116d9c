"""Device ``aer``: Qiskit Aer primitives, one provider call per request.

* Exact (``shots=None``): ``EstimatorV2``. A batch of ``B`` slot-angle rows is one PUB
  ``(circuit, observables[n_out], values[B, 1, n_slots])``: the circuit is built once (one
  ``Parameter`` per slot), the observables broadcast against the rows, and one ``run`` call
  returns ``evs[B, n_out]`` computed from the state (``precision = 0``); with a noise model,
  from the density matrix.
* Shots: ``SamplerV2`` measures. Each measurement group (qubit-wise-commuting outputs,
  :mod:`qshift.ir.grouping`) is the circuit with the group's basis rotations appended and
  every qubit measured; one ``run`` call takes one PUB per group with every row bound as a
  parameter array, and the estimates and per-shot variances come from the measured bits
  (:func:`~qshift.ir.grouping.estimate_from_bits`). So estimates stay in ``[-1, 1]``, an
  eigenstate gives its eigenvalue with zero variance, and one execution is counted per
  measurement group and row. A seed seeds Aer's simulator (``seed_simulator``).
* Noise: ``noise={"depolarizing_1q": p1, "depolarizing_2q": p2}`` (see
  :class:`~qshift.backends._common.Depolarizing`), simulated with the ``density_matrix``
  method; with shots the measured bits are drawn from the noisy state.
* Readout error: ``noise={..., "readout_p1_given_0": e0, "readout_p0_given_1": e1}``: every
  qubit, independently, reads a prepared ``0`` as ``1`` with probability ``e0`` and a ``1`` as
  ``0`` with ``e1`` (the tensored model of :mod:`qshift.ir.readout`). With shots it is Aer's
  own ``ReadoutError`` in a ``NoiseModel``, applied to the measured bits. Exact runs (the
  Estimator on the density matrix has no measurement) report what infinitely many shots would:
  each output is replaced by :meth:`~qshift.ir.readout.TensoredReadout.noisy`, the exact
  expectation of the measured parities, so exact and sampled runs carry the same bias.
* An Aer GPU build is used when present (``device="auto"``), never required.

Example:
    >>> import numpy as np, qshift
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> r = AerBackend().run(c, np.array([[0.0], [np.pi / 2]]))   # doctest: +SKIP
    >>> np.round(r.values, 12).tolist(), r.jobs                    # doctest: +SKIP
    ([[0.0], [1.0]], 1)
    >>> s = AerBackend().run(c, np.array([[np.pi / 2]]), shots=100, seed=1)   # doctest: +SKIP
    >>> s.values.tolist(), s.variances.tolist(), s.executions              # doctest: +SKIP
    ([[1.0]], [[0.0]], 1)
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np

from qshift._errors import DeviceError, require
from qshift.backends._common import (Depolarizing, check_angles, check_state_memory, describe, exact_result,
                                     sampled_result)
from qshift.backends._qiskit import (bind_columns, estimates_from_samples, sampler_pubs, to_qiskit,
                                     to_qiskit_measured, to_qiskit_observables)
from qshift.backends.base import Backend, RunResult
from qshift.backends.profiles import DeviceProfile
from qshift.ir.circuit import Circuit
from qshift.ir.grouping import group_shots
from qshift.ir.readout import TensoredReadout

__all__ = ["AerBackend"]

_METHODS = ("automatic", "statevector", "density_matrix", "matrix_product_state")


class AerBackend(Backend):
    """Qiskit Aer behind the one-method backend contract: ``EstimatorV2`` exact, ``SamplerV2`` with shots.

    Args:
        name: the device name (used in messages and cache keys).
        method: Aer simulation method; ``"automatic"`` picks ``density_matrix`` when there
            is noise and ``statevector`` otherwise.
        noise: depolarizing noise, ``{"depolarizing_1q": p1, "depolarizing_2q": p2}``, and readout
            errors ``"readout_p1_given_0"`` and ``"readout_p0_given_1"`` (the same on every qubit).
        device: ``"auto"`` (GPU when this Aer build has one), ``"CPU"`` or ``"GPU"``.
        default_shots: shots used when a request passes none (``None``: exact).
        max_batch: most rows per provider call (``None``: no limit).
        profile: the device profile this backend was built from (prices and limits), or ``None``.
    """

    exact = True

    def __init__(self, *, name: str = "aer", method: str = "automatic", noise=None, device: str = "auto",
                 default_shots: int | None = None, max_batch: int | None = None,
                 profile: DeviceProfile | None = None):
        require("qiskit_aer", "aer")
        self.name = name
        gates, self.readout = _split_readout(noise)
        self.noise = Depolarizing.parse(gates)
        self.method = _check_method(method, self.noise or self.readout)
        self.device = _pick_device(device)
        self.default_shots = default_shots
        self.max_batch = max_batch
        self.profile = profile
        noise_doc = (self.noise.as_dict() if self.noise else {}) | (self.readout or {})
        self.cache_key = describe("aer", method=self.method, noise=noise_doc or None)

    def run(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None = None,
            seed: int | None = None) -> RunResult:
        """Expectation values of every output at every row of slot ``angles`` (one provider call).

        Exact without shots (``EstimatorV2``, one PUB); with shots, sampled (``SamplerV2``, one
        PUB per measurement group).
        """
        angles = check_angles(circuit, angles)
        if self.method in ("statevector", "density_matrix"):  # refused before Aer tries to allocate it
            check_state_memory(circuit.n_qubits, self.name, density=self.method == "density_matrix",
                               fix="use fewer qubits, or method='matrix_product_state' for wide, shallow circuits")
        if shots is None:
            return self._run_exact(circuit, angles)
        return self._run_sampled(circuit, angles, int(shots), seed)

    def _run_exact(self, circuit: Circuit, angles: np.ndarray) -> RunResult:
        qc = to_qiskit(circuit, "aer", _supported(self.method), self.noise)
        pub = (qc, list(to_qiskit_observables(self._as_read(circuit))))
        if qc.num_parameters:  # rows bind as (B, 1, P) against observables (n_out,): evs (B, n_out)
            pub += (angles[:, bind_columns(qc)][:, None, :],)
        data = self.estimator().run([pub], precision=0.0).result()[0].data
        return exact_result(_rows(np.asarray(data.evs, dtype=float), len(angles), circuit.n_outputs))

    def _run_sampled(self, circuit: Circuit, angles: np.ndarray, shots: int, seed: int | None) -> RunResult:
        if not len(angles):
            empty = np.zeros((0, circuit.n_outputs))
            return sampled_result(circuit, empty, empty, jobs=0)
        measured = to_qiskit_measured(circuit, "aer", _supported(self.method), self.noise)
        result = self.sampler(shots, seed).run(sampler_pubs(measured, angles, group_shots(circuit, shots))).result()
        values, variances = estimates_from_samples(circuit, list(result), len(angles), shots)
        return sampled_result(circuit, values, variances)

    def estimator(self, seed: int | None = None):
        """A fresh ``qiskit_aer.primitives.EstimatorV2`` with this backend's options."""
        from qiskit_aer.primitives import EstimatorV2

        run_options = {} if seed is None else {"seed_simulator": int(seed)}
        return EstimatorV2(options={"backend_options": self._backend_options(), "run_options": run_options})

    def sampler(self, shots: int, seed: int | None = None):
        """A fresh ``qiskit_aer.primitives.SamplerV2`` with this backend's options (seeded when asked)."""
        from qiskit_aer.primitives import SamplerV2

        return SamplerV2(default_shots=int(shots), seed=None if seed is None else int(seed),
                         options={"backend_options": self._backend_options()})

    def _backend_options(self) -> dict:
        options = {"method": self.method, "device": self.device}
        if self.readout:
            options["noise_model"] = _readout_model(self.readout["readout_p1_given_0"],
                                                    self.readout["readout_p0_given_1"])
        return options

    def _as_read(self, circuit: Circuit) -> Circuit:
        """``circuit`` with outputs as the readout errors report them (exact runs; itself without readout errors)."""
        if not self.readout:
            return circuit
        n = circuit.n_qubits
        model = TensoredReadout.from_errors([self.readout["readout_p1_given_0"]] * n,
                                            [self.readout["readout_p0_given_1"]] * n)
        return dataclasses.replace(circuit, outputs=tuple(model.noisy(out) for out in circuit.outputs))

    def __repr__(self) -> str:
        return f"AerBackend(name={self.name!r}, {self.cache_key})"


def _rows(array: np.ndarray, rows: int, n_out: int) -> np.ndarray:
    """Estimator data as ``(rows, n_out)`` (a circuit without slots broadcasts to one row)."""
    return np.broadcast_to(array.reshape(-1, n_out), (rows, n_out)).copy()


_READOUT = ("readout_p1_given_0", "readout_p0_given_1")


def _split_readout(noise) -> tuple[object, dict | None]:
    """``noise`` without its readout keys (for :class:`Depolarizing`), and the readout errors (``None``: none)."""
    if not isinstance(noise, dict) or not any(k in noise for k in _READOUT):
        return noise, None
    readout = {k: noise.get(k, 0.0) for k in _READOUT}
    for key, p in readout.items():
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 0.5:
            raise DeviceError(f"noise parameter {key} must be a readout error probability",
                              expected="a number in [0, 0.5)", received=repr(p), fix=f"set {key} = 0.02, say")
    rest = {k: v for k, v in noise.items() if k not in _READOUT}
    return rest or None, {k: float(v) for k, v in readout.items()}


@lru_cache(maxsize=8)
def _readout_model(p1_given_0: float, p0_given_1: float):
    """An Aer ``NoiseModel`` with this readout error on every qubit (and nothing else)."""
    from qiskit_aer.noise import NoiseModel, ReadoutError

    model = NoiseModel()
    model.add_all_qubit_readout_error(ReadoutError([[1 - p1_given_0, p1_given_0], [p0_given_1, 1 - p0_given_1]]))
    return model


def _check_method(method: str, noise) -> str:
    if method not in _METHODS:
        raise DeviceError(f"unknown Aer method {method!r}", expected="one of " + ", ".join(_METHODS),
                          received=repr(method), fix="use method='statevector' or 'density_matrix'")
    if method == "automatic":
        return "density_matrix" if noise is not None else "statevector"
    return method


def _pick_device(device: str) -> str:
    from qiskit_aer import AerSimulator

    available = AerSimulator().available_devices()
    if device == "auto":
        return "GPU" if "GPU" in available else "CPU"
    if device not in available:
        raise DeviceError(f"Aer device {device!r} is not available in this build",
                          expected="one of " + ", ".join(available), received=repr(device),
                          fix="use device='auto' (a GPU when present), or install qiskit-aer-gpu")
    return device


@lru_cache(maxsize=8)
def _supported(method: str) -> frozenset:
    """Gate names Aer's ``method`` executes natively (others are decomposed by the translator)."""
    from qiskit_aer import AerSimulator

    basis = frozenset(AerSimulator(method=method).configuration().basis_gates)
    return basis - _BATCH_BINDING_BROKEN


# Aer 0.18 returns a single result instead of one per row when these gates carry a parameter
# bound in a batch (parameter_binds), so they are always replaced by their definitions.
_BATCH_BINDING_BROKEN = frozenset({"crx", "cry", "crz", "cp", "cu", "cu1", "cu3", "mcp", "mcrx", "mcry", "mcrz"})
