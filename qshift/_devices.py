"""Device names -> backends. ``device=`` accepts a name or a backend object."""

from __future__ import annotations

from ._errors import DeviceError
from ._simulator import LocalSimulator
from ._types import Backend

__all__ = ["available_devices", "resolve_device"]

_FACTORIES = {
    "local": LocalSimulator,
}


def available_devices() -> list[str]:
    """Names accepted by ``device=``."""
    return sorted(_FACTORIES)


def resolve_device(device) -> Backend:
    """A backend for ``device``: a registered name, or any object with the Backend ``run`` method.

    Example:
        >>> resolve_device("local").name
        'local'
    """
    if isinstance(device, str):
        factory = _FACTORIES.get(device)
        if factory is None:
            raise DeviceError(f"unknown device {device!r}", expected="one of " + ", ".join(available_devices()),
                              received=repr(device), fix="pass a device name listed by qshift.available_devices()")
        return factory()
    if all(hasattr(device, attr) for attr in ("run", "name", "exact")):
        return device
    raise DeviceError("device must be a name or a backend", expected="e.g. 'local', or an object with run/name/exact",
                      received=type(device).__name__, fix="pass device='local'")
