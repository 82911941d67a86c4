"""Intake's read models: the clerk's list, the de-duplication register and the log of
unmasked views. Applied in the writer's transaction; rebuildable from the log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.intake.domain import Application, Disclosure, Status
from shared.eventstore import (
    POSITION,
    AwareDateTime,
    BatchedWrites,
    EncryptedText,
    Projection,
)


class IntakeProjection(Projection):
    # A rebuild reads and updates applications by their id only.
    BUILT_UNINDEXED = {"intake_applications": frozenset({"application_id"})}

    def __init__(self) -> None:
        super().__init__()
        self._statements: dict[tuple[Any, Table], Any] = {}
        self.applications = Table(
            "intake_applications", self.metadata,
            Column("application_id", String(36), primary_key=True),
            Column("kind", String(16), nullable=False, index=True),
            Column("linshi_type", String(16)),
            Column("township", String(12), nullable=False, index=True),
            Column("village", String(12), nullable=False, index=True),
            Column("status", String(16), nullable=False, index=True),
            Column("applicant_name", EncryptedText(self.at_rest), nullable=False),
            Column("household_size", Integer, nullable=False),
            Column("household_id", String(40), nullable=False, index=True),
            Column("filed_by", String(24), nullable=False),
            Column("owner", String(128), index=True),  # the public filer's user id
            Column("close_relative_declared", Boolean, nullable=False),
            Column("filed_on", Date, nullable=False, index=True),
            Column("submitted_at", AwareDateTime(), nullable=False),
            Column("round", Integer, nullable=False),
            Column("accepted_on", Date),
            Column("case_id", String(36), index=True),
            Column("position", POSITION, nullable=False),
        )
        # One row per person in an open application or an active case, per kind. The key
        # makes a concurrent duplicate filing fail at commit even if both passed the check.
        self.memberships = Table(
            "intake_memberships", self.metadata,
            Column("fingerprint", String(64), primary_key=True),
            Column("kind", String(16), primary_key=True),
            Column("application_id", String(36), nullable=False, index=True),
        )
        self.disclosures = Table(
            "intake_disclosures", self.metadata,
            Column("disclosure_id", String(36), primary_key=True),
            Column("application_id", String(36), nullable=False),
            Column("township", String(12), nullable=False),
            Column("viewer_user_id", String(128), nullable=False),
            Column("viewer_role", String(32), nullable=False),
            Column("fields", Text, nullable=False),
            Column("reason", Text, nullable=False),
            Column("viewed_at", AwareDateTime(), nullable=False),
            Index("ix_intake_disclosures_application", "application_id", "viewed_at"),
        )

    def apply(self, session: Session, event: Any, position: int) -> None:
        self.apply_many(session, [(event, position)])

    def apply_many(self, session: Session, events: Sequence[tuple[Any, int]]) -> None:
        writes = BatchedWrites(session)
        for event, position in events:
            self._apply(writes, event, position)
        writes.flush()

    def _apply(self, w: BatchedWrites, event: Any, position: int) -> None:
        t = self.applications
        key = str(event.originator_id)

        def set_(**values: Any) -> None:
            w.add(t, self._update(tuple(values)),
                  {"b_key": key, "b_position": position,
                   **{f"b_{k}": v for k, v in values.items() if k != "next_round"}})

        if isinstance(event, Application.Submitted):
            filing = event.filing
            w.add(t, self._insert_application, dict(
                application_id=key, kind=event.kind, linshi_type=event.linshi_type,
                township=event.township, village=event.village, status=Status.SUBMITTED.value,
                applicant_name=_applicant(filing)["name"], household_size=len(filing["members"]),
                household_id=event.household_id, filed_by=event.filed_by, owner=event.owner,
                close_relative_declared=bool(filing.get("close_relative_declared")),
                filed_on=event.filed_on, submitted_at=event.timestamp, round=1,
                position=position))
            self._join(w, key, event.kind,
                       _unflagged(filing["members"], getattr(event, "already_members", None)))
        elif isinstance(event, Application.Returned):
            set_(status=Status.RETURNED.value)
        elif isinstance(event, Application.Resubmitted):
            filing = event.filing
            set_(status=Status.SUBMITTED.value, applicant_name=_applicant(filing)["name"],
                 household_size=len(filing["members"]), household_id=event.household_id,
                 close_relative_declared=bool(filing.get("close_relative_declared")),
                 next_round=None)
            kind = self._kind(w, key)
            self._leave(w, key)
            self._join(w, key, kind,
                       _unflagged(filing["members"], getattr(event, "already_members", None)))
        elif isinstance(event, Application.Accepted):
            set_(status=Status.ACCEPTED.value, accepted_on=event.accepted_on)
        elif isinstance(event, Application.Declined):
            set_(status=Status.DECLINED.value)
            self._leave(w, key)
        elif isinstance(event, Application.Withdrawn):
            set_(status=Status.WITHDRAWN.value)
            self._leave(w, key)
        elif isinstance(event, Application.CaseConfirmed):
            set_(status=Status.CONFIRMED.value, case_id=str(event.case_id))
            if event.ends_case:
                self._leave(w, key)
        elif isinstance(event, Application.CaseRejected):
            set_(status=Status.REJECTED.value, case_id=str(event.case_id))
            self._leave(w, key)
        elif isinstance(event, Application.CaseTerminated):
            set_(status=Status.TERMINATED.value)
            self._leave(w, key)
        elif isinstance(event, Application.ChangeReported):
            joined = event.change.get("members_joined", [])
            left = [m["fingerprint"] for m in event.change.get("members_left", [])]
            set_(household_size_by=len(joined) - len(left))
            m = self.memberships
            w.add(m, self._delete_member, [{"b_key": key, "b_fingerprint": f} for f in left])
            kind = self._kind(w, key)
            self._join(w, key, kind,
                       _unflagged(joined, getattr(event, "already_members", None),
                                  "members_joined"))
        elif isinstance(event, Disclosure.Recorded):
            actor = event.actor or {}
            w.add(self.disclosures, self._insert_disclosure, dict(
                disclosure_id=key, application_id=str(event.application_id),
                township=event.township, viewer_user_id=actor.get("user_id", "?"),
                viewer_role=actor.get("role", "?"), fields=",".join(event.fields),
                reason=event.reason, viewed_at=event.timestamp))

    # Prepared once: each call would otherwise build and cache-key a statement anew. Keyed
    # by the table too: a rebuild's shadow copy of this projection has its own tables.
    def _prepared(self, label: Any, table: Table, build: Callable[[], Any]) -> Any:
        key = (label, table)
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = build()
        return statement

    @property
    def _insert_application(self) -> Any:
        return self._prepared("insert", self.applications, self.applications.insert)

    @property
    def _insert_membership(self) -> Any:
        return self._prepared("insert", self.memberships, self.memberships.insert)

    @property
    def _insert_disclosure(self) -> Any:
        return self._prepared("insert", self.disclosures, self.disclosures.insert)

    @property
    def _delete_membership(self) -> Any:
        m = self.memberships
        return self._prepared("leave", m, lambda: delete(m).where(
            m.c.application_id == bindparam("b_key")))

    @property
    def _delete_member(self) -> Any:
        m = self.memberships
        return self._prepared("leave one", m, lambda: delete(m).where(
            m.c.application_id == bindparam("b_key"),
            m.c.fingerprint == bindparam("b_fingerprint")))

    def _update(self, columns: tuple[str, ...]) -> Any:
        """The update of one application setting `columns` (and its position), prepared
        once per set of columns; `next_round` and `household_size_by` are computed ones."""
        t = self.applications

        def build() -> Any:
            values: dict[str, Any] = {"position": bindparam("b_position")}
            for c in columns:
                if c == "next_round":
                    values["round"] = t.c.round + 1
                elif c == "household_size_by":
                    values["household_size"] = t.c.household_size + bindparam(
                        "b_household_size_by")
                else:
                    values[c] = bindparam(f"b_{c}")
            return update(t).where(t.c.application_id == bindparam("b_key")).values(values)
        return self._prepared(("update", columns), t, build)

    def _kind(self, w: BatchedWrites, key: str) -> str:
        w.flush()  # a read: what is buffered goes first
        t = self.applications
        return str(w.session.execute(select(t.c.kind).where(t.c.application_id == key)).one()
                   .kind)

    def _join(self, w: BatchedWrites, key: str, kind: str,
              people: list[dict[str, Any]]) -> None:
        w.add(self.memberships, self._insert_membership, [
            {"fingerprint": p["fingerprint"], "kind": kind, "application_id": key}
            for p in people])

    def _leave(self, w: BatchedWrites, key: str) -> None:
        w.add(self.memberships, self._delete_membership, {"b_key": key})


def _applicant(filing: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in filing["members"] if m["relation"] == "self")


def _unflagged(members: list[dict[str, Any]], flagged: list[str] | None,
               group: str = "members") -> list[dict[str, Any]]:
    """The members who join the membership index: not those a quiet (public) filing or
    change named while they were already members elsewhere; the township sees them flagged."""
    skip = set(flagged or [])
    return [m for i, m in enumerate(members) if f"{group}[{i}].resident_id" not in skip]
