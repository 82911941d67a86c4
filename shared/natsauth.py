"""NATS authentication and authorization: one NKey user per service, and what each may do.

A service may publish only its own subjects (`sa.<region>.<svc>.>`) and its own dead letters
(`sa.<region>.deadletter.<svc>.>`), create (never update or delete) its own stream and the
dead-letter stream, read only the streams it consumes through its own durable consumers, and
receive replies only on its own inbox prefix (`_INBOX_<svc>.>`), so it cannot read another
client's deliveries. The finance bureau reads fund-plan subjects through its durable consumer
and publishes nothing on the bus (it acknowledges through disbursement's API). An `admin`
user/password (operator tools, tests) has no limits. Signatures (shared/signing.py) still
guard every envelope: credentials let one publish, not sign.

Files under `<keys>/nats/`: `<user>.nk` (the NKey seed, 0600) for every service and the
finance bureau, `admin.password`, and the server's `auth.conf` (public keys, permissions and
the admin password, 0600), made by
`ensure_nats_credentials` (deploy.local, tests) or deploy/compose/make_secrets.py.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.files import write_private

# Who consumes whose stream (each service's reactions; tests/deploy checks they agree).
UPSTREAMS: dict[str, tuple[str, ...]] = {
    "intake": ("review",),
    "review": ("intake", "publicity"),
    "publicity": ("review",),
    "disbursement": ("review",),
    "archive": ("intake", "review", "publicity", "disbursement", "archive"),
}
FINANCE_BUREAU = "finance-bureau"
FUND_PLAN_TYPES = ("fund_plan_issued", "fund_plan_acknowledged")
ADMIN = "admin"
NATS_DIR = "nats"

_PREFIX_SEED = 18 << 3  # 'S'
_PREFIX_USER = 20 << 3  # 'U'


def _crc16(data: bytes) -> int:  # CRC-16/XMODEM, as NKeys use
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _encode(payload: bytes) -> str:
    raw = payload + _crc16(payload).to_bytes(2, "little")
    return base64.b32encode(raw).decode().rstrip("=")


def new_user_seed() -> str:
    """A user NKey seed (`SU…`), the format nats-server and nats-py's `nkeys_seed` read."""
    raw = secrets.token_bytes(32)
    return _encode(bytes([_PREFIX_SEED | (_PREFIX_USER >> 5), (_PREFIX_USER & 31) << 3]) + raw)


def public_key_of(seed: str) -> str:
    """The user's public NKey (`U…`), what the server config lists."""
    data = base64.b32decode(seed + "=" * (-len(seed) % 8))
    payload, crc = data[:-2], int.from_bytes(data[-2:], "little")
    if _crc16(payload) != crc or len(payload) != 34:
        raise ValueError("not an NKey seed")
    key = Ed25519PrivateKey.from_private_bytes(payload[2:])
    public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    return _encode(bytes([_PREFIX_USER]) + public)


def inbox_prefix(user: str) -> str:
    return f"_INBOX_{user.replace('.', '_')}"


def _stream(region: str, service: str) -> str:
    return f"SA_{region}_{service.upper()}"


def service_permissions(service: str, region: str) -> dict[str, Any]:
    own, dead = _stream(region, service), f"SA_{region}_DEADLETTER"
    api = "$JS.API"
    publish = [
        f"sa.{region}.{service}.>", f"sa.{region}.deadletter.{service}.>",
        f"{api}.INFO",
        f"{api}.STREAM.CREATE.{own}", f"{api}.STREAM.CREATE.{dead}",
        f"{api}.STREAM.INFO.{own}", f"{api}.STREAM.INFO.{dead}",
        f"{api}.STREAM.MSG.GET.{own}",  # the relay's duplicate check
        f"{api}.STREAM.MSG.GET.{dead}",  # GET /ops/dead-letters
    ]
    for upstream in UPSTREAMS.get(service, ()):
        stream, durable = _stream(region, upstream), f"{service}-from-{upstream}"
        publish += [
            f"{api}.STREAM.INFO.{stream}",
            f"{api}.CONSUMER.CREATE.{stream}.{durable}",
            f"{api}.CONSUMER.CREATE.{stream}.{durable}.>",
            f"{api}.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
            f"{api}.CONSUMER.INFO.{stream}.{durable}",
            f"{api}.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        ]
        if service == "archive":  # its read-model rebuild replays every stream
            publish += [f"{api}.CONSUMER.CREATE.{stream}", f"{api}.CONSUMER.CREATE.{stream}.>",
                        f"{api}.CONSUMER.MSG.NEXT.{stream}.*", f"$JS.ACK.{stream}.*.>"]
    return {"publish": {"allow": sorted(set(publish))},
            "subscribe": {"allow": [f"{inbox_prefix(service)}.>"]}}


def finance_permissions(region: str) -> dict[str, Any]:
    stream, durable, api = _stream(region, "disbursement"), FINANCE_BUREAU, "$JS.API"
    subjects = [f"sa.{region}.disbursement.{t}" for t in FUND_PLAN_TYPES]
    publish = [f"{api}.INFO", f"{api}.STREAM.INFO.{stream}",
               f"{api}.CONSUMER.INFO.{stream}.{durable}",
               f"{api}.CONSUMER.MSG.NEXT.{stream}.{durable}", f"$JS.ACK.{stream}.{durable}.>",
               *(f"{api}.CONSUMER.CREATE.{stream}.{durable}.{s}" for s in subjects)]
    return {"publish": {"allow": publish},
            "subscribe": {"allow": [f"{inbox_prefix(FINANCE_BUREAU)}.>"]}}


def server_auth_config(region: str, seeds: dict[str, str], admin_password: str) -> str:
    """The `authorization` block: public keys and permissions, and the operator's password
    (the file is a secret for that reason)."""
    users: list[dict[str, Any]] = [{"user": ADMIN, "password": admin_password}]
    for user, seed in sorted(seeds.items()):
        users.append({"nkey": public_key_of(seed), "permissions": (
            finance_permissions(region) if user == FINANCE_BUREAU
            else service_permissions(user, region))})
    return ("# Generated by shared/natsauth.py: one NKey user per service.\n"
            f"authorization {{\n  users = {json.dumps(users, indent=2)}\n}}\n")


def seed_path(keys_dir: Path, user: str) -> Path:
    return keys_dir / NATS_DIR / f"{user}.nk"


def _write(path: Path, text: str, *, replace: bool) -> None:
    write_private(path, text, replace=replace)  # not replacing: another process made it first


def admin_password_path(keys_dir: Path) -> Path:
    return keys_dir / NATS_DIR / f"{ADMIN}.password"


def admin_url(url: str, keys_dir: Path) -> str:
    """`nats://admin:<password>@host:port`: for operator tools and tests."""
    password = admin_password_path(keys_dir).read_text().strip()
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{ADMIN}:{password}@{rest}"


def ensure_nats_credentials(keys_dir: Path, region: str, services: Iterable[str]) -> Path:
    """Make every user's seed once (services, finance bureau) and the admin password, and
    write the server's `auth.conf`; returns its path."""
    seeds: dict[str, str] = {}
    for user in (*services, FINANCE_BUREAU):
        path = seed_path(keys_dir, user)
        if not path.exists():
            _write(path, new_user_seed() + "\n", replace=False)
        seeds[user] = path.read_text().strip()
    admin = admin_password_path(keys_dir)
    if not admin.exists():
        _write(admin, secrets.token_hex(24) + "\n", replace=False)
    conf = keys_dir / NATS_DIR / "auth.conf"
    _write(conf, server_auth_config(region, seeds, admin.read_text().strip()), replace=True)
    return conf
