"""The model catalogue as data (catalogue.toml), its checks, and `ModelRequest` on its way to
the loader: from the library, from every command's options, and to batch workers."""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from greenroom.aux_models import AUX_MODELS
from greenroom.cli.batch import job_settings
from greenroom.cli.options import EffectArgs
from greenroom.errors import GreenroomError, InputError
from greenroom.segmentation import ModelRequest, load, registry
from greenroom.segmentation.catalogue import (
    AuxModel,
    ModelInfo,
    parse_catalogue,
    read_catalogue,
    shipped_catalogue_path,
)
from greenroom.segmentation.mediapipe_selfie import VARIANTS
from greenroom.segmentation.specs import ModelSpec
from tests.cli import run

SHIPPED = shipped_catalogue_path()


def shipped_data() -> dict:
    with SHIPPED.open("rb") as handle:
        return tomllib.load(handle)


# --- the shipped catalogue -----------------------------------------------------------------------


def test_every_entry_loads_into_a_model_info():
    data = shipped_data()
    catalogue = read_catalogue(SHIPPED)
    assert list(catalogue.models) == list(data["models"])  # every entry, in the file's order
    for name, info in catalogue.models.items():
        assert isinstance(info, ModelInfo) and info.name == name
        assert info.filename == data["models"][name]["filename"]
        assert info.size == data["models"][name]["size"] > 0
        assert isinstance(info.spec, ModelSpec) or info.builtin or info.recurrent, name
    # The package's own tables are these records: one catalogue, not a second list.
    assert catalogue.models == registry.MODELS and catalogue.aliases == registry.ALIASES
    assert set(catalogue.helpers) == set(AUX_MODELS)
    assert all(isinstance(m, AuxModel) for m in AUX_MODELS.values())


def test_spec_tables_become_the_specs_the_backends_run():
    sinet = registry.MODELS["sinet"].spec
    assert sinet is not None
    assert (sinet.layout, sinet.channels, sinet.decode) == ("nchw", "bgr", "probability")
    assert sinet.std == (62.93292 * 255, 62.82138 * 255, 66.355705 * 255)  # bit for bit
    deeplab = registry.MODELS["deeplabv3"].spec
    assert deeplab is not None
    assert (deeplab.mean, deeplab.std) == ((127.5,) * 3, (127.5,) * 3)  # normalize = "signed"
    modnet = registry.MODELS["modnet"].spec
    assert modnet is not None and modnet.keep_aspect and modnet.multiple == 32


def test_the_mediapipe_variants_come_from_the_catalogue():
    builtin = {n: i for n, i in registry.MODELS.items() if i.builtin}
    assert set(builtin) == {"selfie-general", "selfie-landscape", "greenroom-selfie"}
    # MediaPipe's two run with its exact warp; greenroom's fine-tune by its spec (a plain resize)
    assert {v.model for v in VARIANTS.values()} == {"selfie-general", "selfie-landscape"}
    tuned = builtin["greenroom-selfie"]
    assert tuned.input_size is None and tuned.spec is not None
    assert (tuned.spec.width, tuned.spec.height, tuned.spec.decode) == (256, 256, "probability")
    assert (tuned.spec.mean, tuned.spec.std, tuned.spec.resize) == ((0.0,) * 3, (255.0,) * 3,
                                                                    "bilinear")
    for variant in VARIANTS.values():
        info = builtin[variant.model]
        assert variant.filename == info.filename
        assert (variant.width, variant.height) == info.input_size
    assert (VARIANTS["landscape"].width, VARIANTS["landscape"].height) == (256, 144)


# --- the checks: one line naming the file and the entry -----------------------------------------


def broken(change) -> str:
    """The one-line error for the shipped catalogue with `change` applied to its data."""
    data = copy.deepcopy(shipped_data())
    change(data)
    with pytest.raises(InputError) as error:
        parse_catalogue(data, SHIPPED)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{SHIPPED}: ")
    return message


def _set(table: str, key: str, value) -> object:
    def change(data: dict) -> None:
        target = data
        for part in table.split("."):
            target = target[part]
        target[key] = value
    return change


def _drop(table: str, key: str) -> object:
    def change(data: dict) -> None:
        target = data
        for part in table.split("."):
            target = target[part]
        del target[key]
    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_set("models.meet-lite", "sha256", "b1357"), "[models.meet-lite] sha256 must be 64"),
        (_set("models.meet-lite", "sha256", "B" * 64), "[models.meet-lite] sha256 must be 64"),
        (_drop("models.sinet", "license"), "[models.sinet] missing required key 'license'"),
        (_set("models.sinet", "size", 0), "[models.sinet] size must be > 0"),
        (_set("models.sinet", "size", "395434"), "[models.sinet] size must be a whole number"),
        (_set("models.sinet", "size", True), "[models.sinet] size must be a whole number"),
        (_set("models.sinet", "speed", "quick"), "[models.sinet] speed must be one of fast"),
        (_set("models.sinet", "filename", "SINet.pt"), "[models.sinet] filename 'SINet.pt' has "
         "no known runtime"),
        (_set("models.sinet", "licence", "MIT"), "[models.sinet] unknown key(s) licence"),
        (_set("models.sinet", "url", "http://example.com/SINet_Softmax_simple.onnx"),
         "[models.sinet] url must be https://"),
        (_set("models.sinet.spec", "decode", "logits"), "[models.sinet.spec] decode must be"),
        (_set("models.sinet.spec", "mean", [1, 2]), "[models.sinet.spec] mean must be 3 numbers"),
        (_drop("models.sinet", "spec"), "[models.sinet] needs a [spec] table, or recurrent"),
        (_drop("models.meet-lite", "url"), "[models.meet-lite] needs a url or a wheel"),
        (_set("models.modnet.wheel", "member", "x/other.onnx"),
         "[models.modnet.wheel] member must be the file modnet.onnx"),
        (_set("models.selfie-general", "url", "https://example.com/selfie_segmentation.tflite"),
         "[models.selfie-general] a built-in model has input"),
        (_drop("models.selfie-general", "input"),
         "[models.selfie-general] a built-in model has input"),
        (_set("models.greenroom-selfie", "input", {"width": 256, "height": 256}),
         "[models.greenroom-selfie] a built-in model has input = { width, height } (MediaPipe's "
         "preprocessing) or a [spec] table (run by spec), not both"),
        (_set("aliases", "meet", "meet-fulll"), "[aliases] meet = 'meet-fulll'"),
        (_set("helpers.zero-dce", "kind", "denoise"), "[helpers.zero-dce] kind must be one of"),
        (_set("helpers", "new", {"kind": "depth"}), "[helpers.new] missing required key"),
        (_set("models", "empty", []), "[models.empty] must be a table"),
    ],
)
def test_a_broken_entry_is_one_line_naming_it(change, expected):
    assert expected in broken(change)


def test_a_broken_file_is_named(tmp_path):
    bad = tmp_path / "catalogue.toml"
    bad.write_text(SHIPPED.read_text(encoding="utf-8").replace('speed = "medium"',
                                                               'speed = "brisk"', 1))
    with pytest.raises(InputError, match=r"catalogue\.toml: \[models\.bodypix-mobilenet050-8\] "
                       r"speed must be one of fast, medium, slow, unmeasured, not 'brisk'"):
        read_catalogue(bad)
    bad.write_text("[models\n")
    with pytest.raises(InputError, match="catalogue.toml: not valid TOML"):
        read_catalogue(bad)
    with pytest.raises(InputError, match="cannot read the model catalogue"):
        read_catalogue(tmp_path / "absent.toml")


# --- ModelRequest -------------------------------------------------------------------------------


def test_a_request_is_plain_checked_data(tmp_path):
    request = ModelRequest(tmp_path / "m.onnx", 2, tmp_path, "CUDAExecutionProvider, cpu")
    assert request.name == str(tmp_path / "m.onnx") and request.models_dir == str(tmp_path)
    assert request.providers == ("cuda", "cpu")
    assert request == ModelRequest(str(tmp_path / "m.onnx"), 2, str(tmp_path), ["cuda", "cpu"])
    assert hash(request) == hash(ModelRequest(str(tmp_path / "m.onnx"), 2, str(tmp_path),
                                              ("cuda", "cpu")))
    assert ModelRequest().providers is None and ModelRequest(providers="").providers is None
    with pytest.raises(GreenroomError, match="unknown execution provider 'gpu'"):
        ModelRequest(providers="gpu")


def test_load_follows_the_request(tmp_path):
    segmenter = load(ModelRequest("general", 1))
    try:
        assert segmenter.name == "selfie-general"
    finally:
        segmenter.close()
    with pytest.raises(GreenroomError, match="ONNX models only"):
        load(ModelRequest("landscape", providers="cuda"))
    pytest.importorskip("onnxruntime")
    with pytest.raises(GreenroomError, match="model sinet is not downloaded.*save it as "
                       + re.escape(str(tmp_path / "SINet_Softmax_simple.onnx"))):
        load(ModelRequest("sinet", models_dir=tmp_path, download=False))


# --- the commands pass their options on, nothing kept between invocations -----------------------


@pytest.fixture
def requests_seen(monkeypatch) -> list[ModelRequest]:
    """Every request the commands hand the loader; each gets the real `auto` model."""
    seen: list[ModelRequest] = []

    def recording_load(request: ModelRequest):
        seen.append(request)
        return load(ModelRequest("auto", request.num_threads))

    monkeypatch.setattr("greenroom.cli.options.load", recording_load)
    return seen


def test_image_passes_its_model_options_and_forgets_them(capsys, tmp_path, requests_seen):
    photo = tmp_path / "in.png"
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(photo)
    first, second = tmp_path / "a", tmp_path / "b"
    status, _, err = run(capsys, "image", photo, "-o", tmp_path / "1.png", "--model", "sinet",
                         "--models-dir", first, "--provider", "cpu", "--threads", "1")
    assert status == 0, err
    status, _, err = run(capsys, "image", photo, "-o", tmp_path / "2.png", "--model", "meet",
                         "--models-dir", second)
    assert status == 0, err
    status, _, err = run(capsys, "image", photo, "-o", tmp_path / "3.png")
    assert status == 0, err
    assert requests_seen == [
        ModelRequest("sinet", 1, str(first), ("cpu",)),
        ModelRequest("meet", None, str(second), None),
        ModelRequest("auto", None, None, None),
    ]


def test_eval_passes_its_model_options(capsys, tmp_path, requests_seen):
    for folder in ("images", "masks"):
        (tmp_path / "set" / folder).mkdir(parents=True)
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(tmp_path / "set/images/a.png")
    Image.fromarray(np.zeros((48, 64), np.uint8)).save(tmp_path / "set/masks/a.png")
    status, out, err = run(capsys, "eval", tmp_path / "set", "--stage", "raw", "--json",
                           "--model", "deeplabv3", "--models-dir", tmp_path / "m",
                           "--provider", "cpu")
    assert status == 0, err
    assert requests_seen == [ModelRequest("deeplabv3", None, str(tmp_path / "m"), ("cpu",))]
    status, _, err = run(capsys, "eval", tmp_path / "set", "--stage", "raw", "--json")
    assert status == 0, err
    assert requests_seen[1] == ModelRequest("auto")


def test_batch_ships_the_request_to_its_workers_as_plain_data(tmp_path):
    chosen = EffectArgs(model="sinet", threads=3, models_dir=str(tmp_path / "m"),
                        provider=("cpu",))
    settings = job_settings(chosen)
    assert (settings.models_dir, settings.providers) == (str((tmp_path / "m").resolve()), ("cpu",))
    assert settings.model_request("modnet") == ModelRequest(
        "modnet", 3, str((tmp_path / "m").resolve()), ("cpu",)
    )
    assert job_settings(EffectArgs()).model_request("auto") == ModelRequest("auto")
    # The providers only change how fast a file is made, so a rerun with others skips it.
    assert job_settings(EffectArgs(provider=("cpu",))).fingerprint() == job_settings(
        EffectArgs()).fingerprint()


def test_a_config_file_sets_the_model_options(capsys, tmp_path, requests_seen):
    photo = tmp_path / "in.png"
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(photo)
    config = tmp_path / "greenroom.toml"
    config.write_text(f'models_dir = "{Path(tmp_path / "m").as_posix()}"\nprovider = "cpu"\n')
    status, _, err = run(capsys, "image", photo, "-o", tmp_path / "o.png", "--config", config)
    assert status == 0, err
    assert requests_seen == [ModelRequest("auto", None, str(tmp_path / "m"), ("cpu",))]


def test_fast_models_default_to_one_inference_thread(monkeypatch):
    """A fast model gets one thread (a second costs CPU for little time), the others two."""
    from greenroom.segmentation import base

    monkeypatch.setattr(base.os, "cpu_count", lambda: 8)
    assert base.default_threads("fast") == 1
    assert base.default_threads("slow") == base.default_threads() == 2
    monkeypatch.setattr(base.os, "cpu_count", lambda: 1)
    assert base.default_threads("medium") == 1
    speeds = {info.speed for info in registry.MODELS.values()}
    assert "fast" in speeds and speeds <= {"fast", "medium", "slow"}
