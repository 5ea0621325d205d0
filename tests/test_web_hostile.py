"""`greenroom serve` against a hostile client: each finding of the campaign in issue 15, replayed.

Loopback only, bounded: at most 17 offers at once, short configured timeouts, every wait capped.
Python aiortc clients and plain HTTP requests play the attacker; speed under attack (uploads
against another session's frame rate) is measured in benchmarks/bench_web.py, not asserted here.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
from types import SimpleNamespace

import pytest
from PIL import Image

pytest.importorskip("aiortc")
pytest.importorskip("aiohttp")

import aiohttp  # noqa: E402

from greenroom.samples import astronaut  # noqa: E402
from greenroom.web import server as server_module  # noqa: E402
from greenroom.web.guard import SECURITY_HEADERS, host_name, served_hosts  # noqa: E402
from greenroom.web.limits import Admission, Limits, fit  # noqa: E402
from greenroom.web.signalling import BadRequest  # noqa: E402
from tests.cli import run  # noqa: E402
from tests.test_web import Client, png, serving, wait_for  # noqa: E402

JSON = {"Content-Type": "application/json"}


async def stale_offer() -> str:
    """A real offer whose candidates were removed: it is answered but can never connect."""
    client = Client(astronaut())
    await client.pc.setLocalDescription(await client.pc.createOffer())
    sdp = client.pc.localDescription.sdp
    await client.close()
    return "".join(
        line + "\r\n" for line in sdp.splitlines() if not line.startswith("a=candidate")
    )


async def post_offer(
    http: aiohttp.ClientSession, base: str, sdp: str, **body: object
) -> tuple[int, dict]:
    async with http.post(
        f"{base}/api/offer", json={"sdp": sdp, "type": "offer", **body}
    ) as response:
        return response.status, await response.json()


def test_peers_cannot_change_or_close_each_others_session() -> None:
    """Finding 1: the id that room members see is no longer enough to act on a session."""

    async def main() -> None:
        async with serving() as (base, server), aiohttp.ClientSession() as http:
            alice, bob = Client(astronaut(), slots=1), Client(astronaut(), slots=1)
            try:
                await alice.connect(http, base, room="team", name="alice")
                await bob.connect(http, base, room="team", name="bob")
                await wait_for(
                    lambda: any(
                        m["type"] == "peers" and m["slots"][0]["name"] == "alice"
                        for m in bob.messages
                    )
                )
                tables = [m["slots"] for m in bob.messages if m["type"] == "peers"]
                seen = next(table[0]["peer"] for table in tables if table[0]["peer"])
                assert seen == alice.answer["session"]  # the public id ...
                assert alice.answer["token"] not in json.dumps(bob.messages)  # ... never the secret
                target = f"{base}/api/session/{seen}"
                picture = {"Content-Type": "image/png"}
                for headers in ({}, bob.auth, {"Authorization": f"Bearer {seen}"}):
                    async with http.post(
                        target + "/background", data=png(8, 8), headers={**picture, **headers}
                    ) as response:
                        assert response.status == 403, await response.text()
                    async with http.post(
                        target + "/close", json={}, headers=headers
                    ) as response:
                        assert response.status == 403, await response.text()
                victim = server.sessions[seen]
                assert not victim.closed and victim.upload is None
                # her own page may: the token from her own answer
                async with http.post(target + "/close", json={}, headers=alice.auth) as response:
                    assert response.status == 200
                await wait_for(lambda: seen not in server.sessions)
            finally:
                await alice.close()
                await bob.close()

    asyncio.run(main())


def test_pages_of_other_sites_and_foreign_hosts_are_refused() -> None:
    """Findings 2 and 6: Origin, Host and Content-Type checked; security headers everywhere."""

    async def main() -> None:
        async with serving() as (base, server), aiohttp.ClientSession() as http:
            sdp = await stale_offer()
            body = json.dumps({"sdp": sdp, "type": "offer"})
            own = base  # "http://127.0.0.1:PORT": the page's own origin
            port = base.rsplit(":", 1)[1]
            refused = [
                ({"Content-Type": "text/plain"}, 415),  # a "simple" cross-site request
                ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
                ({**JSON, "Origin": "http://evil.example"}, 403),
                ({**JSON, "Origin": "null"}, 403),
                ({**JSON, "Origin": f"http://127.0.0.1.evil.example:{port}"}, 403),
                ({**JSON, "Host": f"evil.example:{port}"}, 403),  # DNS rebinding
            ]
            for headers, status in refused:
                async with http.post(f"{base}/api/offer", data=body, headers=headers) as response:
                    assert response.status == status, (headers, await response.text())
                    assert "error" in await response.json()
                    for name, value in SECURITY_HEADERS.items():
                        assert response.headers.get(name) == value, (headers, name)
            assert server.sessions == {} and server.admission.total == 0
            for path in ("/", "/api/config", "/api/health"):
                async with http.get(base + path, headers={"Host": "evil.example"}) as response:
                    assert response.status == 403
            # the page's own requests pass, and every kind of answer carries the headers
            for path, headers in [
                ("/api/config", {}),
                ("/gallery/rocket.jpg", {"Host": f"localhost:{port}"}),
                ("/nope", {}),
                ("/api/config", {"Origin": own}),
            ]:
                async with http.get(base + path, headers=headers) as response:
                    assert response.status in (200, 404)
                    assert response.headers["X-Content-Type-Options"] == "nosniff", path
                    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
            async with http.post(
                f"{base}/api/offer", data=body, headers={**JSON, "Origin": own}
            ) as response:
                assert response.status == 200, await response.text()
                answer = await response.json()
            close = f"{base}/api/session/{answer['session']}/close"
            token = {"Authorization": f"Bearer {answer['token']}"}
            async with http.post(close, data="{}", headers={"Content-Type": "text/plain", **token}):
                assert answer["session"] in server.sessions  # refused: wrong content type
            async with http.post(close, json={}, headers=token) as response:
                assert response.status == 200
            await wait_for(lambda: not server.sessions)

    asyncio.run(main())


def test_host_names_served() -> None:
    assert host_name("Example.ORG.:8080") == "example.org"
    assert host_name("[::1]:80") == "::1" and host_name("::1") == "::1"
    loopback = served_hosts("127.0.0.1")
    assert {"localhost", "127.0.0.1", "::1"} <= loopback and "evil.example" not in loopback
    assert "cam.example" in served_hosts("127.0.0.1", ["Cam.Example"])
    shared = served_hosts("0.0.0.0")
    assert socket.gethostname().lower() in shared
    assert len(shared) > len(loopback)


def test_offers_that_never_connect_expire_and_free_their_places() -> None:
    """Finding 2: sixteen offers that can never connect held the server; now they time out."""
    limits = Limits(sessions=16, per_address=16, connect_timeout=1.0)

    async def main() -> None:
        async with serving(limits=limits) as (base, server), aiohttp.ClientSession() as http:
            sdp = await stale_offer()
            answers = await asyncio.gather(*(post_offer(http, base, sdp) for _ in range(16)))
            assert [status for status, _ in answers] == [200] * 16, answers
            status, answer = await post_offer(http, base, sdp)
            assert status == 503 and "full" in answer["error"]  # one line the page shows
            await wait_for(lambda: not server.sessions, timeout=15)
            assert server.admission.total == 0
            client = Client(astronaut())
            try:
                await client.connect(http, base)
                assert (await client.frame()).shape == (512, 512, 3)
            finally:
                await client.close()

    asyncio.run(main())


def test_a_session_that_stops_sending_video_is_dropped() -> None:
    async def main() -> None:
        # Not shorter: on a loaded machine the first frame can take a second to arrive.
        limits = Limits(idle_timeout=3.0)
        async with serving(limits=limits) as (base, server), aiohttp.ClientSession() as http:
            client = Client(astronaut())
            try:
                await client.connect(http, base)
                await client.frame()
                session = server.sessions[client.answer["session"]]
                assert session.connected
                client.self_transceiver.sender.replaceTrack(None)  # the camera goes silent
                await wait_for(lambda: not server.sessions, timeout=15)
                assert session.closed
            finally:
                await client.close()

    asyncio.run(main())


def test_idle_time_counts_from_the_connection_not_the_offer() -> None:
    """A handshake that took most of `connect_timeout` must not eat into `idle_timeout`."""
    server = server_module.WebServer(limits=Limits(connect_timeout=20.0, idle_timeout=5.0))
    session = SimpleNamespace(connected=False, created=100.0, connected_at=100.0,
                              processed=None)
    assert server.expired(session, 110.0) is None  # still negotiating
    assert server.expired(session, 121.0) == "did not connect within 20 s"
    session.connected, session.connected_at = True, 118.0  # connected after 18 s
    assert server.expired(session, 119.0) is None
    assert server.expired(session, 123.5) == "no video for 5 s"
    session.processed = SimpleNamespace(last_arrival=123.0)  # frames came
    assert server.expired(session, 127.0) is None
    assert server.expired(session, 128.5) == "no video for 5 s"


def test_places_are_limited_per_address_and_globally() -> None:
    admission = Admission(Limits(sessions=3, per_address=2))
    admission.take("10.0.0.1")
    admission.take("10.0.0.1")
    with pytest.raises(BadRequest) as info:
        admission.take("10.0.0.1")
    assert info.value.status == 429
    admission.take("10.0.0.2")
    with pytest.raises(BadRequest) as info:
        admission.take("10.0.0.3")
    assert info.value.status == 503 and "full" in info.value.message
    admission.give_back("10.0.0.1")
    admission.take("10.0.0.3")
    assert admission.total == 3

    async def main() -> None:  # and the server counts them before negotiating
        limits = Limits(per_address=2)
        async with serving(limits=limits) as (base, server), aiohttp.ClientSession() as http:
            sdp = await stale_offer()
            statuses = [(await post_offer(http, base, sdp))[0] for _ in range(3)]
            assert statuses == [200, 200, 429]

    asyncio.run(main())


def test_simultaneous_joins_never_overfill_a_room() -> None:
    """Finding 4: nine offers to one room at once were all admitted, into separate rooms."""

    async def main() -> None:
        limits = Limits(per_address=16)
        async with serving(limits=limits) as (base, server), aiohttp.ClientSession() as http:
            sdp = await stale_offer()
            answers = await asyncio.gather(
                *(post_offer(http, base, sdp, room="race") for _ in range(9))
            )
            statuses = sorted(status for status, _ in answers)
            assert statuses == [200] * 6 + [409] * 3, answers
            room = server.rooms["race"]
            admitted = {answer["session"] for status, answer in answers if status == 200}
            assert set(room.members) == admitted and room.reserved == 0
            assert all(server.sessions[s].room is room for s in admitted)
            assert server.admission.total == 6

    asyncio.run(main())


def test_health_gives_counts_and_no_room_names() -> None:
    """Finding 5: a room's name is its only secret."""

    async def main() -> None:
        async with serving() as (base, server), aiohttp.ClientSession() as http:
            status, _ = await post_offer(http, base, await stale_offer(), room="hidden-place-42")
            assert status == 200
            async with http.get(base + "/api/health") as response:
                text = await response.text()
            assert "hidden-place-42" not in text
            assert json.loads(text) == {"sessions": 1, "rooms": 1, "negotiating": 0}

    asyncio.run(main())


def big_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_uploads_are_capped_rate_limited_and_decoded_off_the_media_threads(monkeypatch) -> None:
    """Finding 3: uploads are bounded work, done in their own thread."""
    threads: list[str] = []
    decode = server_module.decode_upload

    def spy(data: bytes) -> object:
        threads.append(threading.current_thread().name)
        return decode(data)

    monkeypatch.setattr(server_module, "decode_upload", spy)

    async def main() -> None:
        async with serving() as (base, server), aiohttp.ClientSession() as http:
            client = Client(astronaut())
            try:
                await client.connect(http, base)
                url = f"{base}{client.session_url}/background"
                headers = {**client.auth, "Content-Type": "image/png"}
                huge = big_png(7000, 7000)  # within 8000 a side, but 49 megapixels
                async with http.post(url, data=huge, headers=headers) as response:
                    assert response.status == 413, await response.text()
                    assert "megapixels" in (await response.json())["error"]
                await asyncio.sleep(server.limits.upload_interval)
                async with http.post(url, data=png(64, 48), headers=headers) as response:
                    assert response.status == 200, await response.text()
                async with http.post(url, data=png(64, 48), headers=headers) as response:
                    assert response.status == 429  # again at once: one per interval
                assert threads and all(name.startswith("greenroom-upload") for name in threads)
                assert server.decoder is not None
            finally:
                await client.close()

    asyncio.run(main())


def test_large_camera_frames_are_scaled_down_before_processing() -> None:
    """Finding 6: a 4K camera cost 282 ms and 1 GB a session; frames are now fitted first."""
    assert fit(3840, 2160, (1280, 720)) == (1280, 720)
    assert fit(4000, 3000, (1280, 720)) == (960, 720)
    assert fit(720, 1280, (1280, 720)) == (720, 1280)  # portrait fits as it is
    assert fit(640, 480, (1280, 720)) == (640, 480)  # never up

    async def main() -> None:
        limits = Limits(video=(320, 240))
        async with serving(limits=limits) as (base, server), aiohttp.ClientSession() as http:
            client = Client(astronaut())  # 512x512
            try:
                await client.connect(http, base)
                assert (await client.frame()).shape == (240, 240, 3)
                processed = server.sessions[client.answer["session"]].processed
                assert (processed.width, processed.height) == (240, 240)
            finally:
                await client.close()

    asyncio.run(main())


def test_media_stays_on_loopback_with_a_loopback_server() -> None:
    """Finding 6: with the server on 127.0.0.1, media bound to the LAN addresses too."""

    async def main() -> None:
        async with serving() as (base, server), aiohttp.ClientSession() as http:
            client = Client(astronaut())
            try:
                await client.connect(http, base)
                candidates = [
                    line.split()[4]
                    for line in str(client.answer["sdp"]).splitlines()
                    if line.startswith("a=candidate") and " typ host" in line
                ]
                assert candidates and set(candidates) == {"127.0.0.1"}, candidates
                assert (await client.frame()).shape == (512, 512, 3)  # and it still connects
            finally:
                await client.close()

    asyncio.run(main())


def test_a_busy_port_is_one_line(capfd) -> None:
    """Finding 6: a port in use gave a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, out, err = run(capfd, "serve", "--port", port)
    assert status == 1
    line = f"greenroom: error: cannot listen on 127.0.0.1:{port}: address already in use"
    assert err.strip() == line
    assert "serving on" not in out  # nothing claims to be serving


def test_serve_options_are_checked(capfd) -> None:
    status, _, err = run(capfd, "serve", "--max-video", "12")
    assert status == 2 and "'12' is not a size like 1280x720" in err
