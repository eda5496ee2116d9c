"""The benchmarks in bench/ run (at their quick sizes), and every qshift path they measure runs
exactly the planner's minimum of circuits: qshift.derivatives, nested tapes through qshift.tf
(one and several outputs, orders 1 to 3, eager and traced), the Keras layer's training epoch,
batches of rows, and qshift.estimate's planned counts; LiH's value + gradient + Hessian takes no more
circuits than PennyLane's Hessian alone. TensorFlow Quantum, tensorcircuit-ng and qulacs (their own
virtualenvs) and Dask (worker processes) are left to `make bench`; a missing peer virtualenv is reported
with the reason."""

import json
from pathlib import Path

import pytest

import qshift

BENCH = Path(__file__).resolve().parent.parent / "bench"

for extra, name in (("tensorflow", "tf"), ("qiskit_aer", "aer"), ("pennylane", "pennylane")):  # the peers it runs
    pytest.importorskip(extra, reason=f"needs qshift[{name}]")


@pytest.mark.slow
def test_quick_benchmarks_run_the_planner_minimum(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import run_all

    run_all.main(["--quick", "--skip", "tfq", "peers", "dask_scaling", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    rows = results["rows"]

    assert not [r for r in rows if r["status"] == "failed" and not r["peer"]]
    counted = [r for r in rows if r["min_circuits"] is not None]
    assert {r["workload"] for r in counted} >= {"hessian", "gradient", "third", "training", "scaling", "vjp"}
    assert {r["method"] for r in counted} >= {"qshift.derivatives", "qshift.tf nested tapes (pfor)",
                                              "qshift.tf nested tapes (no pfor)", "qshift.tf tape.jacobian in tf.function",
                                              "qshift.keras.QuantumLayer (Keras 3)"}
    for r in counted:
        assert r["status"] == "ok", r
        assert r["circuits"] == r["min_circuits"], r
    assert any(r["outputs"] == "all" and r["qubits"] > 1 for r in counted if r["method"].startswith("qshift.tf nested"))

    batches = [r for r in rows if r["workload"] == "bandwidth" and r.get("kind") == "hessian batch"]
    assert batches
    for r in batches:  # a plain simulation: every row, every gate reads and writes the state, one read at the end
        c = qshift.hardware_efficient(r["qubits"], r["layers"])
        assert r["gate_by_gate_bytes"] == r["rows"] * (2 * len(c.operations) + 1) * 16 * 2 ** r["qubits"]
        assert 0 < r["bytes"] < r["gate_by_gate_bytes"]  # fusion and shared prefixes touch less

    lih = {r["method"]: r for r in rows if r["workload"] == "lih" and r.get("kind") == "circuits"}
    assert lih["qshift.plan rule=min-circuits"]["circuits"] <= lih["PennyLane param_shift_hessian"]["circuits"]
    assert lih["qshift.plan rule=min-circuits"]["circuits"] == 2029  # value + gradient + Hessian
    assert lih["PennyLane param_shift_hessian"]["circuits"] == 4489  # the Hessian alone

    circuits_target = results["targets"][0]
    assert circuits_target["met"], circuits_target["measured"]
    text = (tmp_path / "RESULTS.md").read_text()
    assert "## Targets" in text and "## (d) Circuits and dollars" in text and "## (e) LiH energy Hessian" in text
    for png in ("hessian_time.png", "scaling.png", "bandwidth.png"):
        assert (tmp_path / png).stat().st_size > 0


def test_a_missing_peer_virtualenv_is_reported_not_fatal(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import run_all

    monkeypatch.setattr(run_all, "HERE", str(tmp_path))  # no bench/.venv-peers, no install log
    rows, info = run_all.run_peers(True, str(tmp_path))
    assert info is None
    assert [(r["workload"], r["status"]) for r in rows] == [("peers", "skipped")]
    assert "setup_peers.sh" in rows[0]["note"]
