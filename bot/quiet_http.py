"""How the bot's HTTP servers (the web face, the Telegram webhook) answer what
they cannot parse: a request line too long (414), a header too large or too
many of them (431), a method it does not know (405), anything else malformed
(400); with one log line, no traceback and no client address.

aiohttp answers every parse error 400 and logs it with `logger.exception`
("Error handling request from <address>" and a traceback) from its
`RequestHandler.handle_error`. `QuietRunner` is an `AppRunner` whose
connections use `QuietHandler`, which overrides that method (and
`log_exception`, for errors outside any request). The request line and a
header field get different size limits, so a `LineTooLong` says by its limit
which of them was too long.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web, web_protocol, web_request, web_server
from aiohttp.http_exceptions import BadHttpMessage, BadHttpMethod, LineTooLong

log = logging.getLogger("bot.http")

# The site's addresses are short (`/u/<id>.ru.html?lang=ru`); a header may be
# as long as aiohttp's default allows.
MAX_REQUEST_LINE = 4096
MAX_FIELD = 8190
# `METHOD SP target SP HTTP/`: a request line well formed but for a method
# nobody knows (the target may go past the bytes kept).
_START = 64
_METHOD = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32} [!-~]+(?: HTTP/|\Z)")
ALLOWED = "GET, HEAD"


def status_for(exc: BaseException | None, start: bytes) -> int:
    """The status a parse error deserves; `start`: the connection's first bytes."""
    if isinstance(exc, LineTooLong):
        limit = exc.args[1] if len(exc.args) > 1 else None
        too_long = limit == MAX_REQUEST_LINE
        return (
            HTTPStatus.REQUEST_URI_TOO_LONG
            if too_long
            else HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
        )
    if isinstance(exc, BadHttpMessage) and "Too many headers" in exc.message:
        return HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
    if isinstance(exc, BadHttpMethod) and _METHOD.match(start) and _names(exc, start):
        return HTTPStatus.METHOD_NOT_ALLOWED
    return HTTPStatus.BAD_REQUEST


def _names(exc: BadHttpMethod, start: bytes) -> bool:
    """Whether the refused method is the one the connection began with (and
    not garbage pipelined after a good request): both parsers quote the
    refused line or method in their message."""
    method = start.split(b" ", 1)[0].decode("ascii")
    return f"{method} " in exc.message or f"'{method}'" in exc.message


class QuietHandler(web_protocol.RequestHandler):
    """One connection; its errors answered and logged as the module says."""

    extra_headers: Mapping[str, str] = {}
    _start = b""

    def data_received(self, data: bytes) -> None:
        if not self._start:
            self._start = bytes(data[:_START])
        super().data_received(data)

    def handle_error(
        self,
        request: web_request.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if isinstance(exc, BadHttpMessage):
            status = status_for(exc, self._start)
        error = type(exc).__name__ if exc is not None else "none"
        if status >= 500:
            log.error("web request failed status=%d error=%s", status, error)
        else:
            log.info("web bad request status=%d error=%s", status, error)
        if request.writer.output_size > 0:  # as aiohttp: the connection is broken
            raise ConnectionError("response already started")
        phrase = HTTPStatus(status).phrase
        response = web.Response(status=status, text=f"{status} {phrase}\n")
        response.headers.update(self.extra_headers)
        response.headers["Cache-Control"] = "no-store"
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            response.headers["Allow"] = ALLOWED
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        exc = kw.get("exc_info")
        error = type(exc).__name__ if isinstance(exc, BaseException) else "unknown"
        log.error("web connection failed error=%s", error)


class _Server(web_server.Server):
    extra_headers: Mapping[str, str] = {}

    def __call__(self) -> web_protocol.RequestHandler:
        handler = QuietHandler(self, loop=self._loop, **self._kwargs)
        handler.extra_headers = self.extra_headers
        return handler


class QuietRunner(web.AppRunner):
    """An AppRunner without access log whose connections are `QuietHandler`s;
    `headers` go on their error answers too. Any aiohttp server of the bot
    can use it (the Telegram webhook's too)."""

    def __init__(self, app: web.Application, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(
            app,
            access_log=None,
            handle_signals=False,
            max_line_size=MAX_REQUEST_LINE,
            max_field_size=MAX_FIELD,
        )
        self._error_headers = dict(headers or {"Server": "strikewire"})

    async def _make_server(self) -> web_server.Server:
        made = await super()._make_server()
        server = _Server(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **made._kwargs,
        )
        server.extra_headers = self._error_headers
        return server
