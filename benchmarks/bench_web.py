"""`greenroom serve` under load: Python aiortc clients on 127.0.0.1, the astronaut as camera.

For a 640x480 and a 1280x720 synthetic camera (the astronaut photo scaled onto the frame, 30
frames/s) and 1 or 4 simultaneous clients, measures:

- frames/s delivered back: processed frames each client decoded, per second (mean over clients);
- server-side added latency: from a camera frame coming out of the server's decoder to its
  processed frame being handed to the encoder (median and p95 over all clients' frames);
- server ms per frame: worker time per frame (conversions, model, effect), median;
- dropped: share of camera frames replaced by a newer one before processing (newest wins).

Clients and server share one process, one event loop and the machine's cores, so the clients'
own encoding and decoding is part of the load. Prints a Markdown table and writes it to
docs/benchmarks-web.md.

    .venv/bin/python benchmarks/bench_web.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import aiohttp
import aiortc
import cv2
import numpy as np
from aiohttp import web
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from av import VideoFrame

from greenroom.pipeline.allocator import tune_allocator
from greenroom.pipeline.stats import Series
from greenroom.samples import astronaut
from greenroom.web import create_app
from greenroom.web.server import SERVER_KEY

SIZES = {"640x480": (640, 480), "1280x720": (1280, 720)}
CLIENTS = (1, 4)
EFFECT = {"effect": "blur", "strength": 15}


def camera_frame(width: int, height: int) -> np.ndarray:
    """The astronaut photo scaled to the frame's height, centred on a blurred copy of itself."""
    canvas = cv2.GaussianBlur(cv2.resize(astronaut(), (width, height)), (0, 0), 8)
    person = cv2.resize(astronaut(), (height, height), interpolation=cv2.INTER_AREA)
    x0 = (width - height) // 2
    canvas[:, x0 : x0 + height] = person
    return canvas


class PhotoTrack(VideoStreamTrack):
    def __init__(self, image: np.ndarray) -> None:
        super().__init__()
        self.image = image

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame.from_ndarray(self.image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class Client:
    def __init__(self, image: np.ndarray) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.createDataChannel("control")
        self.transceiver = self.pc.addTransceiver(PhotoTrack(image), direction="sendrecv")
        self.received = 0
        self.task: asyncio.Task[None] | None = None
        self.session = ""

    async def connect(self, http: aiohttp.ClientSession, base: str) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        body = {"sdp": self.pc.localDescription.sdp, "type": "offer", "effect": EFFECT}
        async with http.post(f"{base}/api/offer", json=body) as response:
            answer = await response.json()
            response.raise_for_status()
        self.session = answer["session"]
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        track = self.transceiver.receiver.track
        while True:
            await track.recv()
            self.received += 1

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.pc.close()


async def measure(size: str, clients: int, warmup: float, seconds: float) -> dict[str, float]:
    width, height = SIZES[size]
    image = camera_frame(width, height)
    app = create_app()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    server = app[SERVER_KEY]
    group = [Client(image) for _ in range(clients)]
    try:
        async with aiohttp.ClientSession() as http:
            for client in group:
                await client.connect(http, base)
            await asyncio.sleep(warmup)
            tracks = [server.sessions[c.session].processed for c in group]
            for track in tracks:
                track.latency, track.work = Series(), Series()
            ins = [t.frames_in for t in tracks]
            drops = [t.dropped for t in tracks]
            counts = [c.received for c in group]
            started = time.monotonic()
            await asyncio.sleep(seconds)
            elapsed = time.monotonic() - started
            delivered = [(c.received - n) / elapsed for c, n in zip(group, counts, strict=True)]
            latency = [s for t in tracks for s in t.latency.recent]
            work = [s for t in tracks for s in t.work.recent]
            frames_in = sum(t.frames_in - n for t, n in zip(tracks, ins, strict=True))
            dropped = sum(t.dropped - n for t, n in zip(tracks, drops, strict=True))
            sizes = {(t.width, t.height) for t in tracks}
            assert sizes == {(width, height)}, sizes
    finally:
        for client in group:
            await client.close()
        await runner.cleanup()
    return {
        "fps": statistics.mean(delivered),
        "fps_min": min(delivered),
        "in_fps": frames_in / elapsed / clients,
        "latency_median": float(np.percentile(latency, 50) * 1000),
        "latency_p95": float(np.percentile(latency, 95) * 1000),
        "work_median": float(np.percentile(work, 50) * 1000),
        "dropped": dropped / max(frames_in, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per row")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks-web.md"))
    args = parser.parse_args()
    tune_allocator()  # as `greenroom serve` runs
    load = "load average {:.2f} {:.2f} {:.2f} at the start".format(*os.getloadavg())

    rows = []
    for size in SIZES:
        for clients in CLIENTS:
            result = asyncio.run(measure(size, clients, args.warmup, args.seconds))
            rows.append((size, clients, result))
            print(size, clients, {k: round(v, 2) for k, v in result.items()}, file=sys.stderr)

    lines = [
        "# `greenroom serve` under load",
        "",
        f"Python aiortc clients on 127.0.0.1 sending the astronaut photo scaled to the camera size "
        f"at 30 frames/s, effect blur 15, model auto, {args.seconds:g} s measured after "
        f"{args.warmup:g} s warm-up per row. Machine: {platform.machine()} with "
        f"{os.cpu_count()} shared CPU cores, {load}; clients and server in one process on the same "
        f"cores (the clients' own VP8 encoding and decoding is part of the load); Python "
        f"{platform.python_version()}, aiortc {aiortc.__version__}, OpenCV {cv2.__version__}. "
        "Produced by `.venv/bin/python benchmarks/bench_web.py`.",
        "",
        "- *delivered*: processed frames/s each client decoded (mean, and the slowest client);",
        "- *added latency*: a camera frame leaving the server's decoder to its processed frame "
        "being handed to the encoder (encoding and the network not included);",
        "- *server ms*: worker time per frame (YUV->RGB, model, effect, RGB->YUV), median;",
        "- *dropped*: camera frames replaced by a newer one before processing (newest wins).",
        "",
        "| camera | clients | delivered fps (slowest) | added latency median ms | p95 ms "
        "| server ms/frame | dropped |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size, clients, r in rows:
        lines.append(
            f"| {size} | {clients} | {r['fps']:.1f} ({r['fps_min']:.1f}) "
            f"| {r['latency_median']:.1f} | {r['latency_p95']:.1f} | {r['work_median']:.1f} "
            f"| {100 * r['dropped']:.0f}% |"
        )
    table = "\n".join(lines) + "\n"
    print(table)
    args.output.write_text(table)


if __name__ == "__main__":
    main()
