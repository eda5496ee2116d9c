"""Devices ``braket-local``, ``braket-dm``: Amazon Braket through the SDK's own batching.

One Braket program per circuit structure, with a ``FreeParameter`` per slot;
rows are its inputs. The device is any Braket ``Device``: a ``LocalSimulator``
(``"default"``, ``"braket_sv"``, ``"braket_dm"``), or an ``AwsDevice`` passed in
as ``BraketBackend(device=AwsDevice(arn))`` — the same code path runs both.

* Exact (``shots=None``, simulators only): one ``run_batch`` call with one input
  set per row, each task returning an ``Expectation`` per output.
* Shots: every measurement group becomes one program (basis rotations
  appended, all qubits measured); where the device supports program sets, the
  rows of every group go into one ``ProgramSet`` of ``CircuitBinding`` s — one
  quantum task, split only where the device's ``maximumExecutables`` /
  ``maximumTotalShots`` require it. Other devices get one ``run_batch`` call.
  Estimates and per-shot variances come from the measured parities.
* Seeds: a local simulator's sampler is seeded through a seeded copy of the
  simulator; hardware cannot be seeded.
* Memory: a local simulator holds the whole state (``16 * 2**n`` bytes, a density matrix
  ``16 * 4**n``); a circuit beyond the simulator's qubit count or this machine's memory is a
  :class:`~qshift.SimulationMemoryError` before anything is sent to it.

On an ``AwsDevice`` the backend creates the quantum tasks itself
(:mod:`~qshift.backends.braket.tasks`) instead of calling ``run_batch``: one task per circuit
(or per program set), at most ``max_parallel`` in flight, each create call
with an idempotency token, every AWS call under a :class:`~qshift.RetryPolicy`
(transient errors retried with backoff and jitter, permanent ones raised at
once), and only the failed tasks of a batch sent again. :meth:`BraketBackend.iter_run`
yields rows as their tasks finish and records every task in the ledger it is
given (the executor's, backed by the :class:`~qshift.EvaluationStore`), so a
rerun after a crash re-attaches to tasks still running instead of paying twice.

``RunResult.jobs`` counts provider calls: one per ``run_batch`` request or program set on a
local simulator; one per quantum task created on an AWS device.

Example:
    >>> import numpy as np, qshift
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> r = BraketBackend("braket_sv").run(c, np.array([[0.0], [np.pi / 2]]))   # doctest: +SKIP
    >>> np.round(r.values, 12).tolist(), r.jobs                                  # doctest: +SKIP
    ([[0.0], [1.0]], 1)
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from qshift._errors import DeviceError, require
from qshift.backends._common import (Depolarizing, check_angles, check_state_memory, describe, exact_result,
                                     sampled_result)
from qshift.backends.base import Backend, RunResult
from qshift.backends.braket.limits import PROGRAM_SET, rows_per_set, takes_program_sets
from qshift.backends.braket.tasks import TaskRun, on_aws
from qshift.backends.braket.translate import binding, exact_values, fill, inputs, to_braket
from qshift.backends.profiles import DeviceProfile
from qshift.backends.retry import RetryPolicy
from qshift.ir.circuit import Circuit
from qshift.ir.grouping import blank_estimates, measurement_groups

__all__ = ["BraketBackend"]

_LOCAL = ("default", "braket_sv", "braket_dm")


class BraketBackend(Backend):
    """An Amazon Braket device behind the one-method backend contract.

    Args:
        device: a local simulator name (``"default"``, ``"braket_sv"``, ``"braket_dm"``), a
            device ARN (an ``AwsDevice``, created on first use: needs AWS credentials), or any
            Braket ``Device`` object.
        name: the device name used in messages and cache keys.
        noise: depolarizing noise after every one- and two-qubit operation (``braket_dm`` only).
        default_shots: shots used when a request passes none (``None``: exact).
        max_batch: most rows per provider call (``None``: no limit).
        max_parallel: parallel local tasks in ``run_batch`` (``None``: the SDK's default).
        program_sets: use program sets when the device supports them (default ``True``).
        run_options: extra keyword arguments for every ``run`` / ``run_batch`` call (e.g.
            ``s3_destination_folder``, ``poll_interval_seconds``, ``poll_timeout_seconds`` for an
            ``AwsDevice``).
        retry: how calls to AWS are retried (default ``RetryPolicy()``: 6 attempts, backoff
            from 0.5 s to 30 s with full jitter, at most 10 minutes per call); it also bounds how
            often a task that ended FAILED (retryably) or CANCELLED is sent again.
        profile: the device profile this backend was built from (prices and limits), or ``None``.
    """

    def __init__(self, device="braket_sv", *, name: str | None = None, noise=None, default_shots: int | None = None,
                 max_batch: int | None = None, max_parallel: int | None = None, program_sets: bool = True,
                 run_options: dict | None = None, retry: RetryPolicy | None = None,
                 profile: DeviceProfile | None = None):
        require("braket.devices", "braket")
        self._spec = device
        self._device = None if isinstance(device, str) else device
        label = device if isinstance(device, str) else getattr(device, "name", type(device).__name__)
        self.name = name or str(label)
        self.noise = Depolarizing.parse(noise)
        self.exact = _can_be_exact(device)
        self.default_shots = default_shots if (default_shots is not None or self.exact) else 1000
        self.max_batch = max_batch
        self.max_parallel = max_parallel
        self.program_sets = program_sets
        self.run_options = dict(run_options or {})
        self.retry = retry if retry is not None else RetryPolicy()
        self.profile = profile
        self.cloud = _is_cloud(device)
        key = getattr(device, "arn", None) if self.cloud and not isinstance(device, str) else None
        self.cache_key = describe("braket", device=key or label, noise=self.noise and self.noise.as_dict())
        if self.noise is not None and device not in ("braket_dm",) and isinstance(device, str):
            raise DeviceError("noise needs a density-matrix simulator", expected="device='braket_dm'",
                              received=repr(device), fix="use BraketBackend('braket_dm', noise=...)")

    @property
    def device(self):
        """The Braket ``Device`` (a ``LocalSimulator``, or an ``AwsDevice`` created on first use)."""
        if self._device is None:
            self._device = _make_device(self._spec)
        return self._device

    def run(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None = None,
            seed: int | None = None) -> RunResult:
        """Expectation values at every row of slot ``angles``."""
        angles = check_angles(circuit, angles)
        self._check_shots(shots)
        if not on_aws(self.device):
            _check_local_memory(self.device, circuit.n_qubits, self.name)
        if shots is not None and circuit.n_slots == 0 and len(angles) > 1:  # identical rows: sample one, share it
            one = self.run(circuit, angles[:1], shots=shots, seed=seed)
            return RunResult(np.repeat(one.values, len(angles), axis=0), np.repeat(one.variances, len(angles), axis=0),
                             one.executions, one.jobs)
        if on_aws(self.device):
            return _assemble(circuit, len(angles), shots, self.iter_run(circuit, angles, shots=shots, seed=seed))
        if shots is None:
            return self._run_exact(circuit, angles)
        device = self._seeded(seed)
        if self.program_sets and takes_program_sets(device):
            return self._run_program_sets(device, circuit, angles, shots)
        return self._run_batch_sampled(device, circuit, angles, shots)

    def iter_run(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None = None, seed: int | None = None,
                 ledger=None) -> Iterator[tuple[np.ndarray, RunResult]]:
        """As :meth:`run`, in pieces ``(rows, result)`` as they finish.

        On an AWS device every quantum task is recorded in ``ledger`` (a
        :class:`~qshift.backends.base.TaskLedger`; the executor's keeps them in the store) as it is
        created, and tasks an earlier run recorded there are re-attached instead of sent again; see
        :mod:`~qshift.backends.braket.tasks`. On a local simulator the whole run is one piece.
        """
        angles = check_angles(circuit, angles)
        one_sample = shots is not None and circuit.n_slots == 0 and len(angles) > 1
        if one_sample or not on_aws(self.device):
            yield np.arange(len(angles)), self.run(circuit, angles, shots=shots, seed=seed)
            return
        self._check_shots(shots)
        yield from TaskRun(self, self.device, circuit, angles, shots, ledger).stream()

    def _check_shots(self, shots: int | None) -> None:
        """A QPU refuses ``shots=None`` here instead of taking :attr:`default_shots`: a request's
        shots are resolved before a run (:meth:`~qshift.backends.base.Backend.resolve_shots`), so
        ``None`` reaching a device that only samples is a caller's mistake."""
        if shots is None and not self.exact:
            raise DeviceError(f"device {self.name!r} only samples", expected="shots=N",
                              received="shots=None", fix="pass shots=1000, say")

    # -- exact ----------------------------------------------------------------------------------
    def _run_exact(self, circuit: Circuit, angles: np.ndarray) -> RunResult:
        program = to_braket(circuit, None, self.noise, True)
        batch = self.device.run_batch(program, shots=0, inputs=inputs(angles), **self._parallel())
        results = batch.results()
        _check_results(results, len(angles), self.name)
        return exact_result(np.array([exact_values(circuit, r) for r in results], dtype=float))

    # -- sampling -------------------------------------------------------------------------------
    def _run_program_sets(self, device, circuit: Circuit, angles: np.ndarray, shots: int) -> RunResult:
        from braket.program_sets import CircuitBinding, ProgramSet

        limits = device.properties.action[PROGRAM_SET]
        per_set = rows_per_set(limits, shots)
        groups = measurement_groups(circuit)
        chunks = [(g, lo, min(lo + per_set, len(angles))) for g in groups for lo in range(0, len(angles), per_set)]
        values, variances = blank_estimates(circuit, len(angles))
        jobs = 0
        for pack in _pack(chunks, per_set):
            bindings = [binding(CircuitBinding, to_braket(circuit, g, self.noise), angles[lo:hi]) for g, lo, hi in pack]
            program_set = ProgramSet(bindings, shots_per_executable=shots)
            result = device.run(program_set, shots=program_set.total_shots, **self.run_options).result()
            jobs += 1
            for (g, lo, hi), entry in zip(pack, result):
                _check_results(entry, hi - lo, self.name)
                fill(values, variances, circuit, g, range(lo, hi), entry)
        return sampled_result(circuit, values, variances, jobs)

    def _run_batch_sampled(self, device, circuit: Circuit, angles: np.ndarray, shots: int) -> RunResult:
        groups = measurement_groups(circuit)
        programs = [to_braket(circuit, g, self.noise) for g in groups for _ in range(len(angles))]
        batch_inputs = inputs(angles) * len(groups)
        results = device.run_batch(programs, shots=shots, inputs=batch_inputs, **self._parallel()).results()
        _check_results(results, len(programs), self.name)
        values, variances = blank_estimates(circuit, len(angles))
        for k, g in enumerate(groups):
            fill(values, variances, circuit, g, range(len(angles)), results[k * len(angles):(k + 1) * len(angles)])
        return sampled_result(circuit, values, variances)

    def _parallel(self) -> dict:
        options = dict(self.run_options)
        if self.max_parallel is not None:
            options["max_parallel"] = self.max_parallel
        return options

    def _seeded(self, seed: int | None):
        if seed is None or not (isinstance(self._spec, str) and self._spec in _LOCAL):
            return self.device
        return _seeded_local(self._spec, seed)

    def __repr__(self) -> str:
        return f"BraketBackend(name={self.name!r}, {self.cache_key})"


def _check_local_memory(device, n_qubits: int, name: str) -> None:
    """Refuse a state a local simulator cannot hold: beyond its qubit count or this machine's memory."""
    density = "density" in str(getattr(device, "name", type(device).__name__)).lower()
    check_state_memory(n_qubits, f"the Braket local simulator {name!r}", density=density, most=_qubit_count(device),
                       fix="use fewer qubits, or a device that holds them (an AWS simulator such as 'braket-sv1', "
                           "or 'aer')")


def _qubit_count(device) -> int | None:
    """The qubits a local simulator declares it simulates (``None``: not declared)."""
    try:
        count = device.properties.paradigm.qubitCount
    except Exception:  # a Device without these properties declares nothing
        return None
    return int(count) if isinstance(count, (int, np.integer)) and count > 0 else None


def _is_cloud(device) -> bool:
    """A device reached through AWS (an ARN, or an ``AwsDevice``): runs cost money and time."""
    if isinstance(device, str):
        return device.startswith("arn:")
    return isinstance(getattr(device, "arn", None), str)


def _assemble(circuit: Circuit, n: int, shots: int | None, pieces) -> RunResult:
    """One result from the ``(rows, result)`` pieces of :meth:`BraketBackend.iter_run`."""
    values = np.empty((n, circuit.n_outputs))
    variances = None if shots is None else np.empty_like(values)
    executions = jobs = 0
    for rows, result in pieces:
        values[rows] = result.values
        if variances is not None:
            variances[rows] = result.variances
        executions += result.executions
        jobs += result.jobs
    return RunResult(values, variances, executions, jobs)


def _can_be_exact(device) -> bool:
    """Simulators compute exact expectations (shots=0); QPUs only sample."""
    if isinstance(device, str):
        return not device.startswith("arn:") or "quantum-simulator" in device
    kind = getattr(getattr(device, "type", None), "value", getattr(device, "type", None))
    return str(kind).upper() != "QPU"


def _make_device(spec: str):
    if spec.startswith("arn:"):
        from braket.aws import AwsDevice

        return AwsDevice(spec)
    from braket.devices import LocalSimulator

    try:
        return LocalSimulator(spec)
    except ValueError as exc:
        raise DeviceError(f"unknown Braket local simulator {spec!r}", expected="one of " + ", ".join(_LOCAL),
                          received=repr(spec), fix="use 'braket_sv' or 'braket_dm', or pass a device ARN") from exc


def _seeded_local(spec: str, seed: int):
    """A ``LocalSimulator`` whose sampler draws from ``numpy.random.default_rng(seed)``.

    The Braket simulators create an unseeded generator per simulation; a subclass hands each
    simulation one shared seeded generator instead (tasks then run in one process, in order).
    """
    from braket.default_simulator import DensityMatrixSimulator, StateVectorSimulator
    from braket.devices import LocalSimulator

    base = DensityMatrixSimulator if spec == "braket_dm" else StateVectorSimulator
    rng = np.random.default_rng(seed)

    class Seeded(base):
        def initialize_simulation(self, **kwargs):
            simulation = super().initialize_simulation(**kwargs)
            simulation._rng_generator = rng
            return simulation

    return LocalSimulator(backend=Seeded())


def _pack(chunks, per_set: int):
    """Chunks ``(group, lo, hi)`` packed into program sets of at most ``per_set`` executables."""
    pack, size = [], 0
    for chunk in chunks:
        n = chunk[2] - chunk[1]
        if pack and size + n > per_set:
            yield pack
            pack, size = [], 0
        pack.append(chunk)
        size += n
    if pack:
        yield pack


def _check_results(results, expected: int, name: str) -> None:
    """Every task came back with a result (a failed task in a batch comes back as ``None``)."""
    results = list(results)
    failed = [i for i, r in enumerate(results) if r is None]
    if len(results) != expected or failed:
        raise DeviceError(f"device {name!r} returned {len(results) - len(failed)} result(s) for {expected} task(s)",
                          expected=f"{expected} results",
                          received=f"{len(results)} results" + (f", tasks {failed[:10]} failed" if failed else ""),
                          fix="check the tasks' status on the device; rerun the request (finished batches are cached)")
