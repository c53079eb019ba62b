"""Provincial platform files (省平台学时记录): validated row by row, posted once per record.

A file is stored in the database (sealed), then a worker of any replica claims it
(LedgerImports) and processes it in chunks, each its own transaction renewing the claim, so
progress shows while it runs and a restart, here or on another replica, resumes where it
stopped: rows are idempotent on the provincial record id (source "provincial_import"), so a
re-upload or a resumed run never posts a record twice. Imported history emits one
completion event, not one per row.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import structlog
from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Uuid,
    any_,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger import balances, policies, province_formats
from services.ledger.entries import REVERSAL, academic_year_of
from services.ledger.models import (
    LedgerEntry,
    LedgerImport,
    LedgerImportError,
    ProvincialRecord,
    ProvincialReport,
    TeacherIdNumber,
    TeacherProjection,
    infra,
)
from services.ledger.policy import (
    Policy,
    PolicyRules,
    credits_for,
    holds_degree,
)
from services.ledger.risk import today
from shared import pii, xlsx
from shared.auth import Principal, Role
from shared.db import Database, utcnow
from shared.errors import BadRequest, Forbidden, NotFound
from shared.events.ledger import ImportCompleted
from shared.messaging.outbox import add_event
from shared.units import to_hours
from shared.worker import Lease, claim_oldest

log = structlog.get_logger("ledger.imports")

SOURCE = "provincial_import"
# The suite's own columns (province_formats.SHIXUN_1), what GET /v1/ledger/export writes.
COLUMNS = tuple(province_formats.SHIXUN_1.export_columns())
CHUNK = 10_000
# The provincial platform's yearly export of a district: a million rows fit.
LIMITS = xlsx.SheetLimits(max_rows=1_000_000, max_unpacked_bytes=400 * xlsx.MB)
MAX_HOURS = Decimal("1000.0")
MODES_OF_IMPORT = ("all_or_nothing", "valid_rows")


def may_import(principal: Principal) -> None:
    """The bureau, or a district-wide client with hours:import (the provincial platform).

    A file names teachers of any school of the district, so a client bound to one school
    may not import, nor see the district's imports.
    """
    principal.require(Role.BUREAU_ADMIN, Role.SERVICE)
    principal.require_scope("hours:import")
    if principal.role is Role.SERVICE and principal.school_id is not None:
        raise Forbidden("A school's client does not import for the district.", code="out-of-scope")


async def submit(
    session: AsyncSession,
    *,
    principal: Principal,
    content: bytes,
    filename: str,
    fmt: str,
    mode: str = "valid_rows",
    column_map: str | None = None,
) -> tuple[LedgerImport, bool]:
    """Store a file for processing; the same file again (in the same mode) returns the first
    import. A header that fits no column map, a file that is neither UTF-8 nor GBK text nor
    XLSX, or one beyond LIMITS is refused here (4xx) and nothing is stored."""
    may_import(principal)
    if principal.district_id is None:
        raise Forbidden("This caller has no district.")
    if not content:
        raise BadRequest("文件是空的。", code="empty-file")
    if mode not in MODES_OF_IMPORT:
        raise BadRequest("mode 应为 all_or_nothing 或 valid_rows。", code="bad-mode")
    if column_map is not None and column_map not in province_formats.MAPS:
        raise BadRequest(
            f"没有名为 {column_map} 的列映射；可用：{'、'.join(province_formats.MAPS)}。",
            code="unknown-column-map",
        )
    # The same file in the other mode is another import (one refused whole may be re-sent
    # to take its good rows).
    digest = hashlib.sha256(content + mode.encode()).hexdigest()
    existing = await session.scalar(
        select(LedgerImport).where(
            LedgerImport.district_id == principal.district_id, LedgerImport.sha256 == digest
        )
    )
    if existing is not None:
        return existing, False
    header, rows = await _checked_header(content)
    if header is None:
        raise BadRequest("文件没有表头。", code="bad-columns")
    try:
        chosen, _ = province_formats.pick(header, column_map)
    except province_formats.HeaderError as exc:
        raise BadRequest(str(exc), code="bad-columns") from exc
    job = LedgerImport(
        district_id=principal.district_id,
        sha256=digest,
        filename=filename[:200],
        format=fmt,
        status="queued",
        total_rows=rows,
        mode=mode,
        column_map=chosen.name,
        created_by=principal.subject,
        # In the database, so whichever replica's worker claims it can read it; sealed at rest.
        content=pii.seal(content),
    )
    session.add(job)
    await session.flush()
    return job, True


async def _checked_header(content: bytes) -> tuple[list[str] | None, int]:
    """The header and the number of data rows, after reading the whole file once in a
    worker thread: a file beyond LIMITS, or one that is not CSV (UTF-8 or GBK) or XLSX, is
    refused (413/422) before it is stored."""

    def read() -> tuple[list[str] | None, int]:
        rows = xlsx.iter_rows(content, LIMITS, encodings=province_formats.ENCODINGS)
        header = next(rows, None)
        count = sum(1 for values in rows if any(v.strip() for v in values))
        return header, count

    return await asyncio.to_thread(read)


@dataclass
class Row:
    number: int
    record_id: str
    # The teacher's id here (shixun/1), or the keyed hash of the identity number.
    key: uuid.UUID | str
    # The number as the row gives it and the name, to name the person in an error, masked.
    id_number: str
    name: str
    hours: Decimal
    mode: str
    level: str
    category: str
    occurred_on: dt.date
    description: str
    degree: str
    trainer: bool | None
    digest: str = ""

    def who(self) -> str:
        if not self.id_number:
            return f"教师 {self.key}"
        name = f"（{self.name}）" if self.name else ""
        return f"身份证号 {pii.mask(self.id_number, 4, 2)}{name}"


def _one_of(value: str, words: dict[str, str], what: str) -> str:
    code = words.get(value.strip()) or words.get(value.strip().lower())
    if code is None:
        allowed = "、".join(w for w in words if not w.isascii())
        raise ValueError(f"{what}“{value.strip()}”无法识别，应为{allowed}之一")
    return code


class Memo:
    """What an import worked out for a value, as a file repeats each teacher's number and
    each day and number of hours many times: the checked number and its keyed hash. Kept
    for one import only (the numbers are personal data), and bounded."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self.ids: dict[str, tuple[str, str]] = {}

    def keyed(self, text: str) -> tuple[str, str]:
        found = self.ids.get(text)
        if found is None:
            number = province_formats.normalise_id_number(text)
            if len(self.ids) >= self.limit:
                self.ids.clear()
            found = self.ids[text] = (number, pii.lookup_hash(number))
        return found


@lru_cache(maxsize=4096)
def _hours(text: str) -> Decimal:
    return to_hours(text)


def parse(
    number: int,
    values: dict[str, str],
    column_map: province_formats.ColumnMap,
    today: dt.date,
    memo: Memo | None = None,
) -> Row:
    """One row, or ValueError saying, in Chinese, what is wrong in words the uploader can
    act on."""
    record_id = values.get("record_id", "").strip()
    if not record_id or len(record_id) > 100:
        raise ValueError("记录编号不能为空，且不超过100个字符")
    name = values.get("name", "").strip()[:50]
    id_number = ""
    if column_map.key == "id_number":
        id_number, key = (memo or Memo()).keyed(values.get("id_number", ""))
    else:
        try:
            key: uuid.UUID | str = uuid.UUID(values.get("teacher_id", "").strip())
        except ValueError as exc:
            raise ValueError(f"教师ID“{values.get('teacher_id', '')}”格式不正确") from exc
    text = values.get("hours", "").strip()
    try:
        hours = _hours(text)
    except ValueError as exc:
        raise ValueError(f"学时“{text}”应为最多一位小数的数字") from exc
    if not Decimal(0) < hours <= MAX_HOURS:
        raise ValueError(f"学时“{text}”应大于0且不超过{MAX_HOURS}")
    mode = _one_of(values.get("mode", ""), column_map.modes, "培训形式")
    level = _one_of(values.get("level", ""), column_map.levels, "培训级别")
    category = _one_of(values.get("category", ""), column_map.categories, "培训类别")
    occurred_on = province_formats.parse_date(values.get("occurred_on", ""))
    if occurred_on > today:
        raise ValueError(f"培训日期 {occurred_on.isoformat()} 晚于今天")
    degree = values.get("degree", "").strip()
    if degree:
        degree = _one_of(degree, column_map.degrees, "学历")
    trainer_text = values.get("trainer", "").strip().lower()
    if trainer_text not in province_formats.YES_NO:
        raise ValueError("是否培训者应为“是”或“否”")
    description = values.get("description", "").strip()
    extras = [
        f"{province_formats.FIELD_NAMES[f]}：{values[f].strip()}"
        for f in ("institution", "certificate")
        if values.get(f, "").strip()
    ]
    if extras:
        description = "；".join([description, *extras]) if description else "；".join(extras)
    row = Row(
        number=number,
        record_id=record_id,
        key=key,
        id_number=id_number,
        name=name,
        hours=hours,
        mode=mode,
        level=level,
        category=category,
        occurred_on=occurred_on,
        description=description[:300],
        degree=degree,
        trainer=province_formats.YES_NO[trainer_text],
    )
    # What the record says: the same again is a duplicate, anything else a correction.
    said = f"{key}\x1f{hours}\x1f{mode}\x1f{level}\x1f{category}\x1f{occurred_on}\x1f{description}"
    row.digest = hashlib.sha256(said.encode()).hexdigest()
    return row


class LeaseLost(Exception):
    """The import's claim ran out and another worker took it over."""


# A chunk commits well within the lease, renewing it; a stopped worker's imports are taken
# up by another replica once it runs out.
LEASE_SECONDS = 120.0
MAX_ATTEMPTS = 5


async def claim_next(database: Database, lease: Lease) -> uuid.UUID | None:
    """The oldest unfinished import no one holds, now held by this worker."""
    return await claim_oldest(database, LedgerImport, lease, status="running")


async def _give_up(database: Database, import_id: uuid.UUID, reason: str) -> None:
    log.error("import given up", import_id=str(import_id), reason=reason)
    async with database.sessions() as session:
        await session.execute(
            insert(LedgerImportError.__table__).values(import_id=import_id, row=0, message=reason)
        )
        await session.execute(
            update(LedgerImport)
            .where(LedgerImport.id == import_id)
            .values(status="failed", finished_at=utcnow(), content=b"")
        )
        await session.commit()


async def process(database: Database, import_id: uuid.UUID, lease: Lease) -> None:
    """Run (or resume) an import claimed with `lease` to its end, one transaction per chunk.

    all_or_nothing first reads the whole file checking every row (teachers too) and writes
    nothing if any is wrong, only the errors; valid_rows writes each chunk's good rows."""
    async with database.sessions() as session:
        job = await session.get(LedgerImport, import_id)
        if job is None or job.status not in ("queued", "running"):
            return
        if job.claimed_by != lease.owner:
            return
        district_id, skip, attempts = job.district_id, job.processed_rows, job.attempts
        sealed, mode, map_name = job.content, job.mode, job.column_map
    if attempts > MAX_ATTEMPTS:
        await _give_up(database, import_id, f"导入已失败{MAX_ATTEMPTS}次，未能完成；详见服务日志")
        return
    if not sealed:
        await _give_up(database, import_id, "上传的文件未保留，请重新上传")
        return
    content = pii.unseal(sealed)
    async with database.sessions() as session:
        in_district = await policies.versions(session, district_id)
    context = _Context(
        import_id=import_id,
        district_id=district_id,
        in_district=in_district,
        lease=lease,
        today=today(),
    )
    if mode == "all_or_nothing" and skip == 0:
        async with database.sessions() as session:  # a check interrupted before: anew
            await session.execute(
                delete(LedgerImportError).where(LedgerImportError.import_id == import_id)
            )
            await session.commit()
        errors = 0
        async for parsed in _parsed(content, map_name, context, skip=0):
            checked = await _check(database, context, parsed)
            errors += len(checked.errors)
            if checked.errors:
                async with database.sessions() as session:
                    await session.execute(insert(LedgerImportError.__table__), checked.errors)
                    await session.commit()
            await _renew(database, context)
        if errors:
            async with database.sessions() as session:
                await _finish(session, context, failed=errors, status="failed")
                await session.commit()
            return
    async for parsed in _parsed(content, map_name, context, skip=skip):
        await _chunk(database, context, parsed)
    async with database.sessions() as session:
        await _finish(session, context)
        await session.commit()


@dataclass
class _Context:
    import_id: uuid.UUID
    district_id: uuid.UUID
    in_district: list[Policy]
    lease: Lease
    today: dt.date
    column_map: province_formats.ColumnMap = province_formats.SHIXUN_1
    # Credits by (the day's policy, mode, hours): a file repeats a few values a million times.
    credits: dict[tuple[dt.date, str, Decimal], Decimal] = field(default_factory=dict)
    rules_on: dict[dt.date, PolicyRules] = field(default_factory=dict)

    def credits_of(self, row: Row) -> Decimal:
        key = (row.occurred_on, row.mode, row.hours)
        found = self.credits.get(key)
        if found is None:
            rules = self.rules_on.get(row.occurred_on)
            if rules is None:
                rules = self.rules_on[row.occurred_on] = policies.pick(
                    self.in_district, row.occurred_on
                ).rules
            found = self.credits[key] = credits_for(rules, row.mode, row.hours)
        return found


@dataclass
class _Parsed:
    """A chunk of the file, parsed: its rows, the refused ones, and how many it held."""

    rows: list[Row]
    errors: list[dict[str, Any]]
    count: int


def _parsed_chunks(
    content: bytes, map_name: str, context: _Context, skip: int
) -> Iterator[_Parsed]:
    """The file's data rows after the first `skip`, parsed, in chunks (blocking: pure CPU,
    run in a worker thread)."""
    rows = xlsx.iter_rows(content, LIMITS, encodings=province_formats.ENCODINGS)
    header = next(rows, None)
    if header is None:
        return
    context.column_map, fields = province_formats.pick(header, map_name or None)
    named = [(i, f) for i, f in enumerate(fields) if f is not None]
    seen = 0
    memo = Memo()
    parsed: list[Row] = []
    errors: list[dict[str, Any]] = []
    count = 0
    # The row's line in the file: the header is line 1.
    for number, values in enumerate(rows, start=2):
        if not "".join(values).strip():  # a blank line (in C: a genexpr here cost 15 %)
            continue
        seen += 1
        if seen <= skip:
            continue
        size = len(values)
        try:
            parsed.append(
                parse(
                    number,
                    {f: values[i] for i, f in named if i < size},
                    context.column_map,
                    context.today,
                    memo,
                )
            )
        except ValueError as exc:
            errors.append(
                {"import_id": context.import_id, "row": number, "message": str(exc)[:500]}
            )
        count += 1
        if count >= CHUNK:
            yield _Parsed(parsed, errors, count)
            parsed, errors, count = [], [], 0
    if count:
        yield _Parsed(parsed, errors, count)


async def _parsed(
    content: bytes, map_name: str, context: _Context, *, skip: int
) -> AsyncIterator[_Parsed]:
    """The parsed chunks, each read and parsed in a worker thread while the one before is
    written: parsing overlaps the database's work on the previous chunk."""
    chunks = _parsed_chunks(content, map_name, context, skip)
    ahead = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
    try:
        while (chunk := await ahead) is not None:
            ahead = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
            yield chunk
    finally:
        if not ahead.done():
            await asyncio.wait([ahead])  # a generator is never left running in its thread


async def _renew(database: Database, context: _Context) -> None:
    async with database.sessions() as session:
        held = await session.execute(
            update(LedgerImport)
            .where(
                LedgerImport.id == context.import_id,
                LedgerImport.claimed_by == context.lease.owner,
            )
            .values(claimed_until=context.lease.until())
        )
        if held.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(context.import_id)
        await session.commit()


async def _finish(
    session: AsyncSession, context: _Context, *, failed: int = 0, status: str = "done"
) -> None:
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "content": b""}
    if failed:
        values["failed"] = failed
    held = await session.execute(
        update(LedgerImport)
        .where(LedgerImport.id == context.import_id, LedgerImport.claimed_by == context.lease.owner)
        .values(values)
    )
    if held.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(context.import_id)
    job = await session.get(LedgerImport, context.import_id)
    await session.refresh(job)
    await add_event(
        session,
        infra.outbox,
        ImportCompleted(
            import_id=context.import_id,
            district_id=context.district_id,
            posted=job.posted,
            duplicates=job.duplicates,
            failed=job.failed,
        ),
    )


class LedgerImports:
    """The worker's job: one claimed import at a time, processed to its end.

    An import whose pass raises keeps its claim until the lease runs out, so the next pass
    takes the one queued behind it; it is taken up again later, and failed after
    MAX_ATTEMPTS."""

    name = "ledger-imports"

    def __init__(self, database: Database, *, owner: str, interval: float) -> None:
        self.database = database
        self.lease = Lease(owner, seconds=LEASE_SECONDS)
        self.interval = interval

    async def run_once(self) -> bool:
        import_id = await claim_next(self.database, self.lease)
        if import_id is None:
            return False
        try:
            await process(self.database, import_id, self.lease)
        except LeaseLost:
            log.warning("import taken over by another worker", import_id=str(import_id))
        return True


def among(dialect: str, column: Any, values: set[Any], item: Any) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL one array parameter instead of thousands."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(item)))
    return column.in_(values)


@dataclass
class _Checked:
    """A chunk's rows that may be written, each with its teacher, and the refused ones."""

    rows: list[tuple[Row, uuid.UUID]]
    degrees: dict[uuid.UUID, str]
    errors: list[dict[str, Any]]


async def _check(database: Database, context: _Context, parsed: _Parsed) -> _Checked:
    """Find each parsed row's teacher in the district, reading only."""
    errors = list(parsed.errors)
    async with database.sessions() as session:
        teachers, degrees = await _teachers(session, context, parsed.rows)
    rows = []
    for row in parsed.rows:
        teacher_id = teachers.get(row.key)
        if teacher_id is None:
            errors.append(
                {
                    "import_id": context.import_id,
                    "row": row.number,
                    "message": f"{row.who()} 不是本区（县）登记的教师",
                }
            )
            continue
        rows.append((row, teacher_id))
    return _Checked(rows, degrees, errors)


async def _teachers(
    session: AsyncSession, context: _Context, parsed: list[Row]
) -> tuple[dict[uuid.UUID | str, uuid.UUID], dict[uuid.UUID, str]]:
    """The district's teachers the rows name (by id or by keyed identity number), and each
    one's degree. Plain rows, not ORM objects: a chunk names thousands of teachers."""
    dialect = (await session.connection()).dialect.name
    keys = {row.key for row in parsed}
    if context.column_map.key == "id_number":
        query = select(
            TeacherIdNumber.id_number_hash, TeacherProjection.id, TeacherProjection.degree
        ).join(TeacherProjection, TeacherProjection.id == TeacherIdNumber.teacher_id)
        query = query.where(
            TeacherIdNumber.district_id == context.district_id,
            among(dialect, TeacherIdNumber.id_number_hash, keys, String),
        )
    else:
        query = select(TeacherProjection.id, TeacherProjection.id, TeacherProjection.degree).where(
            among(dialect, TeacherProjection.id, keys, Uuid)
        )
    query = query.where(TeacherProjection.district_id == context.district_id)
    teachers: dict[uuid.UUID | str, uuid.UUID] = {}
    degrees: dict[uuid.UUID, str] = {}
    for key, teacher_id, degree in (await session.execute(query)).all():
        teachers[key] = teacher_id
        degrees[teacher_id] = degree
    return teachers, degrees


_ids: list[uuid.UUID] = []


def new_id() -> uuid.UUID:
    """A random (version 4) UUID, drawn from the OS 4,096 at a time: one uuid4() a row is a
    system call a row, a seventh of an import's time."""
    if not _ids:
        raw = os.urandom(16 * 4096)
        _ids.extend(uuid.UUID(bytes=raw[i : i + 16], version=4) for i in range(0, len(raw), 16))
    return _ids.pop()


def _entry(
    row: Row, teacher_id: uuid.UUID, context: _Context, ref: str, credits: Decimal, now: Any
) -> dict[str, Any]:
    academic_year, term = academic_year_of(row.occurred_on)
    return {
        "id": new_id(),
        "teacher_id": teacher_id,
        "hours": row.hours,
        "credits": credits,
        "source": SOURCE,
        "source_ref": ref,
        "ref_scope_id": context.district_id,
        "mode": row.mode,
        "level": row.level,
        "category": row.category,
        "year": row.occurred_on.year,
        "academic_year": academic_year,
        "term": term,
        "occurred_on": row.occurred_on,
        "program_id": None,
        "description": row.description,
        "reverses_id": None,
        "reason": "",
        "recorded_by": f"import:{context.import_id}",
        "import_id": context.import_id,
        "created_at": now,
    }


def _reversal_of(original: Any, context: _Context, now: Any) -> dict[str, Any]:
    """R16: the province corrected a record; its old entry is cancelled by an opposite one."""
    return {
        "id": new_id(),
        "teacher_id": original.teacher_id,
        "hours": -original.hours,
        "credits": -original.credits,
        "source": REVERSAL,
        "source_ref": str(original.id),
        "ref_scope_id": original.ref_scope_id,
        "mode": original.mode,
        "level": original.level,
        "category": original.category,
        "year": original.year,
        "academic_year": original.academic_year,
        "term": original.term,
        "occurred_on": original.occurred_on,
        "program_id": original.program_id,
        "description": original.description,
        "reverses_id": original.id,
        "reason": f"省平台更正记录 {original.source_ref.split('#')[0]}",
        "recorded_by": f"import:{context.import_id}",
        "import_id": context.import_id,
        "created_at": now,
    }


def _add_delta(deltas: dict[tuple[uuid.UUID, int], balances.Delta], entry: dict[str, Any]) -> None:
    deltas.setdefault((entry["teacher_id"], entry["year"]), balances.Delta()).add(
        hours=int(entry["hours"] * 10),
        credits=int(entry["credits"] * 10),
        mode=entry["mode"],
        level=entry["level"],
        category=entry["category"],
    )


async def _chunk(database: Database, context: _Context, parsed: _Parsed) -> None:
    checked = await _check(database, context, parsed)
    errors = checked.errors
    degrees = checked.degrees
    async with database.sessions() as session:
        dialect = (await session.connection()).dialect.name
        # What each record of the chunk stands as now (records are per district).
        known = {
            r.record_id: r
            for r in (
                await session.execute(
                    select(
                        ProvincialRecord.record_id,
                        ProvincialRecord.entry_id,
                        ProvincialRecord.digest,
                        ProvincialRecord.revision,
                    ).where(
                        ProvincialRecord.district_id == context.district_id,
                        among(
                            dialect,
                            ProvincialRecord.record_id,
                            {row.record_id for row, _ in checked.rows},
                            String,
                        ),
                    )
                )
            ).all()
        }
        ours = await _reported_here(session, dialect, checked.rows)
        changed: dict[uuid.UUID, dict[str, Any]] = {}
        fresh: list[dict[str, Any]] = []
        records: dict[str, dict[str, Any]] = {}  # new or corrected records of the chunk
        corrected: dict[uuid.UUID, str] = {}  # entry to reverse → its record
        deltas: dict[tuple[uuid.UUID, int], balances.Delta] = {}
        duplicates = 0
        now = utcnow()
        for row, teacher_id in checked.rows:
            if row.record_id in ours:  # hours this district reported up, coming back down
                duplicates += 1
                continue
            current = records.get(row.record_id)
            if current is None and row.record_id in known:
                was = known[row.record_id]
                current = {"entry_id": was.entry_id, "digest": was.digest, "revision": was.revision}
            # An empty digest: posted before records kept one; the same record, unchanged.
            if current is not None and current["digest"] in (row.digest, ""):
                duplicates += 1
                continue
            revision = 1 if current is None else current["revision"] + 1
            ref = row.record_id if revision == 1 else f"{row.record_id}#{revision}"
            entry = _entry(row, teacher_id, context, ref, context.credits_of(row), now)
            if current is not None:
                if current["entry_id"] in corrected or any(
                    e["id"] == current["entry_id"] for e in fresh
                ):
                    # Corrected twice in one chunk: the entry posted a row ago is replaced.
                    fresh = [e for e in fresh if e["id"] != current["entry_id"]]
                    deltas = _recount(fresh)
                else:
                    corrected[current["entry_id"]] = row.record_id
            fresh.append(entry)
            _add_delta(deltas, entry)
            records[row.record_id] = {
                "district_id": context.district_id,
                "record_id": row.record_id,
                "entry_id": entry["id"],
                "digest": row.digest,
                "revision": revision,
            }
            if row.degree and not holds_degree(degrees[teacher_id], row.degree):
                degrees[teacher_id] = row.degree
                changed.setdefault(teacher_id, {})["degree"] = row.degree
            if row.trainer is not None:
                changed.setdefault(teacher_id, {})["is_trainer"] = row.trainer
        reversals = await _reversals(session, context, corrected, now)
        for reversal in reversals:
            _add_delta(deltas, reversal)
        await insert_entries(session, reversals + fresh)
        await _save_records(session, records, known)
        for teacher_id, values in changed.items():
            await session.execute(
                update(TeacherProjection).where(TeacherProjection.id == teacher_id).values(values)
            )
        await balances.apply(session, deltas)
        if errors:
            await session.execute(insert(LedgerImportError.__table__), errors)
        values: dict[str, Any] = {
            "processed_rows": LedgerImport.processed_rows + parsed.count,
            "posted": LedgerImport.posted + len(fresh),
            "duplicates": LedgerImport.duplicates + duplicates,
            "corrected": LedgerImport.corrected + len(corrected),
            "failed": LedgerImport.failed + len(errors),
            "claimed_until": context.lease.until(),
        }
        held = await session.execute(
            update(LedgerImport)
            .where(
                LedgerImport.id == context.import_id,
                LedgerImport.claimed_by == context.lease.owner,
            )
            .values(values)
        )
        if held.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(context.import_id)  # another worker has it now: nothing is kept
        await session.commit()


async def _reported_here(
    session: AsyncSession, dialect: str, rows: list[tuple[Row, uuid.UUID]]
) -> set[str]:
    """The rows' record ids that are entries this district reported to the province
    (province_export.py numbers them by entry id): the province's file holds them too."""
    ids = set()
    for row, _ in rows:
        if len(row.record_id) == 36:
            try:
                ids.add(uuid.UUID(row.record_id))
            except ValueError:
                continue
    if not ids:
        return set()
    found = await session.scalars(
        select(ProvincialReport.entry_id).where(
            among(dialect, ProvincialReport.entry_id, ids, Uuid)
        )
    )
    return {str(entry_id) for entry_id in found}


def _recount(entries: list[dict[str, Any]]) -> dict[tuple[uuid.UUID, int], balances.Delta]:
    deltas: dict[tuple[uuid.UUID, int], balances.Delta] = {}
    for entry in entries:
        _add_delta(deltas, entry)
    return deltas


async def _reversals(
    session: AsyncSession, context: _Context, corrected: dict[uuid.UUID, str], now: Any
) -> list[dict[str, Any]]:
    """Opposite entries of the corrected records' standing entries, except those the bureau
    reversed already."""
    if not corrected:
        return []
    originals = (
        await session.scalars(select(LedgerEntry).where(LedgerEntry.id.in_(corrected)))
    ).all()
    done = set(
        await session.scalars(
            select(LedgerEntry.reverses_id).where(
                LedgerEntry.source == REVERSAL, LedgerEntry.reverses_id.in_(corrected)
            )
        )
    )
    return [_reversal_of(e, context, now) for e in originals if e.id not in done]


async def _save_records(
    session: AsyncSession, records: dict[str, dict[str, Any]], known: dict[str, Any]
) -> None:
    added = [r for key, r in records.items() if key not in known]
    await bulk_insert(session, ProvincialRecord.__table__, added)
    for key, record in records.items():
        if key in known:
            await session.execute(
                update(ProvincialRecord)
                .where(
                    ProvincialRecord.district_id == record["district_id"],
                    ProvincialRecord.record_id == key,
                )
                .values(
                    entry_id=record["entry_id"],
                    digest=record["digest"],
                    revision=record["revision"],
                )
            )


async def insert_entries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Many entries at once (hours and credits stored as tenths)."""
    await bulk_insert(session, LedgerEntry.__table__, rows, tenths=("hours", "credits"))


async def bulk_insert(
    session: AsyncSession, table: Any, rows: list[dict[str, Any]], *, tenths: tuple[str, ...] = ()
) -> None:
    """Rows at once: COPY on PostgreSQL (in the session's transaction), else one INSERT."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        await session.execute(insert(table), rows)
        return
    raw = await connection.get_raw_connection()
    columns = list(rows[0])
    if tenths:
        records = [
            tuple(int(row[c] * 10) if c in tenths else row[c] for c in columns) for row in rows
        ]
    else:
        records = [tuple(row.values()) for row in rows]
    await raw.driver_connection.copy_records_to_table(table.name, records=records, columns=columns)


async def get(session: AsyncSession, *, principal: Principal, import_id: uuid.UUID) -> LedgerImport:
    job = await session.get(LedgerImport, import_id)
    if job is None or job.district_id != principal.district_id:
        raise NotFound("No such import.")
    may_import(principal)
    return job


def listing(principal: Principal) -> Select:
    may_import(principal)
    return select(LedgerImport).where(LedgerImport.district_id == principal.district_id)


async def errors_of(session: AsyncSession, import_id: uuid.UUID) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(LedgerImportError.row, LedgerImportError.message)
        .where(LedgerImportError.import_id == import_id)
        .order_by(LedgerImportError.row)
    )
    return [(r, m) for r, m in rows.all()]
