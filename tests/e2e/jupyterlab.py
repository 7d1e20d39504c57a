"""Drive a notebook in JupyterLab the way a reader does: open it, use the menus, read what the page shows."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import quote

from playwright.sync_api import Locator, Page, expect

__all__ = ["NotebookPage"]

_EXECUTED = re.compile(r"^\[\d+\]:$")
_COUNT = re.compile(r"\[\d+\]")
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
        expect(self.notebook.locator(".jp-InputPrompt", has_text=_COUNT)).to_have_count(0)

    def run_all_cells(self, *, timeout: float, settle: float = 2.0) -> None:
        """Run > Run All Cells, then wait until every code cell has run, or the run has visibly stopped.

        The `[*]` marks are no guide to the end: after an error, even in a cell tagged `raises-exception`,
        JupyterLab clears them from the cells still queued while the kernel goes on running those cells
        (the tag tells the kernel not to abort its queue). So the run is complete when every code cell shows
        an execution count and the kernel is idle; it has stopped early when cells are left without a count,
        none is queued, and the kernel has stayed idle for `settle` seconds. Both cases return; the caller
        checks `unexecuted_code_cells()`.
        """
        self.menu("Run", "Run All Cells")
        deadline = time.monotonic() + timeout
        idle_since: float | None = None
        while True:
            now = time.monotonic()
            idle = bool(_KERNEL_IDLE.search(self.kernel_status.inner_text()))
            prompts = self.code_cells.locator(".jp-InputPrompt").all_inner_texts()
            if idle and all(_EXECUTED.match(text.strip()) for text in prompts):
                return
            if not idle or any("*" in text for text in prompts):
                idle_since = None
            elif idle_since is None:
                idle_since = now
            elif now - idle_since >= settle:
                return
            if now >= deadline:
                raise TimeoutError(f"Run All still going after {timeout:.0f} s: prompts {prompts}")
            self.page.wait_for_timeout(50)

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

    def scroll_to(self, cell_index: int, *, above: int = 0) -> None:
        """Scroll cell `cell_index` to the top of the notebook, leaving `above` pixels of what precedes it."""
        self.cells.nth(cell_index).evaluate(
            "(cell, above) => { cell.scrollIntoView({block: 'start'});"
            " cell.closest('.jp-WindowedPanel-outer').scrollBy(0, -above); }",
            above,
        )

    def outputs(self, cell_index: int) -> Locator:
        """The output area of cell `cell_index` (counting every cell, as in the .ipynb)."""
        return self.cells.nth(cell_index).locator(".jp-OutputArea")
