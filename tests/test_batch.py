"""`greenroom batch`: mirrored outputs, the manifest, resume, per-file errors, worker faults."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from greenroom.compositing import EffectSpec
from greenroom.errors import GreenroomError
from greenroom.jobs import manifest
from greenroom.jobs.executors import choose_layout as layout
from greenroom.jobs.plan import plan
from greenroom.jobs.settings import JobSettings
from greenroom.samples import sample_path
from tests.cli import no_temp_files, run
from tests.clips import make_clip

ROOT = Path(__file__).resolve().parents[1]


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def records(out: Path) -> list[dict]:
    lines = (out / manifest.MANIFEST_NAME).read_text().splitlines()
    return [json.loads(line) for line in lines]


def no_temp_files_below(folder: Path) -> bool:
    return all(no_temp_files(Path(d)) for d, _, _ in os.walk(folder))


@pytest.fixture
def library(tmp_path) -> Path:
    """Two clips (one in a subfolder), two photos, a corrupt video and a text file."""
    root = tmp_path / "in"
    (root / "week1").mkdir(parents=True)
    make_clip(root / "week1" / "talk.mp4", frames=24)
    make_clip(root / "intro.mov", frames=12, audio=False)
    shutil.copy(sample_path("astronaut.jpg"), root / "astronaut.jpg")
    shutil.copy(sample_path("rocket.jpg"), root / "week1" / "rocket.jpg")
    (root / "broken.mp4").write_bytes(b"not a video")
    (root / "notes.txt").write_text("not media")
    return root


def test_a_batch_mirrors_the_tree_records_everything_and_keeps_going(capfd, library, tmp_path):
    out = tmp_path / "out"
    code, _, err = run(capfd, "batch", library, "-o", out, "--no-progress", "--workers", "2")
    assert code == 1  # one file failed
    assert frame_count(out / "week1" / "talk.mp4") == 24
    assert frame_count(out / "intro.mov") == 12
    assert (out / "astronaut.jpg").is_file() and (out / "week1" / "rocket.jpg").is_file()
    assert not (out / "notes.txt").exists() and not (out / "broken.mp4").exists()
    by_input = {Path(r["input"]).name: r for r in records(out)}
    assert set(by_input) == {"talk.mp4", "intro.mov", "astronaut.jpg", "rocket.jpg", "broken.mp4"}
    assert by_input["talk.mp4"]["status"] == "done" and by_input["talk.mp4"]["frames"] == 24
    assert by_input["broken.mp4"]["status"] == "failed"
    assert "broken.mp4" in by_input["broken.mp4"]["error"]
    assert len([line for line in err.splitlines() if "error" in line]) == 1
    assert "4 files done, 1 failed of 5" in err
    # the talk keeps its audio track
    with av.open(str(out / "week1" / "talk.mp4")) as container:
        assert container.streams.audio


def test_a_rerun_skips_what_is_done_and_redoes_what_changed(capfd, library, tmp_path):
    out = tmp_path / "out"
    (library / "broken.mp4").unlink()
    assert run(capfd, "batch", library, "-o", out, "--no-progress")[0] == 0
    first = {r["input"]: r for r in records(out)}
    code, _, err = run(capfd, "batch", library, "-o", out, "--no-progress")
    assert code == 0 and "nothing to do: all 4 files already done" in err
    assert len(records(out)) == len(first)  # nothing appended

    make_clip(library / "intro.mov", frames=15, audio=False)  # the input changed
    (out / "astronaut.jpg").unlink()  # an output went missing
    code, _, err = run(capfd, "batch", library, "-o", out, "--no-progress")
    assert code == 0 and "2 files done, 2 already done of 4" in err
    assert frame_count(out / "intro.mov") == 15 and (out / "astronaut.jpg").is_file()

    code, _, err = run(capfd, "batch", library, "-o", out, "--no-progress", "--blur", "40")
    assert code == 0 and "4 files done of 4" in err  # other settings: everything again


def test_the_output_folder_inside_the_input_is_never_read_as_input(capfd, library):
    out = library / "blurred"
    assert run(capfd, "batch", library, "-o", out, "--no-progress")[0] == 1
    code, _, err = run(capfd, "batch", library, "-o", out, "--no-progress")
    # no result of the first run became an input: still 5 planned, only broken.mp4 failing
    assert "of 5" in err
    assert [line for line in err.splitlines() if "error" in line and "broken.mp4" not in line] == []
    assert not (out / "blurred").exists()


def test_colliding_outputs_and_empty_inputs_are_errors_before_any_work(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        shutil.copy(sample_path("rocket.jpg"), tmp_path / folder / "x.jpg")
    settings = JobSettings()
    with pytest.raises(GreenroomError, match="would both be written"):
        plan([str(tmp_path / "a"), str(tmp_path / "b")], str(tmp_path / "out"), settings)
    mattes = JobSettings(effect=EffectSpec(mask=True))
    masks = plan([str(tmp_path / "a")], str(tmp_path / "out"), mattes)
    assert [Path(t.output).name for t in masks] == ["x.png"]  # mattes are lossless PNG
    one = [str(tmp_path / "a" / "x.jpg")]
    cutouts = plan(one, str(tmp_path / "o"), JobSettings(effect=EffectSpec(transparent=True)))
    assert Path(cutouts[0].output).suffix == ".png"


def test_layout_uses_every_core_within_memory():
    gib = 1024**3
    choose_layout = lambda **kw: tuple(vars(layout(**kw)).values())  # noqa: E731
    assert choose_layout(cores=2, memory=24 * gib) == (2, 1)
    assert choose_layout(cores=8, memory=24 * gib) == (8, 1)
    assert choose_layout(cores=8, memory=1 * gib) == (1, 8)  # memory caps the workers
    assert choose_layout(workers=1, cores=4, memory=24 * gib) == (1, 4)
    assert choose_layout(workers=2, threads=3, cores=4) == (2, 3)


def start_batch(library: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "greenroom", "batch", str(library), "-o", str(out),
         "--no-progress", "--workers", "2", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_for(condition, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def long_clips(tmp_path) -> Path:
    root = tmp_path / "clips"
    root.mkdir()
    for name in ("a", "b", "c"):
        make_clip(root / f"{name}.mp4", frames=150, width=640, height=360)
    return root


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_killing_a_worker_mid_file_loses_nothing(long_clips, tmp_path):
    out = tmp_path / "out"
    process = start_batch(long_clips, out)
    try:
        wait_for(lambda: out.exists() and any(".tmp-" in p.name for p in out.iterdir()))
        workers = [p for p in children(process.pid) if p != process.pid]
        assert workers
        os.kill(max(workers), signal.SIGKILL)  # a worker is mid-file: the output is temporary
        _, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    for name in ("a", "b", "c"):
        assert frame_count(out / f"{name}.mp4") == 150
    assert no_temp_files_below(out)
    newest = {r["input"]: r for r in records(out)}
    assert all(r["status"] == "done" for r in newest.values())
    assert max(r["attempts"] for r in newest.values()) >= 2  # the killed file ran again


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
    reason="SIGINT is ignored in this test run (a background job of a shell without job "
    "control), so the batch it starts ignores Ctrl-C too",
)
def test_ctrl_c_then_rerun_finishes_the_rest(long_clips, tmp_path):
    out = tmp_path / "out"
    process = start_batch(long_clips, out, "--workers", "1")
    try:
        wait_for(lambda: (out / manifest.MANIFEST_NAME).exists()
                 and (out / manifest.MANIFEST_NAME).read_text().count("\n") >= 1)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0
    finished = {Path(r["input"]).name for r in records(out) if r["status"] == "done"}
    assert 1 <= len(finished) < 3
    assert no_temp_files_below(out)
    rerun = start_batch(long_clips, out)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert f"{len(finished)} already done" in err
    for name in ("a", "b", "c"):
        assert frame_count(out / f"{name}.mp4") == 150


def test_the_matte_knobs_reach_the_workers(capfd, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(sample_path("astronaut.jpg"), folder / "a.jpg")
    out = tmp_path / "out"
    code, _, err = run(capfd, "batch", folder, "-o", out, "--no-progress", "--mask",
                       "--threshold", "0.5", "--workers", "1")
    assert code == 0, err
    import numpy as np
    from PIL import Image

    matte = np.asarray(Image.open(out / "a.png"))
    assert set(np.unique(matte).tolist()) == {0, 255}  # hard: the threshold was applied
    assert 0.2 < (matte == 255).mean() < 0.8


def test_matte_quality_reaches_the_workers():
    from greenroom.jobs.filework import processor_for

    fast = processor_for(JobSettings(matte_quality="fast"), "image")
    assert fast.refiner is None  # fast: the model's mask, no refinement
    balanced = processor_for(JobSettings(matte_quality="balanced"), "video")
    assert balanced.refiner is not None and balanced.temporal is not None
    steady_off = processor_for(JobSettings(matte_quality="balanced", temporal=False), "video")
    assert steady_off.temporal is None  # --no-temporal still wins


def test_inputs_and_outputs_as_fsspec_urls(tmp_path):
    """What a cluster does with object storage, through fsspec's file:// protocol."""
    pytest.importorskip("fsspec", reason="URLs need greenroom[cluster]")
    from greenroom.jobs.batch import run_batch

    source = tmp_path / "in" / "sub"
    source.mkdir(parents=True)
    make_clip(source / "a.mp4", frames=10)
    shutil.copy(sample_path("rocket.jpg"), source / "b.jpg")
    out = tmp_path / "out"
    summary = run_batch([f"file://{tmp_path / 'in'}"], f"file://{out}", JobSettings(),
                        workers=1, manifest_path=tmp_path / "m.jsonl")
    assert (summary.done, summary.failed) == (2, 0), summary.failures
    assert frame_count(out / "sub" / "a.mp4") == 10 and (out / "sub" / "b.jpg").is_file()
    assert not [p for p in (out / "sub").iterdir() if p.name.startswith(".")]
    again = run_batch([f"file://{tmp_path / 'in'}"], f"file://{out}", JobSettings(),
                      workers=1, manifest_path=tmp_path / "m.jsonl")
    assert again.skipped == 2  # resume compares the URLs' sizes and times too


def test_no_result_may_land_on_an_input(capfd, tmp_path):
    """A photo named with -o its own folder, or a background among the inputs: refused, intact."""
    photo = tmp_path / "a.jpg"
    shutil.copy(sample_path("astronaut.jpg"), photo)
    background = tmp_path / "b.jpg"
    shutil.copy(sample_path("rocket.jpg"), background)
    before = {p: p.read_bytes() for p in (photo, background)}
    code, _, err = run(capfd, "batch", photo, "-o", tmp_path, "--no-progress")
    assert code == 1 and "is the photo" in err and "refusing to overwrite" in err
    (tmp_path / "x").mkdir()
    shutil.copy(background, tmp_path / "x" / "b.jpg")
    code, _, err = run(capfd, "batch", background, "-o", tmp_path / "x", "--no-progress",
                       "--background", tmp_path / "x" / "b.jpg")
    assert code == 1 and "is the background image" in err
    assert {p: p.read_bytes() for p in (photo, background)} == before
    assert not (tmp_path / "greenroom-batch.jsonl").exists()  # refused before any work
