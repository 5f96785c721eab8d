"""Every tutorial executes, at small sizes, without a cell error.

Each ``tutorials/*.md`` (MyST markdown, the source of truth) is converted with jupytext
and run top to bottom with nbclient in a python3 kernel, with
``SYNBENCH_TUTORIAL_SMALL=1`` so that it shrinks n and durations. The tutorials assert
their results against the reference kernel themselves, so a wrong number fails here too.
"""

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

TUTORIALS = sorted((Path(__file__).parent.parent / "tutorials").glob("*.md"))
CELL_TIMEOUT_S = 600


def test_tutorials_are_found():
    assert TUTORIALS, "no tutorials/*.md found"


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("SYNBENCH_TUTORIAL_SMALL", "1")
    monkeypatch.setenv("SYNBENCH_CACHE_DIR", str(tmp_path / "cache"))  # synbench.fastest's
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    errors = [out for cell in notebook.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors
