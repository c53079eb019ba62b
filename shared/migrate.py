"""Alembic, driven from code: each service applies its own migrations on start.

`python -m shared.migrate upgrade [service ...]` applies them by hand (make migrate);
`python -m shared.migrate revision SERVICE -m "what"` autogenerates a date-prefixed revision.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import zlib
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from shared.db import Database, ensure_database

SERVICES = ("enrolment", "ledger", "budget", "feedback", "gateway")
FILE_TEMPLATE = "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s"


def migrations_dir(service: str) -> Path:
    package = "gateway" if service == "gateway" else f"services.{service}"
    module = importlib.import_module(package)
    return Path(module.__file__).parent / "migrations"


def _config(directory: Path, connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(directory))
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.attributes["connection"] = connection
    return config


def run_env(metadata: MetaData) -> None:
    """Body of every service's migrations/env.py."""
    connection: Connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _upgrade(connection: Connection, directory: Path) -> None:
    if connection.dialect.name == "postgresql":
        # Replicas starting together take turns; the second finds nothing left to do.
        lock = zlib.crc32(str(directory.parent.name).encode())
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
    command.upgrade(_config(directory, connection), "head")


async def upgrade(database: Database, directory: Path) -> None:
    async with database.engine.begin() as conn:
        await conn.run_sync(_upgrade, directory)


def _revision(connection: Connection, directory: Path, message: str) -> None:
    command.revision(_config(directory, connection), message=message, autogenerate=True)


async def _main(args: Any) -> None:
    from shared.config import database_url_for

    services = args.services or list(SERVICES)
    for service in services:
        url = database_url_for(service)
        await ensure_database(url)
        database = Database(url)
        try:
            directory = migrations_dir(service)
            if args.command == "upgrade":
                await upgrade(database, directory)
                print(f"{service}: migrated ({url.split('@')[-1]})")
            else:
                await upgrade(database, directory)
                async with database.engine.begin() as conn:
                    await conn.run_sync(_revision, directory, args.message)
        finally:
            await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.migrate")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade", help="apply migrations")
    up.add_argument("services", nargs="*", help=f"any of {', '.join(SERVICES)}; default all")
    rev = sub.add_parser("revision", help="autogenerate a revision")
    rev.add_argument("services", nargs=1, choices=SERVICES)
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args()
    unknown = set(args.services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown service {', '.join(sorted(unknown))}")
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
