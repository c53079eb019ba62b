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
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Uuid,
    any_,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger import balances, policies
from services.ledger.entries import academic_year_of
from services.ledger.models import (
    LedgerEntry,
    LedgerImport,
    LedgerImportError,
    TeacherProjection,
    infra,
)
from services.ledger.policy import (
    CATEGORIES,
    DEGREES,
    LEVELS,
    MODES,
    Policy,
    PolicyRules,
    credits_for,
    holds_degree,
)
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
COLUMNS = (
    "record_id",
    "teacher_id",
    "hours",
    "mode",
    "level",
    "category",
    "occurred_on",
    "description",
)
OPTIONAL = ("degree", "trainer")
CHUNK = 10_000
# The provincial platform's yearly export of a district: a million rows fit.
LIMITS = xlsx.SheetLimits(max_rows=1_000_000, max_unpacked_bytes=400 * xlsx.MB)
MAX_HOURS = Decimal("1000.0")


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
    session: AsyncSession, *, principal: Principal, content: bytes, filename: str, fmt: str
) -> tuple[LedgerImport, bool]:
    """Store a file for processing; the same file again returns the first import."""
    may_import(principal)
    if principal.district_id is None:
        raise Forbidden("This caller has no district.")
    if not content:
        raise BadRequest("The file is empty.", code="empty-file")
    digest = hashlib.sha256(content).hexdigest()
    existing = await session.scalar(
        select(LedgerImport).where(
            LedgerImport.district_id == principal.district_id, LedgerImport.sha256 == digest
        )
    )
    if existing is not None:
        return existing, False
    header = await _checked_header(content)
    missing = [c for c in COLUMNS if header is None or c not in header]
    if missing:
        raise BadRequest(
            f"The file lacks the columns {', '.join(missing)}; expected {', '.join(COLUMNS)}.",
            code="bad-columns",
        )
    job = LedgerImport(
        district_id=principal.district_id,
        sha256=digest,
        filename=filename[:200],
        format=fmt,
        status="queued",
        created_by=principal.subject,
        # In the database, so whichever replica's worker claims it can read it; sealed at rest.
        content=pii.seal(content),
    )
    session.add(job)
    await session.flush()
    return job, True


async def _checked_header(content: bytes) -> list[str] | None:
    """The header, after reading the whole file once in a worker thread: a file beyond
    LIMITS, or one that is not CSV or XLSX, is refused (413/422) before it is stored."""

    def read() -> list[str] | None:
        rows = xlsx.iter_rows(content, LIMITS)
        header = next(rows, None)
        for _ in rows:
            pass
        return None if header is None else [h.strip() for h in header]

    return await asyncio.to_thread(read)


@dataclass
class Row:
    number: int
    record_id: str
    teacher_id: uuid.UUID
    hours: Decimal
    mode: str
    level: str
    category: str
    occurred_on: dt.date
    description: str
    degree: str
    trainer: bool | None


def parse(number: int, values: dict[str, str]) -> Row:
    """One row, or ValueError with what is wrong in words the uploader can act on."""
    record_id = values["record_id"].strip()
    if not record_id or len(record_id) > 100:
        raise ValueError("record_id must be 1 to 100 characters")
    try:
        teacher_id = uuid.UUID(values["teacher_id"].strip())
    except ValueError as exc:
        raise ValueError(f"teacher_id {values['teacher_id']!r} is not a UUID") from exc
    hours = to_hours(values["hours"])
    if not Decimal(0) < hours <= MAX_HOURS:
        raise ValueError(f"hours must be more than 0 and at most {MAX_HOURS}")
    for name, allowed in (("mode", MODES), ("level", LEVELS), ("category", CATEGORIES)):
        if values[name].strip() not in allowed:
            raise ValueError(f"{name} {values[name]!r} is not one of {', '.join(allowed)}")
    try:
        occurred_on = dt.date.fromisoformat(values["occurred_on"].strip()[:10])
    except ValueError as exc:
        raise ValueError(f"occurred_on {values['occurred_on']!r} is not a date") from exc
    degree = values.get("degree", "").strip()
    if degree and degree not in DEGREES:
        raise ValueError(f"degree {degree!r} is not one of {', '.join(DEGREES)}")
    trainer_text = values.get("trainer", "").strip().lower()
    trainer = {
        "": None,
        "1": True,
        "true": True,
        "是": True,
        "0": False,
        "false": False,
        "否": False,
    }
    if trainer_text not in trainer:
        raise ValueError("trainer must be 1/0, true/false or 是/否")
    return Row(
        number=number,
        record_id=record_id,
        teacher_id=teacher_id,
        hours=hours,
        mode=values["mode"].strip(),
        level=values["level"].strip(),
        category=values["category"].strip(),
        occurred_on=occurred_on,
        description=values["description"].strip()[:300],
        degree=degree,
        trainer=trainer[trainer_text],
    )


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
    """Run (or resume) an import claimed with `lease` to its end, one transaction per chunk."""
    async with database.sessions() as session:
        job = await session.get(LedgerImport, import_id)
        if job is None or job.status not in ("queued", "running"):
            return
        if job.claimed_by != lease.owner:
            return
        district_id, skip, attempts = job.district_id, job.processed_rows, job.attempts
        sealed = job.content
    if attempts > MAX_ATTEMPTS:
        await _give_up(
            database, import_id, f"the import failed {MAX_ATTEMPTS} times; see the service log"
        )
        return
    if not sealed:
        await _give_up(database, import_id, "the uploaded file was not kept; upload it again")
        return
    content = pii.unseal(sealed)
    header: list[str] | None = None
    chunk: list[tuple[int, dict[str, str]]] = []
    number = 1
    async with database.sessions() as session:
        in_district = await policies.versions(session, district_id)
    async for rows in xlsx.read_chunks(content, LIMITS, CHUNK):
        for values in rows:
            if header is None:
                header = [h.strip() for h in values]
                continue
            number += 1
            if number - 1 <= skip or not any(v.strip() for v in values):
                continue
            chunk.append((number, dict(zip(header, values, strict=False))))
            if len(chunk) >= CHUNK:
                await _chunk(database, import_id, district_id, chunk, in_district, lease)
                chunk = []
    await _chunk(database, import_id, district_id, chunk, in_district, lease, last=True)


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


async def _chunk(
    database: Database,
    import_id: uuid.UUID,
    district_id: uuid.UUID,
    chunk: list[tuple[int, dict[str, str]]],
    in_district: list[Policy],
    lease: Lease,
    *,
    last: bool = False,
) -> None:
    errors: list[dict[str, Any]] = []
    parsed: list[Row] = []
    for number, values in chunk:
        try:
            parsed.append(
                parse(number, {k: values.get(k, "") or "" for k in (*COLUMNS, *OPTIONAL)})
            )
        except ValueError as exc:
            errors.append({"import_id": import_id, "row": number, "message": str(exc)[:500]})
    async with database.sessions() as session:
        dialect = (await session.connection()).dialect.name
        # Plain rows, not ORM objects: a chunk names thousands of teachers.
        degrees = dict(
            (
                await session.execute(
                    select(TeacherProjection.id, TeacherProjection.degree).where(
                        among(dialect, TeacherProjection.id, {r.teacher_id for r in parsed}, Uuid),
                        TeacherProjection.district_id == district_id,
                    )
                )
            ).all()
        )
        changed: dict[uuid.UUID, dict[str, Any]] = {}
        rules_on: dict[dt.date, PolicyRules] = {}
        taken = set(
            await session.scalars(
                select(LedgerEntry.source_ref).where(
                    LedgerEntry.ref_scope_id == district_id,  # record ids are per district
                    LedgerEntry.source == SOURCE,
                    among(dialect, LedgerEntry.source_ref, {r.record_id for r in parsed}, String),
                )
            )
        )
        fresh: list[dict[str, Any]] = []
        deltas: dict[tuple[uuid.UUID, int], balances.Delta] = {}
        duplicates = 0
        now = utcnow()
        for row in parsed:
            if row.teacher_id not in degrees:
                errors.append(
                    {
                        "import_id": import_id,
                        "row": row.number,
                        "message": f"teacher {row.teacher_id} is not a teacher of this district",
                    }
                )
                continue
            if row.record_id in taken:
                duplicates += 1
                continue
            taken.add(row.record_id)
            rules = rules_on.get(row.occurred_on)
            if rules is None:
                rules = rules_on[row.occurred_on] = policies.pick(
                    in_district, row.occurred_on
                ).rules
            credits = credits_for(rules, row.mode, row.hours)
            academic_year, term = academic_year_of(row.occurred_on)
            fresh.append(
                {
                    "id": uuid.uuid4(),
                    "teacher_id": row.teacher_id,
                    "hours": row.hours,
                    "credits": credits,
                    "source": SOURCE,
                    "source_ref": row.record_id,
                    "ref_scope_id": district_id,
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
                    "recorded_by": f"import:{import_id}",
                    "import_id": import_id,
                    "created_at": now,
                }
            )
            deltas.setdefault((row.teacher_id, row.occurred_on.year), balances.Delta()).add(
                hours=int(row.hours * 10),
                credits=int(credits * 10),
                mode=row.mode,
                level=row.level,
                category=row.category,
            )
            if row.degree and not holds_degree(degrees[row.teacher_id], row.degree):
                degrees[row.teacher_id] = row.degree
                changed.setdefault(row.teacher_id, {})["degree"] = row.degree
            if row.trainer is not None:
                changed.setdefault(row.teacher_id, {})["is_trainer"] = row.trainer
        await insert_entries(session, fresh)
        for teacher_id, values in changed.items():
            await session.execute(
                update(TeacherProjection).where(TeacherProjection.id == teacher_id).values(values)
            )
        await balances.apply(session, deltas)
        if errors:
            await session.execute(insert(LedgerImportError.__table__), errors)
        values: dict[str, Any] = {
            "processed_rows": LedgerImport.processed_rows + len(chunk),
            "posted": LedgerImport.posted + len(fresh),
            "duplicates": LedgerImport.duplicates + duplicates,
            "failed": LedgerImport.failed + len(errors),
            "claimed_until": lease.until(),
        }
        if last:
            values |= {"status": "done", "finished_at": now, "content": b""}
        held = await session.execute(
            update(LedgerImport)
            .where(LedgerImport.id == import_id, LedgerImport.claimed_by == lease.owner)
            .values(values)
        )
        if held.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(import_id)  # another worker has it now: nothing of this is kept
        if last:
            job = await session.get(LedgerImport, import_id)
            await session.refresh(job)
            await add_event(
                session,
                infra.outbox,
                ImportCompleted(
                    import_id=import_id,
                    district_id=district_id,
                    posted=job.posted,
                    duplicates=job.duplicates,
                    failed=job.failed,
                ),
            )
        await session.commit()


async def insert_entries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Many entries at once: COPY on PostgreSQL (in the session's transaction), else INSERT."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        await session.execute(insert(LedgerEntry.__table__), rows)
        return
    raw = await connection.get_raw_connection()
    columns = list(rows[0])
    records = [
        tuple(int(row[c] * 10) if c in ("hours", "credits") else row[c] for c in columns)
        for row in rows
    ]
    await raw.driver_connection.copy_records_to_table(
        LedgerEntry.__tablename__, records=records, columns=columns
    )


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
