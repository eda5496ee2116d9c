"""The command line through its real entry point (a subprocess running the console script)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import qshift
from reference import qiskit_expectations

SCRIPT = shutil.which("qshift", path=str(Path(sys.executable).parent)) or "qshift"


def qshift_cli(*args, check=True, cwd=None):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd)
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
    (["run", "ising-2q", "--values", "0.1"], "wrong number of --values"),  # one value never fills every symbol
    (["run", "sin", "--values", "1", "--device", "nowhere"], "unknown device"),
    (["run", "sin", "--values", "1", "--order", "-1"], "non-negative"),
    (["plan", "sin", "--shots", "0"], "positive integer"),
])
def test_errors_keep_their_lines_without_traceback(args, message):
    proc = qshift_cli(*args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("qshift: error: ") and message in "".join(lines[:2])
    assert [line.split(":")[0].strip() for line in lines[-3:]] == ["expected", "received", "fix"]


def test_a_single_value_fits_only_a_one_symbol_circuit():
    proc = qshift_cli("run", "ising-2q", "--values", "0.1", check=False)
    assert "2 value(s), one per symbol of ['coupling', 'field']" in proc.stderr
    assert "a single value only for a one-symbol circuit" in proc.stderr
    out = qshift_cli("run", "sin", "--values", "0.1").stdout
    assert f"{np.sin(0.1):.6f}" in out


def test_an_empty_program_is_an_error_not_a_crash(tmp_path):
    for text in ("", "// nothing here\n"):
        path = tmp_path / "empty.qasm"
        path.write_text(text)
        proc = qshift_cli("run", str(path), "--values", "0.1", check=False)
        assert proc.returncode == 2 and "the program is empty" in proc.stderr
        assert "Traceback" not in proc.stderr and "AttributeError" not in proc.stderr


def test_several_rows_from_a_csv_file_one_block_each(tmp_path):
    x = np.array([0.1, -0.7, 2.0])
    path = tmp_path / "rows.csv"
    path.write_text("".join(f"{v}\n" for v in x))  # no header: columns in declaration order
    out = qshift_cli("run", "sin", "--values-file", str(path), "--order", "2").stdout
    blocks = out.split("\nrow ")[1:]
    assert len(blocks) == 3 and "ran 12 circuits" in out  # 4 circuits per row
    for block, v in zip(blocks, x):
        for expected in (np.sin(v), np.cos(v), -np.sin(v)):
            assert f"{expected:.6f}" in block


def test_csv_headers_name_columns_in_any_order_and_npy_arrays(tmp_path):
    rows = np.array([[0.3, 0.2], [-1.1, 0.4]])
    (tmp_path / "h.csv").write_text("field , coupling\n" + "".join(f"{b},{a}\n" for a, b in rows))
    np.save(tmp_path / "rows.npy", rows)
    header = json.loads(qshift_cli("run", "ising-2q", "--values-file", str(tmp_path / "h.csv"), "--json").stdout)
    array = json.loads(qshift_cli("run", "ising-2q", "--values-file", str(tmp_path / "rows.npy"), "--json").stdout)
    qasm = qshift.circuit_path("ising-2q").read_text()
    for doc in (header, array):
        assert [list(r["values"].values()) for r in doc["results"]] == rows.tolist()
        for r, (a, b) in zip(doc["results"], rows):
            np.testing.assert_allclose(r["value"], qiskit_expectations(qasm, {"coupling": a, "field": b}), atol=1e-10)
    (tmp_path / "bad.csv").write_text("0.1,0.2\n0.3,oops\n")
    proc = qshift_cli("run", "ising-2q", "--values-file", str(tmp_path / "bad.csv"), check=False)
    assert proc.returncode == 2 and "line 2" in proc.stderr and "0.3,oops" in proc.stderr
    np.save(tmp_path / "wide.npy", np.zeros((2, 3)))
    proc = qshift_cli("run", "ising-2q", "--values-file", str(tmp_path / "wide.npy"), check=False)
    assert proc.returncode == 2 and "shape (2, 3)" in proc.stderr


def test_json_output_is_machine_readable():
    doc = json.loads(qshift_cli("run", "sin", "--values", "0.5", "--order", "2", "--json").stdout)
    assert (doc["circuit"], doc["device"], doc["symbols"], doc["outputs"]) == ("sin", "local", ["theta"], ["X0"])
    (r,) = doc["results"]
    np.testing.assert_allclose([r["value"][0], r["jacobian"][0][0], r["hessian"][0][0][0]],
                               [np.sin(0.5), np.cos(0.5), -np.sin(0.5)], atol=1e-12)
    assert "standard_errors" not in r and doc["stats"]["circuits"] == 4 and doc["stats"]["shots"] == 0
    sampled = json.loads(qshift_cli("run", "ising-2q", "--values", "0.3", "0.2", "--shots", "400", "--seed", "3",
                                    "--no-store", "--json").stdout)
    (r,) = sampled["results"]
    assert np.array(r["standard_errors"]["jacobian"]).shape == np.array(r["jacobian"]).shape == (3, 2)
    assert np.all(np.array(r["standard_errors"]["value"]) > 0)
    assert sampled["stats"]["shots"] == 400 * sampled["stats"]["executions"] > 0


def test_debug_shows_the_traceback():
    proc = qshift_cli("--debug", "run", "no/such/file.qasm", "--values", "1", check=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_make_demo_commands_run():
    # `make demo` is the README's first command: every qshift line of its recipe must run as written
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    recipe = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    commands = [line.strip().split()[1:] for line in recipe if line.strip().startswith("$(VENV)/bin/qshift")]
    assert len(commands) == 2
    for args in commands:
        out = qshift_cli(*args, cwd=Path(__file__).resolve().parents[2]).stdout
        assert "value:" in out and "gradient:" in out


def test_a_closed_pipe_ends_quietly(tmp_path):
    # `qshift run ... --json | head -c 10`: the reader leaves early; no traceback, the pipe's status
    values = tmp_path / "rows.csv"
    values.write_text("\n".join("0.1,0.2,0.3" for _ in range(400)) + "\n")
    cmd = f"{SCRIPT} run circuits/vqe-h2.qasm --values-file {values} --json | head -c 10"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2], env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert len(proc.stdout) == 10
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.returncode == 141
