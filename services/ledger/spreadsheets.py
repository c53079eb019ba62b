"""Formats of the ledger's files; the files themselves are written by shared.xlsx."""

from __future__ import annotations

from collections.abc import Sequence

from shared.xlsx import XLSX, csv_bytes, csv_part, xlsx_bytes

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

CSV = "text/csv; charset=utf-8"


def file_responses(*media_types: str) -> dict[int | str, dict]:
    """OpenAPI `responses` of an endpoint that answers in these formats (by Accept/format),
    the default first; files are binary, so generated clients download them as bytes. The
    route takes `response_class=Response`, or FastAPI lists a JSON answer first."""
    return {
        200: {
            "description": "the file, in the format asked for (the first by default)",
            "content": {media: {"schema": _schema(media)} for media in media_types},
        }
    }


def _schema(media_type: str) -> dict[str, str]:
    if media_type == "application/json":
        return {"type": "object"}
    return {"type": "string", "format": "binary"}  # CSV too: bytes, a BOM or GBK kept


PDF = "application/pdf"


def pick_format(requested: str | None, accept: str | None, allowed: Sequence[str]) -> str:
    """The `format` query parameter wins; otherwise the Accept header; otherwise the first."""
    if requested:
        return requested
    accept = accept or ""
    for name, mime in (("csv", "text/csv"), ("xlsx", XLSX), ("pdf", PDF), ("json", "json")):
        if mime in accept and name in allowed:
            return name
    return allowed[0]
