"""JWT bearer verification, the Principal, and role / jurisdiction checks.

Production verifies against a JWKS URL or a public key file (EdDSA, ES256 or RS256).
Locally an Ed25519 key pair is generated under ./var/keys and `make up` prints dev tokens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from fastapi import Depends, Request

from shared.contracts.envelope import Actor
from shared.errors import DomainError, Forbidden
from shared.files import write_private
from shared.regions import County

ALGORITHMS = ["EdDSA", "ES256", "RS256"]


def algorithm_for(key: Any) -> str:
    """The one algorithm a verification key is for: a token whose header names another is
    refused, never handed to a verifier that cannot use the key (PyJWT raises TypeError)."""
    if isinstance(key, Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, EllipticCurvePublicKey):
        return "ES256"
    if isinstance(key, RSAPublicKey):
        return "RS256"
    raise RuntimeError(f"unsupported token verification key {type(key).__name__}")


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
ROLE_LABELS = {
    Role.VILLAGE_ASSISTANT: "村(居)民政协管员", Role.TOWNSHIP_CLERK: "乡镇社会事务服务中心经办人",
    Role.TOWNSHIP_REVIEWER: "审核确认小组成员", Role.TOWNSHIP_LEADER: "乡镇分管领导",
    Role.CONTRACTOR_INVESTIGATOR: "政府购买服务承接方", Role.COUNTY_CENTRE: "县民政事务服务中心",
    Role.COUNTY_BUREAU: "县民政局", Role.DISCIPLINE_INSPECTOR: "纪委监委",
    Role.FINANCE_BUREAU: "县财政局", Role.PUBLIC: "申请人或公众",
}
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

    def as_actor(self) -> Actor:
        """The same "who" as a typed value, for the domain's signatures."""
        return Actor.of(self.actor())

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
                 jwks_url: str | None = None, county: County | None = None) -> None:
        self.issuer, self.audience = issuer, audience
        # The county's register: a township or village claim outside it is refused.
        self.county = county
        self._jwks = jwt.PyJWKClient(jwks_url) if jwks_url else None
        self._key = None
        if self._jwks is None:
            if public_key_file is None or not public_key_file.exists():
                raise RuntimeError("no public key file or JWKS URL for token verification")
            self._key = serialization.load_pem_public_key(public_key_file.read_bytes())
            self._algorithm = algorithm_for(self._key)

    @property
    def local(self) -> bool:
        """Verifies with a key at hand, never over the network (a JWKS may need a fetch)."""
        return self._jwks is None

    def verify(self, token: str) -> Principal:
        try:
            if self._jwks:
                signing = self._jwks.get_signing_key_from_jwt(token)
                key, algorithm = signing.key, signing.algorithm_name
            else:
                key, algorithm = self._key, self._algorithm
            if jwt.get_unverified_header(token).get("alg") != algorithm:
                raise jwt.InvalidAlgorithmError(f"the token's algorithm is not {algorithm}")
            claims = jwt.decode(
                token, key, algorithms=[algorithm], audience=self.audience, issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "role"]},
            )
        except jwt.PyJWTError as e:
            raise Unauthenticated("auth.invalid_token", f"invalid token: {e}") from None
        except Exception:  # a hostile header or claims set: whatever PyJWT raises is a 401
            raise Unauthenticated("auth.invalid_token", "invalid token: malformed") from None
        if not isinstance(claims.get("role"), str) or not isinstance(claims.get("sub"),
                                                                     str | int):
            raise Unauthenticated("auth.invalid_token", "invalid token: malformed claims")
        try:
            role = Role(claims["role"])
        except ValueError:
            raise Unauthenticated("auth.unknown_role", "token names an unknown role") from None
        township, village = claims.get("township"), claims.get("village")
        for k in ("township", "village", "org", "name"):
            if claims.get(k) is not None and not isinstance(claims[k], str):
                raise Unauthenticated("auth.invalid_token", f"invalid token: {k} is not text")
        if role in TOWNSHIP_ROLES and not township:
            raise Unauthenticated("auth.missing_township", "township role without a township")
        if role is Role.VILLAGE_ASSISTANT and not village:
            raise Unauthenticated("auth.missing_village", "village assistant without a village")
        self._check_register(township, village)
        return Principal(user_id=str(claims["sub"]), role=role, township=township,
                         village=village, org=claims.get("org"), name=claims.get("name"))

    def _check_register(self, township: str | None, village: str | None) -> None:
        if self.county is None:
            return
        if township and township not in self.county.township_codes:
            raise Unauthenticated("auth.unknown_township",
                                  f"the token's township is not in {self.county.name}")
        if village and not (township and self.county.is_village_of(village, township)):
            raise Unauthenticated("auth.unknown_village",
                                  "the token's village is not in its township")


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


async def authenticated(request: Request) -> Principal:
    # async, so FastAPI runs it on the event loop: a sync dependency costs a thread-pool
    # round trip per request. A local key verifies in ~0.1 ms; a JWKS lookup may fetch.
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("auth.missing_token", "a bearer token is required")
    verifier = request.app.state.verifier
    principal = (verifier.verify(token.strip()) if verifier.local
                 else await asyncio.to_thread(verifier.verify, token.strip()))
    request.state.principal = principal
    return principal


def require(*roles: Role) -> Callable[..., Principal]:
    """FastAPI dependency: the caller must hold one of `roles`."""
    allowed = frozenset(roles)

    async def dependency(principal: Principal = Depends(authenticated)) -> Principal:
        if principal.role not in allowed:
            raise Forbidden("auth.role", f"role {principal.role.value} may not do this",
                            field="role")
        return principal

    dependency.roles = allowed  # type: ignore[attr-defined]  # read by shared.openapi
    return dependency


def roles_of(dependant: Any) -> frozenset[Role] | None:
    """The roles an endpoint's dependencies let through (None: no token needed), so the
    API documents exactly what `require(...)` enforces."""
    found: frozenset[Role] | None = None
    for d in dependant.dependencies:
        roles = getattr(d.call, "roles", None)
        if roles is None and d.call is authenticated:
            roles = frozenset(Role)
        inner = roles_of(d)
        for r in (roles, inner):
            if r is not None:
                found = r if found is None else found & r
    return found
