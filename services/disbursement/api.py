"""Disbursement's HTTP API: the routers, one per business area (services/disbursement/
routes/); schemas in schemas.py, roles in routes/common.py, the rules in the domain."""

from __future__ import annotations

from services.disbursement.routes import (
    bank,
    fund_plans,
    holds,
    recoveries,
    rosters,
    seals,
    statistics,
)

routers = [rosters.router, holds.router, bank.router, recoveries.router, statistics.router,
           seals.router, fund_plans.router]
