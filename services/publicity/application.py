"""Publicity's one writer. Its aggregates arrive with their own issue; until then the service
runs with its own store and stream so the stack, its readiness and its wiring are real."""

from __future__ import annotations

from shared.eventstore import ServiceApplication


class PublicityApplication(ServiceApplication):
    name = "publicity"
