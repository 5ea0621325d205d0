"""Which local addresses the server's media (ICE) may use.

aiortc gathers a host candidate on every non-loopback interface (aioice's
`get_host_addresses`), so a server listening on 127.0.0.1 would still receive media on the LAN
addresses. aioice has no option for this, so `install()` wraps that one function once: inside a
`loopback_media()` block (set around a server's negotiation, and inherited by the tasks it starts)
the host candidates are 127.0.0.1 and ::1 alone; anywhere else aioice behaves as always.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

import aioice.ice

_LOOPBACK_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "greenroom_loopback_media", default=False
)
_original: Callable[[bool, bool], list[str]] | None = None


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    assert _original is not None
    if not _LOOPBACK_ONLY.get():
        return _original(use_ipv4, use_ipv6)
    return ["127.0.0.1"] if use_ipv4 else ["::1"] if use_ipv6 else []


def install() -> None:
    """Wrap aioice's address lookup (idempotent)."""
    global _original
    if _original is None:
        _original = aioice.ice.get_host_addresses
        aioice.ice.get_host_addresses = _host_addresses


@contextlib.contextmanager
def loopback_media(enabled: bool = True) -> Iterator[None]:
    """Within this block (and tasks started in it), ICE gathers loopback candidates only."""
    install()
    token = _LOOPBACK_ONLY.set(enabled)
    try:
        yield
    finally:
        _LOOPBACK_ONLY.reset(token)
