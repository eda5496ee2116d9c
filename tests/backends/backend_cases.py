"""The backends under test (each with how to break its provider call) and shared test circuits.

Every backend runs the same conformance suite (`test_conformance.py`). Sizes are
small on purpose (two qubits, a few rows): the whole folder must stay under about
two minutes on two cores.

`ibm` here is the fake Brisbane device with `noise=False`: circuits are transpiled
to Brisbane's coupling map and native gates (one measured circuit per measurement
group), the runtime's SamplerV2 samples them, and Aer runs them without noise; so its estimates can be held to
5 standard errors of the exact values. The noisy fake device is compared in
`test_noise.py` with a tolerance for its noise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import qshift
from qshift.ir.gates import MULTI_ANGLE

os.environ.setdefault("OMP_NUM_THREADS", "1")

SHOTS = 2000


@dataclass
class Case:
    name: str
    make: Callable[[], object]
    exact: bool  # exact results when no shots are asked
    break_provider: Callable[[pytest.MonkeyPatch], None]

    def __repr__(self) -> str:
        return self.name


def _boom(*args, **kwargs):
    raise RuntimeError("provider unreachable")


def _break_local(mp):
    mp.setattr(qshift.backends.local.simulator, "_run_chunk", _boom)


def _break_aer(mp):
    from qiskit_aer.primitives import EstimatorV2, SamplerV2

    mp.setattr(EstimatorV2, "run", _boom)
    mp.setattr(SamplerV2, "run", _boom)


def _break_pennylane(mp):
    import pennylane

    mp.setattr(pennylane, "execute", _boom)


def _break_braket(mp):
    from braket.devices import LocalSimulator

    mp.setattr(LocalSimulator, "run_batch", _boom)
    mp.setattr(LocalSimulator, "run", _boom)


def _break_ibm(mp):
    from qiskit_ibm_runtime import SamplerV2

    mp.setattr(SamplerV2, "run", _boom)


CASES = [
    Case("local", lambda: qshift.backends.registry.resolve_device("local"), True, _break_local),
    Case("aer", lambda: qshift.backends.registry.resolve_device("aer"), True, _break_aer),
    Case("default.qubit", lambda: qshift.backends.registry.resolve_device("default.qubit"), True, _break_pennylane),
    Case("lightning.qubit", lambda: qshift.backends.registry.resolve_device("lightning.qubit"), True, _break_pennylane),
    Case("braket", lambda: qshift.backends.registry.resolve_device("braket-local"), True, _break_braket),
    Case("ibm", lambda: qshift.IBMBackend("fake_brisbane", name="ibm-fake-ideal", noise=False,
                                          default_shots=SHOTS), False, _break_ibm),
]


def conformance_circuit() -> qshift.Circuit:
    """Two qubits, two symbols tied to four slots, outputs X0, Z0, Z1 (two measurement groups)."""
    b = qshift.CircuitBuilder(2, name="conformance")
    a, c = b.input("a"), b.input("c")
    b.h(1).ry(a, 0).cx(0, 1).rz(2 * a + 0.3, 1).ry(c, 1).rxx(c - 0.5, 0, 1).s(0)
    return b.expectation("X0").expectation("Z0").expectation("Z1").build()


def all_gates_circuit() -> qshift.Circuit:
    """Every gate of the gate table, parametrized ones once on a slot and once with a constant,
    on four qubits (the double excitations need them), then every gate qshift expands when it reads
    it (u3, cu3, r, xx_plus_yy, gpi, ms ...: providers see their expansions) with a symbol in every
    angle, with outputs that need X, Y and Z bases."""
    b = qshift.CircuitBuilder(4, name="all-gates")
    t = [b.input(f"t{i}") for i in range(5)]
    b.h(0).h(1).h(2).x(3)
    k = 0
    for name, spec in qshift.GATES.items():
        qubits = [0, 1, 2, 3][:spec.n_qubits]
        if spec.parametrized:
            b.gate(name, 0.7 * t[k % 5] + 0.1, *qubits)
            b.gate(name, 0.4, *qubits[::-1])
            k += 1
        else:
            b.gate(name, *qubits[::-1])
        b.ry(t[(k + 2) % 5], 2)
    for name, (n_qubits, n_angles) in MULTI_ANGLE.items():
        angles = [(-1) ** j * 0.6 * t[(k + j) % 5] + 0.2 * j for j in range(n_angles)]
        b.gate(name, *angles, *[3, 1, 0][:n_qubits])
        k += 1
    return b.expectation("X0").expectation("Y1 Z2").expectation("Z0 X2").expectation("Y0 Y1 Y2").build()


def chemistry_circuit() -> qshift.Circuit:
    """The excitation gates in an H2-like UCC circuit on four qubits: Hartree-Fock |1100>, a double
    excitation, two single excitations (four-term slots) and the Plus/Minus forms (two-term slots)."""
    b = qshift.CircuitBuilder(4, name="chemistry")
    d, s1, s2 = b.inputs("d", "s1", "s2")
    b.x(0).x(1).dexc(d, 0, 1, 2, 3).sexc(s1, 0, 2).sexc(0.5 * s2 - 0.2, 1, 3)
    b.sexcp(s1, 1, 2).sexcm(-d, 3, 0).dexcp(s2, 3, 2, 1, 0).dexcm(0.4, 0, 2, 1, 3)
    return b.expectation("Z0 Z2").expectation("X0 X1 Y2 Y3").expectation("Z3").build()


def within(values, reference, stderr, k: float = 5.0, floor: float = 1e-9) -> bool:
    """True when every estimate is within ``k`` standard errors of the reference."""
    return bool(np.all(np.abs(np.asarray(values) - reference) <= k * np.asarray(stderr) + floor))
