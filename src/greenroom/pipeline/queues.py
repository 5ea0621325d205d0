"""Bounded queues between pipeline stages, with the two policies the pipelines need.

Files must lose nothing and keep order, so a full queue makes the producer wait. Live sources must
never build up latency, so a full queue drops its *oldest* item to make room: the newest frame
always wins, and the number dropped is counted for the statistics.
"""

from __future__ import annotations

import collections
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Closed(Exception):
    """Raised by `get` once the queue is closed and empty."""


class FrameQueue(Generic[T]):
    """A bounded FIFO that either blocks (`drop_oldest=False`) or drops the oldest when full."""

    def __init__(self, maxsize: int = 2, drop_oldest: bool = False) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self.drop_oldest = drop_oldest
        self.dropped = 0
        self._items: collections.deque[T] = collections.deque()
        self._closed = False
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)

    def put(self, item: T) -> T | None:
        """Add an item; returns the item dropped to make room, if any.

        Putting into a closed queue silently discards the item: the consumer has gone.
        """
        with self._lock:
            if self._closed:
                return item
            dropped = None
            if len(self._items) >= self.maxsize:
                if self.drop_oldest:
                    dropped = self._items.popleft()
                    self.dropped += 1
                else:
                    while len(self._items) >= self.maxsize and not self._closed:
                        self._not_full.wait()
                    if self._closed:
                        return item
            self._items.append(item)
            self._not_empty.notify()
            return dropped

    def get(self, timeout: float | None = None) -> T:
        """Take the oldest item, waiting for one; raises `Closed` when closed and drained."""
        with self._lock:
            while not self._items:
                if self._closed:
                    raise Closed
                if not self._not_empty.wait(timeout):
                    raise TimeoutError
            item = self._items.popleft()
            self._not_full.notify()
            return item

    def close(self) -> None:
        """No more puts: consumers drain what is left, then see `Closed`; blocked puts return."""
        with self._lock:
            self._closed = True
            self._not_empty.notify_all()
            self._not_full.notify_all()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
