"""收款账户变更 through review's API, published over a real nats-server: the township clerk
changes a live entitlement's account; payee_changed carries it sealed (the clear number is
on no envelope), with the reason and who. A clerk of another township gets 403 and nothing
changes; a number failing its Luhn check gets 422 naming the field."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.review.application import PAYEE_PURPOSE
from shared.auth import Role, TokenIssuer
from shared.bankcards import unionpay_card
from shared.fieldcrypt import EncryptedField, Keyring
from shared.runtime import ServiceRuntime
from tests.support.entitlements import live
from tests.support.flow import stream_envelopes
from tests.support.infra import NatsServer
from tests.support.places import GUANGPO, YELIN
from tests.support.stack import eventually
from tests.support.web import bearer, client

pytestmark = pytest.mark.nats
NEW = unionpay_card("622848006201234567")
BAD = NEW[:-1] + str((int(NEW[-1]) + 1) % 10)  # one digit off: Luhn fails


async def test_the_clerk_changes_the_account_and_only_its_seal_travels(
        services: Any, issuer: TokenIssuer, keys_dir: Path, nats_server: NatsServer) -> None:
    rt: ServiceRuntime = await services("review")
    rt.app.today = lambda: date(2026, 7, 20)
    ent = live(rt.app, YELIN)
    path = f"/entitlements/{ent.id}/payee"
    body = {"holder_name": "黎阿婆", "bank": "中国农业银行陵水支行", "account_number": NEW,
            "reason": "原账户已销户（银行退回AC04）"}
    async with client(rt) as http:
        other = bearer(issuer, Role.TOWNSHIP_CLERK, GUANGPO)
        r = await http.post(path, json=body, headers=other)
        assert r.status_code == 403, r.text
        clerk = bearer(issuer, Role.TOWNSHIP_CLERK, YELIN)
        r = await http.post(path, json={**body, "account_number": BAD}, headers=clerk)
        assert r.status_code == 422 and r.headers["content-type"].startswith(
            "application/problem+json")
        assert (r.json()["code"], r.json()["field"]) == ("review.payee_card_luhn",
                                                         "account_number")
        r = await http.post(path, json={**body, "holder_name": "王监护"}, headers=clerk)
        assert (r.status_code, r.json()["field"]) == (422, "holder_name")
        assert rt.app.get(ent.id).version == ent.version  # refused: nothing changed

        r = await http.post(path, json=body, headers=clerk)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["payee"]["account"] == "*" * (len(NEW) - 4) + NEW[-4:]
        assert out["holder_is_member"] is True

    async def published() -> list[Any]:
        envs = await stream_envelopes(nats_server.url, "review")
        return [e for e in envs if e.type == "payee_changed"]
    await eventually(published, 20)
    (env,) = await published()
    assert NEW not in env.to_bytes().decode()
    assert env.actor is not None and env.actor.role == Role.TOWNSHIP_CLERK.value
    data = env.data
    assert (data["entitlement_id"], data["reason"]) == (str(ent.id), body["reason"])
    sealed = EncryptedField.model_validate(data["payee"]["account"])
    ring = Keyring.load_or_create(keys_dir / "bus-keyring.json")
    assert ring.decrypt(sealed, PAYEE_PURPOSE) == NEW
    # Stored encrypted too: the clear number is in no event review keeps.
    assert not [e for _, e in rt.app.iter_domain_events() if NEW in repr(vars(e))]
