"""Hours recognised here, reported up to the provincial platform (上报省平台), in batches.

A batch takes every entry of the district not reported yet: hours this district recognised
(program completions, manual and school-based recognitions; not what came from the province)
that stand, and the reversals of entries already reported, so the province cancels them too.
Each entry is reported once (`provincial_report`); a batch is kept and can be downloaded
again. The province answers with an acknowledgement file naming each record accepted or
rejected with its reason; a rejection shows on the teacher's ledger and hours and in the
school's compliance report.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Uuid,
    and_,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.ledger import province_formats
from services.ledger.entries import REVERSAL
from services.ledger.imports import SOURCE, may_import
from services.ledger.models import (
    LedgerEntry,
    ProvincialBatch,
    ProvincialReport,
    TeacherIdNumber,
    TeacherProjection,
)
from shared import pii, xlsx
from shared.auth import Principal
from shared.db import utcnow
from shared.errors import BadRequest, Conflict, NotFound, Unprocessable

FORMAT = province_formats.DEFAULT_EXPORT
BATCH_COLUMN = "上报批次"
ACK_LIMITS = xlsx.SheetLimits(max_rows=1_000_000, max_unpacked_bytes=200 * xlsx.MB)
ACCEPTED = {"接收", "已接收", "通过", "审核通过", "accepted", "成功"}
REJECTED = {"退回", "不通过", "审核不通过", "拒绝", "rejected", "失败"}


def may_exchange(principal: Principal) -> None:
    """The exchange with the province is the district's: the bureau, or the province's client
    holding hours:import without a school (as for imports)."""
    may_import(principal)


def _unreported(district_id: uuid.UUID) -> Select:
    """Entries of the district to report: recognised here and standing, or reversals of
    entries the province has."""
    reversal = aliased(LedgerEntry)
    reported = aliased(ProvincialReport)
    recognised_here = and_(
        LedgerEntry.source.not_in((SOURCE, REVERSAL)),
        ~exists().where(and_(reversal.source == REVERSAL, reversal.reverses_id == LedgerEntry.id)),
    )
    cancels_reported = and_(
        LedgerEntry.source == REVERSAL,
        exists().where(reported.entry_id == LedgerEntry.reverses_id),
    )
    return (
        select(LedgerEntry.id, LedgerEntry.teacher_id)
        .join(TeacherProjection, TeacherProjection.id == LedgerEntry.teacher_id)
        .where(
            TeacherProjection.district_id == district_id,
            recognised_here | cancels_reported,
            ~exists().where(ProvincialReport.entry_id == LedgerEntry.id),
        )
    )


async def create_batch(session: AsyncSession, *, principal: Principal) -> ProvincialBatch:
    """The next batch of the district, holding every entry not reported yet; written in one
    INSERT ... SELECT (a district's first batch may hold years of hours)."""
    may_exchange(principal)
    district_id = principal.district_id
    assert district_id is not None  # may_import refuses a caller without one
    number = (
        await session.scalar(
            select(func.coalesce(func.max(ProvincialBatch.number), 0)).where(
                ProvincialBatch.district_id == district_id
            )
        )
    ) + 1
    batch = ProvincialBatch(district_id=district_id, number=number, created_by=principal.subject)
    session.add(batch)
    try:
        await session.flush()
    except IntegrityError as exc:  # another batch was made at the same moment
        raise Conflict("另一个上报批次正在生成，请稍后再试。", code="batch-in-progress") from exc
    pending = _unreported(district_id).subquery()
    written = await session.execute(
        insert(ProvincialReport).from_select(
            ["entry_id", "teacher_id", "batch_id", "status"],
            select(
                pending.c.id,
                pending.c.teacher_id,
                literal(batch.id, Uuid),
                literal("sent"),
            ),
        )
    )
    if not written.rowcount:  # type: ignore[attr-defined]
        raise Unprocessable("没有待上报的学时记录。", code="nothing-to-report")
    batch.entries = written.rowcount  # type: ignore[attr-defined]
    await session.flush()
    return batch


async def get_batch(
    session: AsyncSession, *, principal: Principal, batch_id: uuid.UUID
) -> ProvincialBatch:
    may_exchange(principal)
    batch = await session.get(ProvincialBatch, batch_id)
    if batch is None or batch.district_id != principal.district_id:
        raise NotFound("没有这个上报批次。", code="unknown-batch")
    return batch


def batches(principal: Principal) -> Select:
    may_exchange(principal)
    return select(ProvincialBatch).where(ProvincialBatch.district_id == principal.district_id)


def batch_name(batch: ProvincialBatch) -> str:
    return f"{batch.number:06d}"


def _words(words: dict[str, str]) -> dict[str, str]:
    """A code's word in the province's file: the first word the map reads as that code."""
    out: dict[str, str] = {}
    for word, code in words.items():
        out.setdefault(code, word)
    return out


def header() -> list[str]:
    return [FORMAT.header_of(f) for f in FORMAT.export_columns()] + [BATCH_COLUMN]


async def batch_rows(session: AsyncSession, batch: ProvincialBatch) -> list[Sequence[Any]]:
    """The batch's lines in the province's columns; identity numbers opened here only."""
    query = (
        select(LedgerEntry, TeacherProjection.name, TeacherIdNumber.id_number_encrypted)
        .join(ProvincialReport, ProvincialReport.entry_id == LedgerEntry.id)
        .join(TeacherProjection, TeacherProjection.id == LedgerEntry.teacher_id)
        .outerjoin(TeacherIdNumber, TeacherIdNumber.teacher_id == LedgerEntry.teacher_id)
        .where(ProvincialReport.batch_id == batch.id)
        .order_by(LedgerEntry.occurred_on, LedgerEntry.id)
    )
    modes, levels = _words(FORMAT.modes), _words(FORMAT.levels)
    categories = _words(FORMAT.categories)
    lines = []
    for entry, name, sealed in (await session.execute(query)).all():
        values = {
            "record_id": str(entry.id),
            "name": name,
            "id_number": pii.decrypt(sealed) if sealed else "",
            "description": (
                f"撤销 {entry.reverses_id}：{entry.reason}"
                if entry.reverses_id
                else entry.description
            ),
            "mode": modes[entry.mode],
            "level": levels[entry.level],
            "category": categories[entry.category],
            "hours": f"{entry.hours:.1f}",
            "credits": f"{entry.credits:.1f}",
            "occurred_on": entry.occurred_on.isoformat(),
        }
        lines.append([values.get(f, "") for f in FORMAT.export_columns()] + [batch_name(batch)])
    return lines


async def acknowledge(
    session: AsyncSession, *, principal: Principal, batch_id: uuid.UUID, content: bytes
) -> dict[str, Any]:
    """Mark the batch's records as the province's acknowledgement file says: columns 记录编号,
    结果 (接收/通过 or 退回/不通过) and 原因. A record not of this batch, or an unknown result,
    is reported by row and nothing of the file is applied."""
    batch = await get_batch(session, principal=principal, batch_id=batch_id)
    if not content:
        raise BadRequest("文件是空的。", code="empty-file")
    rows = await xlsx.read_all(content, ACK_LIMITS, encodings=province_formats.ENCODINGS)
    if not rows:
        raise BadRequest("文件没有表头。", code="bad-columns")
    titles = [h.strip().lstrip("\ufeff") for h in rows[0]]
    columns = {"记录编号": None, "结果": None, "原因": None}
    for i, title in enumerate(titles):
        key = {"审核结果": "结果", "退回原因": "原因", "失败原因": "原因"}.get(title, title)
        if key in columns:
            columns[key] = i
    if columns["记录编号"] is None or columns["结果"] is None:
        raise BadRequest("回执文件应有“记录编号”和“结果”两列（可有“原因”）。", code="bad-columns")
    sent = {
        str(entry_id)
        for entry_id in await session.scalars(
            select(ProvincialReport.entry_id).where(ProvincialReport.batch_id == batch.id)
        )
    }
    errors: list[dict[str, Any]] = []
    marks: dict[str, tuple[str, str]] = {}
    for number, values in enumerate(rows[1:], start=2):
        if not any(v.strip() for v in values):
            continue

        def cell(name: str, values: list[str] = values) -> str:
            index = columns[name]
            return values[index].strip() if index is not None and index < len(values) else ""

        record, result, reason = cell("记录编号"), cell("结果"), cell("原因")
        if record not in sent:
            errors.append({"row": number, "message": f"记录编号 {record} 不在本批次中"})
        elif result in ACCEPTED:
            marks[record] = ("accepted", "")
        elif result in REJECTED:
            marks[record] = ("rejected", reason[:300] or "省平台未说明原因")
        else:
            errors.append({"row": number, "message": f"结果“{result}”无法识别，应为“接收”或“退回”"})
    if errors:
        raise Unprocessable(
            f"回执文件有 {len(errors)} 行无法处理，未做任何标记。",
            code="bad-acknowledgement",
            errors=errors[:100],
        )
    now = utcnow()
    for status in ("accepted", "rejected"):
        by_reason: dict[str, list[uuid.UUID]] = {}
        for record, (mark, reason) in marks.items():
            if mark == status:
                by_reason.setdefault(reason, []).append(uuid.UUID(record))
        for reason, ids in by_reason.items():
            await session.execute(
                update(ProvincialReport)
                .where(ProvincialReport.entry_id.in_(ids))
                .values(status=status, reason=reason, acknowledged_at=now)
            )
    counts = dict(
        (
            await session.execute(
                select(ProvincialReport.status, func.count())
                .where(ProvincialReport.batch_id == batch.id)
                .group_by(ProvincialReport.status)
            )
        ).all()
    )
    batch.accepted, batch.rejected = counts.get("accepted", 0), counts.get("rejected", 0)
    batch.acknowledged_at = now
    await session.flush()
    return {"batch_id": str(batch.id), "accepted": batch.accepted, "rejected": batch.rejected}


async def rejections(
    session: AsyncSession,
    *,
    district_id: uuid.UUID,
    teacher_id: uuid.UUID | None = None,
    school_id: uuid.UUID | None = None,
    visible: ColumnElement[bool] | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Entries the province rejected, with its reason, for a teacher or a school (or the
    district), newest batch first; `visible`: a teacher's own view leaves out what R17
    withholds (summary.visible_to)."""
    query = (
        select(
            ProvincialReport.entry_id,
            ProvincialReport.teacher_id,
            ProvincialReport.reason,
            ProvincialBatch.number,
            LedgerEntry.hours,
            LedgerEntry.occurred_on,
            LedgerEntry.description,
            TeacherProjection.name,
            TeacherProjection.school_id,
        )
        .join(ProvincialBatch, ProvincialBatch.id == ProvincialReport.batch_id)
        .join(LedgerEntry, LedgerEntry.id == ProvincialReport.entry_id)
        .join(TeacherProjection, TeacherProjection.id == ProvincialReport.teacher_id)
        .where(
            ProvincialReport.status == "rejected",
            TeacherProjection.district_id == district_id,
        )
        .order_by(ProvincialBatch.number.desc(), LedgerEntry.occurred_on)
        .limit(limit)
    )
    if teacher_id is not None:
        query = query.where(ProvincialReport.teacher_id == teacher_id)
    if school_id is not None:
        query = query.where(TeacherProjection.school_id == school_id)
    if visible is not None:
        query = query.where(visible)
    return [
        {
            "entry_id": str(r.entry_id),
            "teacher_id": str(r.teacher_id),
            "name": r.name,
            "school_id": str(r.school_id),
            "batch": f"{r.number:06d}",
            "hours": f"{r.hours:.1f}",
            "occurred_on": r.occurred_on.isoformat(),
            "description": r.description,
            "reason": r.reason,
        }
        for r in (await session.execute(query)).all()
    ]
