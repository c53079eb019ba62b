"""One OpenAPI document for the whole API, merged from the services, and /docs served locally."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import fastapi_offline
import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from gateway.events_doc import asyncapi
from gateway.routing import service_for

router = APIRouter(include_in_schema=False)
# Swagger UI 5 (it reads OpenAPI 3.1; 4.x cannot) and ReDoc, as the fastapi-offline wheel
# ships them: served from here, so /docs works with no internet.
ASSETS = Path(fastapi_offline.__file__).parent / "static"


def mount_assets(app: FastAPI) -> None:
    app.mount("/docs/assets", StaticFiles(directory=ASSETS), name="swagger-assets")


async def _service_document(client: httpx.AsyncClient) -> dict[str, Any] | None:
    try:
        response = await client.get("/openapi.json", timeout=5)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError):
        return None


async def merged_openapi(app: FastAPI) -> dict[str, Any]:
    document = copy.deepcopy(app.openapi())
    paths = document.setdefault("paths", {})
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    clients = app.state.clients
    names = list(clients.clients)
    documents = await asyncio.gather(*(_service_document(clients[n]) for n in names))
    missing = []
    for name, service_doc in zip(names, documents, strict=True):
        if service_doc is None:
            missing.append(name)
            continue
        for path, item in service_doc.get("paths", {}).items():
            # Only what the gateway really routes to this service is part of the public API.
            if service_for(path) == name:
                paths[path] = item
        for schema_name, schema in service_doc.get("components", {}).get("schemas", {}).items():
            schemas.setdefault(schema_name, schema)
        for scheme_name, scheme in (
            service_doc.get("components", {}).get("securitySchemes", {}).items()
        ):
            document["components"].setdefault("securitySchemes", {})[scheme_name] = scheme
    if missing:
        document["info"]["x-missing-services"] = missing
    describe_errors_and_security(document)
    describe_conditional_gets(document)
    describe_files(document)
    return document


PUBLIC_OPERATIONS = {
    ("post", "/v1/auth/token"),
    ("post", "/v1/auth/revoke"),
    ("get", "/v1/auth/oidc/start"),
    ("get", "/v1/auth/oidc/callback"),
    ("get", "/healthz"),
    ("get", "/readyz"),
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `code` names the rule or check that refused.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {
            "type": "string",
            "description": "stable and machine-readable: what refused (e.g. `quota-full`, "
            "`R6.annual-limit`); the title and detail are for people",
        },
    },
    "additionalProperties": True,
}


def describe_errors_and_security(document: dict[str, Any]) -> None:
    """Every error is problem+json (FastAPI would document a 422 body we never send), and
    every operation but the public ones needs a bearer token."""
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT (ES256), from POST /v1/auth/token",
    }
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if "422" in responses:
                responses["422"] = {"description": "Invalid input", "content": problem}
            responses.setdefault("default", {"description": "An error", "content": problem})
            if (method, path) not in PUBLIC_OPERATIONS:
                operation.setdefault("security", [{"bearer": []}])


IF_NONE_MATCH: dict[str, Any] = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "the ETag of the answer you hold: 304 with no body if it has not changed",
}
NOT_MODIFIED: dict[str, Any] = {
    "description": "Not modified since the ETag sent in If-None-Match",
    "headers": {"ETag": {"schema": {"type": "string"}}},
}


def describe_conditional_gets(document: dict[str, Any]) -> None:
    """The gateway answers every GET it forwards (and the dashboard) with an ETag and a 304
    for a matching If-None-Match (gateway/routes/proxy.py): say so where it happens."""
    for path, item in document.get("paths", {}).items():
        operation = item.get("get")
        if operation is None or (service_for(path) is None and path != "/v1/me/dashboard"):
            continue
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("name", "").lower() == "if-none-match" for p in parameters):
            parameters.append(IF_NONE_MATCH)
        operation["responses"].setdefault("304", NOT_MODIFIED)


def describe_files(document: dict[str, Any]) -> None:
    """A PDF, XLSX, CSV or other file answer without a schema is binary, so generated
    clients hand back its bytes instead of parsing it."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                for media_type, content in response.get("content", {}).items():
                    if "json" in media_type or content.get("schema"):
                        continue
                    content["schema"] = {"type": "string", "format": "binary"}


@router.get("/openapi.json")
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(await merged_openapi(request.app))


@router.get("/asyncapi.json")
async def events_document() -> JSONResponse:
    """The events (AsyncAPI 3.0): what webhooks deliver and what services publish."""
    return JSONResponse(asyncapi())


@router.get("/docs")
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="shixun API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon.png",
    )


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="shixun API",
        redoc_js_url="/docs/assets/redoc.standalone.js",
        redoc_favicon_url="/docs/assets/favicon.png",
        with_google_fonts=False,
    )
