"""Disbursement's reactions: review's decisions become the ledger it drafts rosters from."""

from __future__ import annotations

from services.disbursement.application import DisbursementApplication, upstream_of
from shared.bus import Handler
from shared.contracts import Envelope, parse_data
from shared.contracts.review import (
    EntitlementChanged,
    EntitlementStarted,
    PolicyChanged,
    SpotCheckCompleted,
    TemporaryPaymentApproved,
)


def reactions(app: DisbursementApplication) -> dict[str, dict[str, Handler]]:
    def entitlement_started(env: Envelope) -> None:
        e = parse_data(env)
        assert isinstance(e, EntitlementStarted)
        app.record_entitlement_started(e, upstream_of(env))

    def entitlement_changed(env: Envelope) -> None:
        e = parse_data(env)
        assert isinstance(e, EntitlementChanged)
        app.record_entitlement_changed(e, upstream_of(env))

    def temporary_payment_approved(env: Envelope) -> None:
        e = parse_data(env)
        assert isinstance(e, TemporaryPaymentApproved)
        app.record_temporary_payment(e, upstream_of(env))

    def spot_check_completed(env: Envelope) -> None:
        e = parse_data(env)
        assert isinstance(e, SpotCheckCompleted)
        app.record_spot_check(e, upstream_of(env))

    def policy_changed(env: Envelope) -> None:
        e = parse_data(env)
        assert isinstance(e, PolicyChanged)
        app.record_policy(e, upstream_of(env))

    return {"review": {
        PolicyChanged.TYPE: policy_changed,
        EntitlementStarted.TYPE: entitlement_started,
        EntitlementChanged.TYPE: entitlement_changed,
        TemporaryPaymentApproved.TYPE: temporary_payment_approved,
        SpotCheckCompleted.TYPE: spot_check_completed,
    }}
