"""The statistics overlay drawn on preview frames (frames/s, latency, per-stage ms, drops)."""

from __future__ import annotations

import cv2
import numpy as np

from greenroom.pipeline.stats import PipelineStats


def stats_text(stats: PipelineStats) -> list[str]:
    stages = "  ".join(f"{name} {s.percentile_ms(50):.1f}" for name, s in stats.stages.items())
    return [
        f"{stats.fps:.1f} fps  latency {stats.latency.percentile_ms(50):.0f} ms "
        f"(p95 {stats.latency.percentile_ms(95):.0f})  dropped {stats.total_dropped}",
        f"ms: {stages}",
    ]


def draw_lines(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """Write lines of text at the top left, white on a dark band, scaled to the frame."""
    out = image.copy()
    scale = max(0.4, image.shape[0] / 1080)
    height = int(28 * scale)
    for row, line in enumerate(lines):
        y = height * (row + 1)
        cv2.rectangle(out, (0, y - height + 4), (int(12 * scale * len(line)), y + 6), (0, 0, 0), -1)
        cv2.putText(out, line, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale, (255, 255, 255),
                    max(1, int(2 * scale)), cv2.LINE_AA)
    return out
