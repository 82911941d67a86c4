"""Archive's domain events → published integration events (never a document's bytes)."""

from __future__ import annotations

from typing import Any

from services.archive.domain import ChainAlarm, HouseholdFile
from services.archive.supervision import MonthlyFiling, SupervisionAlert, totals_of
from shared.contracts.archive import (
    ChainAlarm as ChainAlarmContract,
)
from shared.contracts.archive import (
    ChainAlarmResolved,
    CustodyChanged,
    DocumentFiled,
    DocumentViewed,
    FileCompleted,
    MonthlyFilingCompiled,
    MonthlyFilingQueried,
    MonthlyFilingQueryAnswered,
    MonthlyFilingReceived,
    MonthlyFilingSubmitted,
    SupervisionAlertAcknowledged,
    SupervisionAlertRaised,
)
from shared.contracts.disbursement import Seal
from shared.eventstore import ServiceApplication
from shared.outbox import Outgoing


class ArchiveContracts:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app

    def __call__(self, event: Any, position: int) -> Outgoing | None:
        if isinstance(event, MonthlyFiling.Event):
            return self._filing(event)
        if isinstance(event, SupervisionAlert.Raised):
            return Outgoing(SupervisionAlertRaised(
                alert_id=event.originator_id, alert_kind=event.kind, township=event.township,
                month=event.month, case_id=event.case_id, detail=event.detail,
            ), case_id=event.case_id, township=event.township)
        if isinstance(event, SupervisionAlert.Acknowledged):
            alert: SupervisionAlert = self.app.get(event.originator_id,
                                                   version=event.originator_version)
            return Outgoing(SupervisionAlertAcknowledged(
                alert_id=event.originator_id, alert_kind=alert.kind, township=alert.township,
                reason=event.reason), case_id=alert.case_id, township=alert.township)
        if isinstance(event, HouseholdFile.Opened):
            return None  # the file's first document says all there is to say
        if isinstance(event, HouseholdFile.Event):
            # The file as it stood at that version: household and township of the event.
            file: HouseholdFile = self.app.get(event.originator_id,
                                               version=event.originator_version)
            return self._file_event(event, file.household_id, file.township)
        if isinstance(event, ChainAlarm.Raised):
            return Outgoing(ChainAlarmContract(
                alarm_id=event.originator_id, upstream=event.upstream,
                upstream_aggregate_id=event.upstream_aggregate_id,
                upstream_aggregate_version=event.upstream_aggregate_version,
                upstream_position=event.upstream_position,
                upstream_event_id=event.upstream_event_id, upstream_type=event.upstream_type,
                reason=event.reason, expected_prev_hash=event.expected_prev_hash,
                found_prev_hash=event.found_prev_hash, township=event.township,
            ), case_id=event.case_id, township=event.township)
        if isinstance(event, ChainAlarm.Resolved):
            alarm: ChainAlarm = self.app.get(event.originator_id,
                                             version=event.originator_version)
            return Outgoing(ChainAlarmResolved(
                alarm_id=event.originator_id, upstream=alarm.upstream,
                upstream_position=alarm.upstream_position, resolution=event.resolution,
                reason=event.reason, township=alarm.township,
            ), township=alarm.township)
        return None

    def _filing(self, event: Any) -> Outgoing:
        # The filing as it stood at that version: township, month, due day.
        f: MonthlyFiling = self.app.get(event.originator_id, version=event.originator_version)
        common = {"filing_id": event.originator_id, "township": f.township, "month": f.month}
        contract: Any
        if isinstance(event, MonthlyFiling.Compiled | MonthlyFiling.Recompiled):
            contract = MonthlyFilingCompiled(
                **common, due_on=f.due_on, compiled_version=event.originator_version,
                totals=totals_of(event.activity), envelopes=event.basis["envelopes"],
                basis_sha256=event.basis["sha256"])
        elif isinstance(event, MonthlyFiling.Submitted):
            contract = MonthlyFilingSubmitted(
                **common, due_on=f.due_on, submitted_on=event.submitted_on, late=event.late,
                reviewed_version=event.reviewed_version, totals=totals_of(f.activity),
                seal=Seal.model_validate(event.document["seal"]), note=event.note)
        elif isinstance(event, MonthlyFiling.Received):
            contract = MonthlyFilingReceived(**common, received_on=event.received_on)
        elif isinstance(event, MonthlyFiling.Queried):
            contract = MonthlyFilingQueried(**common, query_id=event.query_id,
                                            question=event.question)
        else:
            contract = MonthlyFilingQueryAnswered(**common, query_id=event.query_id,
                                                  answer=event.answer)
        return Outgoing(contract, township=f.township)

    @staticmethod
    def _file_event(event: Any, household_id: str, township: str) -> Outgoing | None:
        common = {"household_id": household_id, "township": township}
        if isinstance(event, HouseholdFile.DocumentFiled):
            return Outgoing(DocumentFiled(
                **common, case_id=event.case_id, kind=event.assistance_kind,
                document_kind=event.document_kind, sha256=event.sha256, size=event.size,
                media_type=event.media_type,
            ), case_id=event.case_id, household_id=household_id, township=township)
        if isinstance(event, HouseholdFile.FileCompleted):
            return Outgoing(FileCompleted(
                **common, case_id=event.case_id, kind=event.assistance_kind, stage=event.stage,
            ), case_id=event.case_id, household_id=household_id, township=township)
        if isinstance(event, HouseholdFile.DocumentViewed):
            return Outgoing(DocumentViewed(
                **common, case_id=event.case_id, document_kind=event.document_kind,
                sha256=event.sha256, reason=event.reason,
            ), case_id=event.case_id, household_id=household_id, township=township)
        if isinstance(event, HouseholdFile.PaperItemsFiled):
            return Outgoing(CustodyChanged(
                **common, paper_copy=event.copy, action="items_filed", location=event.location,
                case_id=event.case_id, document_kinds=event.document_kinds,
            ), case_id=event.case_id, household_id=household_id, township=township)
        if isinstance(event, HouseholdFile.CheckedOut):
            return Outgoing(CustodyChanged(
                **common, paper_copy=event.copy, action="checked_out", borrower=event.borrower,
                reason=event.reason,
            ), household_id=household_id, township=township)
        if isinstance(event, HouseholdFile.Returned):
            return Outgoing(CustodyChanged(
                **common, paper_copy=event.copy, action="returned", location=event.location,
            ), household_id=household_id, township=township)
        return None
