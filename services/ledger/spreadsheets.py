"""Formats of the ledger's files; the files themselves are written by shared.xlsx."""

from __future__ import annotations

from shared.xlsx import (
    CSV,
    PDF,
    XLSX,
    csv_bytes,
    csv_part,
    file_responses,
    pick_format,
    xlsx_bytes,
)

__all__ = [
    "CSV",
    "PDF",
    "XLSX",
    "csv_bytes",
    "csv_part",
    "file_responses",
    "pick_format",
    "xlsx_bytes",
]
