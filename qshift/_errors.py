"""The exceptions qshift raises on purpose.

Every one derives from :class:`QShiftError`, so ``except qshift.QShiftError``
catches them all. Each message says what was expected, what was received and
how to fix it::

    QShiftError
     ├── CircuitError            a circuit could not be built or read
     │    ├── QasmError          ... from OpenQASM 3 text (carries ``line``)
     │    ├── UnknownGateError
     │    ├── GateArityError
     │    ├── QubitIndexError
     │    ├── SymbolError        duplicate, undeclared or unused symbols
     │    └── NonAffineAngleError
     ├── ValuesError             an angle array of the wrong shape or with NaN/inf
     ├── RequestError            a derivative request that makes no sense
     │    └── MitigationError    a ``mitigation=`` that cannot be read or cannot work with the request
     ├── DeviceError             an unknown device or a backend that failed
     │    ├── ProfileError       a device profile that cannot be read
     │    └── ProviderError      a provider call that failed for good (carries ``code``, ``attempts``)
     ├── SimulationMemoryError   a state that would not fit in memory
     ├── CostLimitError          a request priced over its ``max_cost``; nothing was sent
     ├── StoreError              an evaluation store that is damaged, foreign or locked
     └── MissingExtraError       an optional dependency is not installed

The concrete classes also derive from the matching built-in (``ValueError``,
``MemoryError``, ``ImportError``, ``RuntimeError``) so generic handlers keep working.
"""

from __future__ import annotations

__all__ = [
    "CircuitError",
    "CostLimitError",
    "DeviceError",
    "GateArityError",
    "MissingExtraError",
    "MitigationError",
    "NonAffineAngleError",
    "ProfileError",
    "ProviderError",
    "QShiftError",
    "QasmError",
    "QubitIndexError",
    "RequestError",
    "SimulationMemoryError",
    "StoreError",
    "SymbolError",
    "UnknownGateError",
    "ValuesError",
]


class QShiftError(Exception):
    """Base class of every error qshift raises on purpose.

    Args:
        problem: one sentence saying what went wrong.
        expected: what qshift expected.
        received: what it received instead.
        fix: how to fix it.
        line: the line of an OpenQASM source the problem is on, if any.

    Example:
        >>> err = QShiftError("bad angle", expected="a number", received="'x'", fix="pass a float")
        >>> print(err)
        bad angle
          expected: a number
          received: 'x'
          fix: pass a float
    """

    def __init__(
        self,
        problem: str,
        *,
        expected: str | None = None,
        received: str | None = None,
        fix: str | None = None,
        line: int | None = None,
    ) -> None:
        self.problem = problem
        self.expected = expected
        self.received = received
        self.fix = fix
        self.line = line
        super().__init__(self._render())

    # AutoGraph re-raises errors from traced code as StagingError unless they pass through:
    # a qshift error raised inside a tf.function stays a qshift error.
    ag_pass_through = True

    def _render(self) -> str:
        head = f"line {self.line}: {self.problem}" if self.line is not None else self.problem
        parts = [head]
        for label, text in (("expected", self.expected), ("received", self.received), ("fix", self.fix)):
            if text is not None:
                parts.append(f"  {label}: {text}")
        return "\n".join(parts)

    def __reduce__(self):  # keep the keyword fields when pickled (multiprocessing, dask)
        return (_rebuild, (type(self), self.problem, self.expected, self.received, self.fix, self.line))


def _rebuild(cls, problem, expected, received, fix, line):
    return cls(problem, expected=expected, received=received, fix=fix, line=line)


class CircuitError(QShiftError, ValueError):
    """A circuit could not be built, read or converted."""


class QasmError(CircuitError):
    """OpenQASM 3 text that qshift cannot read: malformed, or outside the supported subset."""


class UnknownGateError(CircuitError):
    """A gate name that is not in qshift's gate table."""


class GateArityError(CircuitError):
    """A gate applied to the wrong number of qubits or angles."""


class QubitIndexError(CircuitError):
    """A qubit index outside the circuit's register."""


class SymbolError(CircuitError):
    """A symbol declared twice, used without declaration, or not used by any gate."""


class NonAffineAngleError(CircuitError):
    """An angle that is not ``a * symbol + b`` in one symbol (or a constant)."""


class ValuesError(QShiftError, ValueError):
    """An angle array of the wrong shape, or with NaN or infinite entries."""


class RequestError(QShiftError, ValueError):
    """A derivative request that cannot be served (negative order, bad shift, ...)."""


class MitigationError(RequestError):
    """A ``mitigation=`` argument that cannot be read, or that cannot work with the rest of the request."""


class DeviceError(QShiftError, RuntimeError):
    """An unknown device, or a backend that failed to run."""


class ProfileError(DeviceError, ValueError):
    """A device profile that cannot be read: unknown key, missing field, wrong type or value."""


class ProviderError(DeviceError):
    """A provider call that failed for good: a permanent error, or transient ones past the retry policy.

    Attributes:
        code: the provider's error code (``"ValidationException"``, ...), if it sent one.
        attempts: how many times the call was made.
    """

    def __init__(self, problem: str, *, code: str | None = None, attempts: int = 1, **kwargs):
        super().__init__(problem, **kwargs)
        self.code = code
        self.attempts = attempts


class SimulationMemoryError(QShiftError, MemoryError):
    """A simulation whose state would not fit in the memory qshift may use."""


class CostLimitError(QShiftError, RuntimeError):
    """A request whose estimated price exceeds its ``max_cost``; nothing was sent."""


class StoreError(QShiftError, RuntimeError):
    """The evaluation store cannot be used: damaged, truncated, not a qshift store, or locked for too long."""


class MissingExtraError(QShiftError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


def require(module: str, extra: str):
    """Import ``module`` or raise :class:`MissingExtraError` naming ``pip install qshift[extra]``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"this feature needs the optional dependency {module!r}",
            expected=f"{module} importable",
            received=f"ImportError: {exc}",
            fix=f"pip install 'qshift[{extra}]'",
        ) from exc
