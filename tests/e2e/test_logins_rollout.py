"""Issue 11, done when: a school imports its roster with logins and hands out the codes; a
teacher activates with identity number and code, sets a password and sees the dashboard;
the school admin resets its own teacher but not another school's; the bureau disables a
teacher, whose refresh then fails. All through the gateway, as clients would."""

from __future__ import annotations

import datetime as dt
import io
import secrets
import uuid
from typing import Any

import httpx
from openpyxl import load_workbook

from shared.office_values import check_digit
from tests.harness import ADMIN_PASSWORD, Suite, wait_for

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def id_number() -> str:
    """A valid identity number: a birth date and the GB 11643 check digit (imports check)."""
    born = dt.date(1970, 1, 1) + dt.timedelta(days=secrets.randbelow(12_000))
    first = f"320102{born:%Y%m%d}{secrets.randbelow(1000):03d}"
    return first + check_digit(first)


def mobile() -> str:
    return f"139{secrets.randbelow(10**8):08d}"


async def token(gw: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await gw.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )


def bearer(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def school_with_admin(
    gw: httpx.AsyncClient, admin: dict[str, str], name: str
) -> tuple[dict[str, Any], dict[str, str]]:
    school = await gw.post("/v1/schools", headers=admin, json={"name": name, "stage": "primary"})
    assert school.status_code == 201, school.text
    username, password = f"sa-{uuid.uuid4().hex[:8]}", "school admin passphrase"
    made = await gw.post(
        "/v1/accounts",
        headers=admin,
        json={
            "username": username,
            "password": password,
            "role": "school_admin",
            "school_id": school.json()["id"],
        },
    )
    assert made.status_code == 201, made.text
    return school.json(), bearer(await token(gw, username, password))


async def import_with_logins(
    gw: httpx.AsyncClient, headers: dict[str, str], csv: str, *, encoding: str = "utf-8"
) -> dict[str, Any]:
    upload = await gw.post(
        "/v1/teachers/imports",
        headers=headers,
        data={"mode": "all_or_nothing", "create_logins": "true"},
        files={"file": ("roster.csv", csv.encode(encoding), "text/csv")},
    )
    assert upload.status_code == 202, upload.text

    async def finished() -> dict[str, Any] | None:
        job = (await gw.get(f"/v1/teachers/imports/{upload.json()['id']}", headers=headers)).json()
        return job if job["status"] in ("done", "failed") else None

    job = await wait_for(finished, timeout=60)
    assert job["status"] == "done" and job["create_logins"], job
    return job


async def logins_of(gw: httpx.AsyncClient, headers: dict[str, str], n: int) -> list[dict]:
    """The school's teacher logins, once the gateway has made all n from the events."""

    async def made() -> list[dict] | None:
        page = await gw.get("/v1/accounts", headers=headers, params={"role": "teacher"})
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        return items if len(items) == n else None

    return await wait_for(made, timeout=60)


async def code_sheet(gw: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    """Name → activation code, from the XLSX a school downloads."""
    answer = await gw.post("/v1/accounts/activation-codes", headers=headers, json={})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == XLSX
    assert answer.headers["cache-control"] == "no-store"
    rows = list(load_workbook(io.BytesIO(answer.content)).worksheets[0].values)
    header = list(rows[0])
    name, code = header.index("姓名"), header.index("激活码")
    return {row[name]: row[code] for row in rows[1:]}


async def test_a_school_rolls_out_logins_with_its_roster(suite: Suite) -> None:
    gw = suite.gateway
    bureau = bearer(await token(gw, "admin", ADMIN_PASSWORD))
    school, school_admin = await school_with_admin(gw, bureau, "登录试点小学")
    _, other_admin = await school_with_admin(gw, bureau, "邻校小学")
    ids = {n: id_number() for n in ("陈老师", "周老师", "吴老师")}
    phone = mobile()
    roster = "姓名,学段,学科,身份证号,手机号\n" + "".join(
        f"{n},primary,语文,{i},{phone if n == '周老师' else ''}\n" for n, i in ids.items()
    )
    # Schools' spreadsheets often save CSV as GBK.
    await import_with_logins(gw, school_admin, roster, encoding="gbk")
    other_roster = f"姓名,学段,学科,身份证号\n郑老师,primary,数学,{id_number()}\n"
    await import_with_logins(gw, other_admin, other_roster)

    listed = await logins_of(gw, school_admin, 3)
    assert {item["name"] for item in listed} == set(ids)
    assert {item["status"] for item in listed} == {"pending"}
    assert all(item["school_id"] == school["id"] for item in listed)
    assert all("*" in item["id_number_masked"] for item in listed)
    codes = await code_sheet(gw, school_admin)
    assert set(codes) == set(ids)
    assert len(set(codes.values())) == 3
    assert await code_sheet(gw, school_admin) == {}  # shown once: a second sheet has none

    # The teacher logs in with identity number and code: a token that only sets a password.
    first = await token(gw, ids["陈老师"], codes["陈老师"])
    assert first.status_code == 200, first.text
    assert first.json()["scope"] == "password:set" and "refresh_token" not in first.json()
    restricted = bearer(first)
    assert (await gw.get("/v1/me/dashboard", headers=restricted)).status_code == 401
    assert (await gw.get("/v1/teachers", headers=restricted)).status_code == 401
    weak = await gw.post("/v1/me/password", headers=restricted, json={"new_password": "123456789"})
    assert weak.status_code == 422 and weak.json()["type"].endswith("weak-password")
    chosen = await gw.post(
        "/v1/me/password", headers=restricted, json={"new_password": "陈老师的新密码2026"}
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["refresh_token"]
    dashboard = await gw.get("/v1/me/dashboard", headers=bearer(chosen))
    assert dashboard.status_code == 200, dashboard.text
    me = (await gw.get("/v1/me", headers=bearer(chosen))).json()
    assert me["role"] == "teacher" and me["school_id"] == school["id"]
    assert dashboard.json()["teacher_id"] == me["teacher_id"]
    # The code is spent; the password works, with the identity number as the username.
    reused = await token(gw, ids["陈老师"], codes["陈老师"])
    assert reused.status_code == 400 and reused.json()["type"].endswith("activation-code-used")
    again = await token(gw, ids["陈老师"], "陈老师的新密码2026")
    assert again.status_code == 200, again.text

    # A mobile number works as well as the identity number.
    by_phone = bearer(await token(gw, phone, codes["周老师"]))
    chosen = await gw.post(
        "/v1/me/password", headers=by_phone, json={"new_password": "周老师 passphrase"}
    )
    assert chosen.status_code == 200, chosen.text
    assert (await token(gw, phone, "周老师 passphrase")).status_code == 200

    # The school admin resets its own teacher: a new code, the old password is gone.
    zhou = next(item for item in listed if item["name"] == "周老师")
    reset = await gw.post(f"/v1/accounts/{zhou['id']}/reset", headers=school_admin)
    assert reset.status_code == 200, reset.text
    assert reset.json()["login"]["status"] == "pending"
    assert (await token(gw, phone, "周老师 passphrase")).status_code == 400
    renewed = await token(gw, ids["周老师"], reset.json()["activation_code"])
    assert renewed.status_code == 200 and renewed.json()["scope"] == "password:set"
    # ...but not another school's teacher, which it cannot even see.
    foreign = (await logins_of(gw, other_admin, 1))[0]
    refused = await gw.post(f"/v1/accounts/{foreign['id']}/reset", headers=school_admin)
    assert refused.status_code == 404, refused.text
    assert foreign["id"] not in {i["id"] for i in await logins_of(gw, school_admin, 3)}

    # The bureau disables a teacher: the refresh token fails at once, and so does a login.
    chen = next(item for item in listed if item["name"] == "陈老师")
    session = (await token(gw, ids["陈老师"], "陈老师的新密码2026")).json()
    disabled = await gw.post(f"/v1/accounts/{chen['id']}/disable", headers=bureau)
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
    refresh = await gw.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": session["refresh_token"]},
    )
    assert refresh.status_code == 400 and refresh.json()["type"].endswith("invalid-grant")
    assert (await token(gw, ids["陈老师"], "陈老师的新密码2026")).status_code == 400
    enabled = await gw.post(f"/v1/accounts/{chen['id']}/enable", headers=bureau)
    assert enabled.status_code == 200 and enabled.json()["status"] == "active"
    assert (await token(gw, ids["陈老师"], "陈老师的新密码2026")).status_code == 200
