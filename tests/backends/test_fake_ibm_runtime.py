"""The local IBM Quantum Platform stand-in (tests/fakes) driven through the real qiskit-ibm-runtime SDK only.

Every request goes to 127.0.0.1: the fake is both the proxy the SDK's virtual
host names go through and the server that answers them.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("qiskit_ibm_runtime", reason="needs qshift[ibm]")
pytest.importorskip("qiskit_aer", reason="needs qshift[aer]")

import requests  # noqa: E402
from fakes import fake_ibm_runtime, ibm_runtime  # noqa: E402,F401  (fixture)
from qiskit import QuantumCircuit  # noqa: E402
from qiskit.circuit import Parameter  # noqa: E402
from qiskit.transpiler import generate_preset_pass_manager  # noqa: E402
from qiskit_ibm_runtime import IBMBackend, QiskitRuntimeService, RuntimeJobV2, SamplerV2  # noqa: E402
from qiskit_ibm_runtime.exceptions import (  # noqa: E402
    RuntimeInvalidStateError,
    RuntimeJobFailureError,
    RuntimeJobNotFound,
)

IDEAL = {"fake_manila": {"noise": False}}


def _sampler(backend, *, seed=None, tags=None, shots=None) -> SamplerV2:
    with warnings.catch_warnings():  # 0.50 deprecates SamplerV2 in favour of a client-side Sampler
        warnings.simplefilter("ignore", DeprecationWarning)
        sampler = SamplerV2(mode=backend)
    if seed is not None:
        sampler.options.simulator.seed_simulator = seed
    if tags:
        sampler.options.environment.job_tags = list(tags)
    if shots is not None:
        sampler.options.default_shots = shots
    return sampler


def _isa(backend) -> QuantumCircuit:
    """rx(a) on qubit 0, rx(b) on qubit 1, both measured, transpiled for `backend`."""
    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(2)
    qc.rx(a, 0)
    qc.rx(b, 1)
    qc.measure_all()
    return generate_preset_pass_manager(backend=backend, optimization_level=1).run(qc)


def test_service_backends_and_target(ibm_runtime):
    fi = ibm_runtime
    service = fi.service()
    assert isinstance(service, QiskitRuntimeService)
    assert service.active_instance() == fi.account["instance"]
    assert sorted(b.name for b in service.backends()) == ["fake_brisbane", "fake_manila"]

    from qiskit_ibm_runtime.fake_provider import FakeBrisbane, FakeManilaV2

    for name, fake in (("fake_manila", FakeManilaV2()), ("fake_brisbane", FakeBrisbane())):
        backend = service.backend(name)
        assert isinstance(backend, IBMBackend) and backend.name == name
        assert backend.num_qubits == fake.num_qubits
        assert sorted(backend.coupling_map.get_edges()) == sorted(fake.coupling_map.get_edges())
        assert set(backend.target.operation_names) >= {"rz", "sx", "x", "measure"}
        status = backend.status()
        assert status.operational and status.status_msg == "active" and status.pending_jobs == 0
    assert "ecr" in service.backend("fake_brisbane").target.operation_names
    assert "cx" in service.backend("fake_manila").target.operation_names
    assert fi.log.count(error=True) == 0
    assert {c.operation for c in fi.log.calls} >= {"GetToken", "SearchResources", "GetCatalogEntry", "ListBackends",
                                                   "GetBackendConfiguration", "GetBackendProperties",
                                                   "GetBackendStatus"}


def test_parametrised_isa_pub_runs_with_shapes_tags_and_log(ibm_runtime):
    fi = ibm_runtime
    backend = fi.service().backend("fake_manila")
    isa = _isa(backend)
    assert set(isa.count_ops()) <= set(backend.target.operation_names) | {"barrier"}
    values = np.array([[0.1, 0.2], [0.3, 0.4], [1.0, 2.0]])
    sampler = _sampler(backend, seed=3, tags=["fake-ibm", "shapes"], shots=40)  # pubs without shots: default_shots
    job = sampler.run([(isa, values), (isa, values[:1])])
    assert isinstance(job, RuntimeJobV2) and isinstance(job.job_id(), str)
    result = job.result(timeout=30)
    assert job.status() == "DONE"
    first, second = result
    assert first.data.meas.shape == (3,) and first.data.meas.num_shots == 40
    assert second.data.meas.shape == (1,) and second.data.meas.num_shots == 40
    assert all(sum(first.data.meas.get_counts(i).values()) == 40 for i in range(3))

    record = fi.log.job(job.job_id())
    assert (record.backend, record.program, record.tags) == ("fake_manila", "sampler", ["fake-ibm", "shapes"])
    assert (record.status, record.n_pubs, record.rows, record.shots, record.seed) == ("DONE", 2, (3, 1), (40, 40), 3)
    assert record.ended is not None and record.ended >= record.created
    assert [h[0] for h in record.history] == ["Queued", "Running", "Completed"]
    assert [e.job_id for e in fi.log.executions] == [job.job_id()]
    assert fi.log.count("CreateJob") == 1 and fi.log.count(error=True) == 0


def test_ideal_backend_is_exact_and_seeded_runs_repeat():
    with fake_ibm_runtime(backends=IDEAL) as fi:
        backend = fi.service().backend("fake_manila")
        isa = _isa(backend)
        eigen = np.array([[0.0, 0.0], [np.pi, 0.0], [np.pi, np.pi]])
        counts = _sampler(backend, seed=5).run([(isa, eigen, 64)]).result()[0].data.meas
        assert [counts.get_counts(i) for i in range(3)] == [{"00": 64}, {"01": 64}, {"11": 64}]

        mixed = np.array([[np.pi / 2, np.pi / 3]])
        a, b = (_sampler(backend, seed=11).run([(isa, mixed, 200)]) for _ in range(2))
        ca, cb = a.result()[0].data.meas.get_counts(), b.result()[0].data.meas.get_counts()
        assert ca == cb and len(ca) == 4  # same seed, same bits; really sampled
        c = _sampler(backend, seed=12).run([(isa, mixed, 200)]).result()[0].data.meas.get_counts()
        assert c != ca
        assert len(fi.log.executions) == 4 and not fi.server.errors


def test_job_from_a_fresh_service_is_not_executed_again(ibm_runtime):
    fi = ibm_runtime
    backend = fi.service().backend("fake_manila")
    job = _sampler(backend, seed=2).run([(_isa(backend), np.array([[np.pi, 0.0]]), 400)])
    counts = job.result()[0].data.meas.get_counts()
    assert counts["01"] > 300 and len(counts) > 1  # an eigenstate, read through fake_manila's noise
    executions = len(fi.log.executions)

    again = fi.service().job(job.job_id())
    assert isinstance(again, RuntimeJobV2) and again.job_id() == job.job_id()
    assert again.status() == "DONE" and again.primitive_id == "sampler" and again.backend().name == "fake_manila"
    assert again.result()[0].data.meas.get_counts() == counts
    assert again.result()[0].data.meas.get_counts() == counts
    assert len(fi.log.executions) == executions == 1
    assert fi.log.count("GetJobResults") == 3


CHILD = """
import json, sys, warnings
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2

service = QiskitRuntimeService(**json.loads(sys.argv[1]))
backend = service.backend("fake_manila")
qc = QuantumCircuit(2)
qc.x(0)
qc.measure_all()
isa = generate_preset_pass_manager(backend=backend, optimization_level=1).run(qc)
warnings.simplefilter("ignore", DeprecationWarning)
sampler = SamplerV2(mode=backend)
sampler.options.environment.job_tags = ["child"]
job = sampler.run([(isa, None, 64)])
print(job.job_id(), flush=True)
job.result()
print("the child saw the result", flush=True)
"""


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            raise TimeoutError(f"child printed nothing in {timeout} s")
        return proc.stdout.readline().strip()
    finally:
        sel.close()


def test_job_outlives_a_killed_client_process():
    with fake_ibm_runtime(backends=IDEAL) as fi:
        fi.faults.slow_jobs(2.5, where=lambda info: "child" in info.tags)
        env = os.environ | {"PYTHONPATH": "/work/main"}
        assert env["HTTP_PROXY"] == fi.server.url  # the child inherits the routing
        proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(fi.account)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            job_id = _read_line(proc, timeout=60)
            assert fi.log.job(job_id).status in ("QUEUED", "RUNNING")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
        assert fi.log.job(job_id).status in ("QUEUED", "RUNNING") and not fi.log.executions

        job = fi.service().job(job_id)
        assert job.tags == ["child"]
        assert job.result(timeout=30)[0].data.meas.get_counts() == {"01": 64}
        assert fi.log.execution_counts() == {job_id: 1}
        assert not fi.server.errors


def test_jobs_by_tag_failures_and_cancel(ibm_runtime):
    fi = ibm_runtime
    service = fi.service()
    backend = service.backend("fake_manila")
    isa = _isa(backend)
    pub = (isa, np.array([[0.0, np.pi]]), 16)
    tagged = _sampler(backend, tags=["x", "y"]).run([pub])
    _sampler(backend, tags=["y"]).run([pub])
    assert fi.server.wait_idle(30)
    assert [j.job_id() for j in service.jobs(job_tags=["x"])] == [tagged.job_id()]
    assert [j.job_id() for j in service.jobs(job_tags=["x", "y"])] == [tagged.job_id()]
    assert len(service.jobs(job_tags=["y"])) == 2 and service.jobs(job_tags=["z"]) == []
    assert len(service.jobs(pending=False, backend_name="fake_manila")) == 2

    fi.faults.fail_jobs(reason="Qubit 3 lost its calibration", nth={1})
    failed = _sampler(backend).run([pub])
    with pytest.raises(RuntimeJobFailureError, match="Qubit 3 lost its calibration"):
        failed.result(timeout=30)
    assert failed.status() == "ERROR" and "Qubit 3 lost its calibration" in failed.error_message()

    fi.faults.slow_jobs(30.0, nth={1})  # a rule counts the jobs created after it was added
    slow = _sampler(backend).run([pub])
    slow.cancel()
    assert slow.status() == "CANCELLED"
    assert fi.service().job(slow.job_id()).status() == "CANCELLED"
    with pytest.raises(RuntimeInvalidStateError):
        slow.result()
    with pytest.raises(RuntimeInvalidStateError):
        fi.service().job(tagged.job_id()).cancel()  # already DONE: 409

    assert fi.log.statuses() == {"DONE": 2, "ERROR": 1, "CANCELLED": 1}
    assert fi.log.execution_counts() == {tagged.job_id(): 1, fi.log.jobs[1].id: 1, failed.job_id(): 0,
                                         slow.job_id(): 0}
    assert fi.log.count("CancelJob", error=409) == 1


def test_server_errors_are_retried_by_the_sdk_even_for_create(ibm_runtime):
    fi = ibm_runtime
    backend = fi.service().backend("fake_manila")
    pub = (_isa(backend), np.array([[0.0, 0.0]]), 8)
    fi.faults.api_error("GetJob", status=500, nth={1})
    job = _sampler(backend).run([pub])
    assert job.status() in ("QUEUED", "RUNNING", "DONE")  # the 500 was retried transparently
    assert fi.log.count("GetJob", error=500) == 1
    job.result(timeout=30)

    # A lost CreateJob answer: the SDK resends the POST, and the service makes a second job.
    fi.faults.api_error("CreateJob", status=502, after=True, nth={1})
    _sampler(backend).run([pub]).result(timeout=30)
    assert fi.log.count("CreateJob", error=502) == 1 and fi.log.count("CreateJob", error=None) == 2
    assert fi.server.wait_idle(30) and len(fi.log.jobs) == 3 and len(fi.log.executions) == 3


def test_nothing_leaves_loopback(ibm_runtime):
    fi = ibm_runtime
    service = fi.service()
    service.backend("fake_manila").status()
    assert service._active_api_client._session.base_url == "http://quantum.ibm-cloud.test/api/v1"
    hosts = {c.host for c in fi.log.calls}
    assert hosts == {"iam.ibm-cloud.test", "api.global-search-tagging.ibm-cloud.test", "globalcatalog.ibm-cloud.test",
                     "quantum.ibm-cloud.test"}
    assert not fi.server.errors

    # Any other host, http or https, ends at the fake and is refused there.
    real = "https://quantum.cloud.ibm.com/api/v1/backends"
    assert requests.utils.get_environ_proxies(real)["https"] == fi.server.url
    assert requests.get("http://example.invalid/", timeout=5).status_code == 404
    with pytest.raises(requests.exceptions.ProxyError):
        requests.get(real, timeout=5)
    assert len(fi.server.errors) == 2 and "example.invalid" in fi.server.errors[0]
    assert "quantum.cloud.ibm.com:443" in fi.server.errors[1]
    fi.server.errors.clear()


def test_unauthenticated_requests_are_refused(ibm_runtime):
    fi = ibm_runtime
    base = f"{fi.server.url}/api/v1"
    assert requests.get(f"{base}/backends", timeout=5).status_code == 401
    with pytest.raises(Exception, match="BXNIM0415E|API key|Unable to retrieve instances"):
        fi.service(token="not-the-key")
    assert fi.log.count("GetToken", error="BXNIM0415E") >= 1


def test_job_metadata_tag_updates_listing_and_delete(ibm_runtime):
    fi = ibm_runtime
    service = fi.service()
    backend = service.backend("fake_manila")
    pub = (_isa(backend), np.array([[0.0, 0.0]]), 8)
    jobs = [_sampler(backend).run([pub]) for _ in range(3)]
    for job in jobs:
        job.result(timeout=30)
    first = jobs[0]
    assert set(first.inputs) >= {"pubs", "options", "version"}
    assert first.metrics()["timestamps"]["finished"] is not None and first.usage() >= 0
    assert first.logs() == "" and first.creation_date is not None
    assert service.usage()["usage_limit_reached"] is False

    assert sorted(first.update_tags(["a", "b"])) == ["a", "b"]
    assert [j.job_id() for j in service.jobs(job_tags=["a"])] == [first.job_id()]
    ids = [j.job_id() for j in jobs]
    assert [j.job_id() for j in service.jobs(descending=False)] == ids
    assert [j.job_id() for j in service.jobs(limit=2)] == ids[::-1][:2]

    service.delete_job(ids[2])
    assert [j.job_id() for j in service.jobs(limit=None)] == ids[1::-1]
    with pytest.raises(RuntimeJobNotFound):
        service.job(ids[2])
    assert fi.log.count("GetJob", error=404) == 1 and len(fi.log.executions) == 3
