"""IBMBackend on a runtime service backend: jobs recorded in the store, re-attached after a crash.

The service is the local fake IBM Quantum Platform (tests/fakes/ibm_service.py) behind the real
qiskit-ibm-runtime SDK: a real ``QiskitRuntimeService``, a real ``IBMBackend`` from
``service.backend(...)``, real ``SamplerV2`` jobs. ``fake_manila`` with ``noise=False`` runs the
transpiled circuits on Aer's ideal simulator, so sampled results can be checked against exact ones.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import qshift

pytest.importorskip("qiskit_ibm_runtime")
pytest.importorskip("qiskit_aer")

from fakes import fake_ibm_runtime  # noqa: E402
from qshift.backends.ibm_jobs import TAG_PREFIX, JobRun  # noqa: E402
from qshift.execution.store import EvaluationStore, Ledger  # noqa: E402
from store_probe import count_in_store, sigkill_when  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CIRCUIT = "ising-2q"
X = np.array([[0.3, -0.7]])
SHOTS = 2000
IDEAL = {"fake_manila": {"noise": False}}


def _circuit():
    return qshift.Circuit.from_qasm(qshift.circuit_path(CIRCUIT))


def _backend(fi, **options):
    options = {"default_shots": SHOTS, "rows_per_job": 3, "poll_interval": 0.1,
               "retry": qshift.RetryPolicy(base_delay=0.01, max_delay=0.05)} | options
    return qshift.IBMBackend(fi.service().backend("fake_manila"), **options)


def _exact(order=2):
    return qshift.derivatives(_circuit(), X, order=order)


def _executed_once(fi):
    counts = fi.log.execution_counts()
    assert counts and max(counts.values()) == 1, counts


def test_a_service_backend_sends_jobs_and_records_them(tmp_path):
    with fake_ibm_runtime(backends=IDEAL) as fi:
        device = _backend(fi)
        assert device.cloud and "service" in device.cache_key
        d = qshift.derivatives(_circuit(), X, order=1, device=device, seed=5, store=tmp_path / "run.sqlite")
        ref = _exact(1)
        for k in (0, 1):  # sampled, within 4 standard errors of the exact values
            assert np.all(np.abs(d.derivative(k) - ref.derivative(k)) <= 4 * d.standard_error(k) + 1e-12)
        jobs = fi.log.jobs
        assert d.stats.jobs == len(jobs) == -(-d.stats.circuits // 3)  # rows_per_job=3
        assert sum(job.rows[0] for job in jobs) == d.stats.circuits
        assert all(len(job.tags) == 1 and job.tags[0].startswith(TAG_PREFIX) for job in jobs)
        assert all(shots == SHOTS for job in jobs for shots in job.shots)
        # every job is in the store's task ledger, by its id, and ended COMPLETED
        store = tmp_path / "run.sqlite"
        ids = {job.id for job in jobs}
        recorded = count_in_store(store, "SELECT COUNT(DISTINCT task_id) FROM tasks WHERE status = 'COMPLETED'")
        assert recorded == len(ids)
        assert count_in_store(store, "SELECT COUNT(*) FROM tasks") == d.stats.circuits
        _executed_once(fi)
        assert not fi.server.errors


def test_eigenstate_gives_its_eigenvalue_exactly_through_the_service():
    b = qshift.CircuitBuilder(2)
    c = b.ry(b.input("t"), 0).x(1).expectation("Z1").expectation({"Z1": 2.0, "": 0.5}).build()
    with fake_ibm_runtime(backends=IDEAL) as fi:
        for seed in (1, 2, 3):
            r = _backend(fi).run(c, np.array([[0.4], [1.3]]), shots=500, seed=seed)
            np.testing.assert_array_equal(r.values, [[-1.0, -1.5], [-1.0, -1.5]])
            np.testing.assert_array_equal(r.variances, 0.0)


def test_unseeded_repeats_on_the_service_are_independent_samples(tmp_path):
    store = tmp_path / "run.sqlite"
    with fake_ibm_runtime(backends=IDEAL) as fi:
        device = _backend(fi)
        first = qshift.derivatives(_circuit(), X, order=1, device=device, store=store)
        second = qshift.derivatives(_circuit(), X, order=1, device=device, store=store)
        assert second.stats.from_store == 0 and second.stats.jobs == first.stats.jobs
        assert not np.array_equal(first.jacobian, second.jacobian)


CLIENT = """
import json, sys
import numpy as np
import qshift
from qiskit_ibm_runtime import QiskitRuntimeService

store, account = sys.argv[1], json.loads(sys.argv[2])
backend = qshift.IBMBackend(QiskitRuntimeService(**account).backend("fake_manila"), default_shots={shots},
                            rows_per_job=3, poll_interval=0.05)
circuit = qshift.Circuit.from_qasm(qshift.circuit_path({circuit!r}))
qshift.derivatives(circuit, np.array({x}), order=2, device=backend, store=store)
print("finished")
"""


def test_sigkill_halfway_then_rerun_reattaches_and_pays_for_nothing_twice(tmp_path):
    # An unseeded request: the store records the seed it drew, and the rerun of the
    # interrupted request resumes with it.
    store = tmp_path / "run.sqlite"
    script = tmp_path / "client.py"
    script.write_text(CLIENT.format(shots=SHOTS, circuit=CIRCUIT, x=X.tolist()))
    with fake_ibm_runtime(backends=IDEAL) as fi:
        fi.faults.slow_jobs(0.4)  # each job runs 0.4 s, one at a time: the client is mid-request for seconds
        env = os.environ | {"PYTHONPATH": str(REPO)}  # the fake's proxy settings go along
        client = subprocess.Popen([sys.executable, str(script), str(store), json.dumps(fi.account)], cwd=tmp_path,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        sigkill_when(client, lambda: (  # a job's rows kept, and jobs still out
            count_in_store(store, "SELECT COUNT(*) FROM results") >= 3
            and count_in_store(store, "SELECT COUNT(DISTINCT task_id) FROM tasks WHERE status = 'submitted'") >= 2),
            timeout=90)
        created = len(fi.log.jobs)
        fi.faults.clear()

        d = qshift.derivatives(_circuit(), X, order=2, device=_backend(fi), store=store)
        s = d.stats
        total = d.plan.circuits
        assert s.from_store >= 3 and s.reattached >= 3
        assert s.from_store + s.reattached + s.submitted == total
        assert s.jobs == len(fi.log.jobs) - created  # only jobs for rows never sent were created
        assert sum(job.rows[0] for job in fi.log.jobs) == total  # no row was sent twice
        _executed_once(fi)
        ref = _exact(2)
        assert np.all(np.abs(d.hessian - ref.hessian) <= 5 * d.standard_error(2) + 1e-12)
        assert fi.server.wait_idle(10) and not fi.server.errors
        print(f"kill/resume: {s.from_store} from the store, {s.reattached} re-attached, {s.submitted} submitted")


def test_a_job_whose_id_was_never_recorded_is_found_by_its_tag(tmp_path):
    # The crash window between the create call and recording the id: the ledger has the token
    # only. The job carries the tag qshift-<token>, so a rerun finds it instead of paying again.
    circuit = _circuit()
    angles = circuit.slot_angles(np.array([[0.1, 0.2], [0.3, 0.4]]))
    with fake_ibm_runtime(backends=IDEAL) as fi, EvaluationStore(tmp_path / "run.sqlite") as store:
        device = _backend(fi, rows_per_job=None)
        ledger = Ledger(store, circuit.fingerprint, device.cache_key, SHOTS, 7)
        token = "0123456789abcdef0123456789abcdef"
        ledger.creating(token, angles, [(0, -1, (0, 0)), (1, -1, (0, 1))], 1)
        sampler = device.sampler(SHOTS, 7, tags=[TAG_PREFIX + token])  # as JobRun sends it
        from qshift.backends._qiskit import sampler_pubs

        sampler.run(sampler_pubs(device.transpiled(circuit), angles, SHOTS))
        assert len(fi.log.jobs) == 1

        pieces = list(JobRun(device, circuit, angles, SHOTS, 7, ledger).stream())
        assert len(fi.log.jobs) == 1 and ledger.reattached == 2  # found, not created again
        assert sorted(np.concatenate([rows for rows, _ in pieces]).tolist()) == [0, 1]
        assert ledger.find(angles, [(0, -1)])[(0, -1)].task_id == fi.log.jobs[0].id


def test_a_job_that_fails_for_good_stops_the_run_with_the_services_reason(tmp_path):
    with fake_ibm_runtime(backends=IDEAL) as fi:
        fi.faults.fail_jobs(reason="Circuit uses qubits not in the device's coupling map", nth={2})
        with pytest.raises(qshift.DeviceError, match="coupling map") as info:
            qshift.derivatives(_circuit(), X, order=1, device=_backend(fi), seed=3, store=tmp_path / "run.sqlite")
        assert "not retried" in str(info.value)
        failed = [job for job in fi.log.jobs if job.status == "ERROR"]
        assert len(failed) == 1
        assert count_in_store(tmp_path / "run.sqlite", "SELECT COUNT(*) FROM tasks WHERE status = 'FAILED'") \
            == failed[0].rows[0]
        fi.server.wait_idle(10)


def test_a_transient_failure_is_sent_again_and_the_request_completes(tmp_path):
    with fake_ibm_runtime(backends=IDEAL) as fi:
        fi.faults.fail_jobs(reason="Internal error (transient); please retry", nth={1})
        d = qshift.derivatives(_circuit(), X, order=1, device=_backend(fi), seed=3, store=tmp_path / "run.sqlite")
        statuses = [job.status for job in fi.log.jobs]
        assert statuses.count("ERROR") == 1 and statuses.count("DONE") == d.stats.jobs - 1
        assert sum(job.rows[0] for job in fi.log.jobs if job.status == "DONE") == d.stats.circuits


def test_without_a_store_a_failing_run_cancels_the_jobs_it_leaves_behind():
    with fake_ibm_runtime(backends=IDEAL) as fi:
        fi.faults.fail_jobs(reason="Job is not valid for this backend", nth={1})
        fi.faults.slow_jobs(30.0, where=lambda job: job.ordinal > 1)
        with pytest.raises(qshift.DeviceError, match="not valid"):
            qshift.derivatives(_circuit(), X, order=1, device=_backend(fi), seed=3, store=False)
        assert fi.server.wait_idle(15)
        assert fi.log.statuses()["CANCELLED"] == len(fi.log.jobs) - 1
