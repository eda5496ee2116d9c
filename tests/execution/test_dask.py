"""The Dask executor on a LocalCluster of 2 worker processes: same results and circuit counts as
the single-machine path, the circuit shipped once per worker, failures named by chunk, a
worker killed mid-run changing nothing, and a client killed mid-request resumed from the store and
the chunks the scheduler kept."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import qshift
from qshift.execution import cluster as _dask
from qshift.execution.cluster import DaskExecutor, as_executor, chunk_rows
from store_probe import count_in_store, sigkill_when

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


# -- a client killed mid-request -----------------------------------------------------------------

SLOW_DEVICE = '''
import time
import numpy as np
import qshift


class SlowLocal:
    """The local simulator, a little slow per chunk, appending every row it runs to a log file."""

    name = "slow-local"
    exact = True
    max_batch = None

    def __init__(self, log, pause):
        self.log, self.pause = log, pause

    def run(self, circuit, angles, *, shots=None, seed=None):
        time.sleep(self.pause)
        out = qshift.LocalSimulator().run(circuit, angles, shots=shots, seed=seed)
        with open(self.log, "a") as f:  # one short append per chunk
            f.write("".join(np.ascontiguousarray(row).tobytes().hex() + "\\n" for row in angles))
        return out
'''

SCHEDULER = '''
import sys, time
import distributed

if __name__ == "__main__":
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                       host="127.0.0.1", dashboard_address=None,
                                       scheduler_kwargs={"dashboard_address": ":0"})
    print(cluster.scheduler_address, flush=True)
    while True:
        time.sleep(1)
'''

DASK_CLIENT = '''
import sys
import numpy as np
import qshift
from slowdev import SlowLocal
from qshift.execution.cluster import DaskExecutor

address, store, log = sys.argv[1:4]
c = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2"))
ex = DaskExecutor(address, SlowLocal(log, 0.4), chunk_rows=2, store=store)
qshift.derivatives(c, [0.22, 0.1, -0.3], order=1, executor=ex)
print("finished", flush=True)
'''


def _stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_a_client_killed_mid_request_is_resumed_by_reattaching_its_chunks(tmp_path, monkeypatch):
    # The client process publishes its 13 chunks on a scheduler of its own process and records them
    # in the store; it is killed with some results stored and chunks still running. The rerun reads
    # the stored rows back and gathers the rest from the chunks the scheduler kept: nothing runs twice.
    for name, text in {"slowdev.py": SLOW_DEVICE, "scheduler.py": SCHEDULER, "client.py": DASK_CLIENT}.items():
        (tmp_path / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    from slowdev import SlowLocal

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path), repo]), "OMP_NUM_THREADS": "1"}
    store, log = tmp_path / "run.sqlite", tmp_path / "rows.log"
    c, x = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2")), [0.22, 0.1, -0.3]
    ref = qshift.derivatives(c, x, order=1)  # 25 circuits: 13 chunks of 2 rows, 0.4 s each
    scheduler = subprocess.Popen([sys.executable, "scheduler.py"], cwd=tmp_path, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    procs = [scheduler]
    try:
        address = scheduler.stdout.readline().strip()
        assert address.startswith("tcp://127.0.0.1:"), address
        client = subprocess.Popen([sys.executable, "client.py", address, str(store), str(log)], cwd=tmp_path,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        procs.append(client)
        sigkill_when(client, lambda: (  # results kept and chunks still out
            count_in_store(store, "SELECT COUNT(*) FROM results") >= 2
            and count_in_store(store, "SELECT COUNT(*) FROM tasks WHERE status = 'submitted'") >= 4), timeout=30)

        with distributed.Client(address, set_as_default=False) as dask_client:
            ex = DaskExecutor(dask_client, SlowLocal(str(log), 0.0), chunk_rows=2, store=store)
            d = qshift.derivatives(c, x, order=1, executor=ex)
            assert dask_client.list_datasets() == ()  # the finished request unpublished its chunks
    finally:
        for proc in procs:
            _stop(proc)
    np.testing.assert_allclose(d.jacobian, ref.jacobian, rtol=0, atol=1e-12)
    s, n = d.stats, ref.stats.circuits
    assert s.from_store > 0 and s.reattached > 0
    assert s.from_store + s.reattached + s.submitted == n == s.from_store + s.circuits
    rows = log.read_text().split()
    assert len(rows) == len(set(rows)) == n  # every circuit ran once, across both runs
    assert count_in_store(store, "SELECT COUNT(*) FROM tasks WHERE status IN ('creating', 'submitted')") == 0
    print(f"kill/resume: {s.from_store} from the store, {s.reattached} re-attached, {s.submitted} submitted")


def test_recorded_chunks_the_scheduler_no_longer_holds_are_sent_again(client, tmp_path, monkeypatch):
    asked, real = [], client.get_dataset
    monkeypatch.setattr(client, "get_dataset", lambda name, **kw: asked.append(name) or real(name, **kw))
    c = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2"))
    x = np.array([0.22, 0.1, -0.3])
    store = qshift.EvaluationStore(tmp_path / "run.sqlite")
    points = qshift.plan(c, order=1).points(c.slot_angles(x[None]))
    ledger = store.ledger(c, "local", None, None)  # as a crashed run on a scheduler since restarted left it
    ledger.creating("qshift-chunk-gone/0", points, [(r, -1, (0, r)) for r in range(3)], 1)
    d = qshift.derivatives(c, x, order=1, executor=DaskExecutor(client, "local", chunk_rows=5, store=store))
    np.testing.assert_allclose(d.jacobian, qshift.derivatives(c, x, order=1).jacobian, rtol=0, atol=1e-12)
    assert (d.stats.reattached, d.stats.submitted, d.stats.circuits, d.stats.jobs) == (0, 25, 25, 5)
    assert asked == ["qshift-chunk-gone"]  # looked for, not found: its rows were sent again, and recorded anew
    assert store.counts() == {"results": 25, "tasks COMPLETED": 25}
    assert client.list_datasets() == ()
    again = qshift.derivatives(c, x, order=1, executor=DaskExecutor(client, "local", store=store))
    assert (again.stats.from_store, again.stats.circuits) == (25, 0)


def test_an_interrupted_request_leaves_its_chunks_for_a_rerun(client, tmp_path, monkeypatch):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2"))
    x = np.array([0.22, 0.1, -0.3])
    store = qshift.EvaluationStore(tmp_path / "run.sqlite")
    real = distributed.as_completed

    def interrupted_after_two_chunks(futures, **kw):  # Ctrl-C while the third chunk is awaited
        for i, future in enumerate(real(futures, **kw)):
            if i == 2:
                raise KeyboardInterrupt
            yield future

    monkeypatch.setattr(distributed, "as_completed", interrupted_after_two_chunks)
    with pytest.raises(KeyboardInterrupt):
        qshift.derivatives(c, x, order=1, executor=DaskExecutor(client, "local", chunk_rows=5, store=store))
    monkeypatch.setattr(distributed, "as_completed", real)
    assert len(client.list_datasets()) == 1  # the 5 chunks stay on the scheduler
    d = qshift.derivatives(c, x, order=1, executor=DaskExecutor(client, "local", chunk_rows=5, store=store))
    np.testing.assert_allclose(d.jacobian, qshift.derivatives(c, x, order=1).jacobian, rtol=0, atol=1e-12)
    assert (d.stats.from_store, d.stats.reattached, d.stats.submitted, d.stats.jobs) == (10, 15, 0, 3)
    assert client.list_datasets() == ()


def test_derivatives_take_a_store_for_a_cluster(client, tmp_path):
    # qshift.derivatives(..., executor=client, store=path) keeps the cluster's results and chunks in
    # that file (a cluster never gets the default store file unasked); an executor object still
    # refuses store= (it has its own)
    c = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2"))
    x = np.array([0.2, 0.1, -0.1])
    store = tmp_path / "dask.sqlite"
    first = qshift.derivatives(c, x, order=1, executor=client, store=store)
    again = qshift.derivatives(c, x, order=1, executor=client, store=store)
    np.testing.assert_allclose(first.jacobian, qshift.derivatives(c, x, order=1).jacobian, atol=1e-12)
    assert (first.stats.submitted, again.stats.from_store, again.stats.circuits) == (25, 25, 0)
    assert qshift.derivatives(c, x, order=1, executor=client).store is None
    with pytest.raises(qshift.RequestError, match="store="):
        qshift.derivatives(c, x, order=1, executor=qshift.Executor(qshift.LocalSimulator()), store=store)
