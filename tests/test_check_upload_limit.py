"""`strikewire check` and the Matrix homeserver's upload limit: a file larger
than the limit the bot last read (kept in the Matrix adapter's state) is a
problem at its media entry's line; with no limit known, check says nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nio import ContentRepositoryConfigResponse

from bot.adapters.matrix_media import MatrixFiles
from bot.cli import main
from bot.store import PrefixedState, open_store
from tests import media_samples as samples
from tests.conftest import write_update

HEAD = "kind: news\ntitle: Picket\ndate: 2026-11-20\n"
MATRIX = (
    "matrix:\n  homeserver: https://matrix.example.org\n"
    "  user_id: '@bot:example.org'\n  access_token: token\n"
)


def _setup(tmp_path: Path, matrix: bool = True) -> Path:
    folder = tmp_path / "updates"
    folder.mkdir()
    (folder / "gate.jpg").write_bytes(samples.jpeg(size=(400, 300)))
    (folder / "leaflet.pdf").write_bytes(samples.pdf())
    write_update(
        folder, "picket.md", HEAD + "media:\n  - leaflet.pdf\n  - {file: gate.jpg, alt: Gate}\n"
    )
    config = tmp_path / "config.yaml"
    config.write_text("updates_dir: updates\n" + (MATRIX if matrix else ""))
    return config


def _remember_limit(tmp_path: Path, value: str) -> None:
    async def write() -> None:
        store = await open_store(f"sqlite:///{tmp_path / 'strikewire.db'}")
        try:
            await PrefixedState(store, "matrix").set("upload_size", value)
        finally:
            await store.close()

    asyncio.run(write())


def _check(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, list[str]]:
    code = main(["check", "-c", str(config)])
    out = capsys.readouterr()
    return code, out.out.splitlines() + out.err.splitlines()


def test_a_file_over_the_homeservers_limit_is_a_problem_at_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = _setup(tmp_path)
    size = (tmp_path / "updates" / "gate.jpg").stat().st_size
    pdf_size = (tmp_path / "updates" / "leaflet.pdf").stat().st_size
    assert pdf_size < 2048 < size, "the sample photo is over the limit, the PDF under it"
    _remember_limit(tmp_path, "2048")
    code, lines = _check(capsys, config)
    assert code == 1, lines
    [problem] = [line for line in lines if "homeserver" in line]
    assert problem.startswith("updates/picket.md:7: media[1]: gate.jpg is ")
    assert problem.endswith(
        "the Matrix homeserver takes at most 2 KB "
        "(make it smaller, or raise max_upload_size on the homeserver)"
    )


def test_no_known_limit_or_no_matrix_section_says_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = _setup(tmp_path)
    code, lines = _check(capsys, config)  # no database yet
    assert code == 0 and not any("homeserver" in line for line in lines), lines
    _remember_limit(tmp_path, "")  # the homeserver sets no limit
    code, lines = _check(capsys, config)
    assert code == 0 and not any("homeserver" in line for line in lines), lines
    # A limit read while Matrix was configured does not apply once it is not.
    _remember_limit(tmp_path, "2048")
    config.write_text("updates_dir: updates\n")
    code, lines = _check(capsys, config)
    assert code == 0, lines


class _Homeserver:
    """What MatrixFiles asks of matrix-nio's client at start."""

    def __init__(self, upload_size: int | None) -> None:
        self.upload_size = upload_size

    async def content_repository_config(self) -> ContentRepositoryConfigResponse:
        return ContentRepositoryConfigResponse(upload_size=self.upload_size)


def test_the_matrix_adapter_keeps_the_limit_it_read_where_check_finds_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = _setup(tmp_path)

    async def start_adapter_files() -> None:
        store = await open_store(f"sqlite:///{tmp_path / 'strikewire.db'}")
        try:
            files = MatrixFiles(_Homeserver(2048), PrefixedState(store, "matrix"))
            await files.read_limit()
        finally:
            await store.close()

    asyncio.run(start_adapter_files())
    code, lines = _check(capsys, config)
    assert code == 1 and any("takes at most 2 KB" in line for line in lines), lines
