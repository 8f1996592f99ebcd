"""The web face: the campaign's updates, appeals and pickets as plain pages, an
Atom feed and the pickets calendar, for readers without (or blocked from) a
messenger; `/healthz` and `/metrics` for operators.

One module per job: `markup` (Markdown → safe HTML), `pages` (what a page
shows, rendered by the Jinja2 templates), `feed` (Atom, by feedgen), `site`
(every public file by name: what the server serves and `strikewire site`
writes, through the same functions), `health` and `metrics` (operators),
`server` (the aiohttp server: routes, languages, headers, error pages).
Nothing here reads or shows a subscriber.
"""
