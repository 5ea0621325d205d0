"""Participants and rooms.

A `Session` is one browser (or Python client): its peer connection, its processed video, its
receive slots and its control channel. It has two random names: `id`, public, which the other
members of its room see, and `token`, a secret that only its own page receives and that alone
authorises changes to it (an id that peers learn must never be a capability). A `Room` joins
sessions: one `MediaRelay` per room fans each participant's processed track out to its own self
view and to a slot of every other participant (the server relays, peers never connect to each
other). A participant who leaves or reloads empties the slots showing them; the others carry on
untouched. A place in a room is reserved before negotiation starts, so simultaneous offers can
never fill a room beyond its capacity or end up in different `Room` objects of the same name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaRelay

from greenroom.web.tracks import ProcessedTrack, SlotTrack

log = logging.getLogger(__name__)

#: Most participants in one room.
MAX_ROOM = 6
#: Seconds between statistics messages to a page.
STATS_INTERVAL = 0.5


class RoomFull(Exception):
    pass


class Session:
    """One connected client."""

    def __init__(
        self, pc: RTCPeerConnection, room: Room, name: str = "", address: str = ""
    ) -> None:
        #: Public: shown to the other members of the room.
        self.id = secrets.token_urlsafe(12)
        #: Secret: handed to this session's own page only; required to change or close it.
        self.token = secrets.token_urlsafe(24)
        #: The client's network address (limits are counted per address).
        self.address = address
        #: When the offer arrived (monotonic); a session that never connects is dropped.
        self.created = time.monotonic()
        #: Whether the peer connection has ever reached "connected", and when it first did
        #: (monotonic): a session's idle time counts from then, not from a slow handshake.
        self.connected = False
        self.connected_at = self.created
        #: When the last background upload was accepted (monotonic), for the rate limit.
        self.last_upload = -float("inf")
        self.uploading = False
        self.pc = pc
        self.room = room
        self.name = name or f"guest-{self.id[:4]}"
        self.processed: ProcessedTrack | None = None
        self.self_view: Any = None
        self.slots: list[SlotTrack] = []
        self.channel: Any = None
        #: An uploaded background, decoded, kept in memory for this session only.
        self.upload: np.ndarray | None = None
        self.effect_spec: object = None
        self.closed = False
        self._closing: asyncio.Future[None] | None = None
        self._stats_task: asyncio.Task[None] | None = None
        self.on_closed: Callable[[Session], None] | None = None

    def authorises(self, token: str | None) -> bool:
        """Whether `token` is this session's secret (compared in constant time)."""
        return token is not None and secrets.compare_digest(token, self.token)

    # -- media -----------------------------------------------------------------------------

    def publish(self, processed: ProcessedTrack) -> None:
        """Our processed video: relayed to our own self view and, later, to the others."""
        self.processed = processed
        self.self_view = self.room.relay.subscribe(processed, buffered=False)

    def free_slot(self) -> SlotTrack | None:
        return next((slot for slot in self.slots if slot.source is None), None)

    def slot_table(self) -> list[dict[str, object]]:
        table = []
        for slot in self.slots:
            owner = slot.owner if isinstance(slot.owner, Session) else None
            table.append(
                {
                    "mid": slot.mid,
                    "peer": owner.id if owner else None,
                    "name": owner.name if owner else None,
                }
            )
        return table

    # -- control channel ---------------------------------------------------------------------

    def send(self, message: dict[str, object]) -> None:
        channel = self.channel
        if channel is None or channel.readyState != "open" or self.closed:
            return
        with contextlib.suppress(Exception):  # a closing channel: nothing to tell anyone
            channel.send(json.dumps(message))

    def send_peers(self) -> None:
        self.send({"type": "peers", "room": self.room.name, "slots": self.slot_table()})

    def start_stats(self) -> None:
        if self._stats_task is None and not self.closed:
            self._stats_task = asyncio.ensure_future(self._report_stats())

    async def _report_stats(self) -> None:
        while not self.closed:
            await asyncio.sleep(STATS_INTERVAL)
            if self.processed is not None:
                stats = self.processed.stats()
                if self.processed.error:
                    stats["error"] = self.processed.error
                self.send({"type": "stats", **stats})

    # -- life cycle -----------------------------------------------------------------------------

    async def close(self) -> None:
        """Leave the room and release everything; safe to call many times, from anywhere."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        self.closed = True
        try:
            self.room.leave(self)
            if self._stats_task is not None:
                self._stats_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._stats_task
            for slot in self.slots:
                slot.stop()
            if self.self_view is not None:
                self.self_view.stop()
            if self.processed is not None:
                await self.processed.aclose()
            await self.pc.close()
        except Exception:  # noqa: BLE001 - closing must always finish
            log.exception("error while closing session %s", self.id)
        finally:
            if self.on_closed is not None:
                self.on_closed(self)


class Room:
    """Sessions that see each other's processed video. `name` None: a private session."""

    def __init__(self, name: str | None, capacity: int = MAX_ROOM) -> None:
        self.name = name
        self.capacity = capacity if name is not None else 1
        self.relay = MediaRelay()
        self.members: dict[str, Session] = {}
        #: Places promised to offers still negotiating.
        self.reserved = 0

    def __len__(self) -> int:
        return len(self.members)

    @property
    def empty(self) -> bool:
        return not self.members and not self.reserved

    def reserve(self) -> None:
        """Promise a place to an offer before it negotiates (no await between check and take)."""
        if len(self.members) + self.reserved >= self.capacity:
            raise RoomFull(f"room {self.name} is full ({self.capacity} participants)")
        self.reserved += 1

    def release(self) -> None:
        """Give back a reservation whose offer failed."""
        self.reserved = max(0, self.reserved - 1)

    def join(self, session: Session) -> None:
        """Take the reserved place; show the newcomer to everyone, and everyone to the newcomer."""
        self.release()
        self.members[session.id] = session
        for other in self.members.values():
            if other is session:
                continue
            self._show(session, to=other)
            self._show(other, to=session)
            other.send_peers()
        session.send_peers()

    def _show(self, publisher: Session, to: Session) -> None:
        if publisher.processed is None or to.closed:
            return
        slot = to.free_slot()
        if slot is not None:
            slot.attach(self.relay.subscribe(publisher.processed, buffered=False), publisher)

    def leave(self, session: Session) -> None:
        if self.members.pop(session.id, None) is None:
            return
        for other in self.members.values():
            for slot in other.slots:
                if slot.owner is session:
                    slot.attach(None)
            # someone who had no free slot may now see a member they could not before
            for member in self.members.values():
                if member is not other and all(s.owner is not member for s in other.slots):
                    self._show(member, to=other)
            other.send_peers()
