"""Provider backends: Qiskit Aer, PennyLane devices, Amazon Braket, IBM (qiskit-ibm-runtime).

Each backend implements only ``run(circuit, angles[B, n_slots], *, shots, seed)``
and sends the whole batch in as few provider calls as the provider allows;
caching, batching, counting, progress and the cost guard wrap it
(:class:`~qshift.Executor`, :func:`qshift.estimate`). Provider SDKs are
imported when a backend is created, never at ``import qshift``; a missing SDK
is a :class:`~qshift.MissingExtraError` naming the extra to install.

* :class:`AerBackend` (extra ``aer``): exact, one ``EstimatorV2.run`` with one PUB; shots, one
  ``SamplerV2.run`` with one PUB per measurement group, estimates from the measured bits.
* :class:`PennyLaneBackend` (extra ``pennylane``): one ``qml.execute`` on all tapes; shots
  sample one tape per row and measurement group.
* :class:`BraketBackend` (extra ``braket``): one ``run_batch`` (exact), or one
  ``ProgramSet`` per device limit (shots); estimates from measured parities per group.
* :class:`IBMBackend` (extra ``ibm``): one runtime ``SamplerV2.run`` with one PUB per measurement
  group, each circuit transpiled once for the device; always sampled, estimates from the measured bits.

The layout:

* :mod:`~qshift.backends.base`: the contract (:class:`~qshift.Backend`, :class:`~qshift.RunResult`,
  the ``TaskLedger`` a backend records provider tasks in); :mod:`~qshift.backends.registry`:
  device names -> backends; :mod:`~qshift.backends.profiles`: device profiles;
  :mod:`~qshift.backends.retry`: the retry policy for provider calls.
* :mod:`~qshift.backends.local`: the built-in simulator (``simulator``, ``compile``,
  ``kernels``, ``observables``).
* :mod:`~qshift.backends.aer`, :mod:`~qshift.backends.pennylane`, :mod:`~qshift.backends.ibm`,
  and :mod:`~qshift.backends.braket` (``backend``; ``translate``: circuits, inputs and
  measured bits; ``limits``: program sets; ``tasks``: quantum tasks on AWS).
* Shared pieces: :mod:`~qshift.backends._qiskit` (translation to Qiskit with one parameter
  per slot), :mod:`~qshift.backends._common` (angle checks, gate walks, results, noise).
  Measurement groups live in :mod:`qshift.ir.grouping`.
"""

from qshift.backends.aer import AerBackend
from qshift.backends.braket.backend import BraketBackend
from qshift.backends.ibm import IBMBackend
from qshift.backends.pennylane import PennyLaneBackend
from qshift.ir.grouping import MeasurementGroup, measurement_groups

__all__ = ["AerBackend", "BraketBackend", "IBMBackend", "MeasurementGroup", "PennyLaneBackend",
           "measurement_groups"]
