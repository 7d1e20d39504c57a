"""`python -m workbook`: write `plugin/` from the notebooks (`--check` to compare only; see `workbook.exporter`)."""

import sys

from workbook.exporter import main

sys.exit(main())
