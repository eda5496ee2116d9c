"""Mitigated sampling (issue 18): folding, extrapolation, readout correction, counts, reuse, prices, refusals.

Every piece is checked against an independent computation: folded circuits against the original on
the noiseless simulator, the extrapolation weights against ``numpy.polyfit`` and their variance
against a Monte Carlo spread, the readout correction against confusion matrices applied to a
probability vector, and the whole ZNE against Mitiq's own: Mitiq 1.1.0 pins ``numpy<2.3``, so it runs
in its own virtualenv (``.venv-mitiq``, built by ``make test``) and is driven by subprocess
(:mod:`tests.peers.mitiq_peer`). The headline acceptance (bias of mitigated Hessians) is in
``test_mitigation_acceptance.py``.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import os

import numpy as np
import pytest

import qshift
from qshift.api import engine
from qshift.api.request import Arguments, Request
from qshift.backends.registry import resolve_device
from qshift.cost import mitigation as mit
from qshift.cost.estimate import estimate
from qshift.cost.mitigation import Mitigated, Readout, ZNE, calibrate, extrapolation_weights, mitigated, parse_mitigation
from qshift.cost.sampling import Exact, FixedShots, TargetError, contract
from qshift.ir.folding import fold_global, inverse
from qshift.ir.pauli import as_observable
from qshift.ir.readout import TensoredReadout, corrected_circuit
from tests.helpful import assert_helpful
from tests.peers import mitiq_peer

pytest.importorskip("qiskit_aer")

RNG = np.random.default_rng(18)


def _gate_zoo() -> qshift.Circuit:
    """Every kind of gate folding must invert: fixed pairs, iswap, rotations with constants, expansions."""
    b = qshift.CircuitBuilder(3, name="zoo")
    t, u = b.inputs("t", "u")
    b.h(0).s(1).t(2).sx(0).iswap(0, 1).ecr(1, 2).ry(2 * t + 0.3, 0).crx(u, 0, 2).rzz(0.5 - u, 1, 2)
    b.u3(t, 0.4, u, 1).p(0.7, 2).sdg(0).tdg(1).sxdg(2).cz(0, 1).swap(1, 2).rzx(u, 2, 0).sexc(t, 0, 1)
    return b.expectation("Z0 X1").expectation({"Y2": 0.5, "Z0 Z1": -1.0, "": 0.25}).build()


FOLDED = [qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2")), qshift.hardware_efficient(3, 1), _gate_zoo()]


@pytest.mark.parametrize("circuit", FOLDED, ids=lambda c: c.name)
@pytest.mark.parametrize("scale", [1, 3, 5, 2.2, 4.5])
def test_a_folded_circuit_equals_the_original_on_a_noiseless_simulator(circuit, scale):
    values = RNG.normal(size=(4, circuit.n_symbols))
    points = circuit.slot_angles(values)
    points[1] += 0.5 * np.pi  # shifted points too
    f = fold_global(circuit, scale)
    sim = qshift.LocalSimulator()
    assert np.allclose(sim.run(f.circuit, f.angles(points)).values, sim.run(circuit, points).values, atol=1e-12)
    assert np.allclose(f.circuit.slot_angles(values), f.angles(circuit.slot_angles(values)), atol=0)
    assert abs(f.scale - scale) <= 1.0 / len(circuit.operations) + 1e-12


def test_folding_counts_operations_and_maps_every_slot():
    c = qshift.hardware_efficient(2, 1)  # ry rz ry rz cx: 5 operations, 4 slots
    f = fold_global(c, 5)
    assert len(f.circuit.operations) == 25 and f.scale == 5.0
    assert f.slot_map.tolist() == [0, 1, 2, 3] + [3, 2, 1, 0, 0, 1, 2, 3] * 2
    assert f.signs.tolist() == [1] * 4 + ([-1] * 4 + [1] * 4) * 2
    assert fold_global(c, 1).circuit == c
    for op in c.operations:
        undo = inverse(op)
        assert all(o.angle is None or o.angle == -op.angle for o in undo)


def test_extrapolation_weights_match_polynomial_fits_and_their_variance():
    scales = np.array([1.0, 2.0, 3.5, 5.0])
    ys = np.array([0.8, 0.7, 0.58, 0.49])
    for method, degree in (("richardson", len(scales) - 1), ("linear", 1)):
        gamma = extrapolation_weights(scales, method)
        assert np.isclose(gamma @ ys, np.polyval(np.polyfit(scales, ys, degree), 0.0), atol=1e-12)
        assert np.isclose(gamma.sum(), 1.0)
        var = np.array([1e-4, 2e-4, 3e-4, 4e-4])
        draws = ys + RNG.normal(size=(200_000, 4)) * np.sqrt(var)
        fits = np.polynomial.polynomial.polyfit(scales, draws.T, degree)[0]
        assert np.isclose(fits.var(), (gamma ** 2 * var).sum(), rtol=0.02)
    assert np.allclose(extrapolation_weights([1, 3, 5]), [15 / 8, -5 / 4, 3 / 8])


def _confused(probabilities: np.ndarray, e0, e1) -> np.ndarray:
    """The measured bit-string distribution: per-qubit confusion matrices (qubit 0 most significant)."""
    matrices = [np.array([[1 - a, b], [a, 1 - b]]) for a, b in zip(e0, e1)]  # column: true bit, row: read bit
    full = matrices[0]
    for m in matrices[1:]:
        full = np.kron(full, m)
    return full @ probabilities


def _z_expectation(probabilities: np.ndarray, qubits, n: int) -> float:
    bits = np.array(list(itertools.product((0, 1), repeat=n)))
    return float(probabilities @ (1 - 2 * (bits[:, list(qubits)].sum(axis=1) % 2)))


def test_readout_correction_is_exact_for_the_tensored_model():
    n = 3
    probabilities = RNG.dirichlet(np.ones(2 ** n))
    e0, e1 = [0.02, 0.07, 0.01], [0.05, 0.03, 0.11]
    read = _confused(probabilities, e0, e1)
    model = TensoredReadout.from_errors(e0, e1)
    subsets = [s for k in range(1, n + 1) for s in itertools.combinations(range(n), k)]
    measured = {qshift.PauliString(tuple((q, "Z") for q in s)): _z_expectation(read, s, n) for s in subsets}
    h = qshift.PauliSum.parse({"Z0 Z1 Z2": 0.7, "Z1": -0.4, "Z0 Z2": 1.3, "": 0.1})
    fix = model.corrected(h)
    got = sum(w * measured[p] for w, p in fix.terms) + fix.constant
    want = 0.7 * _z_expectation(probabilities, (0, 1, 2), n) - 0.4 * _z_expectation(probabilities, (1,), n) \
        + 1.3 * _z_expectation(probabilities, (0, 2), n) + 0.1
    assert np.isclose(got, want, atol=1e-13)
    noisy = model.noisy(h)  # the forward map: what the device reports, from exact expectations
    exact = {p: _z_expectation(probabilities, p.qubits, n) for p in measured}
    assert np.isclose(sum(w * exact[p] for w, p in noisy.terms) + noisy.constant,
                      0.7 * measured[qshift.PauliString(((0, "Z"), (1, "Z"), (2, "Z")))]
                      - 0.4 * measured[qshift.PauliString(((1, "Z"),))]
                      + 1.3 * measured[qshift.PauliString(((0, "Z"), (2, "Z")))] + 0.1, atol=1e-13)


def test_readout_gradient_is_the_derivative_of_the_correction():
    h = qshift.PauliSum.parse({"Z0 X1": 0.7, "Y1 Z2": -0.4, "X0 Y1 Z2": 1.3})
    model = TensoredReadout((0.03, -0.02, 0.05), (0.93, 0.9, 0.88))
    value, d_offset, d_contrast = model.corrected_gradient(h)
    step = 1e-6
    for q in range(3):
        for field, grads in (("offset", d_offset), ("contrast", d_contrast)):
            up, down = (dataclasses.replace(model, **{field: tuple(v + s * (i == q) for i, v in
                                                                 enumerate(getattr(model, field)))})
                        for s in (step, -step))
            a, b = up.corrected_gradient(h)[0], down.corrected_gradient(h)[0]
            for p in set(a) | set(b):
                assert np.isclose((a.get(p, 0) - b.get(p, 0)) / (2 * step), grads[q].get(p, 0.0), atol=1e-6)


def test_the_corrected_circuit_keeps_the_measurement_groups_and_shots():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2-energy"))
    fix = corrected_circuit(c, TensoredReadout.from_errors([0.02] * 4, [0.05] * 4))
    assert qshift.ir.grouping.n_groups(fix.circuit) == qshift.ir.grouping.n_groups(c) == 5
    assert fix.circuit.n_outputs == 1 + len(fix.products)
    assert qshift.ir.grouping.group_shots(fix.circuit, 1000).tolist() == qshift.ir.grouping.group_shots(c, 1000).tolist()


def test_readout_mitigation_undoes_the_readout_errors_of_aer():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2"))
    points = c.slot_angles(np.array([[0.22, 0.1, -0.1], [0.5, -0.3, 0.2]]))
    ex = qshift.Executor(resolve_device("aer-noisy-readout"))
    cal, _ = calibrate(ex, 4, None, Readout(max_age=0))
    assert np.allclose(cal.model.p1_given_0, 0.02, atol=1e-3) and np.allclose(cal.model.p0_given_1, 0.05, atol=1e-3)
    fix = corrected_circuit(c, cal.model)
    corrected = ex.evaluate(fix.circuit, points)[0][:, :c.n_outputs]
    without_readout = resolve_device("aer-noisy").run(c, points).values
    assert np.abs(corrected - without_readout).max() < 3e-3  # the calibration's own X gates are noisy
    assert np.abs(resolve_device("aer-noisy-readout").run(c, points).values - without_readout).max() > 0.05


def _request(circuit, x, mitigation, order=2, **kwargs):
    r = Request.of(circuit, x, Arguments(order=order, **kwargs))
    return dataclasses.replace(r, sampling=mitigated(r.sampling, mitigation))


def test_counts_points_times_scale_factors_plus_calibration_and_reuse(tmp_path):
    c = qshift.hardware_efficient(2, 1)
    x = np.full(4, 0.3)
    both = {"readout": {"max_age": 3600}, "zne": {"scale_factors": (1, 3, 5)}}
    mit._KEPT.clear()
    store = qshift.EvaluationStore(tmp_path / "s.sqlite")
    r = _request(c, x, both, device="aer-noisy-readout", shots=500, seed=1, executor=qshift.Executor(
        resolve_device("aer-noisy-readout"), store=store))
    r = dataclasses.replace(r, sampling=dataclasses.replace(r.sampling, clock=lambda: 3.6e6 + 10))
    first = engine.run(r)
    assert r.plan.circuits == 37  # value, gradient and Hessian of 4 symbols: 2 * 4**2 + 4 + 1 points, deduplicated
    assert first.stats.circuits == 37 * 3 + 2 and first.stats.executions == 37 * 3 + 2
    assert first.stats.shots == (37 * 3 + 2) * 500
    again = engine.run(dataclasses.replace(r, sampling=dataclasses.replace(r.sampling, seed=2)))
    assert again.stats.circuits == 37 * 3 and again.stats.cache_hits == 2  # this process kept the calibration
    mit._KEPT.clear()  # as in another process: the store has it (the window decides the calibration's seed)
    third = engine.run(dataclasses.replace(r, sampling=dataclasses.replace(r.sampling, seed=3)))
    assert third.stats.from_store == 2 and third.stats.circuits == 37 * 3
    later = dataclasses.replace(r.sampling, clock=lambda: 3.6e6 + 3600 + 10, seed=4)  # the next window
    assert engine.run(dataclasses.replace(r, sampling=later)).stats.circuits == 37 * 3 + 2


def test_exact_zne_reuses_points_across_orders_and_the_unfolded_circuit():
    c = qshift.hardware_efficient(2, 1)
    ex = qshift.Executor(resolve_device("aer-noisy"))
    plain = engine.run(Request.of(c, np.full(4, 0.3), Arguments(order=1, executor=ex)))
    d = engine.run(_request(c, np.full(4, 0.3), "zne", order=2, executor=ex))
    assert plain.stats.circuits == 9 and d.stats.circuits == 37 * 3 - 9 and d.stats.cache_hits == 9


def test_estimate_shows_what_each_mitigation_adds():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2-energy"))
    e = estimate(c, order=2, device="ionq-forte", mitigation=("readout", "zne"))
    base = estimate(c, order=2, device="ionq-forte")
    assert e.unmitigated == base.planned
    assert dict(e.mitigation_costs)["readout"].circuits == 2 and dict(e.mitigation_costs)["readout"].executions == 2
    assert dict(e.mitigation_costs)["zne"].circuits == 2 * base.planned.circuits
    assert e.planned.circuits == 3 * base.planned.circuits + 2
    assert e.planned.shots == 3 * base.planned.shots + 2 * 1000
    assert np.isclose(e.planned.price, base.planned.price + sum(x.price for _, x in e.mitigation_costs))
    text = str(e)
    assert "unmitigated" in text and "+ readout" in text and "+ zne" in text and "richardson" in text
    exact = estimate(c, order=2, device="aer-noisy-readout", mitigation="zne")
    assert exact.planned.circuits == 3 * 295 and exact.planned.shots == 0


@pytest.mark.parametrize("spec, words", [
    ("dither", ["unknown mitigation", "'dither'"]),
    (("zne", "zne"), ["named twice"]),
    ({"zne": {"scale_factors": (1,)}}, ["two distinct scale factors"]),
    ({"zne": {"scale_factors": (1, 3, 3)}}, ["two distinct scale factors"]),
    ({"zne": {"scale_factors": (0.5, 3)}}, ["from 1 to 99"]),
    ({"zne": {"extrapolation": "exponential"}}, ["unknown extrapolation"]),
    ({"zne": {"scale": (1, 3)}}, ["unknown option 'scale'"]),
    ({"readout": {"shots": 0}}, ["shots"]),
    ({"readout": {"max_age": -1}}, ["max_age"]),
    ({"readout": 5}, ["must be a dict"]),
    (3, ["must name what to mitigate"]),
    ((), ["names nothing"]),
])
def test_malformed_mitigation_is_refused_helpfully(spec, words):
    with pytest.raises(qshift.QShiftError) as err:
        parse_mitigation(spec)
    assert_helpful(err, *words)
    assert isinstance(err.value, qshift._errors.MitigationError)


def test_parsing_accepts_every_documented_form():
    assert parse_mitigation(None) is None
    assert parse_mitigation("readout") == mit.Mitigation(Readout(), None)
    assert parse_mitigation(("readout", "zne")) == parse_mitigation({"readout": True, "zne": True}) \
        == mit.Mitigation(Readout(), ZNE())
    assert parse_mitigation({"zne": {"scale_factors": [1, 2, 3], "extrapolation": "linear"}}).zne == \
        ZNE((1.0, 2.0, 3.0), "linear")
    assert parse_mitigation(ZNE((1, 3))).zne.scale_factors == (1, 3)


def test_target_stderr_and_alike_folds_are_refused():
    with pytest.raises(qshift.QShiftError) as err:
        mitigated(TargetError(0.01, False, 100), "zne")
    assert_helpful(err, "target_stderr")
    c = qshift.hardware_efficient(2, 1)  # 5 operations: 1.1 folds nothing more than 1
    m = Mitigated(Exact(), parse_mitigation({"zne": {"scale_factors": (1, 1.1)}}))
    p = qshift.plan(c, order=0)
    with pytest.raises(qshift.QShiftError) as err:
        m.run(qshift.Executor(qshift.LocalSimulator()), c, p, p.points(c.slot_angles(np.zeros((1, 4)))))
    assert_helpful(err, "fold this circuit alike")


def test_the_calibration_error_is_shared_by_every_point():
    """Its contribution to a derivative is the contracted sensitivity: it agrees with the spread over calibrations."""
    c = qshift.hardware_efficient(2, 1)
    x = np.full((1, 4), 0.4)
    p = qshift.plan(c, order=1)
    points = p.points(c.slot_angles(x))
    ex = qshift.Executor(resolve_device("aer-noisy-readout"))
    cal, _ = calibrate(ex, 2, 400, Readout(max_age=0))
    s = Mitigated(FixedShots(400, seed=1), parse_mitigation({"readout": {"max_age": 0}})).run(ex, c, p, points)
    assert len(s.shared) == 4 and all(e.variance > 0 for e in s.shared)
    with_shared = contract(p, s)[1]
    without = p.contract(s.values, s.variances)[1]
    assert np.all(with_shared[1] >= without[1]) and np.all(with_shared[0] > without[0])
    # independent check of the sensitivities: the corrected values move as the calibration moves
    fix = corrected_circuit(c, cal.model)
    raw = ex.evaluate(fix.circuit, points)[0]
    da, dc = fix.sensitivities(raw)
    step = 1e-5
    moved = dataclasses.replace(cal.model, offset=(cal.model.offset[0] + step,) + cal.model.offset[1:])
    shifted = ex.evaluate(corrected_circuit(c, moved).circuit, points)[0][:, :c.n_outputs]
    assert np.allclose((shifted - raw[:, :c.n_outputs]) / step, da[0], atol=1e-4)


MITIQ_SCALES = (1, 3, 5)
MITIQ_OUTPUTS = ("Z0 Z1", "X1 X2", {"Y3 Z0": 0.5, "Z1": -0.3, "": 0.25})  # two measurement groups, one sum


@pytest.fixture(scope="module")
def mitiq():
    """Mitiq 1.1.0 in its own virtualenv (.venv-mitiq, made by ``make test``), driven over pipes."""
    reason = mitiq_peer.unavailable()
    if reason and os.environ.get("CI"):  # CI's `make test` builds the venv: there a missing Mitiq is a failure
        pytest.fail(reason)
    if reason:
        pytest.skip(reason)
    with mitiq_peer.MitiqPeer() as peer:
        yield peer


def _mitiq_case():
    """hardware_efficient(4, 2)'s gates (ry, rz, cx: OpenQASM 2 gates that Cirq reads and writes as they are),
    measured in two bases, at the value point and three shifted points of its first-order plan."""
    c = dataclasses.replace(qshift.hardware_efficient(4, 2), name="hea-mitiq",
                            outputs=tuple(as_observable(o) for o in MITIQ_OUTPUTS))
    p = qshift.plan(c, order=1)
    return c, p, p.points(c.slot_angles(np.linspace(0.1, 1.5, 16)[None]))[[0, 1, 8, 20]]


def test_zne_agrees_with_mitiq(mitiq):
    """Mitiq's own ZNE on the same concrete circuits: Mitiq folds them (fold_global, scale factors 1, 3, 5) and
    extrapolates (RichardsonFactory / LinearFactory.extrapolate); its folded circuits run on ``aer-noisy``
    through qshift. Exact: Mitiq's folds equal qshift's gate for gate and value for value, and Mitiq's
    extrapolation of them equals qshift's mitigated points (Richardson and linear) to 1e-9. Sampled (4,000
    shots, independent seeds): within 4 standard errors of the difference, each side's error its
    extrapolation's (Mitiq's weights: its extrapolation is linear, so it is its value at the unit vectors)."""
    c, p, points = _mitiq_case()
    backend = resolve_device("aer-noisy")
    assert mitiq.versions()["mitiq"] == "1.1.0"
    folded = mitiq.fold([mitiq_peer.qasm2(c, point) for point in points], MITIQ_SCALES)  # [point][scale]
    theirs = [[qshift.Circuit.from_qasm(text, outputs=MITIQ_OUTPUTS) for text in row] for row in folded]
    ours = [fold_global(c, s) for s in MITIQ_SCALES]
    exact = np.array([[backend.run(t, np.zeros((1, 0))).values[0] for t in row] for row in theirs])  # (P, S, out)
    for k, point in enumerate(points):
        for j, (t, f) in enumerate(zip(theirs[k], ours)):
            assert t.n_qubits == 4 and collections.Counter(op.gate for op in t.operations) == \
                collections.Counter(op.gate for op in f.circuit.operations)
            assert np.allclose(exact[k, j], backend.run(f.circuit, f.angles(point[None])).values[0], atol=1e-12)
    for method in ("richardson", "linear"):
        assert np.allclose(mitiq.weights(MITIQ_SCALES, method), extrapolation_weights(MITIQ_SCALES, method),
                           atol=1e-12)
        zne = {"zne": {"scale_factors": MITIQ_SCALES, "extrapolation": method}}
        mine = Mitigated(Exact(), parse_mitigation(zne)).run(qshift.Executor(backend), c, p, points)
        reference = mitiq.extrapolate(exact.transpose(0, 2, 1), MITIQ_SCALES, method).reshape(len(points), -1)
        assert np.allclose(mine.values, reference, atol=1e-9)
        assert np.abs(mine.values - exact[:, 0]).max() > 1e-3  # the noise is there, and extrapolated away

    shots, gamma = 4000, mitiq.weights(MITIQ_SCALES)
    sampled = Mitigated(FixedShots(shots, seed=7), parse_mitigation("zne")).run(qshift.Executor(backend), c, p,
                                                                                   points)
    runs = [[backend.run(t, np.zeros((1, 0)), shots=shots, seed=100 + 3 * k + j) for j, t in enumerate(row)]
            for k, row in enumerate(theirs)]
    values = np.array([[r.values[0] for r in row] for row in runs])  # (P, S, out)
    variances = np.array([[r.variances[0] / shots for r in row] for row in runs])
    reference = mitiq.extrapolate(values.transpose(0, 2, 1), MITIQ_SCALES).reshape(len(points), -1)
    reference_var = np.einsum("s,pso->po", gamma ** 2, variances)
    assert np.all(np.abs(sampled.values - reference) <= 4 * np.sqrt(sampled.variances + reference_var))


def test_a_seeded_request_that_calibrates_anew_reproduces_its_calibration():
    c = qshift.hardware_efficient(2, 1)
    x = np.full(4, 0.3)
    spec = {"readout": {"max_age": 0}}
    runs = [qshift.derivatives(c, x, device="aer-noisy-readout", shots=500, seed=seed, mitigation=spec)
            for seed in (11, 11, 12)]
    np.testing.assert_array_equal(runs[0].jacobian, runs[1].jacobian)
    assert not np.array_equal(runs[0].jacobian, runs[2].jacobian)
    assert runs[0].stats.circuits == runs[1].stats.circuits == qshift.plan(c, order=1).circuits + 2


def test_extrapolating_every_point_equals_extrapolating_every_entry():
    """The stencil and the extrapolation are both linear, so mitigating the shifted points and then
    differentiating equals differentiating at each scale factor and extrapolating every entry."""
    c = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2-energy"))
    x = np.array([0.2, 0.1, -0.1])
    plan = qshift.plan(c, order=2)
    points = plan.points(c.slot_angles(x[None]))
    executor = qshift.Executor(resolve_device("aer-noisy-readout"))
    per_scale = []
    for scale in (1, 3, 5):
        folded = fold_global(c, scale)
        values, _, _ = executor.evaluate(folded.circuit, folded.angles(points))
        per_scale.append(plan.contract(values)[0])
    gamma = extrapolation_weights((1, 3, 5), "richardson")
    entries = {k: sum(g * t[k] for g, t in zip(gamma, per_scale)) for k in (0, 1, 2)}
    points_first = qshift.derivatives(c, x, order=2, device="aer-noisy-readout", mitigation="zne")
    for k in (0, 1, 2):
        np.testing.assert_allclose(points_first.derivative(k), entries[k][0], rtol=0, atol=1e-10)
    assert np.abs(entries[2][0] - qshift.derivatives(c, x, order=2, device="aer-noisy-readout").hessian).max() > 1e-3
