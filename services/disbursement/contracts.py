"""Disbursement's domain events → published integration events.

Nothing sensitive travels: exports are reported by hash, discrepancies by count, and the
seal events carry hashes and signatures, never the documents' bytes.
"""

from __future__ import annotations

from typing import Any

from services.disbursement.domain import FundPlan, MonthlyRoster, MonthlyStatistics
from shared.contracts.disbursement import (
    FundPlanAcknowledged,
    FundPlanIssued,
    RosterCorrected,
    RosterExported,
    RosterLocked,
    RosterReconciled,
    Seal,
    StatisticsFiled,
    StatisticsSealed,
)
from shared.outbox import Outgoing


def _seals(owner: str, documents: list[dict[str, Any]]) -> list[Seal]:
    return [Seal(owner=owner, document_kind=d["document_kind"], sha256=d["sha256"],
                 signature=d["signature"], key_id=d["key_id"], public_key=d["public_key"],
                 algorithm=d.get("algorithm", "ed25519"))
            for d in documents]


def to_integration(event: Any, position: int) -> Outgoing | None:
    aggregate = event.originator_id
    if isinstance(event, MonthlyRoster.Locked):
        return Outgoing(RosterLocked(
            roster_id=aggregate, township=event.township, month=event.month, kind=event.kind,
            rows=event.rows_count, total=event.total, digest=event.digest,
            locked_on=getattr(event, "locked_on", None),
        ), township=event.township)
    if isinstance(event, MonthlyRoster.Corrected):
        return Outgoing(RosterCorrected(
            roster_id=aggregate, township=event.township, month=event.month, kind=event.kind,
            key=event.key, case_id=event.case_id, previous=event.previous, amount=event.amount,
            reason=event.reason, digest=event.digest,
        ), case_id=str(event.case_id), township=event.township)
    if isinstance(event, MonthlyRoster.Exported):
        return Outgoing(RosterExported(
            roster_id=aggregate, export_id=event.export_id, township=event.township,
            month=event.month, kind=event.kind, format=event.file_format, sha256=event.sha256,
            rows=event.rows_count, total=event.total,
        ), township=event.township)
    if isinstance(event, MonthlyRoster.Reconciled):
        return Outgoing(RosterReconciled(
            roster_id=aggregate, township=event.township, month=event.month, kind=event.kind,
            rows=event.rows_count, total=event.total, paid_total=event.paid_total,
            bank_file_sha256=event.bank_file_sha256, discrepancies=event.discrepancies,
            late=event.late, reconciled_on=getattr(event, "reconciled_on", None),
        ), township=event.township)
    if isinstance(event, MonthlyStatistics.Sealed):
        return Outgoing(StatisticsSealed(
            statistics_id=aggregate, township=event.township, month=event.month,
            lines=event.figures["lines"], total=event.figures["total"],
            seals=_seals(event.township, event.documents),
        ), township=event.township)
    if isinstance(event, MonthlyStatistics.Filed):
        return Outgoing(StatisticsFiled(
            statistics_id=aggregate, township=event.township, month=event.month,
            filed_on=event.filed_on, due_on=event.due_on, late=event.late,
        ), township=event.township)
    if isinstance(event, FundPlan.Issued):
        plan = event.plan
        return Outgoing(FundPlanIssued(
            plan_id=aggregate, region=event.region, month=event.month,
            issued_on=event.issued_on, issued_at=event.timestamp,
            townships=[{**{k: v for k, v in t.items() if k != "statistics_documents"},
                        "seals": _seals(t["township"], t["statistics_documents"])}
                       for t in plan["townships"]],
            missing_townships=plan["missing_townships"], held_back=plan["held_back"],
            totals=plan["totals"], total=plan["total"], rows=plan["rows"],
            document_sha256=event.document["sha256"],
            seal=_seals(event.region, [event.document])[0], reason=event.reason,
            subsidy_projects=plan.get("subsidy_projects"),
        ))
    if isinstance(event, FundPlan.Acknowledged):
        return Outgoing(FundPlanAcknowledged(
            plan_id=aggregate, region=event.region, month=event.month,
            document_sha256=event.document_sha256, receipt_reference=event.receipt_reference,
            note=event.note,
        ))
    return None
