"""The notebooks run top to bottom (smoke mode) and are stored with their outputs cleared.

Each notebook is executed with nbclient in a kernel that uses THIS interpreter: a kernelspec
pointing at ``sys.executable`` is written to a temporary ``JUPYTER_PATH``, so a fresh CI virtual
environment needs no ``ipykernel install``. Outputs go to a temporary folder
(``COVID_CXR_NOTEBOOK_OUT``); ``COVID_CXR_NOTEBOOK_SMOKE=1`` keeps the sizes tiny.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.references import require

nbformat = require("nbformat")
nbclient = require("nbclient")
require("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_quickstart.ipynb", "02_reproduce_coronet.ipynb", "03_authors_weights_and_gradcam.ipynb"]
KERNEL = "covid-cxr-test"


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({sys.executable})", "language": "python"}))
    return root


def test_notebooks_exist_with_outputs_cleared():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES
    for name in NAMES:
        raw = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
        assert all(cell.get("id") for cell in raw["cells"]), f"{name}: a cell without an id (nbformat 5 ids)"
        book = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(book)
        for cell in book.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (
                    f"{name}: outputs not cleared (jupyter nbconvert --clear-output --inplace {name})")


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, kernel_dir, tmp_path, monkeypatch, shared_data):
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_dir))
    monkeypatch.setenv("COVID_CXR_NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("COVID_CXR_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(book, kernel_name=KERNEL, timeout=300,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()  # raises CellExecutionError at the first cell that fails
    code = [c for c in book.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "every code cell ran, in order"
    assert any(tmp_path.iterdir()), "the notebook wrote nothing under COVID_CXR_NOTEBOOK_OUT"
    if name.startswith("01"):
        assert (tmp_path / "demo" / "run" / "report.md").is_file()
    if name.startswith("03"):
        assert list((tmp_path / "gradcam").glob("*_gradcam.png"))
