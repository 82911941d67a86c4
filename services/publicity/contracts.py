"""Publicity's domain events → published integration events.

Nothing here needs sealing: the contracts carry ids, places, dates and the township's
finding, never the objection's, report's or inquiry's text, nor a reporter's or asker's
contact (they stay in publicity), and never a name. Roster events, investigations,
supersessions and policy bulletins are internal.

A report in the discipline queue (about an official) goes out with no township, case or
household, in the data or the envelope: consumers that scope by township (archive's audit
console) can then never show it to the township it accuses.
"""

from __future__ import annotations

from typing import Any

from services.publicity.domain import Inquiry, Notice, Report, ReportQueue
from shared.contracts.publicity import (
    InquiryAnswered,
    InquiryAsked,
    NoticeClosed,
    NoticeOpened,
    ObjectionFiled,
    ObjectionResolved,
    ReportFiled,
    ReportFindingRecorded,
    ReportRouted,
    ReportUpheld,
)
from shared.eventstore import ServiceApplication
from shared.outbox import Outgoing


class PublicityContracts:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app

    def __call__(self, event: Any, position: int) -> Outgoing | None:
        if isinstance(event, Report.Event):
            return self._report(event)
        if isinstance(event, Inquiry.Event):
            return self._inquiry(event)
        if not isinstance(event, Notice.Event):
            return None
        if isinstance(event, Notice.Opened):
            return Outgoing(NoticeOpened(
                notice_id=event.originator_id, case_id=event.case_id, subject=event.subject,
                round=event.round_, township=event.township, village=event.village,
                starts_on=event.starts_on, ends_on=event.ends_on,
            ), case_id=str(event.case_id), household_id=event.household_id,
                township=event.township)
        if not isinstance(event, Notice.ObjectionFiled | Notice.ObjectionResolved | Notice.Closed):
            return None
        # Later events carry only what changed; the notice as it stood gives the rest.
        n: Notice = self.app.get(event.originator_id, version=event.originator_version)
        where = {"case_id": str(n.case_id), "household_id": n.household_id,
                 "township": n.township}
        if isinstance(event, Notice.ObjectionFiled):
            return Outgoing(ObjectionFiled(
                notice_id=n.id, case_id=n.case_id, objection_id=event.objection_id,
                township=n.township), **where)
        if isinstance(event, Notice.ObjectionResolved):
            return Outgoing(ObjectionResolved(
                notice_id=n.id, case_id=n.case_id, objection_id=event.objection_id,
                township=n.township, upheld=event.upheld, finding=event.finding), **where)
        return Outgoing(NoticeClosed(
            notice_id=n.id, case_id=n.case_id, subject=n.subject, round=n.round,
            township=n.township, village=n.village, outcome=event.outcome,
            finding=event.finding, closed_on=event.closed_on), **where)

    def _report(self, event: Any) -> Outgoing | None:
        if isinstance(event, Report.InvestigationRecorded):
            return None
        r: Report = self.app.get(event.originator_id, version=event.originator_version)
        rid = r.id
        township = r.township if r.queue == ReportQueue.TOWNSHIP else None
        if isinstance(event, Report.Filed):
            return Outgoing(ReportFiled(report_id=rid, category=r.category, queue=r.queue,
                                        township=township, filed_on=r.filed_on),
                            township=township)
        if isinstance(event, Report.Routed):
            return Outgoing(ReportRouted(report_id=rid, queue=event.queue, township=township,
                                         routed_on=event.on), township=township)
        if isinstance(event, Report.FindingRecorded):
            return Outgoing(ReportFindingRecorded(
                report_id=rid, category=r.category, queue=r.queue, township=township,
                upheld=event.upheld, concluded_on=event.on), township=township)
        if isinstance(event, Report.RecheckRequested):
            # The recheck happens in the household's township whoever found the report true;
            # an inspector's finding stays with the inspector.
            return Outgoing(ReportUpheld(
                report_id=rid, category=r.category, township=r.township, village=r.village,
                case_id=r.case_id, entitlement_id=r.entitlement_id,
                finding=None if r.about_official else r.finding, upheld_on=event.on),
                case_id=str(r.case_id) if r.case_id else None, household_id=r.household_id,
                township=r.township)
        return None

    def _inquiry(self, event: Any) -> Outgoing | None:
        if isinstance(event, Inquiry.Asked):
            return Outgoing(InquiryAsked(
                inquiry_id=event.originator_id, township=event.township, topic=event.topic,
                asked_on=event.asked_on, due_on=event.due_on,
                due_provisional=event.due_provisional), township=event.township)
        if isinstance(event, Inquiry.Answered):
            q: Inquiry = self.app.get(event.originator_id, version=event.originator_version)
            return Outgoing(InquiryAnswered(
                inquiry_id=q.id, township=q.township, answered_on=event.answered_on,
                due_on=q.due_on, late=event.late, published=event.published),
                township=q.township)
        return None
