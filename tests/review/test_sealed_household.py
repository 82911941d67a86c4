"""application_accepted v2 seals the household (names, birth dates, health, income): review
unseals it with its keyring and opens the same case a v1 envelope in clear opens; a stored
v1 envelope still parses and opens a case; a tampered or foreign blob opens nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from shared.contracts import GENESIS_HASH, Envelope, parse_data, verify_chain
from shared.contracts.intake import (
    ApplicationAccepted,
    ApplicationAcceptedV1,
    HouseholdDetails,
)
from shared.pii import Keyring, SealError, mask_name
from shared.runtime import ServiceRuntime
from tests.support.review import INTAKE_CLERK, acceptance
from tests.support.signing import sealed

pytestmark = pytest.mark.fast

SEALED_FIELDS = set(HouseholdDetails.model_fields)


def sealed_copy(v1: ApplicationAcceptedV1, keyring: Keyring) -> ApplicationAccepted:
    """The same acceptance as intake publishes it now."""
    data = v1.model_dump()
    details = HouseholdDetails.model_validate({k: data.pop(k) for k in SEALED_FIELDS})
    return ApplicationAccepted.sealing(details, keyring, mask_name(v1.applicant_name),
                                       f"test:{v1.application_id}", **data)


def case_view(review: ServiceRuntime, case_id: Any) -> tuple[Any, ...]:
    case = review.app._case(case_id)
    return (case.applicant_name, case.household, case.payee, case.household_size, case.kind)


def test_a_sealed_acceptance_opens_the_case_a_clear_one_opens(
        review: ServiceRuntime, keyring: Keyring) -> None:
    clear = acceptance(keyring)
    sealed = sealed_copy(clear.model_copy(update={"application_id": uuid4()}), keyring)
    raw = sealed.model_dump_json().encode()
    for secret in ("黎阿婆", "符阿妹", "1956-03-14", "3000", "1080", "8000", "partial"):
        assert secret.encode() not in raw, secret
    assert sealed.household.mask == "黎**" and sealed.household_size == 3

    a = review.app.open_case(clear, INTAKE_CLERK)
    b = review.app.open_case(sealed, INTAKE_CLERK)
    assert case_view(review, a) == case_view(review, b)
    names = [m["name"] for m in review.app._case(b).household["members"]]
    assert names == ["黎阿婆", "符阿妹", "黎小明"]


def test_stored_v1_and_new_v2_envelopes_both_parse_and_verify(keyring: Keyring) -> None:
    clear = acceptance(keyring)
    for contract in (clear, sealed_copy(clear, keyring)):
        env = sealed(GENESIS_HASH, event_id=uuid4(), type=contract.TYPE,
                     version=contract.VERSION, source="intake", region="469028",
                     aggregate_id=clear.application_id, aggregate_version=1, position=1,
                     occurred_at=datetime.now(UTC), actor=None,
                     data=contract.model_dump(mode="json"))
        copy = Envelope.model_validate_json(env.to_bytes())
        assert verify_chain([copy]).ok
        assert type(parse_data(copy)) is type(contract)


def test_a_tampered_or_foreign_household_opens_nothing(
        review: ServiceRuntime, keyring: Keyring) -> None:
    before = review.app.recorder.max_notification_id()
    sealed = sealed_copy(acceptance(keyring), keyring)
    blob = sealed.household
    flipped = blob.model_copy(update={"ciphertext": ("A" if blob.ciphertext[0] != "A" else "B")
                                      + blob.ciphertext[1:]})
    with pytest.raises(SealError):
        review.app.open_case(sealed.model_copy(update={"household": flipped}), INTAKE_CLERK)
    foreign = sealed_copy(acceptance(keyring), Keyring.generate(keyring.current_kid))
    with pytest.raises(SealError):
        review.app.open_case(foreign, INTAKE_CLERK)
    assert review.app.recorder.max_notification_id() == before
