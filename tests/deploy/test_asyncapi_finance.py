"""docs/asyncapi-finance.yaml is the finance contract as published: regenerated from the
contracts, it must be the committed file (a changed contract without the document fails)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deploy.asyncapi_finance import render

pytestmark = pytest.mark.fast

DOC = Path(__file__).parents[2] / "docs" / "asyncapi-finance.yaml"


def test_the_committed_document_is_the_contract() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "regenerate: python -m deploy.asyncapi_finance > docs/asyncapi-finance.yaml")


def test_the_document_names_the_subjects_payloads_and_acknowledgement() -> None:
    doc = yaml.safe_load(DOC.read_text(encoding="utf-8"))
    assert doc["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {"sa.{region}.disbursement.fund_plan_issued",
                         "sa.{region}.disbursement.fund_plan_acknowledged"}
    schemas = doc["components"]["schemas"]
    assert {"document_sha256", "seal", "total", "subsidy_projects"} <= set(
        schemas["FundPlanIssued"]["properties"])
    assert "receipt_reference" in schemas["FundPlanAcknowledged"]["required"]
    assert doc["operations"]["receiveFundPlan"]["reply"]["channel"]["$ref"] == (
        "#/channels/fundPlanAcknowledged")
