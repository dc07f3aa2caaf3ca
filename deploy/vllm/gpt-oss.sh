#!/bin/sh
# gpt-oss-20b on one GPU (MXFP4 weights, ~16 GB; fits a 24 GB+ card, more room for KV cache
# on 40/80 GB). Needs vLLM >= 0.10.2 for the openai_gptoss reasoning parser and the openai
# tool parser. Extra arguments are passed through, e.g. --max-model-len 32768.
set -eu
exec vllm serve openai/gpt-oss-20b \
    --host "${VLLM_HOST:-0.0.0.0}" \
    --port "${VLLM_PORT:-8000}" \
    --gpu-memory-utilization "${VLLM_GPU_MEMORY_UTILIZATION:-0.90}" \
    --enable-prefix-caching \
    --enable-prompt-tokens-details \
    --reasoning-parser openai_gptoss \
    --tool-call-parser openai \
    --enable-auto-tool-choice \
    "$@"
