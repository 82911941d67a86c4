"""Personal-data helpers: resident ID numbers, display masks, sealed fields.

Three concerns that every service shares:

* **Resident ID numbers** (居民身份证号码, GB 11643-1999): parse and validate, and
  generate valid synthetic numbers for tests and demo data.
* **Masks**: what a role without clearance, or the public notice board (公示),
  may see of a name, ID number, bank account or phone number.
* **Sealing**: field-level AES-256-GCM encryption for sensitive values on the
  event bus.  A sealed value carries its key id and a mask, so a consumer
  without the key still has something to display, and a keyed hash lets
  services de-duplicate people by ID number without storing the plaintext.

Everything except `Keyring`'s file I/O and randomness is a pure function.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field

from shared.files import write_private

__all__ = [
    "COMPOUND_SURNAMES",
    "EARLIEST_BIRTH_DATE",
    "InvalidResidentId",
    "Keyring",
    "KeyringError",
    "NameMaskRule",
    "ResidentId",
    "SealError",
    "Sealed",
    "Sex",
    "age_on",
    "check_character",
    "keyed_hash",
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

_B64URL = r"^[A-Za-z0-9_-]+$"
_KID = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # no "|": it separates kid and purpose in the AD
_KEY_BYTES = 32  # AES-256
_NONCE_BYTES = 12  # 96-bit GCM nonce


class SealError(Exception):
    """A sealed value cannot be opened: unknown key id, tampered, or wrong purpose."""


class KeyringError(ValueError):
    """A keyring file or constructor argument is malformed."""


class Sealed(BaseModel):
    """An encrypted field as it travels on the bus.

    `mask` is what a consumer without the key displays.  It is *not*
    authenticated: trust it only for display, never for decisions.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kid: str = Field(min_length=1)
    nonce: str = Field(pattern=_B64URL)  # base64url, unpadded
    ciphertext: str = Field(pattern=_B64URL)  # base64url, unpadded; includes the GCM tag
    mask: str


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def keyed_hash(value: str, key: bytes) -> str:
    """HMAC-SHA256 of the UTF-8 value, hex; equal inputs match only under the same key."""
    if not key:
        raise ValueError("keyed_hash needs a non-empty key")
    mac = crypto_hmac.HMAC(key, hashes.SHA256())
    mac.update(value.encode("utf-8"))
    return mac.finalize().hex()


def _check_kid(kid: str) -> None:
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise KeyringError("kid must be 1-64 characters from A-Z a-z 0-9 . _ : -")


class Keyring:
    """AES-256-GCM sealing keys by key id, plus a separate HMAC key for fingerprints.

    Rotation adds a key and makes it current; old keys stay so older events can
    still be unsealed.  The hash key never rotates: fingerprints stored in read
    models must stay comparable.  `repr` shows key ids only, never key material.
    """

    def __init__(self, keys: Mapping[str, bytes], current: str, hash_key: bytes) -> None:
        if not keys:
            raise KeyringError("keyring needs at least one key")
        for kid, key in keys.items():
            _check_kid(kid)
            if not isinstance(key, bytes) or len(key) != _KEY_BYTES:
                raise KeyringError(f"key {kid!r} must be {_KEY_BYTES} bytes")
        if not isinstance(current, str) or current not in keys:
            raise KeyringError("current kid is not in the keyring")
        if not isinstance(hash_key, bytes) or len(hash_key) != _KEY_BYTES:
            raise KeyringError(f"hash_key must be {_KEY_BYTES} bytes")
        self._keys = dict(keys)
        self._current = current
        self._hash_key = hash_key

    def __repr__(self) -> str:
        return f"Keyring(current={self._current!r}, kids={sorted(self._keys)!r})"

    @property
    def current_kid(self) -> str:
        return self._current

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    # -- construction and files ------------------------------------------------

    @classmethod
    def generate(cls, kid: str) -> Keyring:
        return cls(
            {kid: AESGCM.generate_key(bit_length=256)},
            current=kid,
            hash_key=secrets.token_bytes(_KEY_BYTES),
        )

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            data = json.loads(text)
            keys = {kid: base64.b64decode(k, validate=True) for kid, k in data["keys"].items()}
            current = data["current"]
            hash_key = base64.b64decode(data["hash_key"], validate=True)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            # Don't chain: the exception text could quote key material.
            raise KeyringError(f"malformed keyring ({type(exc).__name__})") from None
        return cls(keys, current=current, hash_key=hash_key)

    def to_json(self) -> str:
        return json.dumps(
            {
                "current": self._current,
                "keys": {kid: base64.b64encode(k).decode("ascii") for kid, k in self._keys.items()},
                "hash_key": base64.b64encode(self._hash_key).decode("ascii"),
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Keyring:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def to_file(self, path: str | os.PathLike[str]) -> None:
        """Write (or atomically replace) the keyring file with mode 0o600."""
        _write_private(Path(path), self.to_json(), replace=True)

    @classmethod
    def load_or_create(cls, path: str | os.PathLike[str], kid: str = "local-1") -> Keyring:
        """The local embedded default: load the file, or create it (and its directory).

        Creation never overwrites: if another process wins the race, its
        keyring is loaded instead, so nobody seals with a key that gets lost.
        """
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # lost the race: load the winner's
                _write_private(path, cls.generate(kid).to_json(), replace=False)
        return cls.from_file(path)

    # -- keys --------------------------------------------------------------------

    def rotate(self, new_kid: str) -> None:
        """Add a fresh key under `new_kid` and seal with it from now on."""
        _check_kid(new_kid)
        if new_kid in self._keys:
            raise KeyringError(f"kid {new_kid!r} already exists")
        self._keys[new_kid] = AESGCM.generate_key(bit_length=256)
        self._current = new_kid

    # -- sealing -----------------------------------------------------------------

    def seal(self, value: str, mask: str, purpose: str, nonce_context: str | None = None) -> Sealed:
        """Encrypt `value` for one field/purpose (e.g. "applicant.resident_id").

        The associated data binds kid and purpose, so a sealed value copied into
        another field, or relabelled with another kid, fails to unseal.

        `nonce_context` (e.g. the event id) makes the result deterministic: the outbox
        relay must produce byte-identical envelopes when it republishes after a crash,
        or the hash chain would fork. The nonce is an HMAC of (purpose, context, value),
        so one nonce never encrypts two different plaintexts under one key.
        """
        if not purpose:
            raise ValueError("purpose must not be empty")
        if value and mask == value:
            raise ValueError("mask equals the plaintext; pass a masked display value")
        kid = self._current
        if nonce_context is None:
            nonce = os.urandom(_NONCE_BYTES)
        else:
            seed = f"{purpose}|{nonce_context}|{value}"
            nonce = bytes.fromhex(keyed_hash(seed, self._keys[kid]))[:_NONCE_BYTES]
        ct = AESGCM(self._keys[kid]).encrypt(nonce, value.encode("utf-8"), _aad(kid, purpose))
        return Sealed(
            kid=kid, nonce=_b64url_encode(nonce), ciphertext=_b64url_encode(ct), mask=mask
        )

    def unseal(self, sealed: Sealed, purpose: str) -> str:
        key = self._keys.get(sealed.kid)
        if key is None:
            raise SealError("unknown key id")
        try:
            nonce = _b64url_decode(sealed.nonce)
            ct = _b64url_decode(sealed.ciphertext)
        except (ValueError, binascii.Error):
            raise SealError("sealed value is not valid base64url") from None
        if len(nonce) != _NONCE_BYTES:
            raise SealError("nonce has the wrong length")
        try:
            plain = AESGCM(key).decrypt(nonce, ct, _aad(sealed.kid, purpose))
        except InvalidTag:
            raise SealError("sealed value is tampered or belongs to another purpose") from None
        return plain.decode("utf-8")

    # -- fingerprints ------------------------------------------------------------

    def fingerprint(self, value: str) -> str:
        """Keyed hash of a resident ID number for de-duplication (…x and …X match)."""
        return keyed_hash(value.strip().upper(), self._hash_key)


def _aad(kid: str, purpose: str) -> bytes:
    return f"{kid}|{purpose}".encode()


def _write_private(path: Path, text: str, *, replace: bool) -> None:
    """0600 and atomic (shared.files); FileExistsError if not replacing and it exists."""
    if not write_private(path, text, replace=replace):
        raise FileExistsError(path)
