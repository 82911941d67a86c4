"""Tests for shared.auth: token verification against forged and malformed tokens, and the
Principal's jurisdiction rule. Pure: no service, no network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from shared.auth import (
    Principal,
    Role,
    TokenIssuer,
    TokenVerifier,
    Unauthenticated,
    ensure_dev_keypair,
)
from shared.errors import Forbidden

pytestmark = pytest.mark.fast

ISS, AUD = "lingshui-dev", "social-assistance"
YELIN, GUANGPO = "469028100", "469028101"  # 椰林镇, 光坡镇
TAOYUAN, OTHER_VILLAGE = "469028100201", "469028100202"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "clerk-1", "role": "township_clerk", "township": YELIN, "iss": ISS,
            "aud": AUD, "iat": now, "exp": now + 600, **overrides}


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return (b64url(json.dumps(header).encode()) + "."
            + b64url(json.dumps(payload).encode()))


@pytest.fixture(scope="module")
def verifier(keys_dir: Path) -> TokenVerifier:
    return TokenVerifier(issuer=ISS, audience=AUD,
                         public_key_file=keys_dir / "jwt-ed25519.pub.pem")


@pytest.fixture(scope="module")
def forger(tmp_path_factory: pytest.TempPathFactory) -> TokenIssuer:
    """Same issuer and audience, but ANOTHER Ed25519 key."""
    other = tmp_path_factory.mktemp("other-keys")
    private, _ = ensure_dev_keypair(other)
    return TokenIssuer(private, ISS, AUD)


def rejected(verifier: TokenVerifier, token: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token)
    e = caught.value
    assert e.code.startswith("auth."), e.code
    assert e.status == 401
    return e


# --- tokens ---------------------------------------------------------------------------------


def test_a_valid_token_gives_the_principal(verifier: TokenVerifier, issuer: TokenIssuer) -> None:
    token = issuer.mint("va-1", Role.VILLAGE_ASSISTANT, YELIN, TAOYUAN)
    assert verifier.verify(token) == Principal(
        user_id="va-1", role=Role.VILLAGE_ASSISTANT, township=YELIN, village=TAOYUAN)


def test_a_county_role_needs_no_township(verifier: TokenVerifier, issuer: TokenIssuer) -> None:
    p = verifier.verify(issuer.mint("bureau-1", Role.COUNTY_BUREAU))
    assert p.role is Role.COUNTY_BUREAU and p.township is None and p.is_county


def test_an_expired_token_is_rejected(verifier: TokenVerifier, issuer: TokenIssuer) -> None:
    e = rejected(verifier, issuer.mint("clerk-1", Role.TOWNSHIP_CLERK, YELIN, ttl_s=-30))
    assert e.code == "auth.invalid_token"
    assert "expired" in e.message.lower()


def test_a_token_for_another_audience_is_rejected(verifier: TokenVerifier,
                                                  keys_dir: Path) -> None:
    other = TokenIssuer(keys_dir / "jwt-ed25519.pem", ISS, "some-other-system")
    e = rejected(verifier, other.mint("clerk-1", Role.TOWNSHIP_CLERK, YELIN))
    assert e.code == "auth.invalid_token"
    assert "audience" in e.message.lower()


def test_a_token_from_another_issuer_is_rejected(verifier: TokenVerifier,
                                                 keys_dir: Path) -> None:
    other = TokenIssuer(keys_dir / "jwt-ed25519.pem", "someone-else", AUD)
    e = rejected(verifier, other.mint("clerk-1", Role.TOWNSHIP_CLERK, YELIN))
    assert e.code == "auth.invalid_token"
    assert "issuer" in e.message.lower()


def test_a_token_signed_by_another_key_is_rejected(verifier: TokenVerifier,
                                                   forger: TokenIssuer) -> None:
    e = rejected(verifier, forger.mint("clerk-1", Role.TOWNSHIP_CLERK, YELIN))
    assert e.code == "auth.invalid_token"


def test_a_genuine_signature_on_altered_claims_is_rejected(verifier: TokenVerifier,
                                                           issuer: TokenIssuer) -> None:
    header, _, signature = issuer.mint("clerk-1", Role.TOWNSHIP_CLERK, YELIN).split(".")
    promoted = b64url(json.dumps(claims(role="county_bureau")).encode())
    e = rejected(verifier, f"{header}.{promoted}.{signature}")
    assert e.code == "auth.invalid_token"


def test_the_hand_built_claims_pass_when_properly_signed(verifier: TokenVerifier,
                                                         keys_dir: Path) -> None:
    """Control for the crafted tokens below: only their signing makes them fail."""
    key = serialization.load_pem_private_key((keys_dir / "jwt-ed25519.pem").read_bytes(), None)
    p = verifier.verify(jwt.encode(claims(role="county_bureau"), key, algorithm="EdDSA"))
    assert p.role is Role.COUNTY_BUREAU


def test_an_alg_none_token_is_rejected(verifier: TokenVerifier) -> None:
    token = unsigned({"alg": "none", "typ": "JWT"}, claims(role="county_bureau")) + "."
    e = rejected(verifier, token)
    assert e.code == "auth.invalid_token"


def test_hs256_signed_with_the_public_key_is_rejected(verifier: TokenVerifier,
                                                      keys_dir: Path) -> None:
    """Algorithm confusion: the attacker knows the public key and uses it as an HMAC secret."""
    secret = (keys_dir / "jwt-ed25519.pub.pem").read_bytes()
    signing_input = unsigned({"alg": "HS256", "typ": "JWT"}, claims(role="county_bureau"))
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    e = rejected(verifier, f"{signing_input}.{b64url(mac)}")
    assert e.code == "auth.invalid_token"


@pytest.mark.parametrize("header", [
    {"alg": "RS256", "typ": "JWT"}, {"alg": "ES256", "typ": "JWT"}, {"alg": "PS256"},
    {"alg": "HS384"}, {"alg": ["EdDSA"]}, {"alg": None}, {"typ": "JWT"},
    {"alg": "EdDSA", "kid": {"x": 1}}, {"alg": "EdDSA", "crit": ["exp"]},
])
def test_a_header_naming_another_algorithm_or_malformed_is_rejected(
        verifier: TokenVerifier, header: dict[str, Any]) -> None:
    token = unsigned(header, claims(role="county_bureau")) + "." + b64url(b"s" * 64)
    assert rejected(verifier, token).code == "auth.invalid_token"


@pytest.mark.parametrize("token", [b64url(b"[1]") + ".e30.eA", b64url(b"\xff") + ".e30.eA",
                                   "e30." + b64url(b"[1]") + ".eA", "...", "a" * 5000])
def test_a_token_that_is_not_a_jwt_is_rejected(verifier: TokenVerifier, token: str) -> None:
    assert rejected(verifier, token).code == "auth.invalid_token"


def test_claims_of_the_wrong_type_are_rejected(verifier: TokenVerifier, keys_dir: Path) -> None:
    key = serialization.load_pem_private_key((keys_dir / "jwt-ed25519.pem").read_bytes(), None)
    for bad in ({"role": ["county_bureau"]}, {"township": 469028100}, {"sub": {"a": 1}}):
        rejected(verifier, jwt.encode(claims(**bad), key, algorithm="EdDSA"))


@pytest.fixture(scope="module")
def county_verifier(keys_dir: Path) -> TokenVerifier:
    from shared.regions import load_county
    return TokenVerifier(issuer=ISS, audience=AUD, county=load_county("469028"),
                         public_key_file=keys_dir / "jwt-ed25519.pub.pem")


@pytest.mark.parametrize(("township", "village", "code"), [
    ("469027100", None, "auth.unknown_township"),  # another county's township
    ("469028199", None, "auth.unknown_township"),  # no such township here
    ("椰林镇", None, "auth.unknown_township"),  # a name, not a code
    (YELIN, "469028101201", "auth.unknown_village"),  # a village of 光坡镇
    (YELIN, "469028100999", "auth.unknown_village"),  # not in the register
])
def test_a_claim_outside_the_county_register_is_rejected(
        county_verifier: TokenVerifier, issuer: TokenIssuer, township: str,
        village: str | None, code: str) -> None:
    role = Role.VILLAGE_ASSISTANT if village else Role.TOWNSHIP_CLERK
    assert rejected(county_verifier, issuer.mint("x", role, township, village)).code == code


def test_claims_inside_the_county_register_pass(county_verifier: TokenVerifier,
                                                issuer: TokenIssuer) -> None:
    assert county_verifier.verify(issuer.mint("va", Role.VILLAGE_ASSISTANT, YELIN, TAOYUAN))
    assert county_verifier.verify(issuer.mint("b", Role.COUNTY_BUREAU)).township is None


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "Bearer x.y.z"])
def test_garbage_is_rejected(verifier: TokenVerifier, token: str) -> None:
    assert rejected(verifier, token).code == "auth.invalid_token"


@pytest.mark.parametrize("missing", ["exp", "sub", "role"])
def test_a_token_missing_a_required_claim_is_rejected(verifier: TokenVerifier, keys_dir: Path,
                                                      missing: str) -> None:
    key = serialization.load_pem_private_key((keys_dir / "jwt-ed25519.pem").read_bytes(), None)
    body = {k: v for k, v in claims().items() if k != missing}
    e = rejected(verifier, jwt.encode(body, key, algorithm="EdDSA"))
    assert e.code == "auth.invalid_token"


def test_an_unknown_role_is_rejected(verifier: TokenVerifier, issuer: TokenIssuer) -> None:
    e = rejected(verifier, issuer.mint("x", "superuser", YELIN))
    assert e.code == "auth.unknown_role"


@pytest.mark.parametrize("role", [Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER,
                                  Role.TOWNSHIP_LEADER, Role.CONTRACTOR_INVESTIGATOR,
                                  Role.VILLAGE_ASSISTANT])
def test_a_township_role_without_a_township_is_rejected(verifier: TokenVerifier,
                                                        issuer: TokenIssuer, role: Role) -> None:
    e = rejected(verifier, issuer.mint("x", role, None, TAOYUAN))
    assert e.code == "auth.missing_township"


def test_a_village_assistant_without_a_village_is_rejected(verifier: TokenVerifier,
                                                           issuer: TokenIssuer) -> None:
    e = rejected(verifier, issuer.mint("va-1", Role.VILLAGE_ASSISTANT, YELIN))
    assert e.code == "auth.missing_village"


# --- jurisdiction ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.COUNTY_CENTRE, Role.COUNTY_BUREAU,
                                  Role.DISCIPLINE_INSPECTOR, Role.FINANCE_BUREAU])
def test_county_roles_may_act_anywhere(role: Role) -> None:
    p = Principal("county-1", role)
    assert p.may_act_in(YELIN) and p.may_act_in(GUANGPO, "469028101201")


def test_a_township_role_may_act_only_in_its_township() -> None:
    clerk = Principal("clerk-gp", Role.TOWNSHIP_CLERK, township=GUANGPO)
    assert clerk.may_act_in(GUANGPO) and clerk.may_act_in(GUANGPO, "469028101201")
    assert not clerk.may_act_in(YELIN)
    assert not clerk.may_act_in(YELIN, TAOYUAN)


def test_a_village_assistant_may_act_only_in_its_village() -> None:
    va = Principal("va-1", Role.VILLAGE_ASSISTANT, township=YELIN, village=TAOYUAN)
    assert va.may_act_in(YELIN, TAOYUAN)
    assert not va.may_act_in(YELIN, OTHER_VILLAGE)
    assert not va.may_act_in(YELIN)  # a township-wide act is beyond a village
    assert not va.may_act_in(GUANGPO, TAOYUAN)


def test_the_public_may_act_nowhere() -> None:
    assert not Principal("anyone", Role.PUBLIC).may_act_in(YELIN)
    assert not Principal("anyone", Role.PUBLIC, township=YELIN, village=TAOYUAN).may_act_in(
        YELIN, TAOYUAN)


def test_check_jurisdiction_raises_forbidden_with_a_stable_code() -> None:
    with pytest.raises(Forbidden) as caught:
        Principal("clerk-gp", Role.TOWNSHIP_CLERK, township=GUANGPO).check_jurisdiction(YELIN)
    assert caught.value.code == "auth.jurisdiction" and caught.value.status == 403
