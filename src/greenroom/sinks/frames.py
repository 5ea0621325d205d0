"""Turning an effect's output into the 3-channel RGB picture that displays and cameras take."""

from __future__ import annotations

import cv2
import numpy as np

from greenroom.frames import I420


def to_rgb(image: np.ndarray | I420) -> np.ndarray:
    """RGB as is; yuv420p converted; a grayscale matte as gray RGB; RGBA over black (cameras
    have no alpha)."""
    if isinstance(image, I420):
        return image.rgb()
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        alpha = image[:, :, 3].astype(np.float32) * np.float32(1 / 255)
        return cv2.blendLinear(
            np.ascontiguousarray(image[:, :, :3]), np.zeros_like(image[:, :, :3]), alpha, 1 - alpha
        )
    return image
