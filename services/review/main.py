"""Composition root of review: `python -m services.review`."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.review import api
from services.review.application import ReviewApplication
from services.review.contracts import ReviewContracts
from services.review.reactions import reactions
from shared.pii import Keyring
from shared.regions import load_county
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

DEMO_POLICY_DIR = Path(__file__).parent / "data"


class ReviewSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEW_")
    service: str = "review"
    http_port: int = 8702
    # The demo policy table (ILLUSTRATIVE figures) is loaded only while the county has none.
    seed_demo_policy: bool = True
    policy_seed_file: Path | None = Field(
        None, description="default: services/review/data/policy_<region>_demo.json")
    due_soon_working_days: int = Field(3, ge=0, le=30,
                                       description="the deadlines query's 'due soon' window")


def build(settings: ReviewSettings | None = None) -> ServiceRuntime:
    settings = settings or ReviewSettings()
    keyring = Keyring.load_or_create(settings.resolved_keyring_file)
    # Operators extend next year's holidays by dropping a file in var/holidays.
    app = ReviewApplication(settings, settings.calendar, load_county(settings.region),
                            due_soon_working_days=settings.due_soon_working_days,
                            keyring=keyring)
    if settings.seed_demo_policy:
        seed = settings.policy_seed_file or DEMO_POLICY_DIR / f"policy_{settings.region}_demo.json"
        if seed.exists():
            app.seed_policy(json.loads(seed.read_text(encoding="utf-8"))["versions"])
    return ServiceRuntime(settings, app, ReviewContracts(app, keyring), api.routers,
                          reactions(app))
