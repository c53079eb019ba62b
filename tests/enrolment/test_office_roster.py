"""A roster as a school office exports it: GBK, extra columns, Chinese words, its own date
forms, schools by name; and the same file with bad rows, reported per row and column in
Chinese as a sheet to fix and upload again."""

from __future__ import annotations

import csv
import datetime as dt
import io

from openpyxl import Workbook, load_workbook

from tests.enrolment.conftest import World, ok
from tests.enrolment.test_roster_import import finished, id_number, upload

HEADER = ["序号", "姓名", "性别", "学校名称", "学段", "任教学科", "职称", "入职时间", "身份证号码"]


def office_rows(school: str) -> list[list[str]]:
    return [
        ["1", "王芳", "女", school, "小学", "语文", "一级教师", "2019/9/1", id_number()],
        ["2", "李强", "男", school, "初中", "数学", "高级教师", "2019年9月1日", id_number()],
        ["3", "陈静", "女", school, "高中", "英语", "二级教师", "2010.09.01", id_number()],
        ["4", "赵磊", "男", school, "九年一贯制", "体育", "", "2008-09-01", id_number()],
        ["5", "孙丽", "女", school, "幼儿园", "音乐", "", "", ""],
    ]


def gbk_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([HEADER, *rows])
    return out.getvalue().encode("gbk")


async def test_a_school_offices_own_roster_imports_with_warnings_and_no_errors(
    world: World,
) -> None:
    school = await world.school()
    content = gbk_csv(office_rows(school["name"]))
    job = ok(await upload(world, content, "2024年教师名单.csv", "all_or_nothing"), 202)
    assert job["ignored_columns"] == ["序号", "性别", "职称"]
    assert job["warnings"][0] == "已忽略列“序号”（系统不使用该列）"
    result = await finished(world, job)
    assert result["errors"] == [] and result["status"] == "done"
    assert result["created_count"] == 5 and result["vocabulary"]
    listed = ok(
        await world.api.get(
            "/v1/teachers", headers=world.bureau, params={"school_id": school["id"]}
        )
    )
    by_name = {t["name"]: t for t in listed["items"]}
    assert by_name["王芳"]["stage"] == "primary" and by_name["王芳"]["hired_on"] == "2019-09-01"
    assert by_name["李强"]["stage"] == "junior" and by_name["李强"]["hired_on"] == "2019-09-01"
    assert by_name["陈静"]["hired_on"] == "2010-09-01"
    assert by_name["赵磊"]["stage"] == "nine_year" and by_name["孙丽"]["stage"] == "kindergarten"


async def test_three_bad_rows_come_back_as_a_sheet_naming_rows_and_columns_in_chinese(
    world: World,
) -> None:
    school = await world.school()
    rows = office_rows(school["name"])
    good_number = rows[0][8]
    rows[0][8] = good_number[:17] + ("0" if good_number[17] != "0" else "1")  # check digit
    rows[1][7] = "2019年2月30日"
    rows[2][4] = "大学"
    rows[2][5] = ""  # two errors of one row, both told
    content = gbk_csv(rows)
    job = ok(await upload(world, content, "名单.csv", "valid_rows"), 202)
    result = await finished(world, job)
    assert result["created_count"] == 2
    told = [(e["row"], e["column"]) for e in result["errors"]]
    assert told == [(2, "身份证号码"), (3, "入职时间"), (4, "学段"), (4, "任教学科")]
    assert "校验码" in result["errors"][0]["error"]
    assert "不存在" in result["errors"][1]["error"]

    report = await world.api.get(f"/v1/teachers/imports/{job['id']}/errors", headers=world.bureau)
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(report.content)).active
    lines = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert lines[0] == [*HEADER, "原行号", "错误说明"]
    assert [line[1] for line in lines[1:]] == ["王芳", "李强", "陈静"]
    assert [line[9] for line in lines[1:]] == [2, 3, 4]
    assert "入职时间" in lines[2][10] and "学段" in lines[3][10] and "任教学科" in lines[3][10]

    # Fixed in the sheet and uploaded again: the report's own columns are ignored.
    fixed = load_workbook(io.BytesIO(report.content))
    page = fixed.active
    page.cell(row=2, column=9, value=good_number)
    page.cell(row=3, column=8, value="2019年2月28日")
    page.cell(row=4, column=5, value="高中")
    page.cell(row=4, column=6, value="英语")
    buffer = io.BytesIO()
    fixed.save(buffer)
    again = ok(await upload(world, buffer.getvalue(), "名单-修改.xlsx", "valid_rows"), 202)
    assert "原行号" in again["ignored_columns"] and "错误说明" in again["ignored_columns"]
    second = await finished(world, again)
    assert second["errors"] == [] and second["created_count"] == 3

    as_csv = await world.api.get(
        f"/v1/teachers/imports/{job['id']}/errors",
        headers={**world.bureau, "Accept-Language": "en"},
        params={"format": "csv"},
    )
    text = as_csv.content.decode("utf-8-sig")
    assert text.splitlines()[0].endswith("row,errors")
    assert "the check digit is wrong" in text


async def test_real_xlsx_dates_and_excel_serials_are_dates(world: World) -> None:
    school = await world.school()
    admin = world.school_admin(school)
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "学段", "学科", "入职日期", "手机号"])
    sheet.append(["钱一", "高中", "物理", dt.datetime(2008, 9, 1), 13812345678])
    sheet.append(["钱二", "高中", "化学", 39692, None])  # 2008-09-01 as Excel counts it
    sheet.append(["钱三", "高中", "生物", "39692", None])
    buffer = io.BytesIO()
    book.save(buffer)
    job = ok(await upload(world, buffer.getvalue(), "roster.xlsx", "all_or_nothing", admin), 202)
    result = await finished(world, job, admin)
    assert result["errors"] == [] and result["created_count"] == 3
    listed = ok(await world.api.get("/v1/teachers", headers=admin))
    assert {t["hired_on"] for t in listed["items"]} == {"2008-09-01"}


async def test_a_school_named_twice_or_unknown_is_refused_by_name(world: World) -> None:
    twin = await world.school(name="实验小学-同名")
    await world.school(name="实验小学-同名")
    content = gbk_csv(
        [
            ["1", "甲", "男", twin["name"], "小学", "语文", "", "", ""],
            ["2", "乙", "男", "没有这所学校", "小学", "语文", "", "", ""],
            ["3", "丙", "男", twin["id"], "小学", "语文", "", "", ""],
        ]
    )
    job = ok(await upload(world, content, "x.csv", "valid_rows"), 202)
    result = await finished(world, job)
    assert [(e["row"], e["code"]) for e in result["errors"]] == [
        (2, "school-ambiguous"),
        (3, "school-unknown"),
    ]
    assert result["created_count"] == 1


async def test_the_template_names_the_columns_and_the_words_they_take(world: World) -> None:
    answer = await world.api.get("/v1/teachers/imports/template", headers=world.bureau)
    assert answer.status_code == 200
    book = load_workbook(io.BytesIO(answer.content))
    assert [c.value for c in book["教师名单"][1]] == [
        "姓名",
        "学校",
        "学段",
        "学科",
        "入职日期",
        "身份证号",
        "手机号",
        "角色",
    ]
    notes = {row[0]: row[1] for row in book["填写说明"].iter_rows(min_row=2, values_only=True)}
    assert "小学" in notes["学段"] and "班主任" in notes["角色"]
    # The template itself imports: its header is every column the import reads.
    empty = await upload(world, answer.content, "template.xlsx", "valid_rows")
    assert empty.status_code == 202 and empty.json()["ignored_columns"] == []
