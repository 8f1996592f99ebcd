"""Cut a unit stream into parts that each fit a size limit and are valid on their own.

Shared by the three outputs. Parts are filled greedily; when the next unit does
not fit, the part ends at the best place seen in it so far: the lowest-ranked
`Brk` (block, then line, then space), the latest of equal rank. Only when a
part has no such place is a word cut between characters. The frames open at a
cut are closed at the end of the part and reopened at the start of the next;
the budget always keeps room for those closing tags.

A frame whose open and close markup (with everything already open) would take
more than half the limit is dropped, so a fresh part always has room for text.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.render.stream import (
    PLAIN,
    SPACE,
    Brk,
    Close,
    Frame,
    Lit,
    Open,
    Retag,
    Text,
    Unit,
    escape_html,
)

Measure = Callable[[str], int]
Chunks = tuple[str, ...]

_SPACES = re.compile(r"([ \t]+)")
# A cut before one of these would separate it from the character it modifies.
_JOINERS = frozenset("\u200d\ufe0e\ufe0f")


@dataclass(frozen=True)
class _Word:
    raw: str
    visible: tuple[bool, ...]  # per output channel


@dataclass(frozen=True)
class _Entry:
    frame: Frame
    dropped: bool
    overhead: int  # open + close + slack, fixed when pushed


@dataclass(frozen=True)
class _Cut:
    rank: int
    index: int  # of the Brk in the unit list
    pieces: int  # pieces of the part before the Brk
    stack: tuple[_Entry, ...]


_Item = Open | Close | Retag | Lit | Brk | _Word


def _atomize(units: Sequence[Unit], channels: Sequence[int]) -> list[_Item]:
    """Split text into words and space breaks; leave out text no channel shows."""
    items: list[_Item] = []
    for unit in units:
        if not isinstance(unit, Text):
            items.append(unit)
            continue
        visible = tuple(channel in unit.channels for channel in channels)
        if not any(visible):
            continue
        for index, chunk in enumerate(_SPACES.split(unit.raw)):
            if not chunk:
                continue
            if index % 2 == 0:
                items.append(_Word(chunk, visible))
            elif unit.verbatim:
                items.append(_Word(chunk, visible))
                items.append(Brk(SPACE, ("", "", "")))
            else:
                seps = [chunk if channel in unit.channels else "" for channel in range(3)]
                items.append(Brk(SPACE, (seps[0], seps[1], seps[2])))
    return items


class _Packer:
    def __init__(self, channels: Sequence[int], measure: Measure, limit: int) -> None:
        self.channels = tuple(channels)
        self.measure = measure
        self.limit = limit
        self.parts: list[Chunks] = []
        self.items: list[_Item] = []
        self.index = 0
        self.start(())

    # -- costs -------------------------------------------------------------
    def pick(self, strings: tuple[str, str, str]) -> Chunks:
        return tuple(strings[channel] for channel in self.channels)

    def cost(self, chunks: Chunks) -> int:
        return sum(self.measure(chunk) for chunk in chunks)

    def word_chunks(self, word: _Word, text: str) -> Chunks:
        return tuple(
            (text if channel == PLAIN else escape_html(text)) if shown else ""
            for channel, shown in zip(self.channels, word.visible, strict=True)
        )

    def close_cost(self, entry: _Entry) -> int:
        return 0 if entry.dropped else self.cost(self.pick(entry.frame.close))

    # -- part state ----------------------------------------------------------
    def start(self, stack: tuple[_Entry, ...]) -> None:
        self.stack = stack
        self.pieces: list[Chunks] = [self.pick(e.frame.open) for e in stack if not e.dropped]
        self.used = sum(self.cost(piece) for piece in self.pieces)
        self.closing = sum(self.close_cost(entry) for entry in stack)
        self.reopened = len(self.pieces)
        self.content = False
        self.best: _Cut | None = None

    def emit(self, pieces: Sequence[Chunks], stack: tuple[_Entry, ...]) -> None:
        if self.content:
            closes = [self.pick(e.frame.close) for e in reversed(stack) if not e.dropped]
            joined = list(pieces) + closes
            self.parts.append(
                tuple("".join(p[n] for p in joined) for n in range(len(self.channels)))
            )

    def cut_at_best(self) -> None:
        cut = self.best
        assert cut is not None
        self.emit(self.pieces[: cut.pieces], cut.stack)
        self.index = cut.index + 1
        self.start(cut.stack)

    def cut_here(self) -> None:
        """End the part before the current item with no break point to use."""
        if len(self.pieces) == self.reopened:
            raise RuntimeError("render: an item cannot fit an empty part (limit too small)")
        self.emit(self.pieces, self.stack)
        self.start(self.stack)

    def fits(self, extra: int, closing: int = 0) -> bool:
        return self.used + extra + self.closing + closing <= self.limit

    def add(self, chunks: Chunks, cost: int) -> None:
        self.pieces.append(chunks)
        self.used += cost
        self.index += 1

    def overflow(self) -> None:
        if self.best is not None:
            self.cut_at_best()
        else:
            self.cut_here()

    # -- the loop --------------------------------------------------------------
    def run(self, items: list[_Item]) -> list[Chunks]:
        self.items = items
        while self.index < len(items):
            self.step(items[self.index])
        self.emit(self.pieces, self.stack)
        return self.parts

    def step(self, item: _Item) -> None:
        if isinstance(item, Brk):
            self.brk(item)
        elif isinstance(item, _Word):
            self.word(item)
        elif isinstance(item, Lit):
            chunks = self.pick(item.strings)
            cost = self.cost(chunks)
            if not self.fits(cost):
                self.overflow()
                return
            self.add(chunks, cost)
            self.content = self.content or any(chunk.strip() for chunk in chunks)
        elif isinstance(item, Open):
            self.open(item.frame)
        elif isinstance(item, Close):
            entry, self.stack = self.stack[-1], self.stack[:-1]
            if entry.dropped:
                self.index += 1
                return
            cost = self.close_cost(entry)
            self.closing -= cost
            self.add(self.pick(entry.frame.close), cost)
        else:
            top = self.stack[-1]
            self.stack = (*self.stack[:-1], _Entry(item.frame, top.dropped, top.overhead))
            self.index += 1

    def brk(self, item: Brk) -> None:
        following = self.items[self.index + 1] if self.index + 1 < len(self.items) else None
        if not self.content:
            self.index += 1  # whitespace at the start of a part is dropped
            return
        leaves_empty_tags = following is None or isinstance(following, Close)
        if not leaves_empty_tags and (self.best is None or item.rank <= self.best.rank):
            self.best = _Cut(item.rank, self.index, len(self.pieces), self.stack)
        chunks = self.pick(item.sep)
        cost = self.cost(chunks)
        if self.fits(cost):
            self.add(chunks, cost)
        else:
            self.overflow()

    def open(self, frame: Frame) -> None:
        open_chunks = self.pick(frame.open)
        open_cost = self.cost(open_chunks)
        close_cost = self.cost(self.pick(frame.close))
        overhead = open_cost + close_cost + frame.slack
        carried = sum(e.overhead for e in self.stack if not e.dropped)
        if carried + overhead > self.limit // 2:
            self.stack = (*self.stack, _Entry(frame, True, 0))
            self.index += 1
            return
        if not self.fits(open_cost, close_cost):
            self.overflow()
            return
        self.stack = (*self.stack, _Entry(frame, False, overhead))
        self.closing += close_cost
        self.add(open_chunks, open_cost)

    def word(self, word: _Word) -> None:
        chunks = self.word_chunks(word, word.raw)
        cost = self.cost(chunks)
        if self.fits(cost):
            self.add(chunks, cost)
            self.content = self.content or bool(word.raw.strip())
            return
        if self.best is not None:
            self.cut_at_best()
            return
        size = self.fitting_prefix(word)
        if size == 0:
            self.cut_here()
            return
        head = word.raw[:size]
        self.pieces.append(self.word_chunks(word, head))
        self.content = self.content or bool(head.strip())
        self.items[self.index] = _Word(word.raw[size:], word.visible)
        self.cut_here()

    def fitting_prefix(self, word: _Word) -> int:
        room = self.limit - self.used - self.closing
        size = 0
        for char in word.raw:
            room -= self.cost(self.word_chunks(word, char))
            if room < 0:
                break
            size += 1
        for nicer in range(size, max(0, size - 8), -1):
            if nicer < len(word.raw) and _clings(word.raw[nicer - 1], word.raw[nicer]):
                continue
            return nicer
        return size


def _clings(before: str, char: str) -> bool:
    return before in _JOINERS or char in _JOINERS or unicodedata.combining(char) != 0


def pack(
    units: Sequence[Unit], channels: Sequence[int], measure: Measure, limit: int | None
) -> list[Chunks]:
    """Cut `units` into parts, each a tuple of one string per channel in `channels`.

    `limit` bounds the sum of `measure` over a part's strings; None means one part.
    """
    packer = _Packer(channels, measure, sys.maxsize if limit is None else limit)
    return packer.run(_atomize(units, channels))
