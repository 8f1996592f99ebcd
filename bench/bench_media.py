"""One photo to N chats through the Telegram adapter: `python -m bench.bench_media [--chats N]`.

Issue 27's benchmark, the adapter alone (the whole pipeline, as the figures
in docs/benchmarks.md are taken: `bench.bench_pipeline --mode media`). The
fake Bot API server runs in another process (tests/fake_telegram.py at
`--per-second`, 30 by default, with `--latency`); this process is the bot:
a `TelegramAdapter` sending with its `max_in_flight` sends outstanding, a
send that meets a 429 or a network error going back in the queue as the
delivery worker would (bench_telegram's driver). In the same run, first a
text broadcast to chats 1..N, then one photo of about `--photo-mb` MB
(random pixels, so JPEG cannot shrink it) with the same text as its caption
to chats N+1..2N.

Reported per phase: messages/s, the bot's CPU per message (process time of
this process, the server's not included) and their ratio, the uploads the
server received (target: 1 for the photo phase), 429s, and the peak resident
memory of the bot process after each phase (ru_maxrss: a peak, so the photo
phase's figure includes the text phase's).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import resource
import shutil
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from bench.bench_telegram import NEWS, _drive, _start_server
from bot.adapters.base import Outgoing, RetryAfter, SendError, Transient
from bot.adapters.telegram import TelegramAdapter
from bot.config import TelegramConfig, TelegramLimits
from bot.media.types import Media, MediaKind


def make_photo(folder: Path, megabytes: float) -> Media:
    """A JPEG of random pixels, about `megabytes` MB (noise does not compress)."""
    side = int((megabytes * 1024 * 1024 / 0.9) ** 0.5)  # ~0.9 bytes a pixel at quality 90
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    path = folder / "picket.jpg"
    path.write_bytes(out.getvalue())
    content = path.read_bytes()
    return Media(
        MediaKind.PHOTO,
        "picket.jpg",
        "image/jpeg",
        path,
        hashlib.sha256(content).hexdigest(),
        len(content),
        alt="The picket",
        width=side,
        height=side,
    )


async def _stats(base_url: str) -> dict[str, Any]:
    url = base_url.rsplit("/bot", 1)[0] + "/_fake/stats?upto=0"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        result: dict[str, Any] = await response.json()
        return result


async def _phase(
    adapter: TelegramAdapter, message: Outgoing, first: int, chats: int, base_url: str
) -> dict[str, Any]:
    async def send(chat: int) -> str:
        try:
            await adapter.send(str(first + chat), message)
        except (RetryAfter, Transient):
            return "again"
        except SendError:
            return "failed"
        return "ok"

    async def nothing() -> None:
        return None

    before = await _stats(base_url)
    result = await _drive(send, chats, nothing, 1e9, adapter.max_in_flight)
    after = await _stats(base_url)
    result["messages_per_second"] = chats / result["seconds"]
    result["uploads"] = after["uploads"] - before["uploads"]
    result["too_many_requests"] = after["too_many_requests"] - before["too_many_requests"]
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server, base_url, token = await _start_server(args.per_second, args.latency)
    folder = Path(tempfile.mkdtemp(prefix="bench-media-"))
    try:
        photo = make_photo(folder, args.photo_mb)
        limits = TelegramLimits(overall_per_second=args.per_second)
        adapter = TelegramAdapter(TelegramConfig(token=token, base_url=base_url, limits=limits))

        async def ignore(*_: object) -> list[Outgoing]:
            return []

        await adapter.start(ignore, ignore)  # type: ignore[arg-type]
        try:
            text = await _phase(adapter, Outgoing(NEWS), 0, args.chats, base_url)
            pictured = Outgoing(NEWS, media=(photo,))
            media = await _phase(adapter, pictured, args.chats, args.chats, base_url)
        finally:
            await adapter.stop()
        return {"chats": args.chats, "photo_bytes": photo.size, "text": text, "photo": media}
    finally:
        server.terminate()
        await server.wait()
        shutil.rmtree(folder)


def report(result: dict[str, Any]) -> str:
    text, photo = result["text"], result["photo"]
    ratio = photo["cpu_ms_per_message"] / text["cpu_ms_per_message"]
    mb = result["photo_bytes"] / 1024 / 1024
    rows = [
        "| phase | chats | msg/s | uploads | 429s | bot CPU ms/msg | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, phase in (("text", text), (f"photo {mb:.1f} MB", photo)):
        rows.append(
            f"| {name} | {result['chats']} | {phase['messages_per_second']:.1f} "
            f"| {phase['uploads']} | {phase['too_many_requests']} "
            f"| {phase['cpu_ms_per_message']:.2f} | {phase['peak_rss_mb']:.0f} |"
        )
    rows.append(f"\nCPU per message, photo / text: {ratio:.2f}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--per-second", type=float, default=30)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--photo-mb", type=float, default=2.0)
    parser.add_argument("--json", action="store_true", help="print the raw figures too")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result, indent=2))
    print(report(result))


if __name__ == "__main__":
    main()
