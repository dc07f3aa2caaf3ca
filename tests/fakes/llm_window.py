"""The scripted server's context window: its tokenizer rule and vLLM's refusals.

The tokenizer is a documented rule, not a real one: a message costs MESSAGE_OVERHEAD_TOKENS,
plus one token per `chars_per_token` ASCII characters (rounded up), plus one per other
character (a CJK character is one token); the generation prompt adds GENERATION_PROMPT_TOKENS.
The same count is reported as `usage.prompt_tokens` unless an Answer scripts another.
"""

from __future__ import annotations

from typing import Any

MESSAGE_OVERHEAD_TOKENS = 4
GENERATION_PROMPT_TOKENS = 3
DEFAULT_CONTEXT_WINDOW = 32768


def _content_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def count_prompt_tokens(body: dict[str, Any], chars_per_token: int = 4) -> int:
    tokens = GENERATION_PROMPT_TOKENS
    for message in body.get("messages", []):
        text = _content_text(message) if isinstance(message, dict) else ""
        ascii_chars = len(text.encode("ascii", "ignore"))
        tokens += MESSAGE_OVERHEAD_TOKENS + -(-ascii_chars // chars_per_token)
        tokens += len(text) - ascii_chars
    return tokens


def refusal_for_length(prompt: int, window: int, body: dict[str, Any]) -> str | None:
    """vLLM's two refusals (HTTP 400): the prompt alone, or the prompt plus max_tokens, too
    long for the window; None when the request fits."""
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or 0
    if prompt >= window:
        return (
            f"This model's maximum context length is {window} tokens. However, your "
            f"request has {prompt} input tokens. Please reduce the length of the input "
            "messages."
        )
    if prompt + max_tokens > window:
        return (
            f"'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. This "
            f"model's maximum context length is {window} tokens and your request has "
            f"{prompt} input tokens ({max_tokens} > {window} - {prompt}). None"
        )
    return None
