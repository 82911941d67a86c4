"""Tests for shared.pii and shared.fieldcrypt: resident IDs, masks, field encryption and
fingerprints."""

from __future__ import annotations

import json
import stat
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.fieldcrypt import DecryptionError, EncryptedField, Keyring, KeyringError, keyed_hash
from shared.pii import (
    COMPOUND_SURNAMES,
    InvalidResidentId,
    ResidentId,
    age_on,
    check_character,
    make_resident_id,
    mask_bank_account,
    mask_name,
    mask_phone,
    mask_resident_id,
    validate_resident_id,
)

pytestmark = pytest.mark.fast

LINGSHUI = "469028"  # 陵水黎族自治县
TODAY = date(2025, 6, 1)  # fixed "today" so birth-date rules are reproducible
PURPOSE = "applicant.resident_id"

# -- strategies ---------------------------------------------------------------

divisions = st.sampled_from([LINGSHUI, "460100", "110105", "440524", "469027"])
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sexes = st.sampled_from(["male", "female"])


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    return make_resident_id(
        draw(divisions), draw(birth_dates), draw(st.integers(0, 99)), draw(sexes)
    )


# Includes first characters of compound surnames (欧, 司, 上 ...) and Hainan Li surnames.
SINGLE_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高符吉卓文欧司上东公夏令")
hanzi = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


@st.composite
def chinese_names(draw: st.DrawFn) -> tuple[str, str]:
    """(surname, given name) with a total length of 2-4 characters."""
    if draw(st.booleans()):
        surname = draw(st.sampled_from(sorted(COMPOUND_SURNAMES)))
        given_name = draw(st.text(hanzi, min_size=1, max_size=2))
    else:
        surname = draw(st.sampled_from(SINGLE_SURNAMES))
        given_name = draw(st.text(hanzi, min_size=1, max_size=3))
        # 欧 + 阳娜 reads as compound surname 欧阳 + 娜: genuinely ambiguous, so skip it.
        assume(len(given_name) < 2 or surname + given_name[0] not in COMPOUND_SURNAMES)
    return surname, given_name


# -- resident IDs: valid ------------------------------------------------------


def test_published_example_is_valid() -> None:
    rid = validate_resident_id("11010519491231002X", today=TODAY)
    assert rid == ResidentId("11010519491231002X", "110105", date(1949, 12, 31), "female")


def test_check_character() -> None:
    assert check_character("11010519491231002") == "X"
    assert check_character("44052418800101001") == "4"
    with pytest.raises(ValueError):
        check_character("1101051949123100")
    with pytest.raises(ValueError):
        check_character("1101051949123100X")


def test_lowercase_x_and_whitespace_are_normalised() -> None:
    rid = validate_resident_id(" 11010519491231002x\n", today=TODAY)
    assert rid.number == "11010519491231002X"


def test_generated_lingshui_ids() -> None:
    male = make_resident_id(LINGSHUI, date(1958, 3, 14), 7, "male")
    female = make_resident_id(LINGSHUI, date(2016, 2, 29), 99, "female")
    assert male.startswith("46902819580314071")
    assert female.startswith("46902820160229992")
    assert validate_resident_id(male, today=TODAY).sex == "male"
    assert validate_resident_id(female, today=TODAY).sex == "female"


def test_birth_date_today_is_allowed() -> None:
    number = make_resident_id(LINGSHUI, TODAY, 1, "female")
    assert validate_resident_id(number, today=TODAY).birth_date == TODAY


def test_repr_does_not_leak_the_number() -> None:
    rid = validate_resident_id("11010519491231002X", today=TODAY)
    assert "11010519491231002" not in repr(rid)
    assert "110" in repr(rid)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("46902", date(1990, 1, 1), 0, "male"), "division_code"),
        (("46902a", date(1990, 1, 1), 0, "male"), "division_code"),
        ((LINGSHUI, date(1899, 12, 31), 0, "male"), "1900"),
        ((LINGSHUI, date(1990, 1, 1), 100, "male"), "sequence"),
        ((LINGSHUI, date(1990, 1, 1), -1, "male"), "sequence"),
        ((LINGSHUI, date(1990, 1, 1), 0, "M"), "sex"),
    ],
)
def test_make_resident_id_rejects_bad_input(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_resident_id(*args)


# -- resident IDs: invalid ----------------------------------------------------


def _with_check(first17: str) -> str:
    return first17 + check_character(first17)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("110105194912310021", "id_checksum"),  # published example with the wrong check digit
        (_with_check("46902819900230001"), "id_birth_date"),  # 30 February
        (_with_check("46902819901301001"), "id_birth_date"),  # month 13
        (_with_check("46902820300101001"), "id_birth_date"),  # future
        (_with_check("46902818991231001"), "id_birth_date"),  # before 1900
        ("440524188001010014", "id_birth_date"),  # textbook example: checksum fine, born 1880
        ("11010519491231002", "id_format"),  # 17 characters
        ("11010519491231002XX", "id_format"),  # 19 characters
        ("11010519491231X02X", "id_format"),  # X outside the check position
        ("1101051949123100AB", "id_format"),  # letters
        ("110105194912310O2X", "id_format"),  # letter O for zero
        ("１１０１０５１９４９１２３１００２Ｘ", "id_format"),  # full-width digits
        ("", "id_format"),
    ],
)
def test_invalid_ids_report_rule_without_echoing_number(value: str, rule: str) -> None:
    with pytest.raises(InvalidResidentId) as info:
        validate_resident_id(value, today=TODAY)
    assert info.value.rule == rule
    assert isinstance(info.value, ValueError)
    if len(value) >= 6:
        assert value[:6] not in str(info.value)
        assert value not in info.value.message


def test_future_depends_on_today() -> None:
    number = make_resident_id(LINGSHUI, date(2025, 6, 2), 0, "male")
    with pytest.raises(InvalidResidentId) as info:
        validate_resident_id(number, today=TODAY)
    assert info.value.rule == "id_birth_date"
    assert validate_resident_id(number, today=date(2025, 6, 2)).birth_date == date(2025, 6, 2)


def test_non_string_is_a_format_error() -> None:
    with pytest.raises(InvalidResidentId) as info:
        validate_resident_id(11010519491231002, today=TODAY)  # type: ignore[arg-type]
    assert info.value.rule == "id_format"


@given(resident_ids())
def test_changing_any_single_character_is_detected(number: str) -> None:
    # MOD 11-2 catches every single-character substitution, so each mutation
    # is rejected; in the first 17 digits the check character no longer fits.
    for pos in range(18):
        for repl in "0123456789X":
            if repl == number[pos]:
                continue
            mutated = number[:pos] + repl + number[pos + 1 :]
            with pytest.raises(InvalidResidentId) as info:
                validate_resident_id(mutated, today=TODAY)
            if pos == 17:
                assert info.value.rule == "id_checksum"
            elif repl == "X":
                assert info.value.rule == "id_format"
            else:
                assert check_character(mutated[:17]) != mutated[17]
                assert info.value.rule in {"id_checksum", "id_birth_date"}


@given(divisions, birth_dates, st.integers(0, 99), sexes)
def test_make_resident_id_round_trips(division: str, birth: date, sequence: int, sex: str) -> None:
    number = make_resident_id(division, birth, sequence, sex)
    rid = validate_resident_id(number, today=TODAY)
    assert rid.number == number
    assert rid.division_code == division
    assert rid.birth_date == birth
    assert rid.sex == sex
    assert number[14:16] == f"{sequence:02d}"


@given(resident_ids())
def test_lowercase_x_round_trips(number: str) -> None:
    assert validate_resident_id(number.lower(), today=TODAY).number == number


# -- age ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (date(1960, 6, 1), date(2025, 6, 1), 65),
        (date(1960, 6, 2), date(2025, 6, 1), 64),
        (date(2008, 2, 29), date(2026, 2, 28), 17),  # leap-day birthday: not yet 18
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(2008, 2, 29), date(2028, 2, 29), 20),
        (date(2025, 6, 1), date(2025, 6, 1), 0),
    ],
)
def test_age_on(birth: date, on: date, age: int) -> None:
    assert age_on(birth, on) == age


def test_age_before_birth_is_an_error() -> None:
    with pytest.raises(ValueError):
        age_on(date(2020, 1, 2), date(2020, 1, 1))


def _birthday_in(birth: date, year: int) -> date:
    # Independent oracle: a 29 February birthday falls on 1 March in common years.
    try:
        return birth.replace(year=year)
    except ValueError:
        return date(year, 3, 1)


@given(birth_dates, st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1)))
def test_age_counts_birthdays_passed(birth: date, on: date) -> None:
    assume(on >= birth)
    expected = sum(
        1 for year in range(birth.year + 1, on.year + 1) if _birthday_in(birth, year) <= on
    )
    assert age_on(birth, on) == expected


# -- masks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rule", "masked"),
    [
        ("张三丰", "keep_surname", "张**"),
        ("王五", "keep_surname", "王*"),
        ("欧阳娜娜", "keep_surname", "欧阳**"),
        ("司马光", "keep_surname", "司马*"),
        ("诸葛孔明", "keep_surname", "诸葛**"),
        ("欧阳", "keep_surname", "欧*"),  # two characters: surname + given name
        ("张三丰", "keep_surname_and_last", "张*丰"),
        ("王五", "keep_surname_and_last", "王*"),
        ("欧阳娜娜", "keep_surname_and_last", "欧阳*娜"),
        ("欧阳娜", "keep_surname_and_last", "欧阳*"),
        ("符王小明", "keep_surname_and_last", "符**明"),
        ("张三丰", "full", "张三丰"),
        ("买买提·艾力", "keep_surname", "买**·**"),
        ("  王五 ", "keep_surname", "王*"),
        ("张", "keep_surname", "*"),
        ("张", "keep_surname_and_last", "*"),
        ("", "keep_surname", ""),
        ("", "full", ""),
    ],
)
def test_mask_name(name: str, rule: str, masked: str) -> None:
    assert mask_name(name, rule) == masked


def test_mask_name_default_rule_is_keep_surname() -> None:
    assert mask_name("张三丰") == "张**"


def test_mask_name_unknown_rule() -> None:
    with pytest.raises(ValueError, match="rule"):
        mask_name("张三丰", "initials")


@given(chinese_names())
def test_keep_surname_hides_every_given_name_character(parts: tuple[str, str]) -> None:
    surname, given_name = parts
    masked = mask_name(surname + given_name, "keep_surname")
    # Compare by position: a given-name character may equal a surname character (王王).
    assert len(masked) == len(surname) + len(given_name)
    assert masked[: len(surname)] == surname
    assert masked[len(surname) :] == "*" * len(given_name)


@given(chinese_names())
def test_keep_surname_and_last_shows_at_most_the_last_character(parts: tuple[str, str]) -> None:
    surname, given_name = parts
    masked = mask_name(surname + given_name, "keep_surname_and_last")
    assert len(masked) == len(surname) + len(given_name)
    assert masked[: len(surname)] == surname
    tail = masked[len(surname) :]
    if len(given_name) == 1:
        assert tail == "*"
    else:
        assert tail == "*" * (len(given_name) - 1) + given_name[-1]


@given(chinese_names(), st.sampled_from(["keep_surname", "keep_surname_and_last", "full"]))
def test_mask_name_preserves_length(parts: tuple[str, str], rule: str) -> None:
    name = "".join(parts)
    assert len(mask_name(name, rule)) == len(name)


def test_mask_resident_id() -> None:
    assert mask_resident_id("46902819900101002X") == "469" + "*" * 13 + "2X"
    assert mask_resident_id("46902819900101002x") == "469" + "*" * 13 + "2X"
    assert mask_resident_id("469028900101002") == "469" + "*" * 10 + "02"  # 15-digit legacy
    assert mask_resident_id("12345") == "*****"
    assert mask_resident_id("") == ""


@given(resident_ids())
def test_mask_resident_id_keeps_3_and_2(number: str) -> None:
    masked = mask_resident_id(number)
    assert len(masked) == len(number) == 18
    assert masked == number[:3] + "*" * 13 + number[-2:]


def test_mask_bank_account() -> None:
    assert mask_bank_account("6222 0212 3456 7890") == "*" * 12 + "7890"
    assert mask_bank_account("6228480402564890018") == "*" * 15 + "0018"
    assert mask_bank_account("1234") == "****"
    assert mask_bank_account("") == ""


@given(st.text("0123456789", min_size=5, max_size=30))
def test_mask_bank_account_preserves_length(account: str) -> None:
    masked = mask_bank_account(account)
    assert len(masked) == len(account)
    assert masked.endswith(account[-4:])
    assert set(masked[:-4]) == {"*"}


def test_mask_phone() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138 1234 5678") == "138****5678"
    assert mask_phone("+8613812345678") == "+86138****5678"
    assert mask_phone("0898-83312345") == "********2345"  # landline: keep last 4
    assert mask_phone("12345678901") == "*******8901"  # 11 digits but not a mobile prefix
    assert mask_phone("110") == "***"


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_mask_mobile_preserves_length(phone: str) -> None:
    masked = mask_phone(phone)
    assert len(masked) == 11
    assert masked == phone[:3] + "****" + phone[-4:]


@given(st.text("0123456789", min_size=0, max_size=20))
def test_mask_phone_preserves_length(phone: str) -> None:
    assert len(mask_phone(phone)) == len(phone)


# -- sealing --------------------------------------------------------------------


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate("k1")


def _flip(b64: str, index: int = 0) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    c = b64[index]
    return b64[:index] + alphabet[(alphabet.index(c) + 1) % 64] + b64[index + 1 :]


@given(st.text(max_size=200), st.text(min_size=1, max_size=40))
def test_seal_round_trip(value: str, purpose: str) -> None:
    ring = Keyring.generate("k1")
    mask = "*" * (len(value) + 1)  # never equal to the value
    sealed = ring.encrypt(value, mask, purpose)
    assert sealed.kid == "k1"
    assert sealed.mask == mask
    assert ring.decrypt(sealed, purpose) == value
    # Through JSON, as on the bus.
    travelled = EncryptedField.model_validate_json(sealed.model_dump_json())
    assert ring.decrypt(travelled, purpose) == value


@given(resident_ids())
def test_sealed_json_never_contains_the_plaintext(number: str) -> None:
    ring = Keyring.generate("k1")
    sealed = ring.encrypt(number, mask_resident_id(number), PURPOSE)
    text = sealed.model_dump_json()
    assert number not in text
    assert number[:17] not in text
    assert set(json.loads(text)) == {"kid", "nonce", "ciphertext", "mask"}


def test_each_seal_uses_a_fresh_nonce(keyring: Keyring) -> None:
    a = keyring.encrypt("13812345678", "138****5678", "applicant.phone")
    b = keyring.encrypt("13812345678", "138****5678", "applicant.phone")
    assert a.nonce != b.nonce
    assert a.ciphertext != b.ciphertext


@given(st.data())
def test_tampered_ciphertext_raises(data: st.DataObject) -> None:
    ring = Keyring.generate("k1")
    sealed = ring.encrypt("46902819900101002X", "469*************2X", PURPOSE)
    # Flip a character that carries whole bits (base64url's last char may be partly padding).
    index = data.draw(st.integers(0, len(sealed.ciphertext) - 2))
    tampered = sealed.model_copy(update={"ciphertext": _flip(sealed.ciphertext, index)})
    with pytest.raises(DecryptionError):
        ring.decrypt(tampered, PURPOSE)


def test_tampered_nonce_raises(keyring: Keyring) -> None:
    sealed = keyring.encrypt("46902819900101002X", "469*************2X", PURPOSE)
    with pytest.raises(DecryptionError):
        keyring.decrypt(sealed.model_copy(update={"nonce": _flip(sealed.nonce)}), PURPOSE)
    with pytest.raises(DecryptionError):  # wrong length
        keyring.decrypt(sealed.model_copy(update={"nonce": sealed.nonce[:8]}), PURPOSE)


def test_truncated_ciphertext_raises(keyring: Keyring) -> None:
    sealed = keyring.encrypt("x", "*", PURPOSE)
    for cut in ("", "A", "AAAAA", sealed.ciphertext[:-4]):
        with pytest.raises(DecryptionError):
            keyring.decrypt(sealed.model_copy(update={"ciphertext": cut}), PURPOSE)


def test_wrong_purpose_raises(keyring: Keyring) -> None:
    sealed = keyring.encrypt("46902819900101002X", "469*************2X", "applicant.resident_id")
    with pytest.raises(DecryptionError):
        keyring.decrypt(sealed, "household_member.resident_id")


def test_unknown_kid_raises(keyring: Keyring) -> None:
    sealed = keyring.encrypt("46902819900101002X", "469*************2X", PURPOSE)
    with pytest.raises(DecryptionError, match="unknown key id"):
        keyring.decrypt(sealed.model_copy(update={"kid": "k9"}), PURPOSE)
    with pytest.raises(DecryptionError):
        Keyring.generate("k1").decrypt(sealed, PURPOSE)  # same kid, different key


def test_relabelled_kid_raises(keyring: Keyring) -> None:
    old = keyring.encrypt("secret", "******", PURPOSE)
    keyring.rotate("k2")
    with pytest.raises(DecryptionError):
        keyring.decrypt(old.model_copy(update={"kid": "k2"}), PURPOSE)


def test_rotation_keeps_old_seals_readable(keyring: Keyring) -> None:
    old = keyring.encrypt("王五", "王*", "applicant.name")
    keyring.rotate("k2")
    new = keyring.encrypt("张三丰", "张**", "applicant.name")
    assert (old.kid, new.kid) == ("k1", "k2")
    assert keyring.current_kid == "k2"
    assert keyring.kids == {"k1", "k2"}
    assert keyring.decrypt(old, "applicant.name") == "王五"
    assert keyring.decrypt(new, "applicant.name") == "张三丰"
    with pytest.raises(KeyringError):
        keyring.rotate("k1")


def test_rotation_keeps_fingerprints(keyring: Keyring) -> None:
    before = keyring.fingerprint("11010519491231002X")
    keyring.rotate("k2")
    assert keyring.fingerprint("11010519491231002X") == before


def test_seal_rejects_mask_equal_to_plaintext_and_empty_purpose(keyring: Keyring) -> None:
    with pytest.raises(ValueError, match="mask"):
        keyring.encrypt("13812345678", "13812345678", "applicant.phone")
    with pytest.raises(ValueError, match="purpose"):
        keyring.encrypt("13812345678", "138****5678", "")


def test_sealed_model_is_frozen_and_strict() -> None:
    sealed = Keyring.generate("k1").encrypt("v", "*", PURPOSE)
    with pytest.raises(ValidationError):
        sealed.mask = "v"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        EncryptedField.model_validate({**sealed.model_dump(), "plaintext": "v"})
    with pytest.raises(ValidationError):
        EncryptedField.model_validate({**sealed.model_dump(), "nonce": "not base64!"})
    with pytest.raises(ValidationError):
        EncryptedField.model_validate({**sealed.model_dump(), "kid": ""})


def test_keyring_repr_shows_no_key_material(keyring: Keyring) -> None:
    data = json.loads(keyring.to_json())
    assert data["keys"]["k1"] not in repr(keyring)
    assert data["hash_key"] not in repr(keyring)
    assert "k1" in repr(keyring)


@pytest.mark.parametrize("kid", ["", "a|b", "has space", "x" * 65])
def test_bad_kids_are_rejected(kid: str) -> None:
    with pytest.raises(KeyringError):
        Keyring.generate(kid)


# -- keyring files ----------------------------------------------------------------


def test_file_round_trip_with_private_mode(tmp_path, keyring: Keyring) -> None:
    path = tmp_path / "bus-keyring.json"
    sealed = keyring.encrypt("46902819900101002X", "469*************2X", PURPOSE)
    keyring.rotate("k2")
    keyring.to_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    data = json.loads(path.read_text())
    assert data["current"] == "k2"
    assert set(data["keys"]) == {"k1", "k2"}
    assert "hash_key" in data

    loaded = Keyring.from_file(path)
    assert loaded.current_kid == "k2"
    assert loaded.decrypt(sealed, PURPOSE) == "46902819900101002X"
    assert loaded.fingerprint("11010519491231002X") == keyring.fingerprint("11010519491231002X")
    assert [p.name for p in tmp_path.iterdir()] == ["bus-keyring.json"]  # no temp files left


def test_to_file_replaces_a_world_readable_file(tmp_path, keyring: Keyring) -> None:
    path = tmp_path / "keyring.json"
    path.write_text("{}")
    path.chmod(0o644)
    keyring.to_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keyring.from_file(path).current_kid == "k1"


def test_load_or_create_creates_then_loads(tmp_path) -> None:
    path = tmp_path / "var" / "keys" / "bus-keyring.json"
    first = Keyring.load_or_create(path)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = first.encrypt("王五", "王*", "applicant.name")

    second = Keyring.load_or_create(path)
    assert second.current_kid == first.current_kid
    assert second.decrypt(sealed, "applicant.name") == "王五"
    assert second.fingerprint("11010519491231002X") == first.fingerprint("11010519491231002X")


K32 = "A" * 43 + "="  # base64 of 32 zero bytes
_GOOD = {"current": "k1", "keys": {"k1": K32}, "hash_key": K32}


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        "{}",
        json.dumps({**_GOOD, "keys": {}}),
        json.dumps({**_GOOD, "current": "k2"}),  # current kid missing
        json.dumps({**_GOOD, "current": ["k1"]}),
        json.dumps({**_GOOD, "keys": {"k1": "short"}}),
        json.dumps({**_GOOD, "keys": {"k1|x": K32}, "current": "k1|x"}),
        json.dumps({**_GOOD, "hash_key": "!!"}),
        json.dumps({**_GOOD, "hash_key": ""}),
        json.dumps({k: v for k, v in _GOOD.items() if k != "hash_key"}),
    ],
)
def test_malformed_keyring_files(tmp_path, content: str) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(content)
    with pytest.raises(KeyringError):
        Keyring.from_file(path)


# -- keyed hash and fingerprints ----------------------------------------------------


def test_keyed_hash_is_hmac_sha256() -> None:
    # RFC 4231, test case 2.
    assert keyed_hash("what do ya want for nothing?", b"Jefe") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    with pytest.raises(ValueError):
        keyed_hash("x", b"")


def test_fingerprint_normalises_and_is_keyed() -> None:
    ring = Keyring.generate("k1")
    upper = ring.fingerprint("11010519491231002X")
    assert ring.fingerprint("11010519491231002x") == upper
    assert ring.fingerprint(" 11010519491231002x ") == upper
    assert len(upper) == 64 and int(upper, 16) >= 0
    assert "11010519491231002" not in upper
    assert Keyring.generate("k1").fingerprint("11010519491231002X") != upper


@given(resident_ids(), resident_ids())
def test_fingerprint_separates_people(a: str, b: str) -> None:
    ring = Keyring.generate("k1")
    assert (ring.fingerprint(a) == ring.fingerprint(b)) == (a == b)
    assert ring.fingerprint(a.lower()) == ring.fingerprint(a)


def test_seal_with_nonce_context_is_deterministic_and_still_unseals() -> None:
    ring = Keyring.generate("k1")
    a = ring.encrypt("11010519491231002X", "110***********002X", "member.resident_id", "evt-1")
    b = ring.encrypt("11010519491231002X", "110***********002X", "member.resident_id", "evt-1")
    c = ring.encrypt("11010519491231002X", "110***********002X", "member.resident_id", "evt-2")
    assert a == b
    assert a.nonce != c.nonce
    assert ring.decrypt(a, "member.resident_id") == "11010519491231002X"


_RING = Keyring.generate("k1")


@given(st.text(max_size=60))
def test_a_fingerprint_is_the_keyed_hash_of_the_trimmed_upper_value(value: str) -> None:
    # The pre-keyed HMAC, copied per value, gives what keyed_hash gives from the key.
    expected = keyed_hash(value.strip().upper(), _RING._hash_key)
    assert _RING.fingerprint(value) == expected == _RING.fingerprint(value)
