"""The data folders shipped with qshift: ``circuits/`` (the circuit library) and ``devices/`` (profiles).

An installed wheel carries them inside the package (``qshift/circuits``); a source checkout
keeps them beside it, at the repository root.
"""

from __future__ import annotations

from pathlib import Path

from qshift._errors import QShiftError

_PACKAGE = Path(__file__).resolve().parent


def shipped_files(folder: str, suffix: str, error: type[QShiftError], what: str) -> dict[str, Path]:
    """Name (the file's stem) -> path of every ``*suffix`` file in the shipped ``folder``, sorted.

    Raises ``error`` ("``what`` is missing") when the folder is not there.

    Example:
        >>> "sin" in shipped_files("circuits", ".qasm", QShiftError, "the circuit library")
        True
    """
    for candidate in (_PACKAGE / folder, _PACKAGE.parent / folder):
        if candidate.is_dir():
            return {p.stem: p for p in sorted(candidate.glob(f"*{suffix}"))}
    raise error(f"{what} is missing", expected=f"a {folder}/ folder beside the package", received="none found",
                fix="reinstall qshift")
