"""Commands every flow shares (/help, /lang, /cancel, /delete), with confirmations.

They run as turns like any message, so they are ordered with the conversation's other
messages and their answers are stored.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from bot.domain import JSON, Button, Buttons, Message
from bot.errors import BotError
from bot.flows.base import Finished, Flow, FlowEvent, FlowState, TurnContext
from bot.store.api import MessageRecord, Store
from bot.texts import text

COMMAND_ACTION_PREFIX = "cmd:"
ACTION_CANCEL = "cmd:cancel"
ACTION_DELETE = "cmd:delete"
ACTION_RETRY_EVALUATION = "cmd:retry-evaluation"


Exporter = Callable[[int], Awaitable[JSON]]  # a person's data, for /export


class ConversationDeleted(BotError):
    """The user's data is gone: the engine stores nothing more for this turn."""


def _confirm(question_key: str, action_id: str, lang: str) -> Buttons:
    return Buttons(
        text(question_key, lang),
        (
            Button(text("confirm_yes", lang), action_id, "yes", style="danger"),
            Button(text("confirm_no", lang), action_id, "no"),
        ),
    )


async def run_command(
    ctx: TurnContext,
    flow: Flow,
    state: FlowState,
    message: MessageRecord,
    store: Store,
    exporter: Exporter | None = None,
) -> AsyncIterator[FlowEvent]:
    lang = state.lang
    if message.action_id == ACTION_CANCEL:
        if message.text == "yes":
            yield Message(text("cancel_done", lang))
            yield Finished("cancelled")
        else:
            yield Message(text("cancel_kept", lang))
        return
    if message.action_id == ACTION_DELETE:
        if message.text == "yes" and ctx.user_id is not None:
            await store.delete_user_data(ctx.user_id, requested_by="self")
            raise ConversationDeleted()
        yield Message(text("delete_kept", lang))
        return
    command = f"lang {message.text}" if message.action_id == "cmd:lang" else message.text
    name, _, argument = command.strip().partition(" ")
    name = name.lower().lstrip("/")
    if name == "help":
        yield Message(flow.help_text(ctx, state))
    elif name == "lang":
        choice = argument.strip().lower()[:2]
        if choice in ("en", "zh"):
            state.lang, state.lang_chosen = choice, True  # type: ignore[assignment]
            yield Message(text("lang_set", choice))
        else:
            yield Buttons(
                text("lang_choose", lang),
                (Button("English", "cmd:lang", "en"), Button("中文", "cmd:lang", "zh")),
            )
    elif name == "cancel":
        yield _confirm("cancel_confirm", ACTION_CANCEL, lang)
    elif name == "delete":
        yield _confirm("delete_confirm", ACTION_DELETE, lang)
    elif name == "export" and exporter is not None and ctx.user_id is not None:
        data = await exporter(ctx.user_id)
        dump = json.dumps(data, ensure_ascii=False, indent=1, default=str)
        yield Message(f"{text('export_ready', lang)}\n```\n{dump}\n```")
    elif (own := _flow_command(flow, ctx, state, name, argument)) is not None:
        async for event in own:
            yield event
    else:
        yield Message(text("unknown_command", lang, command=name[:30]))


def _flow_command(
    flow: Flow, ctx: TurnContext, state: FlowState, name: str, argument: str
) -> AsyncIterator[FlowEvent] | None:
    """A command of the flow's own (the help desk's /human), when it has one by that name."""
    on_command = getattr(flow, "on_command", None)
    if on_command is None:
        return None
    events: AsyncIterator[FlowEvent] | None = on_command(ctx, state, name, argument)
    return events


async def retry_evaluation(flow: Flow, ctx: TurnContext, state: Any) -> AsyncIterator[FlowEvent]:
    evaluate = getattr(flow, "evaluate", None)
    if evaluate is None or getattr(state, "stage", "") != "evaluation_failed":
        yield Message(text("nothing_to_retry", state.lang))
        return
    async for event in evaluate(ctx, state):
        yield event
