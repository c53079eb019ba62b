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
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.directory import announce, in_scope, login_of, register_teacher
from services.enrolment.models import RosterImport, School, Teacher, infra
from services.enrolment.roster_columns import (
    TEMPLATE,
    Header,
    parse_row,
    read_header,
    row_cells,
    school_key,
    validate,
)
from services.enrolment.schemas import ImportMode, RosterImportRead, TeacherCreate
from shared import i18n, messages, pii, vocabulary, xlsx
from shared.auth import Principal, Role
from shared.db import Database, utcnow
from shared.errors import Forbidden, NotFound, TooLarge, Unprocessable
from shared.events.enrolment import RosterImported, TeacherLogin
from shared.i18n import Language
from shared.messaging.outbox import add_event
from shared.worker import Lease, claim_oldest

CHUNK = 200
MAX_BYTES = 20 * xlsx.MB
LIMITS = xlsx.SheetLimits(max_rows=50_000, max_unpacked_bytes=50 * xlsx.MB)
# A chunk commits well within the lease, renewing it; a stopped worker's imports are taken
# up by another one once it runs out.
LEASE_SECONDS = 120.0
MAX_ATTEMPTS = 5
ENCODINGS = ("utf-8-sig", "gb18030")  # gb18030 reads every GBK file


@dataclass
class RosterFile:
    """A roster's header and its data rows, each with its line number in the file."""

    header: Header
    rows: list[tuple[int, list[str]]]

    def cells(self, k: int) -> dict[str, str]:
        return row_cells(self.header, self.rows[k][1])


async def read_rows(content: bytes) -> RosterFile:
    """The file's header and non-blank rows; a header lacking a required column is refused
    before any import, one with other columns is read without them.

    Parsed in a worker thread within LIMITS (a roster is at most a district's teachers)."""
    raw = iter(await xlsx.read_all(content, LIMITS, encodings=ENCODINGS))
    titles = next(raw, None)
    if not titles or not any(t.strip() for t in titles):
        raise Unprocessable("The file is empty.", code="import-empty")
    header, missing = read_header(titles)
    if missing:
        raise Unprocessable(
            f"Missing columns: {', '.join(missing)}.",
            code="import-header",
            params={"missing": missing},
            missing=missing,
        )
    rows = [
        (line, values) for line, values in enumerate(raw, start=2) if any(v.strip() for v in values)
    ]
    return RosterFile(header, rows)


def ensure_importer(principal: Principal) -> None:
    if principal.role not in (Role.BUREAU_ADMIN, Role.SCHOOL_ADMIN, Role.SERVICE):
        raise Forbidden("Rosters are imported by the bureau, a school or a roster system.")
    principal.require_scope("roster:write")


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
    ensure_importer(principal)
    if len(content) > MAX_BYTES:
        raise TooLarge("The file is larger than 20 MB.", code="import-too-large")
    parsed = await read_rows(content)
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
        total_rows=len(parsed.rows),
        ignored_columns=parsed.header.ignored,
        vocabulary=vocabulary.VERSION,
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
        raise NotFound("No such import.", message="not-found.import")
    return job


@dataclass
class _Taken:
    """Of a chunk's rows, the teachers who have or claim these identity numbers (by hash) and
    the mobile numbers already held: two queries a chunk instead of two a row."""

    teachers: dict[str, list[Teacher]]
    mobiles: dict[str, list[Teacher]]
    # Schools looked up by id and by name, misses too: the identity map holds neither long.
    schools: dict[uuid.UUID, School | None] = field(default_factory=dict)
    named: dict[str, list[School]] = field(default_factory=dict)

    async def school(self, session: AsyncSession, school_id: uuid.UUID) -> School | None:
        if school_id not in self.schools:
            self.schools[school_id] = await session.get(School, school_id)
        return self.schools[school_id]

    async def schools_named(
        self, session: AsyncSession, district_id: uuid.UUID, name: str
    ) -> list[School]:
        if name not in self.named:
            found = await session.scalars(
                select(School).where(School.district_id == district_id, School.name == name)
            )
            self.named[name] = list(found)
        return self.named[name]


async def _taken(session: AsyncSession, fields: list[dict[str, Any]]) -> _Taken:
    ids = sorted({pii.lookup_hash(f["id_number"]) for f in fields if f.get("id_number")})
    phones = sorted({pii.lookup_hash(f["mobile"]) for f in fields if f.get("mobile")})
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
    """A row checked: its data and school, or its errors; `known`, the teacher of the
    importer's scope it names again (skipped); `holder`, a teacher elsewhere who has its
    number; `mobile_elsewhere`, a teacher elsewhere logs in with its mobile number."""

    data: TeacherCreate | None = None
    school: School | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    known: Teacher | None = None
    holder: Teacher | None = None
    mobile_elsewhere: bool = False


def _parsed(parsed: RosterFile, job: RosterImport, k: int) -> tuple[dict[str, Any], list[dict]]:
    return parse_row(parsed.header, parsed.cells(k), school_id=job.school_scope)


async def _school_of(
    session: AsyncSession,
    job: RosterImport,
    header: Header,
    fields: dict[str, Any],
    taken: _Taken,
    own: School | None,
) -> tuple[School | None, list[dict[str, Any]]]:
    """The row's school: by id or by name in the district, or the importing school's own."""
    column = header.column("school")
    text = fields.get("school")
    if text is None:
        return own, []  # parse_row refused a bureau's row without a school
    key = school_key(text)
    if key is not None:
        school = await taken.school(session, key)
        candidates = [school] if school is not None else []
    else:
        candidates = await taken.schools_named(session, job.district_id, text)
    candidates = [s for s in candidates if s.district_id == job.district_id]
    if not candidates:
        return None, [{"column": column, "code": "school-unknown", "params": {"value": text}}]
    if len(candidates) > 1:
        return None, [{"column": column, "code": "school-ambiguous", "params": {"value": text}}]
    if own is not None and candidates[0].id != own.id:
        return None, [{"column": column, "code": "school-other", "params": {}}]
    return candidates[0], []


async def _check_row(
    session: AsyncSession,
    job: RosterImport,
    header: Header,
    fields: dict[str, Any],
    errors: list[dict[str, Any]],
    earlier: set[str],
    earlier_mobiles: set[str],
    taken: _Taken,
) -> _Row:
    """What one row is, with every error of it; nothing is written."""
    own = await taken.school(session, job.school_scope)  # None: the bureau imports
    school, school_errors = await _school_of(session, job, header, fields, taken, own)
    errors = [*errors, *school_errors]
    data = None
    if school is not None and not errors:  # what the cells said is told once, not again
        data, invalid = validate(header, fields, school.id)
        errors += invalid
    number, mobile = fields.get("id_number"), fields.get("mobile")
    known = holder = None
    if number:
        if number in earlier:
            errors.append(_error(header, "id_number", "duplicate-id-number"))
        digest = pii.lookup_hash(number)
        found = taken.teachers.get(digest, [])
        known = next((t for t in found if in_scope(t, job.school_scope)), None)
        if known is None:
            holder = next((t for t in found if t.id_number_hash == digest), None)
    mobile_elsewhere = False
    if mobile and known is None:
        if mobile in earlier_mobiles:
            errors.append(_error(header, "mobile", "duplicate-mobile"))
        holders = taken.mobiles.get(pii.lookup_hash(mobile), [])
        if any(in_scope(t, job.school_scope) for t in holders):
            errors.append(_error(header, "mobile", "mobile-taken"))
        # Held elsewhere: kept, not as a login, and counted like any row (nothing told).
        mobile_elsewhere = bool(holders)
    if errors or data is None:
        return _Row(errors=sorted(errors, key=lambda e: header.position(e["column"])))
    return _Row(data, school, known=known, holder=holder, mobile_elsewhere=mobile_elsewhere)


def _error(header: Header, name: str, key: str, **params: Any) -> dict[str, Any]:
    return {"column": header.column(name), "code": key, "params": params}


def _opened(content: bytes) -> bytes:
    try:
        return pii.unseal(content)
    except InvalidTag:
        return content  # queued before uploads were sealed (migration 2b5e7d1c9f40)


async def _finish(
    session: AsyncSession, job: RosterImport, status: str, parsed: RosterFile | None = None
) -> None:
    job.status = status
    job.finished_at = utcnow()
    job.content = b""  # the rows are in the directory (or the report) now
    refused = {e["row"] for e in job.errors if e.get("row")}
    if parsed is not None and refused:
        kept = {"header": parsed.header.titles, "rows": [r for r in parsed.rows if r[0] in refused]}
        job.refused_rows = pii.seal(json.dumps(kept, ensure_ascii=False).encode())
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


def _noted(fields: dict[str, Any], earlier: set[str], mobiles: set[str]) -> None:
    if fields.get("id_number"):
        earlier.add(fields["id_number"])
    if fields.get("mobile"):
        mobiles.add(fields["mobile"])


async def process(database: Database, import_id: uuid.UUID, lease: Lease) -> None:
    """Work through one import claimed with `lease`, a chunk per transaction; safe to call
    again after a crash. It always ends finished (done or failed) unless the lease is lost."""
    async with database.sessions() as session:
        job = await _locked(session, import_id, lease)
        if job is None:
            return
        if job.attempts > MAX_ATTEMPTS:
            job.errors = [*job.errors, {"row": None, "code": "given-up", "params": {}}]
            await _finish(session, job, "failed")
            await session.commit()
            return
        content = job.content
        await session.commit()
    parsed = await read_rows(_opened(content))  # parsed with no transaction open
    rows = parsed.rows
    # Identity and mobile numbers of the rows before the chunk in hand (a repeat is refused).
    earlier: set[str] = set()
    mobiles: set[str] = set()
    seen = 0
    while True:
        async with database.sessions() as session:
            job = await _locked(session, import_id, lease)
            if job is None:
                return
            job.status = "running"
            start = job.processed_rows
            if start >= len(rows):
                await _complete(session, job, parsed)
                return
            if seen != start:  # resumed after a stop: the rows imported before it, once
                earlier, mobiles = set(), set()
                for k in range(start):
                    _noted(_parsed(parsed, job, k)[0], earlier, mobiles)
            errors = list(job.errors)
            chunk = [_parsed(parsed, job, k) for k in range(start, min(start + CHUNK, len(rows)))]
            taken = await _taken(session, [fields for fields, _ in chunk])
            logins: list[TeacherLogin] = []
            registered: list[Teacher] = []
            for k, (fields, cell_errors) in enumerate(chunk, start=start):
                line = rows[k][0]
                checked = await _check_row(
                    session, job, parsed.header, fields, cell_errors, earlier, mobiles, taken
                )
                _noted(fields, earlier, mobiles)
                if checked.errors:
                    errors += [{"row": line, **e} for e in checked.errors]
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
            job.processed_rows = seen = min(start + CHUNK, len(rows))
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
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


async def _complete(session: AsyncSession, job: RosterImport, parsed: RosterFile) -> None:
    import_id = job.id
    if job.mode == ImportMode.ALL_OR_NOTHING and not job.errors:
        try:
            await _write_all(session, job, parsed)
        except _Changed as exc:
            # Nothing of the file is kept: undo the rows written so far, then record why.
            await session.rollback()
            job = await session.get(RosterImport, import_id, populate_existing=True)
            assert job is not None
            job.created_count = 0
            job.errors = [{"row": None, "code": "changed", "params": {}}, *exc.errors]
    failed = job.mode == ImportMode.ALL_OR_NOTHING and bool(job.errors)
    await _finish(session, job, "failed" if failed else "done", parsed)
    await session.commit()


async def _write_all(session: AsyncSession, job: RosterImport, parsed: RosterFile) -> None:
    """all_or_nothing, after every row checked clean: write them all in one transaction."""
    earlier: set[str] = set()
    mobiles: set[str] = set()
    job.skipped_count = 0
    logins: list[TeacherLogin] = []
    registered: list[Teacher] = []
    taken = _Taken({}, {})
    rows = parsed.rows
    for k in range(len(rows)):
        if k % CHUNK == 0:
            await announce(session, registered, logins)  # a chunk's rows and events at once
            logins, registered = [], []
            chunk = [_parsed(parsed, job, i)[0] for i in range(k, min(k + CHUNK, len(rows)))]
            taken = await _taken(session, chunk)
        fields, cell_errors = _parsed(parsed, job, k)
        checked = await _check_row(
            session, job, parsed.header, fields, cell_errors, earlier, mobiles, taken
        )
        _noted(fields, earlier, mobiles)
        if checked.errors:  # changed since the check (a concurrent registration): fail it all
            raise _Changed([{"row": rows[k][0], **e} for e in checked.errors])
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


# --- what a person reads of an import ---


def described(job: RosterImport, language: Language) -> RosterImportRead:
    """The job as its reader sees it: errors and warnings in their language."""
    read = RosterImportRead.model_validate(job)
    read.errors = described_errors(job, language)
    read.warnings = described_warnings(job, language)
    return read


def described_errors(job: RosterImport, language: Language) -> list[dict[str, Any]]:
    """The job's errors as sentences in `language`, each with its row and the user's column;
    errors recorded before the catalogue (an `error` text) are passed on as they are."""
    out = []
    for error in job.errors:
        if "code" not in error:
            out.append(error)
            continue
        params = dict(error.get("params") or {})
        params.setdefault("column", error.get("column") or "")
        if "message_zh" in params:
            params["message"] = params["message_zh" if language == "zh" else "message_en"]
        zh, en = messages.ROWS.get(error["code"], messages.ROWS["invalid"])
        text = i18n.render(zh if language == "zh" else en, params)
        if not error.get("column"):
            text = text.lstrip("：: ")
        out.append(
            {
                "row": error.get("row"),
                "column": error.get("column"),
                "code": error["code"],
                "error": text,
            }
        )
    return out


def described_warnings(job: RosterImport, language: Language) -> list[str]:
    zh, en = messages.WARNINGS["ignored-column"]
    return [i18n.render(zh if language == "zh" else en, {"column": c}) for c in job.ignored_columns]


REPORT_ROW = ("原行号", "row")
REPORT_ERRORS = ("错误说明", "errors")


def error_report(job: RosterImport, language: Language) -> tuple[list[str], list[list[Any]]]:
    """The refused rows as the file had them, with the row number and every error of each:
    a school office fixes them in place and uploads the sheet again (the two added columns
    are ignored then)."""
    kept = json.loads(pii.unseal(job.refused_rows)) if job.refused_rows else None
    header = list(kept["header"]) if kept else []
    by_row: dict[int | None, list[str]] = {}
    for error in described_errors(job, language):
        by_row.setdefault(error.get("row"), []).append(error["error"])
    pick = 0 if language == "zh" else 1
    out: list[list[Any]] = []
    for line, values in kept["rows"] if kept else []:
        cells = list(values) + [""] * (len(header) - len(values))
        out.append([*cells, line, "；".join(by_row.get(line, []))])
    for text in by_row.get(None, []):  # an error of the whole file
        out.append([""] * len(header) + ["", text])
    return [*header, REPORT_ROW[pick], REPORT_ERRORS[pick]], out


def template() -> tuple[list[str], list[list[str]]]:
    """The columns a roster file may have, and what each takes."""
    notes = [
        ["姓名", "必填"],
        ["学校", "学校名称或学校编号；学校管理员导入本校教师时可不填"],
        ["学段", "必填，可填：" + vocabulary.choices(vocabulary.STAGES)],
        ["学科", "必填"],
        ["入职日期", "如 2019-09-01、2019/9/1、2019年9月1日"],
        ["身份证号", "18 位；请将该列设为“文本”，以免末几位丢失"],
        ["手机号", "11 位手机号"],
        ["角色", "可填多个，用顿号分隔：" + vocabulary.choices(vocabulary.ROLES)],
        ["其他列", "如序号、性别、职称，导入时忽略"],
    ]
    return TEMPLATE, notes
