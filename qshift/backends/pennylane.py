"""Devices ``default.qubit``, ``lightning.qubit``, ...: any PennyLane device, one ``qml.execute`` per request.

Every row of slot angles becomes one tape (``QuantumScript``) with numeric
angles; the whole batch goes to the device in one ``qml.execute`` call
(``jobs == 1``), which lets the device vectorize or parallelize as it can.

* Exact (``shots=None``): one tape per row measuring every output.
* Shots: one tape per row *and measurement group*, measuring that group's
  qubit-wise-commuting outputs from the same shots; per-shot variances are
  ``1 - value**2``. A seed creates the device with that seed, so runs repeat.

Example:
    >>> import numpy as np, qshift
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> r = PennyLaneBackend("default.qubit").run(c, np.array([[0.0], [np.pi / 2]]))   # doctest: +SKIP
    >>> np.round(r.values, 12).tolist(), r.jobs                                         # doctest: +SKIP
    ([[0.0], [1.0]], 1)
"""

from __future__ import annotations

import numpy as np

from qshift._errors import DeviceError, require
from qshift.backends._common import (Step, check_angles, check_state_memory, describe, exact_result,
                                     sampled_result, steps)
from qshift.backends.base import Backend, RunResult
from qshift.backends.profiles import DeviceProfile
from qshift.ir.circuit import Circuit
from qshift.ir.grouping import add_group_estimates, basis_rotations, blank_estimates, group_shots, measurement_groups

__all__ = ["PennyLaneBackend"]

# qshift gate -> (PennyLane operation name, adjoint?)
_GATES = {
    "id": ("Identity", False), "x": ("PauliX", False), "y": ("PauliY", False), "z": ("PauliZ", False),
    "h": ("Hadamard", False), "s": ("S", False), "sdg": ("S", True), "t": ("T", False), "tdg": ("T", True),
    "sx": ("SX", False), "sxdg": ("SX", True), "cx": ("CNOT", False), "cy": ("CY", False), "cz": ("CZ", False),
    "ch": ("CH", False), "swap": ("SWAP", False), "iswap": ("ISWAP", False), "ecr": ("ECR", False),
    "ccx": ("Toffoli", False), "cswap": ("CSWAP", False),
    "rx": ("RX", False), "ry": ("RY", False), "rz": ("RZ", False), "p": ("PhaseShift", False),
    "crx": ("CRX", False), "cry": ("CRY", False), "crz": ("CRZ", False), "cp": ("ControlledPhaseShift", False),
    "rxx": ("IsingXX", False), "ryy": ("IsingYY", False), "rzz": ("IsingZZ", False),
    "sexc": ("SingleExcitation", False), "sexcp": ("SingleExcitationPlus", False),
    "sexcm": ("SingleExcitationMinus", False), "dexc": ("DoubleExcitation", False),
    "dexcp": ("DoubleExcitationPlus", False), "dexcm": ("DoubleExcitationMinus", False),
}
# qshift gate -> the Pauli word of its PennyLane ``PauliRot`` (``exp(-i theta/2 P)``, first wire first)
_PAULI_ROTATIONS = {"rzx": "ZX"}


class PennyLaneBackend(Backend):
    """A PennyLane device behind the one-method backend contract.

    Args:
        device: a device name (``"default.qubit"``, ``"lightning.qubit"``, ...) or a device
            object (then used as given: its wires must be ``0..n-1`` or unspecified).
        name: the device name used in messages and cache keys (default: the device's name).
        default_shots: shots used when a request passes none (``None``: exact).
        max_batch: most rows per provider call (``None``: no limit).
        device_options: extra keyword arguments for ``qml.device`` (e.g. ``{"c_dtype": ...}``).
        profile: the device profile this backend was built from (prices and limits), or ``None``.
    """

    exact = True

    def __init__(self, device="default.qubit", *, name: str | None = None, default_shots: int | None = None,
                 max_batch: int | None = None, device_options: dict | None = None,
                 profile: DeviceProfile | None = None):
        require("pennylane", "pennylane")
        self.device = device
        self.device_options = dict(device_options or {})
        label = device if isinstance(device, str) else getattr(device, "name", type(device).__name__)
        self.name = name or str(label)
        self.default_shots = default_shots
        self.max_batch = max_batch
        self.profile = profile
        self.cache_key = describe("pennylane", device=label, **self.device_options)
        self._devices: dict = {}

    def run(self, circuit: Circuit, angles: np.ndarray, *, shots: int | None = None,
            seed: int | None = None) -> RunResult:
        """Expectation values at every row of slot ``angles`` (one ``qml.execute`` call)."""
        import pennylane as qml

        angles = check_angles(circuit, angles)
        label = str(self.device if isinstance(self.device, str) else getattr(self.device, "name", ""))
        if label.endswith(".qubit") or label.endswith(".mixed"):  # state simulators: refused before allocating
            check_state_memory(circuit.n_qubits, self.name, density=label.endswith(".mixed"))
        tapes, where = _tapes(qml, circuit, angles, shots)
        results = qml.execute(tapes, self.pennylane_device(circuit.n_qubits, seed if shots else None),
                              diff_method=None)
        if shots is None:  # one tape per row: every term's expectation, then the outputs
            terms = np.array([np.reshape(np.asarray(r, dtype=float), -1) for r in results]).reshape(len(angles), -1)
            return exact_result(circuit.combine(terms))
        values, variances = blank_estimates(circuit, len(angles))
        for (row, (group, n)), bits in zip(where, results):  # one tape per row and group: the measured bits
            add_group_estimates(values, variances, circuit, group, row, np.asarray(bits).reshape(n, -1), int(shots))
        return sampled_result(circuit, values, variances)

    def pennylane_device(self, n_qubits: int, seed: int | None = None):
        """The PennyLane device for ``n_qubits``: cached when unseeded, fresh for each seed (so runs repeat)."""
        if not isinstance(self.device, str):
            return self.device
        if seed is not None:
            return self._create(n_qubits, {"seed": int(seed)})
        if n_qubits not in self._devices:
            self._devices[n_qubits] = self._create(n_qubits, {})
        return self._devices[n_qubits]

    def _create(self, n_qubits: int, extra: dict):
        import pennylane as qml

        try:
            return qml.device(self.device, wires=n_qubits, **self.device_options, **extra)
        except Exception as exc:
            raise DeviceError(f"PennyLane could not create device {self.device!r}",
                              expected="an installed PennyLane device name", received=f"{type(exc).__name__}: {exc}",
                              fix="check the name (qml.plugin_devices lists them) or install its plugin") from exc

    def __repr__(self) -> str:
        return f"PennyLaneBackend(name={self.name!r}, {self.cache_key})"


def _tapes(qml, circuit: Circuit, angles: np.ndarray, shots: int | None):
    """Tapes for every row and where their results go.

    Exact: one tape per row measuring every term's expectation. Sampling: one tape per row and
    measurement group, with the group's basis rotations appended and every qubit sampled (the
    bits give each output's estimate, covariances of terms included).
    """
    program = steps(circuit)
    tapes, where = [], []
    observables = [_observable(qml, p) for p in circuit.terms]
    rotations = {"h": qml.Hadamard, "sdg": lambda wires: qml.adjoint(qml.S(wires=wires))}
    for row, slot_angles in enumerate(angles):
        ops = [_operation(qml, step, slot_angles) for step in program]
        if shots is None:
            tapes.append(qml.tape.QuantumScript(ops, [qml.expval(o) for o in observables]))
            where.append((row, None))
            continue
        for group, n in zip(measurement_groups(circuit), group_shots(circuit, shots)):
            turned = ops + [rotations[gate](wires=q) for gate, q in basis_rotations(group)]
            tapes.append(qml.tape.QuantumScript(turned, [qml.sample(wires=range(circuit.n_qubits))], shots=int(n)))
            where.append((row, (group, int(n))))
    return tapes, where


def _operation(qml, step: Step, slot_angles: np.ndarray):
    angle = (float(slot_angles[step.slot]) if step.slot is not None else step.constant) if step.parametrized else None
    if step.gate in _PAULI_ROTATIONS:
        return qml.PauliRot(angle, _PAULI_ROTATIONS[step.gate], wires=list(step.qubits))
    name, adjoint = _GATES[step.gate]
    cls = getattr(qml, name)
    if step.parametrized:
        op = cls(angle, wires=list(step.qubits))
    else:
        op = cls(wires=list(step.qubits))
    return qml.adjoint(op) if adjoint else op


def _observable(qml, pauli):
    factors = [getattr(qml, {"X": "PauliX", "Y": "PauliY", "Z": "PauliZ"}[p])(q) for q, p in pauli.factors]
    if not factors:
        return qml.Identity(0)
    return factors[0] if len(factors) == 1 else qml.prod(*factors)
