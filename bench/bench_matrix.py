"""Benchmark: one broadcast from the Matrix adapter to many rooms on a local
Synapse, plain and end-to-end encrypted, with the bot's rate limit lifted the
way an operator would (admin API `override_ratelimit`).

Reports messages per second and CPU per message, for the bot's process and
for Synapse's. The sends go through `MatrixAdapter.send` with the delivery
worker's concurrency (`max_in_flight` at a time); every message is then
checked at the readers' clients, decrypted where the room is encrypted.

    python -m bench.bench_matrix [--rooms 200] [--readers 20] [--in-flight 8]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bot.adapters.base import Incoming, Outgoing, RetryAfter, SendError
from bot.adapters.matrix import MatrixAdapter
from bot.config import MatrixConfig
from tests.matrix_client import MatrixTestUser, MemoryKeyValue
from tests.synapse import SynapseServer, start_synapse

UPDATE = """\
# Strike at the Metallist factory: day 40

The strike committee thanks every union that sent a message of solidarity.
Send yours to the committee; the addresses are in **/address**.
"""


@dataclass
class Result:
    label: str
    messages: int
    seconds: float
    bot_cpu: float
    synapse_cpu: float
    retries: int

    def row(self) -> str:
        n = self.messages
        return (
            f"| {self.label} | {n} | {self.seconds:.1f} | {n / self.seconds:.1f} | "
            f"{1000 * self.bot_cpu / n:.2f} | {1000 * self.synapse_cpu / n:.2f} | {self.retries} |"
        )


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def synapse_cpu(server: SynapseServer) -> float:
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def no_commands(incoming: Incoming) -> list[Outgoing]:
    return []


async def nothing_gone(platform: str, chat_id: str) -> None:
    return None


async def make_rooms(
    readers: list[MatrixTestUser],
    adapter: MatrixAdapter,
    bot_id: str,
    count: int,
    *,
    encrypted: bool,
) -> list[str]:
    rooms = [
        await readers[i % len(readers)].create_room(invite=[bot_id], encrypted=encrypted)
        for i in range(count)
    ]
    deadline = time.monotonic() + 300
    while not set(rooms) <= adapter.rooms():
        if time.monotonic() > deadline:
            raise SystemExit("the bot did not join every room within 5 minutes")
        await asyncio.sleep(0.2)
    return rooms


async def broadcast(
    adapter: MatrixAdapter, server: SynapseServer, rooms: list[str], label: str, in_flight: int
) -> Result:
    """Send one update to every room as the delivery worker would."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for room_id in rooms:
        queue.put_nowait(room_id)
    retries = 0

    async def worker() -> None:
        nonlocal retries
        while not queue.empty():
            room_id = queue.get_nowait()
            try:
                await adapter.send(room_id, Outgoing(UPDATE))
            except RetryAfter as exc:
                retries += 1
                await asyncio.sleep(exc.seconds)
                queue.put_nowait(room_id)
            except SendError as exc:
                raise SystemExit(f"send failed: {exc.kind} {exc.reason}") from None

    cpu, s_cpu, start = process_cpu(), synapse_cpu(server), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    seconds = time.perf_counter() - start
    return Result(
        label,
        len(rooms),
        seconds,
        process_cpu() - cpu,
        synapse_cpu(server) - s_cpu,
        retries,
    )


async def check_arrival(readers: list[MatrixTestUser], bot_id: str, expected: int) -> None:
    """Every reader's client has every message, decrypted where it must be."""
    deadline = time.monotonic() + 120
    while True:
        for reader in readers:
            await reader.sync_once()
        got = [m for r in readers for m in r.messages_from(bot_id)]
        if len(got) >= expected:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(got)} of {expected} messages arrived")
    if len(got) != expected or any(not m.body.startswith("Strike at the Metallist") for m in got):
        raise SystemExit(f"{len(got)} messages arrived, {expected} expected")


async def run(rooms: int, reader_count: int, in_flight: int) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server = start_synapse(tmp / "synapse", raised_limits=False)
        adapter: MatrixAdapter | None = None
        readers: list[MatrixTestUser] = []
        try:
            bot = server.register()
            server.lift_ratelimit(bot.user_id)
            config = MatrixConfig(
                homeserver=server.base_url,
                user_id=bot.user_id,
                password=bot.password,
                max_in_flight=in_flight,
            )
            adapter = MatrixAdapter(config, store_path=tmp / "bot-store", state=MemoryKeyValue())
            await adapter.start(no_commands, nothing_gone)
            for _ in range(reader_count):
                reader = await MatrixTestUser.create(server, tmp / "readers", background=False)
                server.lift_ratelimit(reader.user_id)
                readers.append(reader)
            results = []
            plain = await make_rooms(readers, adapter, bot.user_id, rooms, encrypted=False)
            results.append(await broadcast(adapter, server, plain, "plain", in_flight))
            await check_arrival(readers, bot.user_id, rooms)
            secret = await make_rooms(readers, adapter, bot.user_id, rooms, encrypted=True)
            first = "encrypted, room keys shared"
            results.append(await broadcast(adapter, server, secret, first, in_flight))
            await check_arrival(readers, bot.user_id, 2 * rooms)
            again = "encrypted, keys already shared"
            results.append(await broadcast(adapter, server, secret, again, in_flight))
            await check_arrival(readers, bot.user_id, 3 * rooms)
            if any(not m.decrypted for r in readers for m in r.received if m.room_id in secret):
                raise SystemExit("an encrypted room received a message its reader cannot read")
            return results
        finally:
            if adapter is not None:
                await adapter.stop()
            for reader in readers:
                await reader.close()
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--readers", type=int, default=20, help="people the rooms are shared by")
    parser.add_argument("--in-flight", type=int, default=8, help="matrix.max_in_flight")
    args = parser.parse_args()
    # nio warns for every device it opens an Olm session with; that is normal.
    logging.basicConfig(level=logging.ERROR)
    results = asyncio.run(run(args.rooms, args.readers, args.in_flight))
    print(
        f"\n{args.rooms} rooms, {args.readers} readers, max_in_flight={args.in_flight}, "
        f"{os.cpu_count()} CPUs\n"
    )
    print(
        "| broadcast | messages | seconds | messages/s | bot CPU ms/msg | Synapse CPU ms/msg "
        "| 429s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for result in results:
        print(result.row())


if __name__ == "__main__":
    main()
