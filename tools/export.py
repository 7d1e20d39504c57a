"""Kept for habit: `python tools/export.py` is `python -m workbook` (see workbook/export.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbook.exporter import main  # noqa: E402

sys.exit(main())
