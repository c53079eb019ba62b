"""Sessions of a program and check-in by QR code (扫码签到), and each teacher's calendar.

The institution's screen shows a code that changes every `POLICY.check_in.code_seconds`:
`<session id>.<window>.<mac>`, where window is the Unix time divided by that period and mac
is an HMAC (the deployment's key, purpose "check-in-code") of the session and window. It is
signed, so it cannot be made up; it names its session, so a code of another session is
refused; it is short-lived, so a photo sent around stops working within two periods (the
code of the window before is still taken, for a scan made as it changes). Nothing is stored
per code. A check-in marks the trainee present for that day of the program (R5 reads it
from attendance) and late when it comes past `late_after`.
"""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.attendance import runs_program
from services.enrolment.models import (
    Attendance,
    CheckIn,
    Enrolment,
    Program,
    ProgramSession,
    Teacher,
)
from services.enrolment.policy import POLICY, EnrolmentPolicy
from services.enrolment.programs import get_program
from services.enrolment.schemas import SessionCreate
from shared.access import ensure_in_scope
from shared.auth import Principal, Role
from shared.config import DISTRICT_TZ
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.pii import keyed_hash

LOCAL = ZoneInfo(DISTRICT_TZ)
SCHEDULABLE = ("approved", "published", "enrolment_closed", "running")
# Places whose holder has the program in their calendar.
CALENDAR_STATUSES = ("offered", "pending_funds", "confirmed", "completed")


def _window(at: dt.datetime, policy: EnrolmentPolicy = POLICY) -> int:
    return int(at.timestamp()) // policy.check_in.code_seconds


def _mac(session_id: uuid.UUID, window: int) -> str:
    return keyed_hash("check-in-code", f"{session_id}:{window}")[:32]


def code_at(
    session_id: uuid.UUID, at: dt.datetime, policy: EnrolmentPolicy = POLICY
) -> tuple[str, dt.datetime]:
    """The code shown at `at`, and when the next one replaces it."""
    window = _window(at, policy)
    expires = dt.datetime.fromtimestamp((window + 1) * policy.check_in.code_seconds, dt.UTC)
    return f"{session_id}.{window}.{_mac(session_id, window)}", expires


def check_code(
    code: str, session_id: uuid.UUID, now: dt.datetime, policy: EnrolmentPolicy = POLICY
) -> None:
    """Refuse a forged, foreign or expired code with the reason; a good one passes."""
    parts = code.strip().split(".")
    try:
        named, window = uuid.UUID(parts[0]), int(parts[1])
        genuine = len(parts) == 3 and hmac.compare_digest(parts[2], _mac(named, window))
    except (ValueError, IndexError):
        genuine = False
    if not genuine:
        raise Unprocessable("签到码无效，请重新扫描现场的二维码。", code="check-in-code-invalid")
    if named != session_id:
        raise Unprocessable("这是另一场次的签到码。", code="check-in-code-foreign")
    if not 0 <= _window(now, policy) - window <= 1:
        raise Unprocessable(
            "签到码已过期，请扫描屏幕上最新的二维码。", code="check-in-code-expired"
        )


async def create_session(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID, data: SessionCreate
) -> ProgramSession:
    program = await get_program(session, principal=principal, program_id=program_id)
    if not runs_program(principal, program):
        raise Forbidden("场次由举办项目的机构（或教育局）安排。")
    if program.status not in SCHEDULABLE:
        raise Conflict(
            f"项目状态为 {program.status}，不能安排场次。", code="program-not-schedulable"
        )
    if data.ends_at <= data.starts_at:
        raise Unprocessable("场次的结束时间须晚于开始时间。", code="dates-out-of-order")
    days = (data.starts_at.astimezone(LOCAL).date(), data.ends_at.astimezone(LOCAL).date())
    if not all(program.starts_on <= day <= program.ends_on for day in days):
        raise Unprocessable("场次须在项目的起止日期之内。", code="session-date")
    if data.place is None and data.online_url is None:
        raise Unprocessable("请填写场次地点或线上链接。", code="session-place-missing")
    found = ProgramSession(
        program_id=program.id,
        district_id=program.district_id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        place=data.place,
        online_url=data.online_url,
    )
    session.add(found)
    await session.flush()
    return found


async def list_sessions(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID
) -> list[ProgramSession]:
    await get_program(session, principal=principal, program_id=program_id)
    rows = await session.scalars(
        select(ProgramSession)
        .where(ProgramSession.program_id == program_id)
        .order_by(ProgramSession.starts_at, ProgramSession.id)
    )
    return list(rows.all())


async def _session_and_program(
    session: AsyncSession, principal: Principal, session_id: uuid.UUID
) -> tuple[ProgramSession, Program]:
    found = await session.get(ProgramSession, session_id)
    if found is None:
        raise NotFound("没有这个场次。")
    program = await get_program(session, principal=principal, program_id=found.program_id)
    return found, program


async def current_code(
    session: AsyncSession, *, principal: Principal, session_id: uuid.UUID, now: dt.datetime
) -> tuple[str, dt.datetime]:
    """The code for the institution's screen: only whoever runs the program gets it."""
    found, program = await _session_and_program(session, principal, session_id)
    if not runs_program(principal, program):
        raise Forbidden("签到码只向举办项目的机构显示。")
    return code_at(found.id, now)


async def check_in(
    session: AsyncSession,
    *,
    principal: Principal,
    session_id: uuid.UUID,
    code: str,
    now: dt.datetime,
) -> tuple[CheckIn, bool]:
    """A trainee's scan: (the check-in, whether it is new). Scanning again changes nothing."""
    if principal.role is not Role.TEACHER:
        raise Forbidden("签到由参训教师本人扫码完成。")
    found, program = await _session_and_program(session, principal, session_id)
    enrolment = await session.scalar(
        select(Enrolment).where(
            Enrolment.program_id == program.id, Enrolment.teacher_id == principal.teacher_id
        )
    )
    if enrolment is None or enrolment.status != "confirmed":
        raise Forbidden("你不是该项目已确认的学员。", code="not-a-trainee")
    check_code(code, found.id, now)
    rule = POLICY.check_in
    if not found.starts_at - rule.opens_before <= now <= found.ends_at:
        raise Conflict(
            "不在该场次的签到时间内。",
            code="session-not-open",
            opens_at=(found.starts_at - rule.opens_before).isoformat(),
            closes_at=found.ends_at.isoformat(),
        )
    if program.status != "running":
        raise Conflict(f"项目状态为 {program.status}，尚未开班。", code="program-not-running")
    earlier = await session.scalar(
        select(CheckIn).where(CheckIn.session_id == found.id, CheckIn.enrolment_id == enrolment.id)
    )
    if earlier is not None:
        return earlier, False
    made = CheckIn(
        session_id=found.id,
        program_id=program.id,
        enrolment_id=enrolment.id,
        teacher_id=enrolment.teacher_id,
        checked_in_at=now,
        late=now > found.starts_at + rule.late_after,
    )
    session.add(made)
    # R5 counts attendance per day of the program: the scan marks the trainee present.
    day = found.starts_at.astimezone(LOCAL).date()
    mark = await session.scalar(
        select(Attendance).where(
            Attendance.enrolment_id == enrolment.id, Attendance.session_on == day
        )
    )
    if mark is None:
        session.add(
            Attendance(
                program_id=program.id, enrolment_id=enrolment.id, session_on=day, present=True
            )
        )
    else:
        mark.present = True
    await session.flush()
    return made, True


async def teacher_calendar(
    session: AsyncSession, *, principal: Principal, teacher_id: uuid.UUID
) -> str:
    """The teacher's sessions as an iCalendar feed (RFC 5545), for the phone's calendar."""
    if principal.role is Role.SERVICE:
        raise Forbidden("日程订阅只提供给教师本人、学校和教育局。")
    teacher = await session.get(Teacher, teacher_id)
    if teacher is None:
        raise NotFound("没有这位教师。")
    ensure_in_scope(
        principal,
        "teacher",
        district_id=teacher.district_id,
        school_id=teacher.school_id,
        teacher_id=teacher.id,
    )
    rows = (
        await session.execute(
            select(ProgramSession, Program.title)
            .join(Program, Program.id == ProgramSession.program_id)
            .join(Enrolment, Enrolment.program_id == Program.id)
            .where(
                Enrolment.teacher_id == teacher_id,
                Enrolment.status.in_(CALENDAR_STATUSES),
                Program.status != "cancelled",
            )
            .order_by(ProgramSession.starts_at)
        )
    ).all()
    return ical(rows)


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 3.1: lines of at most 75 octets, continued with a space."""
    out, current = [], ""
    for char in line:
        if len((current + char).encode()) > 75:
            out.append(current)
            current = " "
        current += char
    out.append(current)
    return "\r\n".join(out)


def ical(rows: list) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//shixun//sessions//ZH",
        "CALSCALE:GREGORIAN",
    ]
    for found, title in rows:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{found.id}@shixun",
            f"DTSTAMP:{_stamp(found.created_at)}",
            f"DTSTART:{_stamp(found.starts_at)}",
            f"DTEND:{_stamp(found.ends_at)}",
            f"SUMMARY:{_text(title)}",
        ]
        if found.place:
            lines.append(f"LOCATION:{_text(found.place)}")
        if found.online_url:
            lines.append(f"URL:{found.online_url}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
