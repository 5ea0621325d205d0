"""Make `mediapipe_reference.npz`: MediaPipe 0.10.21's own selfie masks for a few frames.

greenroom runs MediaPipe's selfie models without mediapipe (see
`greenroom/segmentation/mediapipe_selfie.py`). `tests/test_segmentation.py` proves that the
masks are still MediaPipe's by comparing them with these, which were made once by this script
in a separate environment:

    python3.11 -m venv /tmp/mpref && /tmp/mpref/bin/pip install mediapipe==0.10.21
    /tmp/mpref/bin/python tests/data/make_mediapipe_reference.py

The frames are stored with the masks (lossless), so the test does not depend on how a later
Pillow decodes the sample JPEG. Masks are stored as uint16 (value * 65535), 8e-6 apart at most
from MediaPipe's float32 output, far below the test's 1e-3 tolerance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parents[1] / "src" / "greenroom" / "samples" / "astronaut.jpg"


def frames() -> dict[str, np.ndarray]:
    """Odd sizes and both aspect ratios, to exercise MediaPipe's squeeze and sampling grid."""
    photo = np.asarray(Image.open(SAMPLE).convert("RGB"))
    portrait = np.ascontiguousarray(photo[13:264, 107:330])  # 251x223, taller than wide
    wide = np.asarray(Image.fromarray(photo[60:460, :]).resize((321, 181), Image.BILINEAR))
    return {"portrait": portrait, "wide": np.ascontiguousarray(wide)}


def main() -> None:
    import mediapipe
    from mediapipe.python.solutions import selfie_segmentation

    assert mediapipe.__version__ == "0.10.21", mediapipe.__version__
    arrays: dict[str, np.ndarray] = {}
    for name, frame in frames().items():
        arrays[f"frame_{name}"] = frame
        for selection, variant in [(0, "general"), (1, "landscape")]:
            with selfie_segmentation.SelfieSegmentation(model_selection=selection) as model:
                mask = model.process(frame).segmentation_mask
            assert mask.shape == frame.shape[:2] and mask.dtype == np.float32
            arrays[f"mask_{name}_{variant}"] = np.round(
                np.clip(mask, 0.0, 1.0) * 65535.0
            ).astype(np.uint16)
    np.savez_compressed(HERE / "mediapipe_reference.npz", **arrays)


if __name__ == "__main__":
    main()
