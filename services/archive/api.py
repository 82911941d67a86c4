"""Archive's HTTP API, by business area: the household file, its paper custody, the audit
console and its findings, and county supervision (filings, statistics, alerts)."""

from __future__ import annotations

from services.archive.routes import (
    alerts,
    audit,
    custody,
    files,
    filing_queries,
    filings,
    findings,
    statistics,
)

routers = [files.router, custody.router, audit.router, findings.router, filings.router,
           filing_queries.router, statistics.router, alerts.router]
