"""Publicity's reactions to review: opinions and terminations are posted, entitlements
keep the long-term roster, policy versions feed the public policy pages. The handlers, and
the notice's "who" (whoever caused the upstream event), come from shared/reactions.py."""

from __future__ import annotations

from services.publicity.application import PublicityApplication
from shared.bus import Handler
from shared.contracts import Actor
from shared.contracts.review import (
    EntitlementChanged,
    EntitlementStarted,
    OpinionIssued,
    PolicyChanged,
    TerminationNoticeRequested,
)
from shared.reactions import reacting_to


def reactions(app: PublicityApplication) -> dict[str, dict[str, Handler]]:
    return {"review": reacting_to("review", {
        OpinionIssued: lambda e, r: app.open_opinion_notice(e, Actor.of(r.actor), r.event_id),
        TerminationNoticeRequested:
            lambda e, r: app.open_termination_notice(e, Actor.of(r.actor), r.event_id),
        EntitlementStarted: lambda e, r: app.list_entitlement(e, Actor.of(r.actor), r.event_id),
        EntitlementChanged: lambda e, r: app.change_entitlement(e, Actor.of(r.actor), r.event_id),
        PolicyChanged: lambda e, r: app.record_policy(e, Actor.of(r.actor), r.event_id),
    })}
