"""Repeats are independent samples, interrupted work resumes, replay is asked for (``resume=``).

An unseeded sampled request with a store is recorded with a seed of its own: a repeat of a
request that completed draws a fresh seed (new samples), a rerun of one that was interrupted
runs with its recorded seed (what finished comes from the store), and ``resume=True``
replays the latest one from the store. References are the closed forms of ``sin``:
value ``sin(x)``, derivative ``cos(x)``.
"""

from __future__ import annotations

import dataclasses
import socket
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

import qshift
from qshift.backends.registry import backend_from_profile, load_profile
from qshift.execution import store as store_module

X = np.array([[0.3], [0.9], [-1.2], [2.0]])  # four rows: 12 distinct points for a gradient


def _sin() -> qshift.Circuit:
    return qshift.Circuit.from_qasm(qshift.circuit_path("sin"))


def _within_noise(d) -> None:
    """Value and gradient within 5 standard errors (plus a little) of the closed forms."""
    for k, exact in ((0, np.sin(X)), (1, np.cos(X)[..., None])):
        assert np.all(np.abs(d.derivative(k) - exact) <= 5 * d.standard_error(k) + 0.02)


class Flaky:
    """The local simulator posing as a device that only samples, two rows per call; fails on call ``fail_at``."""

    name = cache_key = "flaky"
    exact, max_batch, default_shots = False, 2, 400

    def __init__(self, fail_at: int | None = None):
        self.calls: list[int] = []
        self.fail_at = fail_at

    def run(self, circuit, angles, *, shots=None, seed=None):
        self.calls.append(len(angles))
        if len(self.calls) == self.fail_at:
            raise RuntimeError("the device went away")
        return qshift.LocalSimulator().run(circuit, angles, shots=shots, seed=seed)


def _requests(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT seed, complete FROM requests ORDER BY rowid").fetchall()


# -- repeats on the devices --------------------------------------------------------------------------

@pytest.fixture
def user_cache(monkeypatch, tmp_path):
    """The default store, in a folder of the test's own (tests otherwise run with QSHIFT_STORE=off)."""
    import platformdirs

    monkeypatch.delenv("QSHIFT_STORE", raising=False)
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda app: str(tmp_path / "cache" / app))
    return tmp_path / "cache" / "qshift" / "evaluations.sqlite"


@pytest.mark.filterwarnings("ignore:You are running a noise-free circuit:UserWarning")
def test_unseeded_repeats_on_the_ibm_fake_with_the_default_store_are_new_samples(user_cache):
    # The ibm-fake-brisbane profile (a sampling device: the default store is on), its noise off
    # so that the test runs in a second; the request path and the store are the device's.
    profile = load_profile("ibm-fake-brisbane")
    backend = backend_from_profile(dataclasses.replace(profile, options={**profile.options, "noise": False}))
    c = _sin()
    first = qshift.derivatives(c, X, device=backend, shots=300)
    second = qshift.derivatives(c, X, device=backend, shots=300)
    assert first.store == second.store == str(user_cache)
    assert first.stats.circuits == second.stats.circuits == 12 and second.stats.from_store == 0
    assert not np.array_equal(first.jacobian, second.jacobian)
    for d in (first, second):
        _within_noise(d)
    replay = qshift.derivatives(c, X, device=backend, shots=300, resume=True)
    assert (replay.stats.from_store, replay.stats.circuits) == (12, 0)
    np.testing.assert_array_equal(replay.jacobian, second.jacobian)
    seeded = [qshift.derivatives(c, X, device=backend, shots=300, seed=8) for _ in range(2)]
    np.testing.assert_array_equal(seeded[0].jacobian, seeded[1].jacobian)
    assert seeded[1].stats.from_store == 12


def test_unseeded_repeats_on_braket_local_are_new_samples_and_seeded_ones_the_same(tmp_path):
    c, path = _sin(), tmp_path / "s.sqlite"
    runs = [qshift.derivatives(c, X, device="braket-local", shots=300, store=path) for _ in range(2)]
    assert [r.stats.from_store for r in runs] == [0, 0] and runs[1].stats.circuits == 12
    assert not np.array_equal(runs[0].value, runs[1].value)
    for d in runs:
        _within_noise(d)
    replay = qshift.derivatives(c, X, device="braket-local", shots=300, store=path, resume=True)
    assert (replay.stats.from_store, replay.stats.circuits) == (12, 0)
    np.testing.assert_array_equal(replay.value, runs[1].value)
    seeded = [qshift.derivatives(c, X, device="braket-local", shots=300, store=path, seed=3) for _ in range(2)]
    np.testing.assert_array_equal(seeded[0].jacobian, seeded[1].jacobian)
    assert (seeded[1].stats.from_store, seeded[1].stats.circuits) == (12, 0)
    assert len(_requests(path)) == 3 and all(done for _, done in _requests(path))  # two fresh seeds and seed 3
    assert int(_requests(path)[2][0]) == 3


# -- an interrupted request resumes ------------------------------------------------------------------

def test_an_interrupted_request_resumes_without_running_what_finished(tmp_path):
    c, path = _sin(), tmp_path / "s.sqlite"
    broken = Flaky(fail_at=4)  # three calls of two rows finish, then the device fails
    with pytest.raises(qshift.DeviceError, match="went away"):
        qshift.derivatives(c, X, device=broken, store=path)
    assert broken.calls == [2, 2, 2, 2]
    (seed, done), = _requests(path)
    assert not done

    device = Flaky()
    d = qshift.derivatives(c, X, device=device, store=path)
    assert (d.stats.from_store, d.stats.circuits, d.stats.submitted) == (6, 6, 6)
    assert device.calls == [2, 2, 2]  # only the six points that never finished
    assert _requests(path) == [(seed, 1)]  # the same request, resumed with its seed, now complete
    _within_noise(d)

    replay = qshift.derivatives(c, X, device=Flaky(), store=path, resume=True)
    assert (replay.stats.from_store, replay.stats.circuits) == (12, 0)
    np.testing.assert_array_equal(replay.jacobian, d.jacobian)
    repeat = qshift.derivatives(c, X, device=Flaky(), store=path)  # complete: a new sample
    assert (repeat.stats.from_store, repeat.stats.circuits) == (0, 12)
    assert not np.array_equal(repeat.jacobian, d.jacobian)


def test_resume_false_never_resumes_and_an_unknown_request_is_a_new_sample(tmp_path):
    c, path = _sin(), tmp_path / "s.sqlite"
    with pytest.raises(qshift.DeviceError):
        qshift.derivatives(c, X, device=Flaky(fail_at=2), store=path)
    fresh = qshift.derivatives(c, X, device=Flaky(), store=path, resume=False)
    assert (fresh.stats.from_store, fresh.stats.circuits) == (0, 12)
    other = qshift.derivatives(c, X[:2], device=Flaky(), store=path, resume=True)  # never recorded
    assert (other.stats.from_store, other.stats.circuits) == (0, 6)
    seeds = [int(s) for s, _ in _requests(path)]
    assert len(set(seeds)) == 3


def test_target_stderr_without_a_seed_keeps_pilot_and_top_ups_apart_and_replays(tmp_path):
    c, path = _sin(), tmp_path / "s.sqlite"
    runs = [qshift.derivatives(c, X[:1], device=Flaky(), store=path, target_stderr=0.05, pilot_shots=100)
            for _ in range(2)]
    assert not np.array_equal(runs[0].jacobian, runs[1].jacobian)
    assert np.all(runs[0].standard_error(1) <= 0.05 * 1.5)
    replay = qshift.derivatives(c, X[:1], device=Flaky(), store=path, target_stderr=0.05, pilot_shots=100,
                                resume=True)
    assert replay.stats.circuits == 0 and replay.stats.from_store > 0
    np.testing.assert_array_equal(replay.jacobian, runs[1].jacobian)


def test_exact_requests_keep_no_seed_and_are_read_back(tmp_path):
    c, path = _sin(), tmp_path / "s.sqlite"
    first = qshift.derivatives(c, X, store=path)
    again = qshift.derivatives(c, X, store=path)
    assert (again.stats.from_store, again.stats.circuits) == (12, 0)
    np.testing.assert_allclose(first.jacobian, np.cos(X)[..., None], atol=1e-12)
    assert _requests(path) == []


def test_the_executor_draws_a_seed_for_unseeded_calls_too(tmp_path):
    c = _sin()
    points = qshift.plan(c).points(c.slot_angles(X))
    with qshift.EvaluationStore(tmp_path / "s.sqlite") as store:
        executor = qshift.Executor(qshift.LocalSimulator(), store=store)
        a, _, _ = executor.evaluate(c, points, shots=200)
        b, _, stats = executor.evaluate(c, points, shots=200)
        assert stats.from_store == 0 and not np.array_equal(a, b)
        c2, _, stats = executor.evaluate(c, points, shots=200, resume=True)
        assert stats.from_store == len(points)
        np.testing.assert_array_equal(c2, b)


def test_bad_resume_arguments_are_refused():
    c = _sin()
    with pytest.raises(qshift.RequestError, match="resume must be"):
        qshift.derivatives(c, X, shots=100, resume="yes")
    with pytest.raises(qshift.RequestError, match="no evaluation store"):
        qshift.derivatives(c, X, shots=100, resume=True, store=False)


# -- who counts as interrupted -----------------------------------------------------------------------

def test_a_request_still_running_in_a_live_process_is_not_taken_for_a_crash(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = f"{socket.gethostname()}\0{sleeper.pid}\0{store_module._process_start(sleeper.pid)}"
        assert store_module._running(live, active=False)
        with qshift.EvaluationStore(tmp_path / "s.sqlite") as store:
            store._transaction(lambda db: db.execute(
                "INSERT INTO requests VALUES ('k', '11', 'dev', 0, ?, 0, 0)", (live,)), write=True)
            with store.request("k", "dev") as seed:
                assert seed != 11  # the other process is still at it: this is a new request
            sleeper.kill()
            sleeper.wait(timeout=10)
            assert not store_module._running(live, active=False)
            with store.request("k", "dev") as seed:
                assert seed == 11  # its process is gone: resumed
            with store.request("k", "dev") as seed:
                assert seed != 11  # and complete now
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait(timeout=10)


def test_this_process_resumes_its_own_interrupted_request_but_not_one_it_runs(tmp_path):
    with qshift.EvaluationStore(tmp_path / "s.sqlite") as store:
        with store.request("k", "dev") as outer:
            with store.request("k", "dev") as inner:  # the same request, running here: not a crash
                assert inner != outer
        with pytest.raises(RuntimeError):
            with store.request("k", "dev") as broken:
                raise RuntimeError("interrupted")
        with store.request("k", "dev") as resumed:
            assert resumed == broken


# -- files written before the requests table --------------------------------------------------------

def test_a_store_written_without_the_requests_table_opens_and_gains_it(tmp_path):
    c, path = _sin(), tmp_path / "old.sqlite"
    with qshift.EvaluationStore(path) as store:
        exact = qshift.derivatives(c, X, store=store)
    with sqlite3.connect(path) as db:  # the file as the previous format wrote it
        db.execute("DROP TABLE requests")
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"meta", "results", "tasks"}
    with qshift.EvaluationStore(path) as store:
        again = qshift.derivatives(c, X, store=store)
        np.testing.assert_array_equal(again.jacobian, exact.jacobian)
        assert again.stats.from_store == 12
        sampled = qshift.derivatives(c, X, shots=200, store=store)
        assert sampled.stats.circuits == 12
    assert [done for _, done in _requests(path)] == [1]
