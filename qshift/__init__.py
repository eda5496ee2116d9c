"""qshift: variational quantum circuits as TensorFlow ops with parameter-shift derivatives of any order.

Example:
    >>> import qshift, numpy as np
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> c.symbols
    ('theta',)
    >>> float(np.round(qshift.simulate(c, [0.5])[0], 6))
    0.479426
"""

from ._circuit import Angle, Circuit, CircuitBuilder, Operation, PauliString
from ._errors import (CircuitError, DeviceError, GateArityError, MissingExtraError, NonAffineAngleError,
                      QasmError, QShiftError, QubitIndexError, RequestError, SimulationMemoryError, SymbolError,
                      UnknownGateError, ValuesError)
from ._gates import GATES, GateSpec
from ._derivatives import Derivatives, derivatives, plan
from ._devices import available_devices
from ._dask import DaskExecutor
from ._executor import EvaluationCache, Executor, Stats
from ._library import circuit_path, hardware_efficient, library
from ._simulator import LocalSimulator, simulate
from ._planner import Plan
from ._types import Backend, RunResult
from ._profiles import DeviceProfile, ProfileError, load_profile
from ._estimate import CostLimitError, Estimate, estimate
from ._retry import RetryPolicy
from ._store import EvaluationStore, StoreError
from .backends import AerBackend, BraketBackend, IBMBackend, PennyLaneBackend

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
    "MissingExtraError",
    "NonAffineAngleError",
    "Operation",
    "PauliString",
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
    "plan",
    "simulate",
])


def __getattr__(name):
    # qshift.tf and qshift.keras import TensorFlow, so they load on first use.
    if name in ("tf", "keras"):
        import importlib

        return importlib.import_module(f"qshift.{name}")
    raise AttributeError(f"module 'qshift' has no attribute {name!r}")
