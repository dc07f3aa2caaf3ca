#!/bin/sh
# Qwen2.5-7B-Instruct on one GPU (bf16 weights ~15 GB, plus KV cache: 24 GB is tight, so
# pass --max-model-len 8192 there; 40 GB+ runs the full 32k context). Extra arguments are
# passed through.
set -eu
exec vllm serve Qwen/Qwen2.5-7B-Instruct \
    --host "${VLLM_HOST:-0.0.0.0}" \
    --port "${VLLM_PORT:-8000}" \
    --gpu-memory-utilization "${VLLM_GPU_MEMORY_UTILIZATION:-0.90}" \
    --enable-prefix-caching \
    --enable-prompt-tokens-details \
    --tool-call-parser hermes \
    --enable-auto-tool-choice \
    "$@"
