"""Publicity's HTTP API: its routers, by business area (services/publicity/routes/): the
public board and channel (no login, rate-limited) and the officials' side."""

from __future__ import annotations

from services.publicity.routes import board, channel, information, inquiries, notices, reports

routers = [board.router, channel.router, information.router, notices.router, reports.router,
           inquiries.router]
