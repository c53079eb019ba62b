"""A typed client generated from /openapi.json with openapi-python-client, as an integrator
would make one, drives the enrolment slice through the gateway: what it creates, lists,
downloads and is refused comes back typed."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import io
import json
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from gateway.routing import service_for
from tests.harness import ADMIN_PASSWORD, Suite, wait_for

# openapi-python-client reads only JSON, text and application/octet-stream answers: files
# are mapped to bytes. No formatter runs (none need be installed where tests run).
CONFIG = """\
package_name_override: shixun_client
post_hooks: []
content_type_overrides:
  application/pdf: application/octet-stream
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: application/octet-stream
  text/csv: application/octet-stream
"""
OPERATION_ID = re.compile(r"^[a-z][a-z0-9_]*$")
TODAY = dt.date.today()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict):
                yield method, path, operation


async def test_openapi_is_fit_for_generated_clients(suite: Suite) -> None:
    document = (await suite.gateway.get("/openapi.json")).json()
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids)), "operation ids repeat"
    for method, path, operation in operations(document):
        where = f"{method.upper()} {path}"
        assert OPERATION_ID.match(operation["operationId"]), where
        assert "_v1_" not in operation["operationId"], where
        assert operation.get("description"), f"{where} has no description"
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        if method == "post" and {"201", "202"} & operation["responses"].keys():
            assert "Idempotency-Key" in headers, f"{where} creates without Idempotency-Key"
        # The gateway answers an ETag and 304 on the GETs it forwards (and the dashboard).
        if method == "get" and (service_for(path) or path == "/v1/me/dashboard"):
            assert "If-None-Match" in headers and "304" in operation["responses"], where
        for response in operation["responses"].values():
            content = response.get("content", {})
            for media_type, body in content.items():
                if media_type in ("application/pdf", "text/csv") or "spreadsheet" in media_type:
                    assert body["schema"]["type"] == "string", (where, media_type)
            if content and any(m != "application/json" for m in content):
                first = next(iter(content))
                assert first != "application/json" or content[first]["schema"], where
    schemas = document["components"]["schemas"]
    assert not [name for name in schemas if name.endswith(("-Input", "-Output"))]
    assert "code" in schemas["Problem"]["properties"]
    upload = document["paths"]["/v1/ledger/imports"]["post"]["requestBody"]["content"]
    assert "file" in upload["multipart/form-data"]["schema"]["properties"]


@pytest.fixture
async def client_package(suite: Suite, tmp_path: Path) -> Iterator[ModuleType]:
    """The client generated from the running suite's document, importable as shixun_client."""
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps((await suite.gateway.get("/openapi.json")).json()))
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    generator = Path(sys.executable).parent / "openapi-python-client"
    process = await asyncio.create_subprocess_exec(
        str(generator),
        "generate",
        "--path",
        str(spec),
        "--config",
        str(config),
        "--output-path",
        str(tmp_path / "shixun_client"),
        "--meta",
        "none",
        "--fail-on-warning",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("shixun_client")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.split(".")[0] == "shixun_client"]:
            del sys.modules[name]


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


async def test_generated_client_runs_the_enrolment_slice(
    suite: Suite, client_package: ModuleType
) -> None:
    models = _module(client_package, "models")
    api = lambda name: _module(client_package, f"api.{name}")  # noqa: E731
    types = _module(client_package, "types")
    token = (await suite.login("admin", ADMIN_PASSWORD))["Authorization"].split()[1]
    client = _module(client_package, "client").AuthenticatedClient(
        base_url="http://gateway", token=token
    )
    client.set_async_httpx_client(
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=suite.gateway_app),
            base_url="http://gateway",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
    )
    async with client:
        # Create, with an Idempotency-Key: the retry answers the same school.
        key = uuid.uuid4().hex
        body = models.SchoolCreate(name="客户端实验小学", stage=models.Stage.PRIMARY)
        create_school = api("directory.create_school")
        school = await create_school.asyncio(client=client, body=body, idempotency_key=key)
        assert isinstance(school, models.SchoolRead) and school.name == "客户端实验小学"
        again = await create_school.asyncio_detailed(client=client, body=body, idempotency_key=key)
        assert again.parsed.id == school.id and again.headers["Idempotent-Replayed"] == "true"

        # List, and ask again with the ETag: 304, nothing to parse.
        listed = await api("directory.list_schools").asyncio_detailed(client=client, limit=200)
        assert school.id in {s.id for s in listed.parsed.items}
        unchanged = await api("directory.list_schools").asyncio_detailed(
            client=client, limit=200, if_none_match=listed.headers["ETag"]
        )
        assert unchanged.status_code == 304

        institution = await api("directory.create_institution").asyncio(
            client=client, body=models.InstitutionCreate(name="客户端进修学校")
        )
        teacher = await api("directory.create_teacher").asyncio(
            client=client,
            body=models.TeacherCreate(
                name="客户端李老师",
                school_id=school.id,
                stage=models.Stage.PRIMARY,
                subject="数学",
                hired_on=dt.date(2015, 9, 1),
            ),
        )
        now = dt.datetime.now(dt.UTC)
        program = await api("programs.create_program").asyncio(
            client=client,
            body=models.ProgramCreate(
                title="客户端小学数学骨干教师培训",
                hours="24.0",
                capacity=30,
                mode=models.Mode.CENTRALIZED,
                level=models.Level.DISTRICT,
                category=models.Category.SELF_SELECTED,
                enrol_opens_at=now - dt.timedelta(hours=1),
                enrol_closes_at=now + dt.timedelta(days=7),
                starts_on=TODAY - dt.timedelta(days=2),
                ends_on=TODAY - dt.timedelta(days=1),
                institution_id=institution.id,
            ),
        )
        assert isinstance(program, models.ProgramRead), program
        act = api("programs.act_on_program")
        for action in ("submit", "approve", "publish"):
            # body=None: the generator sends its UNSET marker for an optional body left out.
            moved = await act.asyncio(
                program.id, models.ActOnProgramAction(action), client=client, body=None
            )
            assert isinstance(moved, models.ProgramRead), moved
        enrol = api("enrolments.enrol")
        enrolment = await enrol.asyncio(
            program.id, client=client, body=models.EnrolmentCreate(teacher_id=teacher.id)
        )
        assert isinstance(enrolment, models.EnrolmentRead), enrolment

        # Refused: the problem's machine code is a typed field.
        twice = await enrol.asyncio(
            program.id, client=client, body=models.EnrolmentCreate(teacher_id=teacher.id)
        )
        assert isinstance(twice, models.Problem) and twice.status == 409
        assert twice.code == "already-enrolled"

        for action in ("close-enrolment", "start"):
            await act.asyncio(
                program.id, models.ActOnProgramAction(action), client=client, body=None
            )
        finished = await act.asyncio(
            program.id,
            models.ActOnProgramAction("finish"),
            client=client,
            body=models.ProgramFinish(
                results=[
                    models.TraineeResult(
                        enrolment_id=enrolment.id, attendance_rate="0.95", passed=True
                    )
                ]
            ),
        )
        assert finished.status == "finished"

        # Download: the transcript PDF once the ledger has credited the hours.
        hours = api("hours.get_teacher_hours")

        async def credited() -> Any:
            summary = await hours.asyncio(teacher.id, client=client)
            # A problem (the ledger has not yet taken the new teacher's event) means not yet.
            if isinstance(summary, models.Problem):
                return None
            return summary if summary.total_hours == "24.0" else None

        await wait_for(credited)
        transcript = await api("hours.get_teacher_transcript").asyncio_detailed(
            teacher.id, client=client
        )
        assert isinstance(transcript.parsed, types.File)
        assert transcript.parsed.payload.read(5) == b"%PDF-"
        export = await api("imports.export_entries").asyncio(
            client=client, format_=models.ExportEntriesFormatType0.XLSX
        )
        sheet = load_workbook(io.BytesIO(export.payload.read())).active
        assert str(teacher.id) in {str(c.value) for c in sheet["B"]}

        # Upload: a provincial file as the multipart body the document declares.
        csv = (
            "record_id,teacher_id,hours,mode,level,category,occurred_on,description\n"
            f"gen-{uuid.uuid4().hex[:8]},{teacher.id},6.0,online,provincial,self_selected,"
            f"{TODAY.isoformat()},省平台网络研修\n"
        )
        submitted = await api("imports.submit_ledger_import").asyncio(
            client=client,
            body=models.SubmitLedgerImportFilesBody(
                file=types.File(payload=io.BytesIO(csv.encode()), file_name="province.csv")
            ),
        )
        assert isinstance(submitted, models.ImportRead), submitted
        assert submitted.filename == "province.csv" and submitted.format_ == "csv"
