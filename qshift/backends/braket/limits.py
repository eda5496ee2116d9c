"""What a Braket device takes in one task: program sets, and how many executables fit in one.

A program set (``braket.program_sets.ProgramSet``) runs many bound circuits as one quantum
task; devices that take them list the action :data:`PROGRAM_SET` with their
``maximumExecutables`` and ``maximumTotalShots``, and bound all of a task's shots by
``shotsRange``. Older SDK releases have no program sets.
"""

from __future__ import annotations

import importlib.util

from qshift._errors import DeviceError

__all__ = ["PROGRAM_SET", "rows_per_program_set", "rows_per_set", "sdk_has_program_sets", "takes_program_sets"]

PROGRAM_SET = "braket.ir.openqasm.program_set"
"""The device action of program sets."""


def sdk_has_program_sets() -> bool:
    """Program sets arrived in later SDK releases; older ones fall back to ``run_batch``."""
    return importlib.util.find_spec("braket.program_sets") is not None


def takes_program_sets(device) -> bool:
    """Whether ``device`` (and the installed SDK) run program sets."""
    return PROGRAM_SET in device.properties.action and sdk_has_program_sets()


def rows_per_set(limits, shots: int) -> int:
    """Most executables one program set may hold at ``shots`` per executable (``limits``: the device's action).

    Raises:
        DeviceError: ``shots`` alone exceed the device's total shots per program set.
    """
    most = getattr(limits, "maximumExecutables", None) or 100
    total = getattr(limits, "maximumTotalShots", None)
    if total:
        if shots > total:
            raise DeviceError("shots exceed the device's limit per program set", expected=f"shots <= {total}",
                              received=str(shots), fix=f"pass shots={total} or fewer")
        most = min(most, total // shots)
    return max(1, int(most))


def rows_per_program_set(device, shots: int) -> int | None:
    """Executables per program set where ``device`` takes them (else ``None``).

    A program set's task carries all its shots, so the device's ``shotsRange`` bounds it too.
    """
    if not takes_program_sets(device):
        return None
    most = rows_per_set(device.properties.action[PROGRAM_SET], shots)
    shots_range = getattr(getattr(device.properties, "service", None), "shotsRange", None)
    if shots_range and shots_range[1]:
        most = min(most, max(1, int(shots_range[1]) // shots))
    return most
