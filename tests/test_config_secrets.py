"""Secrets stay secret: no repr or error message shows one, and `strikewire
check` warns when the webhook has no secret of its own and when a file that
other users can read holds one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.cli import main
from bot.config import Config, ConfigError, load_config
from bot.content.yamlpos import load_yaml_with_lines
from bot.privacy.keys import new_key

TOKEN = "4242:TOKEN-never-shown"
KEY = new_key()
SECRETS = (TOKEN, "hook-never-shown", "pw-never-shown", "at-never-shown", KEY, "db-pw-never")


def full_config() -> str:
    return (
        "database:\n  url: postgresql://bot:db-pw-never@127.0.0.1:9/bot\n"
        f"privacy:\n  key: {KEY}\n"
        f"telegram:\n  token: '{TOKEN}'\n"
        "  webhook:\n    url: https://bot.example.org/tg\n    secret_token: hook-never-shown\n"
        "matrix:\n  homeserver: https://matrix.example.org\n  user_id: '@bot:example.org'\n"
        "  password: pw-never-shown\n  access_token: at-never-shown\n"
    )


def test_no_repr_shows_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(full_config())
    config = load_config(path)
    for shown in (repr(config), str(config), repr(config.telegram), repr(config.matrix)):
        assert [s for s in SECRETS if s in shown] == []
    assert config.telegram is not None and config.telegram.token == TOKEN  # still there


@pytest.mark.parametrize(
    "broken",
    [
        "telegram:\n  token: [4242, TOKEN-never-shown]\n",
        "matrix:\n  homeserver: https://m.example.org\n  user_id: '@b:m'\n"
        "  password: {pw: pw-never-shown}\n",
        "privacy:\n  key: pw-never-shown\n",
        "database:\n  url: [postgresql://bot:db-pw-never@127.0.0.1:9/bot]\n",
        "telegram:\n  token: x\n  webhook:\n    url: https://b.org/t\n"
        "    secret_token: [hook-never-shown]\n",
    ],
)
def test_a_broken_secret_is_named_but_never_quoted(tmp_path: Path, broken: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(broken)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.line > 0
    shown = problem.format()
    assert not any(word in shown for word in ("never-shown", "never", "TOKEN"))
    # Nor does pydantic's own text, were it ever printed as it is.
    data, _ = load_yaml_with_lines(broken)
    with pytest.raises(ValidationError) as raw:
        Config.model_validate(data)
    assert "never" not in str(raw.value)


def check(capsys: pytest.CaptureFixture[str], path: Path) -> list[str]:
    (path.parent / "updates").mkdir(exist_ok=True)
    assert main(["check", "-c", str(path)]) == 0
    return [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]


def test_check_warns_of_a_webhook_without_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_TOKEN", TOKEN)
    path = tmp_path / "config.yaml"
    hook = "telegram:\n  token: ${TELEGRAM_TOKEN}\n  webhook:\n    url: https://b.org/tg\n"
    path.write_text(hook)
    assert check(capsys, path) == [
        f"{path}: warning: telegram.webhook has no secret_token: a new one is made at each "
        "start and given to Telegram (set secret_token: ${TELEGRAM_WEBHOOK_SECRET} to keep one)"
    ]
    path.write_text(hook + "    secret_token: ${TELEGRAM_TOKEN}\n")
    assert check(capsys, path) == []


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_check_warns_of_secrets_written_in_a_file_others_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(full_config())
    path.chmod(0o644)
    [warning] = [w for w in check(capsys, path) if "other users" in w]
    assert warning == (
        f"{path}: warning: holds telegram.token, telegram.webhook.secret_token, "
        "matrix.password, matrix.access_token, privacy.key, database.url and other users "
        f"can read it (mode 0644): run `chmod 600 {path}`, or give them as ${{VARIABLE}}"
    )
    assert not any(s in warning for s in SECRETS)
    path.chmod(0o600)
    assert check(capsys, path) == []
    # Given through the environment, the secrets are not in the file: its mode is no matter.
    monkeypatch.setenv("TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("PGPASSWORD_X", "db-pw-never")
    path.write_text(
        "database:\n  url: postgresql://bot:${PGPASSWORD_X}@127.0.0.1:9/bot\n"
        "telegram:\n  token: ${TELEGRAM_TOKEN}\n"
    )
    path.chmod(0o644)
    assert check(capsys, path) == []
