"""Publicity's read models, applied in the writer's transaction.

- `publicity_notices`: one row per notice, for the public board and the officials' queues.
- `publicity_reports`: one row per report (举报), for the queues and the receipt lookup;
  no text, contact or name (those are read from the report itself by who may see them).
- `publicity_inquiries`: one row per inquiry (咨询), for the queues, the overdue list and
  the published answers.
- `publicity_roster`: one row per roster event, each effective from a month. The roster
  "as of" a date is, per entry, the latest row effective by then: a temporal read model
  replayed from the events, so any past date answers the same way today as it did then.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    update,
)
from sqlalchemy.orm import Session

from services.publicity.domain import (
    Inquiry,
    InquiryStatus,
    Notice,
    NoticeStatus,
    Report,
    ReportStatus,
    RosterEntry,
)
from shared.eventstore import POSITION, AwareDateTime, Projection

MONEY = Numeric(12, 2, asdecimal=True)


class PublicityProjection(Projection):
    def __init__(self) -> None:
        super().__init__()
        self.notices = Table(
            "publicity_notices", self.metadata,
            Column("notice_id", String(36), primary_key=True),
            Column("case_id", String(36), nullable=False, index=True),
            Column("subject", String(16), nullable=False),
            Column("round", Integer, nullable=False),
            Column("kind", String(16), nullable=False),
            Column("township", String(12), nullable=False, index=True),
            Column("village", String(12), nullable=False, index=True),
            Column("status", String(16), nullable=False, index=True),
            Column("starts_on", Date, nullable=False),
            Column("ends_on", Date, nullable=False, index=True),
            Column("display_name", String(64), nullable=False),
            Column("household_size", Integer, nullable=False),
            Column("monthly_amount", MONEY),
            Column("outcome", String(24)),
            Column("closed_on", Date),
            Column("objections_total", Integer, nullable=False),
            Column("objections_pending", Integer, nullable=False),
            Column("opened_at", AwareDateTime(), nullable=False),
            Column("position", POSITION, nullable=False),
        )
        self.roster = Table(
            "publicity_roster", self.metadata,
            Column("entry_id", String(36), primary_key=True),
            Column("position", POSITION, primary_key=True),
            Column("kind", String(16), nullable=False),
            Column("township", String(12), nullable=False, index=True),
            Column("village", String(12), nullable=False, index=True),
            Column("display_name", String(64), nullable=False),
            Column("household_size", Integer, nullable=False),
            Column("monthly_amount", MONEY, nullable=False),
            Column("effective_month", String(7), nullable=False, index=True),
            Column("listed", Boolean, nullable=False),
        )

        self.reports = Table(
            "publicity_reports", self.metadata,
            Column("report_id", String(36), primary_key=True),
            Column("receipt", String(24), nullable=False, unique=True),
            Column("category", String(16), nullable=False),
            Column("queue", String(12), nullable=False, index=True),
            Column("township", String(12), nullable=False, index=True),
            Column("village", String(12), nullable=False),
            Column("status", String(24), nullable=False),
            Column("names_case", Boolean, nullable=False),
            Column("filed_on", Date, nullable=False),
            Column("concluded_on", Date),
            Column("upheld", Boolean),
            Column("position", POSITION, nullable=False),
        )
        self.inquiries = Table(
            "publicity_inquiries", self.metadata,
            Column("inquiry_id", String(36), primary_key=True),
            Column("receipt", String(24), nullable=False, unique=True),
            Column("township", String(12), nullable=False, index=True),
            Column("village", String(12)),
            Column("topic", String(16)),
            Column("status", String(12), nullable=False),
            Column("asked_on", Date, nullable=False),
            Column("due_on", Date, nullable=False, index=True),
            Column("due_provisional", Boolean, nullable=False),
            Column("answered_on", Date),
            Column("late", Boolean),
            Column("published", Boolean, nullable=False),
            # Shown publicly only when `published`; officials read the inquiry itself.
            Column("question", Text, nullable=False),
            Column("answer", Text),
            Column("position", POSITION, nullable=False),
        )

    def apply(self, session: Session, event: Any, position: int) -> None:
        if isinstance(event, Notice.Event):
            self._notice(session, event, position)
        elif isinstance(event, RosterEntry.Event):
            self._roster(session, event, position)
        elif isinstance(event, Report.Event):
            self._report(session, event, position)
        elif isinstance(event, Inquiry.Event):
            self._inquiry(session, event, position)

    def _report(self, session: Session, event: Any, position: int) -> None:
        t = self.reports
        key = str(event.originator_id)
        if isinstance(event, Report.Filed):
            session.execute(t.insert().values(
                report_id=key, receipt=event.receipt, category=event.category,
                queue=event.queue, township=event.township, village=event.village,
                status=ReportStatus.RECEIVED.value,
                names_case=event.case_id is not None or event.entitlement_id is not None,
                filed_on=event.filed_on, position=position))
            return
        values: dict[str, Any] = {}
        if isinstance(event, Report.Routed):
            values = {"queue": event.queue}
        elif isinstance(event, Report.InvestigationRecorded):
            values = {"status": ReportStatus.UNDER_INVESTIGATION.value}
        elif isinstance(event, Report.FindingRecorded):
            values = {"status": ReportStatus.CONCLUDED.value, "concluded_on": event.on,
                      "upheld": event.upheld}
        session.execute(update(t).where(t.c.report_id == key).values(position=position,
                                                                      **values))

    def _inquiry(self, session: Session, event: Any, position: int) -> None:
        t = self.inquiries
        key = str(event.originator_id)
        if isinstance(event, Inquiry.Asked):
            session.execute(t.insert().values(
                inquiry_id=key, receipt=event.receipt, township=event.township,
                village=event.village, topic=event.topic, status=InquiryStatus.OPEN.value,
                asked_on=event.asked_on, due_on=event.due_on,
                due_provisional=event.due_provisional, published=False,
                question=event.question, position=position))
        elif isinstance(event, Inquiry.Answered):
            session.execute(update(t).where(t.c.inquiry_id == key).values(
                status=InquiryStatus.ANSWERED.value, answered_on=event.answered_on,
                late=event.late, published=event.published, answer=event.answer,
                position=position))

    def _notice(self, session: Session, event: Any, position: int) -> None:
        t = self.notices
        key = str(event.originator_id)
        row = t.c.notice_id == key
        if isinstance(event, Notice.Opened):
            session.execute(t.insert().values(
                notice_id=key, case_id=str(event.case_id), subject=event.subject,
                round=event.round_, kind=event.kind, township=event.township,
                village=event.village, status=NoticeStatus.OPEN.value,
                starts_on=event.starts_on, ends_on=event.ends_on,
                display_name=event.display_name, household_size=event.household_size,
                monthly_amount=event.monthly_amount, objections_total=0,
                objections_pending=0, opened_at=event.timestamp, position=position))
        elif isinstance(event, Notice.ObjectionFiled):
            session.execute(update(t).where(row).values(
                objections_total=t.c.objections_total + 1,
                objections_pending=t.c.objections_pending + 1, position=position))
        elif isinstance(event, Notice.ObjectionResolved):
            session.execute(update(t).where(row).values(
                objections_pending=t.c.objections_pending - 1, position=position))
        elif isinstance(event, Notice.Closed):
            session.execute(update(t).where(row).values(
                status=NoticeStatus.CLOSED.value, outcome=event.outcome,
                closed_on=event.closed_on, position=position))
        elif isinstance(event, Notice.Superseded):
            session.execute(update(t).where(row).values(
                status=NoticeStatus.SUPERSEDED.value, position=position))

    def _roster(self, session: Session, event: Any, position: int) -> None:
        if isinstance(event, RosterEntry.Listed):
            session.execute(self.roster.insert().values(
                entry_id=str(event.originator_id), position=position, kind=event.kind,
                township=event.township, village=event.village,
                display_name=event.display_name, household_size=event.household_size,
                monthly_amount=event.monthly_amount, effective_month=event.start_month,
                listed=True))
        elif isinstance(event, RosterEntry.Changed):
            # The entry's fixed facts (kind, place, name) come from its first row.
            first = session.execute(
                self.roster.select().where(self.roster.c.entry_id == str(event.originator_id))
                .order_by(self.roster.c.position).limit(1)).one()
            session.execute(self.roster.insert().values(
                entry_id=first.entry_id, position=position, kind=first.kind,
                township=first.township, village=first.village,
                display_name=first.display_name, household_size=event.household_size,
                monthly_amount=event.monthly_amount, effective_month=event.effective_month,
                listed=event.listed))
