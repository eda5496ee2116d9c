"""Local stand-ins for cloud services, for tests.

`fake_braket()` runs a fake Amazon Braket REST endpoint (`braket_service`)
and a moto S3 server on 127.0.0.1 and yields real Braket SDK objects bound
to them; `braket_service` is the same as a pytest fixture. Import from a
test module (``tests/`` is on sys.path under pytest):

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


@pytest.fixture
def braket_service():
    """A running `FakeBraket` (fake Braket + moto S3 on 127.0.0.1), stopped after the test."""
    with fake_braket() as fb:
        yield fb
        assert not fb.service.errors, "\n".join(fb.service.errors)


__all__ = [
    "ACCOUNT_ID",
    "DM1_ARN",
    "QPU_ARN",
    "REGION",
    "SV1_ARN",
    "ApiCall",
    "ApiError",
    "Execution",
    "FakeBraket",
    "FakeBraketService",
    "FakeDevice",
    "Faults",
    "Rule",
    "ServiceLog",
    "Task",
    "braket_service",
    "circuit_key",
    "default_devices",
    "fake_braket",
    "inputs_key",
    "program_hash",
]
