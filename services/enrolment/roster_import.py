"""Roster import: a CSV (UTF-8 or GBK) or XLSX file of teachers, worked through in chunks.

The upload is checked for shape and stored as a job; a worker (RosterImports) claims it and
imports it chunk by chunk, committing progress with each chunk, so a large file shows
progress and an interrupted import resumes where it stopped; one that fails ends failed
with the reason, and the imports queued behind it go on. Mode all_or_nothing checks every
row before writing any; valid_rows writes the good rows and reports the others. A re-upload
of the same file for the same scope returns the first job; a teacher whose identity number
is already registered in the importer's scope is skipped, so editing and re-uploading a
file never registers anyone twice. A number registered outside that scope is imported like
a new one, held as a conflict for the bureaus (directory.register_teacher): the counts tell
nothing of other schools.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.directory import announce, in_scope, login_of, register_teacher
from services.enrolment.models import RosterImport, School, Teacher, infra
from services.enrolment.schemas import ImportMode, TeacherCreate
from shared import pii, xlsx
from shared.auth import Principal, Role
from shared.db import Database, utcnow
from shared.errors import Forbidden, NotFound, TooLarge, Unprocessable
from shared.events.enrolment import RosterImported, TeacherLogin
from shared.messaging.outbox import add_event
from shared.worker import Lease, claim_oldest

CHUNK = 200
MAX_BYTES = 20 * xlsx.MB
LIMITS = xlsx.SheetLimits(max_rows=50_000, max_unpacked_bytes=50 * xlsx.MB)
# A chunk commits well within the lease, renewing it; a stopped worker's imports are taken
# up by another one once it runs out.
LEASE_SECONDS = 120.0
MAX_ATTEMPTS = 5
GIVEN_UP = f"not imported: the import failed {MAX_ATTEMPTS} times; see the service log"
ENCODINGS = ("utf-8-sig", "gb18030")  # gb18030 reads every GBK file
HEADERS = {
    "name": "name",
    "姓名": "name",
    "school_id": "school_id",
    "学校id": "school_id",
    "stage": "stage",
    "学段": "stage",
    "subject": "subject",
    "学科": "subject",
    "hired_on": "hired_on",
    "入职日期": "hired_on",
    "id_number": "id_number",
    "身份证号": "id_number",
    "roles": "roles",
    "角色": "roles",
    "mobile": "mobile",
    "手机号": "mobile",
    "手机": "mobile",
}
REQUIRED = {"name", "stage", "subject"}


async def read_rows(content: bytes) -> list[dict[str, str]]:
    """The file's data rows as {field: text}; a bad header is refused before any import.

    Parsed in a worker thread within LIMITS (a roster is at most a district's teachers)."""
    raw = iter(await xlsx.read_all(content, LIMITS, encodings=ENCODINGS))
    header = next(raw, None)
    if not header:
        raise Unprocessable("The file is empty.", code="import-empty")
    fields = []
    for title in header:
        key = HEADERS.get(title.strip().lower()) or HEADERS.get(title.strip())
        if key is None and title.strip():
            raise Unprocessable(
                f"Unknown column {title!r}; columns are {', '.join(sorted(set(HEADERS)))}.",
                code="import-header",
            )
        fields.append(key)
    if missing := REQUIRED - set(fields):
        raise Unprocessable(f"Missing columns: {', '.join(sorted(missing))}.", code="import-header")
    rows = []
    for values in raw:
        if not any(v.strip() for v in values):
            continue
        rows.append({f: v.strip() for f, v in zip(fields, values, strict=False) if f})
    return rows


async def start_import(
    session: AsyncSession,
    *,
    principal: Principal,
    filename: str,
    content: bytes,
    mode: ImportMode,
    create_logins: bool = False,
) -> tuple[RosterImport, bool]:
    """The job for this file: a new one, or (False) the one the same upload made before.

    With `create_logins` every teacher of the file gets a login, those already registered
    too (a district that imported its roster before asks for logins with the same file).
    """
    if principal.role not in (Role.BUREAU_ADMIN, Role.SCHOOL_ADMIN, Role.SERVICE):
        raise Forbidden("Rosters are imported by the bureau, a school or a roster system.")
    principal.require_scope("roster:write")
    if len(content) > MAX_BYTES:
        raise TooLarge("The file is larger than 20 MB.", code="import-too-large")
    rows = await read_rows(content)
    if principal.role is Role.SCHOOL_ADMIN:
        scope = principal.school_id
    else:
        scope = principal.school_id or principal.district_id
    if scope is None or principal.district_id is None:
        raise Forbidden("No school or district in scope.")
    # The same file with and without logins are two jobs (the unique key has no flag).
    digest = hashlib.sha256(content + (b"\0logins" if create_logins else b"")).hexdigest()
    existing = await session.scalar(
        select(RosterImport).where(
            RosterImport.school_scope == scope,
            RosterImport.digest == digest,
            RosterImport.mode == mode.value,
        )
    )
    if existing is not None:
        return existing, False
    job = RosterImport(
        district_id=principal.district_id,
        school_scope=scope,
        requested_by=principal.subject,
        filename=filename[:300],
        digest=digest,
        mode=mode.value,
        create_logins=create_logins,
        total_rows=len(rows),
        # Identity numbers in it: sealed at rest, and dropped once the import is finished.
        content=pii.seal(content),
    )
    session.add(job)
    await session.flush()
    return job, True


async def get_import(
    session: AsyncSession, *, principal: Principal, import_id: uuid.UUID
) -> RosterImport:
    job = await session.get(RosterImport, import_id)
    visible = job is not None and (
        job.requested_by == principal.subject
        or (principal.role is Role.BUREAU_ADMIN and principal.district_id == job.district_id)
        or (principal.role is Role.SCHOOL_ADMIN and principal.school_id == job.school_scope)
    )
    if not visible:
        raise NotFound("No such import.")
    return job


def _roles(text: str) -> list[str]:
    return [r for r in re.split(r"[,;，；、\s]+", text) if r]


@dataclass
class _Taken:
    """Of a chunk's rows, the teachers who have or claim these identity numbers (by hash) and
    the mobile numbers already held: two queries a chunk instead of two a row."""

    teachers: dict[str, list[Teacher]]
    mobiles: dict[str, list[Teacher]]
    # Schools looked up, misses too: the session's identity map holds neither for long.
    schools: dict[uuid.UUID, School | None] = field(default_factory=dict)

    async def school(self, session: AsyncSession, school_id: uuid.UUID) -> School | None:
        if school_id not in self.schools:
            self.schools[school_id] = await session.get(School, school_id)
        return self.schools[school_id]


async def _taken(session: AsyncSession, rows: list[dict[str, str]]) -> _Taken:
    ids = sorted({pii.lookup_hash(r["id_number"]) for r in rows if r.get("id_number")})
    phones = sorted({pii.lookup_hash(r["mobile"]) for r in rows if r.get("mobile")})
    teachers: dict[str, list[Teacher]] = {}
    mobiles: dict[str, list[Teacher]] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        found = await session.scalars(
            select(Teacher).where(
                or_(
                    Teacher.id_number_hash.in_(part),  # type: ignore[union-attr]
                    Teacher.id_number_claim_hash.in_(part),  # type: ignore[union-attr]
                )
            )
        )
        for teacher in found:
            digest = teacher.id_number_hash or teacher.id_number_claim_hash
            teachers.setdefault(digest, []).append(teacher)  # type: ignore[arg-type]
    for start in range(0, len(phones), 500):
        held = await session.scalars(
            select(Teacher).where(Teacher.mobile_hash.in_(phones[start : start + 500]))  # type: ignore[union-attr]
        )
        for teacher in held:
            mobiles.setdefault(teacher.mobile_hash, []).append(teacher)  # type: ignore[arg-type]
    return _Taken(teachers, mobiles)


@dataclass
class _Row:
    """A row checked: its data and school, or an error; `known`, the teacher of the importer's
    scope it names again (skipped); `holder`, a teacher elsewhere who has its number;
    `mobile_elsewhere`, a teacher elsewhere logs in with its mobile number."""

    data: TeacherCreate | None = None
    school: School | None = None
    error: str | None = None
    known: Teacher | None = None
    holder: Teacher | None = None
    mobile_elsewhere: bool = False


async def _check_row(
    session: AsyncSession,
    job: RosterImport,
    row: dict[str, str],
    earlier: set[str],
    earlier_mobiles: set[str],
    taken: _Taken,
) -> _Row:
    """What one row is; nothing is written."""
    values: dict[str, object] = {k: v for k, v in row.items() if v}
    school_scope_is_school = await taken.school(session, job.school_scope)
    if "school_id" not in values and school_scope_is_school is not None:
        values["school_id"] = str(job.school_scope)
    if "roles" in values:
        values["roles"] = _roles(str(values["roles"]))
    try:
        data = TeacherCreate.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return _Row(error=f"{where}: {first['msg']}" if where else first["msg"])
    school = await taken.school(session, data.school_id)
    if school is None or school.district_id != job.district_id:
        return _Row(error="school_id: no such school in the district")
    if school_scope_is_school is not None and school.id != job.school_scope:
        return _Row(error="school_id: a school imports only its own teachers")
    known = holder = None
    if data.id_number:
        if data.id_number in earlier:
            return _Row(error="id_number: appears earlier in the file")
        digest = pii.lookup_hash(data.id_number)
        found = taken.teachers.get(digest, [])
        known = next((t for t in found if in_scope(t, job.school_scope)), None)
        if known is None:
            holder = next((t for t in found if t.id_number_hash == digest), None)
    if data.mobile and known is None:
        if data.mobile in earlier_mobiles:
            return _Row(error="mobile: appears earlier in the file")
        holders = taken.mobiles.get(pii.lookup_hash(data.mobile), [])
        if any(in_scope(t, job.school_scope) for t in holders):
            return _Row(error="mobile: another teacher has this mobile number")
        # Held elsewhere: kept, not as a login, and counted like any row (nothing told).
        return _Row(data, school, known=known, holder=holder, mobile_elsewhere=bool(holders))
    return _Row(data, school, known=known, holder=holder)


def _id_numbers(rows: list[dict[str, str]]) -> set[str]:
    return {r["id_number"].strip().upper() for r in rows if r.get("id_number")}


def _mobiles(rows: list[dict[str, str]]) -> set[str]:
    return {r["mobile"].strip() for r in rows if r.get("mobile")}


def _opened(content: bytes) -> bytes:
    try:
        return pii.unseal(content)
    except InvalidTag:
        return content  # queued before uploads were sealed (migration 2b5e7d1c9f40)


async def _finish(session: AsyncSession, job: RosterImport, status: str) -> None:
    job.status = status
    job.finished_at = utcnow()
    job.content = b""  # the rows are in the directory (or the report) now
    await session.flush()
    await add_event(
        session,
        infra.outbox,
        RosterImported(
            import_id=job.id,
            district_id=job.district_id,
            status=status,
            created_count=job.created_count,
            error_count=len(job.errors),
        ),
    )


async def _locked(session: AsyncSession, import_id: uuid.UUID, lease: Lease) -> RosterImport | None:
    """The job, if it is still unfinished and still this worker's; its lease is renewed."""
    job = await session.scalar(
        select(RosterImport)
        .where(
            RosterImport.id == import_id,
            RosterImport.status.in_(("queued", "running")),
            RosterImport.claimed_by == lease.owner,
        )
        .with_for_update(skip_locked=True)
    )
    if job is not None:
        job.claimed_until = lease.until()
    return job


async def claim_next(database: Database, lease: Lease) -> uuid.UUID | None:
    """The oldest unfinished import no one holds, now held by this worker."""
    return await claim_oldest(database, RosterImport, lease)


async def process(database: Database, import_id: uuid.UUID, lease: Lease) -> None:
    """Work through one import claimed with `lease`, a chunk per transaction; safe to call
    again after a crash. It always ends finished (done or failed) unless the lease is lost."""
    async with database.sessions() as session:
        job = await _locked(session, import_id, lease)
        if job is None:
            return
        if job.attempts > MAX_ATTEMPTS:
            job.errors = [*job.errors, {"row": None, "error": GIVEN_UP}]
            await _finish(session, job, "failed")
            await session.commit()
            return
        content = job.content
        await session.commit()
    rows = await read_rows(_opened(content))  # parsed with no transaction open
    while True:
        async with database.sessions() as session:
            job = await _locked(session, import_id, lease)
            if job is None:
                return
            job.status = "running"
            start = job.processed_rows
            if start >= len(rows):
                await _complete(session, job, rows)
                return
            earlier = _id_numbers(rows[:start])
            mobiles = _mobiles(rows[:start])
            errors = list(job.errors)
            chunk = rows[start : start + CHUNK]
            taken = await _taken(session, chunk)
            logins: list[TeacherLogin] = []
            registered: list[Teacher] = []
            for line, row in enumerate(chunk, start=start + 2):
                checked = await _check_row(session, job, row, earlier, mobiles, taken)
                if row.get("id_number"):
                    earlier.add(row["id_number"].strip().upper())
                if row.get("mobile"):
                    mobiles.add(row["mobile"].strip())
                if checked.error:
                    errors.append({"row": line, "error": checked.error})
                elif checked.known:
                    job.skipped_count += 1
                    if job.mode == ImportMode.VALID_ROWS and job.create_logins:
                        logins.append(login_of(checked.known))
                elif job.mode == ImportMode.VALID_ROWS:
                    assert checked.data is not None and checked.school is not None
                    teacher = await register_teacher(
                        session,
                        school=checked.school,
                        data=checked.data,
                        holder=checked.holder,
                        mobile_elsewhere=checked.mobile_elsewhere,
                        deferred=True,
                    )
                    registered.append(teacher)
                    if job.create_logins:
                        logins.append(login_of(teacher))
                    job.created_count += 1
            await announce(session, registered, logins)
            job.errors = errors
            job.processed_rows = min(start + CHUNK, len(rows))
            await session.commit()


class RosterImports:
    """The worker's job: one claimed import at a time, worked to its end.

    An import whose pass raises keeps its lease until it runs out, so the next pass takes
    the import queued behind it; it is taken up again later, and given up (failed) after
    MAX_ATTEMPTS."""

    name = "roster-imports"

    def __init__(self, database: Database, *, owner: str, interval: float) -> None:
        self.database = database
        self.lease = Lease(owner, seconds=LEASE_SECONDS)
        self.interval = interval

    async def run_once(self) -> bool:
        import_id = await claim_next(self.database, self.lease)
        if import_id is None:
            return False
        await process(self.database, import_id, self.lease)
        return True


class _Changed(Exception):
    pass


async def _complete(session: AsyncSession, job: RosterImport, rows: list[dict[str, str]]) -> None:
    import_id = job.id
    if job.mode == ImportMode.ALL_OR_NOTHING and not job.errors:
        try:
            await _write_all(session, job, rows)
        except _Changed as exc:
            # Nothing of the file is kept: undo the rows written so far, then record why.
            await session.rollback()
            job = await session.get(RosterImport, import_id, populate_existing=True)
            assert job is not None
            job.created_count = 0
            job.errors = [{"row": None, "error": f"changed while importing: {exc}"}]
    failed = job.mode == ImportMode.ALL_OR_NOTHING and bool(job.errors)
    await _finish(session, job, "failed" if failed else "done")
    await session.commit()


async def _write_all(session: AsyncSession, job: RosterImport, rows: list[dict[str, str]]) -> None:
    """all_or_nothing, after every row checked clean: write them all in one transaction."""
    earlier: set[str] = set()
    mobiles: set[str] = set()
    job.skipped_count = 0
    logins: list[TeacherLogin] = []
    registered: list[Teacher] = []
    taken = _Taken({}, set())
    for k, row in enumerate(rows):
        if k % CHUNK == 0:
            await announce(session, registered, logins)  # a chunk's rows and events at once
            logins, registered = [], []
            taken = await _taken(session, rows[k : k + CHUNK])
        checked = await _check_row(session, job, row, earlier, mobiles, taken)
        if row.get("id_number"):
            earlier.add(row["id_number"].strip().upper())
        if row.get("mobile"):
            mobiles.add(row["mobile"].strip())
        if checked.error:  # changed since the check (a concurrent registration): fail it all
            raise _Changed(checked.error)
        if checked.known:
            job.skipped_count += 1
            if job.create_logins:
                logins.append(login_of(checked.known))
            continue
        assert checked.data is not None and checked.school is not None
        teacher = await register_teacher(
            session,
            school=checked.school,
            data=checked.data,
            holder=checked.holder,
            mobile_elsewhere=checked.mobile_elsewhere,
            deferred=True,
        )
        registered.append(teacher)
        if job.create_logins:
            logins.append(login_of(teacher))
        job.created_count += 1
    await announce(session, registered, logins)
