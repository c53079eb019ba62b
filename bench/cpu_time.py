"""CPU time of each part of the suite during a phase, per request: where a rush's time goes.

Reads /proc (Linux): every process under the supervisor, grouped by the part and role it
serves (`shared.serve enrolment`, its worker process), the PostgreSQL backends of the
bench's own databases, the nats-server, and this process, which makes the load. On two
cores 2,000 ms of CPU a second is all there is, so the sum per request is the ceiling of
the rate (1,000 / sum × 2 requests a second).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _read(pid: str) -> tuple[int, float, str] | None:
    """(parent pid, CPU seconds, command line) of a process, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK, cmdline.strip()


def _part_of(pid: str, cmdline: str) -> str | None:
    """`enrolment`, or `enrolment (worker)` for a process given one role of the part."""
    words = cmdline.split()
    if "shared.serve" not in words:
        return None
    part = words[words.index("shared.serve") + 1]
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return part
    wanted = f"SHIXUN_{part.upper()}_ROLE=".encode()
    role = next((e[len(wanted) :].decode() for e in environ if e.startswith(wanted)), "all")
    return part if role == "all" else f"{part} ({role})"


class CpuMeter:
    """Snapshots of CPU seconds per group; `since(before)` is what each group spent."""

    def __init__(self, supervisor_pid: int | None, database_marker: str) -> None:
        self.supervisor_pid = supervisor_pid
        self.database_marker = database_marker

    def snapshot(self) -> Counter[str]:
        processes = {
            pid: info for pid in os.listdir("/proc") if pid.isdigit() and (info := _read(pid))
        }
        children: dict[int, list[str]] = {}
        for pid, (parent, _, _) in processes.items():
            children.setdefault(parent, []).append(pid)
        totals: Counter[str] = Counter()
        if self.supervisor_pid is not None:
            stack = [str(self.supervisor_pid)]
            while stack:
                pid = stack.pop()
                stack += children.get(int(pid), [])
                if pid not in processes:
                    continue
                _, seconds, cmdline = processes[pid]
                part = _part_of(pid, cmdline)
                group = part or ("nats-server" if "nats-server" in cmdline else "supervisor")
                totals[group] += seconds
        for _, seconds, cmdline in processes.values():
            if cmdline.startswith("postgres:") and self.database_marker in cmdline:
                totals["PostgreSQL (the suite's backends)"] += seconds
            elif "nats-server" in cmdline and "-p 4222" in cmdline:
                totals["nats-server"] += seconds
        times = os.times()
        totals["the load (this process)"] += times.user + times.system
        return totals

    def line(self, before: Counter[str], requests: int) -> str:
        spent = self.snapshot()
        spent.subtract(before)
        parts = [(ms, name) for name, s in spent.items() if (ms := s * 1000 / requests) >= 0.01]
        parts.sort(reverse=True)
        total = sum(ms for ms, _ in parts)
        listed = ", ".join(f"{name} {ms:.2f}" for ms, name in parts)
        return f"{'':22} CPU ms per request: {total:.2f} = {listed}"
