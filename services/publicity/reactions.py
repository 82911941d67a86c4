"""Publicity's reactions to review: opinions and terminations are posted, entitlements
keep the long-term roster, policy versions feed the public policy pages. Exactly-once comes
from the kernel's tracked consumer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.publicity.application import PublicityApplication
from shared.bus import Handler
from shared.contracts import Envelope, IntegrationEvent, parse_data
from shared.contracts.review import (
    EntitlementChanged,
    EntitlementStarted,
    OpinionIssued,
    PolicyChanged,
    TerminationNoticeRequested,
)


def _actor(env: Envelope) -> dict[str, Any]:
    # The notice is posted on behalf of whoever caused the upstream event.
    if env.actor is not None:
        return env.actor.model_dump()
    return {"user_id": f"system:{env.source}", "role": "system", "township": env.township,
            "village": None}


def reactions(app: PublicityApplication) -> dict[str, dict[str, Handler]]:
    def handler(contract: type[IntegrationEvent],
                command: Callable[[Any, dict[str, Any], str], Any]) -> Handler:
        def handle(env: Envelope) -> None:
            data = parse_data(env)
            assert isinstance(data, contract)
            command(data, _actor(env), str(env.event_id))
        return handle

    return {"review": {
        OpinionIssued.TYPE: handler(OpinionIssued, app.open_opinion_notice),
        TerminationNoticeRequested.TYPE: handler(TerminationNoticeRequested,
                                                 app.open_termination_notice),
        EntitlementStarted.TYPE: handler(EntitlementStarted, app.list_entitlement),
        EntitlementChanged.TYPE: handler(EntitlementChanged, app.change_entitlement),
        PolicyChanged.TYPE: handler(PolicyChanged, app.record_policy),
    }}
