"""The model catalogue: `catalogue.toml` read, checked and turned into `ModelInfo` records.

The catalogue is data, not code: one TOML file in the package lists every model of the zoo
(where its file comes from, its sha256, license, speed and how to run it), the short aliases, and
the helper models that are not person segmenters (`aux_models.py`). It is read once, on import,
and checked entry by entry, so a mistake in it (a sha256 one digit short, a speed no one knows,
a spec a backend would reject) stops greenroom with one line naming the file and the entry
rather than failing later, at the first download or the first frame.

Where the files live and how they are fetched is `store.py`'s job; how they are run is the
runtimes' (`backends.py`, `mediapipe_selfie.py`, `recurrent.py`), chosen by `loader.py`.
"""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenroom.errors import InputError
from greenroom.segmentation.specs import NORMALIZATIONS, ModelSpec
from greenroom.segmentation.wheel import WheelSource

#: The catalogue shipped inside the package.
CATALOGUE_FILE = "catalogue.toml"
#: Per 720p frame on 2 CPU threads: "fast" < 10 ms, "medium" < 40 ms, "slow"; "unmeasured" for a
#: model no copy of which was at hand to time.
SPEEDS = ("fast", "medium", "slow", "unmeasured")
#: File endings -> the runtime that runs them.
BACKENDS = {".onnx": "onnx", ".tflite": "tflite"}
#: Kinds of helper model (`aux_models.py`).
HELPER_KINDS = ("low-light", "depth")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ModelInfo:
    """One model of the zoo."""

    name: str
    filename: str
    size: int
    license: str
    source: str
    #: One of `SPEEDS`.
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
    #: (width, height) of a built-in model run with MediaPipe's own preprocessing (so it has no
    #: spec); None for the others, including a built-in model with a spec (run by the spec).
    input_size: tuple[int, int] | None = None

    @property
    def backend(self) -> str:
        return "onnx" if self.filename.endswith(".onnx") else "tflite"


@dataclass(frozen=True)
class AuxModel:
    """A downloadable helper model (low-light enhancer, depth estimator) and its input size."""

    name: str
    kind: str  # one of HELPER_KINDS
    filename: str
    sha256: str
    width: int
    height: int
    license: str
    url: str
    # What the file store asks of every model file: none of these ships in a wheel or inside
    # greenroom.
    wheel: WheelSource | None = None
    builtin: bool = False


@dataclass(frozen=True)
class Catalogue:
    """Everything `catalogue.toml` holds, checked."""

    models: dict[str, ModelInfo]
    aliases: dict[str, str]
    helpers: dict[str, AuxModel]


class _Entry:
    """Typed reads from one table of the catalogue; every problem is one line naming it."""

    def __init__(self, path: Path, where: str, data: Any) -> None:
        self.path, self.where = path, where
        if not isinstance(data, dict):
            self.fail("must be a table")
        self.data: dict[str, Any] = data

    def fail(self, problem: str) -> None:
        raise InputError(self.path, f"[{self.where}] {problem}")

    def only(self, allowed: set[str]) -> None:
        unknown = sorted(set(self.data) - allowed)
        if unknown:
            self.fail(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        """The value of `key` if it has this type (bool is not an int here), else an error."""
        if key not in self.data:
            return default
        value = self.data[key]
        wanted = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in wanted:
            self.fail(f"{key} must be {_kind_name(kind)}, not {value!r}")
        if not isinstance(value, wanted):
            self.fail(f"{key} must be {_kind_name(kind)}, not {value!r}")
        return value

    def need(self, key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in self.data:
            self.fail(f"missing required key {key!r}")
        return self.get(key, kind)

    def text(self, key: str, *, required: bool = True) -> str | None:
        value = self.need(key, str) if required else self.get(key, str)
        if required and not value.strip():
            self.fail(f"{key} must not be empty")
        return value

    def positive(self, key: str) -> int:
        value = self.need(key, int)
        if value <= 0:
            self.fail(f"{key} must be > 0, not {value}")
        return value

    def sha256(self) -> str:
        value = self.need("sha256", str)
        if not _SHA256.fullmatch(value):
            self.fail(f"sha256 must be 64 lowercase hex digits, not {value!r}")
        return value

    def filename(self) -> str:
        value = self.text("filename")
        if "/" in value or "\\" in value:
            self.fail(f"filename must be a plain file name, not {value!r}")
        if Path(value).suffix.lower() not in BACKENDS:
            self.fail(f"filename {value!r} has no known runtime; it must end in "
                      f"{' or '.join(BACKENDS)}")
        return value

    def url(self, filename: str) -> str | None:
        value = self.get("url", str)
        if value is not None and not (value.startswith("https://")
                                      and value.rsplit("/", 1)[-1] == filename):
            self.fail(f"url must be https:// and end with the file name {filename}")
        return value

    def wheel(self, filename: str) -> WheelSource | None:
        if "wheel" not in self.data:
            return None
        table = _Entry(self.path, f"{self.where}.wheel", self.data["wheel"])
        table.only({"package", "version", "member"})
        source = WheelSource(table.text("package"), table.text("version"), table.text("member"))
        if source.member.rsplit("/", 1)[-1] != filename:
            table.fail(f"member must be the file {filename} inside the wheel")
        return source

    def size_pair(self, key: str) -> tuple[int, int]:
        table = _Entry(self.path, f"{self.where}.{key}", self.need(key, dict))
        table.only({"width", "height"})
        return table.positive("width"), table.positive("height")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
             dict: "a table", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


_MODEL_KEYS = {"filename", "size", "sha256", "url", "wheel", "license", "source", "speed",
               "notes", "terms", "builtin", "recurrent", "matting", "input", "spec"}
_SPEC_KEYS = {"width", "height", "layout", "channels", "normalize", "mean", "std", "resize",
              "decode", "person_channel", "output_index", "keep_aspect", "multiple"}
_HELPER_KEYS = {"kind", "filename", "sha256", "url", "input", "license"}


def _spec(entry: _Entry) -> ModelSpec:
    """The `[models.NAME.spec]` table as a `ModelSpec`, rejected here if the spec would be."""
    table = _Entry(entry.path, f"{entry.where}.spec", entry.data["spec"])
    table.only(_SPEC_KEYS)
    values: dict[str, Any] = {"width": table.positive("width"), "height": table.positive("height")}
    for key in ("layout", "channels", "resize", "decode"):
        if key in table.data:
            values[key] = table.get(key, str)
    for key in ("person_channel", "output_index", "multiple"):
        if key in table.data:
            values[key] = table.get(key, int)
    if "keep_aspect" in table.data:
        values["keep_aspect"] = table.get("keep_aspect", bool)
    normalize = table.get("normalize", str)
    if normalize is not None:
        if normalize not in NORMALIZATIONS or {"mean", "std"} & set(table.data):
            table.fail(f"normalize must be one of {', '.join(NORMALIZATIONS)}, without "
                       "mean and std")
        values["mean"], values["std"] = NORMALIZATIONS[normalize]
    for key in ("mean", "std"):
        if key in table.data:
            numbers = table.get(key, list)
            if len(numbers) != 3 or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in numbers
            ):
                table.fail(f"{key} must be 3 numbers, not {numbers!r}")
            values[key] = tuple(float(v) for v in numbers)
    try:
        return ModelSpec(**values)
    except ValueError as exc:
        table.fail(str(exc))
        raise  # unreachable: fail raises


def _model(path: Path, name: str, data: Any) -> ModelInfo:
    """One `[models.NAME]` entry, checked."""
    entry = _Entry(path, f"models.{name}", data)
    entry.only(_MODEL_KEYS)
    filename = entry.filename()
    speed = entry.text("speed")
    if speed not in SPEEDS:
        entry.fail(f"speed must be one of {', '.join(SPEEDS)}, not {speed!r}")
    builtin = entry.get("builtin", bool, False)
    recurrent = entry.get("recurrent", bool, False)
    url, wheel = entry.url(filename), entry.wheel(filename)
    has_spec = "spec" in entry.data
    if builtin:
        if url or wheel or recurrent or has_spec == ("input" in entry.data):
            entry.fail("a built-in model has input = { width, height } (MediaPipe's "
                       "preprocessing) or a [spec] table (run by spec), not both, and no url, "
                       "wheel or recurrent")
    else:
        if not (url or wheel):
            entry.fail("needs a url or a wheel to download the file from")
        if has_spec == recurrent:
            entry.fail("needs a [spec] table, or recurrent = true (not both)")
        if "input" in entry.data:
            entry.fail("input = { width, height } is for built-in models; the others have a spec")
    return ModelInfo(
        name=name,
        filename=filename,
        size=entry.positive("size"),
        license=entry.text("license"),
        source=entry.text("source"),
        speed=speed,
        notes=entry.text("notes"),
        spec=_spec(entry) if has_spec else None,
        url=url,
        sha256=entry.sha256(),
        builtin=builtin,
        recurrent=recurrent,
        matting=entry.get("matting", bool, False),
        wheel=wheel,
        terms=entry.text("terms", required=False) or "",
        input_size=entry.size_pair("input") if builtin and not has_spec else None,
    )


def _helper(path: Path, name: str, data: Any) -> AuxModel:
    """One `[helpers.NAME]` entry, checked."""
    entry = _Entry(path, f"helpers.{name}", data)
    entry.only(_HELPER_KEYS)
    kind = entry.text("kind")
    if kind not in HELPER_KINDS:
        entry.fail(f"kind must be one of {', '.join(HELPER_KINDS)}, not {kind!r}")
    filename = entry.filename()
    url = entry.url(filename)
    if url is None:
        entry.fail("missing required key 'url'")
    width, height = entry.size_pair("input")
    return AuxModel(name, kind, filename, entry.sha256(), width, height, entry.text("license"),
                    url)


def _table(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InputError(path, f"[{key}] must be a table")
    return value


def _records(path: Path, data: dict[str, Any], key: str,
             make: Callable[[Path, str, Any], Any]) -> dict[str, Any]:
    return {name: make(path, name, value) for name, value in _table(path, data, key).items()}


def parse_catalogue(data: Mapping[str, Any], path: Path) -> Catalogue:
    """Check a catalogue's TOML document (`path` only names it in errors) and build it."""
    unknown = sorted(set(data) - {"models", "aliases", "helpers"})
    if unknown:
        raise InputError(path, f"unknown table(s) {', '.join(unknown)}; known: models, "
                         "aliases, helpers")
    document = dict(data)
    models = _records(path, document, "models", _model)
    if not models:
        raise InputError(path, "[models] lists no model")
    aliases = _table(path, document, "aliases")
    for alias, target in aliases.items():
        if alias in models or target not in models:
            raise InputError(path, f"[aliases] {alias} = {target!r}: an alias must be a new "
                             "name for a model of [models]")
    helpers = _records(path, document, "helpers", _helper)
    return Catalogue(models, dict(aliases), helpers)


def read_catalogue(path: str | Path) -> Catalogue:
    """Read and check a catalogue file; any problem is one `InputError` naming it."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise InputError(path, f"cannot read the model catalogue: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML ({exc})") from None
    return parse_catalogue(data, path)


def shipped_catalogue_path() -> Path:
    """The path of the catalogue inside the installed package."""
    return Path(str(importlib.resources.files("greenroom.segmentation") / CATALOGUE_FILE))


CATALOGUE = read_catalogue(shipped_catalogue_path())
#: The zoo by name, in the catalogue's order.
MODELS: dict[str, ModelInfo] = CATALOGUE.models
#: Short names that also work.
ALIASES: dict[str, str] = CATALOGUE.aliases
#: The helper models (low light, depth) by name.
HELPERS: dict[str, AuxModel] = CATALOGUE.helpers


def resolve_name(name: str) -> str:
    """A model's own name for `name`, which may be an alias."""
    return ALIASES.get(name, name)


def get(name: str) -> ModelInfo:
    """The catalogue entry for `name` (or an alias); InputError listing the names otherwise."""
    info = MODELS.get(resolve_name(name))
    if info is None:
        raise InputError(f"model {name!r}", f"unknown model; choose from {', '.join(MODELS)}")
    return info
