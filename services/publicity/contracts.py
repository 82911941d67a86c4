"""Publicity's domain events → published integration events.

Nothing here needs sealing: the contracts carry ids, places, dates and the township's
finding, never the objection's text or the objector's contact (they stay in publicity),
and never a name. Roster events, investigations and supersessions are internal.
"""

from __future__ import annotations

from typing import Any

from services.publicity.domain import Notice
from shared.bus import Outgoing
from shared.contracts.publicity import (
    NoticeClosed,
    NoticeOpened,
    ObjectionFiled,
    ObjectionResolved,
)
from shared.eventstore import ServiceApplication


class PublicityContracts:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app

    def __call__(self, event: Any, position: int) -> Outgoing | None:
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
