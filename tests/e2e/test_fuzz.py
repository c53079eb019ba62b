"""schemathesis against the suite as `make run` starts it: real processes, sockets, the gateway.

First a scenario of valid requests (each sent as a schemathesis case and checked like any
other) makes a world with real ids: programs through their whole lifecycle, enrolments,
hours, funds, evaluations. Then every operation gets generated requests in which ids are,
most of the time, real ones, so they reach the code behind the 404. The run reports which
operations answered a 2xx and fails on any operation that did not.

SHIXUN_FUZZ_EXAMPLES sets the generated requests per operation (30 for a thorough run).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import random
import secrets
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.openapi import from_dict
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.ledger.imports import COLUMNS
from shared.office_values import check_digit
from tests.e2e.processes import supervised

EXAMPLES = int(os.environ.get("SHIXUN_FUZZ_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
PASSWORD = "fuzz-admin-password"
RAISED = {
    "SHIXUN_BOOTSTRAP_ADMIN_PASSWORD": PASSWORD,
    "SHIXUN_GATEWAY_RATE_ACCOUNT_PER_MINUTE": "1000000",
    "SHIXUN_GATEWAY_RATE_ACCOUNT_BURST": "1000000",
    "SHIXUN_GATEWAY_RATE_CLIENT_PER_MINUTE": "1000000",
    "SHIXUN_GATEWAY_RATE_CLIENT_BURST": "1000000",
    # Webhooks go to this machine only, and the dispatcher stays idle during the run: the
    # fuzzer subscribes made-up addresses, which must never be called.
    "SHIXUN_GATEWAY_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "SHIXUN_GATEWAY_WEBHOOK_POLL_SECONDS": "86400",
}
# Generated requests that would end the sessions the run works with.
# Wrong current passwords, generated, would lock the admin out.
NOT_FUZZED = {"POST /v1/auth/logout", "POST /v1/me/password"}
# Operations that cannot answer a 2xx in this run, and why.
NO_2XX: dict[str, str] = {
    # tests/gateway/test_oidc.py runs them against a real OpenID provider.
    "GET /v1/auth/oidc/start": "a redirect (302) where a provider is configured; none is here",
    "GET /v1/auth/oidc/callback": "needs a provider's authorization code; none is configured here",
    # tests/shared/test_dead_letters.py replays real ones; a fresh suite has none to replay.
    **{
        f"POST /v1/ops/{part}/dead-letters/{{dead_letter_id}}/replay": "no dead letter exists"
        for part in ("gateway", "enrolment", "ledger", "budget", "feedback")
    },
}
TODAY = dt.date.today()


def days(n: int) -> str:
    return (TODAY + dt.timedelta(days=n)).isoformat()


class Run:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        document = self.http.get(f"{base_url}/openapi.json", timeout=30).json()
        assert "x-missing-services" not in document["info"]
        self.schema = from_dict(document)
        self.operations = {
            f"{op.method.upper()} {op.path}": op
            for op in (r.ok() for r in self.schema.get_all_operations())
        }
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.ids: dict[str, list[str]] = defaultdict(list)
        self.failures: list[str] = []
        self.admin: dict[str, str] = {}

    # -- the scenario ------------------------------------------------------------------
    def call(
        self,
        label: str,
        *,
        as_: dict[str, str] | None = None,
        keep: str | None = None,
        wait: float = 0,
        **parts: Any,
    ) -> Any:
        """One valid request, checked like a generated one; it must answer a 2xx, within
        `wait` seconds when it depends on events still on their way."""
        deadline = time.monotonic() + wait
        while True:
            case = self.operations[label].Case(**parts)
            headers = self.admin if as_ is None else as_
            response = case.call(base_url=self.base_url, session=self.http, headers=headers)
            self.statuses[label][response.status_code] += 1
            case.validate_response(response, checks=CHECKS)
            ok = 200 <= response.status_code < 300
            if ok or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert ok, f"{label}: {response.status_code} {response.text[:500]}"
        try:
            body = response.json()
        except ValueError:
            body = None  # a file or no content
        if keep and body:
            self.ids[keep].append(body["id"])
        return body

    def login(self, username: str, password: str) -> tuple[dict[str, str], dict[str, Any]]:
        token = self.call(
            "POST /v1/auth/token",
            as_={},
            body={"grant_type": "password", "username": username, "password": password},
            media_type="application/x-www-form-urlencoded",
        )
        return {"Authorization": f"Bearer {token['access_token']}"}, token

    def until(self, found: Callable[[], Any], timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := found()):
            assert time.monotonic() < deadline, "the events did not arrive in time"
            time.sleep(0.3)
        return value

    # -- generated requests ------------------------------------------------------------
    def real_ids(self, operation: Any, case: Any, rnd: random.Random) -> None:
        def real(name: str) -> str | None:
            key = name
            if name == "import_id":
                key = "ledger_import_id" if "/ledger/" in operation.path else "roster_import_id"
            pool = self.ids.get(key)
            return rnd.choice(pool) if pool and rnd.random() < 0.8 else None

        for name in list(case.path_parameters or {}):
            if value := real(name):
                case.path_parameters[name] = value
        for part in (case.query, case.body):
            if isinstance(part, dict):
                for name in list(part):
                    if name.endswith("_id") and (value := real(name)):
                        part[name] = value

    def fuzz(self, label: str) -> None:
        operation = self.operations[label]

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), rnd=st.randoms(use_true_random=False))
        def check(case: Any, rnd: random.Random) -> None:
            self.real_ids(operation, case, rnd)
            try:
                response = case.call(base_url=self.base_url, session=self.http, headers=self.admin)
            except (requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader):
                reject()  # no HTTP client sends it (a control character in a header)
            self.statuses[label][response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:
            self.failures.append(f"{label}: {str(exc)[:1500]}")


def scenario(run: Run) -> None:
    """A district's year in valid requests, for what generated ones cannot reach: what needs
    a state (a finished program, an open follow-up, a payable) or a body no generator finds."""
    run.admin, _ = run.login("admin", PASSWORD)
    call = run.call
    call("GET /healthz")
    call("GET /readyz")
    call("GET /v1/me")

    school = call(
        "POST /v1/schools", body={"name": "实验小学", "stage": "primary"}, keep="school_id"
    )
    call(
        "PATCH /v1/schools/{school_id}",
        path_parameters={"school_id": school["id"]},
        body={"max_away": 3},
    )
    institution = call(
        "POST /v1/institutions", body={"name": "区教师进修学校"}, keep="institution_id"
    )
    hook = call(
        "POST /v1/webhooks",
        body={
            "url": "http://127.0.0.1:9/hooks",
            "event_types": ["enrolment.teacher.registered.v1"],
        },
        keep="webhook_id",
    )

    def teacher(name: str) -> dict[str, Any]:
        return call(
            "POST /v1/teachers",
            body={
                "name": name,
                "school_id": school["id"],
                "stage": "primary",
                "subject": "数学",
                "hired_on": "2015-09-01",
                "id_number": f"110105{secrets.randbelow(10**11):011d}X",
            },
            keep="teacher_id",
        )

    trainee, second, third, fourth = (teacher(n) for n in ("李老师", "王老师", "张老师", "赵老师"))
    call(
        "PATCH /v1/teachers/{teacher_id}",
        path_parameters={"teacher_id": fourth["id"]},
        body={"subject": "语文"},
    )

    def account(role: str, **scope: str) -> dict[str, str]:
        username = f"{role}-{uuid.uuid4().hex[:6]}"
        call(
            "POST /v1/accounts",
            body={"username": username, "password": "fuzz-pass-123", "role": role, **scope},
        )
        return run.login(username, "fuzz-pass-123")[0]

    as_trainee = account("teacher", teacher_id=trainee["id"])
    as_second = account("teacher", teacher_id=second["id"])
    as_school = account("school_admin", school_id=school["id"])
    as_institution = account("institution_admin", institution_id=institution["id"])
    call("GET /v1/me/dashboard", as_=as_trainee)
    call("GET /v1/catalogue/for-me", as_=as_trainee)

    _, tokens = run.login("admin", PASSWORD)
    refreshed = call(
        "POST /v1/auth/token",
        as_={},
        body={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        media_type="application/x-www-form-urlencoded",
    )
    call(
        "POST /v1/auth/revoke",
        as_={},
        body={"token": refreshed["refresh_token"]},
        media_type="application/x-www-form-urlencoded",
    )

    # A teacher's login from the roster: found, handed its code, activated, managed.
    number, phone = f"320102{secrets.randbelow(10**11):011d}X", f"139{secrets.randbelow(10**8):08d}"
    call(
        "POST /v1/teachers",
        body={
            "name": "孙老师",
            "school_id": school["id"],
            "stage": "primary",
            "subject": "数学",
            "id_number": number,
            "mobile": phone,
            "login": True,
        },
        keep="teacher_id",
    )
    login = run.until(lambda: call("GET /v1/accounts", query={"q": number})["items"])[0]
    run.ids["account_id"].append(login["id"])
    call("POST /v1/accounts/activation-codes", body={"school_id": school["id"]})
    code = call(
        "POST /v1/accounts/{account_id}/reset", path_parameters={"account_id": login["id"]}
    )["activation_code"]
    restricted, _ = run.login(phone, code)
    as_sun = {
        "Authorization": "Bearer "
        + call("POST /v1/me/password", as_=restricted, body={"new_password": "孙老师的密码 1"})[
            "access_token"
        ]
    }
    call(
        "POST /v1/me/password",
        as_=as_sun,
        body={"current_password": "孙老师的密码 1", "new_password": "孙老师的密码 2"},
    )
    for action in ("disable", "enable", "unlock"):
        call(
            f"POST /v1/accounts/{{account_id}}/{action}",
            path_parameters={"account_id": login["id"]},
        )

    client = call(
        "POST /v1/service-accounts",
        body={"name": "学校人事系统", "scopes": ["roster:read"]},
        keep="account_id",
    )

    def deliveries() -> list[dict[str, Any]]:
        return call(
            "GET /v1/webhooks/{webhook_id}/deliveries", path_parameters={"webhook_id": hook["id"]}
        )["items"]

    delivery = run.until(deliveries)[0]
    run.ids["delivery_id"].append(delivery["id"])
    call(
        "POST /v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        path_parameters={"webhook_id": hook["id"], "delivery_id": delivery["id"]},
    )

    def program(starts: int, ends: int, **overrides: Any) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC)
        body = {
            "title": "小学数学骨干教师培训",
            "hours": "24.0",
            "capacity": 50,
            "mode": "centralized",
            "level": "district",
            "category": "self_selected",
            "selection": "first_come",
            "institution_id": institution["id"],
            "enrol_opens_at": (now - dt.timedelta(hours=1)).isoformat(),
            "enrol_closes_at": (now + dt.timedelta(days=7)).isoformat(),
            "starts_on": days(starts),
            "ends_on": days(ends),
        } | overrides
        return call("POST /v1/programs", body=body, keep="program_id")

    def move(program_id: str, *actions: str, body: Any = None) -> None:
        for action in actions:
            call(
                "POST /v1/programs/{program_id}/{action}",
                path_parameters={"program_id": program_id, "action": action},
                **({"body": body} if body else {}),
            )

    def enrol(program_id: str, teacher_id: str) -> dict[str, Any]:
        return call(
            "POST /v1/programs/{program_id}/enrolments",
            path_parameters={"program_id": program_id},
            body={"teacher_id": teacher_id},
            keep="enrolment_id",
        )

    def act(enrolment_id: str, action: str, **kw: Any) -> dict[str, Any]:
        return call(
            "POST /v1/enrolments/{enrolment_id}/{action}",
            path_parameters={"enrolment_id": enrolment_id, "action": action},
            **kw,
        )

    # A program still ahead: quotas, recommendation, leave, attendance, completion.
    ahead = program(10, 12, selection="recommended")
    pid = {"program_id": ahead["id"]}
    call("PATCH /v1/programs/{program_id}", path_parameters=pid, body={"title": "骨干教师研修"})
    call(
        "PUT /v1/programs/{program_id}/quotas",
        path_parameters=pid,
        body={"quotas": [{"school_id": school["id"], "seats": 10}]},
    )
    call("GET /v1/programs/{program_id}/quotas", path_parameters=pid)
    move(ahead["id"], "submit", "approve", "publish")
    first = enrol(ahead["id"], trainee["id"])
    act(first["id"], "recommend", as_=as_school)
    act(first["id"], "approve")
    refused = enrol(ahead["id"], third["id"])
    act(refused["id"], "reject", body={"reason": "名额已满"})
    substitute_for = enrol(ahead["id"], second["id"])
    act(substitute_for["id"], "recommend", as_=as_school)
    act(substitute_for["id"], "approve")
    move(ahead["id"], "close-enrolment")
    leave = call(
        "POST /v1/enrolments/{enrolment_id}/leave-requests",
        path_parameters={"enrolment_id": substitute_for["id"]},
        as_=as_second,
        body={"kind": "leave", "reason": "住院"},
    )
    run.ids["leave_id"].append(leave["id"])
    for party, who in (("school", as_school), ("institution", as_institution)):
        call(
            "POST /v1/leave-requests/{leave_id}/decisions",
            path_parameters={"leave_id": leave["id"]},
            as_=who,
            body={"party": party, "approve": True},
        )
    move(ahead["id"], "start")
    call(
        "POST /v1/programs/{program_id}/attendance",
        path_parameters=pid,
        as_=as_institution,
        body={"session_on": ahead["starts_on"], "present": [first["id"]]},
    )
    call(
        "POST /v1/enrolments/{enrolment_id}/complete",
        path_parameters={"enrolment_id": first["id"]},
        as_=as_institution,
        body={"attendance_rate": "0.9", "passed": True},
    )

    # Waiting list: a full program offers the freed seat, which the teacher accepts.
    full = program(10, 12, capacity=1)
    move(full["id"], "submit", "approve", "publish")
    holder = enrol(full["id"], third["id"])
    waiting = enrol(full["id"], fourth["id"])
    act(holder["id"], "withdraw", body={"reason": "工作冲突"})
    act(waiting["id"], "accept", as_=as_school)

    # Refused once, then given up.
    cancelled = program(20, 22)
    move(cancelled["id"], "submit", "reject")
    move(cancelled["id"], "cancel")

    # Finished programs: one two days ago (ratings, assessment), one 40 days ago (follow-up).
    def finished(starts: int, ends: int) -> tuple[dict[str, Any], dict[str, Any]]:
        done = program(starts, ends)
        move(done["id"], "submit", "approve", "publish")
        place = enrol(done["id"], trainee["id"])
        move(done["id"], "close-enrolment", "start")
        move(
            done["id"],
            "finish",
            body={
                "results": [
                    {"enrolment_id": place["id"], "attendance_rate": "0.95", "passed": True}
                ]
            },
        )
        return done, place

    recent, recent_place = finished(-3, -2)
    old, _ = finished(-42, -40)
    rating = {"overall": 5, "format": 4, "instructors": 5, "management": 4}
    call(
        "POST /v1/programs/{program_id}/ratings",
        path_parameters={"program_id": recent["id"]},
        as_=as_trainee,
        body=rating,
        wait=60,
    )
    call(
        "POST /v1/enrolments/{enrolment_id}/assessment",
        path_parameters={"enrolment_id": recent_place["id"]},
        as_=as_institution,
        body={"attitude": 5, "assignments": 4, "attendance_rate": "0.95", "passed": True},
        wait=60,
    )
    call(
        "GET /v1/programs/{program_id}/feedback-summary",
        path_parameters={"program_id": recent["id"]},
    )

    def follow_up() -> list[dict[str, Any]]:
        items = call(
            "GET /v1/teachers/{teacher_id}/pending-evaluations",
            path_parameters={"teacher_id": trainee["id"]},
            as_=as_trainee,
        )["items"]
        return [i for i in items if i.get("program_id") == old["id"]]

    task = run.until(follow_up)[0]
    run.ids["task_id"].append(task["id"])
    call("GET /v1/follow-ups/{task_id}", path_parameters={"task_id": task["id"]}, as_=as_trainee)
    call(
        "POST /v1/follow-ups/{task_id}/responses",
        path_parameters={"task_id": task["id"]},
        as_=as_trainee,
        body={"answers": {"applied": 4, "student_effect": 3, "what_changed": "课堂提问更有层次"}},
    )

    # Hours: a recognised entry and its reversal, a provincial import with a bad row.
    entry = call(
        "POST /v1/ledger/entries",
        body={
            "teacher_id": trainee["id"],
            "source": "manual_recognition",
            "reference": f"认定-{uuid.uuid4().hex[:8]}",
            "hours": "6.0",
            "mode": "school_based",
            "level": "school",
            "category": "self_selected",
            "occurred_on": days(-5),
            "description": "校本研修认定",
        },
        keep="entry_id",
    )
    call(
        "POST /v1/ledger/entries/{entry_id}/reversal",
        path_parameters={"entry_id": entry["id"]},
        body={"reason": "重复认定"},
    )
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(COLUMNS)
    writer.writerow(
        [
            "P-1",
            trainee["id"],
            "12.0",
            "online",
            "provincial",
            "self_selected",
            days(-10),
            "省平台网络研修",
        ]
    )
    writer.writerow(
        [
            "P-2",
            "not-a-teacher",
            "12.0",
            "online",
            "provincial",
            "self_selected",
            days(-10),
            "省平台网络研修",
        ]
    )
    job = call(
        "POST /v1/ledger/imports",
        query={"filename": "省平台.csv"},
        body=rows.getvalue(),
        media_type="text/csv",
    )
    run.ids["ledger_import_id"].append(job["id"])
    call("GET /v1/ledger/imports/{import_id}", path_parameters={"import_id": job["id"]})
    call("GET /v1/ledger/imports/{import_id}/errors", path_parameters={"import_id": job["id"]})
    policy = call(
        "POST /v1/policies", body={"effective_from": days(400), "rules": {}}, keep="policy_id"
    )
    call("GET /v1/policies/{policy_id}", path_parameters={"policy_id": policy["id"]})
    # The exchange with the province: a batch of what is not reported yet, its file, the
    # province's answer, and the reconciliation.
    reported = call(
        "POST /v1/ledger/entries",
        body={
            "teacher_id": trainee["id"],
            "source": "manual_recognition",
            "reference": f"上报-{uuid.uuid4().hex[:8]}",
            "hours": "3.0",
            "mode": "centralized",
            "level": "district",
            "category": "mandatory",
            "occurred_on": days(-3),
            "description": "区级集中培训",
        },
    )
    batch = call("POST /v1/ledger/province/batches", keep="batch_id")
    call("GET /v1/ledger/province/batches/{batch_id}", path_parameters={"batch_id": batch["id"]})
    call(
        "GET /v1/ledger/province/batches/{batch_id}/file",
        path_parameters={"batch_id": batch["id"]},
    )
    call(
        "POST /v1/ledger/province/batches/{batch_id}/acknowledgement",
        path_parameters={"batch_id": batch["id"]},
        body=f"记录编号,结果,原因\n{reported['id']},退回,缺少结业证书\n",
        media_type="text/csv",
    )
    call(
        "GET /v1/teachers/{teacher_id}/province-discrepancies",
        path_parameters={"teacher_id": trainee["id"]},
    )
    call("GET /v1/reports/province-discrepancies", query={"year": TODAY.year})

    # A roster import.
    number = f"11010519800101{secrets.randbelow(10**3):03d}"
    roster = "姓名,学校ID,学段,学科,入职日期,身份证号,角色\n" + (
        f"周老师,{school['id']},primary,英语,2018-09-01,{number}{check_digit(number)},\n"
    )
    imported = call(
        "POST /v1/teachers/imports",
        media_type="multipart/form-data",
        body={"file": roster.encode(), "mode": "valid_rows"},
    )
    run.ids["roster_import_id"].append(imported["id"])
    call("GET /v1/teachers/imports/{import_id}", path_parameters={"import_id": imported["id"]})
    call(
        "GET /v1/teachers/imports/{import_id}/errors",
        path_parameters={"import_id": imported["id"]},
    )
    call("GET /v1/teachers/imports/template")

    # Funds: the bureau's payroll pool, a school's share, a program's budget and spending,
    # and a school paying an institution for a teacher who completed a paid program.
    year = TODAY.year
    payroll = call(
        "POST /v1/funds",
        body={"fiscal_year": year, "source": "payroll", "basis_fen": 100_000_000_00},
        keep="pool_id",
    )
    share = call(
        "POST /v1/funds",
        keep="pool_id",
        body={
            "fiscal_year": year,
            "source": "bureau_allocation",
            "school_id": school["id"],
            "parent_pool_id": payroll["id"],
            "amount_fen": 10_000_00,
        },
    )
    call("GET /v1/funds/{pool_id}", path_parameters={"pool_id": share["id"]})
    call("GET /v1/funds/{pool_id}/journal", path_parameters={"pool_id": share["id"]})
    budget_of = {"program_id": ahead["id"]}
    call(
        "PUT /v1/programs/{program_id}/budget",
        path_parameters=budget_of,
        wait=30,
        body={"pool_id": payroll["id"], "lines": {"transport": 500_00, "expert_fees": 800_00}},
    )
    call("GET /v1/programs/{program_id}/budget", path_parameters=budget_of)
    call(
        "POST /v1/programs/{program_id}/budget/approval",
        path_parameters=budget_of,
        body={"version": 1},
    )
    call(
        "POST /v1/programs/{program_id}/expenses",
        path_parameters=budget_of,
        body={
            "id": str(uuid.uuid4()),
            "category": "transport",
            "amount_fen": 120_00,
            "spent_on": days(-1),
            "description": "大巴",
        },
    )

    paid = program(-3, -2, cost_per_participant_fen=100_00, funded_by="school")
    move(paid["id"], "submit", "approve", "publish")
    place = enrol(paid["id"], trainee["id"])
    call("GET /v1/enrolments/{enrolment_id}", path_parameters={"enrolment_id": place["id"]})

    def confirmed() -> bool:
        found = call(
            "GET /v1/enrolments/{enrolment_id}", path_parameters={"enrolment_id": place["id"]}
        )
        return found["status"] == "confirmed"

    run.until(confirmed)
    move(paid["id"], "close-enrolment", "start")
    move(
        paid["id"],
        "finish",
        body={
            "results": [{"enrolment_id": place["id"], "attendance_rate": "0.95", "passed": True}]
        },
    )
    call(
        "POST /v1/funds/{pool_id}/payments",
        path_parameters={"pool_id": share["id"]},
        as_=as_school,
        wait=60,
        body={"id": str(uuid.uuid4()), "institution_id": institution["id"], "amount_fen": 100_00},
    )

    # A lottery: published before its window opens (the seed first), closed, its draw read.
    drawn = program(
        20,
        21,
        selection="lottery",
        enrol_opens_at=(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat(),
    )
    move(drawn["id"], "submit", "approve", "publish", "close-enrolment")
    call("GET /v1/programs/{program_id}/draw", path_parameters={"program_id": drawn["id"]})

    # A program running now: a session, its QR code, a trainee's check-in, the calendar feed.
    today = program(-1, 1)
    move(today["id"], "submit", "approve", "publish")
    enrol(today["id"], second["id"])
    move(today["id"], "close-enrolment", "start")
    now = dt.datetime.now(dt.UTC)
    held = call(
        "POST /v1/programs/{program_id}/sessions",
        path_parameters={"program_id": today["id"]},
        keep="session_id",
        body={
            "starts_at": (now - dt.timedelta(minutes=5)).isoformat(),
            "ends_at": (now + dt.timedelta(hours=2)).isoformat(),
            "place": "进修学校报告厅",
        },
    )
    call("GET /v1/programs/{program_id}/sessions", path_parameters={"program_id": today["id"]})
    shown = call(
        "GET /v1/sessions/{session_id}/check-in-code",
        path_parameters={"session_id": held["id"]},
        as_=as_institution,
    )
    call(
        "POST /v1/sessions/{session_id}/check-ins",
        path_parameters={"session_id": held["id"]},
        as_=as_second,
        body={"code": shown["code"]},
    )
    call(
        "GET /v1/teachers/{teacher_id}/sessions.ics",
        path_parameters={"teacher_id": second["id"]},
        as_=as_second,
    )

    # A school's appraisal rounds.
    default = call(
        "GET /v1/appraisal-templates/{template_id}",
        path_parameters={"template_id": "default"},
        as_=as_school,
    )
    template = call(
        "POST /v1/appraisal-templates",
        as_=as_school,
        keep="template_id",
        body={"name": "五次考评", "term_weeks": 20, "rounds": default["rounds"]},
    )
    call(
        "GET /v1/appraisal-templates/{template_id}/schedule",
        as_=as_school,
        path_parameters={"template_id": template["id"]},
        query={"term_starts_on": days(30)},
    )

    # Last, what ends things: a client, a subscription, a session.
    call("DELETE /v1/service-accounts/{account_id}", path_parameters={"account_id": client["id"]})
    call("DELETE /v1/webhooks/{webhook_id}", path_parameters={"webhook_id": hook["id"]})
    call("POST /v1/auth/logout", as_=as_second)


def fuzzed(run: Run) -> None:
    for label in run.operations:
        if label not in NOT_FUZZED:
            run.fuzz(label)


@pytest.mark.slow
def test_every_operation_over_sockets_answers_without_5xx_and_reaches_a_2xx(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    with supervised(tmp_path, "fuzz", RAISED) as running:
        base_url = f"http://127.0.0.1:{running.gateway}"
        deadline = time.monotonic() + 120
        while not _ready(base_url):
            assert time.monotonic() < deadline, running.output()[-3000:]
            time.sleep(0.3)
        run = Run(base_url)
        scenario(run)
        fuzzed(run)
    summary, table = report(run)
    with capsys.disabled():  # the figures belong in every run's output, CI's too
        print(f"\n{summary} ({EXAMPLES} generated each, {time.monotonic() - started:.0f} s)")
    print(table)
    assert not run.failures, "\n\n".join(run.failures)
    missing = sorted(set(run.operations) - reached(run) - set(NO_2XX))
    assert not missing, f"no 2xx from: {missing}\n{table}"


def _ready(base_url: str) -> bool:
    try:
        checks = requests.get(f"{base_url}/readyz", timeout=2).json().get("checks", {})
    except (requests.RequestException, ValueError):
        return False
    return all(checks.get(s) == "ok" for s in ("enrolment", "ledger", "budget", "feedback"))


def reached(run: Run) -> set[str]:
    return {label for label, seen in run.statuses.items() if any(200 <= s < 300 for s in seen)}


def report(run: Run) -> tuple[str, str]:
    """A line of figures, and the statuses each operation got."""
    requests_sent = sum(sum(seen.values()) for seen in run.statuses.values())
    errors = sum(n for seen in run.statuses.values() for status, n in seen.items() if status >= 500)
    summary = (
        f"fuzz over sockets: {len(reached(run))} of {len(run.operations)} operations answered "
        f"a 2xx; {requests_sent} requests, {errors} answered 5xx, {len(run.failures)} failed"
    )
    table = "\n".join(
        f"  {label}: {dict(sorted(run.statuses[label].items()))}"
        for label in sorted(run.operations)
    )
    return summary, table
