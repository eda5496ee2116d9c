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

Example:
    >>> import numpy as np, qshift
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> b = IBMBackend("fake_brisbane", default_shots=2000)                 # doctest: +SKIP
    >>> b.run(c, np.array([[np.pi / 2]]), shots=2000, seed=1).values       # doctest: +SKIP
    array([[0.97...]])
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np

from qshift._errors import DeviceError, require
from qshift.backends._common import check_angles, describe, sampled_result
from qshift.backends._qiskit import estimates_from_samples, sampler_pubs, to_qiskit_measured
from qshift.backends.base import Backend, RunResult, TaskLedger
from qshift.backends.ibm_jobs import DEFAULT_POLL_INTERVAL, DEFAULT_POLL_TIMEOUT, JobRun, on_service
from qshift.backends.profiles import DeviceProfile
from qshift.backends.retry import RetryPolicy
from qshift.ir.circuit import Circuit

__all__ = ["IBMBackend"]


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
    """

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
        self.cache_key = describe("ibm", backend=getattr(self.backend, "name", None),
                                  noise=self.noise if not self.cloud else "service",
                                  optimization_level=self.optimization_level)
        self._isa: dict = {}

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

    def sampler(self, shots: int, seed: int | None, tags: list[str] | None = None):
        """The runtime ``SamplerV2``: in job mode on a service backend (``tags``: its job tags), else in local
        mode (the fake backend, or Aer's ideal simulator)."""
        from qiskit_ibm_runtime import SamplerV2

        mode = self.backend if self.noise or self.cloud else _ideal_simulator(self.backend)
        with warnings.catch_warnings():  # 0.50 deprecates SamplerV2 in favour of a client-side Sampler
            warnings.simplefilter("ignore", DeprecationWarning)
            sampler = SamplerV2(mode=mode)
        sampler.options.default_shots = int(shots)
        if seed is not None:
            sampler.options.simulator.seed_simulator = int(seed)
        if tags:
            sampler.options.environment.job_tags = list(tags)
        return sampler

    def __repr__(self) -> str:
        return f"IBMBackend(name={self.name!r}, {self.cache_key})"


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


@lru_cache(maxsize=8)
def _ideal_simulator(backend):
    """Aer with the backend's target (qubits, gates) and no noise."""
    require("qiskit_aer", "aer")
    from qiskit_aer import AerSimulator

    return AerSimulator.from_backend(backend, noise_model=None)
