"""Provider backends: Qiskit Aer, PennyLane devices, Amazon Braket, IBM (qiskit-ibm-runtime).

Each backend implements only ``run(circuit, angles[B, n_slots], *, shots, seed)``
and sends the whole batch in as few provider calls as the provider allows;
caching, batching, counting, progress and the cost guard wrap it
(:class:`~qshift.Executor`, :func:`qshift.estimate`). Provider SDKs are
imported when a backend is created, never at ``import qshift``; a missing SDK
is a :class:`~qshift.MissingExtraError` naming the extra to install.

* :class:`AerBackend` (extra ``aer``): one ``EstimatorV2.run`` with one PUB; shots give
  Gaussian estimates of precision ``1/sqrt(shots)``.
* :class:`PennyLaneBackend` (extra ``pennylane``): one ``qml.execute`` on all tapes; shots
  sample one tape per row and measurement group.
* :class:`BraketBackend` (extra ``braket``): one ``run_batch`` (exact), or one
  ``ProgramSet`` per device limit (shots); estimates from measured parities per group.
* :class:`IBMBackend` (extra ``ibm``): one runtime ``EstimatorV2.run`` with one PUB on a
  circuit transpiled once for the device; always sampled.

Shared pieces: :mod:`._grouping` (qubit-wise-commuting measurement groups),
:mod:`._qiskit` and :mod:`._braket` (circuit translation with one parameter per
slot), :mod:`._common` (checks, results, noise).
"""

from qshift.backends.aer import AerBackend
from qshift.backends.braket.backend import BraketBackend
from qshift.backends.ibm import IBMBackend
from qshift.backends.pennylane import PennyLaneBackend
from qshift.ir.grouping import MeasurementGroup, measurement_groups

__all__ = ["AerBackend", "BraketBackend", "IBMBackend", "MeasurementGroup", "PennyLaneBackend",
           "measurement_groups"]
