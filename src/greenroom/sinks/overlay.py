"""Text drawn over preview frames: statistics, the last change, the hotkey list.

The frame is drawn at its own size and the window scales it, so text sized in frame pixels
would shrink with a large frame shown in a small window. The size is therefore chosen for the
window: `text_scale` makes a line about `LINE_PIXELS` tall on screen, whatever the frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from greenroom.pipeline.stats import PipelineStats

#: Height of one line of text as it appears in the window, in screen pixels.
LINE_PIXELS = 26
FONT = cv2.FONT_HERSHEY_SIMPLEX


def stats_text(stats: PipelineStats) -> list[str]:
    stages = "  ".join(f"{name} {s.percentile_ms(50):.1f}" for name, s in stats.stages.items())
    return [
        f"{stats.fps:.1f} fps  latency {stats.latency.percentile_ms(50):.0f} ms "
        f"(p95 {stats.latency.percentile_ms(95):.0f})  dropped {stats.total_dropped}",
        f"ms: {stages}",
    ]


def text_scale(frame_height: int, shown_height: int | None = None) -> float:
    """Frame pixels per screen pixel, for a frame `frame_height` tall shown `shown_height` tall."""
    return frame_height / shown_height if shown_height else 1.0


def draw_lines(image: np.ndarray, lines: list[str], scale: float = 1.0) -> np.ndarray:
    """Write lines at the top left, white on a dark band, each about `LINE_PIXELS * scale` tall.

    `scale` is `text_scale(...)`: how many frame pixels make one screen pixel.
    """
    out = image.copy()
    line = max(8, round(LINE_PIXELS * scale))
    font_scale = line / 40  # HERSHEY_SIMPLEX at scale 1 is about 30 px of glyph, 40 with gaps
    thickness = max(1, round(line / 14))
    for row, text in enumerate(lines):
        (width, _), _ = cv2.getTextSize(text, FONT, font_scale, thickness)
        top = row * line
        cv2.rectangle(out, (0, top), (width + line // 2, top + line), (0, 0, 0), -1)
        cv2.putText(out, text, (line // 4, top + round(line * 0.75)), FONT, font_scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
    return out
