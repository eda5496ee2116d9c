"""Shared helpers for the benchmarks: timing and the header every result starts with."""

from __future__ import annotations

import datetime
import os
import platform
import time
from importlib import metadata


def header(title: str, packages: list[str]) -> str:
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    lines = [
        f"# {title}",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- machine: {platform.platform()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}",
        f"- OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}",
        "- " + ", ".join(versions),
    ]
    return "\n".join(lines)


def best_of(fn, repeats: int = 3, budget: float = 60.0) -> tuple[float, object]:
    """Best wall time of up to ``repeats`` calls (fewer when a call is slow), and the last result."""
    best, result, spent = float("inf"), None, 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent + elapsed > budget:
            break
    return best, result
