"""Composition root of disbursement: `python -m services.disbursement`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.disbursement import api
from services.disbursement.application import BankFileRules, DisbursementApplication
from services.disbursement.contracts import to_integration
from services.disbursement.finance_files import (
    DEFAULT_SUBSIDY_PROJECTS,
    load_subsidy_projects,
)
from services.disbursement.reactions import reactions
from services.disbursement.return_codes import DEFAULT_RETURN_CODES, load_return_codes
from services.disbursement.seal import SealKeys
from shared.pii import Keyring
from shared.regions import load_county
from shared.runtime import ServiceRuntime
from shared.seals import owner_names
from shared.settings import ServiceSettings


class DisbursementSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISBURSEMENT_")
    service: str = "disbursement"
    http_port: int = 8704
    # A township's bank return file is larger than a JSON command.
    max_body_bytes: int = 32 * 1024 * 1024

    # The monthly rhythm (cut-off, reconcile and file by) is review's policy table, received
    # as policy_changed: not a setting here.
    max_bank_file_lines: int = Field(500_000, ge=1)
    # The purposes review seals the payee's account under (AES-GCM associated data).
    payee_account_purposes: tuple[str, ...] = ("payee.account", "bank_account.account")
    # Bank return reason codes (ISO 20022 style) and each bank's own codes: versioned data.
    bank_return_codes_file: Path = DEFAULT_RETURN_CODES
    # The finance bureau's subsidy projects (一卡通 metadata): versioned policy data.
    subsidy_projects_file: Path = DEFAULT_SUBSIDY_PROJECTS
    # Seal keys (shared.seals), one per township and one for the county, and the county's
    # trust list, provisioned by the county's seal authority (deploy/seal_authority.py).
    # Creating missing keys is for the local stack only: production sets
    # DISBURSEMENT_SEAL_KEYS_CREATE_MISSING=false. New seals use `seal_algorithm` (the
    # county's setting); seals of the other algorithm still verify.
    seal_keys_dir: Path | None = None
    seal_keys_create_missing: bool = True
    seal_algorithm: Literal["sm2", "ed25519"] = "sm2"

    @property
    def resolved_seal_keys_dir(self) -> Path:
        return self.seal_keys_dir or self.keys_dir / "seals"

    def bank_file_rules(self) -> BankFileRules:
        return BankFileRules(max_bank_file_lines=self.max_bank_file_lines,
                             payee_account_purposes=self.payee_account_purposes,
                             return_codes=load_return_codes(self.bank_return_codes_file),
                             subsidy_projects=load_subsidy_projects(
                                 self.subsidy_projects_file))


def build_application(settings: DisbursementSettings) -> DisbursementApplication:
    county = load_county(settings.region)
    return DisbursementApplication(
        settings, county,
        Keyring.load_or_create(settings.resolved_keyring_file),
        SealKeys(settings.resolved_seal_keys_dir,
                 create_missing=settings.seal_keys_create_missing, service="disbursement",
                 algorithm=settings.seal_algorithm, county=county.code,
                 names=owner_names(county)),
        settings.bank_file_rules())


def build(settings: DisbursementSettings | None = None) -> ServiceRuntime:
    settings = settings or DisbursementSettings()
    app = build_application(settings)
    return ServiceRuntime(settings, app, to_integration, api.routers, reactions(app))
