"""Pages as a person sees them: the gateway served on a real socket, loaded in Debian's
headless Chromium, which runs the page's scripts before its DOM is read or shot."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from shared.embedded_nats import free_port, port_open


def chromium() -> str:
    """The browser; `.ci/run` installs it, so CI never skips these tests."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """An app of the running suite (its lifespan already started) on a loopback port."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if port_open("127.0.0.1", port):
                break
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def _run(*args: str, timeout: float = 120) -> bytes:
    process = await asyncio.create_subprocess_exec(
        chromium(),
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        # Nothing but this machine: a page that needs a CDN shows as broken.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout)
    return out


async def rendered_dom(url: str, *, budget_ms: int = 20_000) -> str:
    """The DOM once the page's scripts have run (virtual time lets them finish)."""
    out = await _run(f"--virtual-time-budget={budget_ms}", "--dump-dom", url)
    return out.decode()


async def screenshot(
    url: str, path: Path, *, size: str = "1280,2000", budget_ms: int = 20_000
) -> Path:
    await _run(
        f"--virtual-time-budget={budget_ms}",
        f"--window-size={size}",
        f"--screenshot={path}",
        url,
    )
    return path
