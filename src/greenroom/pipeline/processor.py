"""The per-frame work: segment, bring the matte to frame size, apply the effect.

A `Processor` owns a loaded model and an effect, so many frames (a folder of photos, a video, a
camera) pay for loading once. It is the unit the streaming pipelines run in their stages.
"""

from __future__ import annotations

import numpy as np

from greenroom.compositing import Blur, Effect
from greenroom.compositing.effects import PlaneMatte
from greenroom.compositing.framing import AutoFramer
from greenroom.enhance.lowlight import LowLightEnhancer
from greenroom.frames import I420, Box
from greenroom.matte import (
    GuidedRefiner,
    MatteAdjust,
    SceneCutDetector,
    StillnessSkipper,
    TemporalSmoother,
)
from greenroom.matte.guided import GuideSpace
from greenroom.segmentation import Segmenter, load_segmenter, mask_to_frame
from greenroom.segmentation.base import check_frame


class Processor:
    """Segmentation model + matte refinement + effect, reusable across frames.

    Frames are RGB uint8 arrays (HxWx3). `process` returns what the effect makes: RGB, RGBA for
    `Transparent`, or a grayscale matte for `MaskOnly`.

    - `refine` (default on): the guided filter that redraws the mask edge along the frame's
      edges (`matte.GuidedRefiner`); off gives MediaPipe's plain bilinear mask.
    - `temporal` (default off, on in the video and camera commands): motion-aware smoothing
      across frames (`matte.TemporalSmoother`). Only meaningful for a sequence of frames.
    - `skip_still` (default off): reuse the last mask while nothing moves near the person's
      edge (`matte.StillnessSkipper`), saving the model run.
    - `scene_cuts` (default on): when a frame starts a new shot (an edit, a seek, a looped file
      starting over), forget what was carried over from the previous frames: the smoothed
      mask, the reused mask, a recurrent model's state (`matte.SceneCutDetector`). Only
      checked when something is carried over.
    Each accepts True/False or a configured instance. `adjust` (default none) is the user's
    threshold, grow/shrink and feather, applied to the frame-sized matte last
    (`matte.MatteAdjust`). `framing` (default off) keeps the person centred at a steady size
    by a damped virtual pan and zoom of the output (`compositing.framing.AutoFramer`).
    `enhancer` (default none) brightens dim frames before everything else
    (`enhance.lowlight.LowLightEnhancer`).
    """

    def __init__(
        self,
        effect: Effect | None = None,
        model: str | Segmenter = "auto",
        num_threads: int | None = None,
        *,
        refine: bool | GuidedRefiner = True,
        temporal: bool | TemporalSmoother = False,
        skip_still: bool | StillnessSkipper = False,
        scene_cuts: bool | SceneCutDetector = True,
        adjust: MatteAdjust | None = None,
        framing: bool | AutoFramer = False,
        enhancer: LowLightEnhancer | None = None,
    ) -> None:
        self.effect = effect if effect is not None else Blur()
        self.segmenter = (
            load_segmenter(model, num_threads) if isinstance(model, str) else model
        )
        if refine is True:  # a matting model's soft alpha is kept (no contrast band)
            from greenroom.segmentation.quality import refiner_for

            chosen = refiner_for(self.segmenter)
            refine = chosen if isinstance(chosen, GuidedRefiner) else GuidedRefiner()
        self.refiner = refine or None
        self.temporal = TemporalSmoother() if temporal is True else (temporal or None)
        self.skipper = StillnessSkipper() if skip_still is True else (skip_still or None)
        # Recurrent models carry state of their own, which a new shot must drop too.
        carries_state = (
            self.temporal is not None or self.skipper is not None or self.segmenter.stateful
        )
        self.cuts = (
            (SceneCutDetector() if scene_cuts is True else (scene_cuts or None))
            if carries_state
            else None
        )
        self.adjust = adjust if adjust is not None and adjust.active else None
        self.framer = AutoFramer() if framing is True else (framing or None)
        self.enhancer = enhancer
        self._last_mask: np.ndarray | None = None
        # (mask, its refined matte, the box outside which that is 0)
        self._refined: tuple[np.ndarray, np.ndarray, Box | None] | None = None

    @property
    def takes_planes(self) -> bool:
        """Whether frames may come in the codec's yuv420p (`I420`) and the result go out so.

        True when the effect composites plane by plane and no other step needs a whole RGB
        frame (low light, auto-framing and the matte knobs work on RGB). Checked per frame, so
        a live switch (a hotkey) between effects or steps takes the right path at once.
        """
        return (
            self.effect.planar
            and (self.enhancer is None or self.enhancer.strength == 0)
            and (self.framer is None or not self.framer.enabled)
            and self.adjust is None
        )

    def _analysis(self, picture: I420) -> tuple[np.ndarray, GuideSpace]:
        """What the model and the matte read of a yuv420p frame, and in which colours: the
        half-size picture as Y, U, V when the guided filter works at half size or less anyway
        (720p and up; the model converts its small input to RGB, the filter fits the YUV values
        directly, and no half-size RGB is made), else all of it as RGB."""
        fine = self.refiner.params.fine_height if self.refiner is not None else 360
        if picture.height >= 2 * fine:
            return picture.half_yuv(), "yuv"
        return picture.rgb(), "rgb"

    def prepare(self, frame: np.ndarray | I420) -> np.ndarray | I420:
        """The frame as the model and the effect should see it (brightened, with `enhancer`)."""
        if self.enhancer is None or (isinstance(frame, I420) and self.enhancer.strength == 0):
            return frame
        return self.enhancer.apply(frame.rgb() if isinstance(frame, I420) else frame)

    def segment(self, frame: np.ndarray | I420) -> np.ndarray:
        """The soft mask at model resolution, smoothed over time if asked (the model-bound half).

        With `skip_still`, a still frame returns the previous mask without running the model. A
        yuv420p frame is read through `_analysis` (at half size from 720p up), and what changed
        between frames through its luma plane, reduced to the size those checks read.
        """
        signal = frame.motion_luma() if isinstance(frame, I420) else frame
        order: GuideSpace = "rgb"
        if isinstance(frame, I420):
            frame, order = self._analysis(frame)
        check_frame(frame)
        if self.cuts is not None and self.cuts.is_cut(signal):
            self._forget()
        if (
            self.skipper is not None
            and self.skipper.can_reuse(signal)
            and self._last_mask is not None
        ):
            return self._last_mask
        mask = self.segmenter.segment(frame, order)
        if self.skipper is not None:
            self.skipper.computed(mask)
        if self.temporal is not None:
            mask = self.temporal.update(signal, mask)
        self._last_mask = mask
        return mask

    def reset(self) -> None:
        """Forget the previous frames (a new file, a seek)."""
        self._forget()
        if self.framer is not None:
            self.framer.reset()
        if self.enhancer is not None:
            self.enhancer.reset()
        self.effect.reset()
        if self.cuts is not None:
            self.cuts.reset()

    def _forget(self) -> None:
        """Drop the state carried from frame to frame (the scene-cut detector keeps its own)."""
        self._last_mask = None
        self._refined = None
        if self.temporal is not None:
            self.temporal.reset()
        self.segmenter.reset()

    def matte_from_mask(self, frame: np.ndarray, small: np.ndarray,
                        space: GuideSpace = "rgb") -> np.ndarray:
        """Bring a model-resolution mask to the frame's size: float32 in [0, 1], 1 = person.

        `space` is the frame's colours: RGB, or Y, U, V (a yuv420p picture's `half_yuv`).
        """
        return self._matte_and_box(frame, small, space)[0]

    def _matte_and_box(self, frame: np.ndarray, small: np.ndarray, space: GuideSpace,
                       picture: I420 | None = None) -> tuple[np.ndarray, Box | None]:
        """`matte_from_mask`, and the box outside which the matte is 0 (None: not known).

        When the still-frame skipper handed back the very same mask as last time, the matte
        refined from it is reused as well: nothing moved, so refinement would redo the same work.
        `picture` is the yuv420p picture whose `half_yuv` `frame` is, if it is: the filter's
        coarse grid is then read from the picture's cached reductions.
        """
        size = (frame.shape[1], frame.shape[0])
        if self.refiner is None:
            return mask_to_frame(small, size), None
        cached = self._refined
        if cached is not None and cached[0] is small and cached[1].shape == frame.shape[:2]:
            return cached[1], cached[2]
        alpha, box = self.refiner.refine_boxed(
            frame, small, space, None if picture is None else picture.half_planes)
        if self.skipper is not None:
            self._refined = (small, alpha, box)
        return alpha, box

    def final_matte(self, frame: np.ndarray, small: np.ndarray) -> np.ndarray:
        """The frame-sized matte with the user's adjustments, what the effect receives."""
        alpha = self.matte_from_mask(frame, small)
        return alpha if self.adjust is None else self.adjust.apply(alpha)

    def composite(self, frame: np.ndarray | I420, small: np.ndarray) -> np.ndarray | I420:
        """The second half of the work: matte at frame size, then the effect.

        Split from `segment` so a streaming pipeline can run the two halves in separate threads.
        A yuv420p frame is composited in its planes when `takes_planes`, else through RGB.
        """
        if isinstance(frame, I420):
            if not self.takes_planes:
                return self.composite(frame.rgb(), small)
            view, space = self._analysis(frame)
            size = (frame.width, frame.height)
            if view.shape[0] == frame.height:  # a small frame, read whole
                matte = PlaneMatte(size, full=self.matte_from_mask(view, small, space))
            else:  # formed at half size (the chroma planes'), brought up as the RGB path does
                alpha, box = self._matte_and_box(view, small, space, frame)
                matte = PlaneMatte(size, uv=alpha, box=box)
            return self.effect.apply_planes(frame, matte)
        alpha = self.final_matte(frame, small)
        output = self.effect.apply(frame, alpha)
        return output if self.framer is None else self.framer.frame(output, alpha)

    def matte(self, frame: np.ndarray) -> np.ndarray:
        """The person matte at the frame's size: float32 in [0, 1], 1 = person."""
        return self.final_matte(frame, self.segment(frame))

    def process(self, frame: np.ndarray) -> np.ndarray:
        """Apply the effect to one RGB frame."""
        frame = self.prepare(frame)
        return self.composite(frame, self.segment(frame))

    def close(self) -> None:
        self.segmenter.close()
        self.effect.close()  # an effect holding a file, e.g. a video background

    def __enter__(self) -> Processor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
