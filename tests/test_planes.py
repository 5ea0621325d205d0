"""The codec-format frame path: yuv420p (`I420`) from decoder to encoder, composited in planes.

The planes path must look the same as the RGB path: on a real dancer, for every effect, the mean
absolute difference is at most 1 level and the PSNR at least 40 dB (issue 11's bar).
"""

from __future__ import annotations

import sys
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from greenroom.compositing import Blur, ColorBackground, ImageBackground, cover_resize
from greenroom.compositing.effects import PlaneMatte
from greenroom.compositing.resample import halve, upscale
from greenroom.frames import I420, Frame
from greenroom.jobs.convert import convert_video
from greenroom.matte import GuidedRefiner, MatteAdjust
from greenroom.pipeline import Processor
from greenroom.samples import rocket
from greenroom.sinks.video import VideoFileSink
from greenroom.sources.video import VideoFileSource
from tests.conftest import shared_path

EFFECTS = {
    "blur": lambda: Blur(),
    "color": lambda: ColorBackground((0, 177, 64)),
    "image": lambda: ImageBackground(rocket()),
    "image with light wrap": lambda: ImageBackground(rocket(), light_wrap=0.3),
}


def dancer_clip(path, width: int, height: int, frames: int = 16):
    """The first DAVIS dance-twirl frames, cover-resized, as an H.264 clip."""
    names = sorted(shared_path("data", "davis-dance-twirl").rglob("*.jpg"))[:frames]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index, name in enumerate(names):
            rgb = cover_resize(cv2.cvtColor(cv2.imread(str(name)), cv2.COLOR_BGR2RGB), width,
                               height)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 30)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module", params=[(1280, 720), (854, 480)], ids=["720p", "480p"])
def dancer(request, tmp_path_factory):
    width, height = request.param
    clip = dancer_clip(tmp_path_factory.mktemp("planes") / "dancer.mp4", width, height)
    return list(av.open(str(clip)).decode(video=0))


def test_i420_planes_are_views_and_convert_like_opencv(astronaut_rgb):
    picture = I420.from_rgb(astronaut_rgb)
    assert picture.shape == (512, 512)
    assert picture.y.shape == (512, 512) and picture.u.shape == picture.v.shape == (256, 256)
    back = picture.rgb()
    assert np.abs(back.astype(int) - astronaut_rgb).mean() < 2.5  # 4:2:0 loses some chroma
    picture.u[...] = 128
    picture.v[...] = 128
    gray = picture.rgb()
    assert np.abs(gray[..., 0].astype(int) - gray[..., 2]).max() <= 1  # writing a view wrote it
    half = I420.from_rgb(astronaut_rgb).half_rgb()
    assert np.abs(half.astype(int) - halve(back, 1)).mean() < 0.6
    with pytest.raises(ValueError, match="I420"):
        I420.from_buffer(np.zeros((7, 8), np.uint8))


def test_reduced_luma_is_computed_once_and_sized_for_the_motion_checks(astronaut_rgb):
    picture = I420.from_rgb(cv2.resize(astronaut_rgb, (1280, 720)))
    quarter = picture.luma(2)
    assert quarter.shape == (180, 320)
    assert np.array_equal(quarter, halve(picture.y, 2))
    assert picture.luma(2) is quarter and picture.luma(1) is picture.half_y()  # cached
    assert picture.luma(0) is picture.y
    # the smallest halving still at least 256 wide: 320 of 1280, 480 of 1920, the plane if small
    assert picture.motion_luma().shape == (180, 320)
    assert I420.from_rgb(cv2.resize(astronaut_rgb, (1920, 1080))).motion_luma().shape == (270, 480)
    small = I420.from_rgb(cv2.resize(astronaut_rgb, (320, 240)))
    assert small.motion_luma() is small.y


def test_reduced_planes_are_the_half_size_picture_halved_and_computed_once(astronaut_rgb):
    """`half_planes(n)` (cached reductions of Y, U and V) holds exactly `half_yuv` halved n
    times: the blur and the guided filter's coarse grid read them instead of halving again."""
    picture = I420.from_rgb(cv2.resize(astronaut_rgb, (1280, 720)))
    for times in (0, 1, 2, 3):
        planes = picture.half_planes(times)
        assert all(np.array_equal(got, want) for got, want in
                   zip(planes, cv2.split(halve(picture.half_yuv(), times)), strict=True))
    assert picture.chroma(2)[0] is picture.half_planes(2)[1]  # cached
    assert picture.chroma(0)[0] is picture.u and picture.chroma(0)[1] is picture.v


def test_the_guided_filter_gives_the_same_matte_from_the_cached_reductions(astronaut_rgb):
    picture = I420.from_rgb(cv2.resize(astronaut_rgb, (1280, 720)))
    mask = np.zeros((144, 256), np.float32)
    mask[30:130, 90:170] = 1
    mask = cv2.GaussianBlur(mask, (9, 9), 3)
    refiner = GuidedRefiner()
    alpha, box = refiner.refine_boxed(picture.half_yuv(), mask, "yuv")
    again, same_box = refiner.refine_boxed(picture.half_yuv(), mask, "yuv", picture.half_planes)
    assert box == same_box and box is not None
    assert np.array_equal(alpha, again) and 0 < alpha.mean() < 1


def test_the_blur_reads_the_cached_reductions_with_the_same_result(astronaut_rgb):
    """The planar blur takes its smallest planes from the picture's cached reductions (which
    the guided filter has read already) instead of halving again: the same background, and
    the same as when it halves them itself."""
    picture = I420.from_rgb(cv2.resize(astronaut_rgb, (1280, 720)))
    alpha = np.zeros((360, 640), np.float32)
    alpha[60:330, 200:450] = 1
    alpha = cv2.GaussianBlur(alpha, (31, 31), 9)
    blur = Blur()
    sigma = blur.strength
    times = blur._halvings(sigma)
    assert times - Blur.PLAIN_HALVINGS >= 1  # the default does halve again: the case here
    small, weights = picture.half_planes(Blur.PLAIN_HALVINGS - 1), halve(alpha, 1)
    args = (small, weights, times - Blur.PLAIN_HALVINGS, sigma / (1 << times))
    cached = blur._blur_planes(*args, picture.half_planes(times - 1))
    assert all(np.array_equal(got, want) for got, want in
               zip(cached, blur._blur_planes(*args), strict=True))
    assert all(plane.shape == (90, 160) for plane in cached) and cached[0].std() > 0


@pytest.mark.parametrize("shape, size", [
    ((360, 640), (1280, 720)), ((180, 320, 3), (1280, 720)), ((135, 241), (963, 541)),
])
def test_upscale_samples_where_resize_does(astronaut_rgb, shape, size):
    """The fast uint8 enlargement (warpAffine) lands on cv2.resize's pixel centres: within one
    level everywhere, borders included, and it writes into a given plane in place."""
    gray = cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2GRAY)
    image = cv2.resize(astronaut_rgb if len(shape) == 3 else gray, shape[1::-1],
                       interpolation=cv2.INTER_AREA)
    expected = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR).astype(int)
    difference = np.abs(upscale(image, size).astype(int) - expected)
    assert difference.max() <= 1 and difference.mean() < 0.2
    # half a pixel off would move every edge: the astronaut has plenty of them
    shifted = cv2.warpAffine(image, np.float64([[size[0] / shape[1], 0, 0],
                                                [0, size[1] / shape[0], 0]]), size)
    assert np.abs(shifted.astype(int) - expected).mean() > 1.0
    target = np.zeros(expected.shape, np.uint8)
    upscale(image, size, dst=target)
    assert np.abs(target.astype(int) - expected).max() <= 1
    floats = image.astype(np.float32)
    assert np.array_equal(upscale(floats, size), cv2.resize(floats, size))


@pytest.mark.parametrize("name", list(EFFECTS))
def test_planes_path_looks_like_the_rgb_path(dancer, name):
    rgb_path = Processor(EFFECTS[name](), model="auto", temporal=True)
    planes_path = Processor(EFFECTS[name](), model="auto", temporal=True)
    assert planes_path.takes_planes
    differences, changed = [], []
    for decoded in dancer:
        rgb = decoded.to_ndarray(format="rgb24")
        expected = cv2.cvtColor(rgb_path.composite(rgb, rgb_path.segment(rgb)),
                                cv2.COLOR_RGB2YUV_I420)
        picture = I420.from_video_frame(decoded)
        result = planes_path.composite(picture, planes_path.segment(picture))
        assert isinstance(result, I420)
        differences.append(result.data.astype(np.int16) - expected)
        changed.append(np.abs(result.data.astype(np.int16) - picture.data).mean())
    errors = np.abs(np.stack(differences)).astype(np.float64)
    mad = errors.mean()
    psnr = 10 * np.log10(255**2 / (errors**2).mean())
    assert mad <= 1.0 and psnr >= 40.0, (mad, psnr)
    assert min(changed) > 3  # and the effect did change the background, much more than that


def test_only_steps_that_work_on_planes_take_them():
    assert Processor(Blur(), model="auto").takes_planes
    assert not Processor(Blur(), model="auto", adjust=MatteAdjust(feather=4)).takes_planes
    assert not Processor(Blur(), model="auto", framing=True).takes_planes


def test_the_sink_encodes_planes_as_they_are(tmp_path, astronaut_rgb):
    """Lossless H.264 (crf 0) of planes handed over as they are decodes to the same planes."""
    picture = I420.from_rgb(astronaut_rgb)
    with VideoFileSource(dancer_free_clip(tmp_path, astronaut_rgb)) as source:
        info = source.info
    with VideoFileSink(tmp_path / "planes.mkv", info, crf=0, preset="ultrafast") as sink:
        for index in range(3):
            sink.write(Frame(index, picture, pts=index, time_base=info.time_base))
    decoded = [f.to_ndarray(format="yuv420p") for f in av.open(str(tmp_path / "planes.mkv"))
               .decode(video=0)]
    assert len(decoded) == 3
    np.testing.assert_array_equal(decoded[0], picture.data)


def dancer_free_clip(tmp_path, image):
    """A one-frame clip of `image`, for a `VideoInfo` of its size."""
    path = tmp_path / "one.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = image.shape[1], image.shape[0], "yuv420p"
        out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def test_convert_video_keeps_the_codec_format_end_to_end(tmp_path):
    clip = dancer_clip(tmp_path / "in.mp4", 1280, 720, frames=8)
    seen: list[type] = []

    class Spy(Processor):
        def composite(self, frame, small):  # noqa: ANN001, ANN201
            seen.append(type(frame))
            return super().composite(frame, small)

    with Spy(Blur(), model="auto", temporal=True) as processor:
        planes = convert_video(clip, tmp_path / "planes.mp4", processor)
        processor.reset()
        rgb = convert_video(clip, tmp_path / "rgb.mp4", processor, planar=False)
        processor.reset()
        sequence = convert_video(clip, str(tmp_path / "png") + "/", processor)
    assert seen == [I420] * 8 + [np.ndarray] * 16  # PNGs are RGB
    assert planes.stats.frames_out == rgb.stats.frames_out == sequence.stats.frames_out == 8
    a = [f.to_ndarray(format="rgb24").astype(np.float64)
         for f in av.open(str(planes.output)).decode(video=0)]
    b = [f.to_ndarray(format="rgb24").astype(np.float64)
         for f in av.open(str(rgb.output)).decode(video=0)]
    mse = np.mean((np.stack(a) - np.stack(b)) ** 2)
    assert 10 * np.log10(255**2 / mse) > 38  # both encoded: x264's own noise comes on top


def test_live_file_frames_stay_in_planes_upright_and_mirrored(tmp_path):
    """A phone clip stored sideways comes upright in planes too; mirroring flips the planes."""
    from greenroom.pipeline.mirror import Mirror
    from greenroom.sources.live_file import LiveFileSource
    from tests.clips import make_clip

    clip = make_clip(tmp_path / "phone.mp4", frames=3, width=320, height=240, rotation=90)
    rgb = [frame.image for frame in LiveFileSource(clip.path, realtime=False)]
    planes = [frame.image for frame in LiveFileSource(clip.path, realtime=False, planar=True)]
    assert all(isinstance(p, I420) and p.shape == (320, 240) for p in planes)
    assert np.abs(planes[0].rgb().astype(int) - rgb[0]).mean() < 2
    frames = [Frame(0, planes[0])]
    (mirrored,) = [frame.image for frame in Mirror(True).frames(frames)]
    np.testing.assert_array_equal(mirrored.y, planes[0].y[:, ::-1])
    np.testing.assert_array_equal(mirrored.v, planes[0].v[:, ::-1])


def test_a_planar_virtual_camera_takes_planes_and_converts_the_rest(astronaut_rgb):
    from greenroom.sinks.virtualcam import VirtualCameraSink
    from greenroom.testing import FakeVirtualCamera

    sink = VirtualCameraSink(512, 512, 30, camera_factory=FakeVirtualCamera, planar=True)
    picture = I420.from_rgb(astronaut_rgb)
    sink.write(Frame(0, picture, output=picture))
    sink.write(Frame(1, astronaut_rgb, output=np.zeros((512, 512), np.uint8)))  # a matte
    camera = sink._camera
    np.testing.assert_array_equal(camera.sent[0], picture.data)  # as it is, unconverted
    assert camera.pictures()[1].max() <= 1  # the black matte arrived black
    sink.close()


@pytest.mark.parametrize("size", [(1280, 720), (854, 480)])  # 854: chroma rows of odd length
def test_a_composited_picture_reaches_encoder_and_virtual_camera_without_a_copy(
        tmp_path, astronaut_rgb, size):
    """The effects write into `I420.blank` pictures: one buffer that the encoder's frame wraps
    and that a virtual camera takes whole, so neither needs a copy, and both get the picture."""
    from greenroom.sinks.virtualcam import VirtualCameraSink
    from greenroom.testing import FakeVirtualCamera

    width, height = size
    source = I420.from_rgb(cv2.resize(astronaut_rgb, size))
    picture = I420.blank(width, height)
    for target, plane in zip(picture.planes(), source.planes(), strict=True):
        target[...] = plane
    data = picture.data
    assert all(np.shares_memory(data, plane) for plane in picture.planes())
    frame = picture.to_video_frame()
    assert np.frombuffer(frame.planes[0], np.uint8).ctypes.data == picture.y.ctypes.data
    np.testing.assert_array_equal(frame.to_ndarray(), source.data)
    sink = VirtualCameraSink(width, height, 30, camera_factory=FakeVirtualCamera, planar=True)
    sink.write(Frame(0, picture, output=picture))
    np.testing.assert_array_equal(sink._camera.sent[0], source.data)
    sink.close()
    # and lossless H.264 of it decodes to the same planes
    with VideoFileSource(dancer_free_clip(tmp_path, cv2.resize(astronaut_rgb, size))) as clip:
        info = clip.info
    with VideoFileSink(tmp_path / "blank.mkv", info, crf=0, preset="ultrafast") as out:
        out.write(Frame(0, picture, pts=0, time_base=info.time_base))
    decoded = next(av.open(str(tmp_path / "blank.mkv")).decode(video=0))
    np.testing.assert_array_equal(decoded.to_ndarray(format="yuv420p"), source.data)


def test_a_faint_blur_is_blurred_in_planes_too(dancer):
    """A blur below the strength the reduced-size path takes (sigma < 5 px at 720p) blurs each
    plane at its own size, like the RGB path, rather than leaving the picture as it was."""
    rgb_path = Processor(Blur(3), model="auto")
    planes_path = Processor(Blur(3), model="auto")
    decoded = dancer[0]
    rgb = decoded.to_ndarray(format="rgb24")
    expected = cv2.cvtColor(rgb_path.composite(rgb, rgb_path.segment(rgb)),
                            cv2.COLOR_RGB2YUV_I420).astype(np.int16)
    picture = I420.from_video_frame(decoded)
    result = planes_path.composite(picture, planes_path.segment(picture)).data.astype(np.int16)
    errors = np.abs(result - expected).astype(np.float64)
    assert errors.mean() <= 1.0 and 10 * np.log10(255**2 / (errors**2).mean()) >= 40.0
    assert np.abs(result - picture.data).mean() > 0.5  # blurred, not passed through


def test_the_matte_fitted_to_yuv_is_the_one_rgb_gives(astronaut_rgb):
    """The guided filter reads a yuv420p picture's half-size Y, U, V directly: with the
    regulariser carried over (eps (M'M)^-1) it gives what the same picture in RGB gives, and
    the model, converting only its small input, gives the same mask."""
    from greenroom.matte import GuidedRefiner
    from greenroom.matte.guided import regulariser
    from greenroom.segmentation import load_segmenter

    picture = I420.from_rgb(cv2.resize(astronaut_rgb, (1280, 720)))
    yuv, rgb = picture.half_yuv(), picture.half_rgb()
    model = load_segmenter("auto")
    small = model.segment(rgb)
    # the same up to the input's rounding, which this nearly binary model only shows on its edge
    differ = np.abs(model.segment(yuv, "yuv") - small)
    assert differ.mean() < 0.005 and np.quantile(differ, 0.99) < 0.1
    refiner = GuidedRefiner()
    from_rgb = refiner.refine(rgb, small)
    from_yuv = refiner.refine(yuv, small, "yuv")
    assert np.abs(from_yuv - from_rgb).mean() < 1e-3
    assert np.quantile(np.abs(from_yuv - from_rgb), 0.999) < 0.05  # RGB rounds and clips
    # the plain eps on the diagonal would fit another matte in YUV: the carried-over one matters
    eps = refiner.params.eps
    assert regulariser(eps, "rgb") == (eps, 0.0, 0.0, eps, 0.0, eps)
    guided = sys.modules[GuidedRefiner.__module__]
    plain = guided.regulariser
    try:
        guided.regulariser = lambda eps, space="rgb": plain(eps, "rgb")
        from_yuv_plain = refiner.refine(yuv, small, "yuv")
    finally:
        guided.regulariser = plain
    assert np.abs(from_yuv_plain - from_rgb).mean() > 3 * np.abs(from_yuv - from_rgb).mean()


def test_every_model_kind_reads_yuv_at_its_own_size(astronaut_rgb):
    """Spec-driven models convert their shrunk input too (one sidecar model as the example)."""
    from greenroom.segmentation.specs import ModelSpec, Preprocessor

    picture = I420.from_rgb(cv2.resize(astronaut_rgb, (1280, 720)))
    spec = ModelSpec(width=256, height=144)
    prep = Preprocessor(spec)
    got, want = prep(picture.half_yuv(), "yuv"), prep(picture.half_rgb(), "rgb")
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 2.5 / 255 * np.abs(want).max() + 1e-6


def _without_boxes(monkeypatch):
    """Make the guided filter work out every pixel, as before boxes (the reference)."""
    guided = sys.modules[GuidedRefiner.__module__]
    monkeypatch.setattr(guided, "_settled", lambda a, b, size: None)


def test_the_matte_is_only_worked_out_around_the_person_and_is_the_same(dancer, monkeypatch):
    """The guided filter computes its fine grid only in the box around the person's outline,
    and the planes are only blended there: on the dancer (a small figure in a wide frame) the
    box is well under the frame, and the matte and the composite are bit for bit what the
    whole-frame computation gives."""
    fast = Processor(Blur(), model="auto", temporal=True)
    mattes, pictures, fractions = [], [], []
    for decoded in dancer[::5]:
        picture = I420.from_video_frame(decoded)
        view, space = fast._analysis(picture)
        small = fast.segment(picture)
        alpha, box = fast.refiner.refine_boxed(view, small, space)
        assert box is not None
        x0, y0, x1, y1 = box
        outside = alpha.copy()
        outside[y0:y1, x0:x1] = 0
        assert not outside.any()
        fractions.append((x1 - x0) * (y1 - y0) / alpha.size)
        mattes.append((view, small, space, alpha))
        pictures.append((picture, small, fast.composite(picture, small)))
    assert max(fractions) < 0.6, fractions
    _without_boxes(monkeypatch)
    reference = Processor(Blur(), model="auto", temporal=True)
    for view, small, space, alpha in mattes:
        whole, box = reference.refiner.refine_boxed(view, small, space)
        assert box is None and np.array_equal(whole, alpha)
    for picture, small, composite in pictures:
        assert np.array_equal(reference.composite(picture, small).data, composite.data)


def test_the_blur_is_composited_into_its_own_background_with_the_same_result(dancer,
                                                                             monkeypatch):
    """Blur makes a new background picture each frame and blends the person into it, saving
    a frame copy: the result is the same as blending into a copy, and the frame is untouched."""
    processor = Processor(Blur(), model="auto")
    for decoded in dancer[::5]:
        picture = I420.from_video_frame(decoded)
        before = picture.data.copy()
        small = processor.segment(picture)
        got = processor.composite(picture, small)
        assert np.array_equal(picture.data, before)
        with monkeypatch.context() as patch:
            patch.setattr(Blur, "fresh_background", False)
            assert np.array_equal(processor.composite(picture, small).data, got.data)


@pytest.mark.parametrize("case", ["nobody", "everybody", "a hole"])
def test_the_box_is_only_used_when_all_around_it_is_background(astronaut_rgb, case,
                                                                   monkeypatch):
    """No person: nothing to work out (an empty box, all background). A person everywhere, or
    all but a hole in the middle: no box, since outside the hole's box it is person, not 0."""
    view = I420.from_rgb(cv2.resize(astronaut_rgb, (1280, 720))).half_yuv()
    mask = np.zeros((144, 256), np.float32)
    if case != "nobody":
        mask[...] = 1
    if case == "a hole":
        mask[60:90, 110:150] = 0
    refiner = GuidedRefiner()
    alpha, box = refiner.refine_boxed(view, mask, "yuv")
    assert box == ((0, 0, 0, 0) if case == "nobody" else None)
    _without_boxes(monkeypatch)
    assert np.array_equal(refiner.refine(view, mask, "yuv"), alpha)
    assert alpha.max() == (0.0 if case == "nobody" else 1.0)


@pytest.mark.parametrize("box", [(0, 0, 0, 0), (100, 40, 380, 300)], ids=["empty", "figure"])
def test_a_boxed_matte_gives_the_blend_the_same_weights(box):
    """With a box, the uint8 mattes are only converted and brought up inside it; the weights
    a blend reads are the ones the whole matte gives, 0 all around the box."""
    x0, y0, x1, y1 = box
    alpha = np.zeros((360, 640), np.float32)
    if x1 > x0:
        inner = np.random.default_rng(1).random((y1 - y0, x1 - x0), dtype=np.float32)
        alpha[y0:y1, x0:x1] = cv2.GaussianBlur(inner, (9, 9), 3)
    boxed = PlaneMatte((1280, 720), uv=alpha, box=box)
    whole = PlaneMatte((1280, 720), uv=alpha)
    assert np.array_equal(boxed.uv8, whole.uv8)
    for luma in (True, False):
        weights, where = boxed.blend_weights(luma)
        bx0, by0, bx1, by1 = where
        everything = whole.y8 if luma else whole.uv8
        assert np.array_equal(weights, everything[by0:by1, bx0:bx1])
        outside = everything.copy()
        outside[by0:by1, bx0:bx1] = 0
        assert not outside.any()
