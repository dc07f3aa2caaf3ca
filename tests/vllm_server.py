"""A real local vLLM (CPU) server for end-to-end tests, started through bot.localmodel.serve.

Meant for a session- or module-scoped fixture:

    server = VLLMServer.from_environment(log_dir)
    if reason := server.unavailable_reason():   # only: the vLLM venv is missing
        pytest.skip(reason)
    base_url = server.start()   # prepares the model if needed; "http://127.0.0.1:PORT/v1"
    yield server
    server.stop()

Starting takes ~30 s on 2 cores (plus ~20 s once to convert the model) (see /work/notes/vllm.md), so share one server widely.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from bot.localmodel.serve import (
    MODEL_NAME,
    REPO_ROOT,
    LocalModelPaths,
    start_server,
    stop_server,
    wait_healthy,
)

HOST = "127.0.0.1"
START_TIMEOUT = float(os.environ.get("BOT_LOCAL_VLLM_START_TIMEOUT", "180"))


def free_port(host: str = HOST) -> int:
    """An ephemeral port the OS just handed out (vLLM needs a number, not port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class VLLMServer:
    def __init__(self, paths: LocalModelPaths, log_path: Path) -> None:
        self.paths = paths
        self.log_path = log_path
        self.model = MODEL_NAME
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0  # launch-to-healthy time of the last start

    @classmethod
    def from_environment(cls, log_dir: Path) -> VLLMServer:
        return cls(LocalModelPaths.resolve(), log_dir / "vllm-server.log")

    def unavailable_reason(self) -> str | None:
        """Why the server cannot start here, or None; tests skip with this text."""
        if not self.paths.venv_ready():
            return (
                f"no vLLM venv at {self.paths.venv} (run bot/localmodel/install.sh, "
                "or set BOT_LOCAL_VLLM_VENV)"
            )
        return None

    def ensure_model(self) -> None:
        """Convert the GGUF once (~20 s) with the vLLM venv's python; a no-op when done."""
        if self.paths.model_ready():
            return
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        subprocess.run([*self.paths.prepare_command(), "--quiet"], check=True, env=env)

    @property
    def root_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def start(self) -> str:
        """Launch (on a free port the first time, on the same port after a restart, so that
        clients keep their URL) and wait until /health answers; return the /v1 URL."""
        if self.proc is not None:
            raise RuntimeError("vLLM server already started")
        self.ensure_model()
        self.port = self.port or free_port()
        self.log_path.write_bytes(b"")  # this run's log only (a stop logs vLLM's shutdown)
        began = time.monotonic()
        self.proc = start_server(self.paths, HOST, self.port, self.log_path)
        try:
            wait_healthy(self.base_url, START_TIMEOUT, proc=self.proc, log_path=self.log_path)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        return self.base_url

    def stop(self) -> None:
        if self.proc is not None:
            stop_server(self.proc)
            self.proc = None

    def restart(self) -> str:
        self.stop()
        return self.start()

    def rss_bytes(self) -> int:
        """Resident memory of the server and all its workers (Linux /proc)."""
        if self.proc is None:
            return 0
        return sum(_rss(pid) for pid in _process_tree(self.proc.pid))


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


async def running_requests(root_url: str) -> float:
    """vLLM's `vllm:num_requests_running` gauge from /metrics."""
    import re

    import httpx

    async with httpx.AsyncClient() as http:
        response = await http.get(f"{root_url}/metrics")
    response.raise_for_status()
    match = re.search(r"^vllm:num_requests_running\{[^}]*\} (\S+)$", response.text, re.MULTILINE)
    assert match, "vllm:num_requests_running missing from /metrics"
    return float(match.group(1))


async def prompt_tokens(root_url: str, model: str, messages: list[dict[str, str]]) -> list[int]:
    """The token ids vLLM builds from chat messages (its /tokenize endpoint)."""
    import httpx

    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{root_url}/tokenize",
            json={"model": model, "messages": messages, "add_generation_prompt": True},
        )
    response.raise_for_status()
    tokens: list[int] = response.json()["tokens"]
    return tokens
