"""Offline seal check (印章核验): is FILE exactly what SEAL sealed, by a key on the county's
trust list, valid when it sealed?  No network, no login: the recipient needs the file, its
seal and the trust list the county publishes (`GET /api/disbursement/seals/trust-list`).

    python -m deploy.verify_seal 统计表.pdf 统计表.pdf.ses --trust-list trust-list.json

SEAL is either a GB/T 38540 SES_Signature (DER, as `.../documents/pdf/seal` serves it for
SM2 seals) or a seal as JSON (contracts' Seal; an Ed25519 seal also needs --subject, the
month, and is judged at --sealed-at or now). Exit 0 valid, 1 not valid, 2 unusable input.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import sys
from datetime import datetime
from pathlib import Path

from shared import ses
from shared.seals import TrustList, Verdict, verify_seal, verify_ses


def check(content: bytes, seal: bytes, trust: TrustList, *, subject: str | None = None,
          owner: str | None = None, sealed_at: datetime | None = None) -> Verdict:
    if seal[:1] == b"0":  # a DER SEQUENCE: an SES_Signature
        try:
            parsed = ses.parse(seal)
        except ses.Malformed as e:
            return Verdict(False, "malformed", f"not a GB/T 38540 SES_Signature: {e}")
        return verify_ses(parsed, trust, subject=subject, content=content, owner=owner)
    try:
        wire = json.loads(seal)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Verdict(False, "malformed", "the seal is neither DER nor JSON")
    wire = wire.get("seal", wire)  # a document record holding its seal, or the seal itself
    if owner and "owner" not in wire:
        wire = {**wire, "owner": owner}
    return verify_seal(wire, trust, subject=subject, content=content, owner=owner,
                       sealed_at=sealed_at)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="verify-seal", description=__doc__.split("\n\n")[0])
    p.add_argument("file", type=Path, help="the sealed document")
    p.add_argument("seal", type=Path, help="its seal: SES_Signature DER or JSON")
    p.add_argument("--trust-list", type=Path, required=True,
                   help="the county's seal trust list (JSON)")
    p.add_argument("--subject", help="the month it must seal (YYYY-MM)")
    p.add_argument("--owner", help="the division code that must have sealed it")
    p.add_argument("--sealed-at", type=datetime.fromisoformat,
                   help="when an Ed25519 seal was made (ISO, with offset)")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    args = p.parse_args(argv)
    try:
        trust = TrustList.load(args.trust_list)
        content, seal = args.file.read_bytes(), args.seal.read_bytes()
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"verify-seal: {e}", file=sys.stderr)
        return 2
    if seal[:1] not in (b"0", b"{"):  # a seal saved as base64 text
        with contextlib.suppress(ValueError):
            seal = base64.b64decode(seal, validate=True)
    verdict = check(content, seal, trust, subject=args.subject, owner=args.owner,
                    sealed_at=args.sealed_at)
    if args.json:
        print(json.dumps(verdict.to_wire(), ensure_ascii=False, indent=2))
    elif verdict.valid:
        print(f"有效 valid: {args.file.name} sealed by {verdict.owner_name} ({verdict.owner}) "
              f"for {verdict.subject} ({verdict.document_kind}), {verdict.algorithm} key "
              f"{verdict.key_id}, at {verdict.sealed_at}")
    else:
        print(f"无效 NOT valid: {verdict.code}: {verdict.reason}")
    return 0 if verdict.valid else 1


if __name__ == "__main__":
    sys.exit(main())
