"""Program budgets (R21), ring-fenced expenses (R23), final accounts (R22), and the
execution report with its spot checks (R23)."""

from __future__ import annotations

import asyncio
import io
import uuid

from openpyxl import load_workbook

from shared.auth import Role
from tests.budget.conftest import YEAR, bureau, create_fund, fund, new_program, new_school
from tests.harness import Suite


async def bureau_pool(suite: Suite, year: int, payroll_fen: int) -> dict:
    return await create_fund(
        suite, {"fiscal_year": year, "source": "payroll", "basis_fen": payroll_fen}
    )


def code(problem: dict) -> str:
    return problem["type"].rsplit("/", 1)[1]


def expense(category: str, amount: int, **extra: object) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "category": category,
        "amount_fen": amount,
        "spent_on": f"{YEAR}-09-02",
    } | extra


async def test_r21_budget_lines_only_by_training_categories(suite: Suite) -> None:
    client = suite.direct["budget"]
    pool = await bureau_pool(suite, YEAR + 30, 100_000_00)
    program = await new_program(suite)
    url = f"/v1/programs/{program}/budget"
    refused = await client.put(
        url, headers=bureau(suite), json={"pool_id": pool["id"], "lines": {"banquet": 100}}
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "lines.banquet"
    assert (await client.get(url, headers=bureau(suite))).status_code == 404
    lines = {"expert_fees": 1_000_00, "board_and_lodging": 2_000_00}
    done = await client.put(
        url, headers=bureau(suite), json={"pool_id": pool["id"], "lines": lines}
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["planned_fen"] == 3_000_00 and body["version"] == 1
    assert {line["category"]: line["remaining_fen"] for line in body["lines"]} == lines


async def test_r23_expense_may_not_overspend_a_line_or_the_pool(suite: Suite) -> None:
    client = suite.direct["budget"]
    year = YEAR + 31
    pool = await bureau_pool(suite, year, 100_000_00)  # 3,000.00 yuan, 2,100.00 for schools
    assert pool["amount_fen"] == 3_000_00
    institution = uuid.uuid4()
    program = await new_program(suite, institution_id=institution)
    as_institution = suite.headers(Role.INSTITUTION_ADMIN, institution_id=institution)
    response = await client.put(
        f"/v1/programs/{program}/budget",
        headers=bureau(suite),
        json={"pool_id": pool["id"], "lines": {"expert_fees": 800_00, "transport": 5_000_00}},
    )
    assert response.status_code == 200, response.text
    url = f"/v1/programs/{program}/expenses"

    async def spend(body: dict) -> tuple[int, dict]:
        r = await client.post(url, headers=as_institution, json=body)
        return r.status_code, r.json()

    assert code((await spend(expense("publicity", 1)))[1]) == "no-budget-line"
    assert code((await spend(expense("office_rent", 1)))[1]) == "ring-fenced"
    status, body = await spend(expense("expert_fees", 800_01))
    assert (status, code(body), body["available_fen"]) == (422, "line-overspent", 800_00)
    # The pool keeps the schools' share out of the bureau's own reach: 900.00 is spendable.
    status, body = await spend(expense("transport", 900_01))
    assert (status, code(body), body["available_fen"]) == (422, "pool-overspent", 900_00)
    assert (await fund(suite, pool["id"]))["available_fen"] == 3_000_00  # nothing moved
    status, body = await spend(expense("expert_fees", 800_00))
    assert status == 201, body
    after = await fund(suite, pool["id"])
    assert (after["available_fen"], after["spent_fen"], after["paid_fen"]) == (
        2_200_00,
        800_00,
        800_00,
    )
    status, body = await spend(expense("transport", 100_01))
    assert (status, code(body)) == (422, "pool-overspent")
    listed = (await client.get(url, headers=as_institution)).json()["items"]
    assert [e["amount_fen"] for e in listed] == [800_00]


async def test_expense_retry_with_same_id_spends_once(suite: Suite) -> None:
    client = suite.direct["budget"]
    pool = await bureau_pool(suite, YEAR + 32, 100_000_00)
    program = await new_program(suite)
    await client.put(
        f"/v1/programs/{program}/budget",
        headers=bureau(suite),
        json={"pool_id": pool["id"], "lines": {"transport": 500_00}},
    )
    body = expense("transport", 100_00)
    url = f"/v1/programs/{program}/expenses"
    first = await client.post(url, headers=bureau(suite), json=body)
    retry = await client.post(url, headers=bureau(suite), json=body)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert (await fund(suite, pool["id"]))["spent_fen"] == 100_00
    changed = await client.post(url, headers=bureau(suite), json=body | {"amount_fen": 5})
    assert changed.status_code == 409


async def test_r22_final_accounts_show_variance_per_category(suite: Suite) -> None:
    client = suite.direct["budget"]
    pool = await bureau_pool(suite, YEAR + 33, 1_000_000_00)
    program = await new_program(suite)
    await client.put(
        f"/v1/programs/{program}/budget",
        headers=bureau(suite),
        json={"pool_id": pool["id"], "lines": {"expert_fees": 1_000_00, "transport": 400_00}},
    )
    for category, amount in (
        ("expert_fees", 600_00),
        ("expert_fees", 150_00),
        ("transport", 400_00),
    ):
        r = await client.post(
            f"/v1/programs/{program}/expenses",
            headers=bureau(suite),
            json=expense(category, amount),
        )
        assert r.status_code == 201, r.text
    accounts = (
        await client.get(f"/v1/programs/{program}/final-accounts", headers=bureau(suite))
    ).json()
    by_category = {c["category"]: c for c in accounts["categories"]}
    assert by_category["expert_fees"] | {} == {
        "category": "expert_fees",
        "planned_fen": 1_000_00,
        "actual_fen": 750_00,
        "variance_fen": -250_00,
        "variance_rate": "-0.2500",
    }
    assert by_category["transport"]["variance_fen"] == 0
    assert (accounts["planned_fen"], accounts["actual_fen"], accounts["variance_fen"]) == (
        1_400_00,
        1_150_00,
        -250_00,
    )
    lowered = await client.put(
        f"/v1/programs/{program}/budget",
        headers=bureau(suite),
        json={"pool_id": pool["id"], "lines": {"expert_fees": 700_00, "transport": 400_00}},
    )
    assert lowered.status_code == 422 and code(lowered.json()) == "line-below-spent"


async def test_program_budget_is_seen_only_in_scope(suite: Suite) -> None:
    client = suite.direct["budget"]
    owner = uuid.uuid4()
    program = await new_program(suite, institution_id=owner)
    pool = await bureau_pool(suite, YEAR + 34, 100_000_00)
    await client.put(
        f"/v1/programs/{program}/budget",
        headers=bureau(suite),
        json={"pool_id": pool["id"], "lines": {"transport": 1_00}},
    )
    url = f"/v1/programs/{program}/budget"
    owner_headers = suite.headers(Role.INSTITUTION_ADMIN, institution_id=owner)
    assert (await client.get(url, headers=owner_headers)).status_code == 200
    other = suite.headers(Role.INSTITUTION_ADMIN, institution_id=uuid.uuid4())
    assert (await client.get(url, headers=other)).status_code == 403
    school = suite.headers(Role.SCHOOL_ADMIN, school_id=uuid.uuid4())
    assert (await client.get(url, headers=school)).status_code == 403
    spend = await client.post(
        f"/v1/programs/{program}/expenses", headers=school, json=expense("transport", 1)
    )
    assert spend.status_code == 403


async def test_r23_execution_report_and_spot_checks_by_school_and_district(suite: Suite) -> None:
    client = suite.direct["budget"]
    district = uuid.uuid4()
    year = YEAR + 35
    headers = suite.headers(Role.BUREAU_ADMIN, district_id=district)
    school = await new_school(suite, district_id=district)
    parent = await create_fund(
        suite,
        {"fiscal_year": year, "source": "payroll", "basis_fen": 1_000_000_00},
        headers=headers,
    )
    await create_fund(
        suite,
        {
            "fiscal_year": year,
            "source": "bureau_allocation",
            "school_id": str(school),
            "parent_pool_id": parent["id"],
            "amount_fen": 10_000_00,
        },
        headers=headers,
    )
    on_plan, off_plan = [
        await new_program(
            suite, district_id=district, starts_on=f"{year}-03-01", ends_on=f"{year}-03-02"
        )
        for _ in range(2)
    ]
    for program, spent in ((on_plan, 950_00), (off_plan, 500_00)):
        r = await client.put(
            f"/v1/programs/{program}/budget",
            headers=headers,
            json={"pool_id": parent["id"], "lines": {"expert_fees": 1_000_00}},
        )
        assert r.status_code == 200, r.text
        r = await client.post(
            f"/v1/programs/{program}/expenses", headers=headers, json=expense("expert_fees", spent)
        )
        assert r.status_code == 201, r.text
    report = (await client.get(f"/v1/reports/budget-execution?year={year}", headers=headers)).json()
    (row,) = report["districts"]
    assert row["allocated_fen"] == 30_000_00  # the school's allocation is not counted twice
    assert row["spent_fen"] == 1_450_00 and row["balance_fen"] == 30_000_00 - 1_450_00
    assert row["execution_rate"] == "0.0483"
    (school_row,) = report["schools"]
    assert (school_row["id"], school_row["allocated_fen"], school_row["balance_fen"]) == (
        str(school),
        10_000_00,
        10_000_00,
    )
    assert [c["program_id"] for c in report["spot_checks"]] == [str(off_plan)]
    assert report["spot_checks"][0]["deviation"] == "-0.5000"
    strict = (
        await client.get(
            f"/v1/reports/budget-execution?year={year}&threshold=0.01", headers=headers
        )
    ).json()
    assert {c["program_id"] for c in strict["spot_checks"]} == {str(on_plan), str(off_plan)}

    xlsx = await client.get(
        f"/v1/reports/budget-execution?year={year}",
        headers=headers
        | {"Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    )
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["学校", "区县", "抽查"]
    districts = list(book["区县"].values)
    assert districts[0][:3] == ("区县", "已分配（元）", "已承诺（元）")
    # 元 with two decimals, as numbers a person sums: the JSON keeps integer fen.
    assert districts[1][1] == 30_000 and districts[1][3] == 1_450
    assert book["区县"]["B2"].number_format == "#,##0.00"
    assert book["区县"]["A1"].font.bold

    as_school = suite.headers(Role.SCHOOL_ADMIN, district_id=district, school_id=school)
    own = (await client.get(f"/v1/reports/budget-execution?year={year}", headers=as_school)).json()
    assert [r["id"] for r in own["schools"]] == [str(school)] and own["districts"] == []
    other = await client.get(
        f"/v1/reports/budget-execution?year={year}&school_id={uuid.uuid4()}", headers=as_school
    )
    assert other.status_code == 403
    institution = suite.headers(Role.INSTITUTION_ADMIN, institution_id=uuid.uuid4())
    assert (
        await client.get("/v1/reports/budget-execution", headers=institution)
    ).status_code == 403


async def test_expense_correction_is_a_reversing_transaction(suite: Suite) -> None:
    client = suite.direct["budget"]
    pool = await bureau_pool(suite, YEAR + 36, 100_000_00)
    program = await new_program(suite)
    await client.put(
        f"/v1/programs/{program}/budget",
        headers=bureau(suite),
        json={"pool_id": pool["id"], "lines": {"transport": 500_00}},
    )
    url = f"/v1/programs/{program}/expenses"
    wrong = expense("transport", 300_00)
    assert (await client.post(url, headers=bureau(suite), json=wrong)).status_code == 201
    correction = {"id": str(uuid.uuid4()), "reverses_id": wrong["id"], "spent_on": f"{YEAR}-09-03"}
    reversed_ = await client.post(url, headers=bureau(suite), json=correction)
    assert reversed_.status_code == 201, reversed_.text
    assert (reversed_.json()["amount_fen"], reversed_.json()["category"]) == (-300_00, "transport")
    state = await fund(suite, pool["id"])
    assert (state["available_fen"], state["spent_fen"]) == (3_000_00, 0)
    listed = (await client.get(url, headers=bureau(suite))).json()["items"]
    assert sorted(e["amount_fen"] for e in listed) == [-300_00, 300_00]
    twice = await client.post(
        url, headers=bureau(suite), json=correction | {"id": str(uuid.uuid4())}
    )
    assert twice.status_code == 409
    both = await client.post(
        url, headers=bureau(suite), json=correction | {"id": str(uuid.uuid4()), "amount_fen": 1}
    )
    assert both.status_code == 422
    assert (
        await client.post(url, headers=bureau(suite), json=expense("transport", 500_00))
    ).status_code == 201


async def test_r23_concurrent_expenses_never_overspend_the_pool(suite: Suite) -> None:
    client = suite.direct["budget"]
    pool = await bureau_pool(suite, YEAR + 37, 100_000_00)  # 900.00 yuan for the bureau itself
    program = await new_program(suite)
    await client.put(
        f"/v1/programs/{program}/budget",
        headers=bureau(suite),
        json={"pool_id": pool["id"], "lines": {"transport": 2_000_00}},
    )
    responses = await asyncio.gather(
        *(
            client.post(
                f"/v1/programs/{program}/expenses",
                headers=bureau(suite),
                json=expense("transport", 100_00),
            )
            for _ in range(12)
        )
    )
    assert sorted(r.status_code for r in responses) == [201] * 9 + [422] * 3
    state = await fund(suite, pool["id"])
    assert (state["spent_fen"], state["available_fen"]) == (900_00, 2_100_00)


async def test_report_of_a_school_outside_the_district_is_refused(suite: Suite) -> None:
    """A bureau asking for another district's school (or an unknown one) is refused, not
    answered with an empty report as if the school had no money."""
    client = suite.direct["budget"]
    elsewhere = uuid.uuid4()
    school = await new_school(suite, district_id=elsewhere)
    await create_fund(
        suite,
        {
            "fiscal_year": YEAR + 37,
            "source": "public_funds",
            "school_id": str(school),
            "basis_fen": 1_000_00,
        },
        headers=suite.headers(Role.BUREAU_ADMIN, district_id=elsewhere),
    )
    url = f"/v1/reports/budget-execution?year={YEAR + 37}&school_id="
    for school_id in (school, uuid.uuid4()):
        response = await client.get(f"{url}{school_id}", headers=bureau(suite))
        assert response.status_code == 403, response.text
    own = await client.get(
        f"{url}{school}", headers=suite.headers(Role.BUREAU_ADMIN, district_id=elsewhere)
    )
    assert [r["id"] for r in own.json()["schools"]] == [str(school)]


async def test_institution_cannot_spend_a_bureau_pool_on_its_own_draft(suite: Suite) -> None:
    """The reported attack, end to end: an institution reads a bureau pool's id from a
    program of its own, points its draft at that pool, and spends. Only the bureau may point a
    program at its pool; spending needs an approved program and a budget the bureau approved;
    a rejected program spends nothing."""
    client = suite.direct["budget"]
    pool = await bureau_pool(suite, YEAR + 38, 1_000_000_00)
    institution = uuid.uuid4()
    as_institution = suite.headers(Role.INSTITUTION_ADMIN, institution_id=institution)
    funded = await new_program(suite, institution_id=institution)
    lines = {"expert_fees": 2_000_00}
    set_by_bureau = await client.put(
        f"/v1/programs/{funded}/budget",
        headers=bureau(suite),
        json={"pool_id": pool["id"], "lines": lines},
    )
    assert set_by_bureau.status_code == 200, set_by_bureau.text
    seen = await client.get(f"/v1/programs/{funded}/budget", headers=as_institution)
    assert seen.json()["pool_id"] == pool["id"]  # the id the attacker reads

    draft = await new_program(
        suite,
        institution_id=institution,
        action="submit",
        from_status="draft",
        to_status="submitted",
    )
    budget_url, spend_url = f"/v1/programs/{draft}/budget", f"/v1/programs/{draft}/expenses"
    pointed = await client.put(
        budget_url, headers=as_institution, json={"pool_id": pool["id"], "lines": lines}
    )
    assert (pointed.status_code, code(pointed.json())) == (403, "pool-set-by-bureau")
    spent = await client.post(spend_url, headers=as_institution, json=expense("expert_fees", 1))
    assert spent.status_code == 422 and code(spent.json()) == "no-budget"

    # Even a budget the bureau set does not pay for a program it has not approved.
    await client.put(
        budget_url, headers=bureau(suite), json={"pool_id": pool["id"], "lines": lines}
    )
    spent = await client.post(spend_url, headers=as_institution, json=expense("expert_fees", 1))
    assert (spent.status_code, code(spent.json())) == (422, "program-not-approved")
    await new_program(
        suite,
        program_id=draft,
        institution_id=institution,
        action="reject",
        from_status="submitted",
        to_status="rejected",
    )
    spent = await client.post(spend_url, headers=as_institution, json=expense("expert_fees", 1))
    assert (spent.status_code, code(spent.json())) == (422, "program-not-approved")
    assert (await fund(suite, pool["id"]))["spent_fen"] == 0

    # The institution may revise the lines of the bureau's pool; the bureau approves them.
    raised = {"expert_fees": 3_000_00}
    revised = await client.put(
        f"/v1/programs/{funded}/budget",
        headers=as_institution,
        json={"pool_id": pool["id"], "lines": raised},
    )
    assert revised.status_code == 200, revised.text
    assert (revised.json()["version"], revised.json()["approved_version"]) == (2, 1)
    spend = f"/v1/programs/{funded}/expenses"
    spent = await client.post(spend, headers=as_institution, json=expense("expert_fees", 1))
    assert (spent.status_code, code(spent.json())) == (422, "budget-not-approved")
    approval = f"/v1/programs/{funded}/budget/approval"
    refused = await client.post(approval, headers=as_institution, json={"version": 2})
    assert refused.status_code == 403
    stale = await client.post(approval, headers=bureau(suite), json={"version": 1})
    assert (stale.status_code, code(stale.json())) == (409, "budget-changed")
    approved = await client.post(approval, headers=bureau(suite), json={"version": 2})
    assert (approved.status_code, approved.json()["approved_version"]) == (200, 2)
    spent = await client.post(spend, headers=as_institution, json=expense("expert_fees", 1))
    assert spent.status_code == 201, spent.text
    assert (await fund(suite, pool["id"]))["spent_fen"] == 1
