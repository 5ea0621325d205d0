"""Optional features and the pip extra that brings each.

The core install (photos, videos, eval, models) carries only what it uses; the live camera and
the browser app need more (see pyproject.toml). A command that needs a missing extra fails with
one line naming the extra, instead of an ImportError deep inside.
"""

from __future__ import annotations

import importlib.util

from greenroom.errors import GreenroomError

#: Extra name -> the modules it installs, as imported.
EXTRAS: dict[str, tuple[str, ...]] = {
    "onnx": ("onnxruntime",),
    "camera": ("pyvirtualcam", "pygame"),
    "web": ("aiortc", "aiohttp"),
    "cluster": ("ray", "fsspec"),
}


class MissingExtraError(GreenroomError, ImportError):
    """A feature's optional dependencies are not installed."""


def missing_modules(extra: str, modules: tuple[str, ...] | None = None) -> list[str]:
    """The modules of `extra` (or just `modules` of it) that cannot be imported."""
    return [m for m in (modules or EXTRAS[extra]) if importlib.util.find_spec(m) is None]


def require_extra(extra: str, feature: str, modules: tuple[str, ...] | None = None) -> None:
    """Raise one line saying which extra to install when `feature` cannot run."""
    missing = missing_modules(extra, modules)
    if missing:
        raise MissingExtraError(
            f"{feature} needs {', '.join(missing)}, which the core install leaves out: "
            f"pip install 'greenroom[{extra}]'"
        )
