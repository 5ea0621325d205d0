"""Fetching a model file: urllib, sha256-verified, retried, resumable, atomic.

The file is written to `<name>.part` beside its destination and renamed into place only after
its sha256 matches, so a model file under its real name is always complete and correct. An
interrupted download resumes from the `.part` file with an HTTP Range request when the server
supports it (and starts again when it does not).
"""

from __future__ import annotations

import hashlib
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from greenroom.errors import GreenroomError

CHUNK = 1 << 16
#: HTTP statuses worth another try; other 4xx answers will not change.
_RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class DownloadError(GreenroomError):
    """A model file could not be fetched or did not verify."""


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_once(
    url: str,
    partial: Path,
    timeout: float,
    progress: Callable[[int, int | None], None] | None,
) -> None:
    """One attempt: continue `partial` from where it stops (or start it)."""
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "greenroom (model download)"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # asked past the end: start over rather than guess
            partial.unlink(missing_ok=True)
        raise
    with response:
        resumed = have and response.status == 206
        mode = "ab" if resumed else "wb"
        done = have if resumed else 0
        length = response.headers.get("Content-Length")
        total = done + int(length) if length and length.isdigit() else None
        with open(partial, mode) as handle:
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                handle.write(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
        if total is not None and done < total:
            raise ConnectionError(f"connection closed after {done} of {total} bytes")


def download_file(
    url: str,
    dest: str | Path,
    sha256: str,
    *,
    retries: int = 3,
    timeout: float = 30.0,
    backoff: float = 1.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Download `url` to `dest`, verify its sha256, and return `dest`.

    Network failures and server errors are retried `retries` times in all (with `backoff`
    seconds, doubling, between tries), resuming the partial file. A file whose sha256 differs
    is deleted and reported; nothing is ever left under `dest` unless it verified.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the models folder {dest.parent}: {exc}") from None
    partial = dest.with_name(dest.name + ".part")
    last: str = "no attempt made"
    for attempt in range(max(1, retries)):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            _fetch_once(url, partial, timeout, progress)
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code} {exc.reason}"
            if exc.code not in _RETRY_STATUSES and exc.code != 416:
                break
            continue
        except (urllib.error.URLError, OSError, ValueError) as exc:  # includes timeouts
            reason = getattr(exc, "reason", None) or exc
            last = str(reason) or type(exc).__name__
            if isinstance(exc, PermissionError):
                break
            continue
        return place_verified(partial, dest, sha256, url)
    raise DownloadError(f"cannot download {url}: {last}")


def place_verified(partial: Path, dest: Path, sha256: str, origin: str) -> Path:
    """Rename `partial` to `dest` if its sha256 is `sha256`; otherwise delete it and say so."""
    actual = sha256_of(partial)
    if actual != sha256.lower():
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"{origin} gave a file whose sha256 is {actual}, not the expected {sha256}; "
            "it was deleted (the upstream file changed, or the download was tampered with)"
        )
    os.replace(partial, dest)
    return dest
