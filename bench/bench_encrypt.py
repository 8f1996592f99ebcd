"""Turning encryption on for an existing database: `.venv/bin/python -m bench.bench_encrypt`.

Options: `--mode sqlite|postgresql|all` (default all), `--subscribers N`
(default 10,000).

The target (the privacy key's issue): turning encryption on for an existing
database with 10,000 subscribers keeps every subscription and takes under
10 s. Per mode:

1. A plain database (no key) is built through the Store API (untimed): N
   subscribers, 60 % Telegram private chats (7000000000 + i), 20 % Telegram
   groups (-1001000000000 - i style ids), 20 % Matrix rooms
   (`!…:example.org`), three of them configured destinations
   (`sync_destinations`); six languages or none; every third follows named
   campaigns instead of everything. One broadcast is fanned out to all of
   them (`enqueue`), claimed and recorded as sent with message ids (`claim`,
   `record`; a fifth of the Telegram sends in two parts), and then 1 % of
   the chats stop (kept inactive: `keep_inactive_subscribers: 30d`), so the
   outbox holds N delivery records with message ids and the subscribers
   table has active and inactive rows. (About 40 s for 10,000 on 2 vCPUs,
   one transaction per subscription; a whole run takes about 3.5 minutes.)
2. Every subscription (platform, chat id, active, everything, campaigns,
   language, source) and every delivery record (chat, message ids, state,
   revision) is read back with a direct SELECT on the plain database.
3. The real `strikewire encrypt -c config.yaml` runs as a subprocess
   (`database.url` and `privacy.key: ${STRIKEWIRE_KEY}`): its wall time,
   interpreter start-up included, is the headline number. Its stderr lines
   are timestamped as they arrive, which splits it into start-up (imports,
   config, migration check, the first batch), rows and the rest (commit,
   VACUUM, exit). Separately, a copy of the same plain database made before
   is opened in this process with the key (`open_store(url, keyring)`, what
   `strikewire run` does at start): the in-process time of the same reseal.
4. The files are searched for clear ids: 100 sampled chat ids and 100
   sampled message ids as text, and patterns that match every chat id of
   the population (the private and group ids' digits, `:example.org`),
   in the SQLite file and its -wal, or in the PostgreSQL database's
   relation files after a CHECKPOINT (PostgreSQL's WAL is searched too and
   reported apart: it keeps the inserts made before encryption until its
   segments are recycled). The same search on the plain database first
   shows that it finds them.
5. Opened with the key: `subscription()` for every chat equals the
   snapshot; a new broadcast fanned out and claimed reaches exactly the
   active chats with their languages (their sealed ids open); a withdrawal
   (`enqueue_deletes`) claimed and resolved with `target_of` gives back
   every record's chat id and message ids. Those check rows are then deleted
   again. Opening without the key, or with the old one after a rotation, is
   refused.
6. `strikewire rotate-key --new KEY` runs (timed the same way), and steps 4
   and 5 are repeated under the new key.

The floor: `strikewire check` on the same config and database, right after
the encrypt, timed the same way: a command's start-up (the interpreter,
imports, the config, the key check) with nothing to reseal. The encrypt over
the floor is the ratio the target is read by (docs/benchmarks.md), since both
move with the host's speed.

PostgreSQL is a throwaway server started the way the tests start theirs
(`tests/postgres.PostgresServer`: Debian's binaries, a temporary data
directory, fsync off). A markdown table is printed at the end; the exit
status is 1 if a target is missed or a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import shutil
import sqlite3
import string
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select, text

from bot.keys import MessageKey
from bot.privacy.keys import Keyring, new_key, read_key
from bot.store import DatabaseError, OutboxRow, Store, Subscription, open_store
from bot.store.database import make_engine
from bot.store.schema import outbox, subscribers, subscriptions

BIN = Path(sys.executable).parent
# The 10 s, read against the floor in the same run (docs/benchmarks.md,
# "Ratio targets").
RATIO_TARGET = 8.0
KEEP_INACTIVE = timedelta(days=30)
PLATFORMS = ("telegram", "matrix")
LANGUAGES = (None, "en", "ru", "uk", "kk", "de")
CAMPAIGN = "metallist"
ITEM = "bench-encrypt"
REVISION = "r1"
CHECK_ITEM = "bench-encrypt-check"
SAMPLE = 100
SEED = 20261201
# Every chat id of the population (N up to a million) as text. Sealed values
# are urlsafe base64: a chance match of these digit runs is far below one in
# a file of this size, and base64 has no ':' or '.' at all.
CHAT_PATTERNS = (
    re.compile(rb"7000\d{6}"),  # private chats
    re.compile(rb"-100\d{10}"),  # groups
    re.compile(rb":example\.org"),  # Matrix rooms
)

T = TypeVar("T")
X = TypeVar("X")


# ----- the population --------------------------------------------------------------


@dataclass(frozen=True)
class Chat:
    platform: str
    chat_id: str
    language: str | None
    campaigns: tuple[str, ...] | None  # None: everything
    message_ids: str  # comma-joined, as the adapter returns them
    stops: bool = False
    destination: bool = False


def _matrix_room(rng: random.Random) -> str:
    return "!" + "".join(rng.choices(string.ascii_letters, k=18)) + ":example.org"


def _matrix_event(rng: random.Random) -> str:
    return "$" + "".join(rng.choices(string.ascii_letters + string.digits + "-_", k=43))


def population(count: int) -> list[Chat]:
    """`count` chats: three configured destinations and count - 3 subscribed in chats."""
    rng = random.Random(SEED)
    chats = [
        Chat("telegram", "-1009990000001", None, None, "91000001", destination=True),
        Chat("telegram", "@bench_news", "ru", None, "91000002", destination=True),
        Chat("matrix", _matrix_room(rng), None, None, _matrix_event(rng), destination=True),
    ]
    campaign_sets = {
        1: (CAMPAIGN,),
        4: (CAMPAIGN, "uralsk-rail"),
        7: (CAMPAIGN, "kazakh-oil", "solidarity"),
    }
    for i in range(count - len(chats)):
        language = LANGUAGES[i % len(LANGUAGES)]
        campaigns = campaign_sets.get(i % 9)
        stops = i % 100 == 50
        kind = i % 10
        if kind < 6:
            chat_id, where = str(7_000_000_000 + i), "telegram"
        elif kind < 8:
            chat_id, where = str(-1_001_000_000_000 - i), "telegram"
        else:
            chat_id, where = _matrix_room(rng), "matrix"
        if where == "matrix":
            ids = _matrix_event(rng)
        elif i % 5 == 0:
            ids = f"{81_000_000 + 2 * i},{81_000_000 + 2 * i + 1}"
        else:
            ids = str(81_000_000 + 2 * i)
        chats.append(Chat(where, chat_id, language, campaigns, ids, stops))
    return chats[:count]


async def each(items: Iterable[X], call: Callable[[X], Awaitable[T]], limit: int = 8) -> list[T]:
    """`call` for every item, `limit` at a time; the answers in order."""
    gate = asyncio.Semaphore(limit)

    async def one(item: X) -> T:
        async with gate:
            return await call(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


async def claim_all(store: Store, now: float) -> list[OutboxRow]:
    rows: list[OutboxRow] = []
    for where in PLATFORMS:
        while batch := await store.claim(where, now, 1000, 600.0, "bench"):
            rows += batch
    return rows


async def build(url: str, chats: Sequence[Chat]) -> float:
    """The plain database: subscribers, one broadcast sent to all, 1 % stopped."""
    started = time.perf_counter()
    store = await open_store(url, keep_inactive=KEEP_INACTIVE)
    try:
        now = time.time()
        await store.sync_destinations(
            [(c.platform, c.chat_id, c.language) for c in chats if c.destination], now
        )
        await each(
            [c for c in chats if not c.destination],
            lambda c: store.subscribe(c.platform, c.chat_id, c.campaigns, now, language=c.language),
        )
        written = await store.enqueue(
            str(MessageKey.broadcast(ITEM)), ITEM, "", [CAMPAIGN], PLATFORMS, now
        )
        if written != len(chats):
            raise SystemExit(f"bench: the broadcast reached {written} of {len(chats)} chats")
        by_chat = {(c.platform, c.chat_id): c for c in chats}
        for row in await claim_all(store, now):
            sent = by_chat[(row.platform, row.chat_id)].message_ids
            await store.record(sent=[(row.id, sent, REVISION)], now=now, owner="bench")
        await each(
            [c for c in chats if c.stops], lambda c: store.stop(c.platform, c.chat_id, now=now)
        )
        if store.engine.dialect.name == "postgresql":
            async with store.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("ANALYZE"))
    finally:
        await store.close()
    return time.perf_counter() - started


# ----- what the plain database holds -----------------------------------------------


@dataclass(frozen=True)
class Record:
    message_ids: tuple[str, ...]
    state: str
    revision: str | None
    language: str | None


@dataclass
class Snapshot:
    subscriptions: dict[tuple[str, str], Subscription]
    records: dict[tuple[str, str], Record]


async def snapshot(url: str) -> Snapshot:
    """Every subscription and delivery record, read directly from the plain tables."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            names: dict[int, set[str]] = {}
            for sub_id, campaign in await conn.execute(
                select(subscriptions.c.subscriber_id, subscriptions.c.campaign)
            ):
                names.setdefault(sub_id, set()).add(campaign)
            subs = {
                (r.platform, r.chat_id): Subscription(
                    r.platform,
                    r.chat_id,
                    r.active,
                    r.everything,
                    frozenset(names.get(r.id, ())),
                    r.language,
                    r.source,
                )
                for r in await conn.execute(select(subscribers))
            }
            records = {
                (r.platform, r.chat_id): Record(
                    tuple(r.message_ids.split(",")) if r.message_ids else (),
                    r.state,
                    r.revision,
                    r.language,
                )
                for r in await conn.execute(select(outbox))
            }
    finally:
        await engine.dispose()
    return Snapshot(subs, records)


# ----- the database's bytes ----------------------------------------------------------


@dataclass(frozen=True)
class Found:
    sampled: int  # sampled ids found as text
    pattern: int  # pattern matches (every chat id of the population)
    wal: tuple[int, int] | None = None  # PostgreSQL: the same in pg_wal, reported apart

    @property
    def total(self) -> int:
        return self.sampled + self.pattern

    def describe(self, of: int) -> str:
        shown = f"{self.sampled} of {of} sampled ids, {self.pattern:,} chat id pattern matches"
        if self.wal is not None:
            shown += f" (pg_wal, not counted: {self.wal[0]} sampled, {self.wal[1]:,} matches)"
        return shown


def needles(chats: Sequence[Chat]) -> list[bytes]:
    rng = random.Random(SEED + 1)
    picked = rng.sample(list(chats), min(SAMPLE, len(chats)))
    found = [c.chat_id.encode() for c in picked]
    picked = rng.sample(list(chats), min(SAMPLE, len(chats)))
    found += [c.message_ids.split(",")[-1].encode() for c in picked]
    return found


def search(paths: Iterable[Path], wanted: Sequence[bytes]) -> tuple[int, int]:
    """(how many of `wanted` are in the files, how many pattern matches they hold)."""
    seen: set[bytes] = set()
    pattern = 0
    for path in paths:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        seen.update(needle for needle in wanted if needle in data)
        pattern += sum(len(p.findall(data)) for p in CHAT_PATTERNS)
    return len(seen), pattern


# ----- the databases -----------------------------------------------------------------


class Database:
    """Where one mode's database lives, how to copy it and which files hold it."""

    mode = ""
    url = ""
    copy_url = ""
    wanted: list[bytes]  # the sampled ids to look for

    def config_url(self) -> str:
        return self.url

    async def copy(self) -> None:
        raise NotImplementedError

    async def drop_copy(self) -> None:
        raise NotImplementedError

    async def files(self) -> Found:
        raise NotImplementedError

    def stop(self) -> None:
        pass


class SqliteDatabase(Database):
    mode = "sqlite"

    def __init__(self, base: Path) -> None:
        self.path = base / "bench.db"
        self.copy_path = base / "copy.db"
        self.url = f"sqlite:///{self.path}"
        self.copy_url = f"sqlite:///{self.copy_path}"
        self.wanted = []

    def config_url(self) -> str:
        return "sqlite:///bench.db"  # relative to the config file, as an operator writes it

    def _copy(self) -> None:
        source, target = sqlite3.connect(self.path), sqlite3.connect(self.copy_path)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()

    async def copy(self) -> None:
        await asyncio.to_thread(self._copy)

    def _drop(self) -> None:
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(str(self.copy_path) + suffix).unlink(missing_ok=True)

    async def drop_copy(self) -> None:
        await asyncio.to_thread(self._drop)

    async def files(self) -> Found:
        paths = [self.path, Path(str(self.path) + "-wal")]
        return Found(*await asyncio.to_thread(search, paths, self.wanted))


class PostgresDatabase(Database):
    mode = "postgresql"

    def __init__(self) -> None:
        from tests.postgres import PostgresServer  # the tests' throwaway server

        self.server = PostgresServer()
        self.server.start()
        self.url = self.server.url
        self.copy_url = self.url.rsplit("/", 1)[0] + "/resealcopy"
        self.wanted = []
        print(f"[postgresql] server {self.server.bindir} on port {self.server.port}", flush=True)

    async def _admin(self, statement: str, tries: int = 20) -> None:
        engine = make_engine(self.url.rsplit("/", 1)[0] + "/template1")
        try:
            for attempt in range(tries):
                try:
                    async with engine.connect() as conn:
                        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                        await auto.execute(text(statement))
                    return
                except Exception:  # "being accessed by other users" (autovacuum)
                    if attempt == tries - 1:
                        raise
                    await asyncio.sleep(0.5)
        finally:
            await engine.dispose()

    async def copy(self) -> None:
        await self._admin("CREATE DATABASE resealcopy TEMPLATE postgres STRATEGY FILE_COPY")

    async def drop_copy(self) -> None:
        await self._admin("DROP DATABASE IF EXISTS resealcopy")

    async def files(self) -> Found:
        engine = make_engine(self.url)
        try:
            async with engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.execute(text("CHECKPOINT"))
                oid = await auto.scalar(
                    text("SELECT oid FROM pg_database WHERE datname = current_database()")
                )
        finally:
            await engine.dispose()
        return await asyncio.to_thread(self._search, int(oid))

    def _search(self, oid: int) -> Found:
        relations = sorted((self.server.data / "base" / str(oid)).iterdir())
        sampled, pattern = search(relations, self.wanted)
        wal = search(sorted((self.server.data / "pg_wal").glob("0*")), self.wanted)
        return Found(sampled, pattern, wal)

    def stop(self) -> None:
        self.server.stop()


# ----- the commands ------------------------------------------------------------------


@dataclass
class Command:
    seconds: float
    startup_s: float  # to the first progress line (imports, config, checks, first batch)
    rows_s: float  # first to last progress line
    tail_s: float  # last progress line to exit (commit, VACUUM, exit)
    summary: str


async def strikewire(cwd: Path, key: str, *args: str) -> Command:
    """Run `strikewire ARGS -c config.yaml` with STRIKEWIRE_KEY=key; time it."""
    env = {**os.environ, "STRIKEWIRE_KEY": key}
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "strikewire"),
        *args,
        "-c",
        str(cwd / "config.yaml"),
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    lines: list[tuple[float, str]] = []
    while line := await proc.stderr.readline():
        lines.append((time.perf_counter() - started, line.decode(errors="replace").rstrip()))
    code = await proc.wait()
    seconds = time.perf_counter() - started
    if code != 0:
        shown = "\n".join(t for _, t in lines[-20:])
        raise SystemExit(f"bench: strikewire {args[0]} exited {code}:\n{shown}")
    progress = [at for at, t in lines if t.startswith("privacy: ")]
    first, last = (progress[0], progress[-1]) if progress else (seconds, seconds)
    summary = next((t for _, t in lines if " chat(s) and " in t), lines[-1][1] if lines else "")
    return Command(seconds, first, last - first, seconds - last, summary)


@dataclass
class InProcess:
    seconds: float
    rows_s: float  # open_store's start to the last progress line (check, migrate, rows)
    tail_s: float  # the rest (commit, VACUUM)


async def open_with_key(url: str, keyring: Keyring) -> InProcess:
    """What `strikewire run` does at start with a key for a plain database."""
    marks: list[float] = []
    started = time.perf_counter()
    store = await open_store(
        url,
        keyring,
        keep_inactive=KEEP_INACTIVE,
        progress=lambda _: marks.append(time.perf_counter()),
    )
    seconds = time.perf_counter() - started
    await store.close()
    last = marks[-1] if marks else started
    return InProcess(seconds, last - started, started + seconds - last)


# ----- verification ------------------------------------------------------------------


@dataclass
class Verified:
    subscriptions_kept: int = 0
    records_kept: int = 0
    problems: list[str] = field(default_factory=list)


def _mismatch(problems: list[str], what: str, items: list[Any]) -> None:
    if items:
        shown = "; ".join(repr(i) for i in items[:3])
        problems.append(f"{what}: {len(items)} (first: {shown})")


async def verify(url: str, keyring: Keyring, plain: Snapshot) -> Verified:
    """Everything the plain database held, read back through the store with the key."""
    done = Verified()
    store = await open_store(url, keyring, keep_inactive=KEEP_INACTIVE)
    try:
        async with store.engine.connect() as conn:
            counted = int(await conn.scalar(select(func.count()).select_from(subscribers)) or 0)
            boxes = int(
                await conn.scalar(
                    select(func.count())
                    .select_from(subscribers)
                    .where(subscribers.c.chat_box.is_(None))
                )
                or 0
            )
        if counted != len(plain.subscriptions):
            done.problems.append(f"{counted} subscriber rows, {len(plain.subscriptions)} before")
        if boxes:
            done.problems.append(f"{boxes} subscriber rows without a sealed id")

        # Look-ups by chat (the blind index).
        keys = list(plain.subscriptions)
        got = await each(keys, lambda k: store.subscription(*k))
        wrong = [(k, g) for k, g in zip(keys, got, strict=True) if g != plain.subscriptions[k]]
        _mismatch(done.problems, "subscriptions changed", wrong)

        # The sealed ids open: a new broadcast reaches exactly the active chats.
        now = time.time()
        await store.enqueue(
            str(MessageKey.broadcast(CHECK_ITEM)), CHECK_ITEM, "", [CAMPAIGN], PLATFORMS, now
        )
        fanned = {(r.platform, r.chat_id): r.language for r in await claim_all(store, now)}
        wanted = {k: s.language for k, s in plain.subscriptions.items() if s.active}
        _mismatch(
            done.problems,
            "a new broadcast's chats differ",
            sorted(set(fanned.items()) ^ set(wanted.items()))[:3],
        )
        opened = {k for k in wanted if fanned.get(k, "-") == wanted[k]}
        done.subscriptions_kept = sum(
            1
            for k, g in zip(keys, got, strict=True)
            if g == plain.subscriptions[k] and (k in opened or not g.active)
        )

        # The records: a withdrawal reaches every chat, with its message ids.
        await store.enqueue_deletes(ITEM, PLATFORMS, now)
        deletes = await claim_all(store, now)
        targets = await each(deletes, lambda r: store.target_of(r.target_id or 0))
        seen: dict[tuple[str, str], Record] = {}
        for row, target in zip(deletes, targets, strict=True):
            ids, revision = target or ((), None)
            seen[(row.platform, row.chat_id)] = Record(ids, "sent", revision, row.language)
        wrong_records = [k for k, r in plain.records.items() if seen.get(k) != r]
        _mismatch(done.problems, "delivery records changed", wrong_records)
        _mismatch(
            done.problems, "unknown delivery records", [k for k in seen if k not in plain.records]
        )
        done.records_kept = len(plain.records) - len(wrong_records)

        async with store.engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM outbox WHERE message_key = :key OR kind = 'delete'"),
                {"key": str(MessageKey.broadcast(CHECK_ITEM))},
            )
            await conn.execute(
                text("DELETE FROM broadcasts WHERE message_key = :key"),
                {"key": str(MessageKey.broadcast(CHECK_ITEM))},
            )
    finally:
        await store.close()
    return done


async def refused(url: str, keyring: Keyring | None) -> bool:
    try:
        store = await open_store(url, keyring)
    except DatabaseError:
        return True
    await store.close()
    return False


# ----- one mode ----------------------------------------------------------------------


@dataclass
class Result:
    mode: str
    subscribers: int
    records: int
    build_s: float
    plain_found: Found
    encrypt: Command
    floor: Command
    in_process: InProcess
    rotate: Command
    after_encrypt: Verified
    after_rotate: Verified
    found_encrypted: Found
    found_rotated: Found
    problems: list[str]

    @property
    def kept(self) -> int:
        return min(self.after_encrypt.subscriptions_kept, self.after_rotate.subscriptions_kept)

    @property
    def records_kept(self) -> int:
        return min(self.after_encrypt.records_kept, self.after_rotate.records_kept)

    @property
    def clear(self) -> int:
        return self.found_encrypted.total + self.found_rotated.total

    @property
    def ratio(self) -> float:
        return self.encrypt.seconds / self.floor.seconds

    @property
    def met(self) -> bool:
        return (
            self.ratio <= RATIO_TARGET
            and self.kept == self.subscribers
            and self.records_kept == self.records
            and self.clear == 0
            and not self.problems
        )


def write_config(base: Path, url: str) -> None:
    (base / "updates").mkdir(exist_ok=True)
    (base / "config.yaml").write_text(
        f'database:\n  url: "{url}"\n'
        "privacy:\n  key: ${STRIKEWIRE_KEY}\n  keep_inactive_subscribers: 30d\n"
    )


async def measure(db: Database, base: Path, count: int) -> Result:
    say = f"[{db.mode}]"
    chats = population(count)
    db.wanted = needles(chats)
    build_s = await build(db.url, chats)
    plain = await snapshot(db.url)
    print(
        f"{say} built {len(plain.subscriptions):,} subscribers, {len(plain.records):,} records "
        f"through the Store API in {build_s:.1f} s (not timed)",
        flush=True,
    )
    plain_found = await db.files()
    print(
        f"{say} in the plain database's files: {plain_found.describe(len(db.wanted))}",
        flush=True,
    )
    await db.copy()

    problems: list[str] = []
    key, new = new_key(), new_key()
    keyring, rotated = Keyring(read_key(key)), Keyring(read_key(new))
    write_config(base, db.config_url())

    async def step(
        command: list[str], verb: str, opens: Keyring, not_with: Keyring | None, refusal: str
    ) -> tuple[Command, Found, Verified]:
        """Run one `strikewire` subcommand, then check what it left."""
        done = await strikewire(base, key, *command)
        print(
            f"{say} strikewire {command[0]}: {done.seconds:.2f} s (start-up and first batch "
            f"{done.startup_s:.2f} s, rows {done.rows_s:.2f} s, commit + VACUUM + exit "
            f"{done.tail_s:.2f} s): {done.summary}",
            flush=True,
        )
        if f"{verb} {count} chat(s) and {count} delivery record(s)" not in done.summary:
            problems.append(f"{command[0]} said: {done.summary}")
        found = await db.files()
        after = await verify(db.url, opens, plain)
        if not await refused(db.url, not_with):
            problems.append(refusal)
        print(
            f"{say} after {command[0]}: {after.subscriptions_kept:,} subscriptions and "
            f"{after.records_kept:,} records kept; in the files "
            f"{found.describe(len(db.wanted))}",
            flush=True,
        )
        return done, found, after

    encrypt, found_encrypted, after_encrypt = await step(
        ["encrypt"], "encrypted", keyring, None, "the encrypted database opened without a key"
    )

    floor = await strikewire(base, key, "check")
    print(
        f"{say} strikewire check (the floor): {floor.seconds:.2f} s; encrypt / floor "
        f"{encrypt.seconds / floor.seconds:.2f}",
        flush=True,
    )

    in_process = await open_with_key(db.copy_url, keyring)
    print(
        f"{say} open_store with the key on a copy, in process: {in_process.seconds:.2f} s "
        f"(check, migrate and rows {in_process.rows_s:.2f} s, commit + VACUUM "
        f"{in_process.tail_s:.2f} s)",
        flush=True,
    )
    await db.drop_copy()

    rotate, found_rotated, after_rotate = await step(
        ["rotate-key", "--new", new],
        "re-encrypted",
        rotated,
        keyring,
        "the rotated database opened with the old key",
    )
    if not plain_found.sampled or not plain_found.pattern:
        problems.append("the search found no id in the plain database: it proves nothing")
    problems += after_encrypt.problems + [f"after rotate: {p}" for p in after_rotate.problems]
    for problem in problems:
        print(f"{say} PROBLEM: {problem}", flush=True)
    return Result(
        db.mode,
        len(plain.subscriptions),
        len(plain.records),
        build_s,
        plain_found,
        encrypt,
        floor,
        in_process,
        rotate,
        after_encrypt,
        after_rotate,
        found_encrypted,
        found_rotated,
        problems,
    )


def run_mode(mode: str, count: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="strikewire-encrypt-") as tmp:
        base = Path(tmp)
        db: Database = SqliteDatabase(base) if mode == "sqlite" else PostgresDatabase()
        try:
            return asyncio.run(measure(db, base, count))
        finally:
            db.stop()
            shutil.rmtree(base, ignore_errors=True)


def table(results: list[Result]) -> str:
    lines = [
        "| mode | subscribers | records | `strikewire encrypt` | `strikewire check` (floor) "
        "| encrypt / floor | in process (`open_store`) | `rotate-key` | subscriptions kept "
        "| records kept | clear ids found | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        verdict = "met" if r.met else "MISSED"
        lines.append(
            f"| {r.mode} | {r.subscribers:,} | {r.records:,} | {r.encrypt.seconds:.2f} s "
            f"| {r.floor.seconds:.2f} s | {r.ratio:.2f} | {r.in_process.seconds:.2f} s "
            f"| {r.rotate.seconds:.2f} s "
            f"| {r.kept:,}/{r.subscribers:,} | {r.records_kept:,}/{r.records:,} "
            f"| {r.clear} | ≤ {RATIO_TARGET:.0f} × floor, all kept, 0 clear: {verdict} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--subscribers", type=int, default=10_000)
    args = parser.parse_args()
    if args.subscribers < 10:
        parser.error("--subscribers: at least 10")
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {python}", flush=True)
    modes = ["sqlite", "postgresql"] if args.mode == "all" else [args.mode]
    results = [run_mode(mode, args.subscribers) for mode in modes]
    print()
    print(table(results))
    if not all(r.met for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
