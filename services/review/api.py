"""Review's HTTP API: its routers, one per business area (services/review/routes/)."""

from __future__ import annotations

from services.review.routes import (
    cases,
    decision,
    entitlement_status,
    entitlements,
    investigation,
    joint_review,
    payee,
    policy,
    spot_checks,
    standard_changes,
)

routers = [r.router for r in (cases, investigation, joint_review, decision, entitlements,
                              entitlement_status, payee, policy, spot_checks,
                              standard_changes)]
