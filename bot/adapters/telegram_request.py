"""PTB's request layer on aiohttp: the `telegram.request.BaseRequest` the adapter plugs in.

PTB's default `HTTPXRequest` costs about 3.5 ms of CPU per message on this
machine, most of it in httpx's request and connection-pool machinery; at 600
paid messages/s that is more than a core. This class speaks to the Bot API
through one aiohttp session with keep-alive connections and sends plain JSON
bodies, which PTB's `BaseRequest` documents as the way to swap the transport.
PTB's own error handling (`BaseRequest._request_wrapper`) is untouched, so
every Bot API error still surfaces as the usual `telegram.error` exception.

Two things are done more cheaply than the general tools would, because a paid
broadcast makes a thousand requests a second:
- A request's bound (connect + read + write) is kept by `Deadlines`: requests
  whose bounds end in the same second share one timer, where aiohttp's own
  total timeout arms and cancels a timer and enters a timer context per
  request (about 8 % of a send's CPU).
- `JSONBody` is a body encoded by the caller (telegram_send.py encodes a
  broadcast's text once and adds each chat to it), handed to `post` in place
  of a `RequestData`: `do_request`, which is ours, reads nothing else of it.
"""

from __future__ import annotations

import asyncio
import io
import math
from typing import Any, cast

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_JSON = "application/json"


class JSONBody:
    """A JSON body encoded ahead: what `do_request` reads of a `RequestData`."""

    __slots__ = ("json_payload",)
    contains_files = False

    def __init__(self, payload: bytes) -> None:
        self.json_payload = payload


class Deadlines:
    """Cancels requests still running at the end of their bound, which is
    rounded up to a whole second of the loop's clock: the requests whose
    bounds end in the same second share one timer."""

    def __init__(self) -> None:
        self._due: dict[tuple[asyncio.AbstractEventLoop, int], set[asyncio.Task[Any]]] = {}
        self._expired: set[asyncio.Task[Any]] = set()

    def watch(self, task: asyncio.Task[Any], seconds: float) -> set[asyncio.Task[Any]]:
        """Watch `task`; give the set returned to `done` once the request is."""
        loop = task.get_loop()
        key = (loop, math.ceil(loop.time() + seconds))
        watched = self._due.get(key)
        if watched is None:
            watched = self._due[key] = set()
            loop.call_at(key[1], self._expire, key)
        watched.add(task)
        return watched

    def _expire(self, key: tuple[asyncio.AbstractEventLoop, int]) -> None:
        for task in self._due.pop(key, ()):
            self._expired.add(task)
            task.cancel()

    def took_too_long(self, task: asyncio.Task[Any]) -> bool:
        """After a CancelledError: whether it was the bound's alone. The
        bound's cancellation is taken back from the task, which then raises
        `TimedOut`; one asked for by someone else as well goes on."""
        if task not in self._expired:
            return False
        self._expired.discard(task)
        return task.uncancel() == 0

    def done(self, task: asyncio.Task[Any], watched: set[asyncio.Task[Any]]) -> None:
        """The request is over. (A cancellation it swallowed is forgotten too,
        so that it is never taken for this task's next request's.)"""
        watched.discard(task)
        self._expired.discard(task)


def _pick(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on an aiohttp `ClientSession` (created in `initialize`)."""

    __slots__ = (
        "_connect_timeout",
        "_deadlines",
        "_default_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 128,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._media_write_timeout = media_write_timeout
        self._default_timeout = self._timeout(connect_timeout, read_timeout, write_timeout)
        self._deadlines = Deadlines()
        self._session: aiohttp.ClientSession | None = None

    @staticmethod
    def _timeout(
        connect: float | None, read: float | None, write: float | None
    ) -> tuple[aiohttp.ClientTimeout, float | None]:
        """aiohttp's timeout for a request, and the bound `Deadlines` keeps."""
        # aiohttp has no separate write timeout; bound the whole request by the
        # sum so a stalled upload cannot hang a send forever. The total alone
        # also bounds a stalled answer: aiohttp's `sock_read` re-arms a timer at
        # every chunk received, about 100 µs of CPU per Bot API call at 1,000
        # calls/s (bench.bench_telegram paid: 0.52 -> 0.42 ms a message), so it
        # is used only when there is no total.
        if None in (connect, read, write):
            return aiohttp.ClientTimeout(sock_connect=connect, sock_read=read), None
        total = (connect or 0) + (read or 0) + (write or 0)
        return aiohttp.ClientTimeout(total=None, sock_connect=connect), total

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
                timeout=self._default_timeout[0],
                # The Bot API sets no cookies; a real jar is work on every call.
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _timeout_for(
        self,
        files: bool,
        read_timeout: ODVInput[float],
        write_timeout: ODVInput[float],
        connect_timeout: ODVInput[float],
    ) -> tuple[aiohttp.ClientTimeout, float | None]:
        """The request's timeouts: PTB's per-call values where it gave any,
        else ours (uploads get the longer media write timeout)."""
        if (
            isinstance(read_timeout, DefaultValue)
            and isinstance(write_timeout, DefaultValue)
            and isinstance(connect_timeout, DefaultValue)
        ):
            if files:
                return self._timeout(
                    self._connect_timeout, self._read_timeout, self._media_write_timeout
                )
            return self._default_timeout
        write_default = self._media_write_timeout if files else self._write_timeout
        return self._timeout(
            _pick(connect_timeout, self._connect_timeout),
            _pick(read_timeout, self._read_timeout),
            _pick(write_timeout, write_default),
        )

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data is not None and request_data.contains_files
        client_timeout, bound = self._timeout_for(
            files, read_timeout, write_timeout, connect_timeout
        )
        task = asyncio.current_task()
        watched = None
        if bound is not None and task is not None:
            watched = self._deadlines.watch(task, bound)
        try:
            if request_data is None:
                response = await session.request(method, url, timeout=client_timeout)
            elif files:
                response = await session.request(
                    method, url, data=self._form(request_data), timeout=client_timeout
                )
            else:
                # A ready payload: aiohttp skips looking up a payload type
                # for bytes and merging a Content-Type header on every call.
                body = aiohttp.BytesPayload(request_data.json_payload, content_type=_JSON)
                response = await session.request(method, url, data=body, timeout=client_timeout)
            async with response:
                return response.status, await response.read()
        except asyncio.CancelledError as exc:
            if watched is not None and task is not None and self._deadlines.took_too_long(task):
                raise TimedOut(f"No answer within {bound} s") from exc
            raise
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc
        finally:
            if watched is not None and task is not None:
                self._deadlines.done(task, watched)

    async def post_json(self, url: str, payload: bytes) -> JSONDict:
        """`post` with a body encoded ahead; the answer's `result`."""
        result = await self.post(url, cast(RequestData, JSONBody(payload)))
        if not isinstance(result, dict):
            raise NetworkError(f"Unexpected answer from {url.rsplit('/', 1)[-1]}: {result!r}")
        return result

    @staticmethod
    def _form(request_data: RequestData) -> aiohttp.FormData:
        form = aiohttp.FormData()
        for name, value in request_data.json_parameters.items():
            form.add_field(name, value)
        for name, (filename, content, mime_type) in request_data.multipart_data.items():
            # A file object, not bytes: aiohttp warns that a large body in
            # bytes may block the loop (a photo is megabytes).
            body = io.BytesIO(content) if isinstance(content, bytes) else content
            form.add_field(name, body, filename=filename, content_type=mime_type)
        return form
