"""The catalogue's index terms of a program (docs/decisions.md, "Catalogue search").

Chinese has no spaces and PostgreSQL's trigrams need three characters, so a two-character
word (培训, 数学) could not use a trigram index: the title and description are indexed as
overlapping character pairs instead, ASCII words whole, and the audience as `stage:…`,
`subject:…`, `role:…` terms (`*` for a list left empty, which admits everyone).
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.models import CatalogueTerm, Program

# A run of Chinese characters (CJK unified ideographs, extension A, compatibility) or of
# ASCII letters and digits; everything else separates words.
RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[0-9a-z]+")
EVERYONE = "*"
MAX_TERM = 80


def normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def is_cjk(run: str) -> bool:
    return not run[0].isascii()


def text_terms(text: str) -> set[str]:
    """The index terms of a text: each pair of neighbouring Chinese characters and the last
    character of a run (so one character finds it by prefix), each ASCII word whole."""
    terms: set[str] = set()
    for run in RUN.findall(normal(text)):
        if is_cjk(run):
            terms.update(run[i : i + 2] for i in range(len(run) - 1))
            terms.add(run[-1])
        else:
            terms.add(run[:MAX_TERM])
    return terms


def audience_terms(audience: dict[str, list[str]]) -> set[str]:
    out: set[str] = set()
    for key, prefix in (("stages", "stage"), ("subjects", "subject"), ("roles", "role")):
        values = audience.get(key) or [EVERYONE]
        out.update(f"{prefix}:{normal(value)}"[:MAX_TERM] for value in values)
    return out


async def index_program(session: AsyncSession, program: Program) -> None:
    """(Re)write a program's terms; called whenever its title, description or audience is set."""
    await session.execute(delete(CatalogueTerm).where(CatalogueTerm.program_id == program.id))
    terms = text_terms(f"{program.title}\n{program.description}") | audience_terms(program.audience)
    await session.execute(
        insert(CatalogueTerm), [{"term": term, "program_id": program.id} for term in terms]
    )
