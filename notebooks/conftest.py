"""Notebooks under test use the embedded sample prices: offline, and the same outputs on every run.

Set here, before nbval starts each kernel (kernels inherit this process's environment), so `pytest notebooks` works
on its own as well as through `make test`. In JupyterLab, a notebook reads `PRICE_SOURCE` itself (default `auto`).
"""

import os

os.environ.setdefault("PRICE_SOURCE", "sample")
