"""The request object and the engine: arguments checked once, one sampling strategy, the same numbers."""

import numpy as np
import pytest

import qshift
from qshift.api.engine import run
from qshift.api.request import Arguments, Request
from qshift.cost.sampling import Exact, FixedShots, OptimalAllocation, TargetError


def _circuit():
    return qshift.hardware_efficient(2, 1)


X = np.array([[0.1, -0.2, 0.3, 0.4], [0.5, 0.6, -0.7, 0.8]])


@pytest.mark.parametrize("args, strategy", [
    (Arguments(order=2), Exact),
    (Arguments(order=2, shots=100, seed=1), FixedShots),
    (Arguments(order=2, shots=100, seed=1, allocation="optimal"), OptimalAllocation),
    (Arguments(order=2, shots=100, seed=1, rule="min-circuits", allocation="optimal"), OptimalAllocation),
    (Arguments(order=1, target_stderr=0.1, seed=1), TargetError),
    (Arguments(order=1, target_stderr=0.1, seed=1, rule="min-shots"), TargetError),
])
def test_one_strategy_per_request(args, strategy):
    request = Request.of(_circuit(), X, args)
    assert type(request.sampling) is strategy
    assert request.exact == (strategy is Exact)


def test_the_engine_gives_what_derivatives_gives():
    c = _circuit()
    for kwargs in ({"order": 2}, {"order": 2, "shots": 300, "seed": 4}, {"order": 1, "target_stderr": 0.2, "seed": 4},
                   {"order": 2, "shots": 300, "seed": 4, "allocation": "optimal"}):
        d = qshift.derivatives(c, X, store=False, **kwargs)
        e = run(Request.of(c, X, Arguments(store=False, **kwargs)))
        for k in d.tensors:
            np.testing.assert_array_equal(d.tensors[k], e.tensors[k])
        assert d.stats == e.stats


def test_the_device_default_shots_are_resolved_once():
    request = Request.of(_circuit(), X, Arguments(device="aer-noisy" if "aer-noisy" in qshift.available_devices()
                                                  else "local", shots=None))
    assert request.shots == request.executor.backend.default_shots


def test_at_moves_a_request_to_other_values_and_orders_without_checking_it_again(monkeypatch):
    c = _circuit()
    request = Request.of(c, X[0], Arguments(shots=200, seed=3, executor=qshift.Executor(qshift.LocalSimulator())))
    monkeypatch.setattr(qshift.Executor, "__init__", None)  # no executor is made again
    moved = request.at(X, (2,))
    assert moved.executor is request.executor and moved.sampling is request.sampling
    assert moved.plan.orders == (2,) and moved.plan.rows == 2 and moved.batch == (2,)
    d = run(moved)
    assert d.derivative(2).shape == (2, c.n_outputs, 4, 4) and set(d.tensors) == {2}


def test_pilot_shots_must_be_a_positive_integer():
    for bad in (0, -3, 1.5, True):
        with pytest.raises(qshift.RequestError, match="pilot_shots"):
            qshift.derivatives(_circuit(), X, order=1, target_stderr=0.1, seed=1, pilot_shots=bad)
