"""The data folders shipped with qshift: ``circuits/`` (the circuit library) and ``devices/`` (profiles).

An installed wheel carries them inside the package (``qshift/circuits``); a source checkout
keeps them beside it, at the repository root.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_folder(name: str) -> Path | None:
    """The shipped folder ``name`` (``"circuits"`` or ``"devices"``), or ``None`` when it is missing."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    return None
