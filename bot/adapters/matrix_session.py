"""The Matrix bot's login: one device for the life of `matrix.store_path`.

The first start logs in with the password (or adopts a configured access
token) and writes `session.json` next to matrix-nio's encryption store; every
later start restores that session, so the bot stays the same device and keeps
the keys its encrypted rooms were shared with. Failures become one line for
the operator (`AdapterStartError`), never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from nio import (
    AsyncClient,
    AsyncClientConfig,
    LoginError,
    LoginResponse,
    WhoamiError,
    WhoamiResponse,
)
from nio.exceptions import LocalProtocolError

from bot.adapters.base import AdapterStartError
from bot.config import MatrixConfig

log = logging.getLogger(__name__)
SESSION_FILE = "session.json"
REQUEST_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Session:
    homeserver: str
    user_id: str
    device_id: str
    access_token: str


def client_config(encryption: bool) -> AsyncClientConfig:
    """nio settings: no hidden retries, so errors reach the delivery worker.

    nio's defaults retry `M_LIMIT_EXCEEDED` and lost connections forever and
    silently; with both at 0 every failure comes back at once and the worker
    (or the sync loop) decides when to try again.
    """
    return AsyncClientConfig(
        max_limit_exceeded=0,
        max_timeouts=0,
        request_timeout=REQUEST_TIMEOUT_S,
        encryption_enabled=encryption,
        store_sync_tokens=False,
    )


def read_session(store_path: Path) -> Session | None:
    """The stored session, if any; creates the (owner-only) store folder."""
    try:
        store_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise AdapterStartError(
            f"matrix: cannot create {store_path} ({exc.strerror}); check matrix.store_path"
        ) from None
    path = store_path / SESSION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Session(**{k: str(data[k]) for k in Session.__dataclass_fields__})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AdapterStartError(
            f"matrix: {path} is unreadable ({exc}); delete it to log in as a new device"
        ) from None


def write_session(store_path: Path, session: Session) -> None:
    path = store_path / SESSION_FILE
    tmp = path.with_suffix(".tmp")
    # The access token is a password for the bot's account: owner-only.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(session), handle)
    tmp.replace(path)


def _unreachable(config: MatrixConfig, exc: BaseException) -> AdapterStartError:
    reason = str(exc) or type(exc).__name__
    return AdapterStartError(
        f"matrix: cannot reach {config.homeserver} ({reason}); check matrix.homeserver"
    )


async def _whoami(client: AsyncClient, config: MatrixConfig) -> WhoamiResponse | WhoamiError:
    try:
        reply: WhoamiResponse | WhoamiError = await client.whoami()
    except (OSError, TimeoutError) as exc:
        raise _unreachable(config, exc) from None
    return reply


async def _password_login(client: AsyncClient, config: MatrixConfig) -> Session:
    if not config.password:
        raise AdapterStartError(
            "matrix: no usable session; set matrix.password (or matrix.access_token)"
        )
    try:
        reply = await client.login(config.password, device_name=config.device_name)
    except (OSError, TimeoutError) as exc:
        raise _unreachable(config, exc) from None
    if isinstance(reply, LoginError) or not isinstance(reply, LoginResponse):
        message = getattr(reply, "message", "no answer")
        raise AdapterStartError(
            f"matrix: {config.homeserver} refused the login of {config.user_id}: "
            f"{message}; check matrix.user_id and matrix.password"
        )
    return Session(config.homeserver, reply.user_id, reply.device_id, reply.access_token)


async def open_session(client: AsyncClient, config: MatrixConfig, store_path: Path) -> Session:
    """Log `client` in as the configured account, reusing the stored device."""
    stored = read_session(store_path)
    if stored is not None and stored.user_id != config.user_id:
        raise AdapterStartError(
            f"matrix: {store_path} belongs to {stored.user_id}, not {config.user_id}; "
            "use another matrix.store_path"
        )
    session: Session | None = None
    token = config.access_token or (stored.access_token if stored else None)
    if token:
        client.access_token = token
        who = await _whoami(client, config)
        if isinstance(who, WhoamiResponse) and who.user_id == config.user_id:
            device = who.device_id or (stored.device_id if stored else None)
            if device:
                session = Session(config.homeserver, who.user_id, device, token)
        elif config.access_token:
            raise AdapterStartError(
                f"matrix: {config.homeserver} does not accept matrix.access_token for "
                f"{config.user_id}; issue a new token"
            )
        else:
            log.warning("matrix: the stored access token was refused; logging in again")
    if session is None:
        # Logging in with the stored device id keeps the device and its keys.
        client.device_id = stored.device_id if stored else None
        client.user = config.user_id
        session = await _password_login(client, config)
    try:
        client.restore_login(session.user_id, session.device_id, session.access_token)
    except LocalProtocolError as exc:
        raise AdapterStartError(f"matrix: cannot open the store in {store_path}: {exc}") from None
    write_session(store_path, session)
    log.info("matrix: signed in as device %s", session.device_id)
    return session
