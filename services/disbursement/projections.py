"""Disbursement's read models, applied in the writer's transaction.

- `disbursement_ledger`: every entitlement and 临时救助 payment with its decisions (steps),
  the query drafting reads (an index on township and kind, and the paid span so that long-
  ended entitlements are skipped);
- rosters, their rows (what export, reconciliation and statistics read), exports and
  discrepancies; statistics and the sealed documents by hash (what verification looks up);
  spot-check results per case (what holds rows back); fund plans.
Amounts are stored in fen (分) as integers: exact sums in SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.disbursement.domain import (
    ONE_OFF_ENTRIES,
    Change,
    FundPlan,
    LedgerEntry,
    MonthlyRoster,
    MonthlyStatistics,
    SpotCheck,
    Step,
    paid_span,
    to_fen,
)
from shared.eventstore import POSITION, AwareDateTime, EncryptedText, Projection

FEN = BigInteger().with_variant(Integer(), "sqlite")  # a province-month overflows int32 fen


class DisbursementProjection(Projection):
    def __init__(self) -> None:
        super().__init__()
        m = self.metadata
        self.ledger = Table(
            "disbursement_ledger", m,
            Column("key", String(36), primary_key=True),
            Column("aggregate_id", String(36), nullable=False, unique=True),
            Column("entry_type", String(24), nullable=False),
            Column("kind", String(16), nullable=False),
            Column("township", String(12), nullable=False),
            Column("village", String(12), nullable=False),
            Column("urban", Boolean, nullable=False),
            Column("case_id", String(36), nullable=False, index=True),
            Column("household_id", String(64)),
            Column("applicant_name", EncryptedText(self.at_rest), nullable=False),
            Column("policy_version", Integer),
            # JSON: name, bank, sealed account, fingerprint, mask
            Column("payee", EncryptedText(self.at_rest)),
            Column("steps", Text, nullable=False),  # JSON list of Step
            Column("first_month", String(7)),
            Column("last_month", String(7)),  # null: still paying
            Column("position", POSITION, nullable=False),
            Index("disbursement_ledger_draft", "township", "kind", "first_month"),
        )
        # 追回: what is owed back, per recovery entry, and what became of it.
        self.recoveries = Table(
            "disbursement_recoveries", m,
            Column("key", String(36), primary_key=True),
            Column("township", String(12), nullable=False, index=True),
            Column("kind", String(16), nullable=False),
            Column("case_id", String(36), nullable=False),
            Column("household_id", String(64)),
            Column("month", String(7), nullable=False),  # the roster it is listed on
            Column("original_month", String(7), nullable=False),
            Column("original_key", String(36), nullable=False),
            Column("cause", String(16)),
            Column("amount_fen", FEN, nullable=False),
            Column("recovered_fen", FEN, nullable=False),
            Column("written_off_fen", FEN, nullable=False),
            Column("fine_fen", FEN),
            Column("fine_reason", Text),
            Column("status", String(16), nullable=False),  # owed|recovered|written_off
            Column("adjusted_late", Boolean, nullable=False),
            Column("reason", Text),
            Column("decided_by", String(64)),
            Column("position", POSITION, nullable=False),
        )
        # Each sum recovered (追回), once: the first statistics sealed after it counts it.
        self.recovered = Table(
            "disbursement_recovered", m,
            Column("position", POSITION, primary_key=True),
            Column("key", String(36), nullable=False),  # the recovery entry
            Column("township", String(12), nullable=False),
            Column("kind", String(16), nullable=False),
            Column("urban", Boolean, nullable=False),
            Column("amount_fen", FEN, nullable=False),
            Column("recovered_on", Date, nullable=False),
            Column("statistics_id", String(36)),  # null: not in any statistics yet
            Index("disbursement_recovered_uncounted", "township", "statistics_id"),
        )
        self.rosters = Table(
            "disbursement_rosters", m,
            Column("roster_id", String(36), primary_key=True),
            Column("township", String(12), nullable=False),
            Column("month", String(7), nullable=False),
            Column("kind", String(16), nullable=False),
            Column("status", String(16), nullable=False),
            Column("rows", Integer, nullable=False),
            Column("total_fen", FEN, nullable=False),
            Column("new", Integer, nullable=False),
            Column("changed", Integer, nullable=False),
            Column("ended", Integer, nullable=False),
            Column("corrections", Integer, nullable=False, default=0),
            Column("exports", Integer, nullable=False, default=0),
            Column("open_discrepancies", Integer, nullable=False, default=0),
            Column("digest", String(64)),
            Column("drafted_at", AwareDateTime(), nullable=False),
            Column("locked_by", String(64)),
            Column("reconciled_at", AwareDateTime()),
            Column("position", POSITION, nullable=False),
            Index("disbursement_rosters_month", "township", "month"),
        )
        self.rows = Table(
            "disbursement_roster_rows", m,
            Column("roster_id", String(36), primary_key=True),
            Column("key", String(36), primary_key=True),
            Column("case_id", String(36), nullable=False, index=True),
            Column("household", String(64), nullable=False),
            Column("village", String(12), nullable=False),
            Column("urban", Boolean, nullable=False),
            Column("name", EncryptedText(self.at_rest), nullable=False),
            Column("household_size", Integer, nullable=False),
            Column("amount_fen", FEN, nullable=False),
            Column("policy_version", Integer),
            Column("source", String(36), nullable=False),
            Column("account_fp", String(64)),
            Column("account_mask", String(40), nullable=False),
        )
        self.exports = Table(
            "disbursement_exports", m,
            Column("export_id", String(36), primary_key=True),
            Column("roster_id", String(36), nullable=False, index=True),
            Column("format", String(8), nullable=False),
            Column("sha256", String(64), nullable=False),
            Column("rows", Integer, nullable=False),
            Column("total_fen", FEN, nullable=False),
            Column("roster_version", Integer, nullable=False),
            Column("exported_by", String(64), nullable=False),
            Column("exported_at", AwareDateTime(), nullable=False),
        )
        self.discrepancies = Table(
            "disbursement_discrepancies", m,
            Column("roster_id", String(36), primary_key=True),
            Column("id", String(16), primary_key=True),
            Column("kind", String(16), nullable=False),
            Column("detail", Text, nullable=False),  # JSON, accounts masked
            Column("resolution", String(24)),
            Column("reason", Text),
            Column("resolved_by", String(64)),
        )
        self.statistics = Table(
            "disbursement_statistics", m,
            Column("statistics_id", String(36), primary_key=True),
            Column("township", String(12), nullable=False),
            Column("month", String(7), nullable=False, index=True),
            Column("status", String(16), nullable=False),
            Column("figures", Text, nullable=False),
            Column("rows", Text, nullable=False),  # JSON {kind: rows}
            Column("documents", Text, nullable=False),  # JSON [SealedDocument without bytes]
            Column("sealed_by", String(64), nullable=False),
            Column("sealed_at", AwareDateTime(), nullable=False),
            Column("filed_on", Date),
            Column("late", Boolean, nullable=False, default=False),
            Column("position", POSITION, nullable=False),
        )
        self.documents = Table(
            "disbursement_sealed_documents", m,
            Column("sha256", String(64), primary_key=True),
            Column("owner_id", String(36), nullable=False),  # the sealing aggregate
            Column("owner_type", String(16), nullable=False),  # statistics | fund_plan
            Column("sealed_by", String(12), nullable=False),  # township or county code
            Column("subject", String(7), nullable=False),  # the month
            Column("document_kind", String(24), nullable=False),
            Column("document", Text, nullable=False),  # JSON SealedDocument
            Column("sealed_at", AwareDateTime(), nullable=False),
        )
        self.spot_results = Table(
            "disbursement_spot_results", m,
            Column("case_id", String(36), primary_key=True),  # the latest result per case
            Column("township", String(12), nullable=False, index=True),
            Column("spot_check_id", String(36), nullable=False),
            Column("month", String(7), nullable=False),
            Column("upheld", Boolean, nullable=False),
            Column("resolved", Boolean, nullable=False),
            Column("finding", Text),
        )
        self.fund_plans = Table(
            "disbursement_fund_plans", m,
            Column("plan_id", String(36), primary_key=True),
            Column("month", String(7), nullable=False),
            Column("status", String(16), nullable=False),
            Column("total_fen", FEN, nullable=False),
            Column("document_sha256", String(64)),
            Column("acknowledged_by", String(64)),
            Column("position", POSITION, nullable=False),
        )

    def apply(self, session: Session, event: Any, position: int) -> None:
        for cls, handler in self._handlers:
            if isinstance(event, cls):
                handler(self, session, event, position)
                return

    # --- ledger ------------------------------------------------------------------------

    def _recorded(self, s: Session, e: Any, position: int) -> None:
        steps = [e.step]
        first, last = paid_span([Step.from_wire(x) for x in steps])
        if e.entry_type in ONE_OFF_ENTRIES:
            last = first  # one payment (or one recovery), one month
        if e.entry_type == "recovery":
            d, step = e.details, Step.from_wire(e.step)
            s.execute(self.recoveries.insert().values(
                key=str(e.key), township=e.township, kind=e.kind, case_id=str(e.case_id),
                household_id=e.household_id, month=step.month,
                original_month=d["original_month"], original_key=d["original_key"],
                cause=d.get("cause"), amount_fen=to_fen(step.amount), recovered_fen=0,
                written_off_fen=0, fine_fen=to_fen_str(d["fine_amount"])
                if d.get("fine_amount") else None, fine_reason=d.get("fine_reason"),
                status="owed", adjusted_late=bool(d.get("adjusted_late")),
                position=position))
        # Parameters apart from the statement: compiled once, not once per entitlement.
        s.execute(self.ledger.insert(), dict(
            key=str(e.key), aggregate_id=str(e.originator_id), entry_type=e.entry_type,
            kind=e.kind, township=e.township, village=e.village, urban=e.urban,
            case_id=str(e.case_id), household_id=e.household_id,
            applicant_name=e.applicant_name, policy_version=e.policy_version,
            payee=json.dumps(e.payee, ensure_ascii=False) if e.payee else None,
            steps=json.dumps(steps, ensure_ascii=False), first_month=first, last_month=last,
            position=position))

    def _recovery(self, s: Session, e: Any, position: int) -> None:
        t, key = self.recoveries, str(e.originator_id)
        entry = s.execute(select(self.ledger.c.key, self.ledger.c.township, self.ledger.c.kind,
                                 self.ledger.c.urban).where(
            self.ledger.c.aggregate_id == key)).one()
        row = entry.key
        if isinstance(e, LedgerEntry.Recovered):
            s.execute(self.recovered.insert().values(
                position=position, key=row, township=entry.township, kind=entry.kind,
                urban=entry.urban, amount_fen=to_fen(e.amount), recovered_on=e.recovered_on))
        col = t.c.recovered_fen if isinstance(e, LedgerEntry.Recovered) else t.c.written_off_fen
        s.execute(update(t).where(t.c.key == row).values(
            {col: col + to_fen(e.amount), "position": position,
             "reason": e.reason, "decided_by": e.actor.get("user_id")}))
        s.execute(update(t).where(t.c.key == row, t.c.amount_fen <= t.c.recovered_fen
                                  + t.c.written_off_fen).values(
            status="recovered" if isinstance(e, LedgerEntry.Recovered) else "written_off"))

    def _changed(self, s: Session, e: Any, position: int) -> None:
        t = self.ledger
        row = s.execute(select(t.c.key, t.c.steps).where(
            t.c.aggregate_id == str(e.originator_id))).one()
        steps = [*json.loads(row.steps), e.step]
        first, last = paid_span([Step.from_wire(x) for x in steps])
        s.execute(update(t).where(t.c.key == row.key).values(
            steps=json.dumps(steps, ensure_ascii=False), first_month=first, last_month=last,
            position=position))

    def _payee_changed(self, s: Session, e: Any, position: int) -> None:
        t = self.ledger
        s.execute(update(t).where(t.c.aggregate_id == str(e.originator_id)).values(
            payee=json.dumps(e.payee, ensure_ascii=False), position=position))

    # --- rosters ---------------------------------------------------------------------------

    def _drafted(self, s: Session, e: Any, position: int) -> None:
        rid = str(e.originator_id)
        counts = {c.value: 0 for c in Change}
        for c in e.changes:
            counts[c["change"]] += 1
        # Straight from the event's wire rows (RosterRow.to_wire's column order) to the
        # driver's parameters; the name encrypted here, as _insert_many skips the column
        # type's processing.
        seal = self.at_rest.encrypt
        rows = [(rid, w[0], w[1], w[2] or w[1], w[3], bool(w[4]), seal(w[5]), int(w[6]),
                 to_fen(Decimal(w[7])), w[8], w[9], w[10], w[11]) for w in e.rows]
        values = dict(status="drafted", rows=len(rows),
                      total_fen=sum(r[8] for r in rows), new=counts["new"],
                      changed=counts["changed"], ended=counts["ended"], drafted_at=e.timestamp,
                      position=position)
        if isinstance(e, MonthlyRoster.Drafted):
            s.execute(self.rosters.insert().values(
                roster_id=rid, township=e.township, month=e.month, kind=e.kind, corrections=0,
                exports=0, open_discrepancies=0, **values))
        else:
            s.execute(update(self.rosters).where(self.rosters.c.roster_id == rid)
                      .values(**values))
            s.execute(delete(self.rows).where(self.rows.c.roster_id == rid))
        if rows:
            _insert_many(s, self.rows, ROW_COLUMNS, rows)

    def _locked(self, s: Session, e: Any, position: int) -> None:
        s.execute(update(self.rosters).where(self.rosters.c.roster_id == str(e.originator_id))
                  .values(status="locked", digest=e.digest, locked_by=e.actor.get("user_id"),
                          position=position))

    def _corrected(self, s: Session, e: Any, position: int) -> None:
        rid, r = str(e.originator_id), self.rosters
        where = (self.rows.c.roster_id == rid) & (self.rows.c.key == e.key)
        if e.amount > 0:
            s.execute(update(self.rows).where(where).values(amount_fen=to_fen(e.amount)))
        else:
            s.execute(delete(self.rows).where(where))
        s.execute(update(r).where(r.c.roster_id == rid).values(
            total_fen=r.c.total_fen - to_fen(e.previous) + to_fen(e.amount),
            rows=r.c.rows - (1 if e.amount == 0 else 0), corrections=r.c.corrections + 1,
            digest=e.digest, position=position))

    def _holds_resolved(self, s: Session, e: Any, position: int) -> None:
        if e.resolution != "excluded":  # a release changes no row
            return
        rid, r, rw = str(e.originator_id), self.rosters, self.rows
        where = (rw.c.roster_id == rid) & rw.c.key.in_(e.keys)
        fen = s.execute(select(func.coalesce(func.sum(rw.c.amount_fen), 0),
                               func.count()).where(where)).one()
        s.execute(delete(rw).where(where))
        s.execute(update(r).where(r.c.roster_id == rid).values(
            total_fen=r.c.total_fen - fen[0], rows=r.c.rows - fen[1], position=position))

    def _exported(self, s: Session, e: Any, position: int) -> None:
        rid, r = str(e.originator_id), self.rosters
        s.execute(self.exports.insert().values(
            export_id=e.export_id, roster_id=rid, format=e.file_format, sha256=e.sha256,
            rows=e.rows_count, total_fen=to_fen(e.total), roster_version=e.roster_version,
            exported_by=e.actor.get("user_id"), exported_at=e.timestamp))
        s.execute(update(r).where(r.c.roster_id == rid).values(exports=r.c.exports + 1,
                                                                position=position))

    def _bank_return(self, s: Session, e: Any, position: int) -> None:
        rid = str(e.originator_id)
        s.execute(delete(self.discrepancies).where(self.discrepancies.c.roster_id == rid))
        if e.discrepancies:
            s.execute(self.discrepancies.insert(), [{
                "roster_id": rid, "id": d["id"], "kind": d["kind"],
                "detail": json.dumps(d, ensure_ascii=False)} for d in e.discrepancies])
        s.execute(update(self.rosters).where(self.rosters.c.roster_id == rid).values(
            open_discrepancies=len(e.discrepancies), position=position))

    def _resolved(self, s: Session, e: Any, position: int) -> None:
        rid, r, d = str(e.originator_id), self.rosters, self.discrepancies
        s.execute(update(d).where(d.c.roster_id == rid, d.c.id.in_(e.discrepancy_ids)).values(
            resolution=e.resolution, reason=e.reason, resolved_by=e.actor.get("user_id")))
        s.execute(update(r).where(r.c.roster_id == rid).values(
            open_discrepancies=r.c.open_discrepancies - len(e.discrepancy_ids),
            position=position))

    def _reconciled(self, s: Session, e: Any, position: int) -> None:
        s.execute(update(self.rosters).where(self.rosters.c.roster_id == str(e.originator_id))
                  .values(status="reconciled", reconciled_at=e.timestamp, position=position))

    # --- statistics, seals, spot checks, plans ---------------------------------------------

    def _sealed(self, s: Session, e: Any, position: int) -> None:
        sid = str(e.originator_id)
        s.execute(self.statistics.insert().values(
            statistics_id=sid, township=e.township, month=e.month, status="sealed",
            figures=json.dumps(e.figures, ensure_ascii=False),
            rows=json.dumps({r["kind"]: r["rows"] for r in e.rosters}),
            documents=json.dumps(e.documents, ensure_ascii=False),
            sealed_by=e.actor.get("user_id"), sealed_at=e.timestamp, late=False,
            position=position))
        for d in e.documents:
            self._document(s, d, sid, "statistics", e.township, e.month, e.timestamp)
        r = self.recovered
        s.execute(update(r).where(r.c.township == e.township, r.c.statistics_id.is_(None),
                                  r.c.position <= e.figures.get("recovered_through", 0))
                  .values(statistics_id=sid))

    def _document(self, s: Session, d: dict[str, Any], owner_id: str, owner_type: str,
                  sealed_by: str, subject: str, at: Any) -> None:
        s.execute(self.documents.insert().values(
            sha256=d["sha256"], owner_id=owner_id, owner_type=owner_type, sealed_by=sealed_by,
            subject=subject, document_kind=d["document_kind"],
            document=json.dumps(d, ensure_ascii=False), sealed_at=at))

    def _filed(self, s: Session, e: Any, position: int) -> None:
        t = self.statistics
        s.execute(update(t).where(t.c.statistics_id == str(e.originator_id)).values(
            status="filed", filed_on=e.filed_on, late=e.late, position=position))

    def _spot_check(self, s: Session, e: Any, position: int) -> None:
        t = self.spot_results
        for r in e.results:
            s.execute(delete(t).where(t.c.case_id == str(r["case_id"])))
            s.execute(t.insert().values(
                case_id=str(r["case_id"]), township=e.township, spot_check_id=str(
                    e.originator_id), month=e.month, upheld=r["upheld"],
                resolved=r.get("resolved", True), finding=r.get("finding")))

    def _plan(self, s: Session, e: Any, position: int) -> None:
        t, pid = self.fund_plans, str(e.originator_id)
        if isinstance(e, FundPlan.Compiled):
            s.execute(t.insert().values(plan_id=pid, month=e.month, status="compiled",
                                        total_fen=to_fen_str(e.plan["total"]),
                                        position=position))
        elif isinstance(e, FundPlan.Recompiled):
            s.execute(update(t).where(t.c.plan_id == pid).values(
                total_fen=to_fen_str(e.plan["total"]), position=position))
        elif isinstance(e, FundPlan.Issued):
            s.execute(update(t).where(t.c.plan_id == pid).values(
                status="issued", document_sha256=e.document["sha256"], position=position))
            self._document(s, e.document, pid, "fund_plan", e.region, e.month, e.timestamp)
        elif isinstance(e, FundPlan.Acknowledged):
            s.execute(update(t).where(t.c.plan_id == pid).values(
                status="acknowledged", acknowledged_by=e.actor.get("user_id"),
                position=position))

    _handlers: list[tuple[type, Any]] = []


# The columns of a roster row as `_drafted` builds them.
ROW_COLUMNS = ("roster_id", "key", "case_id", "household", "village", "urban", "name",
               "household_size", "amount_fen", "policy_version", "source", "account_fp",
               "account_mask")


def _insert_many(s: Session, table: Table, columns: tuple[str, ...],
                 rows: list[tuple[Any, ...]]) -> None:
    """One executemany handed straight to the driver: for a roster of 100,000 rows
    SQLAlchemy's per-row parameter processing costs more than the inserts (the values are
    plain str, int and bool, which need no type processing on SQLite or PostgreSQL)."""
    conn = s.connection()
    compiled = table.insert().compile(dialect=conn.dialect, column_keys=list(columns))
    if not compiled.positional:  # named parameters (psycopg)
        conn.exec_driver_sql(str(compiled), [dict(zip(columns, r, strict=True))  # type: ignore[arg-type]
                                             for r in rows])
        return
    order = tuple(compiled.positiontup or ())
    if order != columns:
        index = [columns.index(k) for k in order]
        rows = [tuple(r[i] for i in index) for r in rows]
    conn.exec_driver_sql(str(compiled), rows)


def to_fen_str(amount: str) -> int:
    return to_fen(Decimal(amount))


DisbursementProjection._handlers = [
    (LedgerEntry.Recorded, DisbursementProjection._recorded),
    (LedgerEntry.Changed, DisbursementProjection._changed),
    (LedgerEntry.PayeeChanged, DisbursementProjection._payee_changed),
    (LedgerEntry.Recovered, DisbursementProjection._recovery),
    (LedgerEntry.WrittenOff, DisbursementProjection._recovery),
    (MonthlyRoster.Drafted, DisbursementProjection._drafted),
    (MonthlyRoster.Redrafted, DisbursementProjection._drafted),
    (MonthlyRoster.Locked, DisbursementProjection._locked),
    (MonthlyRoster.Corrected, DisbursementProjection._corrected),
    (MonthlyRoster.HoldsResolved, DisbursementProjection._holds_resolved),
    (MonthlyRoster.Exported, DisbursementProjection._exported),
    (MonthlyRoster.BankReturnImported, DisbursementProjection._bank_return),
    (MonthlyRoster.DiscrepanciesResolved, DisbursementProjection._resolved),
    (MonthlyRoster.Reconciled, DisbursementProjection._reconciled),
    (MonthlyStatistics.Sealed, DisbursementProjection._sealed),
    (MonthlyStatistics.Filed, DisbursementProjection._filed),
    (SpotCheck.Recorded, DisbursementProjection._spot_check),
    (SpotCheck.Updated, DisbursementProjection._spot_check),
    (FundPlan.Compiled, DisbursementProjection._plan),
    (FundPlan.Recompiled, DisbursementProjection._plan),
    (FundPlan.Issued, DisbursementProjection._plan),
    (FundPlan.Acknowledged, DisbursementProjection._plan),
]
