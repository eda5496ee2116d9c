"""The cloud QPU path end to end: a real Braket ``AwsDevice`` against the local fake service.

Every test talks to 127.0.0.1 only (tests/fakes: a fake Braket REST endpoint and a moto S3
server). The fake service's own log is the witness: which circuits ran, how often, and
whether each succeeded exactly once.
"""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import qshift
from store_probe import count_in_store, sigkill_when
from fakes import QPU_ARN, SV1_ARN, FakeDevice, braket_service, fake_braket, inputs_key  # noqa: F401

CIRCUIT = "bell-xx-yy"  # 3 qubits, 2 symbols, 2 outputs: 22 circuits for a Hessian
X = np.array([0.3, -0.7])
REPO = Path(__file__).resolve().parents[2]


def _circuit() -> qshift.Circuit:
    return qshift.Circuit.from_qasm(qshift.circuit_path(CIRCUIT))


def _retry(**kw) -> qshift.RetryPolicy:
    """Tests are impatient: tiny backoff, bounded in count and time."""
    return qshift.RetryPolicy(**({"max_attempts": 6, "base_delay": 0.002, "max_delay": 0.02, "deadline": 20.0,
                                  "rng": random.Random(0)} | kw))


def _backend(fb, arn=SV1_ARN, **kw) -> qshift.BraketBackend:
    options = {"run_options": {"poll_timeout_seconds": 30.0, "poll_interval_seconds": 0.01}, "retry": _retry()}
    return qshift.BraketBackend(device=fb.device(arn), name="sv1" if arn == SV1_ARN else "qpu", **(options | kw))


def _local(order=2):
    return qshift.derivatives(_circuit(), X, order=order, device="local")


def _assert_each_circuit_succeeded_once(fb, circuits: int) -> None:
    counts = fb.log.execution_counts()
    assert len(counts) == circuits and set(counts.values()) == {1}, fb.log.summary()
    assert fb.log.duplicates() == {}
    assert fb.log.delivered_counts() == counts


# -- results ---------------------------------------------------------------------------------------

def test_hessian_through_aws_device_matches_local(braket_service, tmp_path):
    fb = braket_service
    d = qshift.derivatives(_circuit(), X, order=2, device=_backend(fb), store=tmp_path / "run.sqlite")
    ref = _local()
    for k in range(3):
        np.testing.assert_allclose(d.derivative(k), ref.derivative(k), atol=1e-9)
    assert d.stats.circuits == d.stats.jobs == d.stats.submitted == ref.stats.circuits == 22
    _assert_each_circuit_succeeded_once(fb, 22)

    again = qshift.derivatives(_circuit(), X, order=2, device=_backend(fb), store=tmp_path / "run.sqlite")
    np.testing.assert_array_equal(again.hessian, d.hessian)
    assert (again.stats.from_store, again.stats.reattached, again.stats.submitted, again.stats.jobs) == (22, 0, 0, 0)
    assert len(fb.log.tasks) == 22  # nothing was sent again


@pytest.mark.parametrize("arn", [QPU_ARN, SV1_ARN], ids=["qpu-one-task-per-circuit", "sv1-program-sets"])
def test_sampled_gradient_is_within_shot_noise(braket_service, tmp_path, arn):
    fb = braket_service
    d = qshift.derivatives(_circuit(), X, order=1, device=_backend(fb, arn), shots=4000,
                           store=tmp_path / "run.sqlite")
    ref = _local(order=1)
    for k in (0, 1):
        assert np.all(np.abs(d.derivative(k) - ref.derivative(k)) <= 5 * d.standard_error(k) + 0.02)
    kinds = {t.action_type for t in fb.log.tasks}
    if arn == SV1_ARN:
        assert kinds == {"braket.ir.openqasm.program_set"} and d.stats.jobs == len(fb.log.tasks) < d.stats.circuits
    else:
        assert kinds == {"braket.ir.openqasm.program"} and d.stats.jobs == d.stats.executions
    assert fb.log.duplicates() == {}


# -- faults survived -------------------------------------------------------------------------------

def test_failed_tasks_and_throttling_are_survived_and_each_circuit_succeeds_once(tmp_path):
    seen = set()

    def first_time(task):  # each circuit can fail only on its first task
        key = (task.program_hash, inputs_key(task.inputs))
        new = key not in seen
        seen.add(key)
        return new

    with fake_braket(max_attempts=1) as fb:  # no botocore retries: every throttle reaches qshift
        device = _backend(fb)
        failing = fb.faults.fail_tasks(retryable=True, fraction=0.2, seed=11, where=first_time)
        throttle = fb.faults.throttle("*", every=5)
        d = qshift.derivatives(_circuit(), X, order=2, device=device, store=tmp_path / "run.sqlite")
        np.testing.assert_allclose(d.hessian, _local().hessian, atol=1e-9)
        _assert_each_circuit_succeeded_once(fb, 22)
        assert failing.fired >= 2 and throttle.fired >= 5
        assert fb.log.statuses() == {"COMPLETED": 22, "FAILED": failing.fired}
        # only the failed items were sent again: one extra task per failure, no more
        assert len(fb.log.tasks) == 22 + failing.fired
        assert fb.log.count("CreateQuantumTask", error="ThrottlingException") >= 1
        assert fb.log.count("GetQuantumTask", error="ThrottlingException") >= 1
        assert d.stats.jobs == 22 + failing.fired and d.stats.circuits == 22
        assert not fb.service.errors
        print(f"faults: {failing.fired} tasks failed once, {throttle.fired} calls throttled; "
              f"{len(fb.log.tasks)} tasks for 22 circuits, each succeeded once")


def test_cancelled_tasks_are_sent_again(braket_service, tmp_path):
    fb = braket_service
    rule = fb.faults.cancel_tasks(nth={2, 5})
    d = qshift.derivatives(_circuit(), X, order=1, device=_backend(fb), store=tmp_path / "run.sqlite")
    np.testing.assert_allclose(d.jacobian, _local(order=1).jacobian, atol=1e-9)
    assert rule.fired == 2 and fb.log.statuses() == {"COMPLETED": d.stats.circuits, "CANCELLED": 2}
    assert fb.log.duplicates() == {}


# -- permanent errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["ValidationException", "AccessDeniedException", "DeviceOfflineException"])
def test_permanent_errors_are_raised_after_one_attempt_with_the_providers_message(code, tmp_path):
    with fake_braket(max_attempts=1) as fb:
        device = _backend(fb)
        fb.faults.api_error("CreateQuantumTask", code=code, message=f"Injected {code}: the provider says no")
        with pytest.raises(qshift.DeviceError) as info:
            qshift.derivatives(_circuit(), X, order=1, device=device, store=tmp_path / "run.sqlite")
        assert fb.log.count("CreateQuantumTask") == 1  # one attempt, not retried
        assert info.value.code == code and info.value.attempts == 1
        text = str(info.value)
        assert "the provider says no" in text and code in text and "not retried" in text and "fix:" in text
        assert fb.log.tasks == []


def test_a_task_failed_for_good_is_raised_with_its_reason(braket_service, tmp_path):
    fb = braket_service
    fb.faults.fail_tasks(nth={3}, reason="Program is too deep for this device")
    with pytest.raises(qshift.DeviceError, match="Program is too deep for this device") as info:
        qshift.derivatives(_circuit(), X, order=1, device=_backend(fb), store=tmp_path / "run.sqlite")
    assert "FAILED" in str(info.value)
    assert fb.log.statuses()["FAILED"] == 1
    failed = next(t for t in fb.log.tasks if t.status == "FAILED")
    assert sum(t.circuits == failed.circuits for t in fb.log.tasks) == 1  # not sent again


def test_without_a_store_a_failing_run_cancels_the_tasks_it_leaves_behind(braket_service):
    fb = braket_service
    fb.faults.fail_tasks(nth={1}, reason="Program is too deep for this device")
    fb.faults.slow_tasks(30.0, where=lambda task: task.ordinal > 1)
    with pytest.raises(qshift.DeviceError, match="too deep"):
        qshift.derivatives(_circuit(), X, order=1, device=_backend(fb, max_parallel=3), store=False)
    assert fb.service.wait_idle(10)
    assert fb.log.statuses() == {"FAILED": 1, "CANCELLED": 2} and fb.log.executions == []


def test_persistent_throttling_gives_up_within_the_policy(tmp_path):
    with fake_braket(max_attempts=1) as fb:
        device = _backend(fb, retry=_retry(max_attempts=3))
        fb.faults.throttle("CreateQuantumTask")
        t0 = time.monotonic()
        with pytest.raises(qshift.DeviceError, match="after 3 attempt") as info:
            qshift.derivatives(_circuit(), X, order=1, device=device, store=tmp_path / "run.sqlite")
        assert time.monotonic() - t0 < 10 and info.value.code == "ThrottlingException"
        assert fb.log.count("CreateQuantumTask", error="ThrottlingException") == 3 and fb.log.tasks == []


# -- a crashed client resumes ----------------------------------------------------------------------

CLIENT = """
import sys
import numpy as np
import qshift
from braket.aws import AwsDevice

store, arn = sys.argv[1], sys.argv[2]
circuit = qshift.Circuit.from_qasm(qshift.circuit_path({circuit!r}))
backend = qshift.BraketBackend(device=AwsDevice(arn), name="sv1", max_parallel=4,
                               run_options={{"poll_timeout_seconds": 60, "poll_interval_seconds": 0.02}},
                               retry=qshift.RetryPolicy(base_delay=0.002, max_delay=0.02, deadline=20))
qshift.derivatives(circuit, np.array({x}), order=2, device=backend, store=store)
print("finished")
"""


def test_sigkill_halfway_then_rerun_pays_for_nothing_twice(tmp_path):
    store = tmp_path / "run.sqlite"
    script = tmp_path / "client.py"
    script.write_text(CLIENT.format(circuit=CIRCUIT, x=X.tolist()))
    with fake_braket() as fb:
        fb.faults.slow_tasks(0.5)  # every task runs half a second: the client is mid-batch for seconds
        env = os.environ | {"PYTHONPATH": str(REPO)}  # the fake's endpoints and test credentials go along
        client = subprocess.Popen([sys.executable, str(script), str(store), SV1_ARN], cwd=tmp_path, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        sigkill_when(client, lambda: (  # mid-batch: results kept, tasks out, and circuits never sent
            count_in_store(store, "SELECT COUNT(*) FROM results") >= 4
            and count_in_store(store, "SELECT COUNT(*) FROM tasks WHERE status = 'submitted'") >= 2
            and len(fb.log.tasks) < 22))
        before = len(fb.log.tasks)
        fb.faults.clear()  # the rest runs at full speed

        d = qshift.derivatives(_circuit(), X, order=2, device=_backend(fb), store=store)
        np.testing.assert_allclose(d.hessian, _local().hessian, atol=1e-9)
        s = d.stats
        assert s.from_store >= 4 and s.reattached >= 1 and s.submitted >= 1
        assert s.from_store + s.reattached + s.submitted == 22
        replayed = sum(call.replay for call in fb.log.calls_to("CreateQuantumTask"))  # killed mid-create
        assert s.jobs == s.submitted and s.jobs - replayed == 22 - before  # only what never ran was submitted
        assert len(fb.log.tasks) == 22
        _assert_each_circuit_succeeded_once(fb, 22)  # no circuit executed twice
        assert fb.service.wait_idle(10) and not fb.service.errors
        print(f"kill/resume: {s.from_store} from the store, {s.reattached} re-attached, {s.submitted} submitted")


TWIN = """
import sys, time
from pathlib import Path
import numpy as np
import qshift
from braket.aws import AwsDevice

store, arn, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
circuit = qshift.Circuit.from_qasm(qshift.circuit_path({circuit!r}))
backend = qshift.BraketBackend(device=AwsDevice(arn), name="sv1", max_parallel=4,
                               run_options={{"poll_timeout_seconds": 60, "poll_interval_seconds": 0.02}},
                               retry=qshift.RetryPolicy(base_delay=0.002, max_delay=0.02, deadline=20))
while not go.exists():
    time.sleep(0.002)
d = qshift.derivatives(circuit, np.array({x}), order=2, device=backend, store=store)
s = d.stats
print("stats", s.from_store, s.reattached, s.submitted)
print("hessian", d.hessian.ravel().tolist())
"""


def test_two_identical_requests_started_at_once_pay_once(tmp_path):
    # Both plan before either has submitted anything; each task is claimed in the store by one
    # of them, and the other sends the same idempotency token: the provider answers with the
    # same task, so every circuit is created and run once.
    store, go = tmp_path / "run.sqlite", tmp_path / "go"
    script = tmp_path / "twin.py"
    script.write_text(TWIN.format(circuit=CIRCUIT, x=X.tolist()))
    with fake_braket() as fb:
        fb.faults.slow_tasks(0.05)
        env = os.environ | {"PYTHONPATH": str(REPO)}
        twins = [subprocess.Popen([sys.executable, str(script), str(store), SV1_ARN, str(go)], cwd=tmp_path, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
        try:
            time.sleep(2.0)  # both are waiting at the start line
            go.touch()
            outputs = [t.communicate(timeout=120)[0].decode() for t in twins]
        finally:
            for t in twins:
                if t.poll() is None:
                    t.kill()
                    t.wait(timeout=10)
        assert [t.returncode for t in twins] == [0, 0], outputs
        assert len(fb.log.tasks) == 22  # created once each, by one twin or the other
        _assert_each_circuit_succeeded_once(fb, 22)
        assert fb.service.wait_idle(10) and not fb.service.errors
    expected = _local().hessian.ravel()
    counts = []
    for out in outputs:
        lines = dict(line.split(" ", 1) for line in out.strip().splitlines() if line.startswith(("stats", "hessian")))
        np.testing.assert_allclose(eval(lines["hessian"]), expected, atol=1e-9)
        from_store, reattached, submitted = map(int, lines["stats"].split())
        assert from_store + reattached + submitted == 22
        counts.append(submitted)
    # Every circuit was created once (22 tasks above; without the claim: 44, 22 each). The twins' own counts
    # add up to 22, or a little more when one twin read the other's claim while its create call was still
    # unanswered: it then re-sends that task with the same token (as after a crash), the provider answers
    # with the same task, and both count it as sent by them. Nothing is paid twice either way.
    assert 22 <= sum(counts) < 44, counts


def test_two_identical_sampled_requests_in_threads_pay_once(tmp_path):
    # Program sets: both threads pack the same executables into the same sets, claim them in
    # the store, and whoever comes second sends the first one's token.
    import threading

    sv1 = FakeDevice(SV1_ARN, "SV1", "Amazon Braket", "SIMULATOR", shots_range=(0, 4000))
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))  # 13 points x 2 groups: 8 sets of <= 4
    results, start = {}, threading.Barrier(2)
    with fake_braket(devices=[sv1]) as fb:
        fb.faults.slow_tasks(0.05)

        def twin(i):
            backend = _backend(fb, max_parallel=3)
            start.wait()
            results[i] = qshift.derivatives(c, [0.3, -0.2], order=1, device=backend, shots=1000, seed=5,
                                            store=tmp_path / "run.sqlite")

        threads = [threading.Thread(target=twin, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(results) == 2
        assert len(fb.log.tasks) == 8 and fb.log.duplicates() == {}  # without the claim: 16
    np.testing.assert_array_equal(results[0].jacobian, results[1].jacobian)  # the same shots, read twice
    assert all(r.stats.from_store + r.stats.reattached + r.stats.submitted >= 13 for r in results.values())


def test_a_create_whose_answer_was_lost_is_not_run_twice(braket_service, tmp_path):
    # The store records the idempotency token before each create call; a rerun after the
    # process died between the create and its record sends the same token: the same task.
    fb = braket_service
    c = _circuit()
    store = qshift.EvaluationStore(tmp_path / "run.sqlite")
    backend = _backend(fb)
    points = qshift.plan(c, order=1).points(c.slot_angles(X[None, :]))
    ledger = store.ledger(c, backend.cache_key, None, None)
    ledger.submitted = lambda token, task_id: None  # "dies" before recording the ARN
    list(backend.iter_run(c, points[:2], ledger=ledger))
    assert len(fb.log.tasks) == 2
    entries = store.ledger(c, backend.cache_key, None, None).find(points, [(0, -1), (1, -1)])
    assert {e.status for e in entries.values()} == {"creating"}

    executor = qshift.Executor(backend, store=store)
    values, _, stats = executor.evaluate(c, points)
    np.testing.assert_allclose(values, qshift.LocalSimulator().run(c, points).values, atol=1e-9)
    assert len(fb.log.tasks) == len(points) and fb.log.duplicates() == {}
    replays = [call for call in fb.log.calls_to("CreateQuantumTask") if call.replay]
    assert len(replays) == 2


def test_program_sets_are_reattached_by_position(tmp_path):
    # Sampling on SV1 packs (row, measurement group) executables into program sets; a client that
    # dies after its first result leaves sets running, and the rerun finds each executable in them.
    sv1 = FakeDevice(SV1_ARN, "SV1", "Amazon Braket", "SIMULATOR", shots_range=(0, 4000))
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))  # outputs ZZ, X, X: two groups
    points = qshift.plan(c, order=1).points(c.slot_angles(np.array([[0.3, -0.2]])))
    shots = 1000  # at most 4,000 shots per task: 4 executables per program set
    with fake_braket(devices=[sv1]) as fb:
        store = qshift.EvaluationStore(tmp_path / "run.sqlite")
        backend = _backend(fb, max_parallel=3)
        pieces = backend.iter_run(c, points, shots=shots, ledger=store.ledger(c, backend.cache_key, shots, 5))
        next(pieces)
        pieces.close()  # the client is gone
        created = len(fb.log.tasks)
        values, variances, stats = qshift.Executor(backend, store=store).evaluate(c, points, shots=shots, seed=5)
        sets = -(-len(points) // 4) * 2
        assert len(fb.log.tasks) == sets and created < sets
        assert {t.action_type for t in fb.log.tasks} == {"braket.ir.openqasm.program_set"}
        assert stats.jobs == sets - created and stats.reattached >= 4
        assert stats.reattached + stats.submitted == len(points)
        assert fb.log.duplicates() == {}
    exact = qshift.LocalSimulator().run(c, points).values
    assert np.all(np.abs(values - exact) <= 5 * np.sqrt(variances / shots) + 0.05)


def test_a_lost_result_is_an_error_and_a_rerun_sends_only_that_circuit_again(braket_service, tmp_path):
    fb = braket_service
    fb.faults.lose_results(nth={3})
    with pytest.raises(qshift.DeviceError, match="NoSuchKey") as info:
        qshift.derivatives(_circuit(), X, order=1, device=_backend(fb), store=tmp_path / "run.sqlite")
    assert "paid again" in info.value.fix
    tasks = len(fb.log.tasks)
    d = qshift.derivatives(_circuit(), X, order=1, device=_backend(fb), store=tmp_path / "run.sqlite")
    np.testing.assert_allclose(d.jacobian, _local(order=1).jacobian, atol=1e-9)
    assert len(fb.log.tasks) == tasks + 1 + (7 - tasks)  # the lost one once more, and those never sent
    assert len(fb.log.duplicates()) == 1  # the lost circuit ran twice (its first result is gone)


# -- the store file ----------------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_a_damaged_store_is_reported_and_gives_no_numbers(braket_service, tmp_path, damage):
    fb = braket_service
    path = tmp_path / "run.sqlite"
    with qshift.EvaluationStore(path) as store:  # closing checkpoints the journal into the file
        qshift.derivatives(_circuit(), X, order=1, device=_backend(fb), store=store)
    data = path.read_bytes()
    assert len(data) > 8192
    path.write_bytes(data[: len(data) // 2] if damage == "truncate"
                     else data[:4096] + os.urandom(len(data) - 8192) + data[-4096:])
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    tasks = len(fb.log.tasks)
    with pytest.raises(qshift.StoreError) as info:
        qshift.derivatives(_circuit(), X, order=1, device=_backend(fb), store=path)
    text = str(info.value)
    assert str(path) in text and "damaged" in text and "move it aside" in text
    assert len(fb.log.tasks) == tasks  # nothing was sent


def test_no_credentials_are_stored_or_logged(braket_service, tmp_path, caplog):
    import boto3
    from braket.aws import AwsDevice, AwsSession

    fb = braket_service
    key, secret = "AKIAQSHIFTTESTKEY0001", "qshift/secret/never-stored/0123456789abcdef"
    boto = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1")
    session = AwsSession(boto_session=boto, braket_client=boto.client("braket", endpoint_url=fb.braket_url),
                         default_bucket=fb.bucket)
    backend = qshift.BraketBackend(device=AwsDevice(SV1_ARN, aws_session=session), name="sv1", retry=_retry(),
                                   run_options={"poll_timeout_seconds": 30.0})
    fb.faults.throttle("GetQuantumTask", every=3)
    with caplog.at_level(logging.DEBUG, logger="qshift"):
        d = qshift.derivatives(_circuit(), X, order=1, device=backend, store=tmp_path / "run.sqlite")
    assert d.stats.circuits == d.stats.submitted == 7
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("run.sqlite*"))
    assert b"quantum-task" in stored  # the task ARNs are there...
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("qshift"))
    for needle in (key, secret, "testing"):  # ...the credentials are not (nor the fake's own)
        assert needle.encode() not in stored
        assert needle not in ours
