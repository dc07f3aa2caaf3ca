"""The help desk: multi-turn answers from the company's own model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar, Literal

from bot.domain import FlowStart, Message, UserRef
from bot.flows.base import FlowEvent, FlowState, TurnContext, UserInput, chat_history
from bot.flows.reply import detect_lang, stream_reply
from bot.prompts import PromptLibrary
from bot.texts import text


class SupportState(FlowState):
    stage: Literal["open"] = "open"


class SupportFlow:
    name: ClassVar[str] = "support"
    state_type: ClassVar[type[FlowState]] = SupportState

    def new_state(self, start: FlowStart, user: UserRef, prompts: PromptLibrary) -> SupportState:
        lang = "zh" if (user.locale or "").startswith("zh") else "en"
        return SupportState(lang=lang)

    async def on_start(self, ctx: TurnContext, state: SupportState) -> AsyncIterator[FlowEvent]:
        yield Message(ctx.prompts.support.greeting.get(state.lang))

    async def on_input(
        self, ctx: TurnContext, state: SupportState, user_input: UserInput
    ) -> AsyncIterator[FlowEvent]:
        if user_input.kind != "text":
            yield Message(text("support_buttons_unknown", state.lang))
            return
        if not state.lang_chosen:
            state.lang = detect_lang(user_input.text) or state.lang  # type: ignore[assignment]
        support = ctx.prompts.support
        system = support.system.format(company=ctx.company_name)
        messages = chat_history(system, ctx.history)
        messages.append({"role": "user", "content": user_input.text})
        async for event in stream_reply(ctx, messages, prompt_version=support.version):
            yield event

    def help_text(self, ctx: TurnContext, state: SupportState) -> str:
        return text("support_help", state.lang)
