"""What an install gives: the core's dependencies, the extras, a command line that starts fast."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import click
import numpy as np
import pytest

from greenroom import extras
from greenroom.cli.main import COMMANDS, cli
from tests.cli import error_lines, run


def requirements() -> list[str]:
    return importlib.metadata.requires("greenroom") or []


def test_mediapipe_is_no_dependency_and_numpy_is_2():
    assert not [r for r in requirements() if r.lower().startswith("mediapipe")]
    assert int(np.__version__.split(".")[0]) >= 2


def test_core_leaves_the_camera_and_web_extras_out():
    core = [r for r in requirements() if "extra ==" not in r]
    optional = {module for modules in extras.EXTRAS.values() for module in modules}
    assert not [r for r in core if r.split(">")[0].split("=")[0].strip() in optional]
    assert any(r.startswith("opencv-python-headless") for r in core)


def test_exactly_one_opencv_distribution_is_installed():
    names = {d.metadata["Name"].lower() for d in importlib.metadata.distributions()}
    assert len([n for n in names if n.startswith("opencv")]) == 1, sorted(names)


def test_help_lists_each_command_with_its_own_short_help():
    """The short help kept beside the lazy command table is each command's first paragraph."""
    context = click.Context(cli)
    for name, (_, _, short) in COMMANDS.items():
        command = cli.get_command(context, name)
        assert command is not None and command.name == name
        first = " ".join(command.help.split("\n\n")[0].split())
        assert short == first, name


def test_help_imports_no_runtime():
    """`greenroom --help` must not load OpenCV, PyAV, numpy or a model runtime (start-up time)."""
    code = (
        "import sys\n"
        "from greenroom.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('cv2', 'av', 'numpy', 'onnxruntime', 'ai_edge_litert')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Commands:" in out.stdout and "video" in out.stdout
    assert "HEAVY []" in out.stdout


@pytest.mark.parametrize(
    ("args", "extra", "module"),
    [
        (["serve"], "web", "aiortc"),
        (["camera", "--source", "{clip}", "--duration", "1"], "camera", "pyvirtualcam"),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(capfd, monkeypatch, tmp_path, args, extra, module):
    real = extras.importlib.util.find_spec
    hidden = lambda name, *rest: None if name == module else real(name, *rest)  # noqa: E731
    monkeypatch.setattr(extras.importlib.util, "find_spec", hidden)
    from tests.clips import make_clip

    clip = make_clip(tmp_path / "clip.mp4", frames=5).path
    code, _, err = run(capfd, *[a.format(clip=clip) for a in args])
    assert code == 1
    lines = error_lines(err)
    assert len(lines) == 1, err
    assert f"pip install 'greenroom[{extra}]'" in lines[0] and module in lines[0]


def test_the_public_names_resolve():
    import greenroom

    assert sorted(greenroom.__all__) == sorted([*greenroom._EXPORTS, "__version__"])
    for name in greenroom._EXPORTS:
        assert getattr(greenroom, name) is not None
    with pytest.raises(AttributeError):
        greenroom.no_such_name  # noqa: B018


def test_an_onnx_model_without_onnxruntime_says_so_before_any_download(monkeypatch, tmp_path):
    from greenroom.segmentation import registry

    real = extras.importlib.util.find_spec
    hidden = lambda name, *rest: None if name == "onnxruntime" else real(name, *rest)  # noqa: E731
    monkeypatch.setattr(extras.importlib.util, "find_spec", hidden)

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(registry, "ensure_model", no_download)
    with pytest.raises(extras.MissingExtraError, match=r"greenroom\[onnx\]"):
        registry.load(registry.MODELS["sinet"], directory=tmp_path)
