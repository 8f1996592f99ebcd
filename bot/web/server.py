"""The aiohttp server in the bot's process: routes, the reader's language,
security headers and error pages.

Public files (when `web.public` is true) come from `Site.render`, exactly what
`strikewire site` writes; `/`, `/u/<id>` and `/feed.xml` without a language
in the name take it from `?lang=` (and the pages from `Accept-Language`).
`/healthz` and `/metrics` are always served. Every response carries a
Content-Security-Policy that allows no script and nothing from elsewhere, and
no referrer; there is no access log (it would record readers' addresses). An
unknown address gets the 404 page, a failure the 500 page and one log line,
never a traceback; a request that cannot be parsed gets 400/405/414/431 and
one line without the client's address (bot/web/protocol.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from bot.adapters.base import Adapter
from bot.clock import Clock
from bot.config import WebConfig
from bot.content.catalog import Catalog
from bot.i18n import spoken
from bot.quiet_http import QuietRunner
from bot.store import Store
from bot.web import health, metrics
from bot.web.pages import suffix
from bot.web.site import HTML, Site

log = logging.getLogger(__name__)

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
PUBLIC_CACHE = "public, max-age=60"
MEDIA_CACHE = "public, max-age=31536000, immutable"
SERVER = "strikewire"  # not the versions of Python and aiohttp

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebStartError(Exception):
    """The server could not listen; str() is one line for the operator."""


def accepted(header: str | None) -> list[str]:
    """The bot's languages an `Accept-Language` header asks for, best first."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        lang = spoken(tag.strip())
        if lang is not None and quality > 0:
            ranked.append((-quality, position, lang))
    return [lang for _, _, lang in sorted(ranked)]


class WebServer:
    def __init__(
        self,
        config: WebConfig,
        site: Site,
        *,
        store: Store,
        catalog: Catalog,
        adapters: Sequence[Adapter],
        clock: Clock,
        metrics: metrics.Metrics,
    ) -> None:
        self.config = config
        self.site = site
        self.store = store
        self.catalog = catalog
        self.adapters = adapters
        self.clock = clock
        self.metrics = metrics
        self.port = config.port
        self._runner: web.AppRunner | None = None

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._errors])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        if self.config.public:
            app.router.add_get("/", self._public)
            app.router.add_get("/{name:[^/]+}", self._public)
            app.router.add_get("/u/{name:[^/]+}", self._public)
            app.router.add_get("/m/{name:[^/]+}", self._media)
        app.on_response_prepare.append(self._headers)
        return app

    async def start(self) -> None:
        runner = QuietRunner(self.application(), headers={**HEADERS, "Server": SERVER})
        await runner.setup()
        try:
            await web.TCPSite(runner, self.config.listen, self.config.port).start()
        except OSError as exc:
            await runner.cleanup()
            raise WebStartError(
                f"web: cannot listen on {self.config.listen}:{self.config.port} "
                f"({exc.strerror or exc}); change web.listen or web.port"
            ) from None
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])
        if self.config.base_url is None:  # the feed's links name the port really taken
            self.site.base_url = f"http://{self.config.listen}:{self.port}"
        log.info(
            "web started listen=%s port=%d public=%s", address[0], self.port, self.config.public
        )

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            log.info("web stopped")

    # Languages

    def _language(self, request: web.Request, *, negotiate: bool) -> str:
        """`?lang=`, else (pages) the best of `Accept-Language`, else the default."""
        asked = spoken(request.query.get("lang"))
        if asked is not None:
            return asked
        if negotiate:
            for lang in accepted(request.headers.get("Accept-Language")):
                return lang
        return self.site.default_lang

    def _file_name(self, request: web.Request) -> tuple[str, bool]:
        """The site file a public address means, and whether the language was negotiated."""
        path = request.path
        default = self.site.default_lang
        if path == "/":
            return f"index{suffix(self._language(request, negotiate=True), default)}.html", True
        name = path.lstrip("/")
        if name.startswith("u/") and "." not in name:
            return f"{name}{suffix(self._language(request, negotiate=True), default)}.html", True
        if name in ("index.html", "feed.xml") or (name.startswith("u/") and name.count(".") == 1):
            stem, ext = name.rsplit(".", 1)
            return f"{stem}{suffix(self._language(request, negotiate=False), default)}.{ext}", False
        return name, False

    # Handlers

    async def _public(self, request: web.Request) -> web.StreamResponse:
        name, negotiated = self._file_name(request)
        found = self.site.render(name, self.clock.now())
        if found is None:
            raise web.HTTPNotFound()
        response = web.Response(
            body=found.content,
            headers={"Content-Type": found.content_type, "Cache-Control": PUBLIC_CACHE},
        )
        if negotiated:
            response.headers["Vary"] = "Accept-Language"
        return response

    async def _media(self, request: web.Request) -> web.StreamResponse:
        """A stripped copy (bot/media), streamed from the cache folder, not read
        whole on the loop; named by its SHA-256, so it never changes."""
        media = self.site.media_file(request.path.lstrip("/"), self.clock.now())
        if media is None:
            raise web.HTTPNotFound()
        return web.FileResponse(
            media.path,
            headers={"Content-Type": media.mime, "Cache-Control": MEDIA_CACHE},
        )

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        problem = await health.health_problem(self.store, self.adapters)
        return web.Response(
            status=200 if problem is None else 503,
            text=(problem or "ok") + "\n",
            headers={"Cache-Control": "no-store"},
        )

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        try:
            await self.metrics.refresh(
                self.store,
                self.catalog,
                [a.platform for a in self.adapters],
                self.clock.now(),
            )
        except Exception as exc:
            # The counters are still worth having; the gauges would be stale.
            log.warning("metrics gauges not read error=%s", type(exc).__name__)
            self.metrics.forget_gauges()
        return web.Response(
            body=self.metrics.exposition(),
            headers={"Content-Type": metrics.CONTENT_TYPE, "Cache-Control": "no-store"},
        )

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The 404 page for anything unknown, the 500 page (and one line) for a failure."""
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return self._error_page(request, 404)
        except web.HTTPException:
            raise
        except Exception as exc:
            log.error("web request failed error=%s", type(exc).__name__)
            return self._error_page(request, 500)

    def _error_page(self, request: web.Request, status: int) -> web.Response:
        lang = self._language(request, negotiate=True)
        try:
            body = self.site.not_found(lang) if status == 404 else self.site.error(lang)
        except Exception as exc:  # even the error page failed: one line of text
            log.error("web error page failed error=%s", type(exc).__name__)
            return web.Response(status=status, text=f"{status}\n")
        return web.Response(
            status=status, body=body, headers={"Content-Type": HTML, "Cache-Control": "no-store"}
        )

    @staticmethod
    async def _headers(request: web.Request, response: web.StreamResponse) -> None:
        for key, value in HEADERS.items():
            response.headers.setdefault(key, value)
        response.headers["Server"] = SERVER
