"""Intake's reactions to review's integration events: the case status filers see, and
whether a person still counts as in an active case for de-duplication. The "who" of each
fact is the reviewer who decided (shared/reactions.py's rule)."""

from __future__ import annotations

from services.intake.application import IntakeApplication
from shared.bus import Handler
from shared.contracts import Actor
from shared.contracts.review import CaseConfirmed, CaseRejected, EntitlementChanged
from shared.reactions import Reaction, reacting_to


def reactions(app: IntakeApplication) -> dict[str, dict[str, Handler]]:
    def case_confirmed(e: CaseConfirmed, r: Reaction) -> None:
        app.record_confirmation(e.application_id, e.case_id, e.decided_on, Actor.of(r.actor))

    def case_rejected(e: CaseRejected, r: Reaction) -> None:
        app.record_rejection(e.application_id, e.case_id, e.decided_on, e.reasons,
                             Actor.of(r.actor))

    def entitlement_changed(e: EntitlementChanged, r: Reaction) -> None:
        if e.change == "terminate":  # 注销: the case is no longer active
            app.record_termination(e.case_id, e.effective_month, e.reasons, Actor.of(r.actor))

    return {"review": reacting_to("review", {
        CaseConfirmed: case_confirmed,
        CaseRejected: case_rejected,
        EntitlementChanged: entitlement_changed,
    })}
