"""Prometheus metrics of the bot, served at /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.flows.base import ReplyMeta

REGISTRY = CollectorRegistry()

TURNS = Counter(
    "chatbot_turns", "Turns run, by flow and outcome", ["flow", "outcome"], registry=REGISTRY
)
DUPLICATES = Counter(
    "chatbot_duplicate_events", "Platform events dropped as duplicates", registry=REGISTRY
)
TTFT = Histogram(
    "chatbot_time_to_first_token_seconds",
    "Model time to first content token",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
    registry=REGISTRY,
)
LATENCY = Histogram(
    "chatbot_reply_seconds",
    "Model time for a whole reply",
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
TOKENS = Counter("chatbot_tokens", "Tokens used, by kind", ["kind"], registry=REGISTRY)
LLM_UP = Gauge(
    "chatbot_llm_up", "1 when the model server answered the last probe", registry=REGISTRY
)

# ---- the help desk (bot.support_desk, adapters/slack/helpdesk.py) ----------------------
HELP_ANSWERS = Counter(
    "chatbot_help_answers",
    "Help-desk answers by outcome: answered (by the model), declined, pinned",
    ["outcome"],
    registry=REGISTRY,
)
HELP_CITED = Counter(
    "chatbot_help_answers_cited", "Help-desk answers with at least one citation", registry=REGISTRY
)
HELP_CITED_SHARE = Gauge(
    "chatbot_help_answers_cited_ratio",
    "Share of help-desk answers (answered and pinned) with citations, since start",
    registry=REGISTRY,
)
HELP_ESCALATIONS = Counter(
    "chatbot_help_escalations", "Conversations handed to people", registry=REGISTRY
)
HELP_FEEDBACK = Counter(
    "chatbot_help_feedback", "Thumbs up / down on help-desk answers", ["rating"], registry=REGISTRY
)
_help_totals = {"answers": 0, "cited": 0}


def observe_help_answer(outcome: str, *, cited: bool) -> None:
    HELP_ANSWERS.labels(outcome).inc()
    if outcome == "declined":
        return  # a decline is not an answer that could cite
    _help_totals["answers"] += 1
    if cited:
        HELP_CITED.inc()
        _help_totals["cited"] += 1
    HELP_CITED_SHARE.set(_help_totals["cited"] / _help_totals["answers"])


def observe_help_feedback(rating: str) -> None:
    HELP_FEEDBACK.labels(rating).inc()


def observe_reply(meta: ReplyMeta | None) -> None:
    if meta is None:
        return
    if meta.ttft_ms is not None:
        TTFT.observe(meta.ttft_ms / 1000)
    if meta.latency_ms is not None:
        LATENCY.observe(meta.latency_ms / 1000)
    if meta.usage is not None:
        TOKENS.labels("prompt").inc(meta.usage.prompt_tokens)
        TOKENS.labels("completion").inc(meta.usage.completion_tokens)
        TOKENS.labels("cached").inc(meta.usage.cached_tokens)


def exposition() -> bytes:
    return generate_latest(REGISTRY)


DELIVERIES = Counter(
    "chatbot_delivery_attempts",
    "Reply deliveries tried, by outcome (delivered, found: shown by an earlier attempt, "
    "retry, blocked, failed)",
    ["outcome"],
    registry=REGISTRY,
)
OUTBOX = Gauge(
    "chatbot_outbox_replies",
    "Replies in the outbox by delivery state (pending and failed: undelivered)",
    ["state"],
    registry=REGISTRY,
)
