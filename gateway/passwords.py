"""Password hashing: argon2id with OWASP's parameters, off the event loop.

A verification costs ~20 ms of CPU. On the event loop it would stop every other request of
the gateway for that long; argon2-cffi releases the GIL, so a small pool of threads uses the
other cores instead. The pool has one thread per core: more would only queue in the kernel
and hold 19 MiB each.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1. Hashes made with other
# parameters (pwdlib's older m=64 MiB, t=3, p=4) still verify and are replaced on the next
# successful login.
HASHER = PasswordHash((Argon2Hasher(memory_cost=19 * 1024, time_cost=2, parallelism=1),))

_pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="argon2")
T = TypeVar("T")


async def _run(function: Callable[..., T], *args: str) -> T:
    return await asyncio.get_running_loop().run_in_executor(_pool, function, *args)


async def hash_password(password: str) -> str:
    return await _run(HASHER.hash, password)


async def verify_password(password: str, stored: str) -> bool:
    return await _run(HASHER.verify, password, stored)


async def verify_and_update(password: str, stored: str) -> tuple[bool, str | None]:
    """Whether it matches, and a new hash when the stored one has outdated parameters."""
    return await _run(HASHER.verify_and_update, password, stored)


# Verifying against this keeps a login for an unknown user as slow as for a known one.
DUMMY_HASH = HASHER.hash("not-a-real-password")
