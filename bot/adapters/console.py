"""The console adapter: a chat in the terminal, so anyone can try the bot with no token.

Lines typed are messages from one local chat (`console:local`), whose user is
the admin; answers and broadcasts are printed. Standard input is read by a
daemon thread so Ctrl-C never waits on a blocked read.

An organiser's update takes several lines: a `/post` or `/edit ID` line with
nothing else on it starts a message that a line holding only `.` ends (so does
the end of input); the core gets it whole, as `text` and as `markdown`.
`/post Title` on one line is a message of its own.

What is printed carries no control character but tab and newline
(`bot.cleantext.clean`): an escape sequence in an update or typed in a
command cannot move the cursor, recolour or retitle the terminal.

When standard output closes (`strikewire run | head -1`, a terminal or a pipe
reader gone), the console ends as if its input had: `output_closed` and
`finished` are set and the bot stops. A message that could not be printed is
not marked sent: its send fails as `Transient`, so its row stays queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import re
import select
import stat
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from bot.adapters.base import (
    ChatGoneHandler,
    ChatKind,
    CommandHandler,
    Incoming,
    Outgoing,
    Transient,
)
from bot.cleantext import clean
from bot.media.lines import fallback_line
from bot.platforms import Platform
from bot.render import to_plain

log = logging.getLogger(__name__)

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
    platform = Platform.CONSOLE
    max_in_flight = 1

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self.interactive = self._stdin.isatty()
        # Set when standard input has ended (a script piped in, or Ctrl-D),
        # or standard output has closed (then `output_closed` is true too).
        self.finished = asyncio.Event()
        self.output_closed = False
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
        if _is_pipe(self._stdout):
            threading.Thread(
                target=self._watch_output, args=(loop,), daemon=True, name="stdout"
            ).start()
        if self.interactive:
            self._print(HELP)
        self._task = asyncio.create_task(self._serve(on_command), name="console")

    def _watch_output(self, loop: asyncio.AbstractEventLoop) -> None:
        """Notice a pipe's reader going away even while nothing is printed."""
        poller = select.poll()
        poller.register(self._stdout.fileno(), select.POLLERR)
        while True:
            try:
                events = poller.poll()
            except InterruptedError:
                continue
            if any(event & (select.POLLERR | select.POLLHUP) for _, event in events):
                break
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to end
            loop.call_soon_threadsafe(self._output_gone)

    def _output_gone(self) -> None:
        if self.output_closed:
            return
        self.output_closed = True
        log.warning("console output closed; stopping")
        # Python flushes stdout once more at exit: into nothing, not into a
        # BrokenPipeError printed on the way out.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stdout.fileno())
            os.close(devnull)
        self.finished.set()

    async def _serve(self, on_command: CommandHandler) -> None:
        lines = Lines()
        while not self.output_closed:
            line = await self._lines.get()
            text = lines.finish() if line is None else lines.feed(line)
            if text is not None:
                try:
                    await self._answer(on_command, text)
                except Exception as exc:  # the next line is still read and answered
                    log.error("console answer failed error=%s", type(exc).__name__, exc_info=exc)
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
            if not self._show(answer):
                return  # nobody reads any more: the answer is lost with the terminal

    def _print(self, text: str) -> bool:
        """Print a line; False once standard output has closed."""
        if self.output_closed:
            return False
        try:
            self._stdout.write(clean(text) + "\n")
            self._stdout.flush()
        except BrokenPipeError:
            self._output_gone()
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.EIO, errno.EBADF):
                raise
            self._output_gone()
        except ValueError:  # the stream itself was closed
            self._output_gone()
        return not self.output_closed

    def _show(self, message: Outgoing, header: str | None = None) -> bool:
        """Print a message; False if standard output has closed."""
        lines = [header] if header else []
        lines += [fallback_line(m) for m in message.media]
        lines.append("\n".join(to_plain(message.markdown)))
        if message.attachment is not None:
            lines.append(
                f"[attachment: {message.attachment.filename}, "
                f"{len(message.attachment.content)} bytes]"
            )
        lines.append("")
        return all(self._print(line) for line in lines)

    def _deliver(self, message: Outgoing, header: str) -> None:
        if not self._show(message, header):
            # Not shown whole: the row stays queued for the next run.
            raise Transient("console output closed")

    async def send(self, chat_id: str, message: Outgoing) -> list[str]:
        # Symbols, not words: the console shows every language the bot speaks.
        self._deliver(message, UPDATE if message.reply_to is None else NOTICE)
        return [CHAT_ID]

    async def edit(self, chat_id: str, message_ids: Sequence[str], message: Outgoing) -> list[str]:
        self._deliver(message, CORRECTED)
        return list(message_ids)

    async def take_back(
        self, chat_id: str, message_ids: Sequence[str], reason: str, fallback: Outgoing
    ) -> None:
        self._deliver(fallback, WITHDRAWN)

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


def _is_pipe(stream: TextIO) -> bool:
    """Whether `stream` is a pipe whose reader can go away (not a terminal or a file)."""
    if not hasattr(select, "poll"):
        return False
    try:
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return False  # no file descriptor: a test's StringIO
