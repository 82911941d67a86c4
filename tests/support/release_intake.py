"""Writes intake's release events: a SQLite event store (encryption at rest on, its key and
the keyring alongside) holding every aggregate kind through a realistic flow, made with the
code of the release before issue 24's typed values. tests/intake/test_release_events.py
loads them with the current code. Rerun only to make a new baseline:

    .venv/bin/python -m tests.support.release_intake
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from services.intake.application import IntakeApplication
from services.intake.main import SHIPPED_POLICY, IntakeSettings, load_policies
from services.intake.schemas import ChangeIn, FilingContent, plain
from services.intake.values import Household, HouseholdChange
from shared.auth import Principal, Role
from shared.contracts import Actor
from shared.contracts.common import AssistanceKind
from shared.pii import Keyring, make_resident_id
from shared.regions import load_county

OUT = Path(__file__).parents[1] / "data" / "release_events" / "intake"
YELIN, TAOYUAN = "469028100", "469028100201"  # 椰林镇 桃源村
DAY = date(2026, 3, 9)
SYSTEM = Actor(user_id="system:review", role="system")


def settings(out: Path) -> IntakeSettings:
    return IntakeSettings(var_dir=out, encrypt_at_rest=True,
                          cipher_key_file=out / "at-rest.key",
                          keyring_file=out / "bus-keyring.json")


def open_app(out: Path, today: date = DAY) -> IntakeApplication:
    s = settings(out)
    return IntakeApplication(s, load_county(s.region), load_policies(SHIPPED_POLICY),
                             Keyring.load_or_create(s.resolved_keyring_file),
                             today=lambda: today)


def person(name: str, born: date, n: int, sex: str, relation: str,
           **more: Any) -> dict[str, Any]:
    return {"name": name, "resident_id": make_resident_id("469028", born, n, sex),
            "relation": relation, "birth_date": born, "work_capacity": "none",
            "disability": None, "serious_illness": False, "student": False, "phone": None,
            "authorization_signed": True, "incomes": [], **more}


def filing(name: str, n: int, **more: Any) -> Household:
    """A 低保 household of 桃源村: the applicant and a grandchild at school, as the API
    hands it to the application."""
    return Household.of(plain(FilingContent.model_validate({
        "members": [
            person(name, date(1956, 3, 14), n, "female", "self", phone="13876001234",
                   incomes=[{"kind": "pension", "amount": "1860.00", "months": 12}]),
            person("黎小明", date(2012, 9, 1), n + 1, "male", "grandchild", student=True,
                   authorization_signed=False),
        ],
        "assets": [{"kind": "deposit", "value": "3200.00", "exempt": False,
                    "description": "农信社活期存款"}],
        "bank_account": {"bank": "海南农信", "holder_name": name,
                         "account": "6228480402564890018"},
        "materials": ["application_form", "commitment_letter", "authorization_form",
                      "hukou_booklet", "id_cards", "income_proof"],
        "legal_supporters": [], "close_relative_declared": False, "close_relatives": [],
        "entrustment": None, "single_person": False, "residence_basis": None,
        **more}).model_dump()))


def flow(app: IntakeApplication) -> dict[str, UUID]:
    """Every aggregate kind and event type, as the services' users would cause them."""
    clerk = Principal("clerk-yelin-1", Role.TOWNSHIP_CLERK, YELIN, name="王海燕")
    public = Principal("public-13876001234", Role.PUBLIC)
    submit = dict(kind=AssistanceKind.DIBAO, linshi_type=None, township=YELIN,
                  village=TAOYUAN, filed_by="applicant")
    ids: dict[str, UUID] = {}

    # 1. Returned for completion, resubmitted, accepted, confirmed, a change, terminated.
    incomplete = filing("黎阿婆", 12, materials=["application_form", "commitment_letter",
                                                 "authorization_form"])
    resident_id = incomplete.members[0].resident_id
    a = ids["confirmed"] = app.submit(clerk, filing=incomplete, **submit)
    app.return_for_completion(clerk, a, ["户口簿复印件不清晰"], "请补交户口簿和身份证复印件")
    app.resubmit(clerk, a, filing("黎阿婆", 12))
    app.accept(clerk, a)
    app.record_confirmation(a, UUID("5d1f0c1e-2b7a-4c3e-9a51-1f3b2c4d5e60"), DAY, SYSTEM)
    app.report_change(clerk, a, HouseholdChange.of(plain(ChangeIn.model_validate({
        "subject": "members", "description": "孙女出生落户", "occurred_on": date(2026, 3, 1),
        "members_joined": [person("黎小花", date(2026, 2, 20), 40, "female", "grandchild",
                                  authorization_signed=False)],
        "members_left": [], "incomes": [
            {"resident_id": resident_id, "kind": "pension", "amount": "1920.00",
             "months": 12}], "assets": []}).model_dump())))
    app.view(clerk, a, True, "核对户口簿原件")  # a Disclosure
    app.record_termination(UUID("5d1f0c1e-2b7a-4c3e-9a51-1f3b2c4d5e60"), "2026-06",
                           ["家庭收入超过低保标准"], SYSTEM)

    # 2. Declined; 3. withdrawn by its online filer; 4. rejected by review.
    b = ids["declined"] = app.submit(clerk, filing=filing("符秀英", 20), **submit)
    app.decline(clerk, b, "户籍不在本镇")
    c = ids["withdrawn"] = app.submit(public, filing=filing("陈亚妹", 30), **submit)
    app.withdraw(public, c, "家庭情况好转，自愿撤回")
    d = ids["rejected"] = app.submit(clerk, filing=filing("吉文光", 50), **submit)
    app.accept(clerk, d)
    app.record_rejection(d, UUID("7a2e4b9c-3d1f-4e8a-b2c6-9f0e1d2c3b4a"), DAY,
                         ["家庭人均收入高于当地低保标准"], SYSTEM)
    return ids


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    app = open_app(OUT)
    ids = flow(app)
    app.close()
    (OUT / "ids.json").write_text(json.dumps({k: str(v) for k, v in ids.items()}, indent=1)
                                  + "\n", encoding="utf-8")
    for f in OUT.glob("intake.db-*"):  # closed: the WAL is folded into the database
        f.unlink()


if __name__ == "__main__":
    main()
