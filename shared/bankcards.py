"""Bank account numbers as the payability check reads them: a UnionPay card number (银联卡,
62…, 16 to 19 digits) carries a Luhn check digit; a passbook (存折) account is 6 to 32
digits with no check digit."""

from __future__ import annotations

import re

from stdnum import luhn

_ACCOUNT = re.compile(r"^[0-9]{6,32}$")
_UNIONPAY = re.compile(r"^62[0-9]{14,17}$")


def digits_of(account: str) -> str:
    return "".join(account.split()).replace("-", "")


def account_problem(account: str) -> str | None:
    """Why the bank would refuse this account number (None: it is well-formed)."""
    digits = digits_of(account)
    if not _ACCOUNT.match(digits):
        return "account_format"
    if _UNIONPAY.match(digits) and not luhn.is_valid(digits):
        return "card_luhn"
    return None


def unionpay_card(prefix: str) -> str:
    """`prefix` completed with its Luhn check digit (demo and test data)."""
    return prefix + luhn.calc_check_digit(prefix)
