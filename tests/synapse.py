"""A real Synapse homeserver for the Matrix tests: config generation, start,
readiness, shared-secret registration, rate-limit overrides and shutdown.

Nothing is installed at test time: Synapse comes from the `test` extra and runs
as `python -m synapse.app.homeserver` on 127.0.0.1 with SQLite. If it cannot
start, the fixture fails with the tail of Synapse's log; it never skips.

Import the fixtures into a test module (`from tests.synapse import
synapse_server`) rather than through a conftest.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from signedjson.key import generate_signing_key, write_signing_keys

SERVER_NAME = "strikewire.test"
START_DEADLINE_S = 60.0
_user_numbers = itertools.count(1)

# Every client-facing limit raised far above what a test can reach.
UNREACHABLE: dict[str, int] = {"per_second": 10_000, "burst_count": 100_000}
RAISED_LIMITS: dict[str, Any] = {
    "rc_message": UNREACHABLE,
    "rc_registration": UNREACHABLE,
    "rc_login": {
        "address": UNREACHABLE,
        "account": UNREACHABLE,
        "failed_attempts": UNREACHABLE,
    },
    "rc_joins": {
        "local": UNREACHABLE,
        "remote": UNREACHABLE,
    },
    "rc_joins_per_room": UNREACHABLE,
    "rc_invites": {
        "per_room": UNREACHABLE,
        "per_user": UNREACHABLE,
        "per_issuer": UNREACHABLE,
    },
    "rc_room_creation": UNREACHABLE,
    "rc_key_requests": UNREACHABLE,
    "rc_media_create": UNREACHABLE,
    "rc_presence": {"per_user": UNREACHABLE},
    "rc_profile": UNREACHABLE,
}


@dataclass(frozen=True)
class RegisteredUser:
    """An account on the test homeserver, with a fresh access token."""

    user_id: str
    password: str
    access_token: str
    device_id: str


class SynapseServer:
    """One running Synapse process and the admin calls the tests need."""

    def __init__(self, directory: Path, port: int, process: subprocess.Popen[bytes]) -> None:
        self.directory = directory
        self.port = port
        self.process = process
        self.base_url = f"http://127.0.0.1:{port}"
        self.server_name = SERVER_NAME
        self.shared_secret = (directory / "shared_secret").read_text()
        self._admin: RegisteredUser | None = None

    def log_tail(self, lines: int = 40) -> str:
        """The end of Synapse's own log, for failure messages."""
        text = ""
        for name in ("homeserver.log", "stderr.log"):
            path = self.directory / name
            if path.exists():
                text += f"--- {name}\n" + "\n".join(path.read_text().splitlines()[-lines:]) + "\n"
        return text

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> dict[str, Any]:
        """One JSON request to the homeserver; raises with the reply on failure."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                result: dict[str, Any] = json.loads(resp.read() or b"{}")
                return result
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()!r}") from None

    def register(self, localpart: str | None = None, *, admin: bool = False) -> RegisteredUser:
        """Create an account through the shared-secret admin API."""
        name = localpart or f"user{next(_user_numbers)}_{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        nonce = self.request("GET", "/_synapse/admin/v1/register")["nonce"]
        flag = "admin" if admin else "notadmin"
        message = b"\x00".join(p.encode() for p in (nonce, name, password, flag))
        mac = hmac.new(self.shared_secret.encode(), message, hashlib.sha1).hexdigest()
        body = {"nonce": nonce, "username": name, "password": password, "admin": admin, "mac": mac}
        reply = self.request("POST", "/_synapse/admin/v1/register", body)
        return RegisteredUser(reply["user_id"], password, reply["access_token"], reply["device_id"])

    def admin(self) -> RegisteredUser:
        """A server admin, registered on first use."""
        if self._admin is None:
            self._admin = self.register(admin=True)
        return self._admin

    def lift_ratelimit(self, user_id: str) -> None:
        """What an operator does for the bot: no rate limit for this account."""
        path = f"/_synapse/admin/v1/users/{urllib.parse.quote(user_id)}/override_ratelimit"
        body = {"messages_per_second": 0, "burst_count": 0}
        self.request("POST", path, body, token=self.admin().access_token)

    def restore_ratelimit(self, user_id: str) -> None:
        """Back to the server's configured limits for this account."""
        path = f"/_synapse/admin/v1/users/{urllib.parse.quote(user_id)}/override_ratelimit"
        self.request("DELETE", path, token=self.admin().access_token)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(directory: Path, port: int, *, raised_limits: bool) -> Path:
    """Write homeserver.yaml, its log config and signing key into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    key_path = directory / "signing.key"
    with key_path.open("w") as handle:
        write_signing_keys(handle, [generate_signing_key("a_test")])
    secret_path = directory / "shared_secret"
    if not secret_path.exists():
        secret_path.write_text(secrets.token_hex(16))
    log_config = {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "plain",
                "filename": str(directory / "homeserver.log"),
            }
        },
        "loggers": {"synapse.access": {"level": "WARNING"}},
        "root": {"level": "INFO", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }
    (directory / "log.yaml").write_text(yaml.safe_dump(log_config))
    config: dict[str, Any] = {
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(directory / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}},
        "log_config": str(directory / "log.yaml"),
        "media_store_path": str(directory / "media"),
        "signing_key_path": str(key_path),
        "report_stats": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "registration_shared_secret": secret_path.read_text(),
        "enable_registration_without_verification": True,
        "bcrypt_rounds": 4,
        "enable_metrics": False,
        "url_preview_enabled": False,
        "presence": {"enabled": False},
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
    }
    if raised_limits:
        config.update(RAISED_LIMITS)
    path = directory / "homeserver.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _wait_until_up(server: SynapseServer, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            server.request("GET", "/_matrix/client/versions")
            return
        except (OSError, AssertionError):
            time.sleep(0.1)
    server.stop()
    pytest.fail(
        f"Synapse did not answer on {server.base_url} (exit status {server.process.poll()}):\n"
        + server.log_tail(),
        pytrace=False,
    )


def start_synapse(directory: Path, *, raised_limits: bool = True) -> SynapseServer:
    """Start Synapse with a fresh config in `directory` and wait until it answers."""
    port = _free_port()
    config_path = write_config(directory, port, raised_limits=raised_limits)
    stderr = (directory / "stderr.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNAPSE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config_path)],
        cwd=directory,
        stdout=stderr,
        stderr=subprocess.STDOUT,
        env=env,
    )
    stderr.close()
    server = SynapseServer(directory, port, process)
    _wait_until_up(server, time.monotonic() + START_DEADLINE_S)
    return server


# Each test module imports the fixture, which makes it a separate fixture per
# module to pytest; this one server is what they share.
_shared: list[SynapseServer] = []


@pytest.fixture(scope="session")
def synapse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """One homeserver for the session, every rate limit raised."""
    if not _shared or _shared[0].process.poll() is not None:
        _shared[:] = [start_synapse(tmp_path_factory.mktemp("synapse"))]
    try:
        yield _shared[0]
    finally:
        # Session fixtures end together, at the end of the run.
        _shared[0].stop()


@pytest.fixture(scope="module")
def synapse_default_limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """A homeserver with Synapse's own default rate limits, as a bot meets them."""
    server = start_synapse(tmp_path_factory.mktemp("synapse-default"), raised_limits=False)
    try:
        yield server
    finally:
        server.stop()
