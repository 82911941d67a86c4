"""Intake's domain events → published integration events (sensitive fields sealed)."""

from __future__ import annotations

from typing import Any

from services.intake.domain import Application
from shared.bus import Outgoing
from shared.contracts.envelope import event_id_for
from shared.contracts.intake import ApplicationAccepted, ApplicationSubmitted, MemberRef
from shared.eventstore import ServiceApplication
from shared.pii import Keyring, mask_resident_id


class IntakeContracts:
    def __init__(self, app: ServiceApplication, keyring: Keyring) -> None:
        self.app, self.keyring = app, keyring

    def __call__(self, event: Any, position: int) -> Outgoing | None:
        case_id = str(event.originator_id)
        if isinstance(event, Application.Submitted):
            return Outgoing(ApplicationSubmitted(
                application_id=event.originator_id, kind=event.kind, township=event.township,
                village=event.village, household_size=len(event.members),
                close_relative_declared=event.close_relative_declared,
            ), case_id=case_id, township=event.township)
        if isinstance(event, Application.Accepted):
            # The acceptance carries the case as filed, as it stood at that version.
            a: Application = self.app.get(event.originator_id, version=event.originator_version)
            context = str(event_id_for("intake", event.originator_id, event.originator_version))
            return Outgoing(ApplicationAccepted(
                application_id=a.id, kind=a.kind, township=a.township, village=a.village,
                accepted_on=event.accepted_on, applicant_name=a.applicant["name"],
                members=[self._member(m, context) for m in a.members],
                close_relative_declared=a.close_relative_declared,
            ), case_id=case_id, township=a.township)
        return None

    def _member(self, m: dict[str, Any], context: str) -> MemberRef:
        rid = m["resident_id"]
        return MemberRef(
            name=m["name"], relation=m["relation"], birth_date=m["birth_date"],
            resident_id=self.keyring.seal(rid, mask_resident_id(rid), "member.resident_id",
                                          nonce_context=context),
            fingerprint=self.keyring.fingerprint(rid),
        )
