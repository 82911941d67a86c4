"""Review's domain: the ReviewCase, opened when intake accepts an application.

Pure: deadlines arrive already computed (the working-day calendar is data the
application layer holds).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

# Working-day limits from acceptance (DOMAIN.md "time limits"); issue #4 moves them into
# the effective-dated PolicyTable.
INVESTIGATION_START_WORKING_DAYS = 3
DECISION_WORKING_DAYS = {"dibao": 20, "dibao_edge": 20, "tekun": 15, "linshi": 20}


def case_id_for(application_id: UUID) -> UUID:
    # One application opens exactly one case: a second "open" is a version conflict.
    return uuid5(NAMESPACE_URL, f"lingshui:review-case:{application_id}")


class ReviewCase(Aggregate):
    """审核: investigation, verification, joint review and decision for one application."""

    @staticmethod
    def create_id(application_id: UUID, **_: Any) -> UUID:
        return case_id_for(application_id)

    @event("Opened")
    def __init__(self, application_id: UUID, kind: str, township: str, village: str,
                 accepted_on: date, household_size: int, applicant_name: str,
                 close_relative_declared: bool, investigation_due: date, decision_due: date,
                 deadlines_provisional: bool, actor: dict[str, Any]) -> None:
        self.application_id = application_id
        self.kind = kind
        self.township = township
        self.village = village
        self.accepted_on = accepted_on
        self.household_size = household_size
        self.applicant_name = applicant_name
        self.close_relative_declared = close_relative_declared
        self.investigation_due = investigation_due
        self.decision_due = decision_due
        self.deadlines_provisional = deadlines_provisional
        self.status = "opened"
