"""Intake's reactions to review's integration events: the case status filers see, and
whether a person still counts as in an active case for de-duplication."""

from __future__ import annotations

from services.intake.application import IntakeApplication
from shared.bus import Handler
from shared.contracts import Envelope, parse_data
from shared.contracts.review import CaseConfirmed, CaseRejected, EntitlementChanged


def reactions(app: IntakeApplication) -> dict[str, dict[str, Handler]]:
    def actor(env: Envelope) -> dict[str, str | None]:
        # The reviewer who decided is the "who" of the fact recorded here.
        return env.actor.model_dump() if env.actor else {"user_id": "review", "role": "service"}

    def case_confirmed(env: Envelope) -> None:
        e = parse_data(env)
        assert isinstance(e, CaseConfirmed)
        app.record_confirmation(e.application_id, e.case_id, e.decided_on, actor(env))

    def case_rejected(env: Envelope) -> None:
        e = parse_data(env)
        assert isinstance(e, CaseRejected)
        app.record_rejection(e.application_id, e.case_id, e.decided_on, e.reasons, actor(env))

    def entitlement_changed(env: Envelope) -> None:
        e = parse_data(env)
        assert isinstance(e, EntitlementChanged)
        if e.change == "terminate":  # 注销: the case is no longer active
            app.record_termination(e.case_id, e.effective_month, e.reasons, actor(env))

    return {"review": {CaseConfirmed.TYPE: case_confirmed, CaseRejected.TYPE: case_rejected,
                       EntitlementChanged.TYPE: entitlement_changed}}
