"""How much one server, and one client address, may take: places, lifetimes, uploads, video size.

Every session costs a model run per frame on the CPU, so places are counted before any work is
done: `Admission.take` runs as soon as an offer passes validation, before negotiation, and the
place is held until the session closes. Places are counted globally and per client address, so
one machine on the network cannot take them all. Offers that never connect and sessions that stop
sending video are dropped after `connect_timeout` and `idle_timeout` seconds, so a client that
walks away (or never meant to connect) cannot hold a place for long.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

from greenroom.web.signalling import BadRequest


@dataclass(frozen=True)
class Limits:
    """The server's limits; the defaults suit a laptop serving a few people."""

    #: Most sessions served at once, negotiating ones included (each runs a model on the CPU).
    sessions: int = 16
    #: Most sessions from one client address.
    per_address: int = 6
    #: Seconds an answered offer may take to connect before it is dropped.
    connect_timeout: float = 20.0
    #: Seconds a session may go without receiving a camera frame before it is dropped.
    idle_timeout: float = 60.0
    #: Seconds between two background uploads of one session.
    upload_interval: float = 1.0
    #: Most background uploads being received or decoded at once, server-wide (one: the
    #: decoder's rest after each upload then always comes before the next).
    uploads_queued: int = 1
    #: Incoming video larger than this (width, height; either orientation) is scaled down to fit
    #: before processing: the model's input is small, and a 4K camera would cost ~1 GB a session.
    video: tuple[int, int] = (1280, 720)


class Admission:
    """Places held on the server, per client address; taken before negotiation."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.by_address: collections.Counter[str] = collections.Counter()

    @property
    def total(self) -> int:
        return sum(self.by_address.values())

    def take(self, address: str) -> None:
        """Take a place for `address`, or refuse: 503 when the server is full, 429 if the
        address holds too many."""
        if self.total >= self.limits.sessions:
            raise BadRequest(
                f"the server is full ({self.limits.sessions} sessions at once): try again later",
                status=503,
            )
        if self.by_address[address] >= self.limits.per_address:
            raise BadRequest(
                f"too many sessions from your address ({self.limits.per_address} at once)",
                status=429,
            )
        self.by_address[address] += 1

    def give_back(self, address: str) -> None:
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]


def fit(width: int, height: int, bound: tuple[int, int]) -> tuple[int, int]:
    """(width, height) scaled down, aspect kept, to fit `bound` in either orientation; even sizes.

    A portrait 720x1280 camera fits a (1280, 720) bound as it is: the bound limits the long and the
    short side, not the width and the height.
    """
    long_side, short_side = max(bound), min(bound)
    scale = min(1.0, long_side / max(width, height), short_side / min(width, height))
    if scale >= 1.0:
        return width, height
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
