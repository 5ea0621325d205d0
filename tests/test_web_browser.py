"""`greenroom serve` in a real browser: headless Chromium with a fake camera playing the astronaut.

Uses Debian's Chromium (/usr/bin/chromium) driven by Playwright's Python package; Playwright
never downloads a browser here. The fake camera is a .y4m clip the test writes from the sample
photo. Pixels are read from the page itself: the received <video> drawn into a canvas.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)",
        allow_module_level=True,
    )
pytest.importorskip("aiortc")
playwright_api = pytest.importorskip("playwright.async_api")

from aiohttp import web  # noqa: E402

from greenroom.samples import astronaut  # noqa: E402
from greenroom.web import create_app  # noqa: E402
from greenroom.web.limits import Limits  # noqa: E402
from greenroom.web.server import SERVER_KEY  # noqa: E402

#: Regions as fractions of the frame (the photo is 512x512): the face and the top-right corner.
FACE = (60 / 512, 130 / 512, 210 / 512, 260 / 512)
CORNER = (0.0, 100 / 512, 420 / 512, 1.0)

#: Draws a <video> into a canvas and returns its size, frame count and region means (RGB).
PROBE = """([selector, regions]) => {
  const video = document.querySelector(selector);
  if (!video || video.videoWidth === 0 || video.readyState < 2) return null;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(video, 0, 0);
  const mean = ([r0, r1, c0, c1]) => {
    const x = Math.floor(c0 * canvas.width), y = Math.floor(r0 * canvas.height);
    const w = Math.max(1, Math.floor((c1 - c0) * canvas.width));
    const h = Math.max(1, Math.floor((r1 - r0) * canvas.height));
    const data = context.getImageData(x, y, w, h).data;
    const sum = [0, 0, 0];
    for (let i = 0; i < data.length; i += 4) for (let k = 0; k < 3; k++) sum[k] += data[i + k];
    return sum.map((s) => s / (data.length / 4));
  };
  const quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : {};
  return {
    width: canvas.width, height: canvas.height, frames: quality.totalVideoFrames || 0,
    regions: regions.map(mean),
  };
}"""


def write_y4m(path: Path, image: np.ndarray, frames: int = 2) -> None:
    """A raw YUV4MPEG2 clip of `image` (what Chrome's fake camera plays, in a loop)."""
    height, width = image.shape[:2]
    i420 = cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(i420)


def is_green(rgb: list[float]) -> bool:
    return rgb[1] > 180 and rgb[0] < 80 and rgb[2] < 80


async def serve(**options: object) -> tuple[web.AppRunner, str]:
    app = create_app(**options)  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def open_browser(playwright, tmp_path: Path):  # noqa: ANN001, ANN201
    clip = tmp_path / "clip.y4m"
    write_y4m(clip, astronaut())
    profile = tmp_path / "profile"
    profile.mkdir()
    return await playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )


async def poll(page, function: str, ending: str, timeout: float = 10.0) -> None:  # noqa: ANN001
    """Wait until `function` (evaluated in the page) returns text ending with `ending`.

    (Playwright's wait_for_function would evaluate a string, which the page's CSP forbids.)
    """
    deadline = time.monotonic() + timeout
    while True:
        text = await page.evaluate(function)
        if str(text).endswith(ending):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{function} gave {text!r}, not ending with {ending!r}")
        await asyncio.sleep(0.1)


async def start_green(page, url: str) -> None:  # noqa: ANN001
    """Open the page, choose pure green, camera-sized video, and press Start."""
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    await page.goto(url)
    await poll(page, "() => document.querySelector('#model option') ? 'ready' : ''", "ready")
    await page.select_option("#size", "")  # the fake camera's own 512x512, no cropping
    await page.check('input[name="effect"][value="color"]')
    await page.evaluate(
        """() => { const c = document.getElementById("color"); c.value = "#00ff00";
                   c.dispatchEvent(new Event("change", { bubbles: true })); }"""
    )
    await page.click("#start")


async def wait_for_green(page, selector: str, timeout: float = 20.0) -> dict:  # noqa: ANN001
    """Poll the page until `selector`'s video shows a green background and a non-green face."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await page.evaluate(PROBE, [selector, [CORNER, FACE]])
        if last and is_green(last["regions"][0]) and not is_green(last["regions"][1]):
            return last
        await asyncio.sleep(0.2)
    message = await page.text_content("#message")
    raise AssertionError(f"{selector}: no green background in time: {last}, page says {message!r}")


def test_page_shows_the_processed_camera(tmp_path: Path) -> None:
    async def main() -> None:
        runner, base = await serve()
        try:
            async with playwright_api.async_playwright() as playwright:
                browser = await open_browser(playwright, tmp_path)
                try:
                    page = await browser.new_page()
                    await start_green(page, base + "/")
                    seen = await wait_for_green(page, "#self")
                    assert seen["width"] > 0 and seen["height"] > 0
                    face = seen["regions"][1]
                    assert face[0] > face[1]  # skin: more red than green
                    # frames keep arriving, and the statistics are filled in from getStats()
                    # and from the server's messages
                    # (the page samples getStats() once a second and needs two samples)
                    for cell, unit in [("#server-ms", "ms"), ("#fps-out", "fps"), ("#rtt", "ms")]:
                        text = f"() => document.querySelector('{cell}').textContent"
                        await poll(page, text, unit)
                    later = await page.evaluate(PROBE, ["#self", [CORNER, FACE]])
                    assert later["frames"] > seen["frames"]
                    await page.click("#stop")
                    server = runner.app[SERVER_KEY]
                    deadline = time.monotonic() + 10
                    while server.sessions and time.monotonic() < deadline:
                        await asyncio.sleep(0.1)
                    assert not server.sessions
                finally:
                    await browser.close()
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_two_pages_in_a_room_see_each_other(tmp_path: Path) -> None:
    async def main() -> None:
        runner, base = await serve()
        try:
            async with playwright_api.async_playwright() as playwright:
                browser = await open_browser(playwright, tmp_path)
                try:
                    first, second = await browser.new_page(), await browser.new_page()
                    await start_green(first, base + "/room/browser-test")
                    await start_green(second, base + "/room/browser-test")
                    peer = "figure.peer:not([hidden]) video"
                    for page in (first, second):
                        seen = await wait_for_green(page, peer)
                        assert seen["width"] > 0 and seen["frames"] > 0
                    server = runner.app[SERVER_KEY]
                    assert len(server.rooms["browser-test"].members) == 2
                    # one leaves (a reload): the server lets them go at once (the page's
                    # beacon), and the other's own video carries on
                    await second.reload()
                    deadline = time.monotonic() + 10
                    while len(server.sessions) > 1 and time.monotonic() < deadline:
                        await asyncio.sleep(0.1)
                    assert len(server.rooms["browser-test"].members) == 1
                    assert await first.locator(peer).count() == 0
                    await wait_for_green(first, "#self")
                finally:
                    await browser.close()
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_page_uploads_with_its_token_and_says_when_the_server_is_full(tmp_path: Path) -> None:
    """The page's own requests carry its session token; a full server is one line on the page."""

    async def main() -> None:
        runner, base = await serve(limits=Limits(sessions=1))
        try:
            async with playwright_api.async_playwright() as playwright:
                browser = await open_browser(playwright, tmp_path)
                try:
                    first, second = await browser.new_page(), await browser.new_page()
                    await start_green(first, base + "/")
                    await wait_for_green(first, "#self")
                    picture = tmp_path / "red.png"
                    Image.new("RGB", (320, 200), (255, 0, 0)).save(picture)
                    await first.set_input_files("#upload", str(picture))
                    server = runner.app[SERVER_KEY]
                    (session,) = server.sessions.values()
                    deadline = time.monotonic() + 10
                    while session.upload is None and time.monotonic() < deadline:
                        await asyncio.sleep(0.1)
                    assert session.upload is not None, await first.text_content("#message")
                    await start_green(second, base + "/")
                    text = "() => document.querySelector('#message').textContent"
                    await poll(second, text, "try again later")
                    assert "\n" not in await second.evaluate(text)
                finally:
                    await browser.close()
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_y4m_header(tmp_path: Path) -> None:
    clip = tmp_path / "c.y4m"
    write_y4m(clip, np.zeros((4, 6, 3), np.uint8), frames=1)
    data = clip.read_bytes()
    assert data.startswith(b"YUV4MPEG2 W6 H4 F30:1")
    assert len(data) == len(b"YUV4MPEG2 W6 H4 F30:1 Ip A1:1 C420jpeg\n") + 6 + 36
