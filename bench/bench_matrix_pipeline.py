"""Benchmark: the whole pipeline on Matrix. A real `strikewire run` process
(SQLite, a `matrix:` config, `updates_dir` in a temporary folder) broadcasts
news updates dropped into `updates/` to many rooms on a local Synapse, half
of them end-to-end encrypted; a bare matrix-nio client sends the same
messages to the same rooms, for comparison, in the same run.

    python -m bench.bench_matrix_pipeline [--rooms 200] [--readers 20] [--in-flight 32]
                                          [--rounds 6] [--first bot|bare] [--keep-log FILE]

Setup: readers (users with decrypting clients, `tests/matrix_client.py`)
create the rooms and invite the bot and the bare client's user; the bot
accepts the invites itself; each room is then subscribed by writing its
subscriber row into the bot's database (`Store.subscribe`), as `/start`
would. The bot's, the bare user's and the readers' rate limits are lifted
with the admin API `override_ratelimit`; Synapse otherwise keeps its defaults.

Then rounds: in each, the bot broadcasts one new update and the bare client
sends the same message, one after the other; the bot goes first in odd
rounds (`--first bare`: even ones), the bare client in the others, because
whoever goes second finds Synapse's caches warm and the machine's speed
drifts within a run. The bot
is paused (SIGSTOP) while the bare client sends, so Synapse serves one
sender at a time; both keep their room keys from round to round, as clients
that run for weeks do, so round 1 includes sharing Megolm keys and later
rounds do not, for both.

Measured, for the bot and for the bare client, in each round: messages/s
from the first to the last message the readers received (the events'
`origin_server_ts`), rooms that never got the message (lost) or got it more
than once (duplicated), CPU per message of the sender's process and of
Synapse. The verdict compares all rounds' messages over all rounds'
first→last seconds. At the end, a clean restart (SIGTERM, exit 0, start
again, wait) and the rooms that then hold any of the bot's messages twice.

Every wait is bounded; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from nio import RoomSendResponse
from nio.exceptions import LocalProtocolError, OlmUnverifiedDeviceError

from bot.adapters.matrix_send import NETWORK_ERRORS, notice_content
from bot.config import load_config
from bot.content.catalog import Catalog
from bot.i18n import texts
from bot.render import to_matrix
from bot.render.compose import item_message
from bot.store import open_store
from tests.matrix_client import MatrixTestUser
from tests.synapse import SynapseServer, start_synapse

# The installed console script, next to the Python running this.
STRIKEWIRE = Path(sys.executable).parent / "strikewire"
ITEM_ID = "metallist-day-{day}"
TITLE = "Strike at the Metallist factory: day {day}"
FIRST_DAY = 40
BODY = """\
The strike committee thanks every union that sent a message of solidarity.
Send yours to the committee; the addresses are in **/address**.
"""
START_TIMEOUT_S = 120.0
JOIN_TIMEOUT_S = 600.0
SETUP_CONCURRENCY = 8
STALL_S = 120.0
SETTLE_S = 5.0


class Reader(MatrixTestUser):
    """A test user that also remembers each event's server timestamp."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stamps: dict[str, int] = {}

    def _record(self, room_id: str, event: Any) -> None:
        super()._record(room_id, event)
        stamp = getattr(event, "server_timestamp", None)
        if isinstance(stamp, int):
            self.stamps[str(event.event_id)] = stamp


def cpu_of(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Delivery:
    """What the readers saw of one sender's message."""

    label: str
    rooms: int
    per_room: Counter[str]
    stamps: list[int]
    undecryptable: int
    sender_cpu: float
    synapse_cpu: float
    wall_s: float
    send_errors: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def received(self) -> int:
        return sum(self.per_room.values())

    @property
    def lost(self) -> int:
        return self.rooms - len([r for r, n in self.per_room.items() if n > 0])

    @property
    def duplicated(self) -> int:
        return len([r for r, n in self.per_room.items() if n > 1])

    @property
    def span_s(self) -> float:
        return (max(self.stamps) - min(self.stamps)) / 1000 if len(self.stamps) > 1 else 0.0

    def reached(self, share: float) -> float:
        """Seconds from the first message until `share` of them had arrived."""
        if len(self.stamps) < 2:
            return 0.0
        ordered = sorted(self.stamps)
        return (ordered[round(share * (len(ordered) - 1))] - ordered[0]) / 1000

    @property
    def rate(self) -> float:
        # n messages have n - 1 intervals between the first and the last.
        return (len(self.stamps) - 1) / self.span_s if self.span_s > 0 else 0.0


class BotProcess:
    """`strikewire run -c CONFIG` as a child process, its log in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.paused = False

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(STRIKEWIRE), "run", "-c", str(self.config), "--log-level", "INFO"],
                cwd=self.config.parent,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    def pause(self) -> None:
        """SIGSTOP: the process keeps its state (room keys) but does nothing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.paused = False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def copy_log(self, path: Path) -> None:
        path.write_text(self.log_text())

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    async def wait_started(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.log_text().count(" bot.app started ") < self.starts:
            assert self.process is not None
            if self.process.poll() is not None:
                raise SystemExit(f"the bot exited with {self.process.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise SystemExit(f"the bot did not start within {START_TIMEOUT_S:.0f} s")
            await asyncio.sleep(0.2)

    async def terminate(self, timeout: float = 60.0) -> tuple[int, float]:
        """SIGTERM; wait for the exit. Returns (exit status, seconds taken)."""
        assert self.process is not None
        start = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        deadline = start + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                self.process.wait(timeout=10)
                raise SystemExit(f"the bot did not exit within {timeout:.0f} s of SIGTERM")
            await asyncio.sleep(0.05)
        return self.process.returncode, time.monotonic() - start

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.paused = False
            self.process.wait(timeout=10)


def synapse_events(server: SynapseServer, sender: str, since_ms: int) -> tuple[int, int]:
    """(rooms, events) of messages `sender` sent since `since_ms`, read from
    Synapse's own database: progress without adding sync traffic."""
    uri = f"file:{server.directory / 'homeserver.db'}?mode=ro"
    for _ in range(50):
        try:
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
                rooms, events = db.execute(
                    "SELECT COUNT(DISTINCT room_id), COUNT(*) FROM events WHERE sender = ?"
                    " AND type IN ('m.room.message', 'm.room.encrypted')"
                    " AND origin_server_ts >= ?",
                    (sender, since_ms),
                ).fetchone()
                return int(rooms), int(events)
        except sqlite3.OperationalError:
            time.sleep(0.1)
    raise SystemExit("cannot read Synapse's database")


def outbox_states(db_path: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
    return {str(state): int(n) for state, n in rows}


async def wait_for_events(
    server: SynapseServer, sender: str, since_ms: int, rooms: int, timeout: float
) -> tuple[int, int]:
    """Until `sender` has a message in every room, or progress stalls."""
    deadline = time.monotonic() + timeout
    last, last_change = (0, 0), time.monotonic()
    while True:
        now = synapse_events(server, sender, since_ms)
        if now != last:
            last, last_change = now, time.monotonic()
        if now[0] >= rooms:
            return now
        if time.monotonic() > deadline or time.monotonic() - last_change > STALL_S:
            return now
        await asyncio.sleep(0.1)


async def wait_quiet(server: SynapseServer, sender: str, since_ms: int, quiet: float) -> None:
    """Until no new message from `sender` for `quiet` seconds (at most 120 s)."""
    deadline = time.monotonic() + 120
    last, last_change = synapse_events(server, sender, since_ms), time.monotonic()
    while time.monotonic() - last_change < quiet and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = synapse_events(server, sender, since_ms)
        if now != last:
            last, last_change = now, time.monotonic()


async def collect(
    readers: list[Reader],
    owner: dict[str, Reader],
    sender: str,
    body: str,
    within: float = 60.0,
) -> tuple[Counter[str], list[int], int]:
    """Sync the readers until each room's reader has the message (or `within`
    runs out). Returns messages per room, their timestamps, undecryptable."""
    deadline = time.monotonic() + within
    while True:
        await asyncio.gather(*(r.sync_once() for r in readers))
        per_room: Counter[str] = Counter()
        stamps: list[int] = []
        for room_id, reader in owner.items():
            got = [m for m in reader.messages_from(sender, room_id) if m.body == body]
            per_room[room_id] = len(got)
            stamps += [reader.stamps[m.event_id] for m in got if m.event_id in reader.stamps]
        undecryptable = sum(
            1 for r in readers for e in r.undecryptable if getattr(e, "sender", "") == sender
        )
        if all(per_room.values()) and not undecryptable:
            return per_room, stamps, undecryptable
        if time.monotonic() > deadline:
            return per_room, stamps, undecryptable
        await asyncio.sleep(0.5)


def write_config(
    tmp: Path, server: SynapseServer, user_id: str, password: str, in_flight: int
) -> Path:
    config = {
        "updates_dir": str(tmp / "updates"),
        "database": {"url": f"sqlite:///{tmp / 'bot.db'}"},
        "timezone": "UTC",
        "matrix": {
            "homeserver": server.base_url,
            "user_id": user_id,
            "password": password,
            "store_path": str(tmp / "bot-store"),
            "encryption": True,
            "max_in_flight": in_flight,
        },
    }
    (tmp / "updates").mkdir()
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def update_text(day: int) -> str:
    today = datetime.now(UTC).date().isoformat()
    title = TITLE.format(day=day)
    return f'---\nkind: news\ntitle: "{title}"\ndate: {today}\n---\n{BODY}'


def publish(updates: Path, day: int) -> None:
    """Write the update under a hidden name and rename it in, as rsync does."""
    item_id = ITEM_ID.format(day=day)
    hidden = updates / f".{item_id}.md.tmp"
    hidden.write_text(update_text(day))
    hidden.rename(updates / f"{item_id}.md")


def rendered(config_path: Path, day: int) -> list[dict[str, Any]]:
    """The exact event contents the bot sends for the update."""
    config = load_config(config_path, required=True)
    item_id = ITEM_ID.format(day=day)
    scratch = config.base_dir / f"render-{day}"
    scratch.mkdir()
    (scratch / f"{item_id}.md").write_text(update_text(day))
    catalog = Catalog(scratch, config.zone, config.language).load()
    item = catalog.items[item_id]
    return [
        notice_content(p.body, p.formatted_body)
        for p in to_matrix(item_message(item, texts(item.lang)))
    ]


async def make_rooms(
    readers: list[Reader], count: int, invite: list[str]
) -> tuple[list[str], dict[str, Reader]]:
    """Room i belongs to reader i % len(readers); odd rooms are encrypted."""
    owner: dict[str, Reader] = {}
    rooms: list[str | None] = [None] * count

    async def create(reader_index: int) -> None:
        reader = readers[reader_index]
        for i in range(reader_index, count, len(readers)):
            room_id = await reader.create_room(invite=invite, encrypted=i % 2 == 1)
            rooms[i] = room_id
            owner[room_id] = reader

    await asyncio.gather(*(create(i) for i in range(len(readers))))
    made = [r for r in rooms if r is not None]
    assert len(made) == count
    return made, owner


def joined_rooms(server: SynapseServer, user_id: str) -> set[str]:
    path = f"/_synapse/admin/v1/users/{urllib.parse.quote(user_id)}/joined_rooms"
    reply = server.request("GET", path, token=server.admin().access_token)
    return set(reply.get("joined_rooms", []))


async def wait_joined(server: SynapseServer, user_id: str, rooms: list[str], what: str) -> None:
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    while not set(rooms) <= joined_rooms(server, user_id):
        if time.monotonic() > deadline:
            missing = len(set(rooms) - joined_rooms(server, user_id))
            raise SystemExit(f"{what} is not in {missing} rooms after {JOIN_TIMEOUT_S:.0f} s")
        await asyncio.sleep(1.0)


async def join_all(user: MatrixTestUser, rooms: list[str]) -> None:
    slots = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def join(room_id: str) -> None:
        async with slots:
            for _ in range(5):
                with contextlib.suppress(*NETWORK_ERRORS):
                    if not hasattr(await user.client.join(room_id), "status_code"):
                        return
                await asyncio.sleep(1)
            raise SystemExit(f"{user.user_id} cannot join a room")

    await asyncio.gather(*(join(r) for r in rooms))
    await user.wait_until(lambda: set(rooms) <= set(user.client.rooms), "rooms in sync", 120)


async def subscribe_all(db_url: str, rooms: list[str]) -> None:
    store = await open_store(db_url)
    try:
        for room_id in rooms:
            await store.subscribe("matrix", room_id, None, time.time())
    finally:
        await store.close()


async def bare_send(
    user: MatrixTestUser, rooms: list[str], contents: list[dict[str, Any]], in_flight: int
) -> int:
    """The same message to every room with a plain nio client, `in_flight` at
    a time; nio encrypts for encrypted rooms. Returns the errors retried."""
    client = user.client
    slots = asyncio.Semaphore(in_flight)
    errors = 0

    async def one(room_id: str) -> None:
        nonlocal errors
        async with slots:
            for content in contents:
                for attempt in range(5):
                    try:
                        reply = await client.room_send(
                            room_id, "m.room.message", content, ignore_unverified_devices=True
                        )
                    except (*NETWORK_ERRORS, LocalProtocolError, OlmUnverifiedDeviceError) as exc:
                        reply = exc
                    if isinstance(reply, RoomSendResponse):
                        break
                    errors += 1
                    if attempt == 4:
                        raise SystemExit(f"bare client: cannot send: {reply}")
                    await asyncio.sleep(0.5)

    await asyncio.gather(*(one(r) for r in rooms))
    return errors


@dataclass
class Round:
    """One message to every room from each sender; `bot_first` says who went first."""

    number: int
    bot_first: bool
    bot: Delivery
    bare: Delivery

    @property
    def ratio(self) -> float:
        return self.bot.rate / self.bare.rate if self.bare.rate else 0.0


@dataclass
class Report:
    rooms: int
    readers: int
    in_flight: int
    rounds: list[Round]
    after_restart: Counter[str]  # rooms → the bot's messages more than one per round
    restart_exit: int
    restart_stop_s: float
    outbox_before_restart: dict[str, int]
    outbox_after_restart: dict[str, int]
    synapse_idle: float
    final_exit: int


def total_rate(deliveries: list[Delivery]) -> float:
    """All rounds' messages over all rounds' first→last spans."""
    intervals = sum(max(0, len(d.stamps) - 1) for d in deliveries)
    span = sum(d.span_s for d in deliveries)
    return intervals / span if span > 0 else 0.0


class Bench:
    """The rooms, the readers, the bot and the bare client of one run."""

    def __init__(
        self,
        tmp: Path,
        server: SynapseServer,
        bot: BotProcess,
        account: str,
        bare: MatrixTestUser,
        readers: list[Reader],
        room_ids: list[str],
        owner: dict[str, Reader],
        in_flight: int,
    ) -> None:
        self.tmp, self.server, self.bot, self.account = tmp, server, bot, account
        self.bare, self.readers, self.room_ids, self.owner = bare, readers, room_ids, owner
        self.in_flight = in_flight
        self.bodies: list[str] = []

    async def bot_sends(self, day: int, body: str) -> Delivery:
        """Drop update `day` into the bot's folder (resuming the bot if it is
        paused); wait until it is everywhere. `body`: its text as sent."""
        await self.resume_bot()
        self.bodies.append(body)
        rooms, pid, server = len(self.room_ids), self.bot.pid, self.server
        since_ms = int(time.time() * 1000)
        cpu, s_cpu, start = cpu_of(pid), cpu_of(server.process.pid), time.monotonic()
        publish(self.tmp / "updates", day)
        seen = await wait_for_events(server, self.account, since_ms, rooms, 900)
        wall = time.monotonic() - start
        bot_cpu, syn_cpu = cpu_of(pid) - cpu, cpu_of(server.process.pid) - s_cpu
        print(f"bot: {seen[1]} events in {seen[0]} rooms in {wall:.1f} s", file=sys.stderr)
        await wait_quiet(server, self.account, since_ms, 3)
        per_room, stamps, undecryptable = await collect(
            self.readers, self.owner, self.account, body
        )
        label = "bot (`strikewire run`)"
        return Delivery(label, rooms, per_room, stamps, undecryptable, bot_cpu, syn_cpu, wall)

    async def bare_sends(self, contents: list[dict[str, Any]]) -> Delivery:
        """The same contents from the bare client, the bot paused.

        Paused, not stopped: Synapse serves one sender at a time, and the bot
        keeps its room keys as a bot running for weeks does (nio keeps
        outbound Megolm sessions in memory only; the bare client keeps its
        own throughout)."""
        if not self.bot.paused:
            self.bot.pause()
        body = str(contents[0]["body"])
        await self.bare.sync_once()
        print("bare client: sending", file=sys.stderr)
        server = self.server
        cpu, s_cpu, start = own_cpu(), cpu_of(server.process.pid), time.monotonic()
        errors = await bare_send(self.bare, self.room_ids, contents, self.in_flight)
        wall = time.monotonic() - start
        bare_cpu, syn_cpu = own_cpu() - cpu, cpu_of(server.process.pid) - s_cpu
        print(f"bare client: sent in {wall:.1f} s", file=sys.stderr)
        per_room, stamps, undecryptable = await collect(
            self.readers, self.owner, self.bare.user_id, body
        )
        return Delivery(
            f"bare nio client, {self.in_flight} in flight",
            len(self.room_ids),
            per_room,
            stamps,
            undecryptable,
            bare_cpu,
            syn_cpu,
            wall,
            errors,
        )

    async def resume_bot(self) -> None:
        if self.bot.paused:
            self.bot.resume()
            # Its next sync catches up with what the bare client sent
            # meanwhile; let that settle before the bot is timed or stopped.
            await asyncio.sleep(SETTLE_S)

    async def start_bot(self) -> None:
        self.bot.start()
        await self.bot.wait_started()
        await asyncio.sleep(SETTLE_S)

    async def repeats(self) -> Counter[str]:
        """Per room, the bot's messages beyond one of each round's."""
        await asyncio.gather(*(r.sync_once() for r in self.readers))
        extra: Counter[str] = Counter()
        for room_id, reader in self.owner.items():
            got = Counter(m.body for m in reader.messages_from(self.account, room_id))
            extra[room_id] = sum(max(0, got[body] - 1) for body in self.bodies)
        return +extra


async def run(
    rooms: int,
    reader_count: int,
    in_flight: int,
    restart_wait: float,
    rounds: int,
    first_sender: str = "bot",
    keep_log: Path | None = None,
) -> Report:
    with tempfile.TemporaryDirectory(prefix="bench-matrix-pipeline-") as tmp_name:
        tmp = Path(tmp_name)
        server = start_synapse(tmp / "synapse", raised_limits=False)
        bot = BotProcess(tmp / "config.yaml", tmp / "bot.log")
        readers: list[Reader] = []
        bare: MatrixTestUser | None = None
        try:
            account = server.register("strikewire")
            server.lift_ratelimit(account.user_id)
            write_config(tmp, server, account.user_id, account.password, in_flight)
            bot.start()
            await bot.wait_started()
            print(f"bot started (pid {bot.pid}); making {rooms} rooms", file=sys.stderr)

            bare = await MatrixTestUser.create(server, tmp / "bare", background=False)
            server.lift_ratelimit(bare.user_id)
            for _ in range(reader_count):
                reader = await Reader.create(server, tmp / "readers", background=False)
                assert isinstance(reader, Reader)
                server.lift_ratelimit(reader.user_id)
                readers.append(reader)
            room_ids, owner = await make_rooms(readers, rooms, [account.user_id, bare.user_id])
            await join_all(bare, room_ids)
            await wait_joined(server, account.user_id, room_ids, "the bot")
            await asyncio.gather(*(r.sync_once() for r in readers))
            # The bot's long-poll sync returns at once with its joins.
            await asyncio.sleep(5)
            await subscribe_all(f"sqlite:///{tmp / 'bot.db'}", room_ids)
            idle = cpu_of(server.process.pid)
            await asyncio.sleep(2)
            idle = (cpu_of(server.process.pid) - idle) / 2
            print("rooms ready", file=sys.stderr)
            bench = Bench(
                tmp, server, bot, account.user_id, bare, readers, room_ids, owner, in_flight
            )

            done: list[Round] = []
            for number in range(1, rounds + 1):
                day = FIRST_DAY + number - 1
                # Alternate who goes first: Synapse's caches are warmer for
                # the second sender, and the machine's speed drifts.
                bot_first = (number % 2 == 1) == (first_sender == "bot")
                leader = "bot" if bot_first else "bare client"
                print(f"round {number}: {leader} first", file=sys.stderr)
                contents = rendered(tmp / "config.yaml", day)
                body = str(contents[0]["body"])
                if bot_first:
                    bot_result = await bench.bot_sends(day, body)
                    bare_result = await bench.bare_sends(contents)
                else:
                    bare_result = await bench.bare_sends(contents)
                    bot_result = await bench.bot_sends(day, body)
                done.append(Round(number, bot_first, bot_result, bare_result))

            # A clean restart at the end: nothing may be sent again.
            await bench.resume_bot()
            before = outbox_states(tmp / "bot.db")
            code, stop_s = await bot.terminate()
            await bench.start_bot()
            await asyncio.sleep(restart_wait)
            await wait_quiet(server, account.user_id, since_ms=0, quiet=3)
            after = outbox_states(tmp / "bot.db")
            after_restart = await bench.repeats()
            final_code, _ = await bot.terminate()
            return Report(
                rooms,
                reader_count,
                in_flight,
                done,
                after_restart,
                code,
                stop_s,
                before,
                after,
                idle,
                final_code,
            )
        except BaseException:
            print(f"--- bot log tail\n{bot.tail()}", file=sys.stderr)
            raise
        finally:
            bot.kill()
            if keep_log is not None:
                bot.copy_log(keep_log)
            for reader in readers:
                await reader.close()
            if bare is not None:
                await bare.close()
            server.stop()


def print_report(report: Report) -> None:
    restart_dups = len(report.after_restart)
    extra = sum(report.after_restart.values())
    print(
        f"\n{report.rooms} rooms (half encrypted), {report.readers} readers, "
        f"max_in_flight={report.in_flight}, {os.cpu_count()} CPUs, "
        f"{len(report.rounds)} rounds\n"
    )
    print(
        "| round | first | bot msgs/s | bare msgs/s | bot / bare | bot lost / duplicated "
        "| bare lost / duplicated | CPU per message, bot / bare "
        "| Synapse CPU per message, bot / bare | bot: 50 % / 90 % / all after |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in report.rounds:
        bot, bare = r.bot, r.bare
        print(
            f"| {r.number} | {'bot' if r.bot_first else 'bare'} | {bot.rate:.1f} | {bare.rate:.1f} "
            f"| {100 * r.ratio:.0f} % | {bot.lost} / {bot.duplicated} "
            f"| {bare.lost} / {bare.duplicated} "
            f"| {1000 * bot.sender_cpu / bot.rooms:.1f} / "
            f"{1000 * bare.sender_cpu / bare.rooms:.1f} ms "
            f"| {1000 * bot.synapse_cpu / bot.rooms:.1f} / "
            f"{1000 * bare.synapse_cpu / bare.rooms:.1f} ms "
            f"| {bot.reached(0.5):.1f} / {bot.reached(0.9):.1f} / {bot.span_s:.1f} s |"
        )
    bots = [r.bot for r in report.rounds]
    bares = [r.bare for r in report.rounds]
    bot_rate, bare_rate = total_rate(bots), total_rate(bares)
    ratio = bot_rate / bare_rate if bare_rate else 0.0
    print(
        f"\nall rounds: bot {bot_rate:.1f} msgs/s, bare client {bare_rate:.1f} msgs/s: "
        f"{100 * ratio:.0f} % (target ≥ 80 %)"
    )
    bot_syn = sum(d.synapse_cpu for d in bots)
    if bot_syn > 0:
        bound = sum(d.synapse_cpu for d in bares) / bot_syn
        print(f"Synapse CPU per message, bare client / bot: {100 * bound:.0f} %")
    print(f"Synapse's CPU while nobody sent: {1000 * report.synapse_idle:.0f} ms/s")
    print(f"load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    undecryptable = sum(d.undecryptable for d in bots), sum(d.undecryptable for d in bares)
    retried = sum(d.send_errors for d in bares)
    print(f"undecryptable: bot {undecryptable[0]}, bare {undecryptable[1]}; bare retried {retried}")
    print(
        f"clean restart at the end: SIGTERM → exit {report.restart_exit} in "
        f"{report.restart_stop_s:.1f} s, and {report.final_exit} after it; outbox before "
        f"{report.outbox_before_restart}, after {report.outbox_after_restart}; "
        f"rooms with a bot message twice: {restart_dups} ({extra} extra messages)"
    )
    ok = (
        ratio >= 0.8
        and all(d.lost == 0 and d.duplicated == 0 for d in bots)
        and restart_dups == 0
        and report.restart_exit == 0
        and report.final_exit == 0
    )
    print("targets met" if ok else "TARGETS NOT MET")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--readers", type=int, default=20, help="people the rooms are shared by")
    parser.add_argument("--in-flight", type=int, default=32, help="matrix.max_in_flight")
    parser.add_argument(
        "--restart-wait", type=float, default=10.0, help="seconds to watch after the restart"
    )
    parser.add_argument(
        "--rounds", type=int, default=6, help="messages per sender; who goes first alternates"
    )
    parser.add_argument(
        "--first", choices=("bot", "bare"), default="bot", help="who goes first in round 1"
    )
    parser.add_argument("--keep-log", type=Path, help="copy the bot's log here at the end")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    # nio warns for every device it opens an Olm session with; that is normal.
    logging.basicConfig(level=logging.ERROR)
    report = asyncio.run(
        run(
            args.rooms,
            args.readers,
            args.in_flight,
            args.restart_wait,
            args.rounds,
            args.first,
            args.keep_log,
        )
    )
    print_report(report)


if __name__ == "__main__":
    main()
