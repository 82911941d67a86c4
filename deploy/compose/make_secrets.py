"""Generate the production key files for one county, once, into a directory that never
leaves the operator's machine (and is never committed or sent to a docker build).

    .venv/bin/python deploy/compose/make_secrets.py deploy/compose/secrets   # compose
    .venv/bin/python deploy/compose/make_secrets.py deploy/k8s/secrets       # Kustomize

Writes, each 0600, never overwriting a file that exists (a lost at-rest key is lost data):
- `postgres-password`, `<svc>-db-password`: random, URL-safe (they go into database URLs);
- `<svc>-database-url`: postgresql+psycopg://<svc>:<password>@<host>:5432/<svc> (Kubernetes);
- `db-passwords.env`: LINGSHUI_<SVC>_DB_PASSWORD=… for `docker compose --env-file`;
- `<svc>-at-rest.key`: the AES-256 key of that service's event store (encryption at rest);
- `bus-keyring.json`: the keyring that seals resident IDs on the bus (one per county);
- `bus-signing/<svc>.ed25519.pem`, `bus-trust.json`: each service's envelope-signing key
  and every service's public keys (shared/signing.py);
- `nats/<svc>.nk`, `nats/finance-bureau.nk`, `nats/admin.password`, `nats/auth.conf`: one
  NATS user per service, the finance bureau's read-only user, the operator's, and the
  server's users and permissions (shared/natsauth.py);
- `seals/<code>.sm2.pem`, `seals/trust-list.json`: the electronic-seal (电子印章) SM2
  signing keys (shared/seals.py), one for the county and one per township, and the county's
  trust list of their public keys (publish it; rotate with deploy/seal_authority.py), used
  by disbursement (statistics, fund plan) and archive (the monthly filing). Made here, not
  by the replicas: two replicas creating their own key for the same township would sign
  with different seals.
The token-verifying `jwt-public.pem` comes from the identity provider: copy it in.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from eventsourcing.cryptography import AESCipher  # noqa: E402

from shared.contracts.common import SERVICES  # noqa: E402
from shared.fieldcrypt import Keyring  # noqa: E402
from shared.files import write_private  # noqa: E402
from shared.natsauth import ensure_nats_credentials  # noqa: E402
from shared.regions import load_county  # noqa: E402
from shared.seals import SealAuthority, owner_names  # noqa: E402
from shared.signing import ensure_bus_keys  # noqa: E402


def write_once(path: Path, text: str) -> bool:
    return write_private(path, text, replace=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--pg-host", default="postgres", help="PostgreSQL host in the URLs")
    parser.add_argument("--keyring-kid", default="bus-1", help="id of the first sealing key")
    parser.add_argument("--region", default="469028", help="county division code")
    args = parser.parse_args(argv)
    out: Path = args.directory
    out.mkdir(mode=0o700, parents=True, exist_ok=True)

    made: list[str] = []

    def once(name: str, text: str) -> None:
        if write_once(out / name, text):
            made.append(name)

    once("postgres-password", secrets.token_hex(24))
    passwords: dict[str, str] = {}
    for service in SERVICES:
        once(f"{service}-db-password", secrets.token_hex(24))
        passwords[service] = (out / f"{service}-db-password").read_text().strip()
        once(f"{service}-database-url", f"postgresql+psycopg://{service}:{passwords[service]}"
                                        f"@{args.pg_host}:5432/{service}")
        once(f"{service}-at-rest.key", AESCipher.create_key(num_bytes=32))
    once("db-passwords.env", "".join(f"LINGSHUI_{s.upper()}_DB_PASSWORD={p}\n"
                                     for s, p in passwords.items()))
    once("bus-keyring.json", Keyring.generate(args.keyring_kid).to_json())
    if not (out / "bus-trust.json").exists():
        made.append("bus-signing/, bus-trust.json")
    ensure_bus_keys(out, SERVICES)  # never replaces a key; re-lists kids already trusted
    if not (out / "nats" / "auth.conf").exists():
        made.append("nats/")
    ensure_nats_credentials(out, args.region, SERVICES)
    county = load_county(args.region)
    (out / "seals").mkdir(mode=0o700, exist_ok=True)
    authority = SealAuthority(out / "seals", county.code, owner_names(county))
    for owner in (county.code, *(t.code for t in county.townships)):
        if authority.provision(owner, "sm2", datetime.now(UTC)):
            made.append(f"seals/{owner}.sm2.pem")
    print(f"{out}: made {', '.join(made) or 'nothing (all present)'}")
    if not (out / "jwt-public.pem").exists():
        print(f"{out}: copy the identity provider's token-signing public key to "
              f"{out / 'jwt-public.pem'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
