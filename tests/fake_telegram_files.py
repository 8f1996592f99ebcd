"""Files users sent the fake Bot API server: what `getFile` answers and what
`GET /file/bot<token>/<file_path>` serves, the way Telegram does it.

`getFile` gives a `file_path` valid for download (Telegram keeps it an hour)
and refuses files above 20 MB with "Bad Request: file is too big"; the
download route serves the bytes or answers 404. Every `getFile` and every
download is recorded, so a test can tell a file was never fetched.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from aiohttp import web

from tests.fake_telegram_wire import JSON, ApiError

# The Bot API lets bots download files of at most 20 MB.
GET_FILE_LIMIT = 20 * 1024 * 1024


@dataclass(frozen=True)
class FakeFile:
    file_id: str
    filename: str
    content: bytes
    mime_type: str
    size: int  # what Telegram says; a test may make it differ from len(content)

    def document_json(self) -> JSON:
        return {
            "file_name": self.filename,
            "mime_type": self.mime_type,
            "file_id": self.file_id,
            "file_unique_id": f"u{self.file_id}",
            "file_size": self.size,
        }


class FakeFiles:
    """The server's files, keyed by file_id, and the paths handed out for them."""

    def __init__(self) -> None:
        self.files: dict[str, FakeFile] = {}
        self.get_file_calls: list[str] = []  # file ids, in order
        self.downloads: list[str] = []  # file paths served, in order
        self._paths: dict[str, str] = {}  # file_path -> file_id
        self._numbers = itertools.count(1)

    def add(
        self,
        filename: str,
        content: bytes,
        mime_type: str = "text/markdown",
        size: int | None = None,
    ) -> FakeFile:
        number = next(self._numbers)
        file = FakeFile(
            f"BQACAgIAAx{number:04d}",
            filename,
            content,
            mime_type,
            len(content) if size is None else size,
        )
        self.files[file.file_id] = file
        return file

    def get_file(self, params: JSON) -> JSON:
        file_id = str(params.get("file_id") or "")
        self.get_file_calls.append(file_id)
        file = self.files.get(file_id)
        if file is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        answer: JSON = {
            "file_id": file.file_id,
            "file_unique_id": f"u{file.file_id}",
            "file_size": file.size,
        }
        if file.size > GET_FILE_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        extension = file.filename.rpartition(".")[2] if "." in file.filename else "bin"
        path = f"documents/file_{len(self._paths)}.{extension}"
        self._paths[path] = file.file_id
        answer["file_path"] = path
        return answer

    async def download(self, request: web.Request, token: str) -> web.Response:
        path = request.match_info["path"]
        file_id = self._paths.get(path)
        if request.match_info["token"] != token or file_id is None:
            body = {"ok": False, "error_code": 404, "description": "Not Found"}
            return web.Response(
                status=404, body=json.dumps(body).encode(), content_type="application/json"
            )
        self.downloads.append(path)
        file = self.files[file_id]
        return web.Response(body=file.content, content_type="application/octet-stream")
