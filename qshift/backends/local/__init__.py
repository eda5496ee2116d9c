"""The built-in vectorized statevector simulator (``device="local"``)."""

from qshift.backends.local.simulator import LocalSimulator, simulate

__all__ = ["LocalSimulator", "simulate"]
