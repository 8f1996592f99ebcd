"""The web face shrugs off bad requests: raw bytes over a socket (an endless
request line, a huge header, garbage, an unknown method) get 414, 431, 400 or
405, and at most one log line with no traceback and no client address."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest

from bot.quiet_http import status_for
from tests.web import campaign_folder, get, running_web, web_config

LONG_LINE = b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
BIG_HEADER = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 8192 + b"\r\n\r\n"
MANY_HEADERS = (
    b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n"
)

CASES = [
    pytest.param(LONG_LINE, 414, id="100000-byte request line"),
    pytest.param(BIG_HEADER, 431, id="8 KB header"),
    pytest.param(MANY_HEADERS, 431, id="200 headers"),
    pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64), 400, id="TLS"),
    pytest.param(b"hello there\r\n\r\n", 400, id="garbage"),
    pytest.param(b"\x00\xff\x00\xff\r\n\r\n", 400, id="binary"),
    pytest.param(b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400, id="bad version"),
    pytest.param(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400, id="bad header"),
    pytest.param(b"FROB / HTTP/1.1\r\nHost: x\r\n\r\n", 405, id="unknown method"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n", 400, id="pipelined garbage"),
    pytest.param(b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", 405, id="DELETE"),
    pytest.param(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, id="POST"),
]


async def exchange(port: int, data: bytes) -> bytes:
    """Send `data` whole, then read the answer until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = b""
    try:
        writer.write(data)
        await writer.drain()
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server answered before reading it all: the answer is still to read
    try:
        async with asyncio.timeout(20):
            while chunk := await reader.read(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and b"Connection: close" not in answer:
                    break  # a keep-alive answer (405 from the router): headers are enough
    except ConnectionResetError:
        pass  # the server closed with our request unread; what it sent is in `answer`
    finally:
        writer.close()
    return answer


@pytest.mark.parametrize(("data", "status"), CASES)
async def test_a_bad_request_gets_its_status_and_one_quiet_line(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    data: bytes,
    status: int,
) -> None:
    campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path)) as bot:
        assert bot.app.web is not None
        caplog.clear()
        caplog.set_level(logging.DEBUG)
        answer = await exchange(bot.app.web.port, data)
        status_line = answer.split(b"\r\n", 1)[0].decode()
        assert re.fullmatch(rf"HTTP/1\.[01] {status} [A-Za-z -]+", status_line), answer[:300]
        head = answer.split(b"\r\n\r\n", 1)[0].decode()
        assert "Server: strikewire" in head
        assert "aiohttp" not in head and "Python" not in head
        if status == 405:
            assert "Allow: " in head and "GET" in head
        # The bot still answers everyone else.
        assert (await get(bot.url + "/healthz")).status == 200
        lines = [r for r in caplog.records if r.name.startswith(("aiohttp", "bot.web", "bot.http"))]
    out, err = capfd.readouterr()
    everything = out + err + "\n".join(r.getMessage() for r in caplog.records)
    everything += "".join(str(r.exc_info) + str(r.exc_text) for r in caplog.records)
    assert "Traceback" not in everything
    assert "127.0.0.1" not in everything
    assert all(r.exc_info is None for r in caplog.records)
    assert len(lines) <= 1, [r.getMessage() for r in lines]
    if status != 405:
        assert [r.getMessage() for r in lines] == [
            f"web bad request status={status} error={type_name(data)}"
        ]


def type_name(data: bytes) -> str:
    if data in (LONG_LINE, BIG_HEADER):
        return "LineTooLong"
    if data.startswith((b"\x16", b"hello", b"\x00")) or b"GARBAGE" in data:
        return "BadHttpMethod"
    return "BadStatusLine" if b"HTTP/9.9" in data else "BadHttpMessage"


def test_statuses_follow_the_error_and_not_the_default_400() -> None:
    from aiohttp.http_exceptions import BadHttpMethod, BadStatusLine, LineTooLong

    from bot.quiet_http import MAX_FIELD, MAX_REQUEST_LINE

    assert status_for(LineTooLong(b"x", MAX_REQUEST_LINE), b"GET /") == 414
    assert status_for(LineTooLong(b"x", MAX_FIELD), b"GET /") == 431
    assert status_for(BadHttpMethod(error="x: b'FROB / HTTP/1.1'"), b"FROB / HTTP/1.1") == 405
    assert status_for(BadHttpMethod("FROB"), b"FROB / HTTP/1.1") == 405  # the Python parser
    assert status_for(BadHttpMethod(error="x: b'GARBAGE'"), b"GET / HTTP/1.1") == 400
    assert status_for(BadHttpMethod(error="x"), b"\x16\x03") == 400
    assert status_for(BadStatusLine("x"), b"GET / HTTP/9") == 400
