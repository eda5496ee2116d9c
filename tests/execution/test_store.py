"""The persistent evaluation store: keys, the default policy, damage detection, two processes, the CLI.

Every test passes its own file under tmp_path; the user's cache directory is never touched.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

import qshift
from qshift.cli import main
from qshift.execution.store import _checksum, default_store_path, open_store

REPO = Path(__file__).resolve().parents[2]


def _circuit() -> qshift.Circuit:
    return qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))


def _points(c, order=1, x=(0.3, -0.2)):
    return qshift.plan(c, order=order).points(c.slot_angles(np.array([x])))


# -- results ---------------------------------------------------------------------------------------

def test_results_come_back_from_the_store_bit_for_bit(tmp_path):
    c = _circuit()
    points = _points(c)
    with qshift.EvaluationStore(tmp_path / "s.sqlite") as store:
        first = qshift.Executor(qshift.LocalSimulator(), store=store)
        values, _, stats = first.evaluate(c, points)
        assert (stats.circuits, stats.submitted, stats.from_store) == (len(points), len(points), 0)
        again = qshift.Executor(qshift.LocalSimulator(), store=store)  # a fresh process would see the same
        values2, _, stats2 = again.evaluate(c, points)
        np.testing.assert_array_equal(values2, values)
        assert (stats2.circuits, stats2.jobs, stats2.from_store, stats2.submitted) == (0, 0, len(points), 0)
        assert store.counts() == {"results": len(points)}


def test_keys_separate_devices_shots_and_seeds(tmp_path):
    c = _circuit()
    points = _points(c)
    store = qshift.EvaluationStore(tmp_path / "s.sqlite")

    def run(shots=None, seed=None, name="local"):
        backend = qshift.LocalSimulator()
        backend.name = backend.cache_key = name
        return qshift.Executor(backend, store=store).evaluate(c, points, shots=shots, seed=seed)

    exact = run()
    assert run()[2].from_store == len(points)
    assert run(name="other")[2].from_store == 0  # another device
    sampled = run(shots=100, seed=1)
    assert sampled[2].from_store == 0 and sampled[1] is not None
    again = run(shots=100, seed=1)
    assert again[2].from_store == len(points)
    np.testing.assert_array_equal(again[0], sampled[0])
    np.testing.assert_array_equal(again[1], sampled[1])  # variances are stored too
    assert run(shots=100, seed=2)[2].from_store == 0  # another draw
    assert run(shots=200, seed=1)[2].from_store == 0  # other shots
    assert not np.allclose(sampled[0], exact[0])


def test_derivatives_with_a_store(tmp_path):
    c = _circuit()
    d = qshift.derivatives(c, [0.3, -0.2], order=2, store=tmp_path / "s.sqlite")
    assert d.store == str(tmp_path / "s.sqlite") and d.stats.submitted == d.stats.circuits == 79
    again = qshift.derivatives(c, [0.3, -0.2], order=2, store=tmp_path / "s.sqlite")
    np.testing.assert_array_equal(again.hessian, d.hessian)
    assert (again.stats.from_store, again.stats.submitted, again.stats.circuits) == (79, 0, 0)
    assert qshift.derivatives(c, [0.3, -0.2], order=2).store is None  # exact simulator: no store by default
    with pytest.raises(qshift.RequestError, match="store="):
        qshift.derivatives(c, [0.3, -0.2], executor=qshift.Executor(qshift.LocalSimulator()), store=tmp_path / "x")
    with pytest.raises(qshift.RequestError, match="store must be"):
        qshift.derivatives(c, [0.3, -0.2], store=42)


# -- where the store lives -------------------------------------------------------------------------

@pytest.fixture
def user_cache(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.delenv("QSHIFT_STORE", raising=False)
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda app: str(tmp_path / "cache" / app))
    return tmp_path / "cache" / "qshift" / "evaluations.sqlite"


def test_default_policy_on_for_cloud_and_shot_based_devices_off_for_exact_simulators(user_cache, monkeypatch):
    assert default_store_path() == user_cache
    assert open_store(None, qshift.LocalSimulator()) is None
    assert open_store(None, types.SimpleNamespace(exact=True, cloud=True)).path == user_cache
    assert open_store(None, types.SimpleNamespace(exact=False)).path == user_cache
    sampling = types.SimpleNamespace(exact=True, profile=qshift.load_profile("ionq-forte"))
    assert open_store(None, sampling).path == user_cache
    assert open_store(None, types.SimpleNamespace(exact=True, profile=qshift.load_profile("local"))) is None
    assert open_store(False, types.SimpleNamespace(exact=False)) is None
    assert open_store(True, qshift.LocalSimulator()).path == user_cache
    monkeypatch.setenv("QSHIFT_STORE", "off")
    assert open_store(None, types.SimpleNamespace(exact=False)) is None
    assert open_store(True, qshift.LocalSimulator()).path == user_cache  # asked for explicitly
    monkeypatch.setenv("QSHIFT_STORE", str(user_cache.parent / "elsewhere.sqlite"))
    assert open_store(None, types.SimpleNamespace(exact=False)).path == user_cache.parent / "elsewhere.sqlite"


def test_a_sampling_device_resumes_from_the_user_cache_by_default(user_cache):
    class Sampler:  # the local simulator posing as a device that only samples
        name, exact, max_batch, default_shots = "sampler", False, None, 200

        def run(self, circuit, angles, *, shots=None, seed=None):
            return qshift.LocalSimulator().run(circuit, angles, shots=shots, seed=seed)

    c = _circuit()
    d = qshift.derivatives(c, [0.3, -0.2], order=1, device=Sampler(), seed=4)
    assert d.store == str(user_cache) and user_cache.exists()
    again = qshift.derivatives(c, [0.3, -0.2], order=1, device=Sampler(), seed=4)
    assert again.stats.from_store == d.stats.circuits and again.stats.circuits == 0
    np.testing.assert_array_equal(again.jacobian, d.jacobian)
    fresh = qshift.derivatives(c, [0.3, -0.2], order=1, device=Sampler(), seed=4, store=False)
    assert fresh.store is None and fresh.stats.circuits == d.stats.circuits


# -- damage is reported, never returned ------------------------------------------------------------

def _filled(path: Path) -> tuple[qshift.Circuit, np.ndarray, np.ndarray]:
    c = _circuit()
    points = _points(c)
    with qshift.EvaluationStore(path) as store:
        values = qshift.Executor(qshift.LocalSimulator(), store=store).evaluate(c, points)[0]
    return c, points, values


def _reads(path: Path):
    c, points = _circuit(), _points(_circuit())
    return qshift.Executor(qshift.LocalSimulator(), store=qshift.EvaluationStore(path)).evaluate(c, points)


def _assert_clear(info, path: Path, *words: str) -> None:
    text = str(info.value)
    assert str(path) in text and "fix:" in text and all(w in text for w in words), text
    assert isinstance(info.value, qshift.QShiftError)


def test_a_flipped_value_fails_its_checksum(tmp_path):
    path = tmp_path / "s.sqlite"
    c, points, values = _filled(path)
    data = bytearray(path.read_bytes())
    needle = np.float64(values[2, 1]).tobytes()
    at = data.find(needle)
    assert at > 0
    data[at + 3] ^= 0x10  # a plausible number, but not the one computed
    path.write_bytes(bytes(data))
    with pytest.raises(qshift.StoreError) as info:
        _reads(path)
    _assert_clear(info, path, "checksum", "move it aside")
    with pytest.raises(qshift.StoreError):
        qshift.derivatives(c, [0.3, -0.2], order=1, store=path)


def test_a_stored_row_of_the_wrong_length_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    _filled(path)
    with sqlite3.connect(path) as db:
        key, n_out = db.execute("SELECT key, n_outputs FROM results LIMIT 1").fetchone()
        short = np.zeros(1).tobytes()
        db.execute("UPDATE results SET vals = ?, checksum = ? WHERE key = ?",
                   (short, _checksum(key, n_out, short, None), key))
    with pytest.raises(qshift.StoreError) as info:
        _reads(path)
    _assert_clear(info, path, "1 values", "3 outputs")


@pytest.mark.parametrize("damage", ["truncated", "overwritten", "text"])
def test_a_damaged_file_is_reported_on_open(tmp_path, damage):
    path = tmp_path / "s.sqlite"
    _filled(path)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2],
                      "overwritten": data[:4096] + bytes(range(256)) * ((len(data) - 4096) // 256),
                      "text": b"not a database at all\n" * 300}[damage])
    with pytest.raises(qshift.StoreError) as info:
        _reads(path)
    _assert_clear(info, path, "damaged", "move it aside")


def test_foreign_and_newer_files_are_refused(tmp_path):
    foreign = tmp_path / "other.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE photos (id INTEGER)")
    with pytest.raises(qshift.StoreError, match="not a qshift evaluation store"):
        qshift.EvaluationStore(foreign)
    newer = tmp_path / "newer.sqlite"
    qshift.EvaluationStore(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE meta SET value = '99' WHERE name = 'version'")
    with pytest.raises(qshift.StoreError, match="newer qshift"):
        qshift.EvaluationStore(newer)


def test_moving_a_damaged_file_aside_lets_the_same_process_go_on(tmp_path):
    path = tmp_path / "s.sqlite"
    c = _circuit()
    qshift.derivatives(c, [0.3, -0.2], order=1, store=path)  # opened and kept for this process
    path.rename(tmp_path / "s.sqlite.damaged")
    d = qshift.derivatives(c, [0.3, -0.2], order=1, store=path)
    assert d.stats.from_store == 0 and d.stats.submitted == d.stats.circuits  # a new file, not the moved one


# -- pruning ---------------------------------------------------------------------------------------

def _aged_store(path):
    """A store with results and tasks of every status, half of them made ten days old."""
    c = _circuit()
    store = qshift.EvaluationStore(path)
    rows = np.arange(8)[:, None] * 0.1 * np.ones((1, c.n_slots))
    store.save(c, "dev", None, None, rows, np.sin(rows[:, :c.n_outputs]), None, 1)
    ledger = store.ledger(c, "dev", None, None)
    for i, status in enumerate(["creating", "submitted", "COMPLETED", "FAILED"] * 2):
        ledger.creating(f"token-{i}", rows[i:i + 1], [(0, -1, None)], 1)
        if status != "creating":
            ledger.submitted(f"token-{i}", f"arn:task/{i}")
        if status in ("COMPLETED", "FAILED"):
            ledger.ended(f"arn:task/{i}", status)
    old = time.time() - 10 * 86400
    with sqlite3.connect(path) as db:  # the first four rows and tasks are ten days old
        keys = [ledger._key(rows, i) for i in range(4)]
        db.executemany("UPDATE results SET created_at = ? WHERE key = ?", [(old, k) for k in keys])
        db.executemany("UPDATE tasks SET updated_at = ? WHERE key = ?", [(old, k) for k in keys])
    return c, store, rows


def test_prune_deletes_old_results_and_ended_tasks_and_keeps_running_ones(tmp_path):
    c, store, rows = _aged_store(tmp_path / "s.sqlite")
    assert store.prune(older_than=20 * 86400) == {"results": 0, "tasks": 0}
    assert store.prune(older_than=86400, device="another device") == {"results": 0, "tasks": 0}
    assert store.prune(older_than=86400) == {"results": 4, "tasks": 2}  # rows 2, 3: COMPLETED, FAILED
    assert sorted(store.load(c, "dev", None, None, rows, range(8))) == [4, 5, 6, 7]
    left = store.ledger(c, "dev", None, None).find(rows, [(r, -1) for r in range(8)])
    assert {r: e.status for (r, _), e in left.items()} == {0: "creating", 1: "submitted", 4: "creating",
                                                           5: "submitted", 6: "COMPLETED", 7: "FAILED"}
    assert store.prune(older_than=0, vacuum=True) == {"results": 4, "tasks": 2}
    assert store.counts() == {"results": 0, "tasks creating": 2, "tasks submitted": 2}
    with pytest.raises(qshift.QShiftError, match="older_than must be"):
        store.prune(older_than=-1)


def test_cli_store_reports_and_prunes(tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    _aged_store(path)[1].close()
    assert main(["store", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"store {path}:" in out and "8 results" in out and "2 tasks COMPLETED" in out
    assert main(["store", "--file", str(path), "--prune-older-than", "7", "--vacuum"]) == 0
    out = capsys.readouterr().out
    assert "pruned 4 results and 2 ended tasks older than 7 days" in out and "4 results" in out
    assert main(["store", "--file", str(path), "--prune-older-than", "-2"]) == 2
    assert "--prune-older-than must be a number of days" in capsys.readouterr().err
    assert main(["store", "--file", str(tmp_path / "none.sqlite")]) == 0
    assert "no such file" in capsys.readouterr().out


# -- two processes ---------------------------------------------------------------------------------

WRITER = """
import sys, time
from pathlib import Path
import numpy as np
import qshift

path, start, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
deadline = time.monotonic() + 30
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
store = qshift.EvaluationStore(path)
for i in range(start, start + 150):  # one transaction per row, half of them shared with the other writer
    row = np.full((1, c.n_slots), i * 0.01)
    store.save(c, "dev", None, None, row, np.sin(row[:, :c.n_outputs]), None, 1)
    ledger = store.ledger(c, "dev", None, None)
    ledger.creating(f"token-{start}-{i}", row, [(0, -1, None)], 1)
    ledger.submitted(f"token-{start}-{i}", f"arn:task/{start}-{i}")
    ledger.ended(f"arn:task/{start}-{i}", "COMPLETED")
print("wrote", store.counts())
"""


def test_two_processes_share_one_store(tmp_path):
    path, go = tmp_path / "shared.sqlite", tmp_path / "go"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    writers = [subprocess.Popen([sys.executable, str(script), str(path), str(start), str(go)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for start in (0, 75)]
    try:
        time.sleep(0.5)
        go.touch()
        outputs = [w.communicate(timeout=60)[0].decode() for w in writers]
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
                w.wait(timeout=10)
    assert [w.returncode for w in writers] == [0, 0], outputs
    c = _circuit()
    store = qshift.EvaluationStore(path)
    assert store.counts()["results"] == 225
    rows = np.arange(225)[:, None] * 0.01 * np.ones((1, c.n_slots))
    found = store.load(c, "dev", None, None, rows, range(225))
    assert len(found) == 225
    for i, (values, variances) in found.items():
        np.testing.assert_array_equal(values, np.sin(rows[i, :c.n_outputs]))
        assert variances is None
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


OPENER = """
import sys, time
from pathlib import Path
import qshift

folder, go = Path(sys.argv[1]), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
for k in range(int(sys.argv[3])):  # every process opens the same fresh file at about the same moment
    store = qshift.EvaluationStore(folder / f"fresh-{k}.sqlite")
    store.close()
print("opened")
"""


def test_processes_opening_one_fresh_file_at_once_all_succeed(tmp_path):
    # Switching a new file to WAL can meet another opener's lock, which SQLite reports at once
    # ("database is locked") instead of waiting: that is contention, never a damaged file.
    go, script = tmp_path / "go", tmp_path / "opener.py"
    script.write_text(OPENER)
    openers = [subprocess.Popen([sys.executable, str(script), str(tmp_path), str(go), "40"], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(4)]
    try:
        time.sleep(0.5)
        go.touch()
        outputs = [w.communicate(timeout=60)[0].decode() for w in openers]
    finally:
        for w in openers:
            if w.poll() is None:
                w.kill()
                w.wait(timeout=10)
    assert [w.returncode for w in openers] == [0] * 4, outputs
    for k in range(40):
        with sqlite3.connect(tmp_path / f"fresh-{k}.sqlite") as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert dict(db.execute("SELECT name, value FROM meta").fetchall())["format"] == "qshift-evaluations"


# -- the command line ------------------------------------------------------------------------------

def test_cli_says_what_came_from_the_store(tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    args = ["run", "ising-2q", "--values", "0.3", "-0.2", "--order", "2", "--store", str(path)]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert f"store {path}: 0 circuits from the store, 0 re-attached, 79 submitted" in first
    assert main(args) == 0
    second = capsys.readouterr().out
    assert f"store {path}: 79 circuits from the store, 0 re-attached, 0 submitted" in second
    assert first.split("ran ")[0] == second.split("ran ")[0]  # the same numbers
    assert main(args[:-2] + ["--no-store"]) == 0
    assert "store" not in capsys.readouterr().out.split("ran ")[1]
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"garbage" * 1000)
    assert main(args[:-1] + [str(bad)]) == 2
    err = capsys.readouterr().err
    assert "damaged" in err and str(bad) in err and "move it aside" in err
