"""Local stand-ins for cloud services, for tests.

`fake_braket()` runs a fake Amazon Braket REST endpoint (`braket_service`)
and a moto S3 server on 127.0.0.1 and yields real Braket SDK objects bound
to them; `braket_service` is the same as a pytest fixture. `fake_ibm_runtime()`
runs a fake IBM Quantum Platform (`ibm_service`) for the real qiskit-ibm-runtime
SDK; `ibm_runtime` is its fixture. Import from a test module (``tests/`` is on
sys.path under pytest):

    from fakes import braket_service, SV1_ARN  # noqa: F401  (fixture)

    def test_x(braket_service):
        device = braket_service.device(SV1_ARN)
"""

from __future__ import annotations

import pytest

from .braket_service import (
    ACCOUNT_ID,
    DM1_ARN,
    QPU_ARN,
    REGION,
    SV1_ARN,
    ApiCall,
    ApiError,
    Execution,
    FakeBraketService,
    FakeDevice,
    Faults,
    Rule,
    ServiceLog,
    Task,
    circuit_key,
    default_devices,
    inputs_key,
    program_hash,
)
from .harness import FakeBraket, fake_braket
from .ibm_harness import FakeIBMRuntime, fake_ibm_runtime
from .ibm_service import INSTANCE_CRN as IBM_INSTANCE_CRN
from .ibm_service import FakeIBMRuntimeService, ServedBackend


@pytest.fixture
def braket_service():
    """A running `FakeBraket` (fake Braket + moto S3 on 127.0.0.1), stopped after the test."""
    with fake_braket() as fb:
        yield fb
        assert not fb.service.errors, "\n".join(fb.service.errors)


@pytest.fixture
def ibm_runtime():
    """A running `FakeIBMRuntime` (fake IBM Quantum Platform on 127.0.0.1: fake_manila and
    fake_brisbane, with noise), stopped after the test."""
    with fake_ibm_runtime() as fi:
        yield fi
        assert not fi.server.errors, "\n".join(fi.server.errors)


__all__ = [
    "ACCOUNT_ID",
    "DM1_ARN",
    "IBM_INSTANCE_CRN",
    "QPU_ARN",
    "REGION",
    "SV1_ARN",
    "ApiCall",
    "ApiError",
    "Execution",
    "FakeBraket",
    "FakeBraketService",
    "FakeDevice",
    "FakeIBMRuntime",
    "FakeIBMRuntimeService",
    "Faults",
    "Rule",
    "ServedBackend",
    "ServiceLog",
    "Task",
    "braket_service",
    "circuit_key",
    "default_devices",
    "fake_braket",
    "fake_ibm_runtime",
    "ibm_runtime",
    "inputs_key",
    "program_hash",
]
