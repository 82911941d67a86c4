"""The payee review sends to disbursement carries the account holder's masked resident ID
(for the bank roster's 身份证号(脱敏)), masked by review from the ID it unseals; a holder
who is not a household member gets none, and the clear ID is in no event review stores."""

from __future__ import annotations

import pytest

from shared.contracts.intake import MEMBER_ID_PURPOSE, ApplicationAcceptedV1
from shared.pii import Keyring, mask_resident_id
from shared.runtime import ServiceRuntime
from tests.support.review import INTAKE_CLERK, acceptance

pytestmark = pytest.mark.fast


def holder_mask(review: ServiceRuntime, accepted: ApplicationAcceptedV1) -> str | None:
    case = review.app._case(review.app.open_case(accepted, INTAKE_CLERK))
    return case.payee["resident_id_mask"]  # type: ignore[no-any-return]


def test_the_payee_carries_the_holders_masked_id(review: ServiceRuntime,
                                                  keyring: Keyring) -> None:
    accepted = acceptance(keyring)
    granny = keyring.unseal(accepted.members[0].resident_id, MEMBER_ID_PURPOSE)
    assert holder_mask(review, accepted) == mask_resident_id(granny) != granny
    stored = [e for _, e in review.app.iter_domain_events()]
    assert stored and not [e for e in stored if granny in repr(vars(e))]


def test_a_holder_outside_the_household_gets_no_mask(review: ServiceRuntime,
                                                    keyring: Keyring) -> None:
    accepted = acceptance(keyring)
    assert accepted.bank_account is not None
    guardian = accepted.bank_account.model_copy(update={"holder_name": "王监护"})
    assert holder_mask(review, accepted.model_copy(update={"bank_account": guardian})) is None
