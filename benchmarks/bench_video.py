"""Video pipeline speed: greenroom's file and live paths against the floor and a naive loop.

One run, one process, so the ratios are comparable even on a noisy shared machine:

1. file throughput of `convert_video` (default model, default blur, x264 preset veryfast);
2. the floor: the same clip through decode + encode alone (VideoFileSource -> VideoFileSink);
3. the naive tutorial loop: cv2.VideoCapture -> MediaPipe SelfieSegmentation -> np.where over a
   full-resolution 55x55 GaussianBlur -> cv2.VideoWriter (mp4v);
4. CPU seconds per frame of each (process CPU time: every thread of the process);
5. the live path as `greenroom camera --source clip.mp4 --loop --realtime` runs it, into a null
   virtual camera: frames/s, capture-to-output latency, drops, CPU with and without the decoder
   that feeds it; then the same fed by a camera stand-in (MJPEG frames from memory);
6. resident memory over 10,000 frames of a looped 640x360 clip;
7. start-up: a fresh process's imports, model set-up and codec set-up around a one-frame clip.

The clips are generated in a temporary folder (or --workdir) with PyAV: the DAVIS "dance-twirl"
frames from ../shared/data when present (a real dancer, 854x480, scaled up), else the astronaut
sample moving over a textured background; 30 fps H.264 with an AAC track. Prints a Markdown table
and writes it to docs/benchmarks-video.md.

    .venv/bin/python benchmarks/bench_video.py            # the full run (5-6 min on 2 cores)
    .venv/bin/python benchmarks/bench_video.py --quick    # 720p, short parts, ~1 min
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's graph logs, for the naive loop
# As the greenroom command sets it before numpy loads (pipeline/allocator.single_threaded_blas),
# so that this script's own processes (the floor child above all) pay no more for idle BLAS
# workers than the command does.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from greenroom.compositing import (  # noqa: E402
    DEFAULT_BLUR,
    Blur,
    ColorBackground,
    EffectSpec,
    ImageBackground,
    cover_resize,
)
from greenroom.frames import I420, Frame  # noqa: E402
from greenroom.jobs import live as live_job  # noqa: E402
from greenroom.jobs.convert import convert_video  # noqa: E402
from greenroom.pipeline import Processor  # noqa: E402
from greenroom.pipeline.allocator import (  # noqa: E402
    single_threaded_opencv,
    tune_allocator,
    tune_process,
)
from greenroom.pipeline.stats import PipelineStats  # noqa: E402
from greenroom.pipeline.stream import StreamPipeline  # noqa: E402
from greenroom.samples import astronaut, rocket  # noqa: E402
from greenroom.sinks.virtualcam import VirtualCameraSink  # noqa: E402
from greenroom.sources.camera_formats import RawFrameReader  # noqa: E402
from greenroom.sources.live_file import LiveFileSource  # noqa: E402
from greenroom.sources.video import VideoFileSource  # noqa: E402
from greenroom.testing import FakeVirtualCamera, ListSink  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DAVIS = ROOT.parent / "shared" / "data" / "davis-dance-twirl" / "images"
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
MEMORY_SIZE = (640, 360)
FPS = 30
PRESET = "veryfast"
PARTS = ("file", "naive", "live", "memory", "quality", "startup")

# Targets from the issue.
TARGET_FLOOR_RATIO = 0.85  # issue 11: the whole `greenroom video` process against decode + encode
TARGET_NAIVE_RATIO = 3.0
TARGET_CPU_OVER_FLOOR = {"720p": 8.0, "1080p": 18.0}  # ms per frame above decode + encode
TARGET_LIVE_CPU = 30.0  # % of one core, net of the source (the decoder or the camera reading)
TARGET_LIVE_P95 = 20.0  # ms
TARGET_MAD, TARGET_PSNR = 1.0, 40.0  # the planes path against the RGB path, per effect
TARGET_SETUP = 0.5  # s: the model and the codecs set up, before the first frame


# -- clips -------------------------------------------------------------------------------------


def _texture(width: int, height: int) -> np.ndarray:
    """A busy, deterministic background (blobs, stripes, noise), so the encoder works for real."""
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    blobs = cv2.resize(cv2.GaussianBlur(noise, (0, 0), 2), (width, height))
    yy, xx = np.mgrid[0:height, 0:width]
    stripes = (((xx // 24 + yy // 24) % 2) * 40).astype(np.uint8)[:, :, None]
    grain = rng.integers(0, 24, (height, width, 3), dtype=np.uint8)
    return cv2.add(cv2.add(blobs, stripes.repeat(3, 2)), grain)


def back_and_forth(i: int, n: int) -> int:
    """Which of `n` frames is shown `i`-th when they play forwards, then backwards, and so on:
    0, 1, ..., n-1, n-2, ..., 1, 0, 1, ... (no jump where the sequence starts over)."""
    k = i % (2 * n - 2) if n > 1 else 0
    return k if k < n else 2 * n - 2 - k


class PersonFrames:
    """Frame i of a clip with a real person in it, at any size."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        paths = sorted(DAVIS.glob("*.jpg")) if DAVIS.is_dir() else []
        self.davis = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths]
        if not self.davis:
            # The astronaut moves across a panning textured background.
            self.background = _texture(width + width // 4, height)
            side = int(height * 0.8)
            self.person = cv2.resize(astronaut(), (side, side), interpolation=cv2.INTER_AREA)

    @staticmethod
    def description() -> str:
        if DAVIS.is_dir() and any(DAVIS.glob("*.jpg")):
            return "DAVIS 2017 dance-twirl (a real dancer, 854x480 frames played back and forth)"
        return "the astronaut sample photo moving over a textured background"

    def __call__(self, i: int) -> np.ndarray:
        if self.davis:
            frame = self.davis[back_and_forth(i, len(self.davis))]
            return cover_resize(frame, self.width, self.height)
        w, h = self.width, self.height
        shift = int((w // 4) * (0.5 + 0.5 * np.sin(i / 40)))
        frame = np.ascontiguousarray(self.background[:, shift : shift + w])
        side = self.person.shape[0]
        x = int((w - side) * (0.5 + 0.4 * np.sin(i / 25)))
        y = h - side
        frame[y:, x : x + side] = self.person
        return frame


def make_clip(path: Path, width: int, height: int, frames: int) -> str:
    """A 30 fps H.264 (crf 18) + AAC clip of `frames` frames; returns what it shows."""
    source = PersonFrames(width, height)
    rate, chunk = 48000, 1024
    total = frames * rate // FPS
    t = np.arange(total, dtype=np.float32) / rate
    tone = (0.2 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    tone = np.ascontiguousarray(np.stack([tone, tone]))
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "18"}
        sound = out.add_stream("aac", rate=rate, layout="stereo")
        done = 0
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(source(i), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            out.mux(video.encode(frame))
            until = min(total, (i + 1) * rate // FPS)
            while done < until:
                block = np.ascontiguousarray(tone[:, done : done + chunk])
                af = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
                af.sample_rate, af.pts, af.time_base = rate, done, Fraction(1, rate)
                out.mux(sound.encode(af))
                done += block.shape[1]
        out.mux(video.encode(None))
        out.mux(sound.encode(None))
    return source.description()


# -- measuring ---------------------------------------------------------------------------------


def busy_seconds() -> float:
    """CPU seconds spent so far by every process on the machine (all cores), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
    except OSError:
        return float("nan")
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


class Meter:
    """Over a span: wall time, this process's CPU (all threads) and page faults, others' CPU."""

    def __init__(self) -> None:
        self.wall, self.cpu, self.busy = time.perf_counter(), time.process_time(), busy_seconds()
        self.faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    def read(self) -> tuple[float, float, float]:
        """(wall s, own CPU s, others' average load in cores) since construction."""
        wall = time.perf_counter() - self.wall
        cpu = time.process_time() - self.cpu
        others = max(0.0, (busy_seconds() - self.busy - cpu) / wall) if wall > 0 else 0.0
        return wall, cpu, others

    def page_faults(self) -> int:
        """Minor page faults of this process since construction (fresh memory being touched)."""
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - self.faults


@dataclass
class Run:
    """One timed run: frames, wall seconds, process CPU seconds (all threads), others' load."""

    frames: int
    wall: float
    cpu: float
    others: float  # average cores busy with other processes during the run
    faults: int = 0  # minor page faults
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.wall

    @property
    def cpu_per_frame_ms(self) -> float:
        return 1000 * self.cpu / self.frames


def timed(function: Callable[[], tuple[int, dict[str, float]]]) -> Run:
    meter = Meter()
    frames, stages = function()
    return Run(frames, *meter.read(), meter.page_faults(), stages)


def median_run(runs: list[Run]) -> Run:
    """The run with the median frames/s (of an even number, the slower middle one)."""
    return sorted(runs, key=lambda r: r.fps)[(len(runs) - 1) // 2]


def median_live(runs: list[LiveResult]) -> LiveResult:
    """The run with the median net CPU (of an even number, the higher middle one), with every
    run's net CPU kept for the report."""
    chosen = sorted(runs, key=lambda r: r.cpu_net)[len(runs) // 2]
    chosen.nets = [run.cpu_net for run in runs]
    return chosen


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def wait_for_quiet(limit: float, threshold: float = 0.25) -> float:
    """Wait (up to `limit` s) for a second in which other processes use < `threshold` cores."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        meter = Meter()
        time.sleep(1.0)
        if meter.read()[2] < threshold:
            break
    return time.perf_counter() - started


# -- 1. greenroom file, 2. floor, 3. naive -------------------------------------------------------


def cli_processor(command: str) -> Processor:
    """The processor `greenroom video --blur` or `greenroom camera --blur` builds by default:
    default model, refinement, blur and temporal smoothing, and for the camera still-frame
    skipping (the one-frame look-ahead of files is `convert_video`'s, on by default)."""
    effect = EffectSpec(blur=DEFAULT_BLUR).build()
    return Processor(effect, model="auto", num_threads=None, temporal=True,
                     skip_still=command == "camera")


def describe_processor(processor: Processor) -> str:
    """What the processor runs per frame, including any matte refinement it has by default."""
    parts = [f"model {getattr(processor.segmenter, 'name', '?')}"]
    for attribute in ("refiner", "temporal", "skipper"):
        value = getattr(processor, attribute, None)
        if value is not None:
            parts.append(f"{attribute} {type(value).__name__}")
    effect = processor.effect
    parts.append(f"effect {type(effect).__name__}({getattr(effect, 'strength', '')})")
    return ", ".join(parts)


class PassThrough:
    """A stand-in processor that does nothing, so the floor runs greenroom's own pipeline.

    Frames stay in the decoder's yuv420p (`takes_planes`), as decode + encode alone would.
    """

    _mask = np.zeros((1, 1), np.float32)
    takes_planes = True

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        return frame

    def segment(self, frame: np.ndarray) -> np.ndarray:
        return self._mask

    def composite(self, frame: np.ndarray, small: np.ndarray) -> np.ndarray:
        return frame

    def reset(self) -> None:
        pass


def run_convert(
    processor: Processor | PassThrough, clip: Path, out: Path, preset: str = PRESET,
    planar: bool | None = None,
) -> tuple[int, dict[str, float]]:
    """What `greenroom video clip.mp4 -o out.mp4 --blur` does, minus the progress bar."""
    processor.reset()  # a new file: nothing carried over from the previous run
    result = convert_video(clip, out, processor, preset=preset,  # type: ignore[arg-type]
                           planar=planar)
    stages = {name: series.mean_ms for name, series in result.stats.stages.items()}
    return result.stats.frames_out, stages


def run_process(argv: list[str], frames: int) -> Run:
    """A whole process as a user runs it: wall from start to exit, CPU of the process and its
    threads (user + system, from the kernel's accounting of waited-for children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy, wall = busy_seconds(), time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    others = max(0.0, (busy_seconds() - busy - cpu) / wall)
    return Run(frames, wall, cpu, others)


def greenroom_process(clip: Path, out: Path) -> list[str]:
    """`greenroom video CLIP -o OUT` with its defaults (blur, refinement, temporal, veryfast)."""
    return [sys.executable, "-m", "greenroom", "video", str(clip), "-o", str(out),
            "--no-progress"]


def floor_process(clip: Path, out: Path) -> list[str]:
    """Decode + encode alone in a process of its own: greenroom's reader and writer with the
    same encoder settings and audio, frames passed straight through in yuv420p."""
    return [sys.executable, str(Path(__file__)), "--child", "floor", "--clip", str(clip),
            "--output", str(out)]


EFFECTS = {
    "blur (default)": lambda: Blur(),
    "colour": lambda: ColorBackground((0, 177, 64)),
    "image": lambda: ImageBackground(rocket()),
    "image + light wrap 0.3": lambda: ImageBackground(rocket(), light_wrap=0.3),
}


@dataclass
class Quality:
    effect: str
    frames: int
    mad: float
    psnr: float


def planes_against_rgb(clip: Path, frames: int) -> list[Quality]:
    """Each effect's output through the planes path against the RGB path (converted to yuv420p
    as the encoder would take it), frame by frame, before encoding."""
    decoded = []
    with av.open(str(clip)) as container:
        for frame in container.decode(video=0):
            decoded.append(frame)
            if len(decoded) == frames:
                break
    rows = []
    for name, make in EFFECTS.items():
        rgb_path = Processor(make(), model="auto", temporal=True)
        planes_path = Processor(make(), model="auto", temporal=True)
        total = squares = 0.0
        for frame in decoded:
            rgb = frame.to_ndarray(format="rgb24")
            expected = cv2.cvtColor(rgb_path.composite(rgb, rgb_path.segment(rgb)),
                                    cv2.COLOR_RGB2YUV_I420).astype(np.float64)
            picture = I420.from_video_frame(frame)
            got = planes_path.composite(picture, planes_path.segment(picture)).data
            error = got - expected
            total += np.abs(error).mean()
            squares += (error ** 2).mean()
        rgb_path.close()
        planes_path.close()
        mse = squares / len(decoded)
        rows.append(Quality(name, len(decoded), total / len(decoded),
                            10 * np.log10(255 ** 2 / mse) if mse else float("inf")))
    return rows


def quality_table(rows: list[Quality], size: str) -> list[str]:
    lines = [
        f"### Planes path against the RGB path, {size}, {rows[0].frames} frames, before encoding",
        "",
        "| effect | mean absolute difference (8-bit levels) | PSNR |",
        "|---|---:|---:|",
    ]
    lines += [f"| {q.effect} | {q.mad:.3f} | {q.psnr:.1f} dB |" for q in rows]
    return [*lines, ""]


class NaiveSelfie:
    """What `mediapipe.solutions.selfie_segmentation` (model_selection=1) does for a tutorial.

    mediapipe itself no longer installs beside numpy 2 (and not at all on Python 3.13), so the
    naive loop runs the same landscape model file the way its graph does: the frame resized to
    the model input, the model, the mask resized back to the frame. A full-frame float mask per
    frame, as mediapipe hands it out.
    """

    def __init__(self) -> None:
        from ai_edge_litert.interpreter import Interpreter

        from greenroom.segmentation.mediapipe_selfie import builtin_model_path

        self._interpreter = Interpreter(
            model_path=str(builtin_model_path("selfie_segmentation_landscape.tflite"))
        )
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]

    def process(self, rgb: np.ndarray) -> SimpleNamespace:
        small = cv2.resize(rgb, (256, 144)).astype(np.float32)[None] / 255.0
        self._interpreter.set_tensor(self._input, small)
        self._interpreter.invoke()
        mask = self._interpreter.get_tensor(self._output)[0, :, :, 0]
        return SimpleNamespace(segmentation_mask=cv2.resize(mask, (rgb.shape[1], rgb.shape[0])))

    def close(self) -> None:
        self._interpreter = None


def naive_model() -> NaiveSelfie:
    return NaiveSelfie()


def run_naive(model, clip: Path, out: Path) -> tuple[int, dict[str, float]]:  # noqa: ANN001
    """The loop most tutorials show (it loses the audio and the exact timestamps on the way).

    With `model=None` it only decodes and encodes: the naive loop's own floor.
    """
    capture = cv2.VideoCapture(str(clip))
    fps = capture.get(cv2.CAP_PROP_FPS)
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    frames = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if model is not None:
            mask = model.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).segmentation_mask
            frame = np.where(mask[..., None] > 0.5, frame, cv2.GaussianBlur(frame, (55, 55), 0))
        writer.write(frame)
        frames += 1
    capture.release()
    writer.release()
    return frames, {}


# -- 5. live -------------------------------------------------------------------------------------


class NullCamera(FakeVirtualCamera):
    """Stands in for pyvirtualcam.Camera: checks the frames, keeps none, sends them nowhere."""

    keep_frames = False


@dataclass
class LiveResult:
    seconds: float
    frames_in: int
    frames_out: int
    dropped: int
    latency_median: float
    latency_p95: float
    cpu_gross: float  # % of one core, the whole process
    cpu_source: float  # % of one core, the source alone paced the same way
    others: float  # cores used by other processes during the pipeline run
    faults: int  # minor page faults during the pipeline run
    stages: dict[str, float]
    nets: list[float] = field(default_factory=list)  # net CPU of every run the median is of
    alone_ms: float = 0.0  # CPU ms per frame of the processor alone, frames back to back
    paced_ms: float = 0.0  # the same, each frame started at its time at 30 fps

    @property
    def fps(self) -> float:
        return self.frames_out / self.seconds

    @property
    def cpu_net(self) -> float:
        return self.cpu_gross - self.cpu_source


class ReplayedCamera:
    """A 720p USB camera, stood in for by the clip's frames replayed from memory at 30 fps.

    The frames are encoded once as such a camera sends them (MJPEG with 4:2:2 chroma, the format
    USB cameras deliver 720p30 in) and each is read back, when its time comes, through
    greenroom's own camera path (`camera_formats.RawFrameReader`), played back and forth. Unlike
    the file source, no H.264 decoder runs beside the pipeline: a decoder that competes for the
    two cores and their caches makes the work it runs beside cost more CPU, and subtracting its
    cost measured alone leaves that in the net. This is what a call with a real camera costs.
    """

    def __init__(self, clip: Path, frames: int = 150) -> None:
        with VideoFileSource(clip, planar=False) as source:
            self.buffers = [
                np.frombuffer(cv2.imencode(
                    ".jpg", cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 90,
                     cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422],
                )[1], np.uint8).reshape(1, -1)
                for _, frame in zip(range(frames), source, strict=False)
            ]
            self.width, self.height = source.info.width, source.info.height
        self.fps = float(FPS)
        self.lost: str | None = None

    def __iter__(self) -> Iterator[Frame]:
        reader = RawFrameReader("MJPG", self.width, self.height)
        started, index = time.perf_counter(), 0
        while True:
            delay = started + index / self.fps - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            picture = reader.picture(self.buffers[back_and_forth(index, len(self.buffers))])
            yield Frame(index, picture, pts=round(1000 * index / self.fps),
                        time_base=LiveFileSource.TIME_BASE, captured=time.perf_counter())
            index += 1

    def close(self) -> None:
        pass


LiveSource = LiveFileSource | ReplayedCamera


def run_live(processor: Processor, open_source: Callable[[], LiveSource],
             seconds: float) -> LiveResult:
    """`greenroom camera --source ... --realtime` into a null virtual camera.

    Run by the command's own live job (`jobs.live.run_live`, the duration on its timer); then
    a second source of the same kind alone, paced the same way for as long, to know what the
    source (the decoder that stands in for a camera, or the camera format's reading) costs.
    """
    source = open_source()
    sink = VirtualCameraSink(source.width, source.height, source.fps, camera_factory=NullCamera,
                             planar=True)
    meter = Meter()
    stats = live_job.run_live(source, [sink], processor, live_job.LiveLimits(duration=seconds))
    _, cpu, others = meter.read()
    faults = meter.page_faults()
    source.close()

    alone = open_source()
    meter = Meter()
    for _item in alone:
        if time.perf_counter() - meter.wall >= stats.elapsed:
            break
    wall_alone, cpu_alone, _ = meter.read()
    alone.close()
    return LiveResult(
        seconds=stats.elapsed,
        frames_in=stats.frames_in,
        frames_out=stats.frames_out,
        dropped=stats.total_dropped,
        latency_median=stats.latency.percentile_ms(50),
        latency_p95=stats.latency.percentile_ms(95),
        cpu_gross=100 * cpu / stats.elapsed,
        cpu_source=100 * cpu_alone / wall_alone,
        others=others,
        faults=faults,
        stages={name: series.mean_ms for name, series in stats.stages.items()},
    )


def processor_alone(processor: Processor, clip: Path, frames: int = 150) -> tuple[float, float]:
    """CPU ms per frame of the processor alone (segment + composite, one thread) on decoded
    frames: back to back, then each frame started at its time at `FPS` (the clip's rate).

    The same work costs more CPU when it waits for each frame, as live work does, than when it
    runs frame after frame (the cores idle in between and start each frame cold); the two
    figures say how much of the live net CPU is that.
    """
    with VideoFileSource(clip, planar=True) as source:
        pictures = [frame.image for _, frame in zip(range(frames), source, strict=False)]
    results = []
    for paced in (False, True):
        processor.reset()
        started, cpu = time.perf_counter(), time.process_time()
        for index, picture in enumerate(pictures):
            if paced:
                delay = started + index / FPS - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            processor.composite(picture, processor.segment(picture))
        results.append(1000 * (time.process_time() - cpu) / len(pictures))
    return results[0], results[1]


# -- 6. memory -----------------------------------------------------------------------------------


@dataclass
class MemoryResult:
    samples: list[tuple[int, float]]  # (frames out, RSS MB)
    seconds: float
    others: float

    def at(self, frames: int) -> float:
        return min(self.samples, key=lambda s: abs(s[0] - frames))[1]


def run_memory(processor: Processor, clip: Path, frames: int, every: int) -> MemoryResult:
    """The pipeline over `frames` frames of a looped clip, RSS sampled every `every` frames.

    File mode (blocking queues, as fast as it goes), so every frame passes every stage; the
    source reopens the clip at each loop, as `--loop` does.
    """
    source = LiveFileSource(clip, loop=True, realtime=False)
    stop = threading.Event()
    samples = [(0, rss_mb())]

    def after_each(item: Frame, stats: PipelineStats) -> None:
        if stats.frames_out % every == 0:
            samples.append((stats.frames_out, rss_mb()))
        if stats.frames_out >= frames:
            stop.set()

    meter = Meter()
    sink = ListSink(keep=False)
    StreamPipeline(processor, source, sink, live=False, stop=stop, on_output=after_each).run()
    wall, _, others = meter.read()
    source.close()
    return MemoryResult(samples, wall, others)


@dataclass
class StartupResult:
    """Where a fresh `greenroom video` process spends its first second, in wall seconds."""

    imports: float  # process start to the command's code: interpreter, imports (None: not Linux)
    model: float  # the processor built, the model loaded and a first frame through it
    codec: float  # a one-frame clip converted: decoder and encoder opened, file finalized
    process: float = 0.0  # the whole `greenroom video` process on the same clip, start to exit

    @property
    def setup(self) -> float:
        return self.model + self.codec


def since_process_start() -> float:
    """Seconds since this process started (Linux: its start time in /proc), or -1."""
    try:
        start = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return -1.0
    return uptime - start / os.sysconf("SC_CLK_TCK")


def run_startup(clip: Path) -> StartupResult:
    """The command's set-up, step by step, in a fresh process (`--child startup`): what
    `greenroom video CLIP -o OUT --blur` does before and around its first frame."""
    imports = since_process_start()  # this script imports what the command imports, and more
    started = time.perf_counter()
    processor = cli_processor("video")
    with VideoFileSource(clip, planar=True) as source:
        first = next(iter(source)).image
    processor.composite(first, processor.segment(first))
    model = time.perf_counter() - started
    processor.reset()
    with tempfile.TemporaryDirectory(prefix="greenroom-startup-") as folder:
        started = time.perf_counter()
        convert_video(clip, Path(folder) / "out.mp4", processor)
        codec = time.perf_counter() - started
    processor.close()
    return StartupResult(imports, model, codec)


def median_startup(runs: list[StartupResult]) -> StartupResult:
    """The run with the median set-up time (model + codec)."""
    return sorted(runs, key=lambda run: run.setup)[len(runs) // 2]


# -- fresh processes for the live and memory runs --------------------------------------------------


def in_child(
    part: str, clip: Path, args: argparse.Namespace, tuned: bool = True
) -> dict[str, object]:
    """Run one part in a fresh Python process, as the `greenroom camera` command would be.

    A fresh process measures the CPU, page faults and resident memory of the live pipeline
    alone: not MediaPipe's framework (loaded here for the naive rows) nor the allocator state
    left behind by the file runs.
    """
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child", part, "--clip", str(clip),
        "--live-seconds", str(args.live_seconds), "--memory-frames", str(args.memory_frames),
        "--memory-every", str(args.memory_every),
    ]
    if not tuned:
        command.append("--default-allocator")
    if part == "live" and tuned:
        command.append("--live-camera")
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_main(args: argparse.Namespace) -> None:
    if not args.default_allocator:
        tune_process()  # as the `greenroom` command does at start
    if args.child == "floor":
        convert_video(args.clip, args.output, PassThrough())  # type: ignore[arg-type]
        return
    if args.child == "startup":
        print(json.dumps(asdict(run_startup(args.clip))))
        return
    processor = cli_processor("camera")
    if args.child == "memory":
        memory = run_memory(processor, args.clip, args.memory_frames, args.memory_every)
        processor.close()
        print(json.dumps(asdict(memory)))
        return
    clip = args.clip
    results = {"file": run_live(  # as the command opens it
        processor, lambda: LiveFileSource(clip, loop=True, realtime=True, planar=True),
        args.live_seconds)}
    if args.live_camera:
        camera = ReplayedCamera(clip)
        processor.reset()
        results["camera"] = run_live(processor, lambda: camera, args.live_seconds)
    results["file"].alone_ms, results["file"].paced_ms = processor_alone(processor, clip)
    processor.close()
    print(json.dumps({kind: asdict(result) for kind, result in results.items()}))


# -- report --------------------------------------------------------------------------------------

KINDS = {
    "greenroom-process": "`greenroom video IN -o OUT`, the whole process as a user runs it",
    "floor-process": "floor: decode + encode alone, a whole process, same encoder settings",
    "greenroom": "greenroom `convert_video` in this process: decode, segment, blur, encode",
    "greenroom-rgb": "the same through RGB (`convert_video(..., planar=False)`), for comparison",
    "floor": "floor in this process: decode + encode only, same pipeline and encoder settings",
    "naive": "naive loop: VideoCapture, MediaPipe, 55x55 blur, np.where, VideoWriter mp4v",
    "naive-floor": "naive loop's own decode + encode (VideoCapture -> VideoWriter mp4v)",
}


def verdict(value: float, target: float, higher_is_better: bool) -> str:
    met = value >= target if higher_is_better else value < target
    return "met" if met else "**missed**"


def file_table(args: argparse.Namespace, results: dict[str, dict[str, Run]],
               rounds: dict[str, dict[str, list[Run]]] | None = None) -> list[str]:
    sizes = list(results)
    lines = [
        f"### File: `greenroom video IN -o OUT --blur`, {args.frames}-frame clips, "
        + (f"median of {args.repeat} interleaved runs" if args.repeat > 1 else "one run each"),
        "",
        "| row | "
        + " | ".join(f"{s} frames/s | {s} CPU ms/frame | {s} others' load" for s in sizes)
        + " |",
        "|---|" + "---:|---:|---:|" * len(sizes),
    ]
    kinds = list(KINDS.items())
    for kind in results[sizes[0]]:
        if kind.startswith("greenroom@"):  # right after the main greenroom row
            kinds.insert(1, (kind, f"greenroom, x264 preset {kind.partition('@')[2]}"))
    for kind, label in kinds:
        if all(kind in results[s] for s in sizes):
            cells = " | ".join(
                f"{results[s][kind].fps:.1f} | {results[s][kind].cpu_per_frame_ms:.1f} | "
                f"{results[s][kind].others:.2f}"
                for s in sizes
            )
            lines.append(f"| {label} | {cells} |")
    ratios = (  # (row, its floor, target or None, label)
        ("greenroom-process", "floor-process", TARGET_FLOOR_RATIO,
         f"`greenroom video` process / floor process frames/s (target >= {TARGET_FLOOR_RATIO:g})"),
        ("greenroom", "floor", None, "in this process: `convert_video` / floor frames/s"),
        ("greenroom", "naive", TARGET_NAIVE_RATIO,
         f"greenroom / naive frames/s (target >= {TARGET_NAIVE_RATIO:g})"),
    )
    for mine, kind, target, label in ratios:
        if all(kind in results[s] and mine in results[s] for s in sizes):
            cells = []
            for s in sizes:
                ratio = results[s][mine].fps / results[s][kind].fps
                cells.append(f"{ratio:.2f} | |" if target is None
                             else f"**{ratio:.2f}** ({verdict(ratio, target, True)}) | |")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    paired = ("greenroom-process", "floor-process")
    if rounds and args.repeat > 1 and all(k in rounds.get(s, {}) for s in sizes for k in paired):
        # The rows above are each row's own median, so a ratio may pair runs of different
        # rounds; these pair each greenroom process with the floor process run beside it.
        cells = []
        for s in sizes:
            pairs = list(zip(rounds[s][paired[0]], rounds[s][paired[1]], strict=True))
            speed = ", ".join(f"{mine.fps / floor.fps:.2f}" for mine, floor in pairs)
            extra = ", ".join(f"{mine.cpu_per_frame_ms - floor.cpu_per_frame_ms:+.1f}"
                              for mine, floor in pairs)
            cells.append(f"{speed} | {extra} ms |")
        lines.append("| each round's `greenroom video` process against the floor process run "
                     "beside it: frames/s ratio, CPU ms/frame above it (informative; the "
                     "targets use the medians above) | " + " | ".join(cells) + " |")
    for kind in results[sizes[0]]:
        if kind.startswith("greenroom@") and all("naive" in results[s] for s in sizes):
            cells = [f"{results[s][kind].fps / results[s]['naive'].fps:.2f} | |" for s in sizes]
            label = f"greenroom preset {kind.partition('@')[2]} / naive frames/s"
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    pairs = (("greenroom", "floor"), ("naive", "naive-floor"))
    if all(a in results[s] and b in results[s] for s in sizes for a, b in pairs):
        cells = []
        for s in sizes:
            cpu = {kind: run.cpu_per_frame_ms for kind, run in results[s].items()}
            ours = cpu["greenroom"] - cpu["floor"]
            theirs = cpu["naive"] - cpu["naive-floor"]
            cells.append(f"{ours:.1f} vs {theirs:.1f} | |")
        lines.append(
            "| CPU ms/frame of the effect alone (row minus its floor): greenroom vs naive | "
            + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "Mean wall ms per frame in each stage of the greenroom and floor runs (the stages run in "
        "threads that share the 2 cores, so they overlap and each is slower than alone):",
        "",
        "| stage | " + " | ".join(f"{s} greenroom | {s} floor" for s in sizes) + " |",
        "|---|" + "---:|---:|" * len(sizes),
    ]
    for stage, label in (
        ("segment", "segment (model)"),
        ("composite", "composite (matte + blur + blend)"),
        ("output", "output (encode, mux)"),
    ):
        cells = " | ".join(
            f"{results[s]['greenroom'].stages.get(stage, 0.0):.1f} | "
            f"{results[s]['floor'].stages.get(stage, 0.0):.1f}"
            for s in sizes
            if "floor" in results[s]
        )
        lines.append(f"| {label} | {cells} |")
    cells = " | ".join(
        f"{results[s]['greenroom'].faults / results[s]['greenroom'].frames:.0f} | "
        f"{results[s]['floor'].faults / results[s]['floor'].frames:.0f}"
        for s in sizes
        if "floor" in results[s]
    )
    lines += [f"| minor page faults per frame (whole process) | {cells} |", ""]
    return lines


def live_table(columns: list[tuple[str, LiveResult]]) -> list[str]:
    """The live runs, a column each (heading, run): the first is the one the targets judge."""
    runs = [run for _, run in columns]
    live = runs[0]

    def row(label: str, cell: Callable[[LiveResult], str], target: str = "") -> str:
        return f"| {label} | {' | '.join(cell(run) for run in runs)} | {target} |"

    def stages(run: LiveResult) -> str:
        return ", ".join(f"{name} {ms:.1f}" for name, ms in run.stages.items())

    def alone(run: LiveResult) -> str:
        return f"{run.alone_ms:.1f} / {run.paced_ms:.1f} ms" if run.alone_ms else "as first column"

    return [
        f"### Live: `greenroom camera --source clip.mp4 --loop --realtime`, 720p {FPS} fps, "
        f"{live.seconds:.0f} s into a null virtual camera"
        + (f", median of {len(live.nets)} interleaved runs" if len(live.nets) > 1 else ""),
        "",
        f"| measure | {' | '.join(heading for heading, _ in columns)} | target |",
        "|---|" + "---:|" * len(runs) + "---|",
        row("frames/s delivered", lambda r: f"{r.fps:.1f}", f"{FPS} offered"),
        row("capture-to-output latency, median", lambda r: f"{r.latency_median:.1f} ms"),
        row("capture-to-output latency, p95", lambda r: f"**{r.latency_p95:.1f} ms**",
            f"< {TARGET_LIVE_P95:g} ms"),
        row("frames dropped", lambda r: f"{r.dropped} of {r.frames_in}"),
        row("CPU, gross (the whole process)", lambda r: f"{r.cpu_gross:.0f}% of one core"),
        row("CPU, the source alone (H.264 decode or MJPEG reading, and pacing)",
            lambda r: f"{r.cpu_source:.0f}% of one core"),
        row("CPU, net of the source", lambda r: f"**{r.cpu_net:.0f}% of one core**",
            f"< {TARGET_LIVE_CPU:g}%"),
        row("net CPU of each run (the median's run is reported)",
            lambda r: ", ".join(f"{net:.0f}%" for net in r.nets) or "one run"),
        row("mean wall ms per stage", stages),
        row("net CPU per frame", lambda r: f"{r.cpu_net * 10 / FPS:.1f} ms"),
        row("the processor alone, one thread: CPU ms per frame back to back / paced at "
            f"{FPS} fps", alone),
        row("minor page faults per frame", lambda r: f"{r.faults / max(r.frames_in, 1):.0f}"),
        row("others' load during the run", lambda r: f"{r.others:.2f} cores"),
        "",
    ]


def startup_table(startup: StartupResult, rounds: int) -> list[str]:
    """Where the first second of a `greenroom video` process goes."""
    imports = f"{startup.imports:.2f}" if startup.imports >= 0 else "not measured"
    return [
        "### Start-up: `greenroom video` on a one-frame 720p clip, a fresh process"
        + (f", the median of {rounds} runs" if rounds > 1 else ""),
        "",
        "| step | seconds | target |",
        "|---|---:|---|",
        f"| interpreter start and imports (the benchmark child's: the command's and a few more) "
        f"| {imports} | |",
        f"| model: the processor built, the model loaded, a first frame through it | "
        f"{startup.model:.2f} | |",
        f"| codecs: the one-frame clip converted (decoder and encoder opened, the frame "
        f"composited and encoded, audio copied, the file finalized) | {startup.codec:.2f} | |",
        f"| model and codec set-up | **{startup.setup:.2f}** | < {TARGET_SETUP:g} s: "
        f"{verdict(startup.setup, TARGET_SETUP, False)} |",
        f"| the whole `greenroom video` process on the same clip, start to exit | "
        f"{startup.process:.2f} | |",
        "",
    ]


def memory_table(memory: MemoryResult) -> list[str]:
    last = memory.samples[-1][0]
    first, half = min(1000, last), last // 2
    growth = memory.at(last) - memory.at(first)
    per_frame = 1024 * growth / max(last - first, 1)
    series = ", ".join(f"{n}: {mb:.0f}" for n, mb in memory.samples)
    return [
        f"### Memory: {last} frames of a looped {MEMORY_SIZE[0]}x{MEMORY_SIZE[1]} clip, null sink "
        f"({memory.seconds:.0f} s, {last / memory.seconds:.0f} frames/s, others' load "
        f"{memory.others:.2f} cores)",
        "",
        "| measure | RSS |",
        "|---|---:|",
        f"| after {first} frames | {memory.at(first):.1f} MB |",
        f"| after {last} frames | {memory.at(last):.1f} MB |",
        f"| growth from {first} to {last} frames | **{growth:+.1f} MB** "
        f"({per_frame:+.2f} KB/frame) |",
        f"| growth over the second half, {half} to {last} frames | "
        f"{memory.at(last) - memory.at(half):+.1f} MB |",
        "",
        f"Every sample (frames: MB): {series}.",
        "",
    ]


def targets(
    results: dict[str, dict[str, Run]], live: LiveResult | None, memory: MemoryResult | None,
    quality: list[Quality] | None = None, startup: StartupResult | None = None,
    live_camera: LiveResult | None = None,
) -> list[str]:
    """One line per target of the issue: the value, met or missed, and by how much."""
    lines = ["### Targets", ""]
    pairs = (("greenroom-process", "floor-process", TARGET_FLOOR_RATIO),
             ("greenroom", "naive", TARGET_NAIVE_RATIO))
    for mine, kind, target in pairs:
        for size, rows in results.items():
            if kind in rows and mine in rows:
                ratio = rows[mine].fps / rows[kind].fps
                gap = f"{ratio - target:+.2f}" if ratio >= target else f"{ratio / target - 1:+.0%}"
                lines.append(f"- {mine} / {kind} frames/s at {size}: {ratio:.2f} (target >= "
                             f"{target:g}): {verdict(ratio, target, True)}, {gap}")
    for size, rows in results.items():
        mine, floor = rows.get("greenroom-process"), rows.get("floor-process")
        if mine is not None and floor is not None and size in TARGET_CPU_OVER_FLOOR:
            over = mine.cpu_per_frame_ms - floor.cpu_per_frame_ms
            target = TARGET_CPU_OVER_FLOOR[size]
            lines.append(f"- CPU above decode + encode at {size}: {over:+.1f} ms per frame "
                         f"(target <= {target:g}): {verdict(over, target + 1e-9, False)}, "
                         f"{over - target:+.1f} ms")
    for q in quality or []:
        met = q.mad <= TARGET_MAD and q.psnr >= TARGET_PSNR
        lines.append(f"- planes vs RGB path, {q.effect}: MAD {q.mad:.3f}, PSNR {q.psnr:.1f} dB "
                     f"(target <= {TARGET_MAD:g} and >= {TARGET_PSNR:g} dB): "
                     f"{'met' if met else '**missed**'}")
    for name, run in (("file source", live), ("camera stand-in", live_camera)):
        if run is None:
            continue
        lines.append(f"- live net CPU, {name}: {run.cpu_net:.0f}% of one core (target < "
                     f"{TARGET_LIVE_CPU:g}%): {verdict(run.cpu_net, TARGET_LIVE_CPU, False)}, "
                     f"{run.cpu_net - TARGET_LIVE_CPU:+.0f} points")
        lines.append(f"- live p95 latency, {name}: {run.latency_p95:.1f} ms (target < "
                     f"{TARGET_LIVE_P95:g} ms): {verdict(run.latency_p95, TARGET_LIVE_P95, False)}"
                     f", {run.latency_p95 - TARGET_LIVE_P95:+.1f} ms")
    if startup is not None:
        lines.append(f"- start-up: model and codec set-up {startup.setup:.2f} s (target < "
                     f"{TARGET_SETUP:g} s): {verdict(startup.setup, TARGET_SETUP, False)}, "
                     f"{startup.setup - TARGET_SETUP:+.2f} s")
    if memory is not None:
        last = memory.samples[-1][0]
        first, half = min(1000, last), last // 2
        lines.append(f"- memory: {memory.at(first):.0f} MB after {first} frames, "
                     f"{memory.at(last):.0f} MB after {last} "
                     f"({memory.at(last) - memory.at(first):+.1f} MB; "
                     f"{memory.at(last) - memory.at(half):+.1f} MB over the second half)")
    return [*lines, ""]


def report(
    args: argparse.Namespace,
    results: dict[str, dict[str, Run]],
    live: LiveResult | None,
    live_default: LiveResult | None,
    memory: MemoryResult | None,
    quality: list[Quality] | None = None,
    rounds: dict[str, dict[str, list[Run]]] | None = None,
    startup: StartupResult | None = None,
    live_camera: LiveResult | None = None,
    tuned: bool = True,
) -> str:
    lines = targets(results, live, memory, quality, startup, live_camera)
    if results:
        lines += file_table(args, results, rounds)
    if startup is not None:
        lines += startup_table(startup, args.repeat)
    if quality:
        lines += quality_table(quality, "720p")
    if live is not None:
        allocator = "allocator tuned (as the CLI runs)" if tuned else "glibc's default thresholds"
        columns = [(f"file source, {allocator}", live)]
        if live_default is not None:
            columns.append(("file source, glibc's default thresholds", live_default))
        if live_camera is not None:
            columns.append(("camera stand-in (MJPEG from memory), allocator tuned", live_camera))
        lines += live_table(columns)
    if memory is not None:
        lines += memory_table(memory)
    return "\n".join(lines).rstrip() + "\n"


def machine() -> str:
    load = "load average {:.2f} {:.2f} {:.2f} at the start".format(*os.getloadavg())
    codec = ".".join(map(str, av.library_versions["libavcodec"]))
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, no GPU, {load}; Python "
        f"{platform.python_version()}, PyAV {av.__version__} (libavcodec {codec}), OpenCV "
        f"{cv2.__version__}, numpy {np.__version__}"
    )


def revision() -> str:
    """The commit measured, and whether src/ had uncommitted changes (read-only git calls)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown commit"
    return f"commit {head}" + (" with uncommitted changes in src/" if dirty else "")


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="720p,1080p",
                        help="comma-separated file sizes, from: " + ", ".join(SIZES))
    parser.add_argument("--frames", type=int, default=300, help="frames per file clip (300)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per file row and per live setting, interleaved; the "
                        "median is reported (1)")
    parser.add_argument("--live-seconds", type=float, default=20.0, help="live run length (20)")
    parser.add_argument("--memory-frames", type=int, default=10_000,
                        help="frames for the memory run (10000)")
    parser.add_argument("--memory-every", type=int, default=500, help="RSS sampling period")
    parser.add_argument("--skip", action="append", default=[], choices=PARTS,
                        help="leave out a part (repeatable): file runs, the naive rows, "
                        "the live run, the memory run, planes against RGB, the start-up")
    parser.add_argument("--settle", type=float, default=0.0, metavar="SECONDS",
                        help="before each run, wait up to this long for other processes to go "
                        "quiet (default 0: don't wait)")
    parser.add_argument("--also-preset", action="append", default=[], metavar="PRESET",
                        help="add a greenroom row with this x264 preset (repeatable), e.g. "
                        "ultrafast, to see what the encoder costs")
    parser.add_argument("--quick", action="store_true",
                        help="720p only, 90 frames, 5 s live, 2,000 memory frames (~1 min)")
    parser.add_argument("--workdir", type=Path,
                        help="keep the generated clips here and reuse them on later runs")
    parser.add_argument("--output", type=Path,
                        help="Markdown file to write (default: docs/benchmarks-video.md, except "
                        "with --quick, --sizes or --skip, which write nothing unless asked)")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's malloc thresholds as they are instead of tuning "
                        "them as the greenroom command does (pipeline/allocator.py)")
    parser.add_argument("--child", choices=("live", "memory", "floor", "startup"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--clip", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--live-camera", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return args
    partial = args.quick or args.skip or args.sizes != "720p,1080p"
    if args.quick:
        args.sizes, args.frames = "720p", 90
        args.live_seconds, args.memory_frames = 5.0, 2000
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in args.sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {unknown}; choose from {', '.join(SIZES)}")
    if "file" in args.skip:
        args.sizes = []
    if args.output is None and not partial:
        args.output = ROOT / "docs" / "benchmarks-video.md"
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return
    tuned = not args.default_allocator and tune_allocator()
    single_threaded_opencv()  # as the `greenroom` command runs
    command = " ".join([".venv/bin/python benchmarks/bench_video.py",
                        *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    header = machine()
    with tempfile.TemporaryDirectory(prefix="greenroom-bench-") as temp:
        work = args.workdir or Path(temp)
        work.mkdir(parents=True, exist_ok=True)
        out = Path(temp)  # outputs are always thrown away
        content = PersonFrames.description()

        def clip(width: int, height: int, frames: int) -> Path:
            path = work / f"clip-{width}x{height}-{frames}.mp4"
            if not path.exists():
                log(f"making {path.name}")
                partial = path.with_suffix(".part.mp4")
                make_clip(partial, width, height, frames)
                partial.rename(path)
            return path

        def settle() -> None:
            if args.settle > 0:
                waited = wait_for_quiet(args.settle)
                if waited > 1.5:
                    log(f"waited {waited:.0f} s for other processes to go quiet")

        processor = cli_processor("video")
        clips = {size: clip(*SIZES[size], args.frames) for size in args.sizes}
        model = naive_model() if args.sizes and "naive" not in args.skip else None
        for size in args.sizes:  # load the models for this frame shape before timing
            frame = PersonFrames(*SIZES[size])(0)
            processor.process(frame)
            if model is not None:
                model.process(frame)

        runs: dict[str, dict[str, list[Run]]] = {size: {} for size in args.sizes}
        for round_ in range(args.repeat):
            for size in args.sizes:  # interleaved, so a slow spell hits every row alike
                path = clips[size]
                jobs: dict[str, Callable[[], tuple[int, dict[str, float]]] | list[str]] = {
                    "greenroom-process": greenroom_process(path, out / "process.mp4"),
                    "floor-process": floor_process(path, out / "floor-process.mp4"),
                    "greenroom": lambda p=path: run_convert(processor, p, out / "greenroom.mp4"),
                    "greenroom-rgb": lambda p=path: run_convert(
                        processor, p, out / "greenroom-rgb.mp4", planar=False
                    ),
                    "floor": lambda p=path: run_convert(PassThrough(), p, out / "floor.mp4"),
                }
                for preset in args.also_preset:
                    jobs[f"greenroom@{preset}"] = lambda p=path, x=preset: run_convert(
                        processor, p, out / "greenroom-x.mp4", x
                    )
                if model is not None:
                    jobs["naive"] = lambda p=path: run_naive(model, p, out / "naive.mp4")
                    jobs["naive-floor"] = lambda p=path: run_naive(None, p, out / "naive0.mp4")
                for kind, job in jobs.items():
                    settle()
                    run = run_process(job, args.frames) if isinstance(job, list) else timed(job)
                    runs[size].setdefault(kind, []).append(run)
                    log(f"[{time.perf_counter() - started:4.0f} s] round {round_ + 1}/"
                        f"{args.repeat} {size} {kind}: {run.frames} frames, {run.fps:.1f} fps, "
                        f"{run.cpu_per_frame_ms:.1f} CPU ms/frame, others {run.others:.2f} cores")
        results = {size: {k: median_run(r) for k, r in runs[size].items()} for size in runs}
        if model is not None:
            model.close()

        startup = None
        if "startup" not in args.skip:
            one = clip(*SIZES["720p"], 1)
            startup_runs = []
            for round_ in range(args.repeat):
                settle()
                found = StartupResult(**in_child("startup", one, args))  # type: ignore[arg-type]
                found.process = run_process(greenroom_process(one, out / "startup.mp4"), 1).wall
                startup_runs.append(found)
                log(f"[{time.perf_counter() - started:4.0f} s] start-up {round_ + 1}/"
                    f"{args.repeat}: imports {found.imports:.2f} s, model {found.model:.2f} s, "
                    f"codec {found.codec:.2f} s, whole process {found.process:.2f} s")
            startup = median_startup(startup_runs)

        with cli_processor("camera") as camera:
            described = (f"`video`: {describe_processor(processor)}; `camera` (live and "
                         f"memory runs): {describe_processor(camera)}")
        processor.close()
        live = live_default = live_camera = None
        if "live" not in args.skip:
            live_clip = clips.get("720p") or clip(*SIZES["720p"], args.frames)
            # Each round: the command's tuned allocator (the file source, then the camera
            # stand-in), then glibc's own thresholds for the allocator's share; interleaved, so
            # a slow spell hits every setting alike.
            settings = [True, False] if tuned else [False]
            live_runs: dict[str, list[LiveResult]] = {}
            for round_ in range(args.repeat):
                for setting in settings:
                    settle()
                    log(f"[{time.perf_counter() - started:4.0f} s] live {round_ + 1}/"
                        f"{args.repeat}, {'tuned' if setting else 'default'} allocator: "
                        f"{args.live_seconds:g} s at 720p, then the source alone as long"
                        + (", then the same with the camera stand-in" if setting else ""))
                    found = in_child("live", live_clip, args, setting)
                    for kind, fields in found.items():
                        run = LiveResult(**fields)  # type: ignore[arg-type]
                        key = kind if setting else f"{kind}-default"
                        live_runs.setdefault(key, []).append(run)
                        log(f"live, {key}: {run.fps:.1f} fps, p95 {run.latency_p95:.1f} ms, CPU "
                            f"{run.cpu_gross:.0f}% - {run.cpu_source:.0f}% source = "
                            f"{run.cpu_net:.0f}% net, others {run.others:.2f}")
            live = median_live(live_runs["file" if tuned else "file-default"])
            if tuned:
                live_default = median_live(live_runs["file-default"])
                live_camera = median_live(live_runs["camera"])

        memory = None
        if "memory" not in args.skip:
            memory_clip = clip(*MEMORY_SIZE, 90)
            settle()
            log(f"[{time.perf_counter() - started:4.0f} s] memory: {args.memory_frames} frames "
                f"at {MEMORY_SIZE[0]}x{MEMORY_SIZE[1]}")
            found = in_child("memory", memory_clip, args, tuned)
            memory = MemoryResult(
                [(int(n), float(mb)) for n, mb in found["samples"]],  # type: ignore[union-attr]
                float(found["seconds"]),  # type: ignore[arg-type]
                float(found["others"]),  # type: ignore[arg-type]
            )

        quality = None
        if "quality" not in args.skip:
            log(f"[{time.perf_counter() - started:4.0f} s] planes against RGB, per effect")
            quality = planes_against_rgb(clips.get("720p") or clip(*SIZES["720p"], args.frames),
                                         min(args.frames, 90))

    total = time.perf_counter() - started
    table = report(args, results, live, live_default, memory, quality, rounds=runs,
                   startup=startup, live_camera=live_camera, tuned=tuned)
    print(table)
    log(f"whole run {total:.0f} s")
    if args.output is not None:
        text = DOC.format(
            command=command, machine=header, revision=revision(), processor=described,
            content=content, total=total, table=table,
        )
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        log(f"wrote {args.output}")


DOC = """\
# Video pipeline speed

Produced by `{command}` from the project root, {revision}, in one process of {total:.0f} s
(the live and memory parts in fresh child processes). Machine: {machine}.

This is a shared machine: other people's tests and experiments ran during the benchmark. The
"others' load" columns say how many of the 2 cores other processes took on average during each
run (from /proc/stat; 0 = the machine was ours). Absolute numbers move by 10-30% between runs
here; the ratios, measured minutes apart in one process, move less. `--repeat 3 --settle 30`
gives steadier numbers at the price of time.

Clips: {content}, 30 fps H.264 (crf 18, about 10 Mb/s at 720p) with a stereo AAC track,
generated with PyAV at the start of the run. Processors, as `greenroom video --blur` and
`greenroom camera --blur` build them: {processor}.

{table}
## What each row is

**File** (one full pass over the clip each). *CPU ms/frame* counts every thread: decoder,
model, OpenCV, x264.

- *`greenroom video IN -o OUT`*: the command exactly as a user runs it, in a process of its
  own, timed from start to exit (interpreter start, imports, model and codec set-up included);
  CPU is the child's user + system time from the kernel. The row issue 11's targets are about.
- *floor, a whole process*: decode + encode alone in a process of its own (`bench_video.py
  --child floor`: `convert_video` with a processor that does nothing, frames passed straight
  through in yuv420p), timed the same way: what the codec alone costs.
- *greenroom `convert_video`*: `greenroom.jobs.convert.convert_video` with the processor the
  CLI builds for `--blur`, x264 preset veryfast, default crf, audio remuxed: what
  `greenroom video IN -o OUT --blur` does, without the progress bar, in this process (models
  loaded before timing). Frames stay in yuv420p from decoder to encoder (`frames.I420`).
- *the same through RGB*: `convert_video(..., planar=False)`: every frame converted to RGB
  after decoding and back before encoding, composited in RGB: the path before issue 11.
- *floor*: `convert_video` with a processor that does nothing, i.e. VideoFileSource ->
  VideoFileSink with the same encoder settings and audio, in the same threads (decode in one,
  encode in another). No effect can be faster than this. A plain sequential loop is slower,
  because decode and encode no longer overlap, and would flatter the ratio.
- *naive loop*: the tutorial loop: `cv2.VideoCapture` -> `SelfieSegmentation(model_selection=1)`
  -> `np.where(mask[..., None] > 0.5, frame, cv2.GaussianBlur(frame, (55, 55), 0))` at full
  resolution -> `cv2.VideoWriter` (mp4v). It drops the audio and the timestamps, and writes
  MPEG-4 Part 2, which is far cheaper to encode than H.264 (and far worse at the same size).
- *naive loop's own decode + encode*: the same loop without model and blur: its floor. It shows
  how much of the greenroom / naive ratio is the encoder rather than the effect.
- *greenroom / floor*, *greenroom / naive*: ratios of frames/s from the same run.
- *CPU ms/frame of the effect alone*: a row's CPU minus its floor's: what segmentation and
  compositing cost each pipeline once the codecs are taken out.
- *Stage table*: mean wall ms per frame inside each `StreamPipeline` stage (`PipelineStats`),
  and minor page faults per frame (memory the process touched fresh from the kernel).

**Live** (a fresh process): built as `greenroom camera --source clip.mp4 --loop --realtime`
builds it: `LiveFileSource(loop=True, realtime=True)` releasing frames at 30 fps,
`StreamPipeline(live=True)` (one-slot queues that drop the oldest frame), and a
`VirtualCameraSink` whose camera is a null object instead of pyvirtualcam, stopped from the
output callback as `--duration` does.

- *camera stand-in*: the same pipeline and processor fed by `ReplayedCamera` instead: the
  clip's first 150 frames encoded once as a 720p USB camera sends them (MJPEG, 4:2:2 chroma)
  and read back at 30 fps through greenroom's own camera path
  (`sources.camera_formats.RawFrameReader`, as `greenroom camera` reads a real device), played
  back and forth. The file source runs an H.264 decoder beside the pipeline that a call with a
  camera does not have; the two compete for the 2 cores and their caches, so each costs more
  CPU than alone, and *net* keeps that extra. The stand-in has a far lighter source and so
  says what greenroom costs beside a camera. Both columns are judged against the targets.
- *frames/s delivered*: frames that reached the sink per second; *dropped*: frames the live
  queues threw away because a stage was still busy.
- *latency*: `PipelineStats.latency`, from the moment the source released a frame to the end of
  the sink's write: what greenroom adds to a camera's own latency.
- *allocator*: the `greenroom` command raises glibc's mmap and trim thresholds at start
  (`greenroom.pipeline.allocator`), so the frame-sized buffers freed each frame are reused
  instead of being unmapped and page-faulted in again; the second column is the same run
  without that, for its share. The file and memory runs are tuned like the command.
- *CPU*: process CPU time over wall time, in % of one core. *Gross* is the whole process;
  *the source alone* is a second source of the same kind (`LiveFileSource`, or the stand-in),
  paced the same way and giving the same yuv420p frames, iterated for as long with nothing else
  running; *net* = gross - source. With `--repeat N`, each setting runs N times, interleaved
  with the others, and the run with the median net CPU is reported; the net CPU of every run
  is listed beside it.
- *the processor alone*: the same processor's `segment` + `composite` in one thread on the
  clip's first 150 frames, decoded beforehand: back to back, then each frame started at its
  time at 30 fps with sleeps between. The paced figure is what the same work costs when the
  cores idle between frames, as they do live; the gap between the two is what that idling
  costs on this machine (it varies from run to run, and has come out near zero).

**Start-up** (a fresh process per run, `bench_video.py --child startup`): issue 11 asks for
the model and the codecs to be set up in under 0.5 s. *Imports* is the time from the process's
start (from /proc) to the child's first line: the interpreter and every import, which
include the command's. *Model* builds the processor the CLI builds, loads the model (its
rewritten graph read from the models folder, as every run after the first does) and takes the
clip's frame through segmentation and compositing once. *Codecs* is `convert_video` on the
one-frame 720p clip: the file opened, decoder and x264 set up, the frame composited, encoded
and muxed with its audio, the file finalized. The last row is the command itself on the same
clip, from start to exit, as a user waits for it.

**Memory** (a fresh process): `LiveFileSource(loop=True, realtime=False)` over a 90-frame
640x360 clip, reopened at every loop, through `StreamPipeline(live=False)` so that every frame
is segmented and composited, into a null sink; RSS from /proc/self/statm every 500 frames. A
leak keeps growing through the second half; allocator and cache warm-up levels off.

## Reproducing

```sh
make test                                                   # creates .venv with greenroom
.venv/bin/python benchmarks/bench_video.py                  # this page (about 5-6 min)
.venv/bin/python benchmarks/bench_video.py --quick          # 720p, short parts, ~1 min
.venv/bin/python benchmarks/bench_video.py --sizes 720p --skip naive --skip live \\
    --skip memory --workdir /tmp/clips                      # iterate on the file path
.venv/bin/python benchmarks/bench_video.py --also-preset ultrafast   # the encoder's share
.venv/bin/python benchmarks/bench_video.py --repeat 3 --settle 30    # steadier, ~12 min
```

Runs that leave parts out (`--quick`, `--sizes`, `--skip`) print their tables but write this
file only when given `--output`. `--workdir` keeps the generated clips for the next run. The
DAVIS frames are read from `../shared/data/davis-dance-twirl/images/` beside the project root;
without them the clips show the astronaut sample photo moving over a textured background.
"""


if __name__ == "__main__":
    main()
