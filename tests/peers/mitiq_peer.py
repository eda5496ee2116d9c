"""Mitiq as a test-only peer: its own folding and extrapolation, run in ``.venv-mitiq`` by subprocess.

Mitiq 1.1.0 pins ``numpy<2.3`` and the project's ``.venv`` has numpy 2.4, so ``make test`` builds a
second, small virtualenv first (``tests/peers/setup_mitiq.sh``: mitiq, cirq-core, ply; once, stamped)
and :class:`MitiqPeer` drives ``tests/peers/mitiq_zne.py`` there over pipes. Concrete circuits go as
OpenQASM 2 (:func:`qasm2`: every slot angle a number), Mitiq's folded circuits come back the same way
and are read with :meth:`qshift.Circuit.from_qasm`, so the test runs them on a qshift device.

Example (without the virtualenv, :func:`unavailable` says why, naming the install log):
    >>> import numpy as np, qshift
    >>> print(qasm2(qshift.hardware_efficient(2, 1), np.array([0.5, 0.0, -0.25, 1.0])).splitlines()[3])
    ry(0.5) q[0];
"""

from __future__ import annotations

import json
import os
import select
import subprocess
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-mitiq"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".installed"
LOG = VENV / "install.log"
STDERR = VENV / "peer-stderr.log"
SCRIPT = Path(__file__).with_name("mitiq_zne.py")
SETUP = Path(__file__).with_name("setup_mitiq.sh")


def unavailable() -> str | None:
    """Why Mitiq cannot run here (a skip reason naming the install log), or ``None``."""
    if STAMP.is_file() and PYTHON.is_file():
        return None
    rel_setup, rel_log = os.path.relpath(SETUP, REPO), os.path.relpath(LOG, REPO)
    if LOG.is_file():
        tail = [line for line in LOG.read_text(errors="replace").splitlines() if line.strip()][-1:]
        return (f"Mitiq's virtualenv could not be created: see {rel_log} (last line: {tail[0] if tail else 'empty'!r}); "
                f"rerun {rel_setup}")
    return f"Mitiq's virtualenv {VENV.name} does not exist: `make test` creates it ({rel_setup}, log in {rel_log})"


def qasm2(circuit, point: np.ndarray) -> str:
    """OpenQASM 2 of ``circuit`` with slot ``s`` at the angle ``point[s]`` (constant angles as they are).

    Every angle is written as Python's shortest round-trip ``repr``, so it is read back exactly; the
    circuit's gates must be ``qelib1.inc`` gates of the same name (``ry``, ``rz``, ``cx``, ... are).
    """
    slot_of = {op_index: s for s, op_index in enumerate(circuit.slot_operations)}
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{circuit.n_qubits}];"]
    for i, op in enumerate(circuit.operations):
        qubits = ",".join(f"q[{q}]" for q in op.qubits)
        if op.angle is None:
            lines.append(f"{op.gate} {qubits};")
        else:
            angle = float(point[slot_of[i]]) if i in slot_of else float(op.angle.b)
            lines.append(f"{op.gate}({angle!r}) {qubits};")
    return "\n".join(lines) + "\n"


class MitiqPeer:
    """A running ``mitiq_zne.py`` in ``.venv-mitiq`` (a context manager; :func:`unavailable` first)."""

    def __init__(self, timeout: float = 120.0):
        self.timeout = timeout
        self._stderr = open(STDERR, "w")  # a file, not a pipe: Mitiq's warnings never block it
        self._process = subprocess.Popen([str(PYTHON), "-I", str(SCRIPT)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self._stderr, text=True, cwd=REPO)

    def __enter__(self) -> "MitiqPeer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ask(self, op: str, **fields) -> dict:
        self._process.stdin.write(json.dumps({"op": op} | fields) + "\n")
        self._process.stdin.flush()
        ready, _, _ = select.select([self._process.stdout], [], [], self.timeout)
        line = self._process.stdout.readline() if ready else ""
        if not line:
            self.close()
            raise RuntimeError(f"mitiq_zne.py gave no answer to {op!r} within {self.timeout:g} s (exit "
                               f"{self._process.returncode}); its stderr: {STDERR.read_text(errors='replace')[-2000:]}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"Mitiq failed on {op!r}:\n{answer['error']}")
        return answer

    def versions(self) -> dict:
        return self.ask("versions")

    def fold(self, qasm: list[str], scale_factors) -> list[list[str]]:
        """Mitiq's ``fold_global`` of each circuit at each scale factor, as OpenQASM 2 text."""
        return self.ask("fold", qasm=list(qasm), scale_factors=[float(s) for s in scale_factors])["folded"]

    def extrapolate(self, values: np.ndarray, scale_factors, method: str = "richardson") -> np.ndarray:
        """Mitiq's zero-noise value of each row of ``values`` ``(rows, scale factors)``."""
        rows = np.asarray(values, dtype=float).reshape(-1, len(scale_factors)).tolist()
        got = self.ask("extrapolate", values=rows, scale_factors=[float(s) for s in scale_factors], method=method)
        return np.array(got["values"])

    def weights(self, scale_factors, method: str = "richardson") -> np.ndarray:
        """Mitiq's extrapolation as weights: it is linear in the values, so its value at the unit vectors."""
        return self.extrapolate(np.eye(len(scale_factors)), scale_factors, method)

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process.stdout.close()
        self._stderr.close()
