"""JWT bearer verification, the Principal, and role / jurisdiction checks.

Production verifies against a JWKS URL or a public key file (EdDSA, ES256 or RS256).
Locally an Ed25519 key pair is generated under ./var/keys and `make up` prints dev tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request

from shared.errors import DomainError, Forbidden
from shared.files import write_private

ALGORITHMS = ["EdDSA", "ES256", "RS256"]


class Role(StrEnum):
    VILLAGE_ASSISTANT = "village_assistant"  # 村(居)民政协管员
    TOWNSHIP_CLERK = "township_clerk"  # 乡镇社会事务服务中心经办人
    TOWNSHIP_REVIEWER = "township_reviewer"  # 审核确认小组成员
    TOWNSHIP_LEADER = "township_leader"  # 乡镇分管领导 / 组长
    CONTRACTOR_INVESTIGATOR = "contractor_investigator"  # 政府购买服务承接方
    COUNTY_CENTRE = "county_centre"  # 县民政事务服务中心
    COUNTY_BUREAU = "county_bureau"  # 县民政局
    DISCIPLINE_INSPECTOR = "discipline_inspector"  # 纪委监委
    FINANCE_BUREAU = "finance_bureau"  # 县财政局
    PUBLIC = "public"  # an applicant or any member of the public


COUNTY_ROLES = frozenset({Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR,
                          Role.FINANCE_BUREAU})
TOWNSHIP_ROLES = frozenset({Role.VILLAGE_ASSISTANT, Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER,
                            Role.TOWNSHIP_LEADER, Role.CONTRACTOR_INVESTIGATOR})


class Unauthenticated(DomainError):
    status = 401


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role
    township: str | None = None
    village: str | None = None
    org: str | None = None  # a contractor's organisation
    name: str | None = None  # display name, from the token's "name" claim

    def actor(self) -> dict[str, str | None]:
        """The audit's "who", stored in every domain event this principal causes. Name and
        organisation only when known, so earlier events and their envelopes keep their form."""
        who = {"user_id": self.user_id, "role": self.role.value, "township": self.township,
               "village": self.village}
        return {**who, **{k: v for k, v in (("name", self.name), ("org", self.org)) if v}}

    @property
    def is_county(self) -> bool:
        return self.role in COUNTY_ROLES

    def may_act_in(self, township: str, village: str | None = None) -> bool:
        if self.is_county:
            return True
        if self.role is Role.PUBLIC or self.township != township:
            return False
        if self.role is Role.VILLAGE_ASSISTANT:
            return village is not None and village == self.village
        return True

    def check_jurisdiction(self, township: str, village: str | None = None) -> None:
        if not self.may_act_in(township, village):
            raise Forbidden("auth.jurisdiction", "outside the caller's jurisdiction",
                            field="township")


class TokenVerifier:
    def __init__(self, *, issuer: str, audience: str, public_key_file: Path | None = None,
                 jwks_url: str | None = None) -> None:
        self.issuer, self.audience = issuer, audience
        self._jwks = jwt.PyJWKClient(jwks_url) if jwks_url else None
        self._key = None
        if self._jwks is None:
            if public_key_file is None or not public_key_file.exists():
                raise RuntimeError("no public key file or JWKS URL for token verification")
            self._key = serialization.load_pem_public_key(public_key_file.read_bytes())

    def verify(self, token: str) -> Principal:
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._key
            claims = jwt.decode(
                token, key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "role"]},
            )
        except jwt.PyJWTError as e:
            raise Unauthenticated("auth.invalid_token", f"invalid token: {e}") from None
        try:
            role = Role(claims["role"])
        except ValueError:
            raise Unauthenticated("auth.unknown_role", "token names an unknown role") from None
        township = claims.get("township")
        if role in TOWNSHIP_ROLES and not township:
            raise Unauthenticated("auth.missing_township", "township role without a township")
        if role is Role.VILLAGE_ASSISTANT and not claims.get("village"):
            raise Unauthenticated("auth.missing_village", "village assistant without a village")
        return Principal(user_id=str(claims["sub"]), role=role, township=township,
                         village=claims.get("village"), org=claims.get("org"),
                         name=claims.get("name"))


class TokenIssuer:
    """Mints tokens with a local private key: development and tests only."""

    def __init__(self, private_key_file: Path, issuer: str, audience: str) -> None:
        self._key = serialization.load_pem_private_key(private_key_file.read_bytes(), None)
        self.issuer, self.audience = issuer, audience

    def mint(self, user_id: str, role: Role | str, township: str | None = None,
             village: str | None = None, org: str | None = None, ttl_s: int = 8 * 3600,
             **extra: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"sub": user_id, "role": str(role), "iss": self.issuer,
                                  "aud": self.audience, "iat": now, "exp": now + ttl_s, **extra}
        for k, v in (("township", township), ("village", village), ("org", org)):
            if v:
                claims[k] = v
        return jwt.encode(claims, self._key, algorithm="EdDSA")


def ensure_dev_keypair(keys_dir: Path) -> tuple[Path, Path]:
    """Create the local Ed25519 signing pair once; later starts reuse it."""
    private, public = keys_dir / "jwt-ed25519.pem", keys_dir / "jwt-ed25519.pub.pem"
    if not private.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        write_private(private, key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
        public.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def authenticated(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("auth.missing_token", "a bearer token is required")
    principal = request.app.state.verifier.verify(token.strip())
    request.state.principal = principal
    return principal


def require(*roles: Role) -> Callable[..., Principal]:
    """FastAPI dependency: the caller must hold one of `roles`."""
    allowed = frozenset(roles)

    def dependency(principal: Principal = Depends(authenticated)) -> Principal:
        if principal.role not in allowed:
            raise Forbidden("auth.role", f"role {principal.role.value} may not do this",
                            field="role")
        return principal

    return dependency
