"""A Python participant for the web server, for tests and benchmarks: aiortc's own peer
connection, a photo as its camera, the server on 127.0.0.1 in the same event loop.

Needs the `web` extra, like the server it talks to.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
import numpy as np
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from av import VideoFrame

from greenroom.web.server import SERVER_KEY, WebServer, create_app


class PhotoTrack(VideoStreamTrack):
    """A synthetic camera: the same picture at 30 frames/s."""

    def __init__(self, image: np.ndarray) -> None:
        super().__init__()
        self.image = image

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame.from_ndarray(self.image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


async def start_server(**options: object) -> tuple[web.AppRunner, str]:
    """The app of `create_app(**options)` on a free port of 127.0.0.1: (runner, base URL).

    `runner.app[SERVER_KEY]` is the `WebServer`; `await runner.cleanup()` stops it.
    """
    runner = web.AppRunner(create_app(**options))  # type: ignore[arg-type]
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def serving(**options: object) -> AsyncIterator[tuple[str, WebServer]]:
    """`start_server` as a context: (base URL, server), stopped at the end."""
    runner, base = await start_server(**options)
    try:
        yield base, runner.app[SERVER_KEY]
    finally:
        await runner.cleanup()


class Client:
    """A participant: its camera is a photo; it reads the videos the server sends.

    `slots` adds receive-only transceivers for other participants' videos (rooms);
    `count_frames()` reads its own processed video in the background, counting `received`.
    """

    def __init__(self, image: np.ndarray, slots: int = 0) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channel = self.pc.createDataChannel("control")
        self.messages: list[dict[str, object]] = []
        self.channel.on("message", lambda m: self.messages.append(json.loads(m)))
        self.camera = PhotoTrack(image)
        self.self_transceiver = self.pc.addTransceiver(self.camera, direction="sendrecv")
        self.slot_transceivers = [
            self.pc.addTransceiver("video", direction="recvonly") for _ in range(slots)
        ]
        self.answer: dict[str, object] = {}
        self.received = 0
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, http: aiohttp.ClientSession, base: str, **body: object) -> None:
        """Offer, read the answer (an AssertionError with the server's reply if refused)."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = {"sdp": self.pc.localDescription.sdp, "type": "offer", **body}
        async with http.post(f"{base}/api/offer", json=offer) as response:
            self.answer = await response.json()
            assert response.status == 200, self.answer
        await self.pc.setRemoteDescription(
            RTCSessionDescription(sdp=str(self.answer["sdp"]), type=str(self.answer["type"]))
        )

    @property
    def session(self) -> str:
        return str(self.answer["session"])

    @property
    def token(self) -> str:
        return str(self.answer["token"])

    @property
    def session_url(self) -> str:
        return f"/api/session/{self.session}"

    @property
    def auth(self) -> dict[str, str]:
        """Headers carrying this client's secret session token."""
        return {"Authorization": f"Bearer {self.answer['token']}"}

    async def open_channel(self) -> None:
        for _ in range(200):
            if self.channel.readyState == "open":
                return
            await asyncio.sleep(0.05)
        raise AssertionError("data channel never opened")

    def send(self, message: dict[str, object]) -> None:
        self.channel.send(json.dumps(message))

    async def frame(self, transceiver: object = None, timeout: float = 10.0) -> np.ndarray:
        track = (transceiver or self.self_transceiver).receiver.track  # type: ignore[attr-defined]
        frame = await asyncio.wait_for(track.recv(), timeout)
        return frame.to_ndarray(format="rgb24")

    def count_frames(self) -> None:
        """Read the processed video from now on, counting frames in `received`."""

        async def read() -> None:
            track = self.self_transceiver.receiver.track
            while True:
                await track.recv()
                self.received += 1

        self._reader = asyncio.ensure_future(read())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.pc.close()
