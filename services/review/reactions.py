"""Review's reactions to other services' integration events.

Exactly-once comes from the kernel (the consumer's inbox row commits with the events a
handler saves). The actor of the upstream event is kept as the "who" of the reaction.
"""

from __future__ import annotations

from typing import Any

from services.review.application import ReviewApplication
from shared.bus import Handler
from shared.contracts import Envelope, parse_data
from shared.contracts.intake import (
    ApplicationAccepted,
    ApplicationAcceptedV1,
    ApplicationWithdrawn,
    ChangeReported,
    ChangeReportedV1,
)
from shared.contracts.publicity import NoticeClosed, NoticeOpened, ReportUpheld


def _actor(env: Envelope) -> dict[str, Any]:
    return env.actor.model_dump() if env.actor else {}


def reactions(app: ReviewApplication) -> dict[str, dict[str, Handler]]:
    def application_accepted(env: Envelope) -> None:
        accepted = parse_data(env)  # v2 (household sealed) or a stored v1
        assert isinstance(accepted, ApplicationAccepted | ApplicationAcceptedV1)
        # The case is opened on behalf of the clerk who accepted: the audit keeps the "who".
        app.open_case(accepted, _actor(env))

    def notice_opened(env: Envelope) -> None:
        notice = parse_data(env)
        assert isinstance(notice, NoticeOpened)
        if notice.subject == "opinion":
            app.publicity_opened(notice.case_id, notice.notice_id, notice.round,
                                 notice.starts_on, notice.ends_on, _actor(env))

    def notice_closed(env: Envelope) -> None:
        notice = parse_data(env)
        assert isinstance(notice, NoticeClosed)
        if notice.subject == "opinion":
            # clean → confirmation allowed; objection upheld → a new round.
            app.publicity_closed(notice.case_id, notice.notice_id, notice.round,
                                 notice.outcome, notice.finding, notice.closed_on, _actor(env))
        else:  # a 特困 termination's 7 days' publicity
            app.termination_notice_closed(notice.case_id, notice.outcome, notice.finding,
                                          notice.closed_on, _actor(env))

    def change_reported(env: Envelope) -> None:
        reported = parse_data(env)
        assert isinstance(reported, ChangeReported | ChangeReportedV1)
        app.change_reported(reported, _actor(env))

    def application_withdrawn(env: Envelope) -> None:
        withdrawn = parse_data(env)
        assert isinstance(withdrawn, ApplicationWithdrawn)
        if withdrawn.was_accepted:
            app.application_withdrawn(withdrawn.application_id, withdrawn.reason,
                                      withdrawn.withdrawn_on, _actor(env))

    def report_upheld(env: Envelope) -> None:
        upheld = parse_data(env)
        assert isinstance(upheld, ReportUpheld)
        # On behalf of whoever found the report true: the audit keeps the "who".
        app.report_upheld(upheld, _actor(env))

    return {
        "intake": {ApplicationAccepted.TYPE: application_accepted,
                   ChangeReported.TYPE: change_reported,
                   ApplicationWithdrawn.TYPE: application_withdrawn},
        "publicity": {NoticeOpened.TYPE: notice_opened, NoticeClosed.TYPE: notice_closed,
                      ReportUpheld.TYPE: report_upheld},
    }
