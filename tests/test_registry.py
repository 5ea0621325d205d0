"""The model registry, the models folder, downloads (against a local HTTP server) and the CLI.

Nothing here touches the internet: downloads are served by `http.server` on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from greenroom.errors import GreenroomError, InputError
from greenroom.segmentation import MODEL_NAMES, load_segmenter, registry, store
from greenroom.segmentation.download import DownloadError, download_file
from tests.cli import run
from tests.conftest import shared_path

PAYLOAD = bytes(range(256)) * 400  # 100 KB, so a download takes several chunks
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


# --- registry contents ---------------------------------------------------------------------------


def test_every_model_is_named_and_pinned():
    assert MODEL_NAMES[0] == "auto"
    assert set(MODEL_NAMES[1:]) == set(registry.MODELS)
    expected = {"selfie-general", "selfie-landscape", "meet-full", "meet-lite", "mlkit-selfie",
                "deeplabv3", "bodypix-mobilenet050-8", "sinet", "selfie-onnx", "mediapipe-onnx",
                "pphumanseg-v2-lite", "modnet", "rvm-mobilenetv3"}
    assert expected <= set(registry.MODELS)
    for name, info in registry.MODELS.items():
        assert info.name == name
        assert re.fullmatch(r"[0-9a-f]{64}", info.sha256 or ""), name
        assert info.license and info.source and info.notes and info.size > 0
        assert info.speed in ("fast", "medium", "slow", "unmeasured")
        if info.builtin:  # MediaPipe's preprocessing (input size) or a spec, never both
            assert info.url is None and info.wheel is None
            assert (info.spec is None) != (info.input_size is None), name
            continue
        assert (info.spec is not None) != info.recurrent, name  # a spec, or RVM's signature
        assert info.url or info.wheel, name
        if info.wheel is not None:  # an exact release of a PyPI package, a path in its wheel
            assert re.fullmatch(r"[\w.-]+", info.wheel.package), name
            assert re.fullmatch(r"\d+(\.\d+)+", info.wheel.version), name
            assert info.wheel.member.rsplit("/", 1)[1] == info.filename, name
        if info.url is None:
            continue
        # Pinned to a commit of the repository the file was taken from, or to a release of
        # it, under its own name (the sha256 guards either).
        assert re.match(r"https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]{40}/",
                        info.url or "") or re.match(
            r"https://github\.com/[\w.-]+/[\w.-]+/releases/download/v[\d.]+/", info.url or ""
        ), name
        assert info.url.rsplit("/", 1)[1] == info.filename
        assert info.backend == ("onnx" if info.filename.endswith(".onnx") else "tflite")


def test_registry_sizes_and_hashes_match_the_shared_files():
    folder = shared_path("models")
    absent = set()
    for info in registry.MODELS.values():
        path = folder / info.filename
        if info.builtin:
            continue
        if not path.exists():
            absent.add(info.name)
            continue
        assert path.stat().st_size == info.size, info.name
        assert registry.cached_path(info, folder) == path, info.name
    # Every model of the zoo has a copy there (RVM's since shared/ gained it), and each matches.
    assert absent == set()


def test_unknown_name_lists_the_models():
    with pytest.raises(InputError, match="unknown model; choose from auto, selfie-general"):
        load_segmenter("no-such-model")
    with pytest.raises(InputError, match="meet-full"):
        registry.get("no-such-model")
    assert registry.get("meet").name == "meet-full"


# --- the models folder ---------------------------------------------------------------------------


def test_models_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setattr(store.sys, "platform", "linux")
    monkeypatch.delenv(registry.ENV_MODELS_DIR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert registry.models_dir() == tmp_path / "home" / ".cache" / "greenroom" / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert registry.models_dir() == tmp_path / "xdg" / "greenroom" / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec says: ignore it
    assert registry.models_dir() == tmp_path / "home" / ".cache" / "greenroom" / "models"
    monkeypatch.setenv(registry.ENV_MODELS_DIR, str(tmp_path / "env"))
    assert registry.models_dir() == tmp_path / "env"
    assert registry.models_dir(tmp_path / "flag") == tmp_path / "flag"


def test_platform_cache_dirs(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(store.sys, "platform", "darwin")
    assert registry.platform_cache_dir() == tmp_path / "Library/Caches/greenroom/models"
    monkeypatch.setattr(store.sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert registry.platform_cache_dir() == tmp_path / "local/greenroom/cache/models"


def test_a_file_in_the_folder_is_used_without_download(monkeypatch):
    folder = shared_path("models")
    monkeypatch.setenv(registry.ENV_MODELS_DIR, str(folder))

    def no_download(*args, **kwargs):
        raise AssertionError("must not download a file that is already there")

    monkeypatch.setattr(store, "download_file", no_download)
    segmenter = load_segmenter("meet-lite")
    try:
        assert segmenter.name == "meet-lite"
        assert segmenter.segment(np.zeros((90, 160, 3), np.uint8)).shape == (96, 160)
    finally:
        segmenter.close()


def test_a_wrong_file_is_not_used(tmp_path):
    info = registry.MODELS["meet-lite"]
    (tmp_path / info.filename).write_bytes(b"not the model")
    assert registry.cached_path(info, tmp_path) is None
    with pytest.raises(GreenroomError, match="wrong sha256.*save it as"):
        registry.ensure_model(info, tmp_path, download=False)


# --- downloads against a local server -----------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at /good, a tampered copy at /bad, 500 at /error, 404 elsewhere.

    /flaky sends half of the file then drops the connection on its first request, and honours
    Range requests, so a retry resumes.
    """

    requests: list[tuple[str, str | None]] = []
    flaky_sent = False

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):  # noqa: N802 (http.server's naming)
        type(self).requests.append((self.path, self.headers.get("Range")))
        if self.path == "/error":
            self.send_error(500, "boom")
            return
        if self.path not in ("/good", "/bad", "/flaky"):
            self.send_error(404)
            return
        body = PAYLOAD if self.path != "/bad" else PAYLOAD[:-1] + b"X"
        start = 0
        ranged = self.headers.get("Range")
        if ranged and self.path == "/flaky":
            start = int(ranged.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if self.path == "/flaky" and not type(self).flaky_sent:
            type(self).flaky_sent = True
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])


@pytest.fixture()
def server() -> Iterator[str]:
    _Handler.requests = []
    _Handler.flaky_sent = False
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_good_file(server, tmp_path):
    dest = tmp_path / "sub" / "model.onnx"
    seen = []
    assert download_file(f"{server}/good", dest, PAYLOAD_SHA,
                         progress=lambda done, total: seen.append((done, total))) == dest
    assert dest.read_bytes() == PAYLOAD
    assert list(dest.parent.iterdir()) == [dest]  # no .part left
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))


def test_download_bad_sha_leaves_nothing(server, tmp_path):
    dest = tmp_path / "model.onnx"
    with pytest.raises(DownloadError, match="sha256 is .* not the expected"):
        download_file(f"{server}/bad", dest, PAYLOAD_SHA, backoff=0)
    assert list(tmp_path.iterdir()) == []


def test_download_server_error_is_retried_then_reported(server, tmp_path):
    dest = tmp_path / "model.onnx"
    with pytest.raises(DownloadError, match=r"cannot download http://127\.0\.0\.1:\d+/error: "
                                            r"HTTP 500"):
        download_file(f"{server}/error", dest, PAYLOAD_SHA, retries=3, backoff=0)
    assert [path for path, _ in _Handler.requests] == ["/error"] * 3
    assert list(tmp_path.iterdir()) == []


def test_download_not_found_is_not_retried(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(f"{server}/missing", tmp_path / "m.onnx", PAYLOAD_SHA, backoff=0)
    assert len(_Handler.requests) == 1


def test_download_resumes_after_a_dropped_connection(server, tmp_path):
    dest = tmp_path / "model.onnx"
    download_file(f"{server}/flaky", dest, PAYLOAD_SHA, backoff=0)
    assert dest.read_bytes() == PAYLOAD
    assert _Handler.requests == [("/flaky", None), ("/flaky", f"bytes={len(PAYLOAD) // 2}-")]


def test_download_ignores_range_when_the_server_does(server, tmp_path):
    dest = tmp_path / "model.onnx"
    (tmp_path / "model.onnx.part").write_bytes(b"stale partial bytes")
    download_file(f"{server}/good", dest, PAYLOAD_SHA, backoff=0)  # 200, not 206: start over
    assert dest.read_bytes() == PAYLOAD


def test_download_unreachable_names_url_and_manual_placement(tmp_path):
    info = replace(registry.MODELS["meet-lite"], url="http://127.0.0.1:9/segm_lite_v681.tflite")
    with pytest.raises(DownloadError) as caught:
        registry.ensure_model(info, tmp_path, retries=1)
    message = str(caught.value)
    assert "\n" not in message
    assert "http://127.0.0.1:9/segm_lite_v681.tflite" in message
    assert f"save it as {tmp_path / info.filename}" in message and info.sha256 in message
    assert list(tmp_path.iterdir()) == []


def test_ensure_model_downloads_into_the_folder(server, tmp_path):
    info = replace(registry.MODELS["meet-lite"], url=f"{server}/good", sha256=PAYLOAD_SHA)
    path = registry.ensure_model(info, tmp_path)
    assert path == tmp_path / info.filename and path.read_bytes() == PAYLOAD
    assert registry.cached_path(info, tmp_path) == path
    registry.ensure_model(info, tmp_path)  # second time: from the folder
    assert len(_Handler.requests) == 1


def test_helper_models_use_the_same_store(server, tmp_path, monkeypatch):
    from greenroom.aux_models import AUX_MODELS, aux_model_path

    model = replace(AUX_MODELS["zero-dce"], url=f"{server}/good", sha256=PAYLOAD_SHA)
    monkeypatch.setitem(AUX_MODELS, "zero-dce", model)
    path = aux_model_path("zero-dce", tmp_path)
    assert path == tmp_path / model.filename and path.read_bytes() == PAYLOAD
    assert store.cached_path(model, tmp_path) == path
    assert aux_model_path("zero-dce", tmp_path) == path  # second time: from the folder
    assert len(_Handler.requests) == 1
    monkeypatch.setitem(AUX_MODELS, "zero-dce", replace(model, url=f"{server}/error"))
    monkeypatch.setattr("greenroom.segmentation.download.time.sleep", lambda s: None)
    with pytest.raises(DownloadError) as caught:
        aux_model_path("zero-dce", tmp_path / "other")
    message = str(caught.value)  # one line: what failed and how to place the file by hand
    assert "\n" not in message and "HTTP 500" in message
    assert f"save it as {tmp_path / 'other' / model.filename}" in message


# --- providers ----------------------------------------------------------------------------------


def test_providers_are_checked():
    from greenroom.segmentation.backends import normalize_providers, onnx_providers

    assert normalize_providers("CUDA, cpu") == ["cuda", "cpu"]
    assert normalize_providers(["CUDAExecutionProvider"]) == ["cuda"]
    assert normalize_providers(None) is None
    assert onnx_providers(None) == ["CPUExecutionProvider"]
    with pytest.raises(GreenroomError, match="unknown execution provider 'gpu'"):
        normalize_providers("gpu")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(GreenroomError, match="'cuda'.*not available.*onnxruntime-gpu"):
            onnx_providers("cuda")
    with pytest.raises(GreenroomError, match="ONNX models only"):
        load_segmenter("auto", providers="cuda")


# --- the command line ----------------------------------------------------------------------------


def test_models_list_shows_state(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(registry.ENV_MODELS_DIR, str(tmp_path))
    status, out, _ = run(capsys, "models", "list")
    assert status == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "built-in" in lines["selfie-general"]
    assert "not downloaded" in lines["sinet"] and "onnx" in lines["sinet"]
    assert "Apache-2.0" in lines["deeplabv3"] and "2.78 MB" in lines["deeplabv3"]
    shared = shared_path("models")
    status, out, _ = run(capsys, "models", "list", "--models-dir", shared)
    assert "cached" in next(line for line in out.splitlines() if line.startswith("sinet"))


def test_models_info(capsys):
    status, out, _ = run(capsys, "models", "info", "deeplabv3")
    assert status == 0
    assert registry.MODELS["deeplabv3"].sha256 in out
    assert "softmax (person = channel 15)" in out and "normalise signed" in out
    status, _, err = run(capsys, "models", "info", "nope")
    assert status == 1 and "unknown model" in err


def test_models_download(capsys, server, tmp_path, monkeypatch):
    info = registry.MODELS["meet-lite"]
    monkeypatch.setitem(registry.MODELS, "meet-lite",
                        replace(info, url=f"{server}/good", sha256=PAYLOAD_SHA))
    status, out, err = run(capsys, "models", "download", "meet-lite", "--models-dir", tmp_path)
    assert status == 0, err
    assert (tmp_path / info.filename).read_bytes() == PAYLOAD
    status, out, _ = run(capsys, "models", "download", "meet-lite", "--models-dir", tmp_path)
    assert status == 0 and "already there" in out
    status, out, _ = run(capsys, "models", "download", "selfie-general")
    assert status == 0 and "nothing to download" in out
    monkeypatch.setitem(registry.MODELS, "meet-lite", replace(info, url=f"{server}/error"))
    monkeypatch.setattr("greenroom.segmentation.download.time.sleep", lambda s: None)
    status, _, err = run(capsys, "models", "download", "meet-lite", "--models-dir",
                         tmp_path / "other")
    assert status == 1
    assert [line for line in err.splitlines() if line.startswith("greenroom: error")] == [
        err.strip().splitlines()[-1]
    ]
    assert f"{server}/error" in err and "HTTP 500" in err


def test_model_option_is_validated(capsys, tmp_path):
    photo = tmp_path / "in.png"
    photo.write_bytes(b"")
    status, _, err = run(capsys, "image", photo, "-o", tmp_path / "o.png", "--model", "nope")
    assert status == 2
    assert "unknown model 'nope'; choose from auto, selfie-general" in err
    assert "sinet" in err and ".tflite/.onnx" in err
    status, _, err = run(capsys, "image", photo, "-o", tmp_path / "o.png",
                         "--model", tmp_path / "missing.onnx")
    assert status == 2 and "no such model file" in err
    status, _, err = run(capsys, "eval", tmp_path, "--model", "nope")
    assert status == 2 and "unknown model 'nope'" in err
    status, _, err = run(capsys, "image", photo, "-o", tmp_path / "o.png", "--provider", "gpu")
    assert status == 2 and "unknown execution provider" in err


def test_image_with_a_registry_model_and_models_dir(capsys, tmp_path):
    shared = shared_path("models")
    from greenroom.samples import sample_path

    target = tmp_path / "mask.png"
    status, _, err = run(capsys, "image", sample_path("astronaut.jpg"), "-o", target, "--mask",
                         "--model", "sinet", "--models-dir", shared)
    assert status == 0, err
    from PIL import Image

    mask = np.asarray(Image.open(target))
    assert mask[50:140, 200:270].mean() > 200 and mask[0:100, 420:512].mean() < 60


def test_eval_accepts_registry_models(capsys, monkeypatch):
    root = shared_path("data", "eg1800-dev")
    monkeypatch.setenv(registry.ENV_MODELS_DIR, str(shared_path("models")))
    status, out, err = run(capsys, "eval", root, "--model", "meet-lite", "--stage", "raw",
                           "--limit", "3", "--json")
    assert status == 0, err
    assert '"person_iou"' in out and '"frames": 3' in out
