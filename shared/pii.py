"""Personal-data helpers: resident ID numbers and display masks.

Two concerns that every service shares (the field encryption of sensitive values is
shared/fieldcrypt.py):

* **Resident ID numbers** (居民身份证号码, GB 11643-1999): parse and validate, and
  generate valid synthetic numbers for tests and demo data.
* **Masks**: what a role without clearance, or the public notice board (公示),
  may see of a name, ID number, bank account or phone number.

Everything here is a pure function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

__all__ = [
    "COMPOUND_SURNAMES",
    "EARLIEST_BIRTH_DATE",
    "InvalidResidentId",
    "NameMaskRule",
    "ResidentId",
    "Sex",
    "age_on",
    "check_character",
    "make_resident_id",
    "mask_bank_account",
    "mask_name",
    "mask_phone",
    "mask_resident_id",
    "validate_resident_id",
]

Sex = Literal["male", "female"]
NameMaskRule = Literal["keep_surname", "keep_surname_and_last", "full"]

# ---------------------------------------------------------------------------
# Resident ID numbers (GB 11643-1999)
# ---------------------------------------------------------------------------

EARLIEST_BIRTH_DATE = date(1900, 1, 1)

# ISO 7064 MOD 11-2: weight of position i (0-based, left to right) is 2**(17-i) mod 11.
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)

# Explicit ASCII classes: `\d` would also accept full-width and other Unicode digits.
_ID_FORMAT = re.compile(r"[0-9]{17}[0-9X]")
_DIGITS17 = re.compile(r"[0-9]{17}")
_DIGITS6 = re.compile(r"[0-9]{6}")


class InvalidResidentId(ValueError):
    """A resident ID number failed a rule.

    `rule` is a stable code (`id_format`, `id_birth_date`, `id_checksum`) for
    callers to map to their own error codes; `message` never echoes the number.
    """

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass(frozen=True, repr=False)
class ResidentId:
    number: str
    division_code: str
    birth_date: date
    sex: Sex

    def __repr__(self) -> str:
        # Keep full numbers out of logs and tracebacks.
        return f"ResidentId({mask_resident_id(self.number)!r})"


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character ("0"-"9" or "X") for 17 digits."""
    if not _DIGITS17.fullmatch(first17):
        raise ValueError("check_character needs exactly 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def validate_resident_id(value: str, *, today: date) -> ResidentId:
    """Parse and validate an 18-character resident ID number.

    Surrounding whitespace is ignored and a lowercase check character x is
    accepted as X.  Rules are checked in order: format, birth date, checksum.
    `today` (default: today in China) bounds the birth date; pass it for
    reproducible results.
    """
    if not isinstance(value, str):
        raise InvalidResidentId("id_format", "resident ID must be a string")
    number = value.strip()
    number = number[:17] + number[17:].upper()
    if not _ID_FORMAT.fullmatch(number):
        raise InvalidResidentId("id_format", "must be 17 digits followed by a digit or X")

    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidResidentId("id_birth_date", "birth date is not a real calendar date") from None
    if birth < EARLIEST_BIRTH_DATE:
        raise InvalidResidentId("id_birth_date", "birth date is before 1900-01-01")
    if birth > today:  # the caller's business date, from its service clock
        raise InvalidResidentId("id_birth_date", "birth date is in the future")

    if check_character(number[:17]) != number[17]:
        raise InvalidResidentId("id_checksum", "check character does not match")

    return ResidentId(
        number=number,
        division_code=number[:6],
        birth_date=birth,
        sex="male" if int(number[16]) % 2 == 1 else "female",
    )


def make_resident_id(division_code: str, birth_date: date, sequence: int, sex: str) -> str:
    """A valid synthetic resident ID number, for tests and demo data.

    `sequence` (0-99) fills digits 15-16; `sex` sets digit 17 to 1 (male) or
    2 (female).  The birth date is not checked against today, so a future date
    yields a number that `validate_resident_id` rejects.
    """
    if not _DIGITS6.fullmatch(division_code):
        raise ValueError("division_code must be 6 ASCII digits")
    if birth_date < EARLIEST_BIRTH_DATE:
        raise ValueError("birth_date must not be before 1900-01-01")
    if not 0 <= sequence <= 99:
        raise ValueError("sequence must be between 0 and 99")
    if sex not in ("male", "female"):
        raise ValueError("sex must be 'male' or 'female'")
    first17 = f"{division_code}{birth_date:%Y%m%d}{sequence:02d}{'1' if sex == 'male' else '2'}"
    return first17 + check_character(first17)


def age_on(birth_date: date, on: date) -> int:
    """Age in full years on date `on` (someone born on 29 Feb turns a year older on 1 Mar)."""
    if on < birth_date:
        raise ValueError("date is before the birth date")
    had_birthday = (on.month, on.day) >= (birth_date.month, birth_date.day)
    return on.year - birth_date.year - (0 if had_birthday else 1)


# ---------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------

# Common two-character surnames (复姓).  Pairs whose first character is a
# common single surname and whose second is a common given-name character
# (单于, 乐正, ...) are left out: guessing "compound" there would reveal a
# given-name character far more often than it helps.
_COMPOUND_SURNAMES_TEXT = """
欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 令狐 夏侯
端木 独孤 南宫 西门 轩辕 澹台 公羊 万俟 闻人 呼延 赫连 申屠 太史 钟离
司空 淳于 拓跋 濮阳 左丘 鲜于 闾丘 百里 东郭 公冶 仲孙 巫马 亓官
"""
COMPOUND_SURNAMES: frozenset[str] = frozenset(_COMPOUND_SURNAMES_TEXT.split())

# Separators in transliterated minority names (e.g. 买买提·艾力) stay visible:
# they carry no identity and keep the mask readable.
_NAME_SEPARATORS = frozenset("·•・ ")
_MASK = "*"


def _surname_length(name: str) -> int:
    # A two-character name is surname + given name even if it spells a compound
    # surname (欧阳 alone is far more likely 欧 + 阳 than a bare compound surname).
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return 2
    return 1


def mask_name(name: str, rule: str = "keep_surname") -> str:
    """Mask a personal name for display.

    * ``keep_surname``: 张三丰 → 张**, 欧阳娜娜 → 欧阳**
    * ``keep_surname_and_last``: 张三丰 → 张*丰, 王五 → 王*
    * ``full``: unchanged (for roles cleared to see names)

    Surrounding whitespace is dropped; a one-character name becomes "*" so no
    rule except ``full`` shows a whole name.
    """
    if rule not in ("keep_surname", "keep_surname_and_last", "full"):
        raise ValueError(f"unknown name mask rule: {rule!r}")
    name = name.strip()
    if rule == "full" or not name:
        return name
    if len(name) == 1:
        return _MASK

    keep = _surname_length(name)
    chars = list(name)
    given = [i for i in range(keep, len(chars)) if chars[i] not in _NAME_SEPARATORS]
    if rule == "keep_surname_and_last" and len(given) >= 2:
        given = given[:-1]
    for i in given:
        chars[i] = _MASK
    return "".join(chars)


def _compact(value: str) -> str:
    # Account and phone numbers are often typed in groups: "6222 0212 ..." or "0898-8331 2345".
    return re.sub(r"[\s-]", "", value)


def mask_resident_id(number: str) -> str:
    """Keep the first 3 and last 2 characters: 469028199001011234 → 469*************34."""
    number = number.strip().upper()
    if len(number) <= 5:
        return _MASK * len(number)
    return number[:3] + _MASK * (len(number) - 5) + number[-2:]


def mask_bank_account(account: str) -> str:
    """Keep the last 4 digits; spaces and hyphens in the input are ignored.

    Four characters or fewer are masked completely: "the last 4" would be all of it.
    """
    account = _compact(account)
    if len(account) <= 4:
        return _MASK * len(account)
    return _MASK * (len(account) - 4) + account[-4:]


_MAINLAND_MOBILE = re.compile(r"(\+86|0086)?(1[3-9][0-9])([0-9]{4})([0-9]{4})")


def mask_phone(phone: str) -> str:
    """Mainland mobile → 138****5678 (a +86/0086 prefix is kept); anything else keeps the last 4."""
    phone = _compact(phone)
    if m := _MAINLAND_MOBILE.fullmatch(phone):
        prefix, head, _, tail = m.groups()
        return f"{prefix or ''}{head}{_MASK * 4}{tail}"
    if len(phone) <= 4:
        return _MASK * len(phone)
    return _MASK * (len(phone) - 4) + phone[-4:]


# ---------------------------------------------------------------------------
# Sealing (field-level encryption on the bus) and keyed hashes
# ---------------------------------------------------------------------------

