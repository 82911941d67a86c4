"""GB/T 38540-2020 (安全电子签章密码技术规范) electronic seal structures, version 4, SM2/SM3.

The ASN.1 (`SES_Signature`, `TBS_Sign`, `SESeal`, `SES_SealInfo`, ...) is declared with
asn1crypto, field for field as the standard (and ofdrw's `org.ofdrw.gm.ses.v4`) has it; SM2
signing and SM3 come from Tongsuo (tongsuopy). Nothing cryptographic is written here.

Where this deployment differs from a full GB/T 38540 PKI, and why:
- `cert` fields hold the signer's SM2 SubjectPublicKeyInfo (DER), not an X.509 certificate:
  the county's trust list (shared.seals) is what vouches for a key, not a CA chain.
- The seal (`SESeal`) is made by the same key that signs with it (the township's own key),
  so its maker's `cert` is the signer's.
- `propertyInfo` binds the document to its owner, subject and kind, and names its SHA-256
  (the hash the system files it under): `lingshui-seal/v2|<owner>|<subject>|<kind>|<sha256>`;
  `dataHash` is SM3 of the file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import core
from tongsuopy.crypto import hashes, serialization
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.exceptions import InvalidSignature

SM2_WITH_SM3 = "1.2.156.10197.1.501"  # GM/T 0006: SM3withSM2 signature
PROPERTY_VERSION = "lingshui-seal/v2"
VENDOR_ID = "lingshui"
ORGANISATION_SEAL = 1  # 单位印章
FAR_FUTURE = datetime(2099, 12, 31, 16, 0, tzinfo=UTC)


class Malformed(ValueError):
    """Bytes that are not a version-4 SM2 SES_Signature of this system."""


# --- ASN.1 ------------------------------------------------------------------------------------


class SESHeader(core.Sequence):
    _fields = [("id", core.IA5String), ("version", core.Integer), ("vid", core.IA5String)]


class CertInfoList(core.SequenceOf):
    _child_spec = core.OctetString


class CertDigestObj(core.Sequence):
    _fields = [("type", core.PrintableString), ("value", core.OctetString)]


class CertDigestList(core.SequenceOf):
    _child_spec = CertDigestObj


class SESCertList(core.Choice):
    _alternatives = [("certs", CertInfoList), ("certDigestList", CertDigestList)]


class SESESPropertyInfo(core.Sequence):
    _fields = [("type", core.Integer), ("name", core.UTF8String),
               ("certListType", core.Integer), ("certList", SESCertList),
               ("createDate", core.GeneralizedTime), ("validStart", core.GeneralizedTime),
               ("validEnd", core.GeneralizedTime)]


class SESESPictrueInfo(core.Sequence):  # sic: the standard's spelling
    _fields = [("type", core.IA5String), ("data", core.OctetString),
               ("width", core.Integer), ("height", core.Integer)]


class ExtData(core.Sequence):
    _fields = [("extnID", core.ObjectIdentifier),
               ("critical", core.Boolean, {"default": False}),
               ("extnValue", core.OctetString)]


class ExtensionDatas(core.SequenceOf):
    _child_spec = ExtData


class SESSealInfo(core.Sequence):
    _fields = [("header", SESHeader), ("esID", core.IA5String),
               ("property", SESESPropertyInfo), ("picture", SESESPictrueInfo),
               ("extDatas", ExtensionDatas, {"optional": True})]


class SESeal(core.Sequence):
    _fields = [("esealInfo", SESSealInfo), ("cert", core.OctetString),
               ("signAlgID", core.ObjectIdentifier), ("signedValue", core.OctetBitString)]


class TBSSign(core.Sequence):
    _fields = [("version", core.Integer), ("eseal", SESeal),
               ("timeInfo", core.GeneralizedTime), ("dataHash", core.OctetBitString),
               ("propertyInfo", core.IA5String),
               ("extDatas", ExtensionDatas, {"explicit": 0, "optional": True})]


class SESSignature(core.Sequence):
    _fields = [("toSign", TBSSign), ("cert", core.OctetString),
               ("signatureAlgID", core.ObjectIdentifier), ("signature", core.OctetBitString),
               ("timeStamp", core.OctetBitString, {"explicit": 0, "optional": True})]


# --- SM2 / SM3 (Tongsuo) ----------------------------------------------------------------------


def new_private_pem() -> bytes:
    return ec.generate_private_key(ec.SM2()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def load_private_pem(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "SM2":
        raise RuntimeError("not an SM2 private key")
    return key


def public_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def sm3(content: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(content)
    return h.finalize()


def _sm2_sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SM3()))  # SM2 with the standard's default user id


def _sm2_valid(public: bytes, signature: bytes, data: bytes) -> bool:
    try:
        key = serialization.load_der_public_key(public)
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "SM2":
            return False
        key.verify(signature, data, ec.ECDSA(hashes.SM3()))
        return True
    except (InvalidSignature, ValueError):
        return False


# --- making and reading a seal ----------------------------------------------------------------


@dataclass(frozen=True)
class SealFacts:
    owner: str
    owner_name: str
    subject: str
    document_kind: str
    key_id: str
    valid_from: datetime
    valid_until: datetime | None


def _second(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(microsecond=0)


def seal_picture(owner_name: str) -> bytes:
    """The seal's image (印模) as SVG: a red ring, a star and the owner's name."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="42mm" height="42mm" '
            f'viewBox="0 0 42 42"><circle cx="21" cy="21" r="19.5" fill="none" '
            f'stroke="#d00" stroke-width="1.2"/><text x="21" y="24" text-anchor="middle" '
            f'font-size="9" fill="#d00">\u2605</text><text x="21" y="33" text-anchor="middle" '
            f'font-size="4" fill="#d00">{owner_name}</text></svg>').encode()


def sign(key: ec.EllipticCurvePrivateKey, facts: SealFacts, content: bytes,
         at: datetime) -> bytes:
    """A DER SES_Signature over `content`, made at `at`."""
    property_info = "|".join((PROPERTY_VERSION, facts.owner, facts.subject,
                              facts.document_kind, hashlib.sha256(content).hexdigest()))
    if not property_info.isascii():
        raise ValueError("owner, subject and document kind must be ASCII codes")
    public = public_der(key)
    seal_info = SESSealInfo({
        "header": SESHeader({"id": "ES", "version": 4, "vid": VENDOR_ID}),
        "esID": f"{facts.owner}-{facts.key_id}",
        "property": SESESPropertyInfo({
            "type": ORGANISATION_SEAL, "name": facts.owner_name, "certListType": 1,
            "certList": SESCertList(name="certs", value=CertInfoList([public])),
            "createDate": _second(facts.valid_from), "validStart": _second(facts.valid_from),
            "validEnd": _second(facts.valid_until or FAR_FUTURE)}),
        "picture": SESESPictrueInfo({"type": "svg", "data": seal_picture(facts.owner_name),
                                     "width": 42, "height": 42}),
    })
    eseal = SESeal({"esealInfo": seal_info, "cert": public, "signAlgID": SM2_WITH_SM3,
                    "signedValue": _sm2_sign(key, seal_info.dump())})
    tbs = TBSSign({"version": 4, "eseal": eseal, "timeInfo": _second(at),
                   "dataHash": sm3(content), "propertyInfo": property_info})
    return SESSignature({"toSign": tbs, "cert": public, "signatureAlgID": SM2_WITH_SM3,
                         "signature": _sm2_sign(key, tbs.dump())}).dump()


@dataclass(frozen=True)
class Parsed:
    owner: str
    owner_name: str
    subject: str
    document_kind: str
    sha256: str
    signed_at: datetime
    data_hash: bytes
    signer_public: bytes
    signature: bytes
    signed_bytes: bytes  # TBS_Sign as encoded
    seal_info_bytes: bytes  # SES_SealInfo as encoded
    seal_signature: bytes
    seal_maker_public: bytes


def parse(der: bytes) -> Parsed:
    try:
        sig = SESSignature.load(der, strict=True)
        tbs = sig["toSign"]
        eseal = tbs["eseal"]
        info = eseal["esealInfo"]
        version, header = tbs["version"].native, info["header"].native
        algs = {sig["signatureAlgID"].dotted, eseal["signAlgID"].dotted}
        prop = tbs["propertyInfo"].native.split("|")
        if len(prop) != 5 or prop[0] != PROPERTY_VERSION:
            raise Malformed("propertyInfo does not name owner, subject, kind and hash")
        parsed = Parsed(
            owner=prop[1], owner_name=info["property"]["name"].native, subject=prop[2],
            document_kind=prop[3], sha256=prop[4],
            signed_at=tbs["timeInfo"].native, data_hash=tbs["dataHash"].native,
            signer_public=sig["cert"].native, signature=sig["signature"].native,
            signed_bytes=tbs.dump(), seal_info_bytes=info.dump(),
            seal_signature=eseal["signedValue"].native, seal_maker_public=eseal["cert"].native)
    except (ValueError, TypeError, KeyError) as e:
        raise Malformed(str(e)) from None
    if version != 4 or header["id"] != "ES" or header["version"] != 4:
        raise Malformed(f"version {version}, header {header['id']}/{header['version']}: "
                        "not a version-4 seal")
    if algs != {SM2_WITH_SM3}:
        raise Malformed(f"signature algorithms {sorted(algs)}, not SM3withSM2")
    return parsed


def signatures_valid(p: Parsed) -> bool:
    """The seal maker's signature over the seal, and the signer's over TBS_Sign."""
    return (p.seal_maker_public == p.signer_public
            and _sm2_valid(p.seal_maker_public, p.seal_signature, p.seal_info_bytes)
            and _sm2_valid(p.signer_public, p.signature, p.signed_bytes))
