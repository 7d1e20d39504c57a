"""A ChatGPT plugin for real-time stock and crypto prices, exported from the workbook in `notebooks/`.

Every module here except this file and `__main__.py` is generated from a notebook: edit the notebook named in
a module's first line, then run `make export`. Importing the package is cheap; nothing heavy loads until used.
"""

__version__ = "0.1.0"
