"""Archive's domain events → published integration events (never a document's bytes)."""

from __future__ import annotations

from typing import Any

from services.archive.domain import ChainAlarm, HouseholdFile
from shared.bus import Outgoing
from shared.contracts.archive import (
    ChainAlarm as ChainAlarmContract,
)
from shared.contracts.archive import (
    ChainAlarmResolved,
    CustodyChanged,
    DocumentFiled,
    DocumentViewed,
    FileCompleted,
)
from shared.eventstore import ServiceApplication


class ArchiveContracts:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app

    def __call__(self, event: Any, position: int) -> Outgoing | None:
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
