"""Intake's HTTP API: its routers, by business area (services/intake/routes/)."""

from __future__ import annotations

from services.intake.routes import acceptance, filing, reads

routers = [filing.router, acceptance.router, reads.router]
