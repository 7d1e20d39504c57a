"""Drive a notebook in JupyterLab the way a reader does: open it, use the menus, read what the page shows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from playwright.sync_api import Locator, Page, expect

__all__ = ["NotebookPage"]

_EXECUTED = re.compile(r"^\[\d+\]:$")
_KERNEL_IDLE = re.compile(r"\|\s*Idle$")


@dataclass
class NotebookPage:
    """One notebook open in a JupyterLab tab."""

    page: Page
    lab_url: str
    name: str

    def open(self, *, timeout: float = 30.0) -> NotebookPage:
        """Load JupyterLab on the notebook (`?reset`: a fresh layout, no tabs restored from an earlier test)."""
        self.page.goto(f"{self.lab_url}/lab/tree/{quote(self.name)}?reset")
        expect(self.cells.first).to_be_visible(timeout=timeout * 1000)
        self.wait_for_kernel_idle(timeout=timeout)
        return self

    @property
    def notebook(self) -> Locator:
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")

    @property
    def cells(self) -> Locator:
        return self.notebook.locator(".jp-Cell")

    @property
    def code_cells(self) -> Locator:
        return self.notebook.locator(".jp-Cell.jp-CodeCell")

    @property
    def kernel_status(self) -> Locator:
        """The status bar's kernel item, e.g. "Python 3 (ipykernel) | Idle"."""
        return self.page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\|\s*\w+$")).first

    def wait_for_kernel_idle(self, *, timeout: float) -> None:
        """Wait until the notebook's kernel is started and idle (running cells before that opens a dialog)."""
        expect(self.kernel_status).to_have_text(_KERNEL_IDLE, timeout=timeout * 1000)

    def menu(self, *labels: str) -> None:
        """Click through the menu bar, e.g. `menu("Run", "Run All Cells")`."""
        first, *rest = labels
        self.page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^{re.escape(first)}$")).click()
        for label in rest:
            item = self.page.locator(".lm-Menu:not(.lm-MenuBar) .lm-Menu-item:not(.lm-mod-hidden)").filter(
                has=self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(label)}$"))
            )
            item.first.click()

    def clear_all_outputs(self) -> None:
        """Edit > Clear Outputs of All Cells, so that whatever shows afterwards comes from this run."""
        self.menu("Edit", "Clear Outputs of All Cells")
        expect(self.notebook.locator(".jp-OutputArea-output")).to_have_count(0)

    def run_all_cells(self, *, timeout: float) -> None:
        """Run > Run All Cells, then wait until no cell is queued or running and the kernel is idle again.

        Run All marks every cell `[*]` at once; when a cell fails, JupyterLab stops and un-queues the rest.
        So the run is over when no `[*]` prompt is left and the kernel reports idle.
        """
        self.menu("Run", "Run All Cells")
        running = self.notebook.locator(".jp-InputPrompt", has_text="[*]")
        expect(running).to_have_count(0, timeout=timeout * 1000)
        self.wait_for_kernel_idle(timeout=timeout)

    def save(self, *, timeout: float = 10.0) -> None:
        """File > Save Notebook, then wait for the tab to lose its unsaved-changes mark."""
        self.menu("File", "Save Notebook")
        dirty_tab = self.page.locator(".lm-TabBar-tab.jp-mod-dirty")
        expect(dirty_tab).to_have_count(0, timeout=timeout * 1000)

    def unexecuted_code_cells(self) -> list[int]:
        """Indices (counting every cell, as in the .ipynb) of the code cells whose prompt shows no count."""
        prompts = self.cells.evaluate_all(
            "cells => cells.map(c => c.classList.contains('jp-CodeCell')"
            " ? c.querySelector('.jp-InputPrompt').textContent.trim() : null)"
        )
        return [i for i, text in enumerate(prompts) if text is not None and not _EXECUTED.match(text)]

    def stderr_outputs(self) -> dict[int, str]:
        """Cell index -> the stderr text (warnings, tracebacks) its outputs show; JupyterLab tints these red."""
        texts = self.cells.evaluate_all(
            "cells => cells.map(c => Array.from(c.querySelectorAll("
            "'.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]'))"
            ".map(o => o.innerText).join('\\n'))"
        )
        return {i: text for i, text in enumerate(texts) if text}

    def output_text(self, cell_index: int) -> str:
        """Everything the output area of cell `cell_index` (counting every cell, as in the .ipynb) shows."""
        return self.cells.nth(cell_index).locator(".jp-OutputArea").inner_text()
