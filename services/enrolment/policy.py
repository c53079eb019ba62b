"""The program lifecycle as data: which action moves a program from where to where, by whom.

R1: every program, school-based ones included, passes review (submit → approve) before it can
be published or run; there is no transition that skips it.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth import Role

BUREAU = Role.BUREAU_ADMIN
INSTITUTION = Role.INSTITUTION_ADMIN
SCHOOL = Role.SCHOOL_ADMIN


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    roles: frozenset[Role]


def _t(action: str, sources: set[str], target: str, roles: set[Role]) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(roles))


LIFECYCLE_VERSION = "program-lifecycle/1"
LIFECYCLE: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("submit", {"draft", "rejected"}, "submitted", {BUREAU, INSTITUTION, SCHOOL}),
        _t("approve", {"submitted"}, "approved", {BUREAU}),
        _t("reject", {"submitted"}, "rejected", {BUREAU}),
        _t("publish", {"approved"}, "published", {BUREAU}),
        _t("close-enrolment", {"published"}, "enrolment_closed", {BUREAU, INSTITUTION, SCHOOL}),
        _t("start", {"enrolment_closed"}, "running", {BUREAU, INSTITUTION, SCHOOL}),
        _t("finish", {"running"}, "finished", {BUREAU, INSTITUTION, SCHOOL}),
        _t(
            "cancel",
            {"draft", "submitted", "approved", "rejected", "published", "enrolment_closed"},
            "cancelled",
            {BUREAU},
        ),
    )
}
