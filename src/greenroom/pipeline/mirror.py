"""Mirroring a live picture, switchable while it runs (`--mirror`, the preview's `x` key).

People expect to see themselves as in a mirror; cameras send the unmirrored view. The flip is
applied to the captured frame, before segmentation, so the model, the effect and every output
(virtual camera, window, recording) see the same picture.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import cv2
import numpy as np

from greenroom.frames import I420, Frame


class Mirror:
    """A left-right flip of the frames passing through `frames()`, on while `enabled`."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled

    def toggle(self) -> bool:
        """Switch mirroring; returns the new state. Takes effect from the next frame."""
        self.enabled = not self.enabled
        return self.enabled

    def frames(self, source: Iterable[Frame]) -> Iterator[Frame]:
        """`source`'s frames, each flipped while mirroring is on."""
        for item in source:
            if self.enabled:
                image = item.image
                item.image = (image.map_planes(_flip) if isinstance(image, I420)
                              else _flip(image))
            yield item


def _flip(image: np.ndarray) -> np.ndarray:
    return cv2.flip(image, 1)
