"""What the load-time graph rewrites (segmentation/litert.py) buy: each model's invoke as its file
is, against the same model with its last transposed convolution as a 1x1 convolution +
DEPTH_TO_SPACE (bit-identical), and with that and its 1x1 convolutions moved before the
bilinear enlargements they read (what greenroom loads; float rounding moves the output a little).

One LiteRT thread (as the fast models run), real frames at the model's input size (the shipped
samples, and DAVIS frames from ../shared when present), rounds interleaved so that a slow spell
of this shared machine hits both alike; the minimum and median per invoke are reported, with
the largest output difference and what the rewrite costs once at load. The shipped models
always; Meet's two from ../shared/models when there. Prints a Markdown table and writes it to
docs/benchmarks-model-graph.md.

    .venv/bin/python benchmarks/model_graph.py [--rounds 15] [--output FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from bench_video import revision
from greenroom.samples import astronaut, rocket
from greenroom.segmentation.litert import load_interpreter, rewrite_transposed_convolutions
from greenroom.segmentation.mediapipe_selfie import VARIANTS
from greenroom.segmentation.native_log import quiet_native_info
from greenroom.segmentation.store import builtin_model_path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MEET = ["segm_full_v679.tflite", "segm_lite_v681.tflite"]


def models() -> dict[str, Path]:
    weights = builtin_model_path(VARIANTS["general"].filename).parent
    found = {f"{path.name} (shipped)": path for path in sorted(weights.glob("*.tflite"))}
    for name in MEET:
        path = SHARED / "models" / name
        if path.exists():
            found[f"{name} (Meet, ../shared)"] = path
    return found


def frames(height: int, width: int, count: int = 12) -> list[np.ndarray]:
    images = [astronaut(), rocket()]
    davis = SHARED / "data" / "davis-people-unlabeled"
    if davis.is_dir():
        images += [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
                   for p in sorted(davis.rglob("*.jpg"))[: count - 2]]
    return [cv2.resize(i, (width, height), interpolation=cv2.INTER_AREA)[None]
            .astype(np.float32) / 255 for i in images]


def run(interpreter: Interpreter, tensor: np.ndarray) -> np.ndarray:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def measure(path: Path, rounds: int) -> dict[str, float]:
    exact_content = rewrite_transposed_convolutions(path.read_bytes(), reorder=False)
    started = time.perf_counter()
    rewrite_transposed_convolutions(path.read_bytes())  # both, as greenroom loads it
    load_cost = time.perf_counter() - started
    with quiet_native_info():
        original = Interpreter(model_path=str(path), num_threads=1)
        exact = Interpreter(model_content=exact_content, num_threads=1)
        for interpreter in (original, exact):
            interpreter.allocate_tensors()
        rewritten = load_interpreter(path, 1)
    interpreters = {"original": original, "exact": exact, "rewritten": rewritten}
    _, height, width, _ = original.get_input_details()[0]["shape"]
    inputs = frames(int(height), int(width))
    found: dict[str, float] = {"load ms": load_cost * 1000}
    for name in ("exact", "rewritten"):
        found[f"{name} difference"] = max(
            float(np.abs(run(original, x) - run(interpreters[name], x)).max()) for x in inputs)
    times: dict[str, list[float]] = {name: [] for name in interpreters}
    for _ in range(rounds):
        for name, interpreter in interpreters.items():
            started = time.perf_counter()
            for x in inputs:
                run(interpreter, x)
            times[name].append((time.perf_counter() - started) / len(inputs) * 1000)
    for name, values in times.items():
        found[f"{name} min"] = min(values)
        found[f"{name} median"] = statistics.median(values)
    return found


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--output", type=Path,
                        default=ROOT / "docs" / "benchmarks-model-graph.md")
    args = parser.parse_args()
    rows = []
    for label, path in models().items():
        found = measure(path, args.rounds)
        rows.append(
            f"| {label} | {found['original min']:.2f} / {found['original median']:.2f} | "
            f"{found['exact min']:.2f} / {found['exact median']:.2f} | "
            f"{found['rewritten min']:.2f} / {found['rewritten median']:.2f} | "
            f"{found['original median'] / found['exact median']:.2f}x / "
            f"{found['original median'] / found['rewritten median']:.2f}x | "
            f"{found['exact difference']:.1e} / {found['rewritten difference']:.1e} | "
            f"{found['load ms']:.0f} ms |"
        )
    table = "\n".join([
        "# Model graph rewrites: the last transposed convolution as a 1x1 convolution + "
        "DEPTH_TO_SPACE, and 1x1 convolutions before their resize",
        "",
        f"Produced by `.venv/bin/python benchmarks/model_graph.py --rounds {args.rounds}` at "
        f"{revision()}. Machine: {platform.machine()}, {cpu_name()}, "
        f"{os.cpu_count()} CPUs; one LiteRT thread, rounds interleaved; ms per invoke on real "
        "frames at the model's input size.",
        "",
        "| model | as the file is: min / median ms | transposed convolution rewritten: min / "
        "median ms | both rewrites (loaded): min / median ms | median speed-up: first / both "
        "| largest output difference: first / both | rewrite at load |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Why: XNNPACK runs a transposed convolution as sub-convolutions with a one-row "
        "micro-kernel padded to 8 output channels, which these models' 1- or 2-channel last "
        "layer wastes; with kernel = stride the windows do not overlap, so the same sums come "
        "from a 1x1 convolution and a pixel shuffle (src/greenroom/segmentation/litert.py). "
        "Then each 1x1 convolution that reads a bilinear enlargement runs before it, on a "
        "quarter of the pixels: the two commute (bilinear weights sum to 1), and only float "
        "rounding differs.",
    ])
    print(table)
    args.output.write_text(table + "\n")


if __name__ == "__main__":
    main()
