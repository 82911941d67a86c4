"""Service settings (pydantic-settings): one environment prefix per service.

Each service subclasses `ServiceSettings` with its own prefix, e.g. ``INTAKE_DATABASE_URL``.
Defaults are the embedded local stack: a SQLite file and key files under ``./var/``.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.calendar import WorkingCalendar, working_calendar
from shared.clock import DEFAULT_ZONE, Clock, clock_for, county_zone


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SA_", extra="ignore", frozen=True)

    service: str = Field("service", description="service name; set by each subclass")
    region: str = Field("469028", description="county division code: the subject's region segment")
    var_dir: Path = Path("./var")

    # Event store: a SQLite file under var_dir unless a URL is given.
    database_url: str | None = None
    encrypt_at_rest: bool = False
    cipher_key_file: Path | None = None  # base64 AES key; generated under var_dir when missing

    # NATS JetStream.
    nats_url: str = "nats://127.0.0.1:4333"
    nats_nkey_seed_file: Path | None = None  # this service's NKey user (shared/natsauth.py)
    stream_duplicate_window_s: float = 3600.0
    stream_replicas: int = 1
    relay_enabled: bool = True
    relay_batch_size: int = 500
    # A save of more events than this is sealed by the relay after commit, not in the
    # writer's transaction: sealing costs ~0.35 ms an event, which a county-wide 标准调整
    # (200,000 in one command, issue 18) must not wait for. 0: the relay seals everything.
    seal_at_commit_max_events: int = 1000
    relay_idle_poll_s: float = 0.2
    relay_lease_retry_s: float = 1.0
    # Chain checkpoints (shared/checkpoint.py): every N published events, at least daily.
    checkpoint_every: int = 1000
    checkpoint_max_age_s: float = 86400.0
    checkpoint_idle_s: float = 60.0  # a quiet log is checkpointed this long after the last
    consumer_batch_size: int = 50
    consumer_ack_wait_s: float = 30.0
    consumer_max_deliver: int = 5
    consumer_backoff_s: float = 0.5
    rebuild_batch_size: int = 500  # events per transaction of a read-model rebuild

    # HTTP.
    http_host: str = "127.0.0.1"
    http_port: int = 8701
    max_body_bytes: int = 1_048_576
    # Overload: requests inside the service at once (0: unbounded), and how long one waits
    # for a place before it is shed with 503 + Retry-After.
    max_in_flight: int = 32  # below the thread pool (40), above a township burst
    overload_wait_s: float = 0.5

    # Auth: a public key file (local: generated under var_dir) or a JWKS URL (production).
    auth_public_key_file: Path | None = None
    auth_jwks_url: str | None = None
    auth_issuer: str = "lingshui-dev"
    auth_audience: str = "social-assistance"

    # Field sealing keys (bus) and the keyed hash for dedup by resident ID.
    keyring_file: Path | None = None

    # Envelope signing (shared/signing.py): this service's Ed25519 key and every service's
    # public keys. Made under var/keys when missing only on the local stack; provisioned
    # (read-only) wherever replicas run, or two replicas would sign with different keys.
    signing_key_file: Path | None = None
    trust_list_file: Path | None = None
    bus_keys_create_missing: bool = True
    # Upgrading a running system: per source, the last position its relay published before
    # signing (JSON, e.g. {"intake": 1234}); only those unsigned envelopes are accepted.
    bus_unsigned_up_to: dict[str, int] = Field(default_factory=dict)

    # Business time (shared.clock): the county's zone decides every business date. A shift or
    # a speed-up of the clock is for demos only; the anchor is fixed so that a restarted demo
    # service does not travel back in time.
    county_timezone: str = DEFAULT_ZONE
    holidays_dir: Path | None = None  # an operator's holiday schedules besides var_dir/holidays
    clock_shift_days: float = 0.0
    clock_speed: float = Field(1.0, ge=1.0)
    clock_anchor: datetime | None = None

    telemetry_exporter: Literal["none", "console", "otlp"] = "none"
    # Logs on stderr (shared/logs.py): one JSON object a line with trace and span ids, or text.
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    otlp_endpoint: str | None = None

    @field_validator("county_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            county_zone(value)
        except Exception:  # ZoneInfoNotFoundError, or a malformed key
            raise ValueError(f"unknown time zone {value!r} (an IANA name, e.g. "
                             f"{DEFAULT_ZONE})") from None
        return value

    @cached_property
    def clock(self) -> Clock:
        """One clock per service process (an accelerated clock built twice would disagree)."""
        return clock_for(self.clock_shift_days, self.clock_speed, self.clock_anchor,
                         county_zone(self.county_timezone))

    @property
    def calendar(self) -> WorkingCalendar:
        """The process's one working calendar, the operator's holiday files included."""
        return working_calendar(self.var_dir / "holidays", self.holidays_dir)

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / f'{self.service}.db').as_posix()}"

    @property
    def keys_dir(self) -> Path:
        return self.var_dir / "keys"

    @property
    def resolved_keyring_file(self) -> Path:
        return self.keyring_file or self.keys_dir / "bus-keyring.json"

    @property
    def resolved_signing_key_file(self) -> Path:
        from shared.signing import signing_key_path
        return self.signing_key_file or signing_key_path(self.keys_dir, self.service)

    @property
    def resolved_trust_list_file(self) -> Path:
        from shared.signing import TRUST_FILE
        return self.trust_list_file or self.keys_dir / TRUST_FILE

    @property
    def resolved_public_key_file(self) -> Path:
        return self.auth_public_key_file or self.keys_dir / "jwt-ed25519.pub.pem"

    @property
    def resolved_cipher_key_file(self) -> Path:
        return self.cipher_key_file or self.keys_dir / f"{self.service}-at-rest.key"
