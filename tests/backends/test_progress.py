"""Progress bars: shown on runs of several batches when asked or interactive, silent otherwise."""

import sys
import types

import numpy as np

import qshift
from qshift.execution import executor as _executor


class _Small:
    """The local simulator taking at most two rows per call."""

    name, exact, max_batch = "small", True, 2

    def run(self, circuit, angles, *, shots=None, seed=None):
        return qshift.LocalSimulator().run(circuit, angles, shots=shots, seed=seed)


def _run(progress):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    return qshift.derivatives(c, [0.3], order=2, executor=qshift.Executor(_Small(), progress=progress))


def test_progress_true_shows_a_bar(capsys):
    d = _run(True)
    assert d.stats.jobs == 2
    assert "sin on small" in capsys.readouterr().err


def test_silent_by_default_when_not_interactive_and_when_off(capsys):
    _run(None)
    _run(False)
    assert capsys.readouterr().err == ""


def test_a_jupyter_kernel_counts_as_interactive(monkeypatch):
    assert not _executor._interactive()
    shell = types.SimpleNamespace(config={"IPKernelApp": {}})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert _executor._interactive()


def test_progress_reaches_the_executor_from_derivatives(capsys, tmp_path):
    profile = tmp_path / "aer-small.toml"
    profile.write_text('name = "aer-small"\ndescription = "two rows per call"\nbackend = "aer"\nmax_batch = 2\n')
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    d = qshift.derivatives(c, np.array([0.3]), order=2, device=str(profile), progress=True)
    assert d.stats.jobs == 2 and "sin on aer-small" in capsys.readouterr().err
