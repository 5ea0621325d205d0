"""`greenroom serve`: signalling and upload validation, and Python aiortc clients end to end.

Everything runs on 127.0.0.1 in one event loop: the aiohttp server from `create_app` and
aiortc's own RTCPeerConnection as the client, sending the astronaut photo as its camera.
"""

from __future__ import annotations

import asyncio
import gc
import io
import os
import threading
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("aiortc")
pytest.importorskip("aiohttp")

import aiohttp  # noqa: E402
from aiortc import (  # noqa: E402
    RTCPeerConnection,
)

from greenroom.compositing import Effect  # noqa: E402
from greenroom.pipeline import Processor  # noqa: E402
from greenroom.samples import astronaut  # noqa: E402
from greenroom.web.limits import Limits  # noqa: E402
from greenroom.web.server import WebServer  # noqa: E402
from greenroom.web.signalling import BadRequest, parse_control, parse_effect  # noqa: E402
from greenroom.web.testing import Client, serving  # noqa: E402
from greenroom.web.tracks import to_video_frame  # noqa: E402

GREEN = (0, 255, 0)
FACE = (slice(60, 130), slice(210, 260))  # rows, cols of the astronaut's face (512x512)
CORNER = (slice(0, 100), slice(420, 512))  # background, top right


def is_green(pixels: np.ndarray) -> bool:
    mean = pixels.reshape(-1, 3).mean(axis=0)
    return bool(mean[1] > 200 and mean[0] < 60 and mean[2] < 60)


async def wait_for(predicate, timeout: float = 10.0, step: float = 0.05) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(step)


async def green_frame(client: Client, transceiver: object = None) -> np.ndarray:
    """The first received frame whose corner is green (the effect change may take a frame)."""
    for _ in range(90):
        image = await client.frame(transceiver)
        if image.shape[:2] == (512, 512) and is_green(image[CORNER]):
            return image
    raise AssertionError("no frame with a green background arrived")


# -- validation, no media ---------------------------------------------------------------------


def test_control_messages_are_validated() -> None:
    assert parse_control('{"type": "effect", "effect": "color", "color": "#00ff00"}')[0] == "effect"
    assert parse_control('{"type": "model", "model": "selfie-general"}') == (
        "model",
        "selfie-general",
    )
    for bad in [
        b"not text",
        "not json",
        "[1, 2]",
        '{"type": "effect"}',
        '{"type": "effect", "effect": "blur", "strength": "a lot"}',
        '{"type": "effect", "effect": "blur", "strength": 1e999}',
        '{"type": "effect", "effect": "color", "color": "no such colour"}',
        '{"type": "effect", "effect": "image", "image": "../../etc/passwd"}',
        '{"type": "model", "model": "huge"}',
        '{"type": "nonsense"}',
        "x" * 100_000,
    ]:
        with pytest.raises(Exception) as info:
            parse_control(bad)
        assert type(info.value).__name__ == "BadRequest", bad
    assert parse_effect({"effect": "blur", "strength": 20}).strength == 20.0


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_bad_requests_get_json_errors_and_the_server_keeps_working() -> None:
    async def main() -> None:
        async with serving() as (base, server), aiohttp.ClientSession() as http:
            good_sdp = "v=0\r\n"
            cases: list[tuple[str, str, object, int]] = [
                ("/api/offer", "data", b"{not json", 400),
                ("/api/offer", "data", b"[]", 400),
                ("/api/offer", "json", {"type": "offer"}, 400),
                ("/api/offer", "json", {"sdp": 5, "type": "offer"}, 400),
                ("/api/offer", "json", {"sdp": good_sdp, "type": "answer"}, 400),
                ("/api/offer", "json", {"sdp": good_sdp, "type": ["offer"]}, 400),
                ("/api/offer", "json", {"sdp": "hello", "type": "offer"}, 400),
                ("/api/offer", "json", {"sdp": good_sdp, "type": "offer", "room": "a/b"}, 400),
                ("/api/offer", "json", {"sdp": good_sdp, "type": "offer", "room": "x" * 65}, 400),
                ("/api/offer", "json", {"sdp": good_sdp, "type": "offer", "room": 7}, 400),
                ("/api/offer", "json", {"sdp": good_sdp, "type": "offer", "model": "x"}, 400),
                (
                    "/api/offer",
                    "json",
                    {"sdp": good_sdp, "type": "offer", "effect": {"effect": "laser"}},
                    400,
                ),
                # a syntactically fine request whose SDP is garbage: aiortc refuses, we say 400
                ("/api/offer", "json", {"sdp": "v=0\r\nm=nonsense\r\n", "type": "offer"}, 400),
                ("/api/offer", "data", b"{" + b" " * 300_000 + b"}", 413),
                ("/api/session/nope/background", "data", png(4, 4), 404),
            ]
            for path, kind, body, status in cases:
                json_type = {"Content-Type": "application/json"}
                options = {"json": body} if kind == "json" else {"data": body, "headers": json_type}
                async with http.post(base + path, **options) as response:
                    assert response.status == status, (body, await response.text())
                    answer = await response.json()
                    assert isinstance(answer["error"], str) and answer["error"]
            for path, status in [("/room/bad%20name", 400), ("/static/../x", 404), ("/nope", 404)]:
                async with http.get(base + path) as response:
                    assert response.status == status
                    assert "error" in await response.json()
            async with http.get(base + "/room/team-1") as response:
                assert response.status == 200
                assert "<video" in await response.text()
            async with http.get(base + "/api/config") as response:
                config = await response.json()
                assert config["iceServers"] == []
                assert {g["id"] for g in config["gallery"]} >= {"rocket", "gradient"}
            for item in config["gallery"]:
                async with http.get(base + item["url"]) as response:
                    assert response.status == 200
                    assert (await response.read())[:2] == b"\xff\xd8"
            assert server.sessions == {} and server.pending == 0

    asyncio.run(main())


def test_page_offers_only_models_that_need_no_download(tmp_path) -> None:
    """An empty models folder: the page gets the built-in models only, and the others are refused
    (choosing one must never make the server fetch a file)."""

    async def main() -> None:
        async with serving(models_dir=tmp_path) as (base, server), aiohttp.ClientSession() as http:
            async with http.get(base + "/api/config") as response:
                config = await response.json()
            assert config["models"] == ["auto", "selfie-general", "selfie-landscape",
                                        "greenroom-selfie"]
            offer = {"sdp": "v=0\r\n", "type": "offer", "model": "meet-lite"}
            async with http.post(base + "/api/offer", json=offer) as response:
                assert response.status == 400
                assert "meet-lite" not in (await response.json())["error"].split("one of")[1]
            with pytest.raises(BadRequest):
                parse_control('{"type": "model", "model": "sinet"}', server.models)
            assert list(tmp_path.iterdir()) == []

    asyncio.run(main())


def bomb_png(side: int) -> bytes:
    """A tiny PNG (a few KB) whose header claims side x side pixels: a decompression bomb."""
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def test_uploads_are_checked_and_applied() -> None:
    async def main() -> None:
        async with (
            serving(limits=Limits(upload_interval=0)) as (base, server),
            aiohttp.ClientSession() as http,
        ):
            client = Client(astronaut())
            try:
                await client.connect(http, base, effect={"effect": "blur"})
                url = f"{base}{client.session_url}/background"
                bomb = bomb_png(20_000)
                assert len(bomb) < 200_000
                bad = [
                    (b"", 415),
                    (b"GIF89a but not really an image at all", 415),
                    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", 415),
                    (png(64, 64)[:60], 415),  # truncated
                    (bomb, 413),
                    (png(8001, 2), 413),
                    (b"\0" * (10 * 1024 * 1024 + 1), 413),
                ]
                headers = {**client.auth, "Content-Type": "image/png"}
                for body, status in bad:
                    async with http.post(url, data=body, headers=headers) as response:
                        assert response.status == status, (body[:20], await response.text())
                        assert "error" in await response.json()
                session = server.sessions[client.answer["session"]]
                assert session.upload is None
                red = io.BytesIO()
                Image.new("RGB", (3000, 2000), (255, 0, 0)).save(red, format="JPEG")
                headers["Content-Type"] = "image/jpeg"
                async with http.post(url, data=red.getvalue(), headers=headers) as response:
                    assert response.status == 200, await response.text()
                    answer = await response.json()
                assert max(answer["width"], answer["height"]) <= 1920
                assert session.upload is not None and session.upload.shape[2] == 3
                # by time, not frame count: on a loaded machine frames come slowly
                deadline = asyncio.get_running_loop().time() + 30
                while True:
                    image = await client.frame()
                    if image[CORNER].reshape(-1, 3).mean(axis=0)[0] > 200:
                        break
                    if asyncio.get_running_loop().time() > deadline:
                        raise AssertionError("the uploaded red background never showed")
            finally:
                await client.close()
            await wait_for(lambda: not server.sessions)

    asyncio.run(main())


# -- end to end ------------------------------------------------------------------------------


def test_colour_mode_end_to_end() -> None:
    async def main() -> None:
        async with serving() as (base, server), aiohttp.ClientSession() as http:
            client = Client(astronaut())
            try:
                await client.connect(http, base)
                await client.open_channel()
                client.send({"type": "effect", "effect": "color", "color": "#00ff00"})
                client.send({"type": "effect", "effect": "nonsense"})  # answered, not fatal
                image = await green_frame(client)
                original = astronaut()
                face = image[FACE].astype(int)
                assert not is_green(image[FACE])
                assert np.abs(face - original[FACE]).mean() < 25  # the face keeps its pixels
                await wait_for(lambda: any(m["type"] == "stats" for m in client.messages))
                kinds = {m["type"] for m in client.messages}
                assert {"effect", "error", "stats", "peers"} <= kinds
                stats = next(m for m in reversed(client.messages) if m["type"] == "stats")
                assert stats["ms"] is not None and stats["ms"] > 0
                assert stats["width"] == 512
                client.send({"type": "model", "model": "selfie-general"})
                await wait_for(
                    lambda: client.messages[-1].get("model") == "selfie-general"
                    and client.messages[-1]["type"] == "stats"
                )
            finally:
                await client.close()
            await wait_for(lambda: not server.sessions)

    asyncio.run(main())


def native_threads() -> int:
    return len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 0


def test_connect_disconnect_cycles_leak_nothing() -> None:
    async def cycle(http: aiohttp.ClientSession, base: str, server: WebServer, n: int) -> None:
        client = Client(astronaut())
        await client.connect(http, base, effect={"effect": "color", "color": "green"})
        await client.frame()  # mid-stream: at least one processed frame has arrived
        if n % 2:
            await client.close()  # a clean close ...
        else:
            # ... or the page just going away: the beacon, then the connection drops
            close = f"{base}{client.session_url}/close"
            async with http.post(close, json={}, headers=client.auth) as response:
                assert response.status == 200
            await client.close()
        await wait_for(lambda: not server.sessions and server.pending == 0)

    # Thread pools grow lazily up to a bound and keep their threads: ours ("greenroom-web",
    # `server.workers` threads) and asyncio's default one, where aiortc runs its codecs. Those
    # may grow up to their bound; any other thread is a leak.
    pools = ("greenroom-web", "asyncio_")

    def counts(server: WebServer) -> tuple[int, int, int, int]:
        gc.collect()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        others = [t for t in threading.enumerate() if not t.name.startswith(pools)]
        pcs = sum(isinstance(o, RTCPeerConnection) for o in gc.get_objects())
        return len(tasks), len(others), len(server.sessions), pcs

    def pool_threads(prefix: str) -> int:
        return sum(t.name.startswith(prefix) for t in threading.enumerate())

    opened: list[Processor] = []
    closed: list[Processor] = []

    def counted(effect: Effect, model: str) -> Processor:
        processor = Processor(effect, model=model, temporal=True)
        opened.append(processor)
        release = processor.close

        def close() -> None:
            closed.append(processor)
            release()

        processor.close = close  # type: ignore[method-assign]
        return processor

    async def main() -> None:
        async with (
            serving(processor_factory=counted) as (base, server),
            aiohttp.ClientSession() as http,
        ):
            await cycle(http, base, server, 0)  # warm up: worker threads, codecs
            await cycle(http, base, server, 1)
            await asyncio.sleep(0.5)
            before, native_before = counts(server), native_threads()
            for n in range(20):
                await cycle(http, base, server, n)
            deadline = time.monotonic() + 10
            while counts(server) > before and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            after, native_after = counts(server), native_threads()
            assert after[0] <= before[0], f"tasks leaked: {before} -> {after}"
            names = [t.name for t in threading.enumerate()]
            assert after[1] <= before[1], f"threads leaked: {names}"
            assert pool_threads("greenroom-web") <= server.workers, names
            assert pool_threads("asyncio_") <= min(32, (os.cpu_count() or 1) + 4), names
            assert after[2] == 0
            assert after[3] <= before[3], f"peer connections leaked: {before} -> {after}"
            assert len(opened) == 22
            assert len(closed) == len(opened)  # every model released
            # Native pools (codecs, OpenCV, the runtimes) may still grow by a few threads;
            # a thread leaked per connection would add 20.
            assert native_after <= native_before + 6, (native_before, native_after)
            assert server.rooms == {}

    asyncio.run(main())


def test_room_participants_see_each_other() -> None:
    async def main() -> None:
        async with serving() as (base, server), aiohttp.ClientSession() as http:
            flipped = np.ascontiguousarray(astronaut()[:, ::-1])  # tell the two apart
            alice, bob = Client(astronaut(), slots=2), Client(flipped, slots=2)
            carol = Client(astronaut(), slots=2)
            try:
                green = {"effect": "color", "color": "#00ff00"}
                await alice.connect(http, base, room="team", name="alice", effect=green)
                await bob.connect(http, base, room="team", name="bob", effect=green)
                assert server.rooms["team"].members.keys() == {
                    alice.answer["session"],
                    bob.answer["session"],
                }
                # each sees the other's processed video in its first slot
                from_bob = await green_frame(alice, alice.slot_transceivers[0])
                from_alice = await green_frame(bob, bob.slot_transceivers[0])
                assert not is_green(from_bob[FACE]) and not is_green(from_alice[FACE])
                # bob's camera is mirrored: his face is on the other side of the frame
                mirrored = (FACE[0], slice(512 - FACE[1].stop, 512 - FACE[1].start))
                assert not is_green(from_bob[mirrored])
                # a third joins and leaves, and the first two carry on undisturbed
                await carol.connect(http, base, room="team", name="carol", effect=green)
                await green_frame(carol, carol.slot_transceivers[0])
                await carol.close()
                await wait_for(lambda: len(server.rooms["team"].members) == 2)
                await green_frame(alice, alice.slot_transceivers[0])
                await green_frame(bob, bob.slot_transceivers[0])
                await wait_for(
                    lambda: any(
                        m["type"] == "peers" and [s["name"] for s in m["slots"]] == ["bob", None]
                        for m in alice.messages[-3:]
                    )
                )
            finally:
                for client in (alice, bob, carol):
                    await client.close()
            await wait_for(lambda: not server.sessions and not server.rooms)

    asyncio.run(main())


def test_every_effect_output_becomes_a_video_frame() -> None:
    rgb = astronaut()
    for result in (rgb, np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)]), rgb[:, :, 0]):
        frame = to_video_frame(result)
        assert (frame.width, frame.height, frame.format.name) == (512, 512, "yuv420p")
    # transparent: half see-through over the checkerboard, not black
    clear = to_video_frame(np.zeros((64, 64, 4), np.uint8)).to_ndarray(format="rgb24")
    assert 140 < clear.mean() < 215
