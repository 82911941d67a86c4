"""Read-model columns encrypted at rest (shared.eventstore.AtRest) are eventsourcing's
AESCipher bytes, made with one AESGCM per key: values written either way read either way,
and an altered value is refused."""

from __future__ import annotations

import base64

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.eventstore import AtRest

pytestmark = pytest.mark.fast

CIPHER = AESCipher(Environment("t", {"CIPHER_KEY": AESCipher.create_key(32)}))


def _at_rest() -> AtRest:
    at_rest = AtRest()
    at_rest.cipher = CIPHER
    return at_rest


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.integers(0, 10_000))
def test_the_library_cipher_and_at_rest_read_each_other(value: str, flip: int) -> None:
    at_rest = _at_rest()
    ours = at_rest.encrypt(value)
    assert ours is not None and ours.startswith(AtRest.PREFIX)
    raw = base64.b64decode(ours[len(AtRest.PREFIX):])
    assert CIPHER.decrypt(raw).decode() == value  # the library reads what we write
    theirs = AtRest.PREFIX + base64.b64encode(CIPHER.encrypt(value.encode())).decode()
    assert at_rest.decrypt(theirs) == value  # and we read what the library wrote
    altered = bytearray(raw)
    altered[flip % len(altered)] ^= 1 + flip % 255
    with pytest.raises(ValueError):
        at_rest.decrypt(AtRest.PREFIX + base64.b64encode(bytes(altered)).decode())


def test_fresh_nonces_and_short_values_refused() -> None:
    at_rest = _at_rest()
    assert at_rest.encrypt("黎阿婆") != at_rest.encrypt("黎阿婆")
    with pytest.raises(ValueError):
        at_rest.decrypt(AtRest.PREFIX + base64.b64encode(b"short").decode())
