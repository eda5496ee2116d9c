"""qshift: variational quantum circuits as TensorFlow ops with parameter-shift derivatives of any order.

Example:
    >>> import qshift, numpy as np
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> c.symbols
    ('theta',)
    >>> float(np.round(qshift.simulate(c, [0.5])[0], 6))
    0.479426
"""

from qshift.ir.circuit import Angle, Circuit, CircuitBuilder, Operation, PauliString, PauliSum
from qshift._errors import (CircuitError, CostLimitError, DeviceError, GateArityError, MissingExtraError,
                            MitigationError, NonAffineAngleError, ProfileError, QShiftError, QasmError,
                            QubitIndexError, RequestError, SimulationMemoryError, StoreError, SymbolError,
                            UnknownGateError, ValuesError)
from qshift.ir.gates import GATES, GateSpec
from qshift.api.derivatives import Derivatives, derivatives, plan
from qshift.api.minimize import MinimizeResult, minimize
from qshift.backends.registry import available_devices, load_profile
from qshift.execution.cluster import DaskExecutor
from qshift.execution.executor import EvaluationCache, Executor, Stats
from qshift.ir.library import circuit_path, hardware_efficient, library
from qshift.backends.local.simulator import LocalSimulator, simulate
from qshift.planning.planner import Plan
from qshift.backends.base import Backend, RunResult
from qshift.backends.profiles import DeviceProfile
from qshift.cost.estimate import Estimate, estimate
from qshift.backends.retry import RetryPolicy
from qshift.execution.store import EvaluationStore
from qshift.backends import AerBackend, BraketBackend, IBMBackend, PennyLaneBackend

__version__ = "0.1.0"

__all__ = sorted([
    "AerBackend",
    "Angle",
    "Backend",
    "BraketBackend",
    "Circuit",
    "CircuitBuilder",
    "CircuitError",
    "CostLimitError",
    "DaskExecutor",
    "Derivatives",
    "DeviceError",
    "DeviceProfile",
    "Estimate",
    "EvaluationCache",
    "EvaluationStore",
    "Executor",
    "GATES",
    "GateArityError",
    "GateSpec",
    "IBMBackend",
    "LocalSimulator",
    "MinimizeResult",
    "MissingExtraError",
    "MitigationError",
    "NonAffineAngleError",
    "Operation",
    "PauliString",
    "PauliSum",
    "PennyLaneBackend",
    "Plan",
    "ProfileError",
    "QShiftError",
    "QasmError",
    "QubitIndexError",
    "RequestError",
    "RetryPolicy",
    "RunResult",
    "SimulationMemoryError",
    "Stats",
    "StoreError",
    "SymbolError",
    "UnknownGateError",
    "ValuesError",
    "available_devices",
    "circuit_path",
    "derivatives",
    "estimate",
    "hardware_efficient",
    "library",
    "load_profile",
    "minimize",
    "plan",
    "simulate",
])


def __getattr__(name):
    # qshift.tf and qshift.keras import TensorFlow, so they load on first use.
    if name in ("tf", "keras"):
        import importlib

        return importlib.import_module(f"qshift.{name}")
    raise AttributeError(f"module 'qshift' has no attribute {name!r}")
