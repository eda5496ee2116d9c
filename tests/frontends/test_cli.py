"""The command line through its real entry point (a subprocess running the console script)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import qshift

SCRIPT = shutil.which("qshift", path=str(Path(sys.executable).parent)) or "qshift"


def qshift_cli(*args, check=True):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=120, env=env)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_run_prints_value_gradient_hessian_and_counts():
    out = qshift_cli("run", str(qshift.circuit_path("sin")), "--values", "0.5", "--order", "2").stdout
    assert f"{np.sin(0.5):.6f}" in out and f"{np.cos(0.5):.6f}" in out and f"{-np.sin(0.5):.6f}" in out
    assert "ran 4 circuits in 1 job(s)" in out  # 2n^2 + n + 1 with n = 1


def test_run_with_shots_reports_standard_errors():
    out = qshift_cli("run", "ising-2q", "--values", "0.3", "0.2", "--order", "1", "--shots", "500",
                     "--seed", "7").stdout
    assert "± one standard error" in out and "shots" in out


def test_plan_prints_planned_and_naive_cost_without_running():
    out = qshift_cli("plan", "hea-8q-2l", "--order", "2", "--device", "ionq-forte").stdout
    assert "planned" in out and "naive" in out and "USD" in out
    assert "2,081" in out  # 2n^2 + n + 1 for n = 32


def test_devices_lists_profiles():
    out = qshift_cli("devices").stdout
    for name in ("local", "aer", "ionq-forte", "braket-local"):
        assert name in out


@pytest.mark.parametrize("args, message", [
    (["run", "no/such/file.qasm", "--values", "1"], "cannot read"),
    (["run", "sin", "--values", "1", "2"], "wrong number of --values"),
    (["run", "sin", "--values", "1", "--device", "nowhere"], "unknown device"),
    (["run", "sin", "--values", "1", "--order", "-1"], "non-negative"),
    (["plan", "sin", "--shots", "0"], "positive integer"),
])
def test_errors_are_one_line_without_traceback(args, message):
    proc = qshift_cli(*args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_debug_shows_the_traceback():
    proc = qshift_cli("--debug", "run", "no/such/file.qasm", "--values", "1", check=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr
