"""Device profiles: ``devices/*.toml`` files naming a backend, its target, shots, limits and prices.

A profile is what ``device=`` accepts besides a backend object: a bundled name
(``"aer"``, ``"ionq-forte"``, ...) or the path of a user's ``.toml`` file. It
says which backend runs it and how (``backend``, ``target``, ``[options]``),
how many shots a request gets when it names none (``shots``; absent means
exact), how requests are split (``max_batch``, program-set limits), and what
a run costs (``[price]``, and ``[time]`` for devices billed by the second or
minute). Profiles are read with :mod:`tomllib` and checked strictly: an
unknown key, a missing field, a wrong type or a value out of range is a
:class:`ProfileError` naming the field. Counts are whole numbers from 1 (shots
at most :data:`MAX_SHOTS`); prices and times are finite and not negative (a
``nan`` price would pass any ``max_cost``); a file is at most
:data:`MAX_PROFILE_BYTES`, UTF-8 TOML.

A minimal profile::

    name = "my-aer"
    description = "Aer with light depolarizing noise"
    backend = "aer"

    [options]
    noise = { depolarizing_1q = 0.001, depolarizing_2q = 0.01 }

A priced one (``task`` says what one billed task is: one ``"job"`` per request,
one ``"execution"`` per circuit run, or one ``"program_set"``)::

    name = "ionq-forte"
    description = "IonQ Forte-1 on Amazon Braket"
    backend = "braket"
    target = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
    cloud = true
    shots = 1000
    task = "program_set"
    max_executables = 100
    max_total_shots = 200000

    [price]
    per_task = 0.30
    per_shot = 0.08
    prices_read = "2026-11-23"
    source = "https://aws.amazon.com/braket/pricing/"

Example:
    >>> p = load_profile("ionq-forte")
    >>> p.backend, p.cloud, p.shots, p.price.per_shot
    ('braket', True, 1000, 0.08)
"""

from __future__ import annotations

import datetime
import math
import numbers
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from qshift._data import shipped_files
from qshift._errors import DeviceError, ProfileError

__all__ = ["MAX_SHOTS", "DeviceProfile", "Price", "ProfileError", "Timing", "bundled_profiles", "load_profile"]

TASKS = ("job", "execution", "program_set")

MAX_SHOTS = 10 ** 9
"""The most shots per execution a request, an estimate, a profile or a simulator may name. Devices take
about 10**5 to 10**6; up to 10**9 per execution, shot totals and allocations stay exact in float64."""

MAX_PROFILE_BYTES = 2 ** 20
"""The largest profile file read (a profile is a few hundred bytes)."""


def check_amount(value, name: str, where: str = "a price") -> None:
    """Refuse a price or a time that is not a finite number, 0 or more (:class:`ProfileError`)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    if not ok:
        raise ProfileError(f"{where}: {name} must be a finite number, 0 or more", expected=f"{name} >= 0 (finite)",
                           received=f"{name} = {value!r}",
                           fix=f"write the amount as a number such as 0.3, or remove {name} (0)")


@dataclass(frozen=True)
class Price:
    """What a device charges (``[price]`` table). Amounts are in ``currency``.

    Attributes:
        prices_read: the date (``YYYY-MM-DD``) the figures were read from ``source``.
        source: where the figures come from (a pricing page).
    """

    prices_read: str
    source: str
    currency: str = "USD"
    per_task: float = 0.0
    per_shot: float = 0.0
    per_minute: float = 0.0
    per_second: float = 0.0
    note: str = ""

    def __post_init__(self):
        for name in ("per_task", "per_shot", "per_minute", "per_second"):
            check_amount(getattr(self, name), name)


@dataclass(frozen=True)
class Timing:
    """An assumed timing model for devices billed by time (``[time]`` table), in seconds.

    Billed time of a task = ``max(minimum_task_s, per_task_s + per_execution_s * executions
    + per_shot_s * shots)``.
    """

    per_task_s: float = 0.0
    per_execution_s: float = 0.0
    per_shot_s: float = 0.0
    minimum_task_s: float = 0.0
    note: str = ""

    def __post_init__(self):
        for name in ("per_task_s", "per_execution_s", "per_shot_s", "minimum_task_s"):
            check_amount(getattr(self, name), name, "a timing")


@dataclass(frozen=True)
class DeviceProfile:
    """One device profile. See the module docstring for the TOML layout.

    Attributes:
        name: what ``device=`` names it by.
        description: one line for people.
        backend: which backend runs it: ``local``, ``aer``, ``pennylane``, ``braket``, ``ibm``.
        target: the provider's device (PennyLane device name, Braket simulator name or ARN,
            IBM backend name).
        cloud: needs credentials and network; such a profile can be estimated, not run here.
        shots: default shots per execution (``None``: exact results when no shots are asked).
        max_batch: most rows per provider call (``None``: all rows in one call).
        task: what one billed task is: ``"job"``, ``"execution"`` or ``"program_set"``.
        max_executables: with ``task = "program_set"``, executables per program set.
        max_total_shots: with ``task = "program_set"``, shots per program set.
        max_qubits: the device's qubit count, if limited.
        options: keyword arguments for the backend (``[options]`` table).
        price: what it costs (``None``: free).
        time: assumed timing for time-billed devices.
        path: the file it was read from.
    """

    name: str
    description: str
    backend: str
    target: str | None = None
    cloud: bool = False
    shots: int | None = None
    max_batch: int | None = None
    task: str = "job"
    max_executables: int | None = None
    max_total_shots: int | None = None
    max_qubits: int | None = None
    options: Mapping = field(default_factory=dict)
    price: Price | None = None
    time: Timing | None = None
    path: Path | None = field(default=None, compare=False)

    @property
    def exact(self) -> bool:
        """True when requests without shots get exact results."""
        return self.shots is None


# -- reading ------------------------------------------------------------------------------------

# key -> (accepted types, required); "table" is a TOML table
_TOP = {
    "name": (str, True), "description": (str, True), "backend": (str, True), "target": (str, False),
    "cloud": (bool, False), "shots": (int, False), "max_batch": (int, False), "task": (str, False),
    "max_executables": (int, False), "max_total_shots": (int, False), "max_qubits": (int, False),
    "options": ("table", False), "price": ("table", False), "time": ("table", False),
}
_PRICE = {
    "prices_read": (str, True), "source": (str, True), "currency": (str, False), "per_task": (float, False),
    "per_shot": (float, False), "per_minute": (float, False), "per_second": (float, False), "note": (str, False),
}
_TIME = {"per_task_s": (float, False), "per_execution_s": (float, False), "per_shot_s": (float, False),
         "minimum_task_s": (float, False), "note": (str, False)}


def bundled_profiles() -> dict[str, Path]:
    """Name -> path of every profile shipped in ``devices/``."""
    return shipped_files("devices", ".toml", DeviceError, "the device profiles")


def load_profile(name_or_path) -> DeviceProfile:
    """A bundled profile by name, or a user's profile from a ``.toml`` path.

    Raises:
        DeviceError: no bundled profile has that name.
        ProfileError: the file cannot be read, or breaks the schema (the message names the field).
    """
    if isinstance(name_or_path, Path) or str(name_or_path).endswith(".toml"):
        return _read(Path(name_or_path))
    files = bundled_profiles()
    if name_or_path not in files:
        raise DeviceError(f"unknown device {name_or_path!r}", expected="one of " + ", ".join(files),
                          received=repr(name_or_path),
                          fix="pass a name listed by qshift.available_devices(), a path to a .toml profile, "
                              "or a backend object")
    return _read(files[name_or_path])


def _read(path: Path) -> DeviceProfile:
    data = _read_bytes(path)
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ProfileError(f"device profile {path.name} is not text", expected="a UTF-8 TOML file (see devices/*.toml)",
                           received=f"byte {exc.start} is {data[exc.start:exc.start + 1]!r}, not UTF-8",
                           fix="pass the profile's .toml file, saved as UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"device profile {path.name} is not valid TOML", expected="TOML (see devices/*.toml)",
                           received=str(exc), fix="fix the syntax at the place named") from None
    except RecursionError:
        raise ProfileError(f"device profile {path.name} is nested too deeply to read",
                           expected="a flat profile: top-level keys and the tables [options], [price], [time]",
                           received="arrays or tables nested thousands deep", fix="write the profile as in "
                           "devices/*.toml") from None
    return profile_from_dict(doc, path=path)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes: at most MAX_PROFILE_BYTES, or a ProfileError saying why it cannot be read."""
    where = repr(str(path))
    if "\0" in str(path):
        raise ProfileError("a device profile path cannot contain a NUL character", expected="a file path",
                           received=where, fix="pass the path of a .toml file")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_PROFILE_BYTES + 1)
    except FileNotFoundError:
        raise ProfileError(f"no device profile at {where}", expected="an existing .toml file",
                           received=str(path), fix="check the path") from None
    except OSError as exc:
        raise ProfileError(f"cannot read the device profile {where}", expected="a readable .toml file",
                           received=f"{type(exc).__name__}: {exc.strerror or exc}",
                           fix="pass the path of a readable .toml file (not a folder)") from None
    if len(data) > MAX_PROFILE_BYTES:
        raise ProfileError(f"device profile {path.name} is too large to be a profile",
                           expected=f"at most {MAX_PROFILE_BYTES:,} bytes (a profile is a few hundred)",
                           received=f"more than {MAX_PROFILE_BYTES:,} bytes", fix="pass the profile's .toml file")
    return data


def profile_from_dict(doc: dict, *, path: Path | None = None) -> DeviceProfile:
    """Check a parsed profile against the schema and build it.

    Example:
        >>> try:
        ...     profile_from_dict({"name": "x", "description": "d", "backend": "aer", "shotz": 5})
        ... except ProfileError as err:
        ...     print(err.problem)
        device profile 'x': unknown key 'shotz'
    """
    where = f"device profile {doc.get('name', path.name if path else '?')!r}"
    values = _check_table(doc, _TOP, where, "")
    check_choice(values, "task", TASKS, where)
    for key in ("shots", "max_batch", "max_executables", "max_total_shots", "max_qubits"):
        if key in values and values[key] < 1:
            raise ProfileError(f"{where}: {key} must be positive", expected="an integer >= 1",
                               received=f"{key} = {values[key]}", fix=f"set {key} to 1 or more, or remove it")
    if values.get("shots", 0) > MAX_SHOTS:
        raise ProfileError(f"{where}: shots is beyond the limit", expected=f"shots <= {MAX_SHOTS:,} per execution",
                           received=f"shots = {values['shots']:,}", fix=f"set shots to {MAX_SHOTS:,} or fewer")
    if "price" in values:
        price = _check_table(values["price"], _PRICE, where, "price.")
        _check_date(price["prices_read"], where)
        values["price"] = Price(**price)
    if "time" in values:
        values["time"] = Timing(**_check_table(values["time"], _TIME, where, "time."))
    if "options" in values:
        values["options"] = MappingProxyType(dict(values["options"]))
    return DeviceProfile(**values, path=path)


def _check_table(table: dict, schema: dict, where: str, prefix: str) -> dict:
    for key in table:
        if key not in schema:
            raise ProfileError(f"{where}: unknown key {prefix + key!r}",
                               expected="one of " + ", ".join(prefix + k for k in sorted(schema)),
                               received=f"{prefix + key} = {table[key]!r}",
                               fix=f"remove {prefix + key!r} or correct its spelling")
    for key, (kind, required) in schema.items():
        if key not in table:
            if required:
                raise ProfileError(f"{where}: missing field {prefix + key!r}", expected=f"{prefix + key} = <{_name(kind)}>",
                                   received="no such field", fix=f"add {prefix + key} to the profile")
            continue
        if not _is(table[key], kind):
            raise ProfileError(f"{where}: field {prefix + key!r} has the wrong type", expected=_name(kind),
                               received=f"{prefix + key} = {table[key]!r} ({type(table[key]).__name__})",
                               fix=f"write {prefix + key} as {_name(kind)}")
        if kind is float:
            check_amount(table[key], prefix + key, where)
    return {k: (float(v) if schema[k][0] is float else v) for k, v in table.items()}


def _is(value, kind) -> bool:
    if kind == "table":
        return isinstance(value, dict)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _name(kind) -> str:
    return {"table": "a table", str: "a string", bool: "true or false", int: "an integer",
            float: "a number"}[kind]


def check_choice(values: dict, key: str, choices, where: str) -> None:
    """Raise :class:`ProfileError` when ``values[key]`` is not one of ``choices``."""
    if key in values and values[key] not in choices:
        raise ProfileError(f"{where}: field {key!r} has an unknown value", expected="one of " + ", ".join(choices),
                           received=f"{key} = {values[key]!r}", fix=f"set {key} to one of " + ", ".join(choices))


def _check_date(text: str, where: str) -> None:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        raise ProfileError(f"{where}: field 'price.prices_read' is not a date", expected='"YYYY-MM-DD"',
                           received=repr(text), fix="write the date the prices were read, e.g. \"2026-11-23\"") from None

