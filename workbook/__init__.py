"""The workbook's own machinery: export the notebooks into `plugin/`.

A notebook's last cell calls `export`, as nbdev notebooks end with `nbdev_export()`::

    from workbook import export

    export("02_prices.ipynb")

From the shell, `python -m workbook` (what `make export` runs) writes every module; `--check` only compares.
"""

from workbook.exporter import export

__all__ = ["export"]
