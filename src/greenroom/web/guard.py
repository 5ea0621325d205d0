"""The server answers its own page only: Host and Origin checks, content types, security headers.

A server on 127.0.0.1 is still reachable from any web page the user visits: the page's script
can POST to it (a "simple" cross-origin request needs no permission when it is `text/plain`), and
a DNS-rebinding page can even read the answers, since its own host name then points at 127.0.0.1.
So every request must name a host this server serves (`Host`: the loopback names, plus the names
and addresses the server was told it is reachable under), a browser request must come from a page
of that same host (`Origin`), and API posts must carry a content type that a foreign page cannot
send without a CORS preflight, which this server never grants. Non-browser clients (curl, Python)
send no Origin and are judged by Host alone.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from yarl import URL

from greenroom.web.signalling import BadRequest

#: Names every server answers to: a page on this computer.
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
#: Sent with every response, errors included.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
}


def host_name(value: str) -> str:
    """'Example.org:8080' -> 'example.org', '[::1]:80' -> '::1' (no port, lower case)."""
    value = value.strip().lower()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")


def local_names() -> set[str]:
    """This computer's names and interface addresses: what a LAN client may type in its browser."""
    import ifaddr  # aioice's own dependency

    names = {socket.gethostname(), socket.getfqdn()}
    names |= {f"{name.split('.')[0]}.local" for name in list(names)}
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            names.add(ip.ip if isinstance(ip.ip, str) else ip.ip[0])
    return {host_name(name) for name in names if name}


def served_hosts(bind: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host names the server answers to when listening on `bind`, plus `extra` (--allow-host)."""
    hosts = set(LOOPBACK_NAMES) | {host_name(name) for name in extra}
    if is_wildcard(bind):
        hosts |= local_names()
    else:
        hosts.add(host_name(bind))
    return frozenset(hosts)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guard(hosts: Iterable[str] = LOOPBACK_NAMES) -> Callable[[web.Request, Handler], Awaitable]:
    """Middleware refusing (403) a foreign Host, and a foreign Origin."""
    allowed = frozenset(host_name(name) for name in hosts)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = host_name(request.host or "")
        if host not in allowed and not host.endswith(".localhost"):
            raise BadRequest(
                f"host {host!r} is not served here (greenroom serve --allow-host NAME)", status=403
            )
        origin = request.headers.get("Origin")
        if origin is not None:
            url = URL(origin)
            if origin == "null" or not url.is_absolute() or url.raw_authority.lower() != (
                request.host or ""
            ).lower():
                raise BadRequest("cross-origin requests are refused", status=403)
        return await handler(request)

    return middleware


def require_type(request: web.Request, *accepted: str) -> None:
    """Refuse (415) a POST whose Content-Type is not one of `accepted` ('image/*' allowed)."""
    # aiohttp reports a missing header as application/octet-stream; a missing one is refused.
    kind = request.content_type.lower() if "Content-Type" in request.headers else ""
    for wanted in accepted:
        if kind == wanted or (wanted.endswith("/*") and kind.startswith(wanted[:-1])):
            return
    raise BadRequest(f"Content-Type must be {' or '.join(accepted)}, not {kind!r}", status=415)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare` hook: the security headers on every response, errors included."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
