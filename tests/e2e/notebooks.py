"""What the committed notebooks say about themselves: which cells should show what, which may fail."""

from __future__ import annotations

import re

import nbformat

__all__ = ["error_outputs", "mermaid_blocks", "cells_whose_outputs_contain", "output_text"]

_MERMAID_FENCE = re.compile(r"^\s*```mermaid\s*$", re.MULTILINE)


def output_text(cell: nbformat.NotebookNode) -> str:
    """The text a code cell's stored outputs show (streams, plain-text results, tracebacks)."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(str(output.data.get("text/plain", "")))
        elif output.output_type == "error":
            parts.append("\n".join(output.traceback))
    return "\n".join(parts)


def cells_whose_outputs_contain(nb: nbformat.NotebookNode, text: str) -> list[int]:
    """Indices (counting every cell) of the code cells whose stored outputs contain `text`."""
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and text in output_text(cell)]


def error_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """`cell N: Ename: value` for every error output in a cell that is not tagged `raises-exception`."""
    return [
        f"cell {i}: {output.ename}: {output.evalue}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and "raises-exception" not in cell.metadata.get("tags", [])
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]


def mermaid_blocks(nb: nbformat.NotebookNode) -> int:
    """How many ```mermaid blocks the markdown cells hold."""
    return sum(len(_MERMAID_FENCE.findall(cell.source)) for cell in nb.cells if cell.cell_type == "markdown")
