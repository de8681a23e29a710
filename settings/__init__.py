"""The fleet's one typed settings object.

Every process builds it once at start-up (``Settings.from_env(os.environ)``) and passes it down; tests build
``Settings(...)`` directly. Defaults point at the sandbox on 127.0.0.1 so a fresh clone runs with no config.
Secrets are fields like any other but never appear in ``repr`` or logs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A configuration variable is missing or malformed; the message names the variable, never its value."""


def _secret() -> object:
    return field(default="", repr=False)


@dataclass(frozen=True)
class Settings:
    # Development mode: the fakes of the providers, the Mini App's development login. Never on in production.
    sandbox_mode: bool = False
    database_url: str = "postgresql://postgres@127.0.0.1:5432/pinglass"
    redis_url: str = "redis://127.0.0.1:6379/0"
    broker: str = "redis"  # "redis" or "rabbitmq"
    broker_namespace: str = "pinglass"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"

    s3_endpoint_url: str = "http://127.0.0.1:9104"
    s3_bucket: str = "pinglass"
    s3_region: str = "us-east-1"
    s3_access_key_id: str = field(default="sandbox", repr=False)
    s3_secret_access_key: str = field(default="sandbox-secret", repr=False)
    presign_ttl_s: int = 900

    kie_base_url: str = "http://127.0.0.1:9101"
    kie_api_keys: tuple[str, ...] = field(default=("sandbox-kie-key-1",), repr=False)
    kie_model: str = "google/nano-banana-edit"
    # Kie limits new tasks per account (kie_rate_limit per kie_rate_window_s), not per key: key i belongs to
    # account kie_key_accounts[i] (any labels; empty: each key its own account), and keys of one account share
    # one budget (runtime/limits.py).
    kie_key_accounts: tuple[str, ...] = ()
    kie_rate_limit: int = 20
    kie_rate_window_s: float = 10.0
    # recordInfo calls per second per key (Kie answers 429 past it); 0 turns our limiter off
    kie_record_info_rate_limit: int = 10
    kie_webhook_key: str = field(default="", repr=False)  # optional Kie account signing key

    tbank_base_url: str = "http://127.0.0.1:9102/v2"
    tbank_terminal_key: str = "SandboxTerminal"
    tbank_password: str = field(default="sandbox-terminal-password", repr=False)

    telegram_api_base: str = "http://127.0.0.1:9103"
    telegram_bot_token: str = field(default="100000:SANDBOX-bot-token", repr=False)
    telegram_webhook_secret: str = field(default="sandbox-webhook-secret", repr=False)
    telegram_bot_username: str = "PinGlassBot"
    # How old a Mini App's initData may be. Telegram signs it once when the app opens and never refreshes it while
    # the app stays open, and people keep it open (or in the background) while their portraits are made: a job
    # may take up to JOB_DEADLINE_S (30 min) and they come back to the same screen hours later. An hour refused
    # those people mid-order. The age bounds how long a leaked initData (a proxy log, a shared screenshot of
    # devtools) can be replayed, and it carries no payment power (paying goes through T-Bank's page); 24 h keeps
    # that window to one day while covering a day's use of one open app. Expiry answers 401 INITDATA_EXPIRED,
    # and the Mini App then says "Сессия устарела — откройте приложение заново".
    initdata_max_age_s: int = 24 * 3600

    admin_token: str = field(default="sandbox-admin-token", repr=False)
    # Optional: a token only for scraping /metrics (Prometheus), so its config need not hold ADMIN_TOKEN
    metrics_token: str = field(default="", repr=False)
    # Optional: errors also go to Sentry through its SDK (telemetry/sentry.py); empty: nothing leaves the machine
    sentry_dsn: str = field(default="", repr=False)
    admin_telegram_chat_id: int = 900000001
    public_base_url: str = "http://127.0.0.1:8000"
    # Where the providers call us back (T-Bank's NotificationURL, Kie's callBackUrl, Telegram's webhook): the
    # `hooks` role, the same web app on its own processes, so a burst of selfie uploads on the Mini App's web never
    # holds up a pre-checkout answer (Telegram waits 10 s) or a notification. Empty: PUBLIC_BASE_URL.
    callback_base_url: str = ""
    # Where the Mini App sends selfies (POST /api/v1/avatars/<id>/references): the `uploads` role, the same web app
    # on its own processes and origin, so a crowd checking selfies never slows the reads of everyone else (CORS
    # lets the Mini App's origin, PUBLIC_BASE_URL's, call it). Empty: the web itself.
    uploads_base_url: str = ""
    callback_signing_key: str = field(default="sandbox-callback-signing-key", repr=False)
    web_port: int = 8000

    # Pipeline timing (seconds unless named _ms): first poll of a new Kie task, when a task stops being polled,
    # when a quiet task or job counts as stuck, and the bound within which every paid job must end (I4).
    kie_first_poll_ms: int = 3000
    poll_give_up_s: int = 600
    sweep_idle_s: int = 60
    job_deadline_s: int = 1800
    # Telegram limits our senders keep to (per chat and for the whole bot; messages per second, burst)
    tg_chat_rate: float = 1.0
    tg_chat_burst: int = 20
    tg_global_rate: float = 30.0
    tg_global_burst: int = 30

    # "starter:7:49900,standard:15:99900,premium:23:149900" — id:photos:price in kopecks
    tiers: str = "starter:7:49900,standard:15:99900,premium:23:149900"
    referral_percent: int = 10
    regenerate_percent: int = 10
    # Telegram Stars (currency XTR), the second rail beside T-Bank: each tier's price in Stars, "id:stars,...".
    # A tier without a Stars price is sold by card only; empty turns the Stars rail off (docs/payments.md).
    tier_stars: str = "starter:250,standard:500,premium:750"
    # 54-FZ: a T-Bank terminal with an online cash register needs a Receipt on Init and on every partial Cancel;
    # the Mini App then asks for an e-mail at checkout. Taxation system and VAT of the one item we sell.
    tbank_receipts: bool = False
    tbank_taxation: str = "usn_income"
    tbank_vat: str = "none"
    # Payments: open checkouts one person may hold at once; every open payment is asked about (GetState,
    # getStarTransactions) at least every reconcile_interval_s; a payment still not final alerts after
    # payment_alert_after_s and is cancelled at the bank and expired after payment_cancel_after_s.
    max_open_checkouts: int = 3
    reconcile_interval_s: int = 180
    payment_alert_after_s: int = 24 * 3600
    payment_cancel_after_s: int = 48 * 3600
    # Personal data: selfies are erased this many days after their avatar's last order (or its creation),
    # portraits this many days after their job finished (usecases/privacy.py).
    selfie_retention_days: int = 30
    portrait_retention_days: int = 90

    def __post_init__(self) -> None:
        if self.broker not in ("redis", "rabbitmq"):
            raise SettingsError("BROKER must be 'redis' or 'rabbitmq'")
        if not self.kie_api_keys:
            raise SettingsError("KIE_API_KEYS must name at least one key")
        if self.kie_key_accounts and len(self.kie_key_accounts) != len(self.kie_api_keys):
            raise SettingsError("KIE_KEY_ACCOUNTS must name one account per key of KIE_API_KEYS")
        if self.tbank_taxation not in TAXATIONS:
            raise SettingsError(f"TBANK_TAXATION must be one of {', '.join(TAXATIONS)}")
        if self.tbank_vat not in VATS:
            raise SettingsError(f"TBANK_VAT must be one of {', '.join(VATS)}")
        if self.max_open_checkouts < 1 or self.reconcile_interval_s < 10:
            raise SettingsError("MAX_OPEN_CHECKOUTS must be at least 1 and RECONCILE_INTERVAL_S at least 10")
        if not 0 < self.payment_alert_after_s < self.payment_cancel_after_s:
            raise SettingsError("PAYMENT_ALERT_AFTER_S must be positive and below PAYMENT_CANCEL_AFTER_S")
        if self.selfie_retention_days < 1 or self.portrait_retention_days < 1:
            raise SettingsError("SELFIE_RETENTION_DAYS and PORTRAIT_RETENTION_DAYS must be at least 1")
        for name in ("database_url", "redis_url", "s3_endpoint_url", "kie_base_url", "tbank_base_url",
                     "telegram_api_base", "public_base_url"):
            if not urlsplit(getattr(self, name)).scheme:
                raise SettingsError(f"{name.upper()} must be a URL")
        if self.callback_base_url and not urlsplit(self.callback_base_url).scheme:
            raise SettingsError("CALLBACK_BASE_URL must be a URL (or empty: PUBLIC_BASE_URL)")
        if self.uploads_base_url and not urlsplit(self.uploads_base_url).scheme:
            raise SettingsError("UPLOADS_BASE_URL must be a URL (or empty: the web itself)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read every known variable from ``environ``; unknown ones are ignored, bad ones raise SettingsError."""
        values: dict[str, Any] = {}  # each value parsed to its field's type by _parse
        for f in dataclasses.fields(cls):
            raw = environ.get(f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name.upper(), f.type, raw)
        return cls(**values)

    def check_for_production(self) -> None:
        """Refuse to run outside sandbox mode with a secret that is empty or equals its public sandbox default.

        Called explicitly by every process's boot (``workers.boot.boot``) and by the entry points that build
        their own Settings (``workers.replay``, ``workers.telegram_setup``), not by ``__post_init__``: tests and
        the sandbox build ``Settings(...)`` with the defaults on purpose. The error names every offending
        variable, never a value. With the defaults anyone could sign ``/download`` links, open ``/admin`` and
        forge bot updates, so a production process must not start on them."""
        if self.sandbox_mode:
            return
        defaults: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(self)}
        bad = []
        for name in PRODUCTION_SECRETS:
            value = getattr(self, name)
            default = defaults[name]
            if isinstance(value, tuple):
                if not value or any(not item or item in default or item.startswith("sandbox") for item in value):
                    bad.append(name.upper())
            elif not value or value == default:
                bad.append(name.upper())
        if bad:
            raise SettingsError(f"{', '.join(bad)} must be set to a non-default value outside sandbox mode "
                                "(SANDBOX_MODE=1 only in development)")

    def public_url(self, path: str) -> str:
        return self.public_base_url.rstrip("/") + path

    def callback_url(self, path: str) -> str:
        """A URL the providers call back on: CALLBACK_BASE_URL's (the hooks role), else PUBLIC_BASE_URL's."""
        return (self.callback_base_url or self.public_base_url).rstrip("/") + path

    def origin_of(self, url: str) -> str:
        """``scheme://host[:port]`` of ``url`` (a browser's Origin)."""
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def miniapp_origin(self) -> str:
        """The origin the Mini App is served from (PUBLIC_BASE_URL's)."""
        return self.origin_of(self.public_base_url)

    @property
    def uploads_origin(self) -> str:
        """The origin selfies are sent to: UPLOADS_BASE_URL's, or "" when the web takes them itself."""
        return self.origin_of(self.uploads_base_url) if self.uploads_base_url else ""

    def with_overrides(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


# T-Bank's Receipt vocabulary (Receipt.Taxation, Items[].Tax)
TAXATIONS = ("osn", "usn_income", "usn_income_outcome", "esn", "patent")
VATS = ("none", "vat0", "vat5", "vat7", "vat10", "vat20", "vat105", "vat107", "vat110", "vat120")

# Secrets a production process refuses to start without (empty or equal to the sandbox default): README.md,
# section "Configuration". KIE_WEBHOOK_KEY is optional (Kie's own signature on top of our signed URL).
PRODUCTION_SECRETS = ("admin_token", "callback_signing_key", "telegram_webhook_secret", "telegram_bot_token",
                      "tbank_password", "kie_api_keys", "s3_access_key_id", "s3_secret_access_key")


def _parse(var: str, type_name: object, raw: str) -> object:
    kind = str(type_name)
    try:
        if kind == "bool":
            if raw.strip().lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError
            return raw.strip().lower() in ("1", "true", "yes")
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind.startswith("tuple"):
            items = tuple(part.strip() for part in raw.split(",") if part.strip())
            if not items:
                raise ValueError
            return items
    except ValueError:
        raise SettingsError(f"{var} is malformed (expected {kind})") from None
    return raw
