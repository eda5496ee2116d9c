"""``mitigation="runtime"``: IBM's own resilience options passed through to EstimatorV2 jobs (issue 18, item 3).

What is and is not emulated here. The jobs go through the real qiskit-ibm-runtime SDK to the local fake IBM
Quantum Platform (tests/fakes/ibm_service.py), which runs the 'sampler' program only; :class:`_WithEstimator`
below adds the 'estimator' program for this file (its PUBs decoded as the SDK encodes them). The fake executes
a job with the SDK's own local testing mode, which **ignores resilience options** (it warns so): the values
that come back are the Estimator's unmitigated estimates. So these tests check what qshift controls — the
option's validation, the refusals, that the options reach the job's params as IBM's runtime reads them, that
the Estimator's values and standard errors come back as the points' values and errors (checked against
exact values on the fake's ideal simulator), the cache keys and the pricing — and not IBM's mitigation itself.
"""

import json
import math
import secrets

import numpy as np
import pytest

import qshift
from qshift.cost.mitigation import Mitigated, Runtime, parse_mitigation
from qshift.cost.sampling import FixedShots
from tests.helpful import assert_helpful

pytest.importorskip("qiskit_ibm_runtime")
pytest.importorskip("qiskit_aer")

from fakes import ibm_harness, ibm_service  # noqa: E402

SHOTS = 4000
X = np.array([[0.3, -0.7]])
LEVEL_2 = {"runtime": {"resilience_level": 2, "resilience": {"zne": {"noise_factors": [1, 3], "extrapolator":
                                                                      "linear"}}}}


class _WithEstimator(ibm_service.FakeIBMRuntimeService):
    """The fake platform, also running the 'estimator' program (through the SDK's local mode, like 'sampler')."""

    def _new_job(self, payload: dict, backend: str) -> ibm_service.Job:
        if payload.get("program_id") != "estimator":
            return super()._new_job(payload, backend)
        from qiskit.primitives.containers.estimator_pub import EstimatorPub
        from qiskit_ibm_runtime import RuntimeDecoder

        params = payload["params"]
        decoded = json.loads(json.dumps(params), cls=RuntimeDecoder)
        decoded["pubs"] = [tuple(p) if isinstance(p, list) else p for p in decoded["pubs"]]
        options = dict(decoded.get("options") or {})
        pubs = [EstimatorPub.coerce(p) for p in decoded["pubs"]]
        shots = options.get("default_shots") or ibm_service.SERVER_DEFAULT_SHOTS
        job = ibm_service.Job(
            id="".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20)), ordinal=0,
            backend=backend, program="estimator", tags=list(payload.get("tags") or []), params=params,
            options=options, rows=tuple(math.prod(p.parameter_values.shape) for p in pubs),
            shots=tuple(int(shots) for _ in pubs), seed=(options.get("simulator") or {}).get("seed_simulator"),
            created_at=ibm_service._now())
        self._inputs[job.id] = decoded
        return job


@pytest.fixture
def platform(monkeypatch):
    """The fake platform (fake_manila on Aer's ideal simulator, so values can be checked) with the estimator."""
    monkeypatch.setattr(ibm_service, "PROGRAMS", ibm_service.PROGRAMS | {"estimator"})
    monkeypatch.setattr(ibm_harness, "FakeIBMRuntimeService", _WithEstimator)
    with ibm_harness.fake_ibm_runtime(backends={"fake_manila": {"noise": False}}) as fi:
        yield fi
        assert not fi.server.errors, fi.server.errors


def _device(fi, **options):
    options = {"default_shots": SHOTS, "rows_per_job": 4, "poll_interval": 0.1,
               "retry": qshift.RetryPolicy(base_delay=0.01, max_delay=0.05)} | options
    return qshift.IBMBackend(fi.service().backend("fake_manila"), **options)


def _circuit():
    """ising-2q's gates with a plain, a weighted and a constant-carrying output (two measurement bases)."""
    b = qshift.CircuitBuilder(2, name="resilience")
    t, u = b.inputs("t", "u")
    b.ry(t, 0).cx(0, 1).rx(u, 1).rz(0.4 * t + 0.1, 0)
    return b.expectation("Z0 Z1").expectation({"X1": 0.5, "Z0": -1.5, "": 0.25}).expectation("X0 X1").build()


# -- the option --------------------------------------------------------------------------------------------------


def test_every_documented_form_parses():
    assert parse_mitigation("runtime").runtime == Runtime(1)
    assert parse_mitigation(("runtime",)).runtime == Runtime(1)
    m = parse_mitigation(LEVEL_2)
    assert m.runtime.resilience_level == 2 and m.readout is None and m.zne is None
    assert m.runtime.options() == {"resilience_level": 2, "resilience": {"zne": {"noise_factors": [1, 3],
                                                                                "extrapolator": "linear"}}}
    assert m.runtime.noise_factors == 2 and Runtime(2).noise_factors == 3 and Runtime(0).noise_factors == 1
    assert Runtime(1, {"zne_mitigation": True}).noise_factors == 3
    assert Runtime(2, {"zne_mitigation": False}).noise_factors == 1
    assert "runtime (IBM resilience_level 2" in str(m)
    assert parse_mitigation(Runtime(0, twirling={"enable_gates": True})).runtime.twirling == {"enable_gates": True}


@pytest.mark.parametrize("spec, words", [
    (("runtime", "zne"), ["IBM's own", "alone"]),
    ({"runtime": True, "readout": True}, ["IBM's own"]),
    ({"runtime": {"resilience_level": 3}}, ["0, 1 or 2", "resilience_level=3"]),
    ({"runtime": {"resilience_level": True}}, ["0, 1 or 2"]),
    ({"runtime": {"resilience": "zne"}}, ["must be a dict"]),
    ({"runtime": {"resilience": {"pec_mitigation": True}}}, ["PEC", "price"]),
    ({"runtime": {"resilience": {"zne_mitigaton": True}}}, ["refuses these resilience options", "zne_mitigaton"]),
    ({"runtime": {"resilience": {"zne": {"noise_factors": [0.5, 1]}}}}, ["refuses", "noise_factors"]),
    ({"runtime": {"level": 2}}, ["unknown option 'level'", "resilience_level"]),
])
def test_malformed_runtime_options_are_refused_helpfully(spec, words):
    with pytest.raises(qshift.QShiftError) as err:
        parse_mitigation(spec)
    assert_helpful(err, *words)
    assert isinstance(err.value, qshift._errors.MitigationError)


def test_other_devices_refuse_it_before_anything_runs():
    c = _circuit()
    for device in ("aer-noisy", "local"):
        with pytest.raises(qshift.QShiftError) as err:
            qshift.derivatives(c, X, order=1, device=device, shots=100, mitigation="runtime")
        assert_helpful(err, "not an IBM device", "mitigation='zne'")
    with pytest.raises(qshift.QShiftError) as err:  # the runtime's local testing mode ignores resilience options
        qshift.derivatives(c, X, order=1, device="ibm-fake-brisbane", shots=100, mitigation="runtime")
    assert_helpful(err, "local testing mode", "ignores resilience options", "service device")


def test_estimates_price_the_runtime_zne_shots():
    c = _circuit()
    p = qshift.plan(c, order=1)
    plain = FixedShots(SHOTS).calls(p)
    assert Mitigated(FixedShots(SHOTS), parse_mitigation("runtime")).calls(p) == plain
    assert Mitigated(FixedShots(SHOTS), parse_mitigation(LEVEL_2)).calls(p) == [(n, 2 * SHOTS, *rest)
                                                                              for n, _, *rest in plain]
    priced = qshift.estimate(c, order=1, device="ibm-brisbane", shots=SHOTS, mitigation={"runtime": {
        "resilience_level": 2}})
    base = qshift.estimate(c, order=1, device="ibm-brisbane", shots=SHOTS)
    assert priced.planned.shots == 3 * base.planned.shots and priced.planned.circuits == base.planned.circuits


# -- through the fake platform -----------------------------------------------------------------------------------


def test_the_options_reach_the_estimator_jobs_and_its_estimates_come_back(platform, tmp_path):
    fi, c = platform, _circuit()
    device = _device(fi)
    with pytest.warns(UserWarning, match="no effect in local testing mode") as seen:  # the fake does not mitigate
        d = qshift.derivatives(c, X, order=1, device=device, seed=11, mitigation=LEVEL_2, store=tmp_path / "s.sqlite")
    assert any("resilience_level option has no effect" in str(w.message) for w in seen)
    jobs = fi.log.jobs
    assert jobs and all(job.program == "estimator" for job in jobs)
    assert d.stats.jobs == len(jobs) == -(-d.stats.circuits // 4)
    assert sum(job.rows[0] for job in jobs) == d.stats.circuits == 7  # 3 slots: the point and 2 shifts each
    for job in jobs:  # as IBM's runtime reads them: the level beside the options, the rest in options
        assert job.params["resilience_level"] == 2
        assert job.options["resilience"] == {"zne": {"noise_factors": [1, 3], "extrapolator": "linear"}}
        assert job.options["default_shots"] == SHOTS and job.shots == (SHOTS,)
        assert len(job.tags) == 1 and job.tags[0].startswith("qshift-")
    exact = qshift.derivatives(c, X, order=1)
    for k in (0, 1):  # the local mode's (unmitigated, ideal) estimates, within 4 of the Estimator's own errors
        assert np.all(np.abs(d.derivative(k) - exact.derivative(k)) <= 4 * d.standard_error(k) + 1e-12)
    se = d.standard_error(0)[0]
    assert np.all(se > 0) and np.all(se < 2.5 / np.sqrt(SHOTS))  # the Estimator's stds, not zeros nor per-shot
    again = qshift.derivatives(c, X, order=1, device=device, seed=11, mitigation=LEVEL_2, store=tmp_path / "s.sqlite")
    assert len(fi.log.jobs) == len(jobs) and again.stats.from_store == 7  # read back from the store, not paid again
    assert np.array_equal(again.value, d.value)


def test_mitigated_and_plain_runs_are_kept_apart(platform):
    fi, c = platform, _circuit()
    device = _device(fi)
    ex = qshift.Executor(device, reuse_sampled=True)
    resilient = device.with_resilience({"resilience_level": 1})
    assert resilient.cache_key != device.cache_key and "resilience_level: 1" in resilient.cache_key
    assert resilient.name == device.name and device.resilience is None
    plain = qshift.derivatives(c, X, order=0, executor=ex, seed=3)
    with pytest.warns(UserWarning, match="no effect in local testing mode"):  # the fake does not mitigate
        mitigated = qshift.derivatives(c, X, order=0, executor=ex, seed=3, mitigation="runtime")
    programs = [job.program for job in fi.log.jobs]
    assert programs == ["sampler", "estimator"]  # the cache did not hand the plain value to the mitigated request
    assert ex.stats.circuits == plain.stats.circuits + mitigated.stats.circuits == 2
