"""Telegram broadcast benchmark: `python -m bench.bench_telegram [--chats N] [--modes ...]`.

Each mode runs a fake Bot API server (tests/fake_telegram.py) and a bot in two
separate processes, so the bot's CPU time (time.process_time) is its own. The
bot broadcasts one news message to N private chats with 64 sends outstanding
(as the delivery worker does: a send that meets a 429 goes back in the queue),
and a supporter's `/start` is injected `--inject-at` seconds in. The server
counts what it accepted, its 429 answers and how long the answer took.
"handed back" counts sends that raised a 429 to the caller (ours: after the
limiter paused; PTB: after its 3 retries), which a worker reschedules and
which are lost without one.

Modes:
  ours        our adapter (limiter + aiohttp request layer), 30/s server
  ptb         PTB's AIORateLimiter(max_retries=3) on PTB's default httpx request, 30/s server
  paid        ours with allow_paid_broadcast, 1,000/s server
  paid-httpx  the same on PTB's default HTTPXRequest (where the CPU goes)

`ours` and `ptb` run side by side (each on its own server); the paid modes
after them. `ptb` needs aiolimiter (`pip install "python-telegram-bot[rate-limiter]"`).

Beside each bot's CPU per message the report gives its fake server's over the
same span, and their ratio: both move with the host's speed, the server's work
per message does not; with `ours` and `ptb` both run, also ours over PTB's.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import os
import platform
import pstats
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

NEWS = (
    "**Metallist strikers hold out for a fourth week**\n\n"
    "The strike at the *Metallist* factory in Uralsk continues. Workers have not been "
    "paid for three years; they demand nationalisation and workers' control.\n\n"
    "- street protests\n- road blockades\n- a shareholders' meeting stopped\n\n"
    "Send messages of solidarity: /address"
)
REPLY_CHAT = 999_999_999
FREE_RATE = 30  # the fake server: 30 msg/s, and 1,000/s for paid broadcasts


def process_cpu(pid: int) -> float:
    """utime + stime of another process, in seconds (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ----- the bot side (one process per mode) ---------------------------------------------


async def _drive(
    send: Callable[[int], Awaitable[str]],
    chats: int,
    inject: Callable[[], Any],
    inject_at: float,
    in_flight: int,
) -> dict[str, Any]:
    """Broadcast to chats 1..N; `send` returns "ok" or "again" (requeue) or "failed"."""
    queue = deque(range(1, chats + 1))
    counts = {"ok": 0, "again": 0, "failed": 0}

    async def sender() -> None:
        while queue:
            chat = queue.popleft()
            outcome = await send(chat)
            counts[outcome] += 1
            if outcome == "again":
                queue.append(chat)

    async def injector() -> None:
        await asyncio.sleep(inject_at)
        await inject()

    cpu, wall = time.process_time(), time.perf_counter()
    task = asyncio.create_task(injector())
    await asyncio.gather(*(sender() for _ in range(in_flight)))
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    if not task.done():
        task.cancel()
    return {
        "seconds": seconds,
        "cpu_ms_per_message": 1000 * cpu_seconds / chats,
        "requeued": counts["again"],
        "failed": counts["failed"],
    }


async def _inject(base_url: str) -> None:
    url = base_url.rsplit("/bot", 1)[0] + "/_fake/inject"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"chat_id": REPLY_CHAT, "text": "/start"}) as response,
    ):
        response.raise_for_status()


async def run_ours(args: argparse.Namespace) -> dict[str, Any]:
    from telegram.request import HTTPXRequest

    from bot.adapters.base import Incoming, Outgoing, RetryAfter, SendError, Transient
    from bot.adapters.telegram import TelegramAdapter
    from bot.config import TelegramConfig

    paid = args.mode.startswith("paid")
    config = TelegramConfig(token=args.token, base_url=args.base_url, allow_paid_broadcast=paid)
    request = HTTPXRequest(connection_pool_size=128) if args.mode == "paid-httpx" else None
    adapter = TelegramAdapter(config, request=request)

    async def on_command(msg: Incoming) -> list[Outgoing]:
        return [Outgoing("**Welcome.** This chat now receives every update.")]

    async def on_gone(platform: str, chat_id: str) -> None:
        return None

    message = Outgoing(NEWS)

    async def send(chat: int) -> str:
        try:
            await adapter.send(str(chat), message)
        except (RetryAfter, Transient):
            return "again"
        except SendError:
            return "failed"
        return "ok"

    await adapter.start(on_command, on_gone)
    try:
        return await _drive(
            send, args.chats, lambda: _inject(args.base_url), args.inject_at, adapter.max_in_flight
        )
    finally:
        await adapter.stop()


async def run_ptb(args: argparse.Namespace) -> dict[str, Any]:
    from telegram import Update
    from telegram.constants import ParseMode
    from telegram.error import NetworkError, RetryAfter, TelegramError
    from telegram.ext import AIORateLimiter, ApplicationBuilder, CommandHandler, ContextTypes

    from bot.render import to_telegram

    # It logs a traceback for every send whose retries ran out; the table counts them.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    app = (
        ApplicationBuilder()
        .token(args.token)
        .base_url(args.base_url)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .build()
    )

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await update.effective_chat.send_message("<b>Welcome.</b>", parse_mode=ParseMode.HTML)

    app.add_handler(CommandHandler("start", start))
    [html] = to_telegram(NEWS)

    async def send(chat: int) -> str:
        try:
            await app.bot.send_message(chat, html, parse_mode=ParseMode.HTML)
        except (RetryAfter, NetworkError):
            return "again"  # after PTB's own 3 retries: the worker would reschedule it
        except TelegramError:
            return "failed"
        return "ok"

    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling()
        try:
            return await _drive(
                send, args.chats, lambda: _inject(args.base_url), args.inject_at, 64
            )
        finally:
            await app.updater.stop()
            await app.stop()


def worker(args: argparse.Namespace) -> None:
    runner = run_ptb if args.mode == "ptb" else run_ours
    profile = cProfile.Profile() if args.profile else None
    if profile is not None:
        profile.enable()
    from bot.cli import event_loop_factory  # the loop `strikewire run` uses

    with asyncio.Runner(loop_factory=event_loop_factory()) as loop:
        result = loop.run(runner(args))
    if profile is not None:
        profile.disable()
        stats = pstats.Stats(profile, stream=sys.stderr)
        print(f"--- where {args.mode} spends its CPU (by own time) ---", file=sys.stderr)
        stats.sort_stats("tottime").print_stats(18)
    print("RESULT " + json.dumps(result), flush=True)


# ----- the orchestrator -------------------------------------------------------------------


async def _start_server(
    per_second: float, latency: float
) -> tuple[asyncio.subprocess.Process, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fake_telegram",
        "--per-second",
        str(per_second),
        "--paid-per-second",
        "1000",
        "--latency",
        str(latency),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()
    if not line or line[0] != "READY":
        raise SystemExit("bench: the fake Telegram server did not start")
    return proc, line[1], line[2]


async def run_mode(
    mode: str, chats: int, latency: float, inject_at: float, *, profile: bool = False
) -> dict[str, Any]:
    server, base_url, token = await _start_server(FREE_RATE, latency)
    try:
        server_cpu = process_cpu(server.pid)
        bot = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.bench_telegram",
            "--worker",
            mode,
            "--chats",
            str(chats),
            "--base-url",
            base_url,
            "--token",
            token,
            "--inject-at",
            str(inject_at),
            *(["--profile"] if profile else []),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await bot.communicate()
        server_cpu = process_cpu(server.pid) - server_cpu
        lines = [x for x in out.decode().splitlines() if x.startswith("RESULT ")]
        if bot.returncode != 0 or not lines:
            raise SystemExit(f"bench: mode {mode} failed (exit {bot.returncode})")
        result: dict[str, Any] = {"mode": mode, "chats": chats, **json.loads(lines[-1][7:])}
        stats_url = base_url.rsplit("/bot", 1)[0] + "/_fake/stats"
        async with aiohttp.ClientSession() as session, session.get(stats_url) as response:
            stats = await response.json()
    finally:
        server.terminate()
        await server.wait()
    counts = {int(k): v for k, v in stats["counts"].items()}
    counts.pop(REPLY_CHAT, None)
    result["lost"] = sum(1 for c in range(1, chats + 1) if c not in counts)
    result["duplicated"] = sum(v - 1 for v in counts.values() if v > 1)
    result["rate"] = chats / result["seconds"]
    result["responses_429"] = stats["too_many_requests"]
    result["reply_latency"] = stats["reply_latency"].get(str(REPLY_CHAT))
    # The server's CPU spans the bot's start-up too, where it is idle but for
    # long polls: a little more than the broadcast's own.
    result["server_cpu_ms_per_message"] = 1000 * server_cpu / chats
    return result


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"Telegram broadcast, fake server latency {args.latency * 1000:.0f} ms, "
        f"Python {platform.python_version()}, {platform.machine()}",
        "",
        "| mode | chats | msg/s | 429s | handed back | lost | duplicated | reply after "
        "| CPU ms/msg | fake server's | bot / server |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        reply = "none" if r["reply_latency"] is None else f"{r['reply_latency']:.2f} s"
        lines.append(
            f"| {r['mode']} | {r['chats']} | {r['rate']:.1f} | {r['responses_429']} | "
            f"{r['requeued']} | "
            f"{r['lost']} | {r['duplicated']} | {reply} | {r['cpu_ms_per_message']:.2f} | "
            f"{r['server_cpu_ms_per_message']:.2f} | {ratio(r['cpu_ms_per_message'], r)} |"
        )
    by_mode = {r["mode"]: r["cpu_ms_per_message"] for r in results}
    if by_mode.get("ours") and by_mode.get("ptb"):
        lines += ["", f"CPU per message, ours / PTB's: {by_mode['ours'] / by_mode['ptb']:.2f}"]
    return "\n".join(lines)


def ratio(cpu: float, result: dict[str, Any]) -> str:
    server = result["server_cpu_ms_per_message"]
    return f"{cpu / server:.2f}" if server else "n/a"


async def orchestrate(args: argparse.Namespace) -> list[dict[str, Any]]:
    modes = args.modes.split(",")
    side_by_side = [m for m in ("ours", "ptb") if m in modes]
    results = list(
        await asyncio.gather(
            *(
                run_mode(m, args.chats, args.latency, args.inject_at, profile=args.profile)
                for m in side_by_side
            )
        )
    )
    for mode in [m for m in ("paid", "paid-httpx") if m in modes]:
        chats = args.paid_chats if mode == "paid" else min(args.paid_chats, 3000)
        results.append(await run_mode(mode, chats, args.latency, 2.0, profile=args.profile))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--paid-chats", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--inject-at", type=float, default=10.0)
    parser.add_argument("--modes", default="ours,ptb,paid,paid-httpx")
    parser.add_argument(
        "--profile", action="store_true", help="print where each bot spends its CPU (cProfile)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.mode = args.worker
        worker(args)
        return
    results = asyncio.run(orchestrate(args))
    print(report(results, args))


if __name__ == "__main__":
    main()
