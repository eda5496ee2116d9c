"""Small helpers every backend shares: angle checks, gate walks, results, option keys, noise.

Nothing here imports a provider SDK.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from qshift._errors import DeviceError, SimulationMemoryError, ValuesError
from qshift.backends.base import RunResult
from qshift.ir.circuit import Circuit
from qshift.ir.gates import GATES
from qshift.ir.grouping import n_groups

__all__ = ["Depolarizing", "Step", "check_angles", "describe", "exact_result", "sampled_result", "steps"]

def check_angles(circuit: Circuit, angles) -> np.ndarray:
    """Slot angles ``(B, n_slots)`` for ``circuit`` as floats, checked for shape and finiteness.

    A circuit without slots also takes a flat array of ``B`` entries (``B`` rows of nothing).

    Raises:
        ValuesError: the shape does not fit the circuit, or an entry is NaN or infinite.

    Example:
        >>> import qshift
        >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
        >>> check_angles(c, [[0.5], [1]]).tolist()
        [[0.5], [1.0]]
    """
    angles = np.asarray(angles, dtype=float)
    if angles.ndim == 1 and circuit.n_slots == 0:
        angles = angles.reshape(-1, 0)
    if angles.ndim != 2 or angles.shape[1] != circuit.n_slots:
        raise ValuesError("slot angles have the wrong shape", expected=f"(rows, {circuit.n_slots})",
                          received=f"{angles.shape}", fix="pass one row of slot angles per evaluation")
    if not np.isfinite(angles).all():
        raise ValuesError("slot angles contain NaN or infinite entries", expected="finite angles",
                          received="non-finite entries", fix="check the values passed in")
    return angles


@dataclass(frozen=True)
class Step:
    """One operation as a translator sees it.

    Attributes:
        gate: canonical qshift gate name.
        qubits: the qubits, in the gate table's order (controls first).
        slot: the slot index when the angle is a parameter of the run, else ``None``.
        constant: the fixed angle of a parametrized gate that is not a slot (else 0).
    """

    gate: str
    qubits: tuple[int, ...]
    slot: int | None
    constant: float = 0.0

    @property
    def parametrized(self) -> bool:
        return GATES[self.gate].parametrized


def steps(circuit: Circuit) -> list[Step]:
    """The circuit's operations with slot indices resolved (slot ``s`` is column ``s`` of the angles).

    Example:
        >>> import qshift
        >>> b = qshift.CircuitBuilder(1)
        >>> c = b.ry(b.input("t"), 0).rz(0.5, 0).expectation("Z0").build()
        >>> [(s.gate, s.slot, s.constant) for s in steps(c)]
        [('ry', 0, 0.0), ('rz', None, 0.5)]
    """
    slot_of = {op_index: s for s, op_index in enumerate(circuit.slot_operations)}
    out = []
    for i, op in enumerate(circuit.operations):
        slot = slot_of.get(i)
        constant = op.angle.b if (op.angle is not None and slot is None) else 0.0
        out.append(Step(op.gate, tuple(op.qubits), slot, float(constant)))
    return out


def exact_result(values, jobs: int = 1) -> RunResult:
    """A result with no shot noise: one execution per row."""
    values = np.asarray(values, dtype=float)
    return RunResult(values, None, len(values), jobs)


def sampled_result(circuit: Circuit, values, variances=None, jobs: int = 1) -> RunResult:
    """A sampled result: executions are rows x measurement groups.

    ``variances`` are per-shot variances; when ``None`` they are ``1 - value**2`` (a Pauli
    product measures +-1 per shot).
    """
    values = np.asarray(values, dtype=float)
    if variances is None:
        variances = np.maximum(1.0 - values ** 2, 0.0)
    return RunResult(values, np.asarray(variances, dtype=float), len(values) * n_groups(circuit), jobs)


def describe(kind: str, **options) -> str:
    """A stable text naming a backend kind and the options that change its results (a cache key).

    Example:
        >>> describe("aer", method="density_matrix", noise=None)
        'aer(method=density_matrix)'
    """
    parts = [f"{k}={_plain(v)}" for k, v in sorted(options.items()) if v is not None]
    return f"{kind}({', '.join(parts)})"


def _plain(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_plain(v)}" for k, v in sorted(value.items())) + "}"
    return str(value)


@dataclass(frozen=True)
class Depolarizing:
    """Depolarizing noise after every one- and two-qubit operation of a circuit.

    Probabilities use the Pauli-channel convention ``rho -> (1 - p) rho + p / (4**k - 1) *
    sum_P P rho P`` over the ``4**k - 1`` non-identity Paulis on ``k`` qubits (Amazon Braket's
    ``Depolarizing`` / ``TwoQubitDepolarizing``). Qiskit Aer's ``depolarizing_error(lam, k)``
    is the same channel with ``lam = p * 4**k / (4**k - 1)``. Three-qubit operations and the
    measurement basis rotations are noiseless.

    Example:
        >>> Depolarizing.parse({"depolarizing_1q": 0.01, "depolarizing_2q": 0.02}).aer_lambda(1)
        0.013333333333333334
    """

    one_qubit: float = 0.0
    two_qubit: float = 0.0

    @classmethod
    def parse(cls, noise) -> "Depolarizing | None":
        """``None``, a :class:`Depolarizing`, or a dict with ``depolarizing_1q`` / ``depolarizing_2q``."""
        if noise is None or isinstance(noise, Depolarizing):
            return noise
        if not isinstance(noise, dict):
            raise DeviceError("noise must be a table of depolarizing probabilities",
                              expected="{'depolarizing_1q': p1, 'depolarizing_2q': p2}",
                              received=type(noise).__name__, fix="pass noise={'depolarizing_2q': 0.01}")
        unknown = sorted(set(noise) - {"depolarizing_1q", "depolarizing_2q"})
        if unknown:
            raise DeviceError(f"unknown noise parameter {unknown[0]!r}", expected="depolarizing_1q, depolarizing_2q",
                              received=", ".join(unknown), fix="use depolarizing_1q and depolarizing_2q")
        probs = {k: noise.get(k, 0.0) for k in ("depolarizing_1q", "depolarizing_2q")}
        for key, p in probs.items():
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise DeviceError(f"noise parameter {key} must be a probability", expected="a number in [0, 1]",
                                  received=repr(p), fix=f"set {key} = 0.01, say")
        return cls(float(probs["depolarizing_1q"]), float(probs["depolarizing_2q"]))

    def probability(self, n_qubits: int) -> float:
        """The probability for an operation on ``n_qubits`` qubits (0 for three or more)."""
        return {1: self.one_qubit, 2: self.two_qubit}.get(n_qubits, 0.0)

    def aer_lambda(self, n_qubits: int) -> float:
        """The same channel as Qiskit Aer's ``depolarizing_error`` parameter."""
        d2 = 4 ** n_qubits
        return self.probability(n_qubits) * d2 / (d2 - 1)

    def as_dict(self) -> dict:
        return {"depolarizing_1q": self.one_qubit, "depolarizing_2q": self.two_qubit}


def physical_memory() -> int | None:
    """This machine's memory in bytes (``None``: unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def bytes_text(log2_bytes: int) -> str:
    """``2 ** log2_bytes`` bytes in words, without computing a huge number.

    Example:
        >>> bytes_text(34), bytes_text(44), bytes_text(200)
        ('16.00 GiB', '16 TiB', '2**200 bytes')
    """
    if log2_bytes < 30:
        return f"{2 ** log2_bytes / 2 ** 20:.2f} MiB"
    if log2_bytes < 40:
        return f"{2 ** (log2_bytes - 30):.2f} GiB"
    for power, unit in ((40, "TiB"), (50, "PiB"), (60, "EiB")):
        if log2_bytes < power + 10:
            return f"{2 ** (log2_bytes - power)} {unit}"
    return f"2**{log2_bytes} bytes"


def check_state_memory(n_qubits: int, name: str, *, density: bool = False, most: int | None = None,
                       fix: str = "use fewer qubits, or a device that holds them") -> None:
    """Refuse, before anything is allocated, a state a simulator cannot hold in this machine's memory.

    A statevector is ``16 * 2**n`` bytes, a density matrix ``16 * 4**n``; sizes are compared as
    powers of two, so ``2**n`` is never computed. ``most``: the simulator's own qubit limit.

    Raises:
        SimulationMemoryError: it does not fit.
    """
    what = "density matrix" if density else "statevector"
    log2_bytes = 4 + (2 if density else 1) * int(n_qubits)  # complex128 amplitudes
    memory = physical_memory()
    if (most is None or n_qubits <= most) and (memory is None or log2_bytes < memory.bit_length()):
        return
    limits = ([f"at most {most} qubits (the simulator's own limit)"] if most is not None else []) + (
        [f"a {what} within this machine's {memory / 2 ** 30:.1f} GiB of memory"] if memory is not None else [])
    raise SimulationMemoryError(f"a {n_qubits}-qubit {what} does not fit on {name!r}",
                                expected=" and ".join(limits),
                                received=f"{n_qubits} qubits: {bytes_text(log2_bytes)} for the {what}", fix=fix)
