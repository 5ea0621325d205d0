"""Teachers: big matting models of the zoo that label unlabelled frames (distillation).

`load_teacher(path)` takes an ONNX file and recognises its signature: RVM (recurrent: the state
is carried along each video or folder of frames, reset between them, as RVM is meant to run) or
a MODNet-style single-input matting model (`input` Nx3xHxW in [-1, 1], sides multiples of 32,
alpha out). Labels are cached as PNGs keyed by the file, so a second run costs nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from greenroom.errors import InputError
from greenroom.segmentation.backends import onnx_session
from greenroom.segmentation.recurrent import RecurrentMattingSegmenter, is_recurrent_signature

#: Frame (RGB uint8) -> soft person mask (float32 in [0, 1], the frame's size).
Labeler = Callable[[np.ndarray], np.ndarray]


class MattingTeacher:
    """A MODNet-style ONNX matting model: one RGB image in, one alpha matte out."""

    def __init__(self, path: Path, max_side: int = 512, num_threads: int | None = None,
                 session: Any = None) -> None:
        self.path = path
        self.max_side = max_side
        self._session = session or onnx_session(path, num_threads)
        self._input = self._session.get_inputs()[0].name

    def reset(self) -> None:
        """Nothing is carried between frames."""

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        size = (max(32, round(w * scale / 32) * 32), max(32, round(h * scale / 32) * 32))
        small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        tensor = ((small - 127.5) / 127.5).transpose(2, 0, 1)[None]
        alpha = np.asarray(self._session.run(None, {self._input: tensor})[0], np.float32)
        alpha = alpha.reshape(alpha.shape[-2:])
        return np.clip(cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)


class RecurrentTeacher:
    """RVM: the recurrent state runs along a sequence; `reset()` between sequences."""

    def __init__(self, path: Path, num_threads: int | None = None, session: Any = None) -> None:
        self.path = path
        self._model = RecurrentMattingSegmenter(path, num_threads, session=session)

    def reset(self) -> None:
        self._model.reset()

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        mask = self._model.segment(frame, "rgb")
        h, w = frame.shape[:2]
        if mask.shape != (h, w):
            mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
        return np.clip(mask, 0, 1).astype(np.float32)


def load_teacher(path: Path, num_threads: int | None = None) -> MattingTeacher | RecurrentTeacher:
    """The teacher in an ONNX file: RVM by its recurrent signature, else MODNet-style."""
    if not path.is_file():
        raise InputError(path, "no such teacher model file")
    session = onnx_session(path, num_threads)
    inputs = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    if is_recurrent_signature(inputs, outputs):
        return RecurrentTeacher(path, num_threads, session)
    if len(inputs) != 1:
        raise InputError(path, f"not a matting teacher: inputs {inputs} (want one image, or RVM's)")
    return MattingTeacher(path, num_threads=num_threads, session=session)


def cache_key(teacher_path: Path, frame_source: Path, index: int) -> str:
    """A file name for one pseudo-label: teacher, source file and frame index."""
    digest = hashlib.sha1(f"{teacher_path.resolve()}|{frame_source.resolve()}|{index}".encode())
    return f"{frame_source.stem}-{index:05d}-{digest.hexdigest()[:10]}.png"


def label_frames(teacher: MattingTeacher | RecurrentTeacher, source: Path,
                 frames: list[np.ndarray], cache: Path | None) -> list[np.ndarray]:
    """uint8 soft labels (0..255) for the frames of one source, from the cache when present."""
    labels = []
    for index, frame in enumerate(frames):
        cached = cache / cache_key(teacher.path, source, index) if cache else None
        if cached is not None and cached.is_file():
            label = cv2.imread(str(cached), cv2.IMREAD_GRAYSCALE)
            if label is not None and label.shape == frame.shape[:2]:
                labels.append(label)
                continue
        label = np.round(teacher(frame) * 255).astype(np.uint8)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(cached), label)
        labels.append(label)
    return labels
