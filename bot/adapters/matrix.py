"""The Matrix adapter: one matrix-nio client that syncs, answers commands and
sends the core's messages, in plain and end-to-end encrypted rooms.

Jobs are split by module: `matrix_session` logs in and keeps the device,
`matrix_inbox` reads each sync, `matrix_send` sends and honours the rate
limit, `matrix_rules` holds the pure decisions. This module runs the sync loop
and wires them together. The sync token lives in the engine's key/value store
(`state`) and is saved only after a sync's commands were handed on, so a
restart answers nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import secrets
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

from nio import AsyncClient, JoinResponse, SyncResponse

from bot.adapters.base import (
    AdapterStartError,
    ChatGone,
    ChatGoneHandler,
    CommandHandler,
    Document,
    Incoming,
    Outgoing,
    Priority,
    SendError,
    Transient,
)
from bot.adapters.matrix_files import fetch
from bot.adapters.matrix_inbox import FileCommand, Inbox, SyncFailed, SyncOutcome
from bot.adapters.matrix_media import MatrixFiles
from bot.adapters.matrix_rules import DEFAULT_RETRY_AFTER_S
from bot.adapters.matrix_send import NETWORK_ERRORS, MatrixSender
from bot.adapters.matrix_session import client_config, open_session
from bot.config import MatrixConfig
from bot.logs import PLAIN, Pseudonyms
from bot.platforms import Platform
from bot.store import KeyValue

log = logging.getLogger(__name__)

SYNC_TIMEOUT_MS = 30_000
# While the bot is sending (a broadcast) it polls, once a second, instead of
# long-polling. Synapse wakes a waiting /sync at every new event in the
# user's rooms and computes the whole response again from its `since` token;
# a wait that the bot's own messages cannot end (they are filtered out) made
# the k-th message of a broadcast cost a sync over k rooms: about 1 s of
# Synapse's CPU for 200 rooms, 5 ms a message. So a long poll asks for the
# bot's own events too (the first one ends it), and the polls leave them out
# (nothing to serialise, send back and decrypt). Answers come within a second.
SENDING_POLL_S = 1.0


def sync_filter(user_id: str, *, own_events: bool) -> dict[str, Any]:
    """What the bot's syncs ask for. A burst of commands must not be cut from
    a sync; presence and typing are noise. Without `own_events` the bot's own
    events stay out of the timeline (a broadcast's every message would come
    back to it for nothing); its own membership still arrives as room state."""
    timeline: dict[str, Any] = {"limit": 100}
    if not own_events:
        timeline["not_senders"] = [user_id]
    return {
        "presence": {"types": []},
        "account_data": {"types": []},
        "room": {
            "timeline": timeline,
            "ephemeral": {"types": []},
            "account_data": {"types": []},
            "state": {"lazy_load_members": False},
        },
    }


MAX_BACKOFF_S = 60.0
ROOMS_ANSWERED_AT_ONCE = 8
STOP_GRACE_S = 10.0
READY_WAIT_S = 30.0


class MatrixAdapter:
    """Matrix for the core: `start`, `stop`, `send` (see base.Adapter)."""

    platform = Platform.MATRIX

    def __init__(
        self, config: MatrixConfig, *, store_path: Path, state: KeyValue, hide: Pseudonyms = PLAIN
    ) -> None:
        self.max_in_flight = config.max_in_flight
        self._config = config
        self._store_path = store_path
        self._state = state
        # Keyed by account: a token is meaningless for another user.
        self._token_key = f"sync_token:{config.user_id}"
        self._wait_filter = sync_filter(config.user_id, own_events=True)
        self._poll_filter = sync_filter(config.user_id, own_events=False)
        self._client = AsyncClient(
            config.homeserver,
            config.user_id,
            store_path=str(store_path),
            config=client_config(config.encryption),
        )
        self._sender = MatrixSender(self._client, media=MatrixFiles(self._client, state))
        self._inbox = Inbox(self._client, config, hide)
        self._hide = hide
        self._on_command: CommandHandler | None = None
        self._on_chat_gone: ChatGoneHandler | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._request: asyncio.Task[Any] | None = None
        self._answering: set[asyncio.Task[None]] = set()
        self._room_slots = asyncio.Semaphore(ROOMS_ANSWERED_AT_ONCE)
        self._pending_joins: dict[str, float] = {}
        self._stopping = False
        self._stopped = asyncio.Event()
        self._ready = asyncio.Event()
        self._sync_failing: str | None = None  # why the last sync failed, for health()

    @property
    def device_id(self) -> str:
        return str(self._client.device_id or "")

    def rooms(self) -> frozenset[str]:
        """The rooms the bot is in, as of its last sync."""
        return frozenset(self._client.rooms)

    async def start(self, on_command: CommandHandler, on_chat_gone: ChatGoneHandler) -> None:
        self._on_command, self._on_chat_gone = on_command, on_chat_gone
        try:
            await open_session(self._client, self._config, self._store_path)
            await self._sender.read_limit()
            await self._first_sync()
        except BaseException:
            await self._client.close()
            raise
        self._ready.set()
        self._loop_task = asyncio.create_task(self._sync_loop(), name="matrix-sync")

    async def stop_receiving(self) -> None:
        """End the sync loop and the answers under way; sends still work."""
        if self._stopping:
            return
        self._stopping = True
        self._stopped.set()
        if self._request is not None:
            self._request.cancel()
        if self._loop_task is not None:
            done, _ = await asyncio.wait({self._loop_task}, timeout=STOP_GRACE_S)
            if not done:
                self._loop_task.cancel()
                await asyncio.wait({self._loop_task})
        if self._answering:
            _, late = await asyncio.wait(self._answering, timeout=STOP_GRACE_S)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)

    async def stop(self) -> None:
        await self.stop_receiving()
        await self._client.close()

    def health(self) -> str | None:
        if not self._ready.is_set() or self._stopping:
            return "matrix: not connected"
        if self._sync_failing is not None:
            return f"matrix: sync failing ({self._sync_failing})"
        return None

    def subscribe_link(self) -> str | None:
        return f"https://matrix.to/#/{self._config.user_id}"

    async def _wait_ready(self) -> None:
        # Before the first sync every room looks unknown: wait, never call it gone.
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=READY_WAIT_S)
        except TimeoutError:
            raise Transient("not connected to the homeserver yet") from None

    async def send(self, chat_id: str, message: Outgoing) -> list[str]:
        await self._wait_ready()
        return await self._sender.send(chat_id, message, Priority.BROADCAST)

    async def edit(self, chat_id: str, message_ids: Sequence[str], message: Outgoing) -> list[str]:
        await self._wait_ready()
        return await self._sender.edit(chat_id, message_ids, message)

    async def take_back(
        self, chat_id: str, message_ids: Sequence[str], reason: str, fallback: Outgoing
    ) -> None:
        await self._wait_ready()
        await self._sender.take_back(chat_id, message_ids, reason)

    # The sync loop

    async def _first_sync(self) -> None:
        token = await self._state.get(self._token_key)
        # Synapse answers a repeated sync request from its cache for two
        # minutes; the key includes the timeout. An initial sync returns at
        # once whatever the timeout, so a fresh one makes this start's request
        # its own, not the replay of a previous process's.
        first_timeout_ms = 1 + secrets.randbelow(60_000)
        try:
            response = await self._sync(token, timeout_ms=first_timeout_ms)
        except NETWORK_ERRORS as exc:
            raise AdapterStartError(
                f"matrix: cannot reach {self._config.homeserver} ({exc}); check matrix.homeserver"
            ) from None
        if not isinstance(response, SyncResponse) and token:
            log.warning("matrix: the stored sync token was refused; starting from now")
            token = None
            response = await self._sync(None, timeout_ms=first_timeout_ms)
        if not isinstance(response, SyncResponse):
            raise AdapterStartError(
                f"matrix: {self._config.homeserver} refused to sync: "
                f"{getattr(response, 'message', response)}"
            )
        await self._sender.keep_keys()
        # Without a stored token everything in the first sync happened before
        # the bot was running: join invites, answer nothing.
        await self._handle(response, history=token is None)

    async def _sync(self, since: str | None, timeout_ms: int) -> Any:
        self._request = asyncio.ensure_future(
            self._client.sync(
                timeout=timeout_ms,
                sync_filter=self._wait_filter if timeout_ms else self._poll_filter,
                since=since,
                full_state=True if since else None,
            )
        )
        try:
            await asyncio.wait({self._request})
            return self._request.result()
        finally:
            self._request = None

    async def _sync_loop(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                response = await self._sync(None, timeout_ms=self._sync_timeout_ms())
                if not isinstance(response, SyncResponse):
                    wait = (getattr(response, "retry_after_ms", None) or 0) / 1000
                    raise SyncFailed(str(getattr(response, "message", response)), wait)
                failures = 0
                self._sync_failing = None
                await self._sender.keep_keys()
                await self._handle(response, history=False)
                if self._sender.sending(within=SENDING_POLL_S):
                    await self._sleep(SENDING_POLL_S)
            except asyncio.CancelledError:
                if self._stopping:
                    return
                raise
            except (*NETWORK_ERRORS, SyncFailed) as exc:
                failures += 1
                self._sync_failing = type(exc).__name__
                wait = min(MAX_BACKOFF_S, 2 ** min(failures, 6) * (0.5 + random.random()))  # noqa: S311
                wait = max(wait, getattr(exc, "retry_after", 0.0))
                log.warning("matrix: sync failed (%s); retrying in %.0fs", exc, wait)
                await self._sleep(wait)

    def _sync_timeout_ms(self) -> int:
        if self._sender.sending(within=SENDING_POLL_S):
            return 0
        if not self._pending_joins:
            return SYNC_TIMEOUT_MS
        soonest = min(self._pending_joins.values()) - asyncio.get_running_loop().time()
        return max(0, min(SYNC_TIMEOUT_MS, int(soonest * 1000)))

    async def _sleep(self, seconds: float) -> None:
        """Back off, but wake at once for stop()."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    async def _handle(self, response: SyncResponse, *, history: bool) -> None:
        outcome = self._inbox.read(response, history=history)
        self._sender.joining.difference_update(self._client.rooms)
        for room_id in outcome.join:
            self._pending_joins.setdefault(room_id, 0.0)
        await self._join_pending()
        for room_id in outcome.decline:
            await self._leave(room_id)
        for room_id in outcome.abandoned:
            log.info("matrix: leaving %s: nobody else is left in it", self._hide(room_id))
            await self._leave(room_id)
        for room_id in outcome.gone:
            await self._forget(room_id)
        for room_id in [*outcome.gone, *outcome.abandoned]:
            await self._chat_gone(room_id)
        self._answer(outcome)
        await self._state.set(self._token_key, response.next_batch)

    async def _join_pending(self) -> None:
        now = asyncio.get_running_loop().time()
        for room_id, not_before in list(self._pending_joins.items()):
            if not_before > now:
                continue
            try:
                reply = await self._client.join(room_id)
            except NETWORK_ERRORS as exc:
                log.warning("matrix: joining %s failed (%s); will retry", self._hide(room_id), exc)
                self._pending_joins[room_id] = now + DEFAULT_RETRY_AFTER_S
                continue
            if isinstance(reply, JoinResponse):
                log.info("matrix: accepted the invite to %s", self._hide(room_id))
                del self._pending_joins[room_id]
                self._sender.joining.add(room_id)
            elif getattr(reply, "status_code", None) == "M_LIMIT_EXCEEDED":
                wait = (getattr(reply, "retry_after_ms", None) or 0) / 1000
                self._pending_joins[room_id] = now + (wait or DEFAULT_RETRY_AFTER_S)
            else:
                log.warning(
                    "matrix: cannot join %s: %s", self._hide(room_id), getattr(reply, "message", "")
                )
                del self._pending_joins[room_id]

    async def _leave(self, room_id: str) -> None:
        # Our own leave comes back in a later sync: it is no news then.
        self._inbox.left_by_us(room_id)
        try:
            await self._client.room_leave(room_id)
        except NETWORK_ERRORS as exc:
            log.warning("matrix: leaving %s failed (%s)", self._hide(room_id), exc)
        await self._forget(room_id)

    async def _forget(self, room_id: str) -> None:
        """Drop the room from the bot's room list on the homeserver too."""
        try:
            await self._client.room_forget(room_id)
        except NETWORK_ERRORS as exc:
            log.warning("matrix: forgetting %s failed (%s)", self._hide(room_id), exc)

    async def _chat_gone(self, room_id: str) -> None:
        self._inbox.forget(room_id)
        self._pending_joins.pop(room_id, None)
        log.info("matrix: the bot is out of %s; unsubscribing it", self._hide(room_id))
        if self._on_chat_gone is not None:
            await _logged(self._on_chat_gone(Platform.MATRIX, room_id), "on_chat_gone")

    # Commands

    def _answer(self, outcome: SyncOutcome) -> None:
        for room_id, commands in outcome.commands.items():
            task = asyncio.create_task(self._answer_room(room_id, commands))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

    async def _answer_room(self, room_id: str, commands: list[Incoming | FileCommand]) -> None:
        """Answer one room's commands in order; rooms are answered side by side."""
        assert self._on_command is not None
        async with self._room_slots:
            for command in commands:
                if isinstance(command, FileCommand):
                    found = await self._document(command)
                    if found is None:
                        continue
                    incoming = found
                else:
                    incoming = command
                try:
                    replies = await self._on_command(incoming)
                except Exception:
                    log.exception("matrix: the command handler failed in %s", self._hide(room_id))
                    continue
                for reply in replies:
                    try:
                        await self._sender.send(room_id, reply, Priority.REPLY)
                    except ChatGone:
                        await self._chat_gone(room_id)
                        return
                    except SendError as exc:
                        log.warning(
                            "matrix: a reply in %s was not sent (%s)", self._hide(room_id), exc.kind
                        )

    async def _document(self, command: FileCommand) -> Incoming | None:
        """The command with its file: fetched for an admin in a direct room,
        else only named. A fetch that failed (logged) arrives without content,
        so the admin is told to send it again."""
        file = command.file
        document = await fetch(self._client, file) if command.fetch else None
        if document is None:
            document = Document(file.filename, file.size or 0, None)
        return dataclasses.replace(command.incoming, document=document)


async def _logged(call: Awaitable[None], what: str) -> None:
    try:
        await call
    except Exception:
        log.exception("matrix: %s failed", what)
