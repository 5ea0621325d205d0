"""Batch throughput: files one after another vs `greenroom batch` on 1 and 2 workers and on Ray.

The same set of short 720p clips (the shipped astronaut photo moving, with sound) is processed
four ways, each as a user runs it (the whole process, timed from outside):

- `greenroom video` on each file, one after another (what a user does without `batch`);
- `greenroom batch --workers 1` and `--workers 2` (the default layout on this machine);
- `greenroom batch --ray ADDRESS` on a two-node Ray cluster on this machine (loopback only),
  whose start-up is not counted; Ray's per-task overhead is measured with empty tasks.

Prints a table and writes it to docs/benchmarks-batch.md.

    python benchmarks/bench_batch.py [--clips 8] [--frames 90]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.clips import make_clip  # noqa: E402

GREENROOM = [sys.executable, "-m", "greenroom"]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def sequential(clips: list[Path], out: Path) -> float:
    out.mkdir()
    start = time.perf_counter()
    for clip in clips:
        timed([*GREENROOM, "video", str(clip), "-o", str(out / clip.name), "--no-progress"])
    return time.perf_counter() - start


def batch(folder: Path, out: Path, *extra: str) -> float:
    return timed([*GREENROOM, "batch", str(folder), "-o", str(out), "--no-progress", *extra])


def ray_overhead(address: str, tasks: int = 200) -> float:
    """Seconds of Ray scheduling per task, from empty tasks sent the way the batch sends files."""
    import ray

    ray.init(address=address, log_to_driver=False)

    @ray.remote(num_cpus=1)
    def nothing() -> None:
        return None

    ray.get([nothing.remote() for _ in range(4)])  # workers started
    start = time.perf_counter()
    for _ in range(tasks):
        ray.get(nothing.remote())
    seconds = (time.perf_counter() - start) / tasks
    ray.shutdown()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-batch.md")
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="greenroom-bench-batch-") as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        clips = [
            make_clip(folder / f"clip{i:02d}.mp4", frames=args.frames, width=1280, height=720).path
            for i in range(args.clips)
        ]
        frames = args.clips * args.frames
        rows = [("`greenroom video`, one file after another", sequential(clips, Path(tmp) / "s"))]
        rows.append(("`greenroom batch --workers 1`",
                     batch(folder, Path(tmp) / "b1", "--workers", "1")))
        rows.append(("`greenroom batch` (default layout: 2 workers x 1 thread here)",
                     batch(folder, Path(tmp) / "b2")))
        overhead = None
        if not args.no_ray:
            from greenroom.jobs.local_cluster import local_ray_cluster

            with local_ray_cluster(nodes=2) as cluster:
                rows.append(("`greenroom batch --ray` (2 local nodes x 1 CPU)",
                             batch(folder, Path(tmp) / "r", "--ray", cluster.address)))
                overhead = ray_overhead(cluster.address)
        shutil.rmtree(folder)
    base = rows[0][1]
    local = rows[2][1]
    lines = [
        f"{args.clips} clips of {args.frames} frames, 1280x720 H.264 with audio "
        f"({frames} frames); load average before: {load_before:.2f}",
        "",
        "| run | seconds | files/s | frames/s | vs one after another | vs local workers |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, seconds in rows:
        lines.append(
            f"| {name} | {seconds:.1f} | {args.clips / seconds:.2f} | {frames / seconds:.1f} | "
            f"{base / seconds:.2f}x | {local / seconds:.2f}x |"
        )
    if overhead is not None:
        lines += ["", f"Ray scheduling overhead per task (empty tasks, one at a time): "
                  f"{overhead * 1000:.1f} ms"]
    table = "\n".join(lines)
    print(table)
    args.out.write_text(
        "# Batch benchmark\n\nMade by `python benchmarks/bench_batch.py` on the project's 2-core "
        "machine; every run is the whole process, timed from outside, in one session.\n\n"
        + table + "\n"
    )


if __name__ == "__main__":
    main()
