"""Review's reactions to other services' integration events.

The handlers come from shared/reactions.py: exactly-once from the kernel (the consumer's
inbox row commits with the events a handler saves), and the actor of the upstream event kept
as the "who" of the reaction (else the upstream service's system actor).
"""

from __future__ import annotations

from services.review.application import ReviewApplication
from shared.bus import Handler
from shared.contracts import Actor
from shared.contracts.intake import (
    ApplicationAccepted,
    ApplicationAcceptedV1,
    ApplicationWithdrawn,
    ChangeReported,
    ChangeReportedV1,
)
from shared.contracts.publicity import NoticeClosed, NoticeOpened, ReportUpheld
from shared.reactions import Reaction, reacting_to


def reactions(app: ReviewApplication) -> dict[str, dict[str, Handler]]:
    def application_accepted(accepted: ApplicationAccepted | ApplicationAcceptedV1,
                             r: Reaction) -> None:  # v2 (household sealed) or a stored v1
        # The case is opened on behalf of the clerk who accepted: the audit keeps the "who".
        app.open_case(accepted, Actor.of(r.actor))

    def notice_opened(notice: NoticeOpened, r: Reaction) -> None:
        if notice.subject == "opinion":
            app.publicity_opened(notice.case_id, notice.notice_id, notice.round,
                                 notice.starts_on, notice.ends_on, Actor.of(r.actor))

    def notice_closed(notice: NoticeClosed, r: Reaction) -> None:
        if notice.subject == "opinion":
            # clean → confirmation allowed; objection upheld → a new round.
            app.publicity_closed(notice.case_id, notice.notice_id, notice.round,
                                 notice.outcome, notice.finding, notice.closed_on,
                                 Actor.of(r.actor))
        else:  # a 特困 termination's 7 days' publicity
            app.termination_notice_closed(notice.case_id, notice.outcome, notice.finding,
                                          notice.closed_on, Actor.of(r.actor))

    def change_reported(reported: ChangeReported | ChangeReportedV1, r: Reaction) -> None:
        app.change_reported(reported, Actor.of(r.actor))

    def application_withdrawn(withdrawn: ApplicationWithdrawn, r: Reaction) -> None:
        if withdrawn.was_accepted:
            app.application_withdrawn(withdrawn.application_id, withdrawn.reason,
                                      withdrawn.withdrawn_on, Actor.of(r.actor))

    def report_upheld(upheld: ReportUpheld, r: Reaction) -> None:
        # On behalf of whoever found the report true: the audit keeps the "who".
        app.report_upheld(upheld, Actor.of(r.actor))

    return {
        "intake": reacting_to("intake", {
            (ApplicationAccepted, ApplicationAcceptedV1): application_accepted,
            (ChangeReported, ChangeReportedV1): change_reported,
            ApplicationWithdrawn: application_withdrawn,
        }),
        "publicity": reacting_to("publicity", {
            NoticeOpened: notice_opened,
            NoticeClosed: notice_closed,
            ReportUpheld: report_upheld,
        }),
    }
