"""Each named response model is exactly its answer: over a realistic month (the release-
events flow: holds, a correction, an export, a failed bank line carried forward, sealed
and filed statistics, a fund plan to its receipt, a recovery), every answer the API gives
round-trips through its model unchanged: no key it does not declare, none it adds."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from services.disbursement import schemas
from services.disbursement.domain import roster_id
from services.disbursement.main import DisbursementSettings, build_application
from tests.support import release_disbursement as flow

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    var = tmp_path_factory.mktemp("answers")
    flow.write(var)
    keys = var / "keys"
    application = build_application(DisbursementSettings(
        var_dir=var, keyring_file=keys / "bus-keyring.json", seal_keys_dir=keys / "seals",
        trust_list_file=keys / "bus-trust.json", encrypt_at_rest=True,
        signing_key_file=keys / "bus-signing" / "disbursement.ed25519.pem"))
    application.today = lambda: date(2026, 6, 16)
    yield application
    application.close()


def exactly(model: type[BaseModel], answer: dict[str, Any]) -> None:
    """The model's JSON is the JSON the route gave before it had one (FastAPI's encoding
    of the plain answer)."""
    wire = model.model_validate(answer).model_dump(mode="json", exclude_unset=True)
    assert wire == jsonable_encoder(answer), model.__name__


def test_the_roster_answers(app: Any) -> None:
    clerk, month, township = flow.CLERK, flow.MAY, flow.YELIN
    for kind in ("dibao", "tekun", "linshi"):
        roster = app.get(roster_id(township, month, kind))
        exactly(schemas.RosterOut, schemas.roster_json(roster))
        exactly(schemas.HoldsOut, schemas.holds_json(roster))
        exactly(schemas.RosterSummaryOut, app.roster_summary(clerk, township, month, kind))
        total, items = app.roster_rows(clerk, township, month, kind, 10, 0)
        exactly(schemas.RosterRowsOut, {"total": total, "limit": 10, "offset": 0,
                                        "items": items})
    june = app.get(roster_id(township, "2026-06", "dibao"))
    exactly(schemas.RosterOut, schemas.roster_json(june))
    exactly(schemas.MonthChangesOut, app.explain_changes(clerk, township, "2026-06"))
    exactly(schemas.MonthChangesOut, app.explain_changes(clerk, township, month))
    exactly(schemas.MonthChangesOut, app.explain_changes(clerk, township, "2026-07"))
    recoveries = app.recoveries(clerk, township)
    assert recoveries
    exactly(schemas.RecoveriesOut, {"township": township, "items": recoveries})


def test_the_statistics_seal_and_plan_answers(app: Any) -> None:
    stats = app.statistics(flow.CLERK, flow.YELIN, flow.MAY)
    exactly(schemas.StatisticsOut, schemas.statistics_json(stats))
    _, content = app.statistics_document(flow.CLERK, flow.YELIN, flow.MAY, "statistics_pdf")
    exactly(schemas.VerifyOut, app.verify_document(content))
    exactly(schemas.VerifyOut, app.verify_document(content + b"altered"))
    exactly(schemas.TrustListOut, app.seals.trust_list().to_wire())
    plan = app.fund_plan(flow.BUREAU, flow.MAY)
    exactly(schemas.FundPlanOut, schemas.plan_json(plan))
    assert plan.acknowledgement is not None and plan.document is not None
    exactly(schemas.FundPlanDocumentOut, json.loads(app.fund_plan_document(flow.BUREAU,
                                                                           flow.MAY)))
    exactly(schemas.HouseholdListOut, app.household_list(flow.FINANCE, flow.MAY)[0])
    exactly(schemas.ExportOut, app.create_export(flow.CLERK, flow.YELIN, flow.MAY, "dibao",
                                                 "xlsx")[0])
