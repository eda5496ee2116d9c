"""Device ``ibm-fake-brisbane``: qiskit-ibm-runtime's ``SamplerV2`` on an IBM backend.

It always samples. Each measurement group of a circuit (qubit-wise-commuting outputs,
:mod:`qshift.ir.grouping`) is the circuit with the group's basis rotations appended and
every qubit measured; each is transpiled once per circuit structure for the backend —
its coupling map, its native gates (``ecr``, ``rz``, ``sx``, ``x`` on Eagle) — keeping
one ``Parameter`` per slot. A batch of rows is then one PUB per group
``(isa_circuit, values[B, P], shots)`` in one ``run`` call (``jobs == 1``; one
execution per group and row), and the estimates and per-shot variances come from the
measured bits (:func:`~qshift.ir.grouping.estimate_from_bits`).

Here the backend is one of the runtime's fake backends (``FakeBrisbane``,
``FakeSherbrooke``, ...): a snapshot of a real device's coupling map, gates and
calibrated noise (readout errors included), executed locally by Aer.

``noise=False`` keeps the transpilation for the fake device but executes the
transpiled circuit on Aer's ideal simulator: a check of layout, routing and
parameter binding free of hardware noise.

A service backend (``IBMBackend(backend=service.backend("ibm_brisbane"))``, given an IBM
Quantum account) sends the same PUBs as runtime jobs: every job is recorded in the
request's task ledger (the store) with its id and a tag, so a request rerun after a crash
re-attaches to its jobs instead of paying for them again (:mod:`qshift.backends.ibm_jobs`).

Mitigation by the runtime. ``mitigation="runtime"`` (or ``{"runtime": {"resilience_level": 2, ...}}``,
:class:`~qshift.cost.mitigation.Runtime`) asks IBM to mitigate instead of qshift: the request runs on
:meth:`IBMBackend.with_resilience`, the same device sending **EstimatorV2** jobs (IBM's resilience options
belong to the Estimator, not to the Sampler) with ``resilience_level``, ``resilience`` and ``twirling`` set
as given. One PUB per job: the ISA circuit without measurements, the outputs as ``SparsePauliOp`` operators on the
device's layout, every row bound; ``default_shots`` is the request's shots (IBM spends them per measurement
basis it picks, per ZNE noise factor, over twirling randomizations). The values are IBM's mitigated ``evs``
and the standard errors IBM's ``stds`` (which hold the extrapolation's amplification and the twirling
spread), reported as per-shot variances ``stds**2 * shots`` like every sampled result, so
``sqrt(variance / shots)`` is IBM's standard error. Jobs are recorded and re-attached as above; the cache
and the store key them apart from unmitigated runs (the options are in :attr:`~IBMBackend.cache_key`).
Only a service backend passes them through: qiskit-ibm-runtime's local testing mode (the fake backends,
``ibm-fake-brisbane``) ignores resilience options, so there it is refused rather than reported as mitigated.

Example:
    >>> import numpy as np, qshift
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> b = IBMBackend("fake_brisbane", default_shots=2000)                 # doctest: +SKIP
    >>> b.run(c, np.array([[np.pi / 2]]), shots=2000, seed=1).values       # doctest: +SKIP
    array([[0.97...]])
"""

from __future__ import annotations

import copy
import warnings
from functools import lru_cache

import numpy as np

from qshift._errors import DeviceError, MitigationError, require
from qshift.backends._common import check_angles, describe, sampled_result
from qshift.backends._qiskit import (bind_columns, estimates_from_samples, sampler_pubs, to_qiskit,
                                     to_qiskit_measured, to_qiskit_observables)
from qshift.backends.base import Backend, RunResult, TaskLedger
from qshift.backends.ibm_jobs import DEFAULT_POLL_INTERVAL, DEFAULT_POLL_TIMEOUT, JobRun, on_service
from qshift.backends.profiles import DeviceProfile
from qshift.backends.retry import RetryPolicy
from qshift.ir.circuit import Circuit

__all__ = ["IBMBackend", "resilience_problem"]


class IBMBackend(Backend):
    """An IBM backend (here: a fake one) behind the one-method backend contract.

    Args:
        backend: a fake backend name (``"fake_brisbane"``, ``"fake_sherbrooke"`` ...) or a
            Qiskit ``BackendV2`` object (a fake backend, or a real one from a runtime service).
        name: the device name used in messages and cache keys.
        noise: simulate the fake backend's noise (``False``: Aer's ideal simulator runs the
            circuit transpiled for the device).
        optimization_level: the transpiler's level (0-3).
        default_shots: shots used when a request passes none.
        max_batch: most rows per provider call (``None``: no limit).
        rows_per_job: on a service backend, most rows per runtime job (``None``: ``max_batch``, or every row
            of a call); the jobs of one call are all queued before the first is awaited.
        profile: the device profile this backend was built from (prices and limits), or ``None``.
        retry: how calls to a runtime service are retried (service backends only).
        poll_interval: seconds between status polls of a runtime job (service backends only).
        poll_timeout: the longest wait for a call's runtime jobs, in seconds (service backends only).

    Attributes:
        cloud: ``True`` on a service backend: runs are runtime jobs, recorded in the store.
        resilience: the EstimatorV2 resilience options this device sends (:meth:`with_resilience`), or
            ``None``: SamplerV2 jobs, estimates from the measured bits.
    """

    resilience: dict | None = None

    exact = False

    def __init__(self, backend="fake_brisbane", *, name: str | None = None, noise: bool = True,
                 optimization_level: int = 1, default_shots: int = 4096, max_batch: int | None = None,
                 profile: DeviceProfile | None = None, rows_per_job: int | None = None,
                 retry: RetryPolicy | None = None,
                 poll_interval: float = DEFAULT_POLL_INTERVAL, poll_timeout: float = DEFAULT_POLL_TIMEOUT):
        require("qiskit_ibm_runtime", "ibm")
        self.backend = _resolve(backend)
        self.cloud = on_service(self.backend)
        self.retry = retry or RetryPolicy()
        self.rows_per_job = rows_per_job
        self.poll_interval, self.poll_timeout = float(poll_interval), float(poll_timeout)
        self.name = name or getattr(self.backend, "name", "ibm")
        self.noise = bool(noise)
        self.optimization_level = int(optimization_level)
        self.default_shots = int(default_shots)
        self.max_batch = max_batch
        self.profile = profile
        self.cache_key = self._describe()
        self._isa: dict = {}

    def _describe(self) -> str:
        return describe("ibm", backend=getattr(self.backend, "name", None),
                        noise=self.noise if not self.cloud else "service",
                        optimization_level=self.optimization_level, resilience=self.resilience)

    def with_resilience(self, options: dict) -> "IBMBackend":
        """This device sending EstimatorV2 jobs with IBM's resilience ``options`` (``resilience_level``,
        ``resilience``, ``twirling``: see the module notes); a service backend only.

        The copy shares this device's transpilations; its :attr:`cache_key` names the options.
        """
        if not self.cloud:
            raise MitigationError(f"device {self.name!r} runs in qiskit-ibm-runtime's local testing mode, which "
                                  "ignores resilience options: its values would not be mitigated",
                                  expected="an IBM service device (ibm-brisbane, or IBMBackend(service.backend(...)))",
                                  received=f"device {self.name!r} (a local fake backend)",
                                  fix="on a fake device use mitigation='zne' and/or 'readout' (qshift folds and "
                                      "calibrates itself); mitigation='runtime' on a service device")
        problem = resilience_problem(options)
        if problem:
            raise MitigationError("qiskit-ibm-runtime refuses these resilience options", expected="valid "
                                  "EstimatorV2 options", received=problem, fix="pass option fields of "
                                  "qiskit_ibm_runtime.options.EstimatorOptions")
        other = copy.copy(self)
        other.resilience = copy.deepcopy(dict(options))
        other.cache_key = other._describe()
        return other

    def run(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None = None,
            seed: int | None = None) -> RunResult:
        """Estimates at every row of slot ``angles`` (one PUB per measurement group, one ``SamplerV2.run``)."""
        angles = check_angles(circuit, angles)
        shots = int(self.resolve_shots(shots))
        if not len(angles):
            empty = np.zeros((0, circuit.n_outputs))
            return sampled_result(circuit, empty, empty, jobs=0)
        if self.cloud:
            pieces = list(self.iter_run(circuit, angles, shots=shots, seed=seed))
            return _joined(circuit, len(angles), pieces)
        job = self.sampler(shots, seed).run(sampler_pubs(self.transpiled(circuit), angles, shots))
        values, variances = estimates_from_samples(circuit, list(job.result()), len(angles), shots)
        return sampled_result(circuit, values, variances)

    def iter_run(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None = None, seed: int | None = None,
                 ledger: TaskLedger | None = None):
        """Rows as their runtime jobs finish (a service backend; each job recorded in ``ledger``), else one piece."""
        if not self.cloud:
            yield from super().iter_run(circuit, angles, shots=shots, seed=seed)
            return
        angles = check_angles(circuit, angles)
        if len(angles):
            yield from JobRun(self, circuit, angles, int(self.resolve_shots(shots)), seed, ledger).stream()

    def transpiled(self, circuit: Circuit) -> tuple:
        """One ISA circuit per measurement group, transpiled once per circuit structure.

        The measurements are part of the transpiled circuit, so bit ``q`` of the result is
        qshift qubit ``q`` whatever the layout.
        """
        key = circuit.fingerprint
        if key not in self._isa:
            from qiskit.transpiler import generate_preset_pass_manager

            pm = generate_preset_pass_manager(backend=self.backend, optimization_level=self.optimization_level)
            self._isa[key] = tuple(pm.run(list(to_qiskit_measured(circuit, "ibm"))))
        return self._isa[key]

    # -- what a runtime job sends (ibm_jobs.JobRun): Sampler PUBs, or Estimator PUBs with resilience options --
    def primitive(self, shots: int, seed: int | None, tags: list[str] | None = None):
        """The primitive a runtime job runs: :meth:`estimator` with resilience options, else :meth:`sampler`."""
        if self.resilience is not None:
            return self.estimator(shots, seed, tags)
        return self.sampler(shots, seed, tags)

    def pubs(self, circuit: Circuit, angles: np.ndarray, shots: int) -> list:
        """The PUBs of ``angles``' rows for :meth:`primitive`: one per measurement group (Sampler), or one
        ``(isa, observables[1, n_out], values[B, 1, P])`` (Estimator: every row at every output)."""
        if self.resilience is None:
            return sampler_pubs(self.transpiled(circuit), angles, shots)
        isa, observables = self.estimator_transpiled(circuit)
        if not isa.num_parameters:
            return [(isa, [list(observables)])]
        return [(isa, [list(observables)], angles[:, bind_columns(isa)][:, None, :])]

    def estimates(self, circuit: Circuit, pub_results: list, rows: int, shots: int) -> tuple[np.ndarray, np.ndarray]:
        """Estimates and per-shot variances ``(rows, n_outputs)`` from the results of :meth:`pubs`' PUBs (the
        Estimator's: ``evs``, and ``stds**2 * shots``, so that ``sqrt(variance / shots)`` is its ``stds``)."""
        if self.resilience is None:
            return estimates_from_samples(circuit, pub_results, rows, shots)
        data = pub_results[0].data
        shape = (rows, circuit.n_outputs)
        values = np.broadcast_to(np.asarray(data.evs, dtype=float).reshape(-1, circuit.n_outputs), shape)
        stds = np.broadcast_to(np.asarray(data.stds, dtype=float).reshape(-1, circuit.n_outputs), shape)
        return np.array(values), np.array(stds) ** 2 * shots

    def estimator_transpiled(self, circuit: Circuit) -> tuple:
        """``(isa circuit, observables on its layout)`` for the Estimator, transpiled once per circuit structure."""
        key = (circuit.fingerprint, "estimator")
        if key not in self._isa:
            from qiskit.transpiler import generate_preset_pass_manager

            pm = generate_preset_pass_manager(backend=self.backend, optimization_level=self.optimization_level)
            isa = pm.run(to_qiskit(circuit, "ibm"))
            self._isa[key] = (isa, tuple(o.apply_layout(isa.layout) for o in to_qiskit_observables(circuit, "ibm")))
        return self._isa[key]

    def estimator(self, shots: int, seed: int | None, tags: list[str] | None = None):
        """The runtime ``EstimatorV2`` in job mode with this device's resilience options, ``default_shots=shots``."""
        from qiskit_ibm_runtime import EstimatorV2

        with warnings.catch_warnings():  # 0.50 deprecates EstimatorV2 in favour of a client-side Estimator
            warnings.simplefilter("ignore", DeprecationWarning)
            estimator = EstimatorV2(mode=self.backend)
        estimator.options.update(**copy.deepcopy(self.resilience or {}))
        return _with_run_options(estimator, shots, seed, tags)

    def sampler(self, shots: int, seed: int | None, tags: list[str] | None = None):
        """The runtime ``SamplerV2``: in job mode on a service backend (``tags``: its job tags), else in local
        mode (the fake backend, or Aer's ideal simulator)."""
        from qiskit_ibm_runtime import SamplerV2

        mode = self.backend if self.noise or self.cloud else _ideal_simulator(self.backend)
        with warnings.catch_warnings():  # 0.50 deprecates SamplerV2 in favour of a client-side Sampler
            warnings.simplefilter("ignore", DeprecationWarning)
            sampler = SamplerV2(mode=mode)
        return _with_run_options(sampler, shots, seed, tags)

    def __repr__(self) -> str:
        return f"IBMBackend(name={self.name!r}, {self.cache_key})"


def resilience_problem(options: dict) -> str | None:
    """Why qiskit-ibm-runtime's ``EstimatorOptions`` refuse ``options`` (``resilience_level``, ``resilience``,
    ``twirling``), or ``None`` (also when qiskit-ibm-runtime is not installed: there is nothing to ask).

    Example:
        >>> resilience_problem({"resilience_level": 2, "resilience": {"zne": {"noise_factors": [1, 3]}}}) is None
        True
    """
    try:
        from qiskit_ibm_runtime.options import EstimatorOptions
    except ImportError:
        return None
    try:
        EstimatorOptions(**copy.deepcopy(dict(options)))
    except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError or a ValueError: its words are the answer
        return " ".join(f"{type(exc).__name__}: {exc}".split())
    return None


def _joined(circuit: Circuit, rows: int, pieces: list[tuple[np.ndarray, RunResult]]) -> RunResult:
    """One result for ``rows`` rows from the pieces of :meth:`IBMBackend.iter_run`."""
    values, variances = np.empty((rows, circuit.n_outputs)), np.empty((rows, circuit.n_outputs))
    for taken, piece in pieces:
        values[taken], variances[taken] = piece.values, piece.variances
    return sampled_result(circuit, values, variances, jobs=sum(piece.jobs for _, piece in pieces))


def _resolve(backend):
    """A fake backend by name (``"fake_brisbane"`` -> ``FakeBrisbane()``), or the object given."""
    if not isinstance(backend, str):
        return backend
    from qiskit_ibm_runtime import fake_provider

    class_name = "".join(part.capitalize() for part in backend.split("_"))
    cls = getattr(fake_provider, class_name, None)
    if backend.startswith("fake_") and cls is not None:
        return cls()
    raise DeviceError(f"no fake IBM backend named {backend!r}",
                      expected="a fake backend name such as 'fake_brisbane' or 'fake_sherbrooke'",
                      received=repr(backend),
                      fix="pass a fake name, or a backend object: IBMBackend(backend=service.backend('ibm_...'))")



def _with_run_options(primitive, shots: int, seed: int | None, tags: list[str] | None):
    """A runtime primitive (Sampler or Estimator) with the run's shots, simulator seed and job tags."""
    primitive.options.default_shots = int(shots)
    if seed is not None:
        primitive.options.simulator.seed_simulator = int(seed)
    if tags:
        primitive.options.environment.job_tags = list(tags)
    return primitive

@lru_cache(maxsize=8)
def _ideal_simulator(backend):
    """Aer with the backend's target (qubits, gates) and no noise."""
    require("qiskit_aer", "aer")
    from qiskit_aer import AerSimulator

    return AerSimulator.from_backend(backend, noise_model=None)
