"""The config's schema: one pydantic model per section, `Config` over them all.

Every key has a default; unknown keys are refused (`Strict`). Durations are
written `30m`, `3h`, `1d`; secrets stay out of reprs and error messages.
Reading the file, `${ENV}` substitution and the checks of the whole are
bot/config/loading.py.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
)

from bot.durations import parse_duration
from bot.i18n import LANGUAGES
from bot.privacy.keys import Keyring, read_key

# The database URLs the store can open (bot/store/database.py async_url).
_DATABASE_SCHEMES = ("sqlite", "sqlite+aiosqlite", "postgresql", "postgres", "postgresql+asyncpg")


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(str(value))


Duration = Annotated[timedelta, BeforeValidator(_duration), PlainSerializer(str)]


def _check_timezone(value: Any) -> str:
    text = str(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"{text!r} is not a known time zone (use an IANA name such as Europe/London)"
        ) from None
    return text


class Strict(BaseModel):
    # hide_input_in_errors: a ValidationError printed as it is never quotes
    # a value (a secret among them); `problems` words our own messages.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def _secret_text(value: Any) -> Any:
    """A secret as text. What is not text is refused without echoing it
    (pydantic's own message would quote the value)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # YAML read a number: it is still the secret
    raise ValueError("must be text (write it in quotes, or as ${VARIABLE})")


# Secrets: kept out of reprs (`repr=False` on each field) and error messages.
SecretText = Annotated[str, BeforeValidator(_secret_text)]
MaybeSecretText = Annotated[str | None, BeforeValidator(_secret_text)]


class DatabaseConfig(Strict):
    # postgresql://user:password@host/db holds a password.
    url: SecretText = Field(default="sqlite:///strikewire.db", repr=False)

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in _DATABASE_SCHEMES:
            # The scheme only: the rest of a URL may hold a password.
            named = f"{scheme!r} is not a supported database" if scheme else "is not a URL"
            raise ValueError(
                f"{named} (use sqlite:///path/to/file.db or postgresql://user:password@host/db)"
            )
        return value


class BroadcastConfig(Strict):
    # An item whose date is older than this is never broadcast, so a fresh
    # install over an archive of updates sends nothing old.
    max_age: Duration = timedelta(days=2)
    # How often the dispatcher looks for items whose publish_at has come.
    check_every: Duration = timedelta(seconds=30)
    # An update whose text needs more Telegram messages than this is refused
    # by `check` (a pasted log would reach every reader as thousands).
    max_parts: int = Field(default=10, ge=1, le=100)


def _duration_or_zero(value: Any) -> timedelta:
    if value in (0, "0"):
        return timedelta(0)
    return _duration(value)


def _privacy_key(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        raise ValueError("is empty (set STRIKEWIRE_KEY, made with `strikewire keygen`)")
    read_key(text)
    return text


class PrivacyConfig(Strict):
    # 32 random bytes, base64 (`strikewire keygen`): chat ids, room ids and
    # message ids are stored sealed with it (bot/privacy). Keep it out of the
    # config file: `key: ${STRIKEWIRE_KEY}`.
    key: Annotated[str | None, BeforeValidator(_privacy_key)] = Field(default=None, repr=False)
    # false: channel-only. No subscriber is stored; updates go to
    # `destinations`, and /start says where to follow the campaign.
    subscriptions: bool = True
    # Where to follow the campaign, for /start in channel-only mode: links or
    # addresses such as https://t.me/strike_news or #strike-news:example.org.
    follow: list[str] = Field(default_factory=list)
    # Who received what (and the message ids that corrections edit) is
    # forgotten this long after the send; an older update can no longer be
    # corrected or withdrawn in the chats.
    keep_delivery_records: Duration = Field(default=timedelta(days=30), ge=timedelta(days=1))
    # A chat that stopped (or that the platform says is gone) is deleted this
    # long after; 0: at once. Kept, it gets its language back on /start.
    keep_inactive_subscribers: Annotated[
        timedelta, BeforeValidator(_duration_or_zero), PlainSerializer(str)
    ] = timedelta(0)

    @property
    def channel_only(self) -> list[str] | None:
        """Channel-only mode's places to follow; None when subscriptions are on."""
        return None if self.subscriptions else self.follow

    @property
    def keyring(self) -> Keyring | None:
        return None if self.key is None else Keyring(read_key(self.key))


class DeliveryConfig(Strict):
    # How long a claimed row is reserved for the worker that claimed it. The
    # worker renews it every quarter of this while the row waits; only a
    # process that died leaves it to run out, and then another sends the row.
    lease: Duration = Field(default=timedelta(minutes=5), ge=timedelta(seconds=2))
    # On stop, how long sends already under way may take to finish; what is
    # not sent by then is given back to the queue.
    stop_grace: Duration = timedelta(seconds=10)


class PublishingConfig(Strict):
    # How many admins must publish or approve a post, an edit or a withdrawal
    # sent from the chat before it takes effect: 2 means one seized phone
    # cannot publish in the campaign's name.
    approvals: int = Field(default=1, ge=1, le=5)
    # An unpublished draft is dropped this long after it was written.
    drafts_expire: Duration = Field(default=timedelta(hours=24), ge=timedelta(minutes=5))


class RemindersConfig(Strict):
    default: list[Duration] = Field(
        default_factory=lambda: [timedelta(days=7), timedelta(days=1), timedelta(hours=3)]
    )


class Destination(Strict):
    platform: Literal["telegram", "matrix", "console"]
    chat: str
    language: str | None = None


class TelegramLimits(Strict):
    overall_per_second: float = Field(default=30.0, gt=0)
    # The overall rate when telegram.allow_paid_broadcast is on (Telegram's
    # paid broadcasts allow up to 1,000 messages/s; each costs Stars).
    paid_per_second: float = Field(default=1000.0, gt=0)
    per_private_chat_per_second: float = Field(default=1.0, gt=0)
    per_group_per_minute: float = Field(default=20.0, gt=0)


class TelegramWebhook(Strict):
    listen: str = "127.0.0.1"
    port: int = 8443
    path: str = "telegram"
    url: str  # the public https URL Telegram calls
    # Telegram sends it with every update; none given, one is made at each start.
    secret_token: MaybeSecretText = Field(default=None, repr=False)


class TelegramConfig(Strict):
    token: SecretText = Field(repr=False)
    base_url: str = "https://api.telegram.org/bot"
    admins: list[int] = Field(default_factory=list)
    limits: TelegramLimits = TelegramLimits()
    allow_paid_broadcast: bool = False
    webhook: TelegramWebhook | None = None

    @field_validator("token")
    @classmethod
    def _token_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty (set TELEGRAM_TOKEN in the environment)")
        return value


class MatrixConfig(Strict):
    # The client-server API base URL, e.g. https://matrix.example.org.
    homeserver: str
    # The bot's own account, @name:domain.
    user_id: str
    # Used once, to log in as a new device; afterwards the session kept in
    # store_path is reused (the password may then be removed from the config).
    password: MaybeSecretText = Field(default=None, repr=False)
    # Instead of a password: an access token of an existing device.
    access_token: MaybeSecretText = Field(default=None, repr=False)
    # Shown to people in their list of the bot's devices.
    device_name: str = "strikewire"
    # Access token, device id and encryption keys. Keep it: a new store is a
    # new device, and encrypted rooms must share their keys with it again.
    store_path: Path = Path("matrix-store")
    # May use /status and manage what any room receives.
    admins: list[str] = Field(default_factory=list)
    # Accept invites only from users of these homeservers (default: any).
    allowed_servers: list[str] | None = None
    # End-to-end encryption; off only for homeservers without it.
    encryption: bool = True
    # Sends the delivery worker keeps outstanding at once.
    max_in_flight: int = Field(default=8, ge=1, le=256)

    @field_validator("homeserver")
    @classmethod
    def _homeserver_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError("must be a URL such as https://matrix.example.org")
        return value.rstrip("/")

    @field_validator("user_id")
    @classmethod
    def _user_id_form(cls, value: str) -> str:
        if not re.fullmatch(r"@[^:\s]+:\S+", value):
            raise ValueError("must be in the form @name:domain")
        return value


class WebConfig(Strict):
    """The web face (bot/web): public pages and feed, /healthz and /metrics."""

    # The address and port the bot's own HTTP server listens on; put a
    # reverse proxy (TLS) in front of it. Port 0 takes any free port.
    listen: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Serve the public pages (/, /u/<id>, /feed.xml, /pickets.ics). Off, only
    # /healthz and /metrics answer.
    public: bool = False
    # Where readers reach the pages (behind the proxy); the feed's links are
    # absolute. Default: http://listen:port.
    base_url: str | None = None

    @field_validator("base_url")
    @classmethod
    def _base_url_form(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("must be a URL such as https://news.example.org")
        return value.rstrip("/")

    @property
    def public_url(self) -> str:
        """base_url, or the server's own address when none is given."""
        return self.base_url or f"http://{self.listen}:{self.port}"


class Config(Strict):
    updates_dir: Path = Path("updates")
    database: DatabaseConfig = DatabaseConfig()
    timezone: Annotated[str, BeforeValidator(_check_timezone)] = "Europe/London"
    language: str = "en"
    broadcast: BroadcastConfig = BroadcastConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    reminders: RemindersConfig = RemindersConfig()
    publishing: PublishingConfig = PublishingConfig()
    destinations: list[Destination] = Field(default_factory=list)
    # Chats told about update files that could not be published, besides the
    # console and Telegram's admins (e.g. an organisers' Matrix room).
    reports: list[Destination] = Field(default_factory=list)
    telegram: TelegramConfig | None = None
    matrix: MatrixConfig | None = None
    # The web face; absent: no web server.
    web: WebConfig | None = None
    # Where the config came from; relative paths above are resolved against it.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            known = ", ".join(LANGUAGES)
            raise ValueError(f"{value!r} is not one of the bot's languages (use one of {known})")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def updates_path(self) -> Path:
        return self.base_dir / self.updates_dir

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made relative to the config."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            rest = url[len(prefix) :]
            if rest and rest != ":memory:":
                return prefix + str((self.base_dir / rest).resolve())
        return url

    @property
    def media_cache_path(self) -> Path:
        """Where the stripped copies of media files are kept (docs/media.md):
        beside the config, never inside updates/."""
        return self.base_dir / "media-cache"

    @property
    def matrix_store_path(self) -> Path | None:
        return None if self.matrix is None else self.base_dir / self.matrix.store_path
