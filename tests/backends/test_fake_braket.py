"""The local Braket stand-in (tests/fakes) driven through the real Braket SDK only.

Every test talks to 127.0.0.1: a fake Braket REST endpoint and a moto S3
server, started per test by the `braket_service` fixture or `fake_braket()`.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

pytest.importorskip("braket", reason="needs qshift[braket]")
pytest.importorskip("moto", reason="needs qshift[test]")
import braket.aws  # noqa: E402,F401  (the test extra has them)
import moto.server  # noqa: E402,F401

import botocore.utils  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from braket.aws import AwsDevice, AwsQuantumTask  # noqa: E402
from braket.devices import LocalSimulator  # noqa: E402
from braket.ir.openqasm import Program  # noqa: E402
from braket.ir.openqasm import ProgramSet as OpenQASMProgramSet  # noqa: E402
from fakes import (  # noqa: E402
    DM1_ARN,
    QPU_ARN,
    SV1_ARN,
    braket_service,  # noqa: F401  (fixture)
    circuit_key,
    fake_braket,
)

BELL = """OPENQASM 3.0;
input float theta;
input float phi;
qubit[2] q;
h q[0];
ry(theta) q[0];
cnot q[0], q[1];
rz(2*phi + 0.5) q[1];
rx(phi) q[1];
#pragma braket result expectation z(q[0]) @ z(q[1])
#pragma braket result expectation x(q[0]) @ y(q[1])
"""


def _local(backend, inputs, source=BELL):
    return LocalSimulator(backend).run(Program(source=source), shots=0, inputs=inputs).result().values


def _prog(source=BELL):
    return Program(source=source)


@pytest.mark.filterwarnings("ignore:You are running a noise-free circuit on the density matrix")
@pytest.mark.parametrize(("arn", "backend"), [(SV1_ARN, "braket_sv"), (DM1_ARN, "braket_dm")])
def test_run_matches_local_simulator_and_is_logged(braket_service, arn, backend):
    fb = braket_service
    device = fb.device(arn)
    assert isinstance(device, AwsDevice)
    assert device.name in ("SV1", "DM1") and device.status == "ONLINE"
    assert device.properties.service.getTaskPollIntervalMillis == 20
    assert "braket.ir.openqasm.program" in device.properties.action

    inputs = {"theta": 0.37, "phi": -1.1}
    task = device.run(_prog(), shots=0, inputs=inputs, **fb.poll)
    values = task.result().values
    np.testing.assert_allclose(values, _local(backend, inputs), atol=1e-12)
    assert task.state() == "COMPLETED"

    meta = task.metadata()
    task_id = task.id.rsplit("/", 1)[1]
    assert meta["outputS3Bucket"] == fb.bucket
    assert meta["outputS3Directory"] == f"tasks/{task_id}"
    assert meta["actionMetadata"]["actionType"] == "braket.ir.openqasm.program"
    assert f"tasks/{task_id}/results.json" in fb.result_keys()

    log = fb.log
    ops = [c.operation for c in log.calls]
    assert ops[:2] == ["GetDevice", "CreateQuantumTask"] and "GetQuantumTask" in ops
    assert all(c.error is None for c in log.calls)
    (record,) = log.tasks
    assert record.arn == task.id and record.status == "COMPLETED" and record.result_written
    assert record.inputs == inputs and record.shots == 0 and record.device_arn == arn
    (ex,) = log.executions
    assert ex.ok and ex.task_arn == task.id and ex.key == circuit_key(BELL, inputs)
    assert log.execution_counts() == {circuit_key(BELL, inputs): 1}


def test_run_batch_returns_results_in_order(braket_service):
    fb = braket_service
    device = fb.device()
    thetas = [0.1, 0.7, -0.4, 1.3, 2.2]
    inputs = [{"theta": t, "phi": 0.25 * t} for t in thetas]
    batch = device.run_batch([_prog()] * len(inputs), shots=0, inputs=inputs, max_parallel=3, **fb.poll)
    results = batch.results()
    for result, ins in zip(results, inputs, strict=True):
        np.testing.assert_allclose(result.values, _local("braket_sv", ins), atol=1e-12)
    log = fb.log
    assert log.count("CreateQuantumTask") == len(inputs)
    assert log.execution_counts() == {circuit_key(BELL, ins): 1 for ins in inputs}
    assert log.delivered_counts() == log.execution_counts()
    assert not log.duplicates()


def test_qpu_needs_shots_and_device_status_is_enforced(braket_service):
    fb = braket_service
    qpu = fb.device(QPU_ARN)
    assert qpu.type == "QPU" and qpu.properties.paradigm.qubitCount == 8
    assert qpu.properties.service.deviceCost.unit == "shot"
    with pytest.raises(ClientError) as err:
        qpu.run(_prog(), shots=0, inputs={"theta": 0.1, "phi": 0.2}, **fb.poll)
    assert err.value.response["Error"]["Code"] == "ValidationException"

    sampled = """OPENQASM 3.0;
qubit[2] q;
bit[2] b;
h q[0];
cnot q[0], q[1];
b = measure q;
"""
    result = qpu.run(_prog(sampled), shots=200, **fb.poll).result()
    counts = result.measurement_counts
    assert sum(counts.values()) == 200 and set(counts) <= {"00", "11"}

    fb.service.set_device_status(QPU_ARN, "OFFLINE")
    with pytest.raises(ClientError) as err:
        qpu.run(_prog(sampled), shots=10, **fb.poll)
    assert err.value.response["Error"]["Code"] == "DeviceOfflineException"
    assert fb.log.count("CreateQuantumTask", error=True) == 2
    assert len(fb.log.tasks) == 1


def test_unknown_device_is_not_found(braket_service):
    with pytest.raises(ValueError, match="not found"):
        braket_service.device("arn:aws:braket:::device/quantum-simulator/amazon/nope")


def test_occasional_throttling_is_absorbed_by_botocore_retries(braket_service):
    # botocore's default ("standard" mode, 3 attempts) retries ThrottlingException with
    # the same request (same clientToken), after rand(0, 1) s: the SDK never sees it.
    fb = braket_service
    rule = fb.faults.throttle("CreateQuantumTask", every=2)
    device = fb.device()
    inputs = [{"theta": 0.1 * k, "phi": 0.0} for k in range(2)]
    values = [device.run(_prog(), shots=0, inputs=ins, **fb.poll).result().values for ins in inputs]
    for v, ins in zip(values, inputs, strict=True):
        np.testing.assert_allclose(v, _local("braket_sv", ins), atol=1e-12)
    assert rule.fired == 1
    assert fb.log.count("CreateQuantumTask", error="ThrottlingException") == 1
    assert fb.log.count("CreateQuantumTask", error=None) == 2
    assert len(fb.log.tasks) == 2 and not fb.log.duplicates()


def test_persistent_throttling_surfaces_as_throttling_exception(braket_service):
    fb = braket_service
    fb.faults.throttle("CreateQuantumTask", nth={1, 2, 3})
    with pytest.raises(ClientError) as err:
        fb.device().run(_prog(), shots=0, inputs={"theta": 0.0, "phi": 0.0}, **fb.poll)
    assert err.value.response["Error"]["Code"] == "ThrottlingException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert fb.log.count("CreateQuantumTask", error="ThrottlingException") == 3
    assert fb.log.tasks == []


def test_throttling_without_botocore_retries():
    with fake_braket(max_attempts=1) as fb:
        fb.faults.throttle("CreateQuantumTask", nth={1})
        device = fb.device()
        with pytest.raises(ClientError) as err:
            device.run(_prog(), shots=0, inputs={"theta": 0.0, "phi": 0.0}, **fb.poll)
        assert err.value.response["Error"]["Code"] == "ThrottlingException"
        assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 0
        # run_batch builds its own clients from the environment; AWS_MAX_ATTEMPTS reaches them too
        fb.faults.throttle("CreateQuantumTask", nth={1})
        with pytest.raises(ClientError) as err:  # run_batch creates the tasks before returning
            device.run_batch([_prog()], shots=0, inputs=[{"theta": 0.0, "phi": 0.0}], **fb.poll)
        assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 0
    assert fb.log.count("CreateQuantumTask", error="ThrottlingException") == 2
    assert fb.log.tasks == []


def test_throttled_polling_is_retried_by_botocore_and_by_the_sdk(braket_service):
    # GetQuantumTask: three throttles in a row use up botocore's 3 attempts; the ClientError
    # is then caught by AwsSession.get_quantum_task's own backoff (3 tries on
    # ThrottlingException / ResourceNotFoundException), whose next try succeeds.
    fb = braket_service
    rule = fb.faults.throttle("GetQuantumTask", nth={1, 2, 3})
    inputs = {"theta": 0.9, "phi": 0.3}
    task = fb.device().run(_prog(), shots=0, inputs=inputs, **fb.poll)
    np.testing.assert_allclose(task.result().values, _local("braket_sv", inputs), atol=1e-12)
    assert rule.fired == 3
    gets = fb.log.calls_to("GetQuantumTask")
    assert [c.error for c in gets[:4]] == ["ThrottlingException"] * 3 + [None]


def test_failed_task_reports_state_and_reason(braket_service):
    fb = braket_service
    fb.faults.fail_tasks(nth={1}, retryable=True)
    fb.faults.fail_tasks(nth={2}, reason="Program is too deep for this device")
    device = fb.device()
    first = device.run(_prog(), shots=0, inputs={"theta": 0.2, "phi": 0.1}, **fb.poll)
    second = device.run(_prog(), shots=0, inputs={"theta": 0.3, "phi": 0.1}, **fb.poll)
    assert first.result() is None and second.result() is None
    assert first.state() == second.state() == "FAILED"
    assert "retryable" in first.metadata()["failureReason"]
    assert second.metadata()["failureReason"] == "Program is too deep for this device"
    assert fb.log.statuses() == {"FAILED": 2}
    assert fb.log.executions == []  # a failed task never ran


def test_invalid_program_ends_failed_with_simulator_message(braket_service):
    fb = braket_service
    task = fb.device().run(_prog(), shots=0, inputs={"theta": 0.2}, **fb.poll)  # phi missing
    assert task.result() is None and task.state() == "FAILED"
    assert "phi" in task.metadata()["failureReason"]
    (ex,) = fb.log.executions
    assert not ex.ok


def test_cancelled_tasks(braket_service):
    fb = braket_service
    fb.faults.cancel_tasks(nth={1})
    fb.faults.slow_tasks(30.0, nth={2})
    device = fb.device()
    by_fault = device.run(_prog(), shots=0, inputs={"theta": 0.2, "phi": 0.1}, **fb.poll)
    assert by_fault.result() is None and by_fault.state() == "CANCELLED"

    slow = device.run(_prog(), shots=0, inputs={"theta": 0.4, "phi": 0.1}, **fb.poll)
    deadline = time.monotonic() + 5
    while slow.state() != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.01)
    slow.cancel()
    assert slow.result() is None
    assert slow.state() == "CANCELLED"
    with pytest.raises(ClientError) as err:  # cancelling an ended task is a conflict
        fb.session.cancel_quantum_task(slow.id)
    assert err.value.response["Error"]["Code"] == "ConflictException"
    history = [s for s, _ in fb.log.task(slow.id).history]
    assert history == ["QUEUED", "RUNNING", "CANCELLING", "CANCELLED"]
    assert fb.log.executions == []


def test_slow_task_completes_after_its_delay(braket_service):
    fb = braket_service
    fb.faults.slow_tasks(0.4)
    inputs = {"theta": 1.2, "phi": -0.2}
    t0 = time.monotonic()
    task = fb.device().run(_prog(), shots=0, inputs=inputs, **fb.poll)
    assert task.state() in ("QUEUED", "RUNNING")
    np.testing.assert_allclose(task.result().values, _local("braket_sv", inputs), atol=1e-12)
    assert time.monotonic() - t0 >= 0.4
    hist = dict(fb.log.task(task.id).history)
    assert hist["COMPLETED"] - hist["RUNNING"] >= 0.4


def test_short_poll_timeout_gives_no_result(braket_service):
    fb = braket_service
    fb.faults.slow_tasks(30.0)
    task = fb.device().run(
        _prog(), shots=0, inputs={"theta": 0.0, "phi": 0.0}, poll_timeout_seconds=0.2, poll_interval_seconds=0.02
    )
    assert task.result() is None  # the SDK's own timeout; the task is still running
    assert task.state() == "RUNNING"
    task.cancel()


def test_missing_result_object_raises_the_sdk_error(braket_service):
    fb = braket_service
    fb.faults.lose_results(nth={1})
    task = fb.device().run(_prog(), shots=0, inputs={"theta": 0.5, "phi": 0.5}, **fb.poll)
    with pytest.raises(ClientError) as err:
        task.result()
    assert err.value.response["Error"]["Code"] == "NoSuchKey"
    assert task.state() == "COMPLETED"
    assert fb.log.delivered_counts() == {}
    assert len(fb.log.executions) == 1  # it did run; only the result object is missing


def test_lost_create_response_does_not_duplicate_the_task(braket_service):
    # The service creates the task, then the answer is lost (500): botocore retries with the
    # same clientToken and the service hands back the same task.
    fb = braket_service
    fb.faults.api_error("CreateQuantumTask", code="InternalServiceException", after=True, nth={1})
    inputs = {"theta": 0.6, "phi": 0.6}
    task = fb.device().run(_prog(), shots=0, inputs=inputs, **fb.poll)
    np.testing.assert_allclose(task.result().values, _local("braket_sv", inputs), atol=1e-12)
    creates = fb.log.calls_to("CreateQuantumTask")
    assert [(c.error, c.replay) for c in creates] == [("InternalServiceException", False), (None, True)]
    assert creates[0].task_arn == creates[1].task_arn == task.id
    assert len(fb.log.tasks) == 1 and len(fb.log.executions) == 1


def test_batch_retry_runs_every_circuit_successfully_once(braket_service):
    fb = braket_service
    fb.faults.fail_tasks(where=lambda t: t.inputs.get("theta") == 0.2, limit=1, retryable=True)
    inputs = [{"theta": t, "phi": 0.1} for t in (0.1, 0.2, 0.3, 0.4)]
    batch = fb.device().run_batch([_prog()] * 4, shots=0, inputs=inputs, **fb.poll)
    results = batch.results(max_retries=1)
    for result, ins in zip(results, inputs, strict=True):
        np.testing.assert_allclose(result.values, _local("braket_sv", ins), atol=1e-12)
    log = fb.log
    assert log.statuses() == {"COMPLETED": 4, "FAILED": 1}
    expected = {circuit_key(BELL, ins): 1 for ins in inputs}
    assert log.execution_counts() == expected  # each circuit succeeded exactly once
    assert log.delivered_counts() == expected
    assert log.execution_counts(ok=None) == expected  # and nothing ran twice


def test_program_set(braket_service):
    fb = braket_service
    source = BELL.split("#pragma")[0]
    ps = OpenQASMProgramSet(
        programs=[
            Program(source=source, inputs={"theta": [0.1, 0.2], "phi": [0.0, 0.3]}),
            Program(source=source, inputs={"theta": [1.0], "phi": [0.5]}),
        ]
    )
    task = fb.device().run(ps, shots=300, **fb.poll)
    result = task.result()
    assert len(result) == 2 and [len(p) for p in result] == [2, 1]
    assert task.metadata()["actionMetadata"] == {
        "actionType": "braket.ir.openqasm.program_set",
        "programCount": 2,
        "executableCount": 3,
    }
    assert len(fb.log.executions) == 3
    assert circuit_key(source, {"theta": 1.0, "phi": 0.5}) in fb.log.execution_counts()


def test_search_operations_and_task_by_arn(braket_service):
    fb = braket_service
    devices = AwsDevice.get_devices(aws_session=fb.session)
    assert {d.arn for d in devices} == {SV1_ARN, DM1_ARN, QPU_ARN}
    sims = AwsDevice.get_devices(types=["SIMULATOR"], aws_session=fb.session)
    assert {d.arn for d in sims} == {SV1_ARN, DM1_ARN}

    inputs = {"theta": 0.3, "phi": 0.2}
    arn = fb.device().run(_prog(), shots=0, inputs=inputs, **fb.poll).id
    # A task object made from the ARN alone builds its own AwsSession from the environment.
    again = AwsQuantumTask(arn, poll_timeout_seconds=10, poll_interval_seconds=0.02)
    np.testing.assert_allclose(again.result().values, _local("braket_sv", inputs), atol=1e-12)

    found = fb.braket_client.search_quantum_tasks(
        filters=[{"name": "status", "operator": "EQUAL", "values": ["COMPLETED"]}]
    )["quantumTasks"]
    assert [t["quantumTaskArn"] for t in found] == [arn]
    none = fb.braket_client.search_quantum_tasks(
        filters=[{"name": "deviceArn", "operator": "EQUAL", "values": [DM1_ARN]}]
    )["quantumTasks"]
    assert none == []


def test_everything_points_at_loopback():
    before = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "BRAKET_ENDPOINT", "HTTPS_PROXY")}
    with fake_braket() as fb:
        assert fb.braket_url.startswith("http://127.0.0.1:") and fb.s3_url.startswith("http://127.0.0.1:")
        for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_BRAKET"):
            assert os.environ[key].startswith("http://127.0.0.1:")
        assert os.environ["BRAKET_ENDPOINT"] == fb.braket_url
        # any host but loopback goes to a proxy on 127.0.0.1 where nothing listens
        proxies = botocore.utils.get_environ_proxies("https://braket.us-east-1.amazonaws.com/")
        assert proxies["https"].startswith("http://127.0.0.1:") and proxies["http"] == proxies["https"]
        assert botocore.utils.should_bypass_proxies(fb.braket_url + "/devices")
        assert botocore.utils.should_bypass_proxies(fb.s3_url + "/bucket")
        assert not botocore.utils.should_bypass_proxies("https://s3.amazonaws.com/bucket")
        assert fb.session.copy_session(region="us-west-2").braket_client.meta.endpoint_url == fb.braket_url
        assert fb.session.account_id == "123456789012"  # STS served by moto
        assert not fb.service.errors
    assert {k: os.environ.get(k) for k in before} == before
