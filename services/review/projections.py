"""Review's read models: cases per township with their deadlines, and entitlements.

Amounts are stored as text so the Decimal survives SQLite exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Boolean, Column, Date, Integer, String, Table, select, update
from sqlalchemy.orm import Session

from services.review.domain import Entitlement, ReviewCase, add_months
from shared.eventstore import POSITION, Projection, RowUpdates


class ReviewProjection(Projection):
    def __init__(self) -> None:
        super().__init__()
        self.cases = Table(
            "review_cases", self.metadata,
            Column("case_id", String(36), primary_key=True),
            Column("application_id", String(36), nullable=False, unique=True),
            Column("kind", String(16), nullable=False),
            Column("township", String(12), nullable=False, index=True),
            Column("village", String(12), nullable=False),
            Column("status", String(20), nullable=False),
            Column("round", Integer, nullable=False),
            Column("contractor", String(128), index=True),
            Column("household_size", Integer, nullable=False),
            Column("close_relative_declared", Boolean, nullable=False),
            Column("accepted_on", Date, nullable=False),
            Column("investigation_due", Date, nullable=False),
            Column("assigned_on", Date),
            Column("decision_due", Date, nullable=False, index=True),
            Column("deadlines_provisional", Boolean, nullable=False),
            Column("rejection_due", Date),
            Column("confirmation_due", Date),
            Column("advance_due", Date),
            Column("advance_completed_on", Date),
            Column("amount", String(20)),
            Column("decided_on", Date, index=True),
            Column("position", POSITION, nullable=False),
        )
        self.entitlements = Table(
            "review_entitlements", self.metadata,
            Column("entitlement_id", String(36), primary_key=True),
            Column("case_id", String(36), nullable=False, unique=True),
            Column("kind", String(16), nullable=False),
            Column("township", String(12), nullable=False, index=True),
            Column("village", String(12), nullable=False),
            Column("status", String(20), nullable=False),
            Column("household_size", Integer, nullable=False),
            Column("monthly_amount", String(20), nullable=False),
            Column("start_month", String(7), nullable=False),
            Column("recheck_due", Date, nullable=False, index=True),
            Column("ends_after", String(7)),
            Column("position", POSITION, nullable=False),
        )
        c = ReviewCase
        self._case_updates: dict[type, Callable[[Any], dict[str, Any]]] = {
            c.JointReviewHeld: lambda e: {"status": "reviewed"},
            c.OpinionIssued: lambda e: {
                "status": "awaiting_county" if e.county_approval_required else "opinion_issued",
                "amount": None if e.amount is None else str(e.amount),
                "rejection_due": e.rejection_due, "household_size": e.household_size},
            c.CountyApproved: lambda e: {"status": "opinion_issued"},
            c.PublicityOpened: lambda e: {"status": "in_publicity"},
            c.PublicityClosed: lambda e: (
                {"status": "publicized", "confirmation_due": e.confirmation_due}
                if e.outcome == "clean"
                else {"status": "reinvestigating", "round": e.round + 1}),
            c.Confirmed: lambda e: {"status": "confirmed", "decided_on": e.decided_on},
            c.Rejected: lambda e: {"status": "rejected", "decided_on": e.decided_on},
            c.Withdrawn: lambda e: {"status": "withdrawn", "decided_on": e.withdrawn_on},
            c.DecisionDeadlineExtended: lambda e: {
                "decision_due": e.decision_due,
                **({"deadlines_provisional": True} if getattr(e, "provisional", False) else {})},
            c.AdvanceGranted: lambda e: {"status": "confirmed", "decided_on": e.granted_on,
                                         "amount": str(e.amount),
                                         "advance_due": e.completion_due},
            c.AdvanceRecordCompleted: lambda e: {"advance_completed_on": e.completed_on},
        }

    def apply(self, session: Session, event: Any, position: int) -> None:
        if isinstance(event, ReviewCase.Event):
            self._apply_case(session, event, position)
        elif isinstance(event, Entitlement.Event):
            self._apply_entitlement(session, event, position)

    def _apply_case(self, session: Session, event: Any, position: int) -> None:
        t = self.cases
        key = str(event.originator_id)
        row = t.c.case_id == key
        if isinstance(event, ReviewCase.Opened):
            session.execute(t.insert().values(
                case_id=key, application_id=str(event.application_id), kind=event.kind,
                township=event.township, village=event.village, status="opened", round=1,
                household_size=event.household_size,
                close_relative_declared=event.close_relative_declared,
                accepted_on=event.accepted_on, investigation_due=event.investigation_due,
                decision_due=event.decision_due,
                deadlines_provisional=event.deadlines_provisional, position=position))
            return
        if isinstance(event, ReviewCase.InvestigationAssigned):
            session.execute(update(t).where(row, t.c.assigned_on.is_(None))
                            .values(assigned_on=event.assigned_on))
            session.execute(update(t).where(row, t.c.status == "opened")
                            .values(status="investigating"))
            session.execute(update(t).where(row).values(contractor=event.contractor,
                                                        position=position))
            return
        if isinstance(event, ReviewCase.HomeVisitRecorded):
            session.execute(update(t).where(
                row, t.c.status.in_(("investigating", "reinvestigating")))
                .values(status="investigated"))
            session.execute(update(t).where(row).values(position=position))
            return
        values = next((f(event) for cls, f in self._case_updates.items()
                       if isinstance(event, cls)), {})
        session.execute(update(t).where(row).values(position=position, **values))

    def apply_many(self, session: Session, events: Sequence[tuple[Any, int]]) -> None:
        # A 标准调整 saves thousands of Changed events at once: their row updates go out as
        # a few executemany statements.
        updates = RowUpdates(session, self.entitlements, "entitlement_id")
        for event, position in events:
            values = (self._entitlement_values(event)
                      if isinstance(event, Entitlement.Event) else None)
            if values is None:
                updates.flush()
                self.apply(session, event, position)
            else:
                updates.add(str(event.originator_id), {"position": position, **values})
        updates.flush()

    @staticmethod
    def _entitlement_values(event: Any) -> dict[str, Any] | None:
        """The row's new values, from the event alone; None if the event inserts the row or
        its values depend on the row's current ones."""
        if isinstance(event, (Entitlement.Started, Entitlement.ChangeReported,
                              Entitlement.RecheckRequested)):
            return None
        if isinstance(event, Entitlement.Rechecked):
            return {"recheck_due": event.next_due}
        if isinstance(event, Entitlement.TerminationNoticeRequested
                        | Entitlement.TerminationForCauseRequested):
            return {"status": "termination_pending"}
        if isinstance(event, Entitlement.TerminationWithdrawn):
            return {"status": event.restored_status}
        if isinstance(event, Entitlement.Changed | Entitlement.EndedForCause):
            return {
                "increase": {"monthly_amount": str(event.amount),
                             "household_size": event.household_size},
                "decrease": {"monthly_amount": str(event.amount),
                             "household_size": event.household_size},
                "suspend": {"status": "suspended"},
                "resume": {"status": "active"},
                "phase_out": {"status": "phasing_out", "ends_after": event.until_month},
                "terminate": {"status": "terminated",
                              "ends_after": add_months(event.effective_month, -1)},
            }[event.change]
        return {}

    def _apply_entitlement(self, session: Session, event: Any, position: int) -> None:
        t = self.entitlements
        key = str(event.originator_id)
        row = t.c.entitlement_id == key
        if isinstance(event, Entitlement.Started):
            session.execute(t.insert().values(
                entitlement_id=key, case_id=str(event.case_id), kind=event.kind,
                township=event.township, village=event.village, status="active",
                household_size=event.household_size, monthly_amount=str(event.monthly_amount),
                start_month=event.start_month, recheck_due=event.recheck_due,
                position=position))
            return
        values = self._entitlement_values(event)
        if isinstance(event, Entitlement.ChangeReported):
            # Due now, unless already due earlier.
            current = session.execute(select(t.c.recheck_due).where(row)).scalar_one()
            values = {"recheck_due": min(current, event.reported_on)}
        elif isinstance(event, Entitlement.RecheckRequested):
            current = session.execute(select(t.c.recheck_due).where(row)).scalar_one()
            values = {"recheck_due": min(current, event.upheld_on)}
        session.execute(update(t).where(row).values(position=position, **(values or {})))
