"""Text that people typed, made fit for a worksheet cell."""

from __future__ import annotations

from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE


def cells(values: Any) -> list[Any]:
    """The row with the control characters XLSX cannot hold taken out of its text (a name
    pasted with a stray one would otherwise make the whole report fail)."""
    return [ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in values]
