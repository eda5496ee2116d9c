"""Device names -> backends. ``device=`` accepts a profile name, a profile path, or a backend object.

Every name is a device profile (``devices/*.toml``, see :mod:`qshift.backends.profiles`):
the profile says which backend kind runs it, and a factory in :data:`FACTORIES`
builds that backend from the profile. Backend modules import their provider SDK
only when a backend is built, so ``import qshift`` stays light, and a missing SDK
is a :class:`~qshift.MissingExtraError` naming the extra to install.

A profile marked ``cloud = true`` (``ionq-forte``, ``ibm-brisbane``, ...) needs
credentials and network to run: :func:`resolve_device` refuses it with a
:class:`~qshift.DeviceError`, while :func:`qshift.estimate` prices it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from qshift._errors import DeviceError, ProfileError
from qshift.backends.aer import AerBackend
from qshift.backends.base import Backend, as_backend
from qshift.backends.braket.backend import BraketBackend
from qshift.backends.ibm import IBMBackend
from qshift.backends.local.simulator import LocalSimulator
from qshift.backends.pennylane import PennyLaneBackend
from qshift.backends import profiles
from qshift.backends.profiles import DeviceProfile, bundled_profiles, check_choice

__all__ = ["FACTORIES", "UNIFORM_GROUP_SHOTS", "available_devices", "backend_from_profile", "load_profile",
           "resolve_device", "resolve_profile", "splits_group_shots"]


FACTORIES: dict[str, Callable[[DeviceProfile, dict], Backend]] = {
    "local": lambda profile, options: LocalSimulator(profile=profile, **options),
    "aer": lambda profile, options: AerBackend(profile=profile, **options),
    "pennylane": lambda profile, options: PennyLaneBackend(profile.target or "default.qubit", profile=profile,
                                                           **options),
    "braket": lambda profile, options: BraketBackend(profile.target or "braket_sv", profile=profile, **options),
    "ibm": lambda profile, options: IBMBackend(profile.target or "fake_brisbane", profile=profile, **options),
}
"""Backend kinds (a profile's ``backend = "..."``) -> how to build one from a profile and its options.

A factory takes the :class:`~qshift.DeviceProfile` and the keyword options for the
backend class: the profile's ``[options]`` table plus ``name``, ``max_batch`` and (when
the profile sets ``shots``) ``default_shots``, for every kind. It passes
``profile=profile`` on, so the backend knows its prices and limits. A factory that
raises :class:`TypeError` (an option the class does not take) becomes a
:class:`~qshift.ProfileError`.

To add a kind, subclass :class:`~qshift.backends.base.Backend` with a constructor that
takes those keywords, and add one line here::

    "mykind": lambda profile, options: MyBackend(profile.target, profile=profile, **options),

Device profiles with ``backend = "mykind"`` then load (:func:`load_profile` accepts the kinds
named here, and only those) and run on it.
"""


UNIFORM_GROUP_SHOTS = frozenset({"braket", "ibm"})
"""Kinds whose every measurement group runs the request's ``shots`` (one shot count per Braket task, and
per IBM runtime job); the others split a circuit's shots over its groups by weight
(:func:`~qshift.ir.grouping.group_shots`)."""


def splits_group_shots(profile: DeviceProfile | None) -> bool:
    """Whether a device of this profile splits a circuit's shots over its measurement groups by weight."""
    return profile is None or profile.backend not in UNIFORM_GROUP_SHOTS


def load_profile(name_or_path) -> DeviceProfile:
    """A bundled profile by name, or a user's profile from a ``.toml`` path, of a backend kind in :data:`FACTORIES`.

    Example:
        >>> load_profile("ionq-forte").backend
        'braket'

    Raises:
        ProfileError: the file is missing or does not fit the schema (:mod:`qshift.backends.profiles`),
            or its ``backend`` names no kind in :data:`FACTORIES`.
    """
    profile = profiles.load_profile(name_or_path)
    check_choice({"backend": profile.backend}, "backend", tuple(FACTORIES), f"device profile {profile.name!r}")
    return profile


def available_devices() -> list[str]:
    """Names accepted by ``device=`` (the bundled profiles), runnable here or not.

    Example:
        >>> "local" in available_devices() and "ionq-forte" in available_devices()
        True
    """
    return sorted(bundled_profiles())


def resolve_profile(device) -> DeviceProfile | None:
    """The profile behind ``device``: a name, a path, a profile, or a backend built from one (else ``None``)."""
    if isinstance(device, DeviceProfile):
        return device
    if isinstance(device, (str, Path)):
        return load_profile(device)
    return getattr(device, "profile", None)


def backend_from_profile(profile: DeviceProfile) -> Backend:
    """Build the backend a profile describes (built with ``profile=profile``, see :data:`FACTORIES`).

    Raises:
        DeviceError: the profile is a cloud target (credentials and network needed).
        ProfileError: its ``[options]`` do not fit the backend.
        MissingExtraError: the backend's SDK is not installed.
    """
    if profile.cloud:
        raise DeviceError(f"device {profile.name!r} is a cloud target and cannot run here",
                          expected="a local device, or credentials and network access to the provider",
                          received=f"{profile.name} ({profile.target})",
                          fix=f"price it with qshift.estimate(circuit, device={profile.name!r}); to run it, configure "
                              "the provider's credentials and pass a backend object, e.g. "
                              "device=qshift.BraketBackend(device=AwsDevice(arn)) or qshift.IBMBackend(backend=...)")
    options = _options(profile)
    try:
        backend = FACTORIES[profile.backend](profile, options)
    except TypeError as exc:
        raise ProfileError(f"device profile {profile.name!r}: [options] do not fit the {profile.backend} backend",
                           expected="keyword arguments of the backend class", received=str(exc),
                           fix="remove or rename the option named") from exc
    return backend


def _options(profile: DeviceProfile) -> dict:
    """The backend's keywords: the profile's ``[options]``, its name, batch limit and default shots.

    Every kind gets them, the local simulator included, so a profile runs with the shots it is
    priced with (:func:`qshift.estimate` reads the same ``shots``).
    """
    options = dict(profile.options)
    options.setdefault("name", profile.name)
    options.setdefault("max_batch", profile.max_batch)
    if profile.shots is not None:
        options.setdefault("default_shots", profile.shots)
    return options


def resolve_device(device) -> Backend:
    """A backend for ``device``: a profile name or ``.toml`` path, a profile, or any backend object.

    Example:
        >>> resolve_device("local").name
        'local'
    """
    if isinstance(device, (str, Path, DeviceProfile)):
        return backend_from_profile(resolve_profile(device))
    if all(hasattr(device, attr) for attr in ("run", "name", "exact")):
        return as_backend(device)
    raise DeviceError("device must be a name, a profile path or a backend",
                      expected="e.g. 'local', 'aer', 'path/to/device.toml', or an object with run/name/exact",
                      received=type(device).__name__, fix="pass device='local'")
