"""The console's static page (HTML, CSS, JavaScript), served to anyone: everything it shows
is fetched afterwards through the authenticated APIs."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"
TYPES = {"index.html": "text/html", "console.js": "text/javascript", "console.css": "text/css"}


async def page(request: web.Request) -> web.Response:
    name = request.match_info.get("file") or "index.html"
    if name not in TYPES:
        raise web.HTTPNotFound()
    text = (STATIC / name).read_text()
    return web.Response(
        text=text,
        content_type=TYPES[name],
        headers={"Content-Security-Policy": "default-src 'self'; img-src 'self' blob:"},
    )


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/console", redirect),
        web.get("/console/", page),
        web.get("/console/{file}", page),
    ]
