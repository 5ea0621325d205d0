"""Participants and rooms.

A `Session` is one browser (or Python client): its peer connection, its processed video, its
receive slots and its control channel. A `Room` joins sessions: one `MediaRelay` per room fans
each participant's processed track out to its own self view and to a slot of every other
participant (the server relays, peers never connect to each other). A participant who leaves
or reloads empties the slots showing them; the others carry on untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
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

    def __init__(self, pc: RTCPeerConnection, room: Room, name: str = "") -> None:
        self.id = secrets.token_urlsafe(12)
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

    def __len__(self) -> int:
        return len(self.members)

    def reserve(self) -> None:
        if len(self.members) >= self.capacity:
            raise RoomFull(f"room {self.name} is full ({self.capacity} participants)")

    def join(self, session: Session) -> None:
        """Show the newcomer to everyone with a free slot, and everyone to the newcomer."""
        self.reserve()
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
