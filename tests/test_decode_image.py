"""`sources.images.decode_image`: the one image decoder, for files, uploads and training data.

Real photos (the bundled samples and EG1800 portraits from ../shared) decode the same from a file
and from bytes; a truncated JPEG, a text file and an oversized picture each fail with one line of
their own type, which the web server turns into its HTTP status.
"""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from PIL import Image

from greenroom.errors import InputError, NotAnImage, TooLarge
from greenroom.samples import sample_path
from greenroom.sources.images import decode_image, read_image
from tests.conftest import shared_path
from tests.test_cli_image import png_header_only


def jpeg_bytes(image: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90, **options)
    return buffer.getvalue()


def test_a_bundled_photo_decodes_the_same_from_a_file_and_from_bytes():
    path = sample_path("astronaut.jpg")
    from_file = decode_image(path)
    assert from_file.shape == (512, 512, 3) and from_file.dtype == np.uint8
    np.testing.assert_array_equal(decode_image(path.read_bytes()), from_file)
    np.testing.assert_array_equal(read_image(path), from_file)


def test_eg1800_portraits_decode_upright_for_training_and_uploads():
    from greenroom.training.data import read_rgb
    from greenroom.web.uploads import decode_upload

    folder = shared_path("data", "eg1800-dev", "images")
    for path in sorted(folder.glob("*.jpg"))[:3]:
        image = read_rgb(path)  # training reads through the same decoder
        assert image.shape == (800, 600, 3), path
        np.testing.assert_array_equal(image, decode_image(path))
        np.testing.assert_array_equal(decode_upload(path.read_bytes(), path.name), image)
        assert 20 < image.mean() < 235  # a photo, not a blank


def test_exif_orientation_turns_the_picture_upright():
    wide = np.zeros((256, 512, 3), np.uint8)
    wide[:, :256] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view"
    upright = decode_image(jpeg_bytes(wide, exif=exif.tobytes()))
    assert upright.shape == (512, 256, 3)
    assert upright[:200].mean() > 240 and upright[-200:].mean() < 15  # the white half on top


def test_a_truncated_jpeg_is_not_an_image_in_one_line_naming_the_file(tmp_path):
    data = sample_path("rocket.jpg").read_bytes()
    broken = tmp_path / "half.jpg"
    broken.write_bytes(data[: len(data) // 2])
    for source in (broken, broken.read_bytes()):
        with pytest.raises(NotAnImage) as info:
            decode_image(source, "half.jpg")
        assert str(info.value).startswith("half.jpg: corrupt or truncated image")
        assert "\n" not in str(info.value)


def test_a_text_file_is_not_an_image(tmp_path):
    notes = tmp_path / "notes.jpg"
    notes.write_text("shopping: milk, eggs\n")
    with pytest.raises(NotAnImage, match=r"notes.jpg: not an image"):
        decode_image(notes)
    with pytest.raises(NotAnImage, match="upload: not an image"):
        decode_image(b"%PDF-1.4 not a picture", "upload", formats=("JPEG", "PNG"))


def test_size_limits_are_too_large_before_any_pixel_is_decoded(tmp_path):
    bomb = png_header_only(12000, 12000)  # declares 144 megapixels, holds almost nothing
    with pytest.raises(TooLarge, match="too large: 12000x12000 pixels"):
        decode_image(bomb, "bomb.png")
    with pytest.raises(TooLarge, match=r"too large \(limit 100,000,000 pixels\)"):
        decode_image(png_header_only(16000, 16000), "bomb.png")  # Pillow's own bomb check
    tall = io.BytesIO()
    Image.new("RGB", (40, 9000)).save(tall, format="PNG")
    with pytest.raises(TooLarge, match=r"limit 8000 a side and 40 megapixels"):
        decode_image(tall.getvalue(), "tall.png", max_pixels=40_000_000, max_side=8000)
    assert decode_image(tall.getvalue()).shape == (9000, 40, 3)  # fine without a side limit


def test_empty_and_missing_files_are_input_errors_of_their_own(tmp_path):
    empty = tmp_path / "empty.png"
    empty.touch()
    for source, words in ((empty, "empty file"), (tmp_path / "gone.png", "no such file"),
                          (tmp_path, "is a folder"), (b"", "empty upload")):
        with pytest.raises(InputError, match=words) as info:
            decode_image(source)
        assert not isinstance(info.value, NotAnImage | TooLarge)


def test_an_upload_is_stored_no_larger_than_a_video_frame_needs():
    from greenroom.web.uploads import STORE_SIDE, decode_upload

    big = np.zeros((2400, 3200, 3), np.uint8)
    stored = decode_upload(jpeg_bytes(big))
    assert max(stored.shape[:2]) == STORE_SIDE and stored.shape[:2] == (1440, 1920)


def test_the_upload_status_follows_the_error_type_not_its_words(monkeypatch):
    """413 for a `TooLarge` whatever it says; 415 for another input error, even one saying
    "too large" (the server used to look for those words)."""
    pytest.importorskip("aiortc")
    aiohttp = pytest.importorskip("aiohttp")
    from greenroom.samples import astronaut
    from greenroom.web import server as server_module
    from greenroom.web.limits import Limits
    from greenroom.web.testing import Client, serving

    errors = iter([TooLarge("upload", "over the budget"), InputError("upload", "too large a hat")])

    def refuse(data: bytes) -> np.ndarray:
        raise next(errors)

    monkeypatch.setattr(server_module, "decode_upload", refuse)

    async def main() -> list[tuple[int, str]]:
        answers = []
        limits = Limits(upload_interval=0.05)
        async with serving(limits=limits) as (base, _), aiohttp.ClientSession() as http:
            client = Client(astronaut())
            try:
                await client.connect(http, base)
                url = f"{base}{client.session_url}/background"
                headers = {**client.auth, "Content-Type": "image/jpeg"}
                picture = jpeg_bytes(np.zeros((8, 8, 3), np.uint8))
                for _ in range(2):
                    await asyncio.sleep(0.1)  # past the upload interval
                    async with http.post(url, data=picture, headers=headers) as response:
                        answers.append((response.status, (await response.json())["error"]))
            finally:
                await client.close()
        return answers

    assert asyncio.run(main()) == [(413, "over the budget"), (415, "too large a hat")]
