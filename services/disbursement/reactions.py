"""Disbursement's reactions: review's decisions become the ledger it drafts rosters from.
Each records its upstream event (id, position, who: shared/reactions.py's rule)."""

from __future__ import annotations

from services.disbursement.application import DisbursementApplication, upstream_of
from shared.bus import Handler
from shared.contracts.review import (
    EntitlementChanged,
    EntitlementStarted,
    PayeeChanged,
    PolicyChanged,
    SpotCheckCompleted,
    TemporaryPaymentApproved,
)
from shared.reactions import reacting_to


def reactions(app: DisbursementApplication) -> dict[str, dict[str, Handler]]:
    return {"review": reacting_to("review", {
        PolicyChanged: lambda e, r: app.record_policy(e, upstream_of(r.envelope)),
        EntitlementStarted:
            lambda e, r: app.record_entitlement_started(e, upstream_of(r.envelope)),
        EntitlementChanged:
            lambda e, r: app.record_entitlement_changed(e, upstream_of(r.envelope)),
        PayeeChanged: lambda e, r: app.record_payee_changed(e, upstream_of(r.envelope)),
        TemporaryPaymentApproved:
            lambda e, r: app.record_temporary_payment(e, upstream_of(r.envelope)),
        SpotCheckCompleted: lambda e, r: app.record_spot_check(e, upstream_of(r.envelope)),
    })}
