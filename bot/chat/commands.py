"""Commands: parse what a chat typed and answer it, the same on every platform.

Answers read the catalog and the store; changes to what a chat receives go
through the store. Every input gets a short, helpful answer: an unknown
command, an unknown campaign or an absurd argument never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.adapters.base import Incoming, Outgoing
from bot.chat import answers
from bot.clock import Clock
from bot.content.catalog import Catalog
from bot.content.items import Item
from bot.i18n import Texts, spoken, texts
from bot.store import Store, Subscription

log = logging.getLogger(__name__)

MAX_ARGS = 10
MAX_ARG_LENGTH = 64
MANAGING = {"start", "subscribe", "unsubscribe", "stop", "forget"}


@dataclass(frozen=True)
class Parsed:
    name: str
    args: tuple[str, ...]


def parse(text: str) -> Parsed | None:
    """`/address metallist` → Parsed('address', ('metallist',)); None if not a command."""
    stripped = text.strip()
    if not stripped.startswith(("/", "!")) or len(stripped) < 2:
        return None
    head, *args = stripped[1:].split()
    name = head.split("@", 1)[0].lower()
    return Parsed(name, tuple(args))


StatusSource = Callable[[Texts], Awaitable[str]]


@dataclass(frozen=True)
class Asked:
    """A command to answer: the message, its arguments, what the chat receives
    (as it was when the command came), the reader's language."""

    msg: Incoming
    args: tuple[str, ...]
    sub: Subscription | None
    lang: str
    t: Texts


Extra = Callable[["Asked"], Awaitable[list[Outgoing]]]


class Commands:
    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        clock: Clock,
        *,
        default_lang: str,
        status: StatusSource,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.clock = clock
        self.default_lang = default_lang
        self.status = status
        self.extra: dict[str, Extra] = {}

    def now(self) -> datetime:
        return self.clock.now()

    async def _reader(self, msg: Incoming) -> tuple[Subscription | None, str, Texts]:
        """The chat's subscription and language: chosen with /language, else the
        person's client language (Telegram tells it) if the bot speaks it, else
        the config's."""
        sub = await self.store.subscription(msg.platform, msg.chat_id)
        lang = (sub.language if sub else None) or spoken(msg.language) or self.default_lang
        return sub, lang, texts(lang)

    async def handle(self, msg: Incoming) -> list[Outgoing]:
        """Answer one message; never raises for anything a person can type."""
        sub, lang, t = await self._reader(msg)
        parsed = parse(msg.text)
        if parsed is None:
            return [Outgoing(answers.not_a_command(t))] if msg.chat_kind == "private" else []
        if len(parsed.args) > MAX_ARGS or any(len(a) > MAX_ARG_LENGTH for a in parsed.args):
            return [Outgoing(answers.too_long(t, parsed.name))]
        handler = getattr(self, f"cmd_{parsed.name}", None)
        extra = self.extra.get(parsed.name)
        if handler is None and extra is None:
            return [Outgoing(answers.unknown_command(t, parsed.name))]
        if parsed.name in MANAGING and not msg.may_manage:
            return [Outgoing(answers.needs_admin(t, msg.platform))]
        log.info("command platform=%s name=%s", msg.platform, parsed.name)
        asked = Asked(msg, parsed.args, sub, lang, t)
        if extra is not None:
            return await extra(asked)
        assert handler is not None
        result: list[Outgoing] = await handler(asked)
        return result

    def _unknown_campaigns(self, names: tuple[str, ...]) -> list[str]:
        known = set(self.catalog.campaigns())
        return [n for n in names if n.lower() not in known]

    async def cmd_start(self, q: Asked) -> list[Outgoing]:
        msg, t = q.msg, q.t
        await self.store.subscribe(msg.platform, msg.chat_id, None, self.now().timestamp())
        sub = await self.store.subscription(msg.platform, msg.chat_id)
        if sub is not None and sub.language is None and q.lang != self.default_lang:
            await self.store.set_language(msg.platform, msg.chat_id, q.lang)
        now = self.now()
        latest = [i.in_language(q.lang) for i in self.catalog.latest_news(now, limit=1)]
        appeals = [i.in_language(q.lang) for i in self.catalog.active_appeals(now.date(), now)]
        return [Outgoing(answers.welcome(t, latest[0] if latest else None, appeals))]

    async def cmd_subscribe(self, q: Asked) -> list[Outgoing]:
        if not q.args:
            return await self.cmd_start(q)
        unknown = self._unknown_campaigns(q.args)
        if unknown:
            return [Outgoing(answers.unknown_campaigns(q.t, unknown, self.catalog.campaigns()))]
        names = [a.lower() for a in q.args]
        await self.store.subscribe(q.msg.platform, q.msg.chat_id, names, self.now().timestamp())
        return [Outgoing(answers.subscribed(q.t, names))]

    async def cmd_unsubscribe(self, q: Asked) -> list[Outgoing]:
        msg, t = q.msg, q.t
        if not q.args:
            return await self.cmd_stop(q)
        unknown = self._unknown_campaigns(q.args)
        if unknown:
            return [Outgoing(answers.unknown_campaigns(t, unknown, self.catalog.campaigns()))]
        names = [a.lower() for a in q.args]
        sub = q.sub
        if sub is None or not sub.active:
            return [Outgoing(answers.not_subscribed(t))]
        if sub.everything:
            rest = [c for c in self.catalog.campaigns() if c not in names]
            await self.store.set_campaigns_from_everything(msg.platform, msg.chat_id, rest)
            if not rest:
                await self.store.stop(msg.platform, msg.chat_id)
        else:
            await self.store.unsubscribe(msg.platform, msg.chat_id, names)
        after = await self.store.subscription(msg.platform, msg.chat_id)
        following = sorted(after.campaigns) if after and after.active else []
        return [Outgoing(answers.unsubscribed(t, names, following))]

    async def cmd_stop(self, q: Asked) -> list[Outgoing]:
        await self.store.stop(q.msg.platform, q.msg.chat_id)
        return [Outgoing(answers.stopped(q.t))]

    async def cmd_forget(self, q: Asked) -> list[Outgoing]:
        await self.store.forget(q.msg.platform, q.msg.chat_id)
        return [Outgoing(answers.forgotten(q.t))]

    async def cmd_latest(self, q: Asked) -> list[Outgoing]:
        items = [i.in_language(q.lang) for i in self.catalog.latest_news(self.now(), limit=3)]
        return [Outgoing(answers.latest(q.t, items))]

    def _appeals(self, lang: str) -> list[Item]:
        now = self.now()
        return [i.in_language(lang) for i in self.catalog.active_appeals(now.date(), now)]

    async def cmd_appeals(self, q: Asked) -> list[Outgoing]:
        return [Outgoing(answers.appeals(q.t, self._appeals(q.lang)))]

    async def cmd_address(self, q: Asked) -> list[Outgoing]:
        appeals = self._appeals(q.lang)
        if q.args:
            wanted = " ".join(q.args).lower()
            chosen = [a for a in appeals if a.id == wanted] or [
                a for a in appeals if a.id.startswith(wanted) or wanted in a.campaigns
            ]
            if not chosen:
                return [Outgoing(answers.no_such_appeal(q.t, " ".join(q.args), appeals))]
            appeals = chosen
        return [Outgoing(answers.addresses(q.t, appeals))]

    async def cmd_pickets(self, q: Asked) -> list[Outgoing]:
        pickets = [i.in_language(q.lang) for i in self.catalog.upcoming_pickets(self.now())]
        return [Outgoing(answers.pickets(q.t, pickets, self.now()))]

    async def cmd_campaigns(self, q: Asked) -> list[Outgoing]:
        return [Outgoing(answers.campaigns(q.t, self.catalog.campaigns(), q.sub))]

    async def cmd_language(self, q: Asked) -> list[Outgoing]:
        if not q.args:
            return [Outgoing(answers.languages(q.t, q.lang))]
        lang = q.args[0].lower()
        if len(q.args) != 1 or spoken(lang) != lang:
            return [Outgoing(answers.language_unknown(q.t, q.args[0]))]
        if q.sub is None:
            return [Outgoing(answers.not_subscribed(q.t))]
        await self.store.set_language(q.msg.platform, q.msg.chat_id, lang)
        return [Outgoing(answers.language_set(texts(lang)))]

    async def cmd_help(self, q: Asked) -> list[Outgoing]:
        return [Outgoing(answers.help_text(q.t))]

    async def cmd_status(self, q: Asked) -> list[Outgoing]:
        if not q.msg.is_bot_admin:
            return [Outgoing(answers.admins_only(q.t))]
        return [Outgoing(await self.status(q.t))]
