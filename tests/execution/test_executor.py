"""The executor on its own: shots resolution, caching, batching, counting, seeds and failures."""

import numpy as np
import pytest

import qshift
from qshift._seeding import child_ints
from qshift.backends.base import Backend, RunResult
from qshift.execution.executor import Executor, Stats


class Recording(Backend):
    """The local simulator, recording every call (rows, shots, seed); at most ``max_batch`` rows per call."""

    def __init__(self, name="recording", *, max_batch=None, default_shots=None, exact=True, fail_on_call=None):
        self.name, self.max_batch, self.default_shots, self.exact = name, max_batch, default_shots, exact
        self.fail_on_call = fail_on_call
        self.calls = []
        self.inner = qshift.LocalSimulator()

    def run(self, circuit, angles, *, shots=None, seed=None):
        self.calls.append((len(angles), shots, seed))
        if len(self.calls) == self.fail_on_call:
            raise RuntimeError("the device went away")
        result = self.inner.run(circuit, angles, shots=shots, seed=seed)
        return RunResult(result.values, result.variances, executions=result.executions, jobs=1)


def _sin():
    return qshift.Circuit.from_qasm(qshift.circuit_path("sin"))


def _rows(n):
    return np.linspace(-1.0, 1.0, n)[:, None]


# -- zero rows --------------------------------------------------------------------------------------

@pytest.mark.parametrize("shots", [None, 100])
def test_zero_rows_return_empty_arrays_and_never_reach_the_backend(shots):
    backend = Recording(fail_on_call=1)
    ex = Executor(backend)
    values, variances, stats = ex.evaluate(_sin(), np.zeros((0, 1)), shots=shots, seed=3)
    assert values.shape == (0, 1)
    assert (variances is None) if shots is None else variances.shape == (0, 1)
    assert stats == Stats() and ex.stats == Stats() and backend.calls == []


# -- shots: the backend resolves them ---------------------------------------------------------------

def test_shots_none_takes_the_backend_default():
    backend = Recording(default_shots=200)
    values, variances, stats = Executor(backend).evaluate(_sin(), _rows(3), seed=1)
    assert backend.calls == [(3, 200, child_ints(1, 1)[0])]
    assert variances is not None and stats.shots == 3 * 200


def test_an_exact_request_on_a_device_that_only_samples_is_refused():
    backend = Recording(exact=False)
    with pytest.raises(qshift.RequestError, match="cannot run exactly"):
        Executor(backend).evaluate(_sin(), _rows(2))
    assert backend.calls == []


def test_a_backend_object_that_does_not_subclass_backend_is_read_through_the_contract():
    class Plain:
        name, exact = "plain", True

        def run(self, circuit, angles, *, shots=None, seed=None):
            return qshift.LocalSimulator().run(circuit, angles, shots=shots, seed=seed)

    ex = Executor(Plain())
    assert isinstance(ex.backend, Backend) and ex.backend.cache_key == "plain"
    values, variances, stats = ex.evaluate(_sin(), _rows(2))
    np.testing.assert_allclose(values[:, 0], np.sin(_rows(2)[:, 0]), atol=1e-12)
    assert variances is None and (stats.circuits, stats.jobs) == (2, 1)


# -- batching and counting ---------------------------------------------------------------------------

def test_batches_to_max_batch_and_counts_every_call():
    backend = Recording(max_batch=3)
    values, _, stats = Executor(backend).evaluate(_sin(), _rows(10), shots=50, seed=4)
    assert [rows for rows, _, _ in backend.calls] == [3, 3, 3, 1]
    assert (stats.circuits, stats.jobs, stats.executions, stats.shots) == (10, 4, 10, 500)
    assert stats.submitted == 10 and stats.cache_hits == 0


def test_each_batch_gets_a_child_of_the_request_seed():
    backend = Recording(max_batch=2)
    Executor(backend).evaluate(_sin(), _rows(5), shots=10, seed=9)
    assert [seed for _, _, seed in backend.calls] == child_ints(9, 3)
    unseeded = Recording(max_batch=2)
    Executor(unseeded).evaluate(_sin(), _rows(5), shots=10)
    assert [seed for _, _, seed in unseeded.calls] == [None] * 3


def test_seeded_sampling_is_reproducible():
    a = Executor(Recording()).evaluate(_sin(), _rows(4), shots=100, seed=5)
    b = Executor(Recording()).evaluate(_sin(), _rows(4), shots=100, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_executor_stats_accumulate_and_the_request_stats_are_its_own():
    ex = Executor(Recording())
    first = ex.evaluate(_sin(), np.array([[0.1], [0.2], [0.3]]))[2]
    second = ex.evaluate(_sin(), np.array([[0.3], [0.4], [0.5], [0.6]]))[2]
    assert first.circuits == 3 and second.circuits == 3 and second.cache_hits == 1  # 0.3 is in both
    assert ex.stats.circuits == 6 and ex.stats.cache_hits == 1 and ex.stats.jobs == 2


# -- caching -----------------------------------------------------------------------------------------

def test_repeated_rows_in_one_call_run_once():
    backend = Recording()
    values, _, stats = Executor(backend).evaluate(_sin(), np.array([[0.1], [0.2], [0.1]]))
    assert backend.calls[0][0] == 2 and stats.circuits == 2 and stats.cache_hits == 0
    assert values[0, 0] == values[2, 0]


def test_exact_results_are_reused_across_calls():
    backend = Recording()
    ex = Executor(backend)
    ex.evaluate(_sin(), _rows(3))
    _, _, stats = ex.evaluate(_sin(), _rows(3))
    assert stats.circuits == 0 and stats.cache_hits == 3 and len(backend.calls) == 1


def test_sampled_results_are_reused_only_when_asked():
    plain, opt_in = Recording(), Recording()
    for backend, reuse, hits in ((plain, False, 0), (opt_in, True, 3)):
        ex = Executor(backend, reuse_sampled=reuse)
        ex.evaluate(_sin(), _rows(3), shots=100, seed=1)
        _, _, stats = ex.evaluate(_sin(), _rows(3), shots=100, seed=1)
        assert stats.cache_hits == hits and stats.circuits == 3 - hits


def test_sampled_and_exact_results_never_answer_each_other():
    ex = Executor(Recording(), reuse_sampled=True)
    ex.evaluate(_sin(), _rows(2), shots=100, seed=1)
    _, variances, stats = ex.evaluate(_sin(), _rows(2))
    assert variances is None and stats.circuits == 2 and stats.cache_hits == 0
    _, _, other_shots = ex.evaluate(_sin(), _rows(2), shots=50, seed=1)
    assert other_shots.circuits == 2


def test_the_cache_is_bounded():
    cache = qshift.EvaluationCache(max_entries=5)
    for i in range(20):
        cache.put(("k", i), (np.zeros(1), None))
    assert len(cache) == 5 and cache.get(("k", 0)) is None and cache.get(("k", 19)) is not None


# -- failures ----------------------------------------------------------------------------------------

def test_a_failing_batch_keeps_what_finished_and_a_rerun_sends_only_the_rest():
    backend = Recording(max_batch=2, fail_on_call=2)
    ex = Executor(backend)
    with pytest.raises(qshift.DeviceError, match="failed on a batch of 2"):
        ex.evaluate(_sin(), _rows(5))
    assert ex.stats.circuits == 2
    backend.fail_on_call = None
    _, _, stats = ex.evaluate(_sin(), _rows(5))
    assert stats.cache_hits == 2 and stats.circuits == 3


def test_values_of_the_wrong_shape_are_a_device_error():
    class Wrong(Recording):
        def run(self, circuit, angles, *, shots=None, seed=None):
            return RunResult(np.zeros((len(angles), 2)), executions=len(angles))

    with pytest.raises(qshift.DeviceError, match="wrong shape"):
        Executor(Wrong()).evaluate(_sin(), _rows(2))
