"""The county's seal authority (印章管理): provision, rotate and revoke the townships' and
the county's seal keys, and export the trust list to hand to recipients for offline checks.
It works on the seal key directory the services read (DISBURSEMENT_SEAL_KEYS_DIR /
ARCHIVE_SEAL_KEYS_DIR); services pick up a rotated key at their next seal. See
docs/operations.md, "Seal keys and the trust list".

    python -m deploy.seal_authority --dir var/keys/seals provision 469028100
    python -m deploy.seal_authority --dir var/keys/seals rotate 469028100
    python -m deploy.seal_authority --dir var/keys/seals revoke KEY_ID --reason "U盾遗失"
    python -m deploy.seal_authority --dir var/keys/seals export trust-list.json
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from shared.regions import load_county
from shared.seals import ALGORITHMS, SealAuthority, owner_names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="seal-authority", description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", type=Path, required=True, help="the seal key directory")
    p.add_argument("--region", default="469028", help="the county's division code")
    p.add_argument("--algorithm", choices=ALGORITHMS, default="sm2")
    p.add_argument("--at", type=datetime.fromisoformat, default=None,
                   help="when the change takes effect (ISO with offset; default now)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("enroll", help="list key files the trust list does not hold yet")
    for name in ("provision", "rotate"):
        sub.add_parser(name).add_argument("owners", nargs="*",
                                          help="division codes (default: all of the county)")
    revoke = sub.add_parser("revoke")
    revoke.add_argument("key_id")
    revoke.add_argument("--reason", required=True)
    sub.add_parser("export").add_argument("out", type=Path)
    args = p.parse_args(argv)
    county = load_county(args.region)
    authority = SealAuthority(args.dir, county.code, owner_names(county))
    at = args.at or datetime.now(UTC)
    owners = getattr(args, "owners", None) or [county.code,
                                               *(t.code for t in county.townships)]
    if args.command == "enroll":
        print(f"listed {authority.enroll(at) or 'nothing new'}")
    elif args.command == "provision":
        for owner in owners:
            made = authority.provision(owner, args.algorithm, at)
            print(f"{owner}: {'made' if made else 'already has'} a {args.algorithm} key")
    elif args.command == "rotate":
        for owner in owners:
            entry = authority.rotate(owner, args.algorithm, at)
            print(f"{owner}: new {args.algorithm} key {entry.key_id} from {entry.valid_from}")
    elif args.command == "revoke":
        entry = authority.revoke(args.key_id, at, args.reason)
        print(f"{entry.key_id} of {entry.owner} revoked at {entry.revoked_at}; rotate "
              f"{entry.owner} to give it a new key")
    else:
        args.out.write_bytes(authority.trust_list().to_json())
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
