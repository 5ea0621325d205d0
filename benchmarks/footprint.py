"""Install footprint: venv size and install time of the core and of greenroom[all], per Python.

Each install goes into a fresh venv with pip's cache off (`--no-cache-dir`, the same as a purged
cache, without emptying the cache other work on the machine uses), from this checkout. Then the
start-up time of `greenroom --help` and of `import greenroom` in that venv (median of 5 runs).
Prints a table and writes it to docs/footprint.md.

    python benchmarks/footprint.py [--python 3.11 --python 3.13]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"core": ".", "all": ".[all]"}


def find_python(version: str) -> str:
    return subprocess.run(
        [str(ROOT / "scripts" / "find-python"), version],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def timed(command: list[str], runs: int = 5) -> float:
    """Median wall time in seconds of `command` over `runs` runs (after one warm-up)."""
    subprocess.run(command, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(python: str, target: str) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory(prefix="greenroom-footprint-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        base = folder_mb(venv)
        start = time.perf_counter()
        subprocess.run(
            [*pip, "install", "--no-cache-dir", "--quiet", TARGETS[target]],
            check=True, cwd=ROOT,
        )
        seconds = time.perf_counter() - start
        listed = subprocess.run(
            [*pip, "list", "--format=freeze"], check=True, capture_output=True, text=True
        ).stdout
        versions = dict(line.split("==") for line in listed.splitlines() if "==" in line)
        return {
            "install_s": seconds,
            "venv_mb": folder_mb(venv),
            "added_mb": folder_mb(venv) - base,
            "packages": len(versions),
            "numpy": versions.get("numpy", "-"),
            "opencv": versions.get("opencv-python-headless", "-"),
            "help_s": timed([str(venv / "bin" / "greenroom"), "--help"]),
            "import_s": timed([str(venv / "bin" / "python"), "-c", "import greenroom"]),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", help="versions (default 3.11 and 3.13)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "footprint.md")
    args = parser.parse_args()
    rows = []
    for version in args.python or ["3.11", "3.13"]:
        python = find_python(version)
        for target in TARGETS:
            print(f"measuring {target} on Python {version} ...", file=sys.stderr, flush=True)
            rows.append((version, target, measure(python, target)))
    lines = [
        "| Python | install | venv MB | install s | packages | numpy | OpenCV headless "
        "| `greenroom --help` s | `import greenroom` s |",
        "|---|---|---:|---:|---:|---|---|---:|---:|",
    ]
    for version, target, r in rows:
        name = "greenroom" if target == "core" else "greenroom[all]"
        lines.append(
            f"| {version} | `{name}` | {r['venv_mb']:.0f} | {r['install_s']:.0f} | "
            f"{r['packages']} | {r['numpy']} | {r['opencv']} | {r['help_s']:.2f} | "
            f"{r['import_s']:.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    args.out.write_text(
        "# Install footprint\n\n"
        "Made by `python benchmarks/footprint.py` on the project's 2-core machine: each install "
        "into a fresh venv with pip's cache off (downloads included in the time), from a "
        "checkout; venv MB counts the whole venv (pip and setuptools included); start-up times "
        "are medians of 5 runs after a warm-up.\n\n" + table + "\n"
    )


if __name__ == "__main__":
    main()
