#!/usr/bin/env python3
"""Recompute a lottery draw (抽签) from its published seed and applicant list.

Usage:  python docs/lottery_recompute.py SEED draw.csv

`draw.csv` is the CSV of `GET /v1/programs/{id}/draw?format=csv` (its `X-Lottery-Seed`
header and the program's `lottery_seed` give SEED); only the columns teacher_id and tier are
read. The algorithm ("lottery/1", services/enrolment/lottery.py):

    ticket = SHA-256(UTF-8 of seed + ":" + teacher_id), as lower-case hex
    rank   = position when sorted by (tier, ticket, teacher_id), from 1

It prints `rank,teacher_id,ticket` for every applicant and checks the file's ranks and
tickets against them; it exits 1 if any differs. Standard library only.
"""

from __future__ import annotations

import csv
import hashlib
import sys


def recompute(seed: str, applicants: list[tuple[str, int]]) -> list[tuple[int, str, str]]:
    """(rank, teacher_id, ticket) in draw order for (teacher_id, tier) pairs."""
    tickets = [
        (tier, hashlib.sha256(f"{seed}:{teacher}".encode()).hexdigest(), teacher)
        for teacher, tier in applicants
    ]
    return [(rank, teacher, t) for rank, (_, t, teacher) in enumerate(sorted(tickets), start=1)]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    seed, path = argv[1], argv[2]
    with open(path, encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file))
    drawn = recompute(seed, [(row["teacher_id"], int(row["tier"])) for row in rows])
    published = {row["teacher_id"]: (int(row["rank"]), row["ticket"]) for row in rows}
    differ = 0
    for rank, teacher, ticket in drawn:
        print(f"{rank},{teacher},{ticket}")
        if published.get(teacher) != (rank, ticket):
            differ += 1
    if differ:
        print(
            f"{differ} of {len(drawn)} applicants differ from the published draw", file=sys.stderr
        )
        return 1
    print(f"all {len(drawn)} applicants match the published draw", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
