"""The Dask executor on a LocalCluster of 2 worker processes: same results and circuit counts as
the single-machine path, the circuit shipped once per worker, failures named by chunk, and a
worker killed mid-run changing nothing."""

import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

import qshift
from qshift.execution import cluster as _dask
from qshift.execution.cluster import DaskExecutor, as_executor, chunk_rows

pytest.importorskip("distributed", reason="needs qshift[dask]")
import distributed  # noqa: E402


def local_cluster():
    return distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                    scheduler_kwargs={"dashboard_address": ":0"})  # no fixed HTTP port


@pytest.fixture(scope="module")
def cluster():
    with local_cluster() as cluster:
        yield cluster
        for client in _dask._CLIENTS.values():  # connections opened from an address string
            client.close()
        _dask._CLIENTS.clear()


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client


def hea8():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("hea-8q-2l"))
    return c, np.random.default_rng(8).uniform(-np.pi, np.pi, c.n_symbols)


def assert_same(d, ref):
    assert sorted(d.tensors) == sorted(ref.tensors)
    for k in ref.tensors:
        np.testing.assert_allclose(d.tensors[k], ref.tensors[k], rtol=0, atol=1e-12)  # rounding only
    assert (d.stats.circuits, d.stats.executions) == (ref.stats.circuits, ref.stats.executions)


class PoisonedSimulator:
    """The local simulator, except that it raises on one row while a flag file exists."""

    name = "poisoned"
    exact = True
    max_batch = None

    def __init__(self, poison, flag):
        self.poison, self.flag = np.asarray(poison), str(flag)

    def run(self, circuit, angles, *, shots=None, seed=None):
        if os.path.exists(self.flag) and (angles == self.poison).all(axis=1).any():
            raise RuntimeError("poisoned row")
        return qshift.LocalSimulator().run(circuit, angles, shots=shots, seed=seed)


# -- without a cluster ----------------------------------------------------------------------------

def test_chunks_balance_workers_within_memory_and_batch_limits():
    assert chunk_rows(3241, threads=2) == 406  # 4 chunks per worker thread
    assert chunk_rows(3241, threads=16) == 51
    assert chunk_rows(3241, threads=2, memory_rows=64) == 64
    assert chunk_rows(3241, threads=2, max_batch=100, memory_rows=400) == 100
    assert chunk_rows(3, threads=8) == 1
    assert chunk_rows(3241, threads=0) == 811  # no workers known yet: sized for one
    assert qshift.LocalSimulator().rows_per_chunk(25) == 1  # 25 qubits: one state per chunk


def test_executors_resolve_without_importing_dask(monkeypatch):
    assert isinstance(as_executor(None, "local"), qshift.Executor)
    ex = qshift.Executor(qshift.LocalSimulator())
    assert as_executor(ex, "local") is ex
    with pytest.raises(qshift.RequestError, match="executor must be"):
        as_executor(42, "local")
    monkeypatch.setitem(sys.modules, "distributed", None)  # dask not installed
    with pytest.raises(qshift.MissingExtraError, match=r"qshift\[dask\]"):
        qshift.derivatives(*hea8(), executor="tcp://127.0.0.1:8786")


def test_a_worker_side_qshift_error_keeps_its_type_and_names_the_chunk():
    chunks = [np.arange(0, 5), np.arange(5, 10)]
    err = qshift.SimulationMemoryError("too big", expected="less", received="more", fix="use fewer qubits")
    out = _dask._chunk_error(err, 1, chunks, "local", 2)
    assert isinstance(out, qshift.SimulationMemoryError) and isinstance(out, MemoryError)
    assert "chunk 2 of 2 (rows 5-9 of the 10 uncached rows)" in str(out)
    assert "use fewer qubits" in out.fix and "rerun" in out.fix


def test_an_unreachable_scheduler_is_a_device_error():
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(qshift.DeviceError, match="could not connect"):
            DaskExecutor("tcp://127.0.0.1:9")


# -- on a LocalCluster -----------------------------------------------------------------------------

def test_order_two_equals_the_local_path(client):
    c, x = hea8()
    ref = qshift.derivatives(c, x, order=2)
    d = qshift.derivatives(c, x, order=2, executor=client)
    assert_same(d, ref)
    assert d.stats.jobs == 8  # 2081 rows: 4 chunks per worker


def test_a_scheduler_address_works_like_a_client(cluster):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("qaoa-maxcut-6"))
    x = np.array([0.3, -0.7, 1.1, 0.2][:c.n_symbols])
    ref = qshift.derivatives(c, x, order=2)
    assert_same(qshift.derivatives(c, x, order=2, executor=cluster.scheduler_address), ref)
    assert len(_dask._CLIENTS) == 1
    qshift.derivatives(c, x, order=1, executor=cluster.scheduler_address)
    assert len(_dask._CLIENTS) == 1  # one connection per address, reused


def test_the_circuit_is_shipped_once_per_worker_and_the_cache_is_shared(client, monkeypatch):
    scatters = []
    real = client.scatter
    monkeypatch.setattr(client, "scatter", lambda data, **kw: scatters.append(kw) or real(data, **kw))
    c, x = hea8()
    ex = DaskExecutor(client, "local", chunk_rows=100)
    first = qshift.derivatives(c, x, order=1, executor=ex)
    second = qshift.derivatives(c, x, order=2, executor=ex)
    assert scatters == [{"broadcast": True, "hash": False}]  # once, for 2 requests and 22 chunks
    payload = ex._runner._scattered[c.fingerprint]
    assert len(client.who_has([payload])[payload.key]) == 2  # a copy on each worker
    assert first.stats.jobs == 1 and second.stats.jobs == 21  # 65 then 2016 new rows, 100 per chunk
    assert second.stats.cache_hits == first.stats.circuits
    assert ex.stats.circuits == qshift.plan(c, order=2).circuits


def test_progress_is_reported_per_chunk_and_a_cache_can_be_passed_in(client, capsys):
    cache = qshift.EvaluationCache()
    ex = as_executor(client, "local", cache=cache, progress=True)
    assert isinstance(ex, DaskExecutor) and ex.cache is cache
    c, x = hea8()
    qshift.derivatives(c, x, order=1, executor=ex)
    assert "chunk" in capsys.readouterr().err  # a tqdm bar over finished chunks
    assert len(cache) == 65


def test_sampling_is_reproducible_and_counts_shots(client):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2"))
    x = [0.22, 0.1, -0.3]
    a = qshift.derivatives(c, x, order=1, shots=500, seed=7, executor=DaskExecutor(client, chunk_rows=2))
    b = qshift.derivatives(c, x, order=1, shots=500, seed=7, executor=DaskExecutor(client, chunk_rows=2))
    np.testing.assert_array_equal(a.jacobian, b.jacobian)
    assert a.stats.shots == 500 * a.stats.executions and a.stats.jobs == -(-a.stats.circuits // 2)  # 2 per chunk
    exact = qshift.derivatives(c, x, order=1)
    assert np.all(np.abs(a.jacobian - exact.jacobian) <= 6 * a.standard_error(1) + 1e-12)


def test_a_failing_chunk_is_named_and_finished_chunks_are_kept(client, tmp_path):
    c, x = hea8()
    points = qshift.plan(c, order=2).points(c.slot_angles(x[None]))
    flag = tmp_path / "fail"
    flag.touch()
    ex = DaskExecutor(client, PoisonedSimulator(points[-1], flag), chunk_rows=100, retries=1)
    with pytest.raises(qshift.DeviceError, match=r"chunk 21 of 21 \(rows \d+-2080 .*also after 1 retries") as err:
        qshift.derivatives(c, x, order=2, executor=ex)
    assert "RuntimeError: poisoned row" in str(err.value)
    kept = len(ex.cache)
    assert 0 < kept < len(points) and ex.stats.circuits == kept
    flag.unlink()
    d = qshift.derivatives(c, x, order=2, executor=ex)
    assert (d.stats.cache_hits, d.stats.circuits) == (kept, len(points) - kept)  # only the rest was sent
    np.testing.assert_allclose(d.hessian, qshift.derivatives(c, x, order=2).hessian, rtol=0, atol=1e-12)


@pytest.mark.slow
def test_a_worker_killed_mid_run_changes_nothing():
    c = qshift.hardware_efficient(10, 2)
    x = np.random.default_rng(10).uniform(-np.pi, np.pi, c.n_symbols)
    ref = qshift.derivatives(c, x, order=2)
    with local_cluster() as cluster, distributed.Client(cluster, set_as_default=False) as client:
        pids = client.run(os.getpid)
        ex = DaskExecutor(client, chunk_rows=25)
        victim, cached_at_kill = next(iter(pids)), []

        def kill_after_the_first_chunk():
            while len(ex.cache) == 0:
                time.sleep(0.001)
            cached_at_kill.append(len(ex.cache))
            os.kill(pids[victim], signal.SIGKILL)

        killer = threading.Thread(target=kill_after_the_first_chunk, daemon=True)
        killer.start()
        d = qshift.derivatives(c, x, order=2, executor=ex)
        killer.join(10)
        assert victim not in client.scheduler_info()["workers"]  # the worker was lost
    assert cached_at_kill and cached_at_kill[0] < ref.stats.circuits  # ... mid-run
    assert_same(d, ref)
    assert d.stats.jobs == -(-ref.stats.circuits // 25)  # every chunk counted once, reruns included


def test_the_tf_op_runs_every_order_on_the_cluster(client):
    import tensorflow as tf
    c = qshift.hardware_efficient(3, 1)
    x = tf.constant(np.random.default_rng(3).uniform(-1, 1, c.n_symbols))
    local, remote = qshift.tf.function(c), qshift.tf.function(c, executor=client)
    results = []
    for f in (local, remote):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = tf.reduce_sum(f(x))
            g = inner.gradient(y, x)
        results.append((y.numpy(), g.numpy(), outer.jacobian(g, x).numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-12)
    n = c.n_symbols
    assert remote.stats.circuits == local.stats.circuits == 2 * n ** 2 + n + 1
