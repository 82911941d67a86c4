"""Service settings (pydantic-settings): one environment prefix per service.

Each service subclasses `ServiceSettings` with its own prefix, e.g. ``INTAKE_DATABASE_URL``.
Defaults are the embedded local stack: a SQLite file and key files under ``./var/``.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.clock import Clock, clock_for


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
    stream_duplicate_window_s: float = 3600.0
    stream_replicas: int = 1
    relay_enabled: bool = True
    relay_batch_size: int = 500
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

    # HTTP.
    http_host: str = "127.0.0.1"
    http_port: int = 8701
    max_body_bytes: int = 1_048_576

    # Auth: a public key file (local: generated under var_dir) or a JWKS URL (production).
    auth_public_key_file: Path | None = None
    auth_jwks_url: str | None = None
    auth_issuer: str = "lingshui-dev"
    auth_audience: str = "social-assistance"

    # Field sealing keys (bus) and the keyed hash for dedup by resident ID.
    keyring_file: Path | None = None

    # The service's clock (shared.clock). A shift or a speed-up is for demos only; the anchor
    # is fixed so that a restarted demo service does not travel back in time.
    clock_shift_days: float = 0.0
    clock_speed: float = Field(1.0, ge=1.0)
    clock_anchor: datetime | None = None

    telemetry_exporter: Literal["none", "console", "otlp"] = "none"
    otlp_endpoint: str | None = None

    @cached_property
    def clock(self) -> Clock:
        """One clock per service process (an accelerated clock built twice would disagree)."""
        return clock_for(self.clock_shift_days, self.clock_speed, self.clock_anchor)

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
    def resolved_public_key_file(self) -> Path:
        return self.auth_public_key_file or self.keys_dir / "jwt-ed25519.pub.pem"

    @property
    def resolved_cipher_key_file(self) -> Path:
        return self.cipher_key_file or self.keys_dir / f"{self.service}-at-rest.key"
