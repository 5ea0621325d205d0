"""What the preview window shows over the picture and does with keys: the live controls and the
statistics of the running pipeline.

The window (`sinks.window`) is a plain sink that knows nothing of the pipeline; it asks an
object of this shape for its text and hands it the keys, so the dependency points downwards.
"""

from __future__ import annotations

from greenroom.pipeline.controls import LiveControls
from greenroom.pipeline.stats import PipelineStats


def stats_text(stats: PipelineStats) -> list[str]:
    """Frames/s, latency, drops and per-stage ms, as two short lines."""
    stages = "  ".join(f"{name} {s.percentile_ms(50):.1f}" for name, s in stats.stages.items())
    return [
        f"{stats.fps:.1f} fps  latency {stats.latency.percentile_ms(50):.0f} ms "
        f"(p95 {stats.latency.percentile_ms(95):.0f})  dropped {stats.total_dropped}",
        f"ms: {stages}",
    ]


class PreviewPanel:
    """The preview's hotkeys (`LiveControls`) and its text: the hotkey help, or the statistics
    and the controls' last message."""

    def __init__(self, controls: LiveControls, stats: PipelineStats) -> None:
        self.controls = controls
        self.stats = stats

    def handle_key(self, key: int) -> bool:
        """Act on one key; False when it asks to quit."""
        return self.controls.handle_key(key)

    def lines(self) -> list[str]:
        help_lines = self.controls.help_lines()  # `h` toggles it in the controls
        if help_lines:
            return ["hotkeys (h hides this)", *help_lines]
        lines = stats_text(self.stats) if self.controls.overlay else []
        if self.controls.message:
            lines.append(self.controls.message)
        return lines
