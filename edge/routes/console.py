"""GET /console: the web console's static files, with a strict Content-Security-Policy.

The files are few and small, so they are read once when the app is built and answered from
memory; only names found in edge/console/static are served (no path from the request ever
reaches the file system). The console talks to the REST API and nothing else, so the policy
allows scripts, styles and connections to this origin only, and no inline code at all.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # a fresh copy after an upgrade; the files are tiny and come from loopback or a near edge
    "Cache-Control": "no-cache",
}
TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}


def load_files(root: Traversable | None = None) -> dict[str, tuple[bytes, str]]:
    """Every servable file under static/ by its path there ("js/app.js"), with its media type."""
    found: dict[str, tuple[bytes, str]] = {}

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
                continue
            suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
            if suffix in TYPES:
                found[prefix + entry.name] = (entry.read_bytes(), TYPES[suffix])

    walk(root if root is not None else files("edge.console") / "static", "")
    return found


def handlers() -> list[HTTPRouteHandler]:
    """Fresh handlers per app: /console (the page) and /console/{file} (its scripts and styles)."""
    static = load_files()

    def answer(name: str) -> Response[bytes]:
        if name not in static:
            raise NotFoundException("no such file in the console")
        body, media_type = static[name]
        return Response(body, media_type=media_type, headers=HEADERS)

    async def page() -> Response[bytes]:
        """The console's one page; its views are chosen by the URL's #fragment."""
        return answer("index.html")

    async def asset(name: FromPath[str]) -> Response[bytes]:
        """A script, style sheet or image of the console."""
        return answer(name.lstrip("/") or "index.html")

    return [
        get("/console", include_in_schema=False, tags=["console"])(page),
        get("/console/{name:path}", include_in_schema=False, tags=["console"])(asset),
    ]
