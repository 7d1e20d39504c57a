"""00_what_is_a_plugin.ipynb's sequence diagram renders in JupyterLab as a picture, not as a parse warning."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Page, expect

from .conftest import Artifacts
from .jupyterlab import NotebookPage
from .notebooks import mermaid_blocks
from .processes import Service

pytestmark = pytest.mark.e2e

NOTEBOOK = "00_what_is_a_plugin.ipynb"


def test_intro_notebook_renders_its_mermaid_diagram(
    jupyterlab: Service, workbook_copy: Path, page: Page, artifacts: Artifacts, offsite_requests: list[str]
) -> None:
    expected = mermaid_blocks(nbformat.read(workbook_copy / NOTEBOOK, as_version=4))
    assert expected, f"{NOTEBOOK} has no ```mermaid block"

    notebook = NotebookPage(page, jupyterlab.url, NOTEBOOK).open()
    diagrams = notebook.notebook.locator(".jp-RenderedMermaid")
    expect(diagrams).to_have_count(expected)  # each appears once mermaid has rendered (or rejected) it
    warnings = notebook.notebook.locator(".jp-RenderedMermaid.jp-mod-warning")
    if warnings.count():
        pytest.fail(f"mermaid could not parse a diagram:\n{warnings.first.text_content()}")

    for diagram in diagrams.all():
        image = diagram.locator("img[src^='data:image/svg+xml']")
        expect(image).to_be_visible()
        width, height = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert width > 100 and height > 100, f"the diagram rendered as a {width}x{height} picture"

    diagrams.first.evaluate("diagram => diagram.scrollIntoView({block: 'center'})")
    artifacts.screenshot(page, "jupyterlab-00_what_is_a_plugin")
    assert offsite_requests == []
