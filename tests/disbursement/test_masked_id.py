"""The payee's masked resident ID (身份证号(脱敏)) from review's v2 contracts to the roster
row; stored v1 envelopes (no mask) still parse, as v2, and rows drafted before the mask
existed keep their bytes (so the digests their lock and exports recorded)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.disbursement.domain import RosterRow, rows_digest
from shared.contracts import Envelope, IntegrationEvent, parse_data
from shared.contracts.review import (
    EntitlementStarted,
    EntitlementStartedV1,
    TemporaryPaymentApproved,
    TemporaryPaymentApprovedV1,
)
from shared.reactions import handler
from tests.support.disbursement import ReviewStream, china, keyring, started, temporary
from tests.support.places import YELIN

pytestmark = pytest.mark.fast

MASK = "469*************2X"


def as_v1(event: EntitlementStarted | TemporaryPaymentApproved) -> IntegrationEvent:
    """The same event as review published it before v2: the payee without the mask."""
    data = event.model_dump()
    data["payee"].pop("resident_id_mask")
    v1 = EntitlementStartedV1 if isinstance(event, EntitlementStarted) else \
        TemporaryPaymentApprovedV1
    return v1.model_validate(data)


def envelope(event: Any) -> Envelope:
    return ReviewStream().envelope(event, china(date(2026, 5, 20)), event.case_id, YELIN)


def test_stored_v1_payees_parse_as_v2_without_a_mask(keys_dir: Path) -> None:
    ring = keyring(keys_dir)
    for event in (started(ring, amount="560.00", start_month="2026-06",
                          resident_id_mask=MASK),
                  temporary(ring, amount="1500.00", month="2026-06", resident_id_mask=MASK)):
        new, old = envelope(event), envelope(as_v1(event))
        assert (new.version, old.version) == (2, 1)
        assert "resident_id_mask" not in old.data["payee"]
        parsed_new, parsed_old = parse_data(new), parse_data(old)
        assert type(parsed_old) is type(parsed_new) is type(event)
        assert parsed_new.payee.resident_id_mask == MASK  # type: ignore[attr-defined]
        assert parsed_old.payee.resident_id_mask is None  # type: ignore[attr-defined]
        # A consumer that names only the current contract handles both.
        got: list[Any] = []
        handle = handler(type(event), lambda e, r, got=got: got.append(e))
        handle(new)
        handle(old)
        assert [type(e) for e in got] == [type(event)] * 2


def test_rows_without_a_mask_keep_their_wire_form_and_digest() -> None:
    old_wire = ["k1", "c1", "h1", "469028100201", False, "黎阿婆", 2, "560.00", 3, "e1",
                "fp1", "****1113"]
    row = RosterRow.from_wire(old_wire)
    assert row.resident_id_mask is None and row.to_wire() == old_wire
    assert rows_digest([row]) == rows_digest([RosterRow.from_wire(list(old_wire))])
    masked = row._replace(resident_id_mask=MASK)
    assert masked.to_wire() == [*old_wire, MASK]
    assert RosterRow.from_wire(masked.to_wire()) == masked
    assert rows_digest([masked]) != rows_digest([row])  # the mask is part of what was locked
    assert masked.amount == Decimal("560.00")
