"""Subscriptions as a user reads them (issue #25), on SQLite and PostgreSQL.

A Hypothesis state machine types /start, /subscribe, /unsubscribe, /stop,
/forget and /campaigns in two chats while new campaigns appear, and checks
each answer against a small model of the rules (`Follows`); after every step
the dispatcher's fan-out of each update in the catalog must reach exactly
the chats the model says.

The rules, as the README's command list tells them:
- /start or /subscribe alone: every campaign, new ones too;
- /subscribe X: the chat receives X too; if it received X already (a chat
  following every campaign does), only X from now on;
- /unsubscribe X: X no more; a chat that followed every campaign follows
  every one but X, new ones included; a chat left with none stops;
- an update with campaigns reaches a chat that follows at least one of them,
  one without campaigns every chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, select, text

from bot.adapters.base import ChatKind, Incoming
from bot.chat.commands import Commands
from bot.clock import FakeClock
from bot.content.catalog import Catalog
from bot.delivery.dispatcher import Dispatcher
from bot.i18n import Texts
from bot.keys import MessageKey, Variant
from bot.store import RowKind, Store, open_store
from bot.store.schema import broadcasts, outbox, subscribers, subscriptions
from tests.conftest import write_update
from tests.recording import plain

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CAMPAIGNS = ("kazakhstan", "metallist", "miners")
# Campaigns whose first update appears while the machine runs.
LATER = ("nurses", "teachers")
CHATS = (("1", ChatKind.PRIVATE), ("-100", ChatKind.GROUP))
NOTHING_NOW = "This chat receives nothing now; /start to subscribe again."


@dataclass(frozen=True)
class Follows:
    """What an active chat receives: every campaign but `names`, or only `names`."""

    everything: bool
    names: frozenset[str]

    def has(self, campaign: str) -> bool:
        return (campaign not in self.names) if self.everything else (campaign in self.names)


Model = Follows | None  # None: not subscribed (never, stopped or forgotten)
EVERY = Follows(True, frozenset())


def subscribe(chat: Model, wanted: frozenset[str]) -> Follows:
    if chat is None or all(chat.has(c) for c in wanted):
        return Follows(False, wanted)
    if chat.everything:
        return Follows(True, chat.names - wanted)
    return Follows(False, chat.names | wanted)


def unsubscribe(chat: Follows, dropped: frozenset[str], known: frozenset[str]) -> Model:
    if chat.everything:
        left_out = chat.names | dropped
        return None if known <= left_out else Follows(True, left_out)
    names = chat.names - dropped
    return Follows(False, names) if names else None


def receives(chat: Model, campaigns: frozenset[str]) -> bool:
    if chat is None:
        return False
    return not campaigns or any(chat.has(c) for c in campaigns)


def listed(names: frozenset[str]) -> str:
    return ", ".join(sorted(names))


def following(chat: Model) -> str:
    """The sentence after "Subscribed to: X." that says what the chat receives."""
    if chat is None:
        return NOTHING_NOW
    if not chat.everything:
        return f"This chat follows only: {listed(chat.names)}."
    if chat.names:
        return f"This chat follows every campaign except: {listed(chat.names)}."
    return "This chat follows every campaign."


def campaigns_line(chat: Model) -> str:
    """The last line of /campaigns."""
    if chat is None:
        return "This chat follows none (send /start)."
    if not chat.everything:
        return f"This chat follows: {listed(chat.names)}."
    if chat.names:
        return f"This chat follows every campaign except: {listed(chat.names)}."
    return "This chat follows all of them."


def news(folder: Path, name: str, campaigns: list[str]) -> None:
    write_update(
        folder,
        f"{name}.md",
        f"""
        kind: news
        title: News of {name}
        date: 2026-11-20
        campaigns: {campaigns}
        """,
    )


class World:
    """What lasts across the machine's runs: one event loop, one store, the updates folder."""

    def __init__(self, url: str, folder: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.folder = folder
        self.store: Store = self.loop.run_until_complete(open_store(url))
        self.catalog = Catalog(folder, ZoneInfo("UTC"))

    async def status(self, _t: Texts) -> str:
        return ""

    def reset(self) -> Commands:
        """An empty database and the first campaigns' updates only."""
        shutil.rmtree(self.folder, ignore_errors=True)
        for campaign in CAMPAIGNS:
            news(self.folder, campaign, [campaign])
        news(self.folder, "everyone", [])
        news(self.folder, "metal-and-mines", ["metallist", "miners"])
        self.catalog.load()

        async def empty() -> None:
            async with self.store.engine.begin() as conn:
                for table in (subscriptions, subscribers, outbox, broadcasts):
                    await conn.execute(delete(table))

        self.loop.run_until_complete(empty())
        return Commands(
            self.catalog,
            self.store,
            FakeClock(NOW),
            default_lang="en",
            status=self.status,
        )

    def close(self) -> None:
        self.loop.run_until_complete(self.store.close())
        self.loop.close()


@contextlib.contextmanager
def world(url: str, folder: Path) -> Iterator[World]:
    made = World(url, folder)
    try:
        yield made
    finally:
        made.close()


typed_names = st.lists(
    st.sampled_from([*CAMPAIGNS, *LATER, "nosuch"]).flatmap(
        lambda name: st.sampled_from([name, name.upper()])
    ),
    min_size=1,
    max_size=3,
)
chats = st.sampled_from(CHATS)


def machine(w: World) -> type[RuleBasedStateMachine]:
    class Subscriptions(RuleBasedStateMachine):
        """Two chats and their commands, checked against `Follows` after every step."""

        @initialize(started=st.lists(st.booleans(), min_size=len(CHATS), max_size=len(CHATS)))
        def empty(self, started: list[bool]) -> None:
            """An empty database; the chats in `started` follow every campaign."""
            self.commands = w.reset()
            self.model: dict[str, Model] = {chat: None for chat, _ in CHATS}
            self.later = list(LATER)
            self.checks = 0
            for chat, start in zip(CHATS, started, strict=True):
                if start:
                    self.everything(chat, "/start")

        def say(self, chat: tuple[str, ChatKind], text: str) -> str:
            chat_id, kind = chat
            msg = Incoming("telegram", chat_id, kind, text, True, False, markdown=text)
            [answer] = w.loop.run_until_complete(self.commands.handle(msg))
            return plain(answer.markdown)

        def known(self) -> frozenset[str]:
            return frozenset(w.catalog.campaigns())

        def unknown(self, typed: list[str]) -> str | None:
            """The answer to names the catalog does not have, or None."""
            unknown = [n for n in typed if n.lower() not in self.known()]
            if not unknown:
                return None
            return f"Unknown campaign: {', '.join(unknown)}. Campaigns: {listed(self.known())}."

        @rule(chat=chats, command=st.sampled_from(["/start", "/subscribe"]))
        def everything(self, chat: tuple[str, ChatKind], command: str) -> None:
            answer = self.say(chat, command)
            assert "This chat now receives every update of the campaign." in answer
            self.model[chat[0]] = EVERY

        @rule(chat=chats, typed=typed_names)
        def subscribe(self, chat: tuple[str, ChatKind], typed: list[str]) -> None:
            answer = self.say(chat, "/subscribe " + " ".join(typed))
            refused = self.unknown(typed)
            if refused is not None:
                assert answer == refused
                return
            names = list(dict.fromkeys(n.lower() for n in typed))
            after = subscribe(self.model[chat[0]], frozenset(names))
            assert answer == f"Subscribed to: {', '.join(names)}. {following(after)}"
            self.model[chat[0]] = after

        @rule(chat=chats, typed=typed_names)
        def unsubscribe(self, chat: tuple[str, ChatKind], typed: list[str]) -> None:
            answer = self.say(chat, "/unsubscribe " + " ".join(typed))
            refused = self.unknown(typed)
            before = self.model[chat[0]]
            if refused is not None:
                assert answer == refused
                return
            if before is None:
                assert answer == "This chat is not subscribed. Send /start to subscribe."
                return
            names = list(dict.fromkeys(n.lower() for n in typed))
            after = unsubscribe(before, frozenset(names), self.known())
            said = f"Unsubscribed from: {', '.join(names)}."
            if after is not None and not after.everything:
                assert answer == f"{said} Still following: {listed(after.names)}."
            else:
                assert answer == f"{said} {following(after)}"
            self.model[chat[0]] = after

        @rule(chat=chats, command=st.sampled_from(["/stop", "/unsubscribe", "/forget"]))
        def stop(self, chat: tuple[str, ChatKind], command: str) -> None:
            answer = self.say(chat, command)
            assert answer.startswith("Done:" if command == "/forget" else "Stopped:")
            self.model[chat[0]] = None

        @rule(chat=chats)
        def campaigns(self, chat: tuple[str, ChatKind]) -> None:
            answer = self.say(chat, "/campaigns")
            assert answer.splitlines()[-1] == campaigns_line(self.model[chat[0]])

        @rule()
        def a_campaign_appears(self) -> None:
            if self.later:
                name = self.later.pop(0)
                news(w.folder, name, [name])
                w.catalog.load()

        @invariant()
        def each_update_reaches_the_chats_that_follow_it(self) -> None:
            if not hasattr(self, "commands"):
                return
            self.checks += 1
            for item in w.catalog.items.values():
                wanted = {c for c, _ in CHATS if receives(self.model[c], frozenset(item.campaigns))}
                got = w.loop.run_until_complete(self.fan_out(item.id))
                assert got == wanted, f"{item.id} {item.campaigns} went to {got}, not {wanted}"

        async def fan_out(self, item_id: str) -> set[str]:
            """The chats the dispatcher writes a row for when `item_id` is broadcast."""
            dispatcher = Dispatcher(w.store, ["telegram"], max_age=timedelta(days=2))
            # A key of its own per check (each key fans out once); every kind
            # fans out to the same audience when no chats are named.
            key = MessageKey.followup(RowKind.NOTICE, item_id, f"check{self.checks}")
            item = w.catalog.items[item_id]
            await dispatcher.enqueue(item, key, Variant.PLAIN, NOW)
            async with w.store.engine.connect() as conn:
                found = await conn.scalars(
                    select(outbox.c.chat_id).where(outbox.c.message_key == str(key))
                )
                return set(found)

    return Subscriptions


def run(url: str, folder: Path) -> None:
    with world(url, folder) as w:
        run_state_machine_as_test(
            machine(w),
            settings=settings(
                max_examples=20,
                stateful_step_count=10,
                deadline=None,
                # Each step fans out every update: shrinking a failure would
                # take minutes, and ten steps read well enough unshrunk.
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
            ),
        )


def test_subscriptions_follow_the_rules(database_url: str, tmp_path: Path) -> None:
    run(database_url, tmp_path / "updates")


def test_the_model_tells_the_issues_story() -> None:
    """The model itself says what issue #25 asked for, step by step."""
    known = frozenset(CAMPAIGNS)
    narrowed = subscribe(EVERY, frozenset({"metallist"}))
    assert narrowed == Follows(False, frozenset({"metallist"}))
    assert not receives(narrowed, frozenset({"miners"}))
    all_but = unsubscribe(EVERY, frozenset({"metallist"}), known)
    assert all_but == Follows(True, frozenset({"metallist"}))
    assert not receives(all_but, frozenset({"metallist"}))
    assert receives(all_but, frozenset({"nurses"})), "a later campaign comes too"
    assert subscribe(all_but, frozenset({"metallist"})) == EVERY
    assert unsubscribe(narrowed, frozenset({"metallist"}), known) is None


async def test_an_upgraded_database_keeps_what_each_chat_was_told(database_url: str) -> None:
    """Before migration 0008, `/subscribe X` in a chat following everything
    stored X and was answered "Subscribed to: X" while the chat still got
    everything: after the upgrade it follows X only, as it was told. A
    configured destination, a chat's own list and a plain "everything" stay."""
    from alembic import command

    from bot.store.database import _alembic_config, make_engine

    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), "0007"))
        await conn.execute(
            text(
                "INSERT INTO subscribers (id, platform, chat_id, everything, active, source,"
                " created_at) VALUES (1, 'telegram', 'told', :t, :t, 'chat', 0),"
                " (2, 'telegram', '@news', :t, :t, 'config', 0),"
                " (3, 'telegram', 'list', :f, :t, 'chat', 0),"
                " (4, 'telegram', 'all', :t, :t, 'chat', 0)"
            ),
            {"t": True, "f": False},
        )
        await conn.execute(
            text(
                "INSERT INTO subscriptions (subscriber_id, campaign) VALUES"
                " (1, 'metallist'), (1, 'miners'), (2, 'miners'), (3, 'kazakhstan')"
            )
        )
    await engine.dispose()

    store = await open_store(database_url)
    try:
        told = await store.subscription("telegram", "told")
        assert told is not None and not told.everything
        assert told.campaigns == {"metallist", "miners"}
        news = await store.subscription("telegram", "@news")
        assert news is not None and news.everything and not news.excluded
        listed = await store.subscription("telegram", "list")
        assert listed is not None and listed.campaigns == {"kazakhstan"}
        assert await store.audience(["kazakhstan"], ["telegram"]) == {None: 3}
        assert await store.audience(["miners"], ["telegram"]) == {None: 3}
    finally:
        await store.close()
