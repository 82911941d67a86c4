"""Archive's read models.

Two feeds, both written inside the transaction that also records their cause:
- archive's own events (household files, documents, custody, alarms) through `apply`;
- every service's integration events (the consolidated timeline) through
  `store_envelope`, called by the consumer in the transaction that records the inbox row.

Nothing here depends on arrival time, so a rebuild from the streams ends identical.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from services.archive.domain import ChainAlarm, HouseholdFile, StoredActor
from services.archive.supervision import MonthlyFiling, SupervisionAlert, jsonable, totals_of
from shared.contracts.archive import is_sensitive_access
from shared.contracts.audit import AUDIT_RECORD, CHAIN_CHECKPOINT, ChainCheckpointed
from shared.contracts.envelope import Envelope
from shared.eventstore import POSITION, AwareDateTime, EncryptedText, Projection


def _who(stored: StoredActor | None) -> tuple[str | None, str | None]:
    """The user id and role an event's stored actor names (older events may lack it)."""
    return (stored or {}).get("user_id"), (stored or {}).get("role")


class ArchiveProjection(Projection):
    # A rebuild reads the timeline by position and by aggregate (its chain) only.
    BUILT_UNINDEXED = {"archive_envelopes": frozenset({"source", "position", "aggregate_id"})}

    def __init__(self) -> None:
        super().__init__()
        m = self.metadata
        # Every integration event of every service, as received, with its chain verdict.
        self.envelopes = Table(
            "archive_envelopes", m,
            Column("source", String(32), primary_key=True),
            Column("position", POSITION, primary_key=True),
            Column("event_id", String(36), nullable=False, index=True),
            Column("type", String(128), nullable=False, index=True),
            Column("aggregate_id", String(36), nullable=False, index=True),
            Column("aggregate_version", Integer, nullable=False),
            Column("occurred_at", AwareDateTime(), nullable=False, index=True),
            Column("actor_user_id", String(128)),
            Column("actor_role", String(32)),
            Column("case_id", String(64), index=True),
            Column("household_id", String(64), index=True),
            Column("township", String(12), index=True),
            Column("prev_hash", String(64), nullable=False),
            Column("hash", String(64), nullable=False),
            Column("chain_status", String(24), nullable=False, index=True),
            Column("sensitive_access", Boolean, nullable=False, index=True),
            Column("close_relative_declared", Boolean, nullable=False, index=True),
            # The envelope as received (what is verified); encrypted at rest when that is on.
            Column("body", EncryptedText(self.at_rest), nullable=False),
        )
        # What each service's chain checkpoints say its heads are (shared/checkpoint.py):
        # the newest committed link of each aggregate, which archive's copy must hold.
        self.expected_heads = Table(
            "archive_expected_heads", m,
            Column("source", String(32), primary_key=True),
            Column("aggregate_id", String(36), primary_key=True),
            Column("hash", String(64), nullable=False),
            Column("position", POSITION, nullable=False),
            Column("checkpoint_seq", Integer, nullable=False),
        )
        # Review's case id and intake's application id name the same case.
        self.case_aliases = Table(
            "archive_case_aliases", m,
            Column("alias", String(64), primary_key=True),
            Column("case_key", String(64), nullable=False, index=True),
        )
        self.files = Table(
            "archive_files", m,
            Column("household_id", String(64), primary_key=True),
            Column("file_id", String(36), nullable=False, unique=True),
            Column("township", String(12), nullable=False, index=True),
            Column("opened_at", AwareDateTime(), nullable=False),
            Column("opened_by", String(128)),
        )
        self.documents = Table(
            "archive_documents", m,
            Column("position", POSITION, primary_key=True),
            Column("household_id", String(64), nullable=False, index=True),
            Column("case_id", String(64), nullable=False, index=True),
            Column("document_kind", String(32), nullable=False),
            Column("sha256", String(64), nullable=False, index=True),
            Column("size", Integer, nullable=False),
            Column("media_type", String(32), nullable=False),
            Column("stage", String(24)),
            Column("filed_at", AwareDateTime(), nullable=False),
            Column("filed_by", String(128)),
            Column("filed_by_role", String(32)),
        )
        self.custody = Table(
            "archive_custody", m,
            Column("position", POSITION, primary_key=True),
            Column("household_id", String(64), nullable=False, index=True),
            Column("copy", String(12), nullable=False),
            Column("action", String(16), nullable=False),
            Column("case_id", String(64)),
            Column("document_kinds", Text),
            Column("location", String(200)),
            Column("borrower", String(128)),
            Column("reason", String(500)),
            Column("at", AwareDateTime(), nullable=False),
            Column("by", String(128)),
            Column("by_role", String(32)),
        )
        self.alarms = Table(
            "archive_alarms", m,
            Column("alarm_id", String(36), primary_key=True),
            Column("upstream", String(32), nullable=False),
            Column("aggregate_id", String(36), nullable=False),
            Column("aggregate_version", Integer, nullable=False),
            Column("position", POSITION, nullable=False),
            Column("event_id", String(36), nullable=False),
            Column("type", String(128), nullable=False),
            Column("reason", String(24), nullable=False),
            Column("expected_prev_hash", String(64), nullable=False),
            Column("found_prev_hash", String(64), nullable=False),
            Column("stated_hash", String(64), nullable=False),
            Column("computed_hash", String(64), nullable=False),
            Column("case_id", String(64)),
            Column("township", String(12), index=True),
            Column("raised_at", AwareDateTime(), nullable=False),
            Column("resolution", String(24)),
            Column("resolved_by", String(128)),
            Column("resolved_reason", String(500)),
        )

        # County supervision (issue 11): the monthly filings (报备), their queries, alerts.
        self.filings = Table(
            "archive_monthly_filings", m,
            Column("filing_id", String(36), primary_key=True),
            Column("township", String(12), nullable=False, index=True),
            Column("month", String(7), nullable=False, index=True),
            Column("status", String(12), nullable=False),
            Column("version", Integer, nullable=False),
            Column("due_on", Date, nullable=False),
            Column("compiled_at", AwareDateTime(), nullable=False),
            Column("compiled_by", String(128)),
            Column("totals", Text, nullable=False),
            Column("basis_sha256", String(64), nullable=False),
            Column("submitted_on", Date),
            Column("submitted_by", String(128)),
            Column("late", Boolean),
            Column("document_sha256", String(64)),
            Column("received_on", Date),
            Column("received_by", String(128)),
            Column("open_queries", Integer, nullable=False, default=0),
        )
        self.filing_queries = Table(
            "archive_filing_queries", m,
            Column("query_id", String(36), primary_key=True),
            Column("filing_id", String(36), nullable=False, index=True),
            Column("question", Text, nullable=False),
            Column("raised_at", AwareDateTime(), nullable=False),
            Column("raised_by", String(128)),
            Column("answer", Text),
            Column("answered_at", AwareDateTime()),
            Column("answered_by", String(128)),
        )
        self.alerts = Table(
            "archive_supervision_alerts", m,
            Column("alert_id", String(36), primary_key=True),
            Column("kind", String(48), nullable=False, index=True),
            Column("subject", String(200), nullable=False),
            Column("township", String(12), index=True),
            Column("month", String(7), index=True),
            Column("case_id", String(64)),
            Column("detail", Text, nullable=False),
            Column("raised_at", AwareDateTime(), nullable=False),
            Column("raised_by", String(128)),
            Column("acknowledged_at", AwareDateTime()),
            Column("acknowledged_by", String(128)),
            Column("reason", String(500)),
        )

    # --- archive's own events ----------------------------------------------------------

    def apply(self, session: Session, event: Any, position: int) -> None:
        if isinstance(event, MonthlyFiling.Event | SupervisionAlert.Event):
            self._supervision(session, event)
            return
        hid = getattr(event, "household_id", None)
        if isinstance(event, HouseholdFile.Opened):
            session.execute(self.files.insert().values(
                household_id=hid, file_id=str(event.originator_id), township=event.township,
                opened_at=event.timestamp,
                opened_by=_who(event.actor)[0]))
            return
        if isinstance(event, HouseholdFile.DocumentFiled | HouseholdFile.PaperItemsFiled
                      | HouseholdFile.CheckedOut | HouseholdFile.Returned):
            hid = self._household(session, event.originator_id)
        by, role = _who(getattr(event, "actor", None))
        if isinstance(event, HouseholdFile.DocumentFiled):
            session.execute(self.documents.insert().values(
                position=position, household_id=hid, case_id=event.case_id,
                document_kind=event.document_kind, sha256=event.sha256, size=event.size,
                media_type=event.media_type, stage=event.stage, filed_at=event.timestamp,
                filed_by=by, filed_by_role=role))
        elif isinstance(event, HouseholdFile.PaperItemsFiled):
            self._custody(session, position, event, hid, "items_filed", case_id=event.case_id,
                          document_kinds=json.dumps(event.document_kinds),
                          location=event.location)
        elif isinstance(event, HouseholdFile.CheckedOut):
            self._custody(session, position, event, hid, "checked_out",
                          borrower=event.borrower, reason=event.reason)
        elif isinstance(event, HouseholdFile.Returned):
            self._custody(session, position, event, hid, "returned", location=event.location)
        elif isinstance(event, ChainAlarm.Raised):
            session.execute(self.alarms.insert().values(
                alarm_id=str(event.originator_id), upstream=event.upstream,
                aggregate_id=str(event.upstream_aggregate_id),
                aggregate_version=event.upstream_aggregate_version,
                position=event.upstream_position, event_id=str(event.upstream_event_id),
                type=event.upstream_type, reason=event.reason,
                expected_prev_hash=event.expected_prev_hash,
                found_prev_hash=event.found_prev_hash, stated_hash=event.stated_hash,
                computed_hash=event.computed_hash, case_id=event.case_id,
                township=event.township, raised_at=event.timestamp))
        elif isinstance(event, ChainAlarm.Resolved):
            session.execute(update(self.alarms).where(
                self.alarms.c.alarm_id == str(event.originator_id)).values(
                resolution=event.resolution, resolved_by=by, resolved_reason=event.reason))

    def _supervision(self, session: Session, event: Any) -> None:
        by = _who(getattr(event, "actor", None))[0]
        f, q, a = self.filings, self.filing_queries, self.alerts
        fid = str(event.originator_id)
        filing = update(f).where(f.c.filing_id == fid)
        if isinstance(event, MonthlyFiling.Compiled):
            session.execute(f.insert().values(
                filing_id=fid, township=event.township, month=event.month,
                status="compiled", version=event.originator_version, due_on=event.due_on,
                compiled_at=event.timestamp, compiled_by=by,
                totals=json.dumps(totals_of(event.activity)),
                basis_sha256=event.basis["sha256"], open_queries=0))
        elif isinstance(event, MonthlyFiling.Recompiled):
            session.execute(filing.values(
                version=event.originator_version, compiled_at=event.timestamp,
                compiled_by=by, totals=json.dumps(totals_of(event.activity)),
                basis_sha256=event.basis["sha256"]))
        elif isinstance(event, MonthlyFiling.Submitted):
            session.execute(filing.values(
                status="submitted", version=event.originator_version,
                submitted_on=event.submitted_on, submitted_by=by, late=event.late,
                document_sha256=event.document["sha256"]))
        elif isinstance(event, MonthlyFiling.Received):
            session.execute(filing.values(status="received", version=event.originator_version,
                                          received_on=event.received_on, received_by=by))
        elif isinstance(event, MonthlyFiling.Queried):
            session.execute(q.insert().values(
                query_id=str(event.query_id), filing_id=fid, question=event.question,
                raised_at=event.timestamp, raised_by=by))
            session.execute(filing.values(version=event.originator_version,
                                          open_queries=f.c.open_queries + 1))
        elif isinstance(event, MonthlyFiling.QueryAnswered):
            session.execute(update(q).where(q.c.query_id == str(event.query_id)).values(
                answer=event.answer, answered_at=event.timestamp, answered_by=by))
            session.execute(filing.values(version=event.originator_version,
                                          open_queries=f.c.open_queries - 1))
        elif isinstance(event, SupervisionAlert.Raised):
            session.execute(a.insert().values(
                alert_id=fid, kind=event.kind, subject=event.subject,
                township=event.township, month=event.month, case_id=event.case_id,
                detail=json.dumps(jsonable(event.detail), ensure_ascii=False,
                                  sort_keys=True),
                raised_at=event.timestamp, raised_by=by))
        elif isinstance(event, SupervisionAlert.Acknowledged):
            session.execute(update(a).where(a.c.alert_id == fid).values(
                acknowledged_at=event.timestamp, acknowledged_by=by, reason=event.reason))

    def _household(self, session: Session, file_id: UUID) -> str:
        t = self.files
        return str(session.execute(select(t.c.household_id).where(
            t.c.file_id == str(file_id))).scalar_one())

    def _custody(self, session: Session, position: int, event: Any, hid: str, action: str,
                 **values: Any) -> None:
        by, role = _who(event.actor)
        session.execute(self.custody.insert().values(
            position=position, household_id=hid, copy=event.copy, action=action,
            at=event.timestamp, by=by, by_role=role, **values))

    # --- the consolidated timeline -------------------------------------------------------

    def has_envelope(self, session: Session, source: str, position: int) -> bool:
        t = self.envelopes
        return session.execute(select(t.c.position).where(
            t.c.source == source, t.c.position == position)).first() is not None

    def has_rows_of(self, session: Session, source: str) -> bool:
        t = self.envelopes
        return session.execute(select(t.c.position).where(t.c.source == source)
                               .limit(1)).first() is not None

    def neighbour(self, session: Session, source: str, aggregate_id: UUID, position: int,
                  before: bool) -> Row[Any] | None:
        """The stored link of the same aggregate just before (or after) `position`."""
        t = self.envelopes
        q = select(t).where(t.c.source == source, t.c.aggregate_id == str(aggregate_id))
        q = (q.where(t.c.position < position).order_by(t.c.position.desc()) if before
             else q.where(t.c.position > position).order_by(t.c.position))
        return session.execute(q.limit(1)).first()

    def store_envelope(self, session: Session, env: Envelope, chain_status: str,
                       before: Any = None) -> None:
        session.execute(self.envelopes.insert().values(
            **self.envelope_row(env, chain_status, before)))
        self.envelope_facts(session, env)

    def envelope_row(self, env: Envelope, chain_status: str, before: Any = None,
                     ) -> dict[str, Any]:
        """The timeline row of a copy; `before` is its aggregate's previous stored link."""
        d = env.data
        # An audit record of an aggregate's internal event belongs to the case, household
        # and township its earlier links named (a review case's recheck, extension...).
        inherited = before if env.type == AUDIT_RECORD and before is not None else None
        return dict(
            source=env.source, position=env.position, event_id=str(env.event_id),
            type=env.type, aggregate_id=str(env.aggregate_id),
            aggregate_version=env.aggregate_version, occurred_at=env.occurred_at,
            actor_user_id=env.actor.user_id if env.actor else None,
            actor_role=env.actor.role if env.actor else None,
            case_id=env.case_id or (inherited.case_id if inherited else None),
            township=env.township or d.get("township")
            or (inherited.township if inherited else None),
            household_id=env.household_id or d.get("household_id")
            or (inherited.household_id if inherited else None),
            prev_hash=env.prev_hash, hash=env.hash, chain_status=chain_status,
            sensitive_access=is_sensitive_access(env.type, d),
            close_relative_declared=d.get("close_relative_declared") is True,
            body=env.model_dump_json())

    def envelope_facts(self, session: Session, env: Envelope) -> None:
        """What a stored copy tells besides its row: checkpoint heads, case aliases."""
        if env.type == CHAIN_CHECKPOINT:
            self._expect_heads(session, env)
        # A review case names the application it came from: one case, two ids.
        application_id = env.data.get("application_id")
        if env.case_id and application_id and str(application_id) != env.case_id:
            self.alias(session, env.case_id, str(application_id))

    def stored_positions(self, session: Session, source: str,
                         positions: list[int]) -> set[int]:
        t = self.envelopes
        return set(session.execute(select(t.c.position).where(
            t.c.source == source, t.c.position.in_(positions))).scalars())

    def last_links_before(self, session: Session, source: str, aggregate_ids: list[str],
                          position: int) -> dict[str, Row[Any]]:
        """Each aggregate's newest stored link before `position` (its hash and where it
        belongs): two queries per batch.
        The links are found by the aggregates' index alone: given the source and a range
        of positions, SQLite scanned the primary key from the stream's start instead, every
        earlier row per batch (a rebuild grew quadratically with the stream)."""
        t = self.envelopes
        newest: dict[str, int] = {}
        for agg, src, pos in session.execute(select(t.c.aggregate_id, t.c.source, t.c.position)
                                             .where(t.c.aggregate_id.in_(aggregate_ids))):
            if src == source and pos < position and pos > newest.get(agg, -1):
                newest[agg] = int(pos)
        if not newest:
            return {}
        # What the next link needs of it (not the body, which would be decrypted for nothing).
        return {r.aggregate_id: r for r in session.execute(select(
            t.c.aggregate_id, t.c.position, t.c.hash, t.c.case_id, t.c.township,
            t.c.household_id).where(t.c.source == source,
                                    t.c.position.in_(list(newest.values()))))}

    def linked_after(self, session: Session, source: str, aggregate_ids: list[str],
                     position: int) -> set[str]:
        """The aggregates with a stored link after `position` (a rebuild finds none)."""
        t = self.envelopes
        return set(session.execute(select(t.c.aggregate_id.distinct()).where(
            t.c.source == source, t.c.aggregate_id.in_(aggregate_ids),
            t.c.position > position)).scalars())

    def _expect_heads(self, session: Session, env: Envelope) -> None:
        """A checkpoint's heads (a thousand by default): one read of the heads held for its
        aggregates, then one executemany of the new ones and one of the advanced ones."""
        cp = ChainCheckpointed.model_validate(env.data)
        t = self.expected_heads
        ids = sorted({h.aggregate_id for h in cp.heads})
        held: dict[str, int] = {}
        for i in range(0, len(ids), 500):
            held.update((str(r[0]), int(r[1])) for r in session.execute(
                select(t.c.aggregate_id, t.c.position).where(
                    t.c.source == env.source, t.c.aggregate_id.in_(ids[i:i + 500]))))
        new: dict[str, dict[str, Any]] = {}
        advanced: dict[str, dict[str, Any]] = {}
        for h in cp.heads:
            row = {"source": env.source, "aggregate_id": h.aggregate_id, "hash": h.hash,
                   "position": h.position, "checkpoint_seq": cp.seq}
            if h.aggregate_id not in held:
                new[h.aggregate_id] = row
                held[h.aggregate_id] = h.position
            elif held[h.aggregate_id] < h.position:  # checkpoints may arrive in any order
                (new if h.aggregate_id in new else advanced)[h.aggregate_id] = row
                held[h.aggregate_id] = h.position
        if new:
            session.execute(t.insert(), list(new.values()))
        if advanced:
            session.execute(update(t).where(
                t.c.source == bindparam("b_source"),
                t.c.aggregate_id == bindparam("b_aggregate_id")).values(
                hash=bindparam("b_hash"), position=bindparam("b_position"),
                checkpoint_seq=bindparam("b_checkpoint_seq")),
                [{f"b_{k}": v for k, v in row.items()} for row in advanced.values()])

    def alias(self, session: Session, alias: str, case_key: str) -> None:
        t = self.case_aliases
        if session.execute(select(t.c.alias).where(t.c.alias == alias)).first() is None:
            session.execute(t.insert().values(alias=alias, case_key=case_key))

    def set_chain_status(self, session: Session, source: str, position: int,
                         status: str) -> None:
        t = self.envelopes
        session.execute(update(t).where(t.c.source == source, t.c.position == position)
                        .values(chain_status=status))

    def case_key(self, session: Session, case_id: str) -> str:
        t = self.case_aliases
        row = session.execute(select(t.c.case_key).where(t.c.alias == case_id)).first()
        return str(row[0]) if row else case_id

    def case_ids(self, session: Session, case_id: str) -> set[str]:
        key = self.case_key(session, case_id)
        t = self.case_aliases
        aliases = session.execute(select(t.c.alias).where(t.c.case_key == key)).scalars()
        return {key, case_id, *aliases}

    def count(self, session: Session, table: Table) -> int:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())
