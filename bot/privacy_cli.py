"""The privacy subcommands: `keygen`, `encrypt`, `rotate-key` and `decrypt`.

Each of the last three holds the database's lock (`<database>.lock` for
SQLite, an advisory lock on PostgreSQL; a running bot holds it too, so they
refuse to run beside one) and changes the whole database in
one transaction (bot/store/sealing.py).

`rotate-key` takes the new key from $STRIKEWIRE_NEW_KEY or standard input,
never from its arguments: those are in the process list and shell history.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable

from bot.config import Config
from bot.privacy.keys import Keyring, new_key, read_key
from bot.store import DatabaseError, open_store
from bot.store.database import (
    hold_postgres_lock,
    make_engine,
    release_postgres_lock,
    sqlite_file,
)
from bot.store.owner import DatabaseOwner
from bot.store.sealing import Resealed, check_key, reseal, stored_check

LoadConfig = Callable[[argparse.Namespace], Config]
NEW_KEY_VARIABLE = "STRIKEWIRE_NEW_KEY"
NO_KEY_ARGUMENT = (
    "--new would put the key in the process list and the shell history: give it on "
    f"standard input (`strikewire rotate-key < new.key`) or as ${NEW_KEY_VARIABLE}"
)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _fail(text: str) -> int:
    _say(f"strikewire: {text}")
    return 1


def _summary(done: Resealed | None, verb: str) -> str:
    if done is None:
        return "nothing to do: the database already is as asked"
    text = f"{verb} {done.chats} chat(s) and {done.records} delivery record(s)"
    for table, rows in done.sealed.items():
        if table not in ("subscribers", "outbox"):
            text += f", {rows} {table} row(s)"
    if done.drafts:
        text += f"; {done.drafts} unpublished draft(s) dropped (their owners were keyed)"
    return text


def _change(config: Config, old: Keyring | None, new: Keyring | None, verb: str) -> int:
    url = config.database_url
    owner = None
    path = sqlite_file(url)
    if path is not None:
        if not path.exists():
            return _fail(f"no database at {path}: nothing to change")
        owner = DatabaseOwner(path)
    try:
        if owner is not None:
            owner.acquire()
        done = asyncio.run(_reseal(url, old, new))
    except DatabaseError as exc:
        return _fail(str(exc))
    finally:
        if owner is not None:
            owner.release()
    _say(_summary(done, verb))
    return 0


async def _reseal(url: str, old: Keyring | None, new: Keyring | None) -> Resealed | None:
    engine = make_engine(url)
    lock = None
    try:
        # PostgreSQL: refused while any bot runs on the database (SQLite: `_change`).
        lock = await hold_postgres_lock(engine, alone=True)
        stored = await stored_check(engine)
        if stored == (new.check if new else None):
            return None
        if old is None:
            check_key(stored, new)  # encrypted already, with another key
        # Opening checks the old key and brings the schema up to date.
        store = await open_store(url, old, progress=_say, hold_lock=False)
        await store.close()
        return await reseal(engine, old, new, _say)
    finally:
        await release_postgres_lock(lock)
        await engine.dispose()


def _new_key_text() -> tuple[str, str]:
    """The new key and where it came from: the environment, else standard
    input (asked for without echo at a terminal)."""
    from_env = os.environ.get(NEW_KEY_VARIABLE)
    if from_env is not None:
        return from_env, f"${NEW_KEY_VARIABLE}"
    if sys.stdin is None:
        return "", "standard input"
    if sys.stdin.isatty():
        return getpass.getpass("new privacy key: "), "typed"
    return sys.stdin.readline(), "standard input"


def cmd_keygen(_args: argparse.Namespace) -> int:
    print(new_key())
    _say(
        "keep it secret and safe: without it the database cannot be read. "
        "Give it to the bot as privacy.key: ${STRIKEWIRE_KEY}"
    )
    return 0


def _commands(load: LoadConfig) -> dict[str, Callable[[argparse.Namespace], int]]:
    def cmd_encrypt(args: argparse.Namespace) -> int:
        config = load(args)
        keyring = config.privacy.keyring
        if keyring is None:
            return _fail(
                "privacy.key is not set: make one with `strikewire keygen` and set "
                "privacy.key: ${STRIKEWIRE_KEY} in the config"
            )
        return _change(config, None, keyring, "encrypted")

    def cmd_rotate(args: argparse.Namespace) -> int:
        if args.new is not None:
            return _fail(NO_KEY_ARGUMENT)
        config = load(args)
        old = config.privacy.keyring
        if old is None:
            return _fail("privacy.key is not set: rotate-key needs the current key there")
        given, where = _new_key_text()
        if not given.strip():
            return _fail(f"no new key given: {NO_KEY_ARGUMENT.split(': ', 1)[1]}")
        try:
            new = Keyring(read_key(given))
        except ValueError as exc:
            return _fail(f"the new key ({where}) {exc}")
        code = _change(config, old, new, "re-encrypted")
        if code == 0:
            _say("now give the bot the new key as privacy.key before starting it")
        return code

    def cmd_decrypt(args: argparse.Namespace) -> int:
        config = load(args)
        old = config.privacy.keyring
        if old is None:
            return _fail("privacy.key is not set: decrypt needs the database's key there")
        code = _change(config, old, None, "decrypted")
        if code == 0:
            _say("now remove privacy.key from the config before starting the bot")
        return code

    return {"encrypt": cmd_encrypt, "rotate-key": cmd_rotate, "decrypt": cmd_decrypt}


def add_commands(
    sub: Callable[[str, str], argparse.ArgumentParser],
    plain: Callable[[str, str], argparse.ArgumentParser],
    load: LoadConfig,
) -> None:
    """Add the privacy subcommands; `sub` makes one that reads the config."""
    commands = _commands(load)
    plain("keygen", "print a new random privacy key").set_defaults(func=cmd_keygen)
    sub("encrypt", "seal every chat id in the database with privacy.key").set_defaults(
        func=commands["encrypt"]
    )
    rotate = sub(
        "rotate-key",
        "re-encrypt the database from privacy.key to a new key, read from "
        f"${NEW_KEY_VARIABLE} or standard input",
    )
    # Refused with the way to do it now (it used to take the key).
    rotate.add_argument("--new", nargs="?", const="", help=argparse.SUPPRESS)
    rotate.set_defaults(func=commands["rotate-key"])
    sub("decrypt", "store chat ids in clear again (then remove privacy.key)").set_defaults(
        func=commands["decrypt"]
    )
