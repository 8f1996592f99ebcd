"""The console adapter: a chat in the terminal, so anyone can try the bot with no token.

Lines typed are messages from one local chat (`console:local`), whose user is
the admin; answers and broadcasts are printed. Standard input is read by a
daemon thread so Ctrl-C never waits on a blocked read.

An organiser's update takes several lines: a `/post` or `/edit ID` line with
nothing else on it starts a message that a line holding only `.` ends (so does
the end of input); the core gets it whole, as `text` and as `markdown`.
`/post Title` on one line is a message of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from bot.adapters.base import ChatGoneHandler, ChatKind, CommandHandler, Incoming, Outgoing
from bot.render import to_plain

CHAT_ID = "local"
SENDER = "console"
HELP = (
    "strikewire console: type /help, Ctrl-D or Ctrl-C to quit. "
    "A /post or /edit ID line alone starts a longer message; a line with only . ends it."
)
# A command line that opens a multi-line message: `/post`, `/edit some-id`.
_OPENS_MESSAGE = re.compile(r"/post|/edit[ \t]+\S+")
END_OF_MESSAGE = "."


class Lines:
    """Turns typed lines into messages: one line each, except a multi-line
    message opened by a bare `/post` or `/edit ID` line."""

    def __init__(self) -> None:
        self._open: list[str] | None = None

    def feed(self, line: str) -> str | None:
        """The message this line completes, if any."""
        line = line.rstrip("\r\n")
        if self._open is not None:
            if line.strip() == END_OF_MESSAGE:
                return self.finish()
            self._open.append(line)  # as typed: blank lines and indentation count
            return None
        text = line.strip()
        if _OPENS_MESSAGE.fullmatch(text):
            self._open = [text]
            return None
        return text or None

    def finish(self) -> str | None:
        """What was typed of an open message when input ends."""
        message, self._open = self._open, None
        return None if message is None else "\n".join(message).rstrip()


UPDATE, NOTICE, CORRECTED, WITHDRAWN = "── ✉ ──", "── ↩ ──", "── ✎ ──", "── ✕ ──"


class ConsoleAdapter:
    platform = "console"
    max_in_flight = 1

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self.interactive = self._stdin.isatty()
        # Set when standard input has ended (a script piped in, or Ctrl-D).
        self.finished = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()

    def _read_lines(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            for line in self._stdin:
                loop.call_soon_threadsafe(self._lines.put_nowait, line)
        except (OSError, ValueError):
            pass
        loop.call_soon_threadsafe(self._lines.put_nowait, None)

    async def start(self, on_command: CommandHandler, on_chat_gone: ChatGoneHandler) -> None:
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._read_lines, args=(loop,), daemon=True, name="stdin").start()
        if self.interactive:
            self._print(HELP)
        self._task = asyncio.create_task(self._serve(on_command), name="console")

    async def _serve(self, on_command: CommandHandler) -> None:
        lines = Lines()
        while True:
            line = await self._lines.get()
            text = lines.finish() if line is None else lines.feed(line)
            if text is not None:
                await self._answer(on_command, text)
            if line is None:
                self.finished.set()
                return

    async def _answer(self, on_command: CommandHandler, text: str) -> None:
        incoming = Incoming(
            platform=self.platform,
            chat_id=CHAT_ID,
            chat_kind=ChatKind.PRIVATE,
            text=text,
            may_manage=True,
            is_bot_admin=True,  # whoever sits at the terminal runs the bot
            markdown=text,  # typed text is Markdown already
            sender=SENDER,
        )
        for answer in await on_command(incoming):
            self._show(answer)

    def _print(self, text: str) -> None:
        self._stdout.write(text + "\n")
        self._stdout.flush()

    def _show(self, message: Outgoing, header: str | None = None) -> None:
        parts = to_plain(message.markdown)
        if header:
            self._print(header)
        self._print("\n".join(parts))
        if message.attachment is not None:
            self._print(
                f"[attachment: {message.attachment.filename}, "
                f"{len(message.attachment.content)} bytes]"
            )
        self._print("")

    async def send(self, chat_id: str, message: Outgoing) -> list[str]:
        # Symbols, not words: the console shows every language the bot speaks.
        self._show(message, header=UPDATE if message.reply_to is None else NOTICE)
        return [CHAT_ID]

    async def edit(self, chat_id: str, message_ids: Sequence[str], message: Outgoing) -> list[str]:
        self._show(message, header=CORRECTED)
        return list(message_ids)

    async def take_back(
        self, chat_id: str, message_ids: Sequence[str], reason: str, fallback: Outgoing
    ) -> None:
        self._show(fallback, header=WITHDRAWN)

    async def stop_receiving(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def stop(self) -> None:
        await self.stop_receiving()

    def health(self) -> str | None:
        return None

    def subscribe_link(self) -> str | None:
        return None
