"""Composition root of review: `python -m services.review`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.review import api
from services.review.application import ReviewApplication
from services.review.contracts import to_integration
from services.review.reactions import reactions
from shared.calendar import WorkingCalendar
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings


class ReviewSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEW_")
    service: str = "review"
    http_port: int = 8702


def build(settings: ReviewSettings | None = None) -> ServiceRuntime:
    settings = settings or ReviewSettings()
    # Operators extend next year's holidays by dropping a file in var/holidays.
    calendar = WorkingCalendar.load([settings.var_dir / "holidays"])
    app = ReviewApplication(settings, calendar)
    return ServiceRuntime(settings, app, to_integration, [api.router(app)], reactions(app))
