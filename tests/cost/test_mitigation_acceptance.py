"""Issue 18's acceptance: on a noisy emulator with known noise (``aer-noisy-readout``: depolarizing gate noise and
asymmetric readout errors), mitigated Hessians are at least 3x closer to the exact ones than raw Hessians.

Requests are made as the API will make them: :meth:`Request.of`, its sampling strategy wrapped in
:class:`~qshift.cost.mitigation.Mitigated`, then :func:`qshift.api.engine.run`. Exact (the density matrix: no shot
noise, the bias alone) for ``vqe-h2`` and a 4-qubit hardware-efficient circuit; with shots, seeded, at budgets
where the shot noise of the raw Hessian is far below its bias, and the mitigated entries within three reported
standard errors of the exact ones for at least 95 % of entries. Measured (max |error| of the Hessian):

=================  =======  =================  ================  =========================
circuit            shots    raw                readout + zne     readout + zne (1, 3) lin.
=================  =======  =================  ================  =========================
vqe-h2             exact    0.302              0.0087            0.039
vqe-h2             2,000    0.31               0.05 - 0.08       -
hea 4q 1l          exact    0.079              0.0005            0.0020
hea 4q 1l          20,000   0.077              0.026 - 0.028     0.017 - 0.020
=================  =======  =================  ================  =========================

Richardson with (1, 3, 5) removes more bias but multiplies the standard error by 2.29 (linear (1, 3): 1.58): at
20,000 shots on the hardware-efficient circuit its largest error over 256 entries is shot noise, 2.8-2.9x below
the raw one, so that case is checked with the linear extrapolation (4-5x).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import qshift
from qshift.api import engine
from qshift.api.request import Arguments, Request
from qshift.cost.mitigation import mitigated

pytest.importorskip("qiskit_aer")

DEVICE = "aer-noisy-readout"
VQE = (qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2")), np.array([0.22, 0.1, -0.1]))
HEA = (qshift.hardware_efficient(4, 1), np.linspace(0.2, 1.4, 8))
BOTH = ("readout", "zne")
LINEAR = {"readout": True, "zne": {"scale_factors": (1, 3), "extrapolation": "linear"}}


def hessian(circuit, x, mitigation=None, **kwargs):
    r = Request.of(circuit, x, Arguments(order=2, device=DEVICE, store=False, **kwargs))
    return engine.run(dataclasses.replace(r, sampling=mitigated(r.sampling, mitigation)))


@pytest.mark.parametrize("case", [VQE, HEA], ids=["vqe-h2", "hea-4q-1l"])
@pytest.mark.parametrize("mitigation", [BOTH, LINEAR], ids=["richardson", "linear"])
def test_exact_mitigated_hessians_lose_most_of_the_bias(case, mitigation):
    circuit, x = case
    exact = qshift.derivatives(circuit, x, order=2).hessian
    raw = np.abs(hessian(circuit, x).hessian - exact).max()
    fixed = np.abs(hessian(circuit, x, mitigation).hessian - exact).max()
    assert raw > 0.05 and fixed * 3 <= raw, (raw, fixed)
    if mitigation is BOTH:
        assert fixed * 30 <= raw


@pytest.mark.parametrize("case, shots, mitigation", [(VQE, 2000, BOTH), (HEA, 20000, LINEAR)],
                         ids=["vqe-h2", "hea-4q-1l"])
def test_sampled_mitigated_hessians_are_3x_closer_and_within_their_errors(case, shots, mitigation):
    circuit, x = case
    exact = qshift.derivatives(circuit, x, order=2).hessian
    raw = hessian(circuit, x, shots=shots, seed=1)
    raw_error = np.abs(raw.hessian - exact)
    assert raw_error.max() > 10 * raw.standard_error(2).max()  # the raw Hessian's error is bias, not shot noise
    d = hessian(circuit, x, mitigation, shots=shots, seed=1)
    error = np.abs(d.hessian - exact)
    assert error.max() * 3 <= raw_error.max(), (raw_error.max(), error.max())
    assert np.mean(error <= 3 * d.standard_error(2)) >= 0.95
