"""04_server.ipynb, run top to bottom through JupyterLab's menus, starts its server and shows the sample quote."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Page, expect

from .conftest import ROOT, Artifacts
from .jupyterlab import NotebookPage
from .notebooks import cells_whose_outputs_contain, error_outputs
from .processes import Service

pytestmark = pytest.mark.e2e

NOTEBOOK = "04_server.ipynb"
QUOTE = "169.595"  # AAPL in the embedded sample data
README_SCREENSHOT = ROOT / "docs" / "jupyterlab.png"


def test_server_notebook_runs_every_cell_in_jupyterlab_and_shows_the_quote(
    jupyterlab: Service, workbook_copy: Path, page: Page, artifacts: Artifacts, offsite_requests: list[str]
) -> None:
    stored = nbformat.read(workbook_copy / NOTEBOOK, as_version=4)
    quote_cells = cells_whose_outputs_contain(stored, QUOTE)
    assert quote_cells, f"{NOTEBOOK} stores no output showing {QUOTE}: which cell asks the server for AAPL?"

    notebook = NotebookPage(page, jupyterlab.url, NOTEBOOK).open()
    notebook.clear_all_outputs()  # from here on, every output on the page comes from this run
    notebook.run_all_cells(timeout=60)

    unexecuted = notebook.unexecuted_code_cells()
    if unexecuted:
        shown = "\n".join(f"cell {i}:\n{text}" for i, text in notebook.stderr_outputs().items())
        pytest.fail(f"Run All stopped early: cells {unexecuted} never ran. Errors on the page:\n{shown}")
    for index in quote_cells:
        expect(notebook.outputs(index), f"cell {index} shows the {QUOTE} quote").to_contain_text(QUOTE)

    # The page shows a traceback as plain stderr text; the saved file says exactly which outputs are errors.
    notebook.save()
    ran = nbformat.read(workbook_copy / NOTEBOOK, as_version=4)
    assert error_outputs(ran) == []

    notebook.scroll_to(quote_cells[0], above=100)  # the request, its answer, and the prose around them
    screenshot = artifacts.screenshot(page, "jupyterlab-04_server")
    # The README's picture is this screenshot; refresh it with `E2E_README_SCREENSHOT=1 make test-e2e`.
    if os.environ.get("E2E_README_SCREENSHOT"):
        README_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copy(screenshot, README_SCREENSHOT)
    assert offsite_requests == []
