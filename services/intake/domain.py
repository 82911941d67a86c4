"""Intake's domain: the Application aggregate, the case as the household filed it.

Pure: no I/O, no framework. Rules raise RuleViolation with a stable code.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate, event

from shared.contracts.common import AssistanceKind
from shared.errors import RuleViolation
from shared.pii import InvalidResidentId, validate_resident_id
from shared.regions import County, UnknownRegion


class Status(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"


def check_filing(county: County, kind: AssistanceKind, township: str, village: str,
                 members: list[dict[str, Any]]) -> None:
    """The filing rules that do not depend on other cases."""
    try:
        county.township(township)
    except UnknownRegion as e:
        raise RuleViolation("intake.unknown_township", str(e), field="township") from None
    if not county.is_village_of(village, township):
        raise RuleViolation("intake.unknown_village",
                            f"village {village} is not in township {township}", field="village")
    if not members:
        raise RuleViolation("intake.no_members", "name at least the applicant", field="members")
    if sum(1 for m in members if m["relation"] == "self") != 1:
        raise RuleViolation("intake.one_applicant",
                            "exactly one member must be the applicant (relation 'self')",
                            field="members")
    seen: set[str] = set()
    for i, m in enumerate(members):
        field = f"members[{i}].resident_id"
        try:
            rid = validate_resident_id(m["resident_id"])
        except InvalidResidentId as e:
            raise RuleViolation(f"intake.{e.rule}", e.message, field=field) from None
        if rid.birth_date != m["birth_date"]:
            raise RuleViolation("intake.birth_date_mismatch",
                                "birth date does not agree with the resident ID",
                                field=f"members[{i}].birth_date")
        if rid.number in seen:
            raise RuleViolation("intake.member_listed_twice",
                                "the same person is listed twice", field=field)
        seen.add(rid.number)


class Application(Aggregate):
    """申请: one household's application for one kind of assistance."""

    @event("Submitted")
    def __init__(self, kind: str, township: str, village: str, members: list[dict[str, Any]],
                 filed_by: str, close_relative_declared: bool, actor: dict[str, Any]) -> None:
        self.kind = kind
        self.township = township
        self.village = village
        self.members = members
        self.filed_by = filed_by
        self.close_relative_declared = close_relative_declared
        self.status = Status.SUBMITTED
        self.accepted_on: date | None = None

    @property
    def applicant(self) -> dict[str, Any]:
        return next(m for m in self.members if m["relation"] == "self")

    def accept(self, on: date, actor: dict[str, Any]) -> None:
        if self.status is not Status.SUBMITTED:
            raise RuleViolation("intake.accept_state",
                                f"an application that is {self.status} cannot be accepted")
        self._accepted(accepted_on=on, actor=actor)

    @event("Accepted")
    def _accepted(self, accepted_on: date, actor: dict[str, Any]) -> None:
        # Time limits run in working days from this date.
        self.status = Status.ACCEPTED
        self.accepted_on = accepted_on
