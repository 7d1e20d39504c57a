"""Notebooks under test use the embedded sample prices: offline, and the same outputs on every run.

Every notebook already defaults to `sample` when `PRICE_SOURCE` is unset. Setting it here, before nbval starts each
kernel (kernels inherit this process's environment), also covers the commands a notebook runs (`python -m plugin`
in notebook 07, whose own default is `auto`), so `pytest notebooks` works on its own as well as through `make test`.
For live prices in JupyterLab: `PRICE_SOURCE=auto make lab`.
"""

import os

os.environ.setdefault("PRICE_SOURCE", "sample")
