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

from bot import answers
from bot.adapters.base import Incoming, Outgoing
from bot.catalog import Catalog
from bot.clock import Clock
from bot.items import LANG
from bot.render import escape_markdown
from bot.store import Store

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


StatusSource = Callable[[], Awaitable[str]]
Extra = Callable[[Incoming, tuple[str, ...]], Awaitable[list[Outgoing]]]


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

    async def handle(self, msg: Incoming) -> list[Outgoing]:
        """Answer one message; never raises for anything a person can type."""
        parsed = parse(msg.text)
        if parsed is None:
            return [Outgoing(answers.not_a_command())] if msg.chat_kind == "private" else []
        if len(parsed.args) > MAX_ARGS or any(len(a) > MAX_ARG_LENGTH for a in parsed.args):
            return [Outgoing(answers.too_long(parsed.name))]
        handler = getattr(self, f"cmd_{parsed.name}", None)
        extra = self.extra.get(parsed.name)
        if handler is None and extra is None:
            return [Outgoing(answers.unknown_command(parsed.name))]
        if parsed.name in MANAGING and not msg.may_manage:
            return [Outgoing(answers.needs_admin(msg.platform))]
        log.info("command platform=%s name=%s", msg.platform, parsed.name)
        if extra is not None:
            return await extra(msg, parsed.args)
        assert handler is not None
        result: list[Outgoing] = await handler(msg, parsed.args)
        return result

    def _unknown_campaigns(self, names: tuple[str, ...]) -> list[str]:
        known = set(self.catalog.campaigns())
        return [n for n in names if n.lower() not in known]

    async def cmd_start(self, msg: Incoming, args: tuple[str, ...]) -> list[Outgoing]:
        await self.store.subscribe(msg.platform, msg.chat_id, None, self.now().timestamp())
        now = self.now()
        latest = self.catalog.latest_news(now, limit=1)
        appeals = self.catalog.active_appeals(now.date(), now)
        return [Outgoing(answers.welcome(latest[0] if latest else None, appeals))]

    async def cmd_subscribe(self, msg: Incoming, args: tuple[str, ...]) -> list[Outgoing]:
        if not args:
            return await self.cmd_start(msg, args)
        unknown = self._unknown_campaigns(args)
        if unknown:
            return [Outgoing(answers.unknown_campaigns(unknown, self.catalog.campaigns()))]
        names = [a.lower() for a in args]
        await self.store.subscribe(msg.platform, msg.chat_id, names, self.now().timestamp())
        return [Outgoing(answers.subscribed(names))]

    async def cmd_unsubscribe(self, msg: Incoming, args: tuple[str, ...]) -> list[Outgoing]:
        if not args:
            return await self.cmd_stop(msg, args)
        unknown = self._unknown_campaigns(args)
        if unknown:
            return [Outgoing(answers.unknown_campaigns(unknown, self.catalog.campaigns()))]
        names = [a.lower() for a in args]
        sub = await self.store.subscription(msg.platform, msg.chat_id)
        if sub is None or not sub.active:
            return [Outgoing(answers.not_subscribed())]
        if sub.everything:
            rest = [c for c in self.catalog.campaigns() if c not in names]
            await self.store.set_campaigns_from_everything(msg.platform, msg.chat_id, rest)
            if not rest:
                await self.store.stop(msg.platform, msg.chat_id)
        else:
            await self.store.unsubscribe(msg.platform, msg.chat_id, names)
        after = await self.store.subscription(msg.platform, msg.chat_id)
        following = sorted(after.campaigns) if after and after.active else []
        return [Outgoing(answers.unsubscribed(names, following))]

    async def cmd_stop(self, msg: Incoming, args: tuple[str, ...]) -> list[Outgoing]:
        await self.store.stop(msg.platform, msg.chat_id)
        return [Outgoing(answers.stopped())]

    async def cmd_forget(self, msg: Incoming, args: tuple[str, ...]) -> list[Outgoing]:
        await self.store.forget(msg.platform, msg.chat_id)
        return [Outgoing(answers.forgotten())]

    async def _lang(self, msg: Incoming) -> str | None:
        sub = await self.store.subscription(msg.platform, msg.chat_id)
        return sub.language if sub else None

    async def cmd_latest(self, msg: Incoming, args: tuple[str, ...]) -> list[Outgoing]:
        lang = await self._lang(msg)
        items = [i.in_language(lang) for i in self.catalog.latest_news(self.now(), limit=3)]
        return [Outgoing(answers.latest(items))]

    async def cmd_appeals(self, msg: Incoming, args: tuple[str, ...]) -> list[Outgoing]:
        lang = await self._lang(msg)
        now = self.now()
        appeals = [i.in_language(lang) for i in self.catalog.active_appeals(now.date(), now)]
        return [Outgoing(answers.appeals(appeals))]

    async def cmd_address(self, msg: Incoming, args: tuple[str, ...]) -> list[Outgoing]:
        lang = await self._lang(msg)
        now = self.now()
        appeals = [i.in_language(lang) for i in self.catalog.active_appeals(now.date(), now)]
        if args:
            wanted = " ".join(args).lower()
            chosen = [a for a in appeals if a.id == wanted] or [
                a for a in appeals if a.id.startswith(wanted) or wanted in a.campaigns
            ]
            if not chosen:
                return [Outgoing(answers.no_such_appeal(" ".join(args), appeals))]
            appeals = chosen
        return [Outgoing(answers.addresses(appeals))]

    async def cmd_pickets(self, msg: Incoming, args: tuple[str, ...]) -> list[Outgoing]:
        lang = await self._lang(msg)
        pickets = [i.in_language(lang) for i in self.catalog.upcoming_pickets(self.now())]
        return [Outgoing(answers.pickets(pickets, self.now()))]

    async def cmd_campaigns(self, msg: Incoming, args: tuple[str, ...]) -> list[Outgoing]:
        sub = await self.store.subscription(msg.platform, msg.chat_id)
        return [Outgoing(answers.campaigns(self.catalog.campaigns(), sub))]

    def _languages(self) -> list[str]:
        found = {self.default_lang} | {i.lang for i in self.catalog.items.values()}
        for item in self.catalog.items.values():
            found |= set(item.translations)
        return sorted(found)

    async def cmd_language(self, msg: Incoming, args: tuple[str, ...]) -> list[Outgoing]:
        languages = self._languages()
        if len(args) != 1 or not LANG.match(args[0].lower()):
            return [Outgoing(answers.language_usage(languages))]
        lang = args[0].lower()
        if lang not in languages:
            return [Outgoing(answers.language_unknown(lang, languages))]
        sub = await self.store.subscription(msg.platform, msg.chat_id)
        if sub is None:
            return [Outgoing(answers.not_subscribed())]
        await self.store.set_language(msg.platform, msg.chat_id, lang)
        return [
            Outgoing(
                f"Updates to this chat will be in **{escape_markdown(lang)}** "
                "where a translation exists."
            )
        ]

    async def cmd_help(self, msg: Incoming, args: tuple[str, ...]) -> list[Outgoing]:
        return [Outgoing(answers.help_text(sorted(self.extra)))]

    async def cmd_status(self, msg: Incoming, args: tuple[str, ...]) -> list[Outgoing]:
        if not msg.is_bot_admin:
            return [Outgoing(answers.admins_only())]
        return [Outgoing(await self.status())]
