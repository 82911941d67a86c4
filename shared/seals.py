"""Electronic seals (电子印章) and the county's seal trust list (印章信任列表).

Each township and the county hold one signing key per algorithm, as PEM files
`<directory>/<division code>.<algorithm>.pem`:
- `sm2` (the default, a county setting): a GB/T 38540-2020 `SES_Signature` (shared.ses)
  over the document's SM3 digest, SM2 signed, through Tongsuo;
- `ed25519`: the older seal, signing `lingshui-seal/v1|<owner>|<subject>|<kind>|<sha256>`;
  kept so that every seal already stored still verifies.
Both bind the document's hash to who seals it and for what (subject: usually the month), so
a signature cannot be moved to another township's or month's document.

**Verification trusts only the trust list** (`<directory>/trust-list.json`, published at
`GET /api/disbursement/seals/trust-list` and handed out as a file for offline checks): the
public key carried in a seal is only a pointer. A seal whose key is not listed for its
owner, was used outside the key's validity period, or was revoked, fails with a reason.
Rotation (`SealAuthority.rotate`) closes the old key's period and lists the new one, so
what the old key sealed before the rotation still verifies; revocation (a key lost or
compromised) fails every seal of that key.

Keys and the list are kept by the county's seal authority (`python -m deploy.seal_authority`,
deploy/compose/make_secrets.py). `create_missing=True` is for the local stack only: it makes
and lists a missing key once (never overwriting a key another process wrote first).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared import ses
from shared.errors import RuleViolation
from shared.files import write_private

STATEMENT_VERSION = "lingshui-seal/v1"
TRUST_LIST_FORMAT = "lingshui-seal-trust-list/v1"
TRUST_LIST_FILE = "trust-list.json"
Algorithm = Literal["sm2", "ed25519"]
ALGORITHMS: tuple[Algorithm, ...] = ("sm2", "ed25519")
_OWNER = re.compile(r"^[0-9]{6,12}$")  # a division code: county or township


def seal_statement(owner: str, subject: str, document_kind: str, sha256: str) -> bytes:
    """What an Ed25519 seal signs."""
    return f"{STATEMENT_VERSION}|{owner}|{subject}|{document_kind}|{sha256}".encode()


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def key_id_of(public: bytes) -> str:
    """A key's id: the start of the SHA-256 of the public key as its seals carry it."""
    return hashlib.sha256(public).hexdigest()[:16]


def key_path(directory: Path, owner: str, algorithm: Algorithm = "ed25519") -> Path:
    if not _OWNER.match(owner):
        raise ValueError(f"seal owner must be a division code, not {owner!r}")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"seal algorithm must be one of {ALGORITHMS}, not {algorithm!r}")
    return directory / f"{owner}.{algorithm}.pem"


def _new_private_pem(algorithm: Algorithm) -> bytes:
    if algorithm == "sm2":
        return ses.new_private_pem()
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def create_key_file(path: Path, algorithm: Algorithm = "ed25519") -> bool:
    """Write a new private key at `path` unless one is there. True if this call made it.

    Written to a temporary file and linked into place, so a reader never sees half a key
    and a key another process wrote first is kept.
    """
    return write_private(path, _new_private_pem(algorithm), replace=False)


class _Signer:
    """One loaded private key: its algorithm, public key as seals carry it, and key id."""

    def __init__(self, algorithm: Algorithm, pem: bytes) -> None:
        self.algorithm = algorithm
        if algorithm == "sm2":
            self._sm2 = ses.load_private_pem(pem)
            self.public = ses.public_der(self._sm2)
        else:
            key = serialization.load_pem_private_key(pem, None)
            if not isinstance(key, Ed25519PrivateKey):
                raise RuntimeError("not an Ed25519 private key")
            self._ed = key
            self.public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                                        serialization.PublicFormat.Raw)
        self.key_id = key_id_of(self.public)


# --- the trust list ---------------------------------------------------------------------------


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        raise ValueError(f"{text!r}: a trust-list instant needs its offset")
    return t


def _text(t: datetime | None) -> str | None:
    """UTC, to the second: an SM2 seal's GeneralizedTime has no finer grain."""
    if t is None:
        return None
    return t.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class TrustedKey:
    """One seal key the county vouches for, from `valid_from` until `valid_until` (open
    while current); `revoked_at` set means no seal of it is to be believed."""

    owner: str
    owner_name: str
    algorithm: Algorithm
    key_id: str
    public_key: str  # base64, as seals carry it: raw Ed25519, or SM2 SubjectPublicKeyInfo DER
    valid_from: str
    valid_until: str | None = None
    revoked_at: str | None = None
    revocation_reason: str | None = None

    def public_bytes(self) -> bytes:
        return base64.b64decode(self.public_key)

    def problem_at(self, when: datetime) -> tuple[str, str] | None:
        """(code, reason) if a seal made at `when` with this key is not to be believed."""
        if self.revoked_at is not None:
            return ("revoked", f"key {self.key_id} of {self.owner} was revoked on "
                    f"{self.revoked_at}: {self.revocation_reason or 'no reason given'}")
        start, end = _instant(self.valid_from), _instant(self.valid_until)
        assert start is not None
        if when < start:
            return ("not_yet_valid", f"key {self.key_id} of {self.owner} is valid from "
                    f"{self.valid_from}; the seal is dated {_text(when)}")
        if end is not None and when >= end:
            return ("expired", f"key {self.key_id} of {self.owner} was valid until "
                    f"{self.valid_until}; the seal is dated {_text(when)}")
        return None


@dataclass(frozen=True)
class TrustList:
    county: str
    keys: tuple[TrustedKey, ...] = ()
    updated_at: str | None = None

    def find(self, key_id: str) -> TrustedKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)

    def current(self, owner: str, algorithm: Algorithm) -> TrustedKey | None:
        return next((k for k in self.keys if k.owner == owner and k.algorithm == algorithm
                     and k.valid_until is None and k.revoked_at is None), None)

    def to_wire(self) -> dict[str, Any]:
        return {"format": TRUST_LIST_FORMAT, "county": self.county,
                "updated_at": self.updated_at, "keys": [asdict(k) for k in self.keys]}

    def to_json(self) -> bytes:
        return json.dumps(self.to_wire(), ensure_ascii=False, indent=2).encode() + b"\n"

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> TrustList:
        if data.get("format") != TRUST_LIST_FORMAT:
            raise ValueError(f"not a seal trust list (format {data.get('format')!r})")
        keys = tuple(TrustedKey(**k) for k in data["keys"])
        for k in keys:
            _instant(k.valid_from), _instant(k.valid_until), _instant(k.revoked_at)
        return cls(county=data["county"], keys=keys, updated_at=data.get("updated_at"))

    @classmethod
    def load(cls, path: Path) -> TrustList:
        return cls.from_wire(json.loads(path.read_bytes()))


# --- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    valid: bool
    code: str | None = None  # why not: unknown_key, wrong_owner, revoked, expired, ...
    reason: str | None = None
    key_id: str | None = None
    owner: str | None = None
    owner_name: str | None = None
    algorithm: str | None = None
    sealed_at: str | None = None  # when the seal says it was made (SM2), else as given
    subject: str | None = None
    document_kind: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)


def _fail(code: str, reason: str, **known: Any) -> Verdict:
    return Verdict(False, code, reason, **known)


def verify_seal(seal: Seal | Mapping[str, Any], trust: TrustList, *,
                subject: str | None = None, content: bytes | None = None,
                owner: str | None = None, sealed_at: datetime | None = None,
                now: datetime | None = None) -> Verdict:
    """Check a seal (as contracts carry it) against the trust list only.

    `subject`/`owner`: what the caller expects it to seal; `content`: the exact bytes;
    `sealed_at`: when it was recorded as made (an Ed25519 seal carries no time; an SM2 seal
    carries its own, which is used instead), else `now`."""
    s = seal.to_wire() if isinstance(seal, Seal) else dict(seal)
    subject = subject if subject is not None else s.get("subject")
    algorithm = s.get("algorithm") or "ed25519"
    if algorithm == "sm2":
        try:
            parsed = ses.parse(base64.b64decode(s["signature"]))
        except (ses.Malformed, ValueError, KeyError, TypeError) as e:
            return _fail("malformed", f"not a GB/T 38540 SES_Signature: {e}", algorithm="sm2")
        if s.get("sha256") not in (None, parsed.sha256):
            return _fail("altered", "the record's SHA-256 is not the sealed one",
                         algorithm="sm2")
        for name, sealed in (("owner", parsed.owner), ("document_kind", parsed.document_kind)):
            if s.get(name) not in (None, sealed):  # the record must say what the seal says
                return _fail("wrong_owner" if name == "owner" else "wrong_kind",
                             f"the record says {name} {s[name]}, the seal {sealed}",
                             algorithm="sm2")
        return verify_ses(parsed, trust, subject=subject, content=content, owner=owner)
    if algorithm != "ed25519":
        return _fail("malformed", f"unknown seal algorithm {algorithm!r}")
    try:
        sealed_owner, kind, digest = s["owner"], s["document_kind"], s["sha256"]
        key_id, signature = s["key_id"], base64.b64decode(s["signature"])
    except (KeyError, ValueError, TypeError) as e:
        return _fail("malformed", f"the seal lacks {e}", algorithm=algorithm)
    known = {"key_id": key_id, "owner": sealed_owner, "algorithm": algorithm,
             "subject": subject, "document_kind": kind}
    if owner is not None and owner != sealed_owner:
        return _fail("wrong_owner", f"sealed by {sealed_owner}, expected {owner}", **known)
    if content is not None and sha256_hex(content) != digest:
        return _fail("altered", "the file's SHA-256 is not the sealed one", **known)
    when = sealed_at or now or datetime.now(UTC)
    known["sealed_at"] = _text(when)
    listed, problem = _listed(trust, key_id, sealed_owner, "ed25519", when)
    if problem:
        return _fail(*problem, **known)
    assert listed is not None
    known["owner_name"] = listed.owner_name
    if subject is None:
        return _fail("malformed", "an Ed25519 seal is checked for a stated subject", **known)
    with contextlib.suppress(InvalidSignature, ValueError):
        Ed25519PublicKey.from_public_bytes(listed.public_bytes()).verify(
            signature, seal_statement(sealed_owner, subject, kind, digest))
        return Verdict(True, **known)
    return _fail("bad_signature", "the signature does not verify with the listed key "
                 "(altered seal, or another subject)", **known)


def _listed(trust: TrustList, key_id: str, owner: str, algorithm: str,
            when: datetime) -> tuple[TrustedKey | None, tuple[str, str] | None]:
    listed = trust.find(key_id)
    if listed is None:
        return None, ("unknown_key", f"key {key_id} is not on the county's trust list")
    if listed.owner != owner:
        return None, ("wrong_owner", f"key {key_id} is listed for {listed.owner}, "
                      f"not for {owner}")
    if listed.algorithm != algorithm:
        return None, ("unknown_key", f"key {key_id} is listed for {listed.algorithm}")
    return listed, listed.problem_at(when)


def verify_ses(parsed: ses.Parsed, trust: TrustList, *, subject: str | None = None,
               content: bytes | None = None, owner: str | None = None) -> Verdict:
    """Check a parsed SES_Signature: the listed key, its period, the signatures, the hash."""
    key_id = key_id_of(parsed.signer_public)
    known = {"key_id": key_id, "owner": parsed.owner, "algorithm": "sm2",
             "sealed_at": _text(parsed.signed_at), "subject": parsed.subject,
             "document_kind": parsed.document_kind}
    if owner is not None and owner != parsed.owner:
        return _fail("wrong_owner", f"sealed by {parsed.owner}, expected {owner}", **known)
    if subject is not None and subject != parsed.subject:
        return _fail("wrong_subject", f"seals {parsed.subject}, expected {subject}", **known)
    listed, problem = _listed(trust, key_id, parsed.owner, "sm2", parsed.signed_at)
    if problem:
        return _fail(*problem, **known)
    assert listed is not None
    known["owner_name"] = listed.owner_name
    if listed.public_bytes() != parsed.signer_public:
        return _fail("unknown_key", "the seal's key differs from the listed one", **known)
    if not ses.signatures_valid(parsed):
        return _fail("bad_signature", "the SM2 signature does not verify", **known)
    if content is not None and (ses.sm3(content) != parsed.data_hash
                                or sha256_hex(content) != parsed.sha256):
        return _fail("altered", "the file's digest is not the sealed one", **known)
    return Verdict(True, **known)


# --- sealing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seal:
    """A seal as contracts carry it (shared.contracts.disbursement.Seal)."""

    owner: str  # division code of the sealing township or county
    document_kind: str
    sha256: str
    signature: str  # base64: Ed25519 over seal_statement(...), or the SES_Signature DER
    key_id: str
    public_key: str  # base64, as in the trust list (a pointer: verification uses the list)
    algorithm: str = "ed25519"

    def to_wire(self) -> dict[str, str]:
        return asdict(self)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One writer of the keys and the trust list at a time, across processes."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(directory / ".trust-list.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass
class SealAuthority:
    """The county's seal authority over one key directory: provisions, rotates and revokes
    keys, and keeps the trust list true to them."""

    directory: Path
    county: str
    names: Mapping[str, str] = field(default_factory=dict)  # division code → its name

    @property
    def trust_path(self) -> Path:
        return self.directory / TRUST_LIST_FILE

    def trust_list(self) -> TrustList:
        if not self.trust_path.exists():
            return TrustList(county=self.county)
        return TrustList.load(self.trust_path)

    def _save(self, trust: TrustList, at: datetime) -> None:
        # Readers see the old list or the new, never half. Private like the keys beside it:
        # recipients get their copy from the endpoint or `seal_authority export`.
        write_private(self.trust_path, replace(trust, updated_at=_text(at)).to_json())

    def _entry(self, owner: str, signer: _Signer, at: datetime) -> TrustedKey:
        return TrustedKey(owner=owner, owner_name=self.names.get(owner, owner),
                          algorithm=signer.algorithm, key_id=signer.key_id,
                          public_key=base64.b64encode(signer.public).decode(),
                          valid_from=_text(at) or "")

    def enroll(self, at: datetime) -> list[str]:
        """List every key file of the directory that the list does not hold yet (keys made
        before the trust list existed, or by make_secrets). Their key ids."""
        added = []
        with _locked(self.directory):
            trust = self.trust_list()
            keys = list(trust.keys)
            for path in sorted(self.directory.glob("*.pem")):
                owner, _, algorithm = path.stem.partition(".")
                if algorithm not in ALGORITHMS or not _OWNER.match(owner):
                    continue
                signer = _Signer(algorithm, path.read_bytes())  # type: ignore[arg-type]
                if trust.find(signer.key_id) is None:
                    # A key file older than the list has sealed since it was written.
                    made = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                    keys.append(self._entry(owner, signer, min(at, made)))
                    added.append(signer.key_id)
            if added or not self.trust_path.exists():
                self._save(replace(trust, keys=tuple(keys)), at)
        return added

    def provision(self, owner: str, algorithm: Algorithm, at: datetime) -> bool:
        """Make `owner`'s key unless there is one, and list it. True if this call made it."""
        with _locked(self.directory):
            made = create_key_file(key_path(self.directory, owner, algorithm), algorithm)
        self.enroll(at)
        return made

    def rotate(self, owner: str, algorithm: Algorithm, at: datetime) -> TrustedKey:
        """A new key for `owner` from `at`; the old one's period ends at `at`, so what it
        sealed before still verifies."""
        path = key_path(self.directory, owner, algorithm)
        with _locked(self.directory):
            pem = _new_private_pem(algorithm)
            signer = _Signer(algorithm, pem)
            trust = self.trust_list()
            keys = [replace(k, valid_until=_text(at))
                    if k.owner == owner and k.algorithm == algorithm and k.valid_until is None
                    else k for k in trust.keys]
            entry = self._entry(owner, signer, at)
            self._save(replace(trust, keys=(*keys, entry)), at)  # listed before it signs
            write_private(path, pem, replace=True)
        return entry

    def revoke(self, key_id: str, at: datetime, reason: str) -> TrustedKey:
        """No seal of this key is to be believed any more (lost, or compromised). The owner
        cannot seal with it again: rotate to give them a new key."""
        with _locked(self.directory):
            trust = self.trust_list()
            old = trust.find(key_id)
            if old is None:
                raise RuleViolation("seals.unknown_key", f"key {key_id} is not listed",
                                    field="key_id")
            new = replace(old, revoked_at=_text(at), revocation_reason=reason,
                          valid_until=old.valid_until or _text(at))
            self._save(replace(trust, keys=tuple(new if k is old else k for k in trust.keys)),
                       at)
        return new


def owner_names(county: Any) -> dict[str, str]:
    """Division code → the name a seal shows, for a shared.regions.County."""
    return {county.code: county.name} | {t.code: t.name for t in county.townships}


class SealKeys:
    """The seal keys in one directory, for a service that seals and verifies.

    `algorithm` is the county's setting for new seals (SM2 by default); every algorithm
    still verifies. A key file replaced by a rotation is picked up at the next seal.
    `service` names the rule code of a missing key (`<service>.seal_key_missing`)."""

    def __init__(self, directory: Path, *, create_missing: bool = False,
                 service: str = "seals", algorithm: Algorithm = "sm2", county: str = "",
                 names: Mapping[str, str] | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        self.directory, self.create_missing, self.service = directory, create_missing, service
        self.algorithm = algorithm
        self.now = now or (lambda: datetime.now(UTC))
        self.authority = SealAuthority(directory, county, names or {})
        self._cache: dict[Path, tuple[int, _Signer]] = {}
        self._trust: tuple[int, TrustList] | None = None
        self._lock = threading.Lock()
        if create_missing and directory.exists():
            self.authority.enroll(self.now())  # local stack: list keys made before the list

    def _signer(self, owner: str) -> _Signer:
        path = key_path(self.directory, owner, self.algorithm)
        with self._lock:
            if not path.exists():
                if not self.create_missing:
                    raise RuleViolation(f"{self.service}.seal_key_missing",
                                        f"no {self.algorithm} seal key is provisioned for "
                                        f"{owner}", field="township")
                self.authority.provision(owner, self.algorithm, self.now())
            stamp = path.stat().st_mtime_ns
            cached = self._cache.get(path)
            if cached is None or cached[0] != stamp:
                cached = (stamp, _Signer(self.algorithm, path.read_bytes()))
                self._cache[path] = cached
            return cached[1]

    def trust_list(self) -> TrustList:
        path = self.authority.trust_path
        stamp = path.stat().st_mtime_ns if path.exists() else 0
        with self._lock:
            if self._trust is None or self._trust[0] != stamp:
                self._trust = (stamp, self.authority.trust_list())
            return self._trust[1]

    def key_id(self, owner: str) -> str:
        return self._signer(owner).key_id

    def seal(self, owner: str, subject: str, document_kind: str, content: bytes) -> Seal:
        signer = self._signer(owner)
        at = self.now()
        listed = self.trust_list().find(signer.key_id)
        problem = (("unknown_key", f"key {signer.key_id} is not on the trust list")
                   if listed is None else listed.problem_at(at))
        if problem:  # a seal nobody could verify is refused, not issued
            raise RuleViolation(f"{self.service}.seal_key_{problem[0]}", problem[1],
                                field="township")
        digest = sha256_hex(content)
        if signer.algorithm == "sm2":
            signature = ses.sign(signer._sm2, ses.SealFacts(
                owner=owner, owner_name=listed.owner_name, subject=subject,
                document_kind=document_kind, key_id=signer.key_id,
                valid_from=_instant(listed.valid_from) or at,
                valid_until=_instant(listed.valid_until)), content, at)
        else:
            signature = signer._ed.sign(seal_statement(owner, subject, document_kind, digest))
        return Seal(owner=owner, document_kind=document_kind, sha256=digest,
                    signature=base64.b64encode(signature).decode(), key_id=signer.key_id,
                    public_key=base64.b64encode(signer.public).decode(),
                    algorithm=signer.algorithm)

    def verify(self, seal: Seal | Mapping[str, Any], **expected: Any) -> Verdict:
        return verify_seal(seal, self.trust_list(), now=self.now(), **expected)
