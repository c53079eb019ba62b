"""Child processes that end with the process that started them."""

from __future__ import annotations

import ctypes
import signal
import sys

PR_SET_PDEATHSIG = 1  # prctl(2)
# Looked up now, not in the forked child, where loading a library could wait forever on a
# lock another thread of the parent held at the fork.
_prctl = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def end_with_parent() -> None:
    """Use as Popen's preexec_fn: the child is killed when its parent dies, even by SIGKILL,
    so no part is left running (holding its port and database connections) alone.

    SIGKILL, not SIGTERM: a part whose graceful shutdown hangs would have nobody left to
    escalate (seen once after a test run), and a killed part loses nothing (outbox, inbox).
    """
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
