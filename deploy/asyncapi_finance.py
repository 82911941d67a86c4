"""Writes docs/asyncapi-finance.yaml, the finance bureau's contract, from the published
contracts themselves (so the document cannot drift; tests/docs checks it):

    python -m deploy.asyncapi_finance > docs/asyncapi-finance.yaml
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from shared.contracts.disbursement import FundPlanAcknowledged, FundPlanIssued
from shared.contracts.envelope import Envelope

REF = "#/components/schemas/{model}"


def _schemas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in (Envelope, FundPlanIssued, FundPlanAcknowledged):
        schema = model.model_json_schema(ref_template=REF)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def document() -> dict[str, Any]:
    envelope_of = {"$ref": REF.format(model="Envelope")}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Lingshui social assistance: the finance bureau's contract (一卡通)",
            "version": "1",
            "description": (
                "Disbursement publishes the county's fund plan (资金发放计划) to the finance "
                "bureau (县财政局) on NATS JetStream, stream SA_<region>_DISBURSEMENT. Every "
                "message is an Envelope (hash-chained per aggregate, Ed25519-signed by the "
                "service, `kid`); its `data` is the payload below. The bureau: (1) verifies "
                "the envelope's hash, signature and chain link; (2) downloads the plan "
                "document (GET /api/disbursement/fund-plans/{month}/document) and checks "
                "its sha256 is `document_sha256` and the county `seal` verifies over "
                "`lingshui-seal/v1|<owner>|<month>|fund_plan_json|<sha256>`; (3) loads the "
                "分户清单 (POST /api/disbursement/fund-plans/{month}/household-list with "
                "`Accept: text/csv`; its trailer's total must equal the plan's `total`); "
                "(4) acknowledges with POST /api/disbursement/fund-plans/{month}/acknowledge "
                "(role finance_bureau, Idempotency-Key = the envelope's event_id), after "
                "which disbursement publishes fund_plan_acknowledged; only then is the NATS "
                "message acked (a redelivery acknowledges once). deploy/finance_consumer.py "
                "is a reference consumer."),
        },
        "servers": {"county": {"host": "nats:4222", "protocol": "nats",
                               "description": "JetStream; a durable pull consumer "
                                              "(e.g. finance-bureau)"}},
        "channels": {
            "fundPlanIssued": {
                "address": "sa.{region}.disbursement.fund_plan_issued",
                "parameters": {"region": {"description": "the county's division code "
                                                         "(469028 for Lingshui)"}},
                "messages": {"fundPlanIssued": {"$ref": "#/components/messages/"
                                                        "fundPlanIssued"}}},
            "fundPlanAcknowledged": {
                "address": "sa.{region}.disbursement.fund_plan_acknowledged",
                "parameters": {"region": {"description": "the county's division code"}},
                "messages": {"fundPlanAcknowledged": {"$ref": "#/components/messages/"
                                                              "fundPlanAcknowledged"}}},
        },
        "operations": {
            "receiveFundPlan": {
                "action": "receive", "channel": {"$ref": "#/channels/fundPlanIssued"},
                "summary": "The bureau receives an issued, sealed plan and pays it",
                "reply": {"channel": {"$ref": "#/channels/fundPlanAcknowledged"},
                          "messages": [{"$ref": "#/channels/fundPlanAcknowledged/messages/"
                                                "fundPlanAcknowledged"}]}},
            "observeAcknowledgement": {
                "action": "receive", "channel": {"$ref": "#/channels/fundPlanAcknowledged"},
                "summary": "The acknowledgement, as recorded by disbursement (the bureau's "
                           "receipt reference and the document hash it acknowledged)"},
        },
        "components": {
            "messages": {
                "fundPlanIssued": {
                    "name": "fund_plan_issued", "contentType": "application/json",
                    "summary": "资金发放计划, sealed by the county bureau",
                    "headers": {"type": "object", "properties": {
                        "traceparent": {"type": "string"}, "Nats-Msg-Id": {"type": "string"}}},
                    "payload": {"allOf": [envelope_of, {"type": "object", "properties": {
                        "type": {"const": "fund_plan_issued"},
                        "data": {"$ref": REF.format(model="FundPlanIssued")}}}]}},
                "fundPlanAcknowledged": {
                    "name": "fund_plan_acknowledged", "contentType": "application/json",
                    "summary": "The finance bureau's receipt of one plan document",
                    "payload": {"allOf": [envelope_of, {"type": "object", "properties": {
                        "type": {"const": "fund_plan_acknowledged"},
                        "data": {"$ref": REF.format(model="FundPlanAcknowledged")}}}]}},
            },
            "schemas": _schemas(),
        },
    }


def render() -> str:
    return ("# Generated by `python -m deploy.asyncapi_finance`: do not edit by hand.\n"
            + yaml.safe_dump(document(), allow_unicode=True, sort_keys=False, width=100))


if __name__ == "__main__":
    sys.stdout.write(render())
