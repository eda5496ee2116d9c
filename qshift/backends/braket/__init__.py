"""Amazon Braket: local simulators, managed simulators and QPUs (``pip install 'qshift[braket]'``)."""

from qshift.backends.braket.backend import BraketBackend

__all__ = ["BraketBackend"]
