"""Block Kit for the escalation channel: the hand-off post and its resolved form. Pure
functions over the core's records; the relay (adapters/slack/helpdesk.py) posts them."""

from __future__ import annotations

from typing import Any

from bot.store.api import HandoffRecord
from bot.texts import text

ACTION_RESOLVE = "helpdesk:resolve"
PASSAGES_SHOWN = 3
PASSAGE_CHARS = 300
SECTION_CHARS = 2_900  # a section's text is 3,000 characters at most
JSONDict = dict[str, Any]


def mrkdwn(lines: str | list[str]) -> JSONDict:
    body = lines if isinstance(lines, str) else "\n".join(lines)
    return {"type": "mrkdwn", "text": body[:SECTION_CHARS]}


def context(body: str) -> JSONDict:
    return {"type": "context", "elements": [mrkdwn(body)]}


def escalation_blocks(
    handoff: HandoffRecord, who: str, link: str, where: str, passages: list[JSONDict]
) -> list[JSONDict]:
    """Who asked, the question, where the conversation is, the passages found, Resolved."""
    lines = [
        f"*{text('desk_escalation_title', who=who)}*",
        text("desk_escalation_question", question=handoff.question or "-"),
        text("desk_escalation_thread", link=link)
        if link
        else text("desk_escalation_where", where=where),
    ]
    blocks: list[JSONDict] = [{"type": "section", "text": mrkdwn(lines)}]
    if passages:
        shown = [text("desk_escalation_passages")]
        for n, passage in enumerate(passages[:PASSAGES_SHOWN], 1):
            title = str(passage.get("title") or passage.get("source") or "?")
            snippet = str(passage.get("text", ""))[:PASSAGE_CHARS]
            shown.append(f"[{n}] {title} ({passage.get('source', '')}): {snippet}")
        blocks.append({"type": "section", "text": mrkdwn(shown)})
    else:
        blocks.append(context(text("desk_escalation_no_passages")))
    blocks.append(context(text("desk_escalation_howto")))
    resolve = {
        "type": "button",
        "text": {"type": "plain_text", "text": text("desk_button_resolved")},
        "action_id": ACTION_RESOLVE,
        "value": str(handoff.id),
        "style": "primary",
    }
    blocks.append({"type": "actions", "block_id": "handoff", "elements": [resolve]})
    return blocks


def resolved_blocks(shown: list[JSONDict], user: str) -> list[JSONDict]:
    """The post as it was, without its button, saying who resolved it."""
    kept = [b for b in shown if b.get("type") != "actions"]  # no second Resolved
    return [*kept, context(text("desk_resolved_by", user=user))]
