"""The statistics shown on the preview window (frames/s, latency, per-stage ms, drops)."""

from __future__ import annotations

from greenroom.pipeline.stats import PipelineStats


def stats_text(stats: PipelineStats) -> list[str]:
    stages = "  ".join(f"{name} {s.percentile_ms(50):.1f}" for name, s in stats.stages.items())
    return [
        f"{stats.fps:.1f} fps  latency {stats.latency.percentile_ms(50):.0f} ms "
        f"(p95 {stats.latency.percentile_ms(95):.0f})  dropped {stats.total_dropped}",
        f"ms: {stages}",
    ]
