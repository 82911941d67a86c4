"""Review's reactions to other services' integration events."""

from __future__ import annotations

from services.review.application import ReviewApplication
from shared.bus import Handler
from shared.contracts import Envelope, parse_data
from shared.contracts.intake import ApplicationAccepted


def reactions(app: ReviewApplication) -> dict[str, dict[str, Handler]]:
    def application_accepted(env: Envelope) -> None:
        accepted = parse_data(env)
        assert isinstance(accepted, ApplicationAccepted)
        # The case is opened on behalf of the clerk who accepted: the audit keeps the "who".
        app.open_case(accepted, env.actor.model_dump() if env.actor else {})

    return {"intake": {ApplicationAccepted.TYPE: application_accepted}}
