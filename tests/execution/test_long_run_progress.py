"""Progress on long requests: a bar of circuits done and time elapsed, moving while one backend call blocks.

The bar is tqdm's (``tqdm.auto``: the notebook widget in a Jupyter kernel). It appears on its
own after about two seconds when stderr is a terminal or in a kernel, at once with
``progress=True``, never with ``progress=False`` and never in tests by default.
"""

from __future__ import annotations

import threading
import time

import numpy as np

import qshift
from qshift.execution import executor as executor_module


class Slow:
    """The local simulator taking ``seconds`` per call: one blocking call for the whole request."""

    name, exact = "slow", True

    def __init__(self, seconds: float):
        self.seconds = seconds

    def run(self, circuit, angles, *, shots=None, seed=None):
        time.sleep(self.seconds)
        return qshift.LocalSimulator().run(circuit, angles, shots=shots, seed=seed)


def _run(seconds: float, progress=None):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    d = qshift.derivatives(c, [0.3], order=1, executor=qshift.Executor(Slow(seconds), progress=progress))
    np.testing.assert_allclose(d.jacobian[0, 0], np.cos(0.3), atol=1e-12)
    assert d.stats.circuits == 3 and d.stats.jobs == 1
    return d


def _timers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "qshift-progress"]


def test_the_bar_moves_while_a_single_backend_call_blocks(capsys):
    _run(1.7, progress=True)
    err = capsys.readouterr().err
    assert "sin on slow" in err and "0/3 [00:00" in err
    assert "0/3 [00:01" in err  # redrawn by the timer during the call: the elapsed time moved
    assert _timers() == []  # the timer ended with the request


def test_in_a_terminal_or_kernel_the_bar_waits_for_a_long_request(capsys, monkeypatch):
    monkeypatch.setattr(executor_module, "_interactive", lambda: True)
    monkeypatch.setattr(executor_module, "PROGRESS_DELAY", 0.4)  # two seconds in use; shortened here
    _run(0.0)
    assert capsys.readouterr().err == ""  # a short request shows nothing
    _run(1.2)
    err = capsys.readouterr().err
    assert "sin on slow" in err and "0/3 [00:0" in err
    _run(1.2, progress=False)
    assert capsys.readouterr().err == ""


def test_nothing_is_printed_by_default_in_tests(capsys):
    assert not executor_module._interactive()  # stderr is no terminal here, and there is no kernel
    _run(0.8)
    assert capsys.readouterr().err == ""
    assert _timers() == []


def test_a_failing_request_closes_its_bar(capsys):
    class Broken(Slow):
        def run(self, circuit, angles, *, shots=None, seed=None):
            time.sleep(self.seconds)
            raise RuntimeError("the device went away")

    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    try:
        qshift.derivatives(c, [0.3], executor=qshift.Executor(Broken(0.6), progress=True))
    except qshift.DeviceError as exc:
        assert "went away" in str(exc)
    else:
        raise AssertionError("the failure was not raised")
    assert "sin on slow" in capsys.readouterr().err and _timers() == []
