"""Commands: parse what a chat typed and answer it, the same on every platform.

Answers read the catalog and the store; changes to what a chat receives go
through the store. Every input gets a short, helpful answer: an unknown
command, an unknown campaign or an absurd argument never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.adapters.base import Incoming, Outgoing
from bot.chat import answers
from bot.chat.desk import Desk
from bot.chat.publishing import PublishingCommands
from bot.chat.table import Asked, Command, Who
from bot.clock import Clock
from bot.content.catalog import Catalog
from bot.content.items import Item
from bot.i18n import N_, Texts, spoken, texts
from bot.pickets.ics import calendar_message
from bot.store import Store, Subscription

log = logging.getLogger(__name__)

MAX_ARGS = 10
MAX_ARG_LENGTH = 64


@dataclass(frozen=True)
class Parsed:
    name: str
    args: tuple[str, ...]
    # The message's Markdown after the command word: what /post and /edit read.
    rest: str = ""


def parse(text: str, markdown: str | None = None) -> Parsed | None:
    """`/address metallist` → Parsed('address', ('metallist',)); None if not a command.

    Arguments are the words of the first line; `rest` is everything after the
    command word, from `markdown` when the adapter gave the message's Markdown.
    """
    stripped = text.strip()
    if not stripped.startswith(("/", "!")) or len(stripped) < 2:
        return None
    first_line = stripped.split("\n", 1)[0]
    head, *args = first_line[1:].split()
    name = head.split("@", 1)[0].lower()
    source = (markdown if markdown is not None else text).lstrip()
    # Leading newlines stay: they say on which line of the message the text starts.
    rest = source[len(source.split(None, 1)[0]) :].rstrip() if source else ""
    return Parsed(name, tuple(args), rest)


StatusSource = Callable[[Texts], Awaitable[str]]


class Commands(PublishingCommands):
    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        clock: Clock,
        *,
        default_lang: str,
        status: StatusSource,
        desk: Desk | None = None,
        follow: Sequence[str] | None = None,
    ) -> None:
        self.catalog = catalog
        # Channel-only mode: where to follow the campaign (None: subscriptions on).
        self.follow = None if follow is None else tuple(follow)
        self.store = store
        self.clock = clock
        self.default_lang = default_lang
        self.status = status
        self.desk = desk

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
        parsed = parse(msg.text, msg.markdown)
        if parsed is None:
            return [Outgoing(answers.not_a_command(t))] if msg.chat_kind == "private" else []
        command = BY_NAME.get(parsed.name)
        if command is None:
            return [Outgoing(answers.unknown_command(t, parsed.name))]
        if command.stores and self.follow is not None:
            welcome = command.name == "start"
            return [Outgoing(answers.channel_only(t, self.follow, welcome=welcome))]
        refused = refusal(command, msg, t)
        if refused is not None:
            return [Outgoing(refused)]
        # A command that takes text reads it whole (and checks its own id).
        words = () if command.takes_text else parsed.args
        if len(words) > MAX_ARGS or any(len(a) > MAX_ARG_LENGTH for a in words):
            return [Outgoing(answers.too_long(t, parsed.name))]
        log.info("command platform=%s name=%s", msg.platform, parsed.name)
        return await command.run(self, Asked(msg, parsed.args, sub, lang, t, parsed.rest))

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
        names = _named(q.args)
        await self.store.subscribe(q.msg.platform, q.msg.chat_id, names, self.now().timestamp())
        after = await self.store.subscription(q.msg.platform, q.msg.chat_id)
        return [Outgoing(answers.subscribed(q.t, names, after))]

    async def cmd_unsubscribe(self, q: Asked) -> list[Outgoing]:
        msg, t = q.msg, q.t
        if not q.args:
            return await self.cmd_stop(q)
        unknown = self._unknown_campaigns(q.args)
        if unknown:
            return [Outgoing(answers.unknown_campaigns(t, unknown, self.catalog.campaigns()))]
        if q.sub is None or not q.sub.active:
            return [Outgoing(answers.not_subscribed(t))]
        names = _named(q.args)
        await self.store.unsubscribe(
            msg.platform,
            msg.chat_id,
            names,
            self.now().timestamp(),
            known=self.catalog.campaigns(),
        )
        after = await self.store.subscription(msg.platform, msg.chat_id)
        return [Outgoing(answers.unsubscribed(t, names, after))]

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
        if not q.msg.may_manage:
            # A group's language is the group's admins' to choose, like what it receives.
            return [Outgoing(answers.language_needs_admin(q.t, q.msg.platform))]
        if q.sub is None:
            return [Outgoing(answers.not_subscribed(q.t))]
        await self.store.set_language(q.msg.platform, q.msg.chat_id, lang)
        return [Outgoing(answers.language_set(texts(lang)))]

    async def cmd_calendar(self, q: Asked) -> list[Outgoing]:
        return [calendar_message(self.catalog.items.values(), self.now(), q.t)]

    async def cmd_help(self, q: Asked) -> list[Outgoing]:
        channel_only = self.follow is not None
        return [Outgoing(answers.help_text(q.t, usable(q.msg, channel_only=channel_only)))]

    async def cmd_status(self, q: Asked) -> list[Outgoing]:
        return [Outgoing(await self.status(q.t))]


def _named(args: Sequence[str]) -> list[str]:
    """The campaigns a command names, lower-case, each once, in the order typed."""
    return list(dict.fromkeys(a.lower() for a in args))


def refusal(command: Command[Commands], msg: Incoming, t: Texts) -> str | None:
    """Why `msg`'s sender may not use `command` here, in words; None if they may."""
    if command.who is Who.MANAGERS and not msg.may_manage:
        return answers.needs_admin(t, msg.platform)
    if command.who is Who.ADMINS and not msg.is_bot_admin:
        return answers.admins_only(t, command.name)
    if command.private and msg.chat_kind != "private":
        return answers.private_only(t, command.name)
    return None


def _listed(command: Command[Commands], *, admin: bool, channel_only: bool) -> bool:
    """Whether /help and the menus show `command` (in channel-only mode, none
    that would store something, /start aside: it says where to follow)."""
    if command.who is Who.ADMINS and not admin:
        return False
    return not (channel_only and command.stores and command.name != "start")


def usable(msg: Incoming, *, channel_only: bool = False) -> list[Command[Commands]]:
    """The commands /help lists for this sender."""
    return [c for c in TABLE if _listed(c, admin=msg.is_bot_admin, channel_only=channel_only)]


def menus(*, channel_only: bool) -> Callable[..., list[tuple[str, str]]]:
    """What the App hands an adapter to set its command menus with: `menu`
    for this bot's mode (adapters do not import bot/chat)."""

    def entries(lang: str, *, admin: bool) -> list[tuple[str, str]]:
        return menu(lang, admin=admin, channel_only=channel_only)

    return entries


def menu(lang: str, *, admin: bool = False, channel_only: bool = False) -> list[tuple[str, str]]:
    """(name, one line) for a platform's command menu: everyone's, or an admin's."""
    t = texts(lang)
    return [
        (c.name, t._(c.does)) for c in TABLE if _listed(c, admin=admin, channel_only=channel_only)
    ]


C = Commands
# Every command, in the order /help and the menus list them.
TABLE: tuple[Command[Commands], ...] = (
    Command(
        "start", C.cmd_start, N_("subscribe this chat to every update"), Who.MANAGERS, stores=True
    ),
    Command(
        "subscribe",
        C.cmd_subscribe,
        N_("receive only these campaigns (none: everything)"),
        Who.MANAGERS,
        args=N_("[campaign…]"),
        stores=True,
    ),
    Command(
        "unsubscribe",
        C.cmd_unsubscribe,
        N_("stop these campaigns (none: stop everything)"),
        Who.MANAGERS,
        args=N_("[campaign…]"),
        stores=True,
    ),
    Command("stop", C.cmd_stop, N_("stop receiving updates"), Who.MANAGERS, stores=True),
    Command("latest", C.cmd_latest, N_("the last few updates")),
    Command("appeals", C.cmd_appeals, N_("active appeals")),
    Command(
        "address",
        C.cmd_address,
        N_("where to send messages, ready to copy"),
        args=N_("[appeal]"),
    ),
    Command("pickets", C.cmd_pickets, N_("upcoming pickets with local times")),
    Command("calendar", C.cmd_calendar, N_("the pickets as a calendar file")),
    Command("campaigns", C.cmd_campaigns, N_("the campaigns you can follow")),
    Command(
        "language",
        C.cmd_language,
        N_("the language of this bot and of the updates"),
        args=N_("[code]"),
        stores=True,
    ),
    Command(
        "forget",
        C.cmd_forget,
        N_("delete everything stored about this chat"),
        Who.MANAGERS,
        stores=True,
    ),
    Command("help", C.cmd_help, N_("this list")),
    Command("status", C.cmd_status, N_("subscribers, queue and problems"), Who.ADMINS),
    Command(
        "post",
        C.cmd_post,
        N_("draft an update: a title line, then the text (or an update file)"),
        Who.ADMINS,
        args=N_("text"),
        private=True,
        takes_text=True,
    ),
    Command(
        "edit",
        C.cmd_edit,
        N_("draft a correction of an update"),
        Who.ADMINS,
        args=N_("ID text"),
        private=True,
        takes_text=True,
    ),
    Command(
        "withdraw",
        C.cmd_withdraw,
        N_("draft taking an update back from every chat"),
        Who.ADMINS,
        args=N_("ID [reason]"),
        private=True,
        takes_text=True,
    ),
    Command(
        "publish",
        C.cmd_publish,
        N_("make your draft take effect"),
        Who.ADMINS,
        args=N_("[draft]"),
        private=True,
    ),
    Command(
        "approve",
        C.cmd_approve,
        N_("approve another admin's draft"),
        Who.ADMINS,
        args=N_("draft"),
        private=True,
    ),
    Command(
        "cancel", C.cmd_cancel, N_("drop a draft"), Who.ADMINS, args=N_("[draft]"), private=True
    ),
    Command("drafts", C.cmd_drafts, N_("open drafts"), Who.ADMINS, private=True),
    Command("items", C.cmd_items, N_("recent updates with their ids"), Who.ADMINS, private=True),
    Command(
        "halt",
        C.cmd_halt,
        N_("stop a broadcast under way"),
        Who.ADMINS,
        args=N_("ID"),
        private=True,
    ),
)
BY_NAME = {c.name: c for c in TABLE}
