"""The program catalogue as a teacher browses it on a phone: filters, Chinese search, sorts.

Search and audience filters go through `catalogue_term` (docs/decisions.md, "Catalogue
search"): Chinese text is indexed as overlapping character pairs, so a two-character word is
one index lookup on PostgreSQL and SQLite alike; each word of the query is then checked as a
substring of the few programs found, never of the whole table.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment import eligibility
from services.enrolment.models import CatalogueTerm, Enrolment, Institution, Program, Teacher
from services.enrolment.programs import get_program, programs_query
from services.enrolment.schemas import CatalogueDetail, CatalogueItem, CatalogueSort, RuleCheck
from services.enrolment.search_terms import EVERYONE, MAX_TERM, RUN, is_cjk, normal
from shared.auth import Principal, Role
from shared.db import utcnow
from shared.errors import BadRequest, Problem, Unprocessable
from shared.pagination import decode_key, encode_key

MAX_QUERY = 50
TOP = "\U0010ffff"  # above every character: `term < x + TOP` is "starts with x"

FILTERS = frozenset(
    {
        "q",
        "stage",
        "subject",
        "role",
        "mode",
        "level",
        "category",
        "institution_id",
        "status",
        "date_from",
        "date_to",
        "open_now",
        "seats_left",
        "sort",
        "limit",
        "cursor",
    }
)
# What the catalogue lists unless a status is asked for: the offer, not its history.
CURRENT = ("published", "enrolment_closed", "running")


def _has_term(term: str, *, prefix: bool = False) -> ColumnElement[bool]:
    found = select(CatalogueTerm.program_id)
    if prefix:
        found = found.where(CatalogueTerm.term >= term, CatalogueTerm.term < term + TOP)
    else:
        found = found.where(CatalogueTerm.term == term)
    return Program.id.in_(found)


def _any_term(terms: list[str]) -> ColumnElement[bool]:
    return Program.id.in_(select(CatalogueTerm.program_id).where(CatalogueTerm.term.in_(terms)))


def search_condition(q: str) -> ColumnElement[bool]:
    """Programs whose title or description holds every word of `q` (an index lookup first)."""
    if len(q) > MAX_QUERY:
        raise Unprocessable(
            f"搜索词最多 {MAX_QUERY} 个字，现在是 {len(q)} 个字。", code="search-too-long"
        )
    words = [w for w in normal(q).split() if RUN.search(w)]
    if not words:
        raise Unprocessable("搜索词需要包含汉字、字母或数字。", code="search-empty")
    conditions: list[ColumnElement[bool]] = []
    for word in words:
        runs = RUN.findall(word)
        for run in runs:
            if is_cjk(run) and len(run) > 1:
                conditions.extend(_has_term(run[i : i + 2]) for i in range(len(run) - 1))
            else:
                conditions.append(_has_term(run[:MAX_TERM], prefix=True))
        # One pair, one character or one ASCII word found by its term is the substring
        # itself; longer words are only known to hold their pairs, so they are checked in order.
        if len(runs) == 1 and (not is_cjk(runs[0]) or len(runs[0]) <= 2):
            continue
        conditions.append(
            or_(
                func.lower(Program.title).contains(word, autoescape=True),
                func.lower(Program.description).contains(word, autoescape=True),
            )
        )
    return and_(*conditions)


def audience_condition(
    *, stage: str | None, subject: str | None, roles: list[str] | None
) -> list[ColumnElement[bool]]:
    """Programs open to this stage, subject and (any of) these roles; empty lists admit all."""
    out = []
    if stage:
        out.append(_any_term([f"stage:{normal(stage)}", f"stage:{EVERYONE}"]))
    if subject:
        out.append(_any_term([f"subject:{normal(subject)}"[:MAX_TERM], f"subject:{EVERYONE}"]))
    if roles is not None:
        out.append(_any_term([*(f"role:{r}" for r in roles), f"role:{EVERYONE}"]))
    return out


def open_now_condition(now: dt.datetime) -> ColumnElement[bool]:
    return and_(
        Program.status == "published",
        Program.enrol_opens_at <= now,
        Program.enrol_closes_at >= now,
    )


def reject_unknown(params: Any, allowed: frozenset[str] = FILTERS) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise BadRequest(
            f"不认识的筛选条件：{'、'.join(unknown)}。可用的条件：{'、'.join(sorted(allowed))}。",
            code="unknown-filter",
            unknown=unknown,
        )


@dataclass(frozen=True)
class Filters:
    q: str | None = None
    stage: str | None = None
    subject: str | None = None
    role: str | None = None
    mode: str | None = None
    level: str | None = None
    category: str | None = None
    institution_id: uuid.UUID | None = None
    status: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    open_now: bool = False
    seats_left: bool = False

    def check(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise Unprocessable(
                f"日期范围不对：开始日期 {self.date_from} 晚于结束日期 {self.date_to}。",
                code="bad-date-range",
            )


def filtered(principal: Principal, filters: Filters, now: dt.datetime) -> Select:
    """The programs the caller may see (programs.programs_query) that pass the filters."""
    filters.check()
    query = programs_query(principal)
    conditions: list[ColumnElement[bool]] = []
    if filters.q:
        conditions.append(search_condition(filters.q))
    conditions += audience_condition(
        stage=filters.stage,
        subject=filters.subject,
        roles=[filters.role] if filters.role else None,
    )
    for column, value in (
        (Program.mode, filters.mode),
        (Program.level, filters.level),
        (Program.category, filters.category),
        (Program.institution_id, filters.institution_id),
    ):
        if value is not None:
            conditions.append(column == value)
    conditions.append(
        Program.status == filters.status if filters.status else Program.status.in_(CURRENT)
    )
    # A program runs during the range when it starts before the range ends and ends after
    # it starts.
    if filters.date_to:
        conditions.append(Program.starts_on <= filters.date_to)
    if filters.date_from:
        conditions.append(Program.ends_on >= filters.date_from)
    if filters.open_now:
        conditions.append(open_now_condition(now))
    if filters.seats_left:
        conditions.append(Program.seats_taken < Program.capacity)
    return query.where(*conditions)


SORTS: dict[CatalogueSort, tuple[Any, bool]] = {
    # column, descending
    CatalogueSort.STARTS_ON: (Program.starts_on, False),
    CatalogueSort.CLOSING: (Program.enrol_closes_at, False),
    CatalogueSort.POPULARITY: (Program.seats_taken, True),
}


def _key_value(sort: CatalogueSort, raw: Any) -> Any:
    if sort is CatalogueSort.STARTS_ON:
        return dt.date.fromisoformat(raw)
    if sort is CatalogueSort.CLOSING:
        when = dt.datetime.fromisoformat(raw)
        if when.tzinfo is None:
            raise ValueError("no zone")
        return when
    if not isinstance(raw, int):
        raise ValueError("not a count")
    return raw


def sorted_page(query: Select, sort: CatalogueSort, limit: int, cursor: str | None) -> Select:
    column, descending = SORTS[sort]
    if cursor:
        raw_value, raw_id = decode_key(cursor, sort.value, 2)
        try:
            value, last_id = _key_value(sort, raw_value), uuid.UUID(str(raw_id))
        except (ValueError, TypeError) as exc:
            raise BadRequest(
                "翻页标记不是本接口给出的，请从第一页重新获取。", code="bad-cursor"
            ) from exc
        beyond = column < value if descending else column > value
        query = query.where(or_(beyond, and_(column == value, Program.id > last_id)))
    order = column.desc() if descending else column
    return query.order_by(order, Program.id).limit(limit + 1)


def next_cursor(sort: CatalogueSort, rows: list[Program], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    column, _ = SORTS[sort]
    return encode_key(sort.value, getattr(last, column.key), str(last.id))


async def my_statuses(
    session: AsyncSession, principal: Principal, program_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[uuid.UUID, str]]:
    """The teacher's own enrolment (id, status) per program; nobody else has one."""
    if principal.role is not Role.TEACHER or not program_ids:
        return {}
    rows = await session.execute(
        select(Enrolment.program_id, Enrolment.id, Enrolment.status).where(
            Enrolment.teacher_id == principal.teacher_id, Enrolment.program_id.in_(program_ids)
        )
    )
    return {row.program_id: (row.id, row.status) for row in rows}


async def institution_names(session: AsyncSession, programs: list[Program]) -> dict[uuid.UUID, str]:
    ids = {p.institution_id for p in programs if p.institution_id}
    if not ids:
        return {}
    rows = await session.execute(
        select(Institution.id, Institution.name).where(Institution.id.in_(ids))
    )
    return {row.id: row.name for row in rows}


def item_fields(
    program: Program,
    *,
    now: dt.datetime,
    names: dict[uuid.UUID, str],
    mine: dict[uuid.UUID, tuple[uuid.UUID, str]],
) -> dict[str, Any]:
    return {
        "id": program.id,
        "title": program.title,
        "starts_on": program.starts_on,
        "ends_on": program.ends_on,
        "hours": program.hours,
        "mode": program.mode,
        "level": program.level,
        "category": program.category,
        "status": program.status,
        "institution_name": names.get(program.institution_id) if program.institution_id else None,
        "place": program.place,
        "enrol_opens_at": program.enrol_opens_at,
        "enrol_closes_at": program.enrol_closes_at,
        "open_now": program.status == "published"
        and program.enrol_opens_at <= now <= program.enrol_closes_at,
        "seats_left": max(program.capacity - program.seats_taken, 0),
        "my_status": mine[program.id][1] if program.id in mine else None,
    }


async def items_of(
    session: AsyncSession, principal: Principal, programs: list[Program], now: dt.datetime
) -> list[CatalogueItem]:
    names = await institution_names(session, programs)
    mine = await my_statuses(session, principal, [p.id for p in programs])
    return [CatalogueItem(**item_fields(p, now=now, names=names, mine=mine)) for p in programs]


async def browse(
    session: AsyncSession,
    *,
    principal: Principal,
    filters: Filters,
    sort: CatalogueSort,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    now = utcnow()
    query = sorted_page(filtered(principal, filters, now), sort, limit, cursor)
    rows = list((await session.scalars(query)).all())
    return {
        "items": await items_of(session, principal, rows[:limit], now),
        "next_cursor": next_cursor(sort, rows, limit),
    }


SELECTION_TEXT = {
    "first_come": "先到先得，满额后进入候补",
    "recommended": "教师申请、学校推荐、教育局审核（R2）",
}


async def rules_for(session: AsyncSession, program: Program, teacher: Teacher) -> list[RuleCheck]:
    """The enrolment rules as they stand for this teacher, each from eligibility.py itself."""
    out: list[RuleCheck] = []
    for code, label, check in (
        ("enrolment-window", "报名时间", lambda: _sync(eligibility.check_open, program)),
        (
            "target-audience",
            "面向对象",
            lambda: _sync(eligibility.check_audience, program, teacher),
        ),
        ("no-overlap", "时间不冲突", lambda: eligibility.check_free(session, program, teacher)),
        (
            "r6-evaluation",
            "本学期培训已全部评价（R6）",
            lambda: eligibility.check_r6_evaluated(session, program, teacher),
        ),
    ):
        try:
            await check()
            out.append(RuleCheck(code=code, label=label, ok=True))
        except Problem as problem:
            out.append(RuleCheck(code=code, label=label, ok=False, detail=problem.detail))
    out.append(
        RuleCheck(
            code="selection",
            label="选拔方式",
            ok=True,
            detail=SELECTION_TEXT.get(program.selection, program.selection),
        )
    )
    if program.cost_per_participant_fen:
        payer = "学校" if program.funded_by == "school" else "教育局"
        out.append(
            RuleCheck(
                code="funding",
                label="培训费用",
                ok=True,
                detail=f"每人 {program.cost_per_participant_fen / 100:.2f} 元，由{payer}经费支付",
            )
        )
    return out


async def _sync(check: Any, *args: Any) -> None:
    check(*args)


async def detail(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID
) -> CatalogueDetail:
    """One program as the catalogue shows it; the same visibility as GET /v1/programs/{id}."""
    program = await get_program(session, principal=principal, program_id=program_id)
    now = utcnow()
    names = await institution_names(session, [program])
    mine = await my_statuses(session, principal, [program.id])
    rules: list[RuleCheck] = []
    if principal.role is Role.TEACHER:
        teacher = await session.get(Teacher, principal.teacher_id)
        if teacher is not None:
            rules = await rules_for(session, program, teacher)
    return CatalogueDetail(
        **item_fields(program, now=now, names=names, mine=mine),
        description=program.description,
        selection=program.selection,
        capacity=program.capacity,
        audience=program.audience,
        expert_team=program.expert_team,
        cost_per_participant_fen=program.cost_per_participant_fen,
        funded_by=program.funded_by,
        my_enrolment_id=mine[program.id][0] if program.id in mine else None,
        rules=rules,
    )
