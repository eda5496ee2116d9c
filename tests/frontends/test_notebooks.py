"""Every notebook in notebooks/ runs top to bottom in a fresh kernel, and is committed without outputs.

The kernel is this interpreter (``sys.executable``), described by a kernelspec written to a temporary
folder, so the test needs no kernel installed anywhere and runs the venv's qshift. Each notebook has a
budget for the whole run (``BUDGET_S``): a cell gets what is left of it as its timeout.
"""

import json
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs qshift[test]")
pytest.importorskip("nbclient", reason="needs qshift[test]")
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
BUDGET_S = {"03-hessian-on-hardware.ipynb": 300}  # the emulated hardware runs; the others are quicker
DEFAULT_BUDGET_S = 180
# QSHIFT_STORE=off: sampled results are not read from or written to the user's evaluation store.
KERNEL_ENV = {"OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow", "QSHIFT_STORE": "off"}


def test_there_are_notebooks():
    assert [p.name[:2] for p in PATHS] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_committed_notebooks_have_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, "a notebook without code"
    dirty = [i for i, cell in enumerate(code) if cell.outputs or cell.execution_count is not None]
    assert not dirty, (f"{path.name}: code cells {dirty} carry outputs; clear them before committing, e.g. "
                       "jupyter nbconvert --clear-output --inplace notebooks/*.ipynb")
    assert "widgets" not in nb.metadata


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory) -> Path:
    """A kernelspec whose argv starts this interpreter, with the environment the notebooks run in."""
    root = tmp_path_factory.mktemp("kernels")
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "qshift tests", "language": "python", "env": KERNEL_ENV}
    (root / "qshift-tests").mkdir()
    (root / "qshift-tests" / "kernel.json").write_text(json.dumps(spec))
    return root


def run_notebook(path: Path, kernel_dir: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name="qshift-tests", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]))
    client = NotebookClient(nb, km=km, timeout=60, kernel_name="qshift-tests",
                            resources={"metadata": {"path": str(path.parent)}})
    budget = BUDGET_S.get(path.name, DEFAULT_BUDGET_S)
    start = time.monotonic()
    with client.setup_kernel(cwd=str(path.parent)):
        for index, cell in enumerate(nb.cells):
            left = budget - (time.monotonic() - start)
            if left <= 0:
                pytest.fail(f"{path.name} ran past its budget of {budget} s before cell {index}")
            client.timeout = max(1, int(left))
            client.execute_cell(cell, index)
    return time.monotonic() - start


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # jupyter_client's own, on some Python versions
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, kernel_dir, capsys):
    seconds = run_notebook(path, kernel_dir)
    with capsys.disabled():
        print(f"\n{path.name}: {seconds:.1f} s", file=sys.stderr)
