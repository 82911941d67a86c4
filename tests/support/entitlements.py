"""Review's application on its own SQLite store and live 低保 entitlements saved straight
into it: the setting of the 标准调整 and death/fraud tests (no case taken through its
stages)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

from services.review.application import ReviewApplication
from services.review.domain import Entitlement, compute
from services.review.main import ReviewSettings
from services.review.values import Household, OpinionInputs
from shared.fieldcrypt import Keyring
from shared.regions import load_county
from tests.support.actors import LEADER
from tests.support.review import household, terms

ON = date(2026, 3, 1)


def app_on(tmp_path: Path, keys_dir: Path) -> ReviewApplication:
    settings = ReviewSettings(var_dir=tmp_path, keyring_file=keys_dir / "bus-keyring.json",
                              trust_list_file=keys_dir / "bus-trust.json",
                              signing_key_file=keys_dir / "bus-signing" / "review.ed25519.pem",
                              seed_demo_policy=False)
    app = ReviewApplication(settings, settings.calendar, load_county(settings.region),
                            keyring=Keyring.load_or_create(keys_dir / "bus-keyring.json"))
    app.today = lambda: date(2026, 2, 1)
    return app


def live(app: ReviewApplication, township: str, urban: bool = False,
         payee: dict[str, Any] | None = None, start_month: str = "2026-03",
         decided_on: date | None = None) -> Entitlement:
    inputs = OpinionInputs(household=Household.of(household(urban=urban)), on=ON)
    b = compute("dibao", inputs, terms())
    e = Entitlement(case_id=uuid4(), kind="dibao", household_id=None, township=township,
                    village=township + "201", urban=urban, applicant_name="黎阿婆",
                    household_size=3, monthly_amount=b.monthly_amount,
                    breakdown=b.to_stored(), policy_version=1, start_month=start_month,
                    recheck_due=date(2027, 3, 1), recheck_months=12, payee=payee,
                    inputs=inputs.to_stored(), actor=LEADER.as_actor().stored(),
                    decided_on=decided_on)
    app.save(e)
    return e
