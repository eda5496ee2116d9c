"""Optional dependencies: nothing heavy at `import qshift`; a missing SDK names the extra to install."""

import subprocess
import sys

import pytest

import qshift

HEAVY = ("qiskit", "qiskit_aer", "qiskit_ibm_runtime", "pennylane", "braket", "tensorflow")


def test_import_qshift_imports_no_provider_sdk():
    code = "import sys, qshift, qshift.backends; print(sorted(m for m in %r if m in sys.modules))" % (HEAVY,)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("module, extra, make", [
    ("qiskit_aer", "aer", lambda: qshift.AerBackend()),
    ("pennylane", "pennylane", lambda: qshift.PennyLaneBackend("default.qubit")),
    ("braket.devices", "braket", lambda: qshift.BraketBackend("braket_sv")),
    ("qiskit_ibm_runtime", "ibm", lambda: qshift.IBMBackend("fake_brisbane")),
])
def test_missing_sdk_names_the_extra(module, extra, make, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(qshift.MissingExtraError) as info:
        make()
    assert f"pip install 'qshift[{extra}]'" in str(info.value)


def test_missing_sdk_through_a_profile_name(monkeypatch):
    monkeypatch.setitem(sys.modules, "qiskit_aer", None)
    with pytest.raises(qshift.MissingExtraError, match=r"qshift\[aer\]"):
        qshift.derivatives(qshift.Circuit.from_qasm(qshift.circuit_path("sin")), [0.1], device="aer")


def test_aer_uses_a_gpu_only_when_present():
    from qiskit_aer import AerSimulator

    backend = qshift.AerBackend()
    assert backend.device == ("GPU" if "GPU" in AerSimulator().available_devices() else "CPU")
    if "GPU" not in AerSimulator().available_devices():
        with pytest.raises(qshift.DeviceError, match="qiskit-aer-gpu"):
            qshift.AerBackend(device="GPU")


def test_unknown_provider_devices_are_clear_errors():
    with pytest.raises(qshift.DeviceError, match="fake_brisbane"):
        qshift.IBMBackend("fake_nowhere")
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    with pytest.raises(qshift.DeviceError, match="braket_sv"):
        qshift.BraketBackend("braket_nowhere").run(c, [[0.1]])
    with pytest.raises(qshift.DeviceError, match="PennyLane could not create"):
        qshift.PennyLaneBackend("nowhere.qubit").run(c, [[0.1]])
    with pytest.raises(qshift.DeviceError, match="unknown Aer method"):
        qshift.AerBackend(method="tensor_network_magic")


def test_failed_tasks_in_a_braket_batch_are_a_clear_error():
    import types

    class Stub:  # a Braket device whose batch comes back with every task failed
        name, type = "stub", "SIMULATOR"

        def run_batch(self, programs, shots, inputs, **kwargs):
            return types.SimpleNamespace(results=lambda: [None] * len(inputs))

    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    with pytest.raises(qshift.DeviceError, match=r"tasks \[0, 1, 2\] failed"):
        qshift.derivatives(c, [0.3], order=1, device=qshift.BraketBackend(device=Stub()))
