"""Rules for every test, the doctests in ``qshift/`` included: the suite runs on a base install.

A test that needs an optional extra which is not installed is skipped, naming the extra. Only a
``ModuleNotFoundError`` for a module that is truly absent (no import spec) counts, also when a
doctest raised it or qshift wrapped it in a ``MissingExtraError``; any other failure, an
``ImportError`` from inside an installed package included, stays a failure.
"""

import importlib.util

import pytest

EXTRAS = {
    "tensorflow": "tf", "keras": "tf", "qiskit": "aer", "qiskit_aer": "aer", "qiskit_qasm3_import": "test",
    "qiskit_ibm_runtime": "ibm", "pennylane": "pennylane", "braket": "braket", "botocore": "braket",
    "dask": "dask", "distributed": "dask", "moto": "test", "scipy": "test", "nbclient": "test",
    "nbformat": "test", "ipykernel": "test", "matplotlib": "test",
}


def missing_extra(exc: BaseException | None) -> str | None:
    """The extra a failure asks for, when it is an import of an uninstalled optional module."""
    if isinstance(getattr(exc, "exc_info", None), tuple):  # a doctest that raised: look at what it raised
        exc = exc.exc_info[1]
    while exc is not None:
        name = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
        if name:
            top = name.partition(".")[0]
            if top in EXTRAS and importlib.util.find_spec(top) is None:
                return f"needs {top!r}, not installed (pip install 'qshift[{EXTRAS[top]}]')"
        exc = exc.__cause__ or exc.__context__
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    reason = missing_extra(call.excinfo.value) if call.excinfo is not None else None
    if report.failed and reason:
        report.outcome, report.longrepr = "skipped", (str(item.path), item.location[1] or 0, f"Skipped: {reason}")


# Modules of qshift that import their extra when imported (their doctests cannot even be collected
# without it); every other module imports extras only where they are used.
EXTRA_MODULES = {"qshift/tf.py": "tensorflow", "qshift/keras.py": "tensorflow"}


def pytest_ignore_collect(collection_path, config):
    rel = collection_path.as_posix()
    for suffix, module in EXTRA_MODULES.items():
        if rel.endswith(suffix) and importlib.util.find_spec(module) is None:
            return True
    return None
