"""`python -m plugin`: the command line (see `plugin/cli.py`, generated from notebooks/07_ship_it.ipynb)."""

from plugin.cli import main

raise SystemExit(main())
