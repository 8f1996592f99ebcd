"""Fuzzing the update-file parser and `/post` drafting: whatever an organiser
(or an attacker with an admin's phone) writes, the answer is an item or
problems, never an exception; an accepted item carries no control character.

Seeded (`derandomize=True`) so CI runs the same examples every time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.chat.drafting import from_text
from bot.cleantext import has_bad_chars
from bot.config import ConfigError, load_config
from bot.content.loader import parse_file

ZONE = ZoneInfo("Europe/Berlin")
PATH = Path("updates/fuzz.md")
FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

# YAML's syntax, the front matter's keys and the characters that broke the bot.
YAML_BITS = [
    "&a ", "*a", "&b [", "*b]", "<<: *a", "!!python/object:os.system ", "!!binary ", "!!int ",
    "!!timestamp ", "!!set ", "!custom ", "? ", ": ", "- ", "[", "]", "{", "}", ",", "'", '"',
    "|", ">", "#", "%YAML 1.1\n", "---\n", "...\n", "\n", "\n  ", "\t", " ", "\\", "\\a", "\\e",
    "\\x00", "\\u2028", "\x00", "\x07", "\x0b", "\x0c", "\x1b[31m", "\x85", "\ufffe", "\r",
    "kind", "news", "appeal", "picket", "title", "date", "2026-11-20", "2026-13-45", "9999-12-31",
    "publish_at", "2026-11-20T10:00:00+05:00", "expires", "addresses", "label", "email",
    "starts", "places", "city", "where", "time", "12:00", "99:99", "timezone", "Europe/Berlin",
    "remind", "3h", "99999999999d", "campaigns", "id", "lang", "withdrawn", "correction",
    "1e999", "0x", "~", "null", "true",
]  # fmt: skip

bits = st.one_of(st.sampled_from(YAML_BITS), st.text(max_size=8))
yamlish = st.lists(bits, max_size=30).map("".join)

values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.text(max_size=20),
        st.sampled_from(["2026-11-20", "12:00", "Europe/Berlin", "3h", "news", "picket"]),
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
KEYS = ["kind", "title", "date", "publish_at", "expires", "addresses", "starts", "places"]
KEYS += ["remind", "campaigns", "id", "lang", "withdrawn", "correction", "protect_content"]
structured = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), values, max_size=8)
bodies = st.text(max_size=200)


def _accepted_cleanly(raw: bytes) -> None:
    parsed = parse_file(PATH, raw, ZONE, "en")
    assert parsed.item or parsed.translation or parsed.problems
    for problem in parsed.problems:
        line = problem.format()
        assert "\n" not in line and not has_bad_chars(line), line
    if parsed.item is not None:
        assert not has_bad_chars(parsed.item.title + parsed.item.body)


@FUZZ
@given(front=yamlish, body=bodies)
def test_any_front_matter_text_gives_an_item_or_problems(front: str, body: str) -> None:
    _accepted_cleanly(f"---\n{front}\n---\n{body}\n".encode("utf-8", "surrogatepass"))


@FUZZ
@given(data=structured, body=bodies)
def test_any_front_matter_values_give_an_item_or_problems(
    data: dict[str, object], body: str
) -> None:
    front = yaml.safe_dump(data, allow_unicode=True)
    _accepted_cleanly(f"---\n{front}---\n{body}\n".encode("utf-8", "surrogatepass"))


@FUZZ
@given(raw=st.binary(max_size=300))
def test_any_bytes_give_an_item_or_problems(raw: bytes) -> None:
    _accepted_cleanly(raw)


@FUZZ
@given(text=st.one_of(yamlish, st.text(max_size=200)), first=st.integers(1, 5))
def test_post_text_never_raises_and_finds_every_control_character(text: str, first: int) -> None:
    written = from_text(text, first, dt.date(2026, 11, 20))
    if written is None:
        assert not text.strip()
        return
    if has_bad_chars(text):
        assert written.bad, "a control character the /post check would miss"
    else:
        assert not written.bad


@FUZZ
@given(front=yamlish)
def test_any_config_text_gives_a_config_or_one_line_problems(
    tmp_path_factory: pytest.TempPathFactory, front: str
) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.yaml"
    path.write_text(front, encoding="utf-8", errors="surrogatepass")
    problems = []
    try:
        load_config(path)
    except ConfigError as exc:
        problems = exc.problems
        assert problems
    for problem in problems:
        line = problem.format()
        assert "\n" not in line and not has_bad_chars(line), line
