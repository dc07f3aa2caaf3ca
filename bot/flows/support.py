"""The help desk: answers grounded in the company's documents, with citations.

Each question (joined to the previous one when it is a follow-up) is searched in the
knowledge base; the model answers from the passages found, or the flow declines plainly
and offers a person (button `support:human`, handled by the hand-off). With no knowledge
base, or one where nothing is indexed yet (BOT_KB_PATHS unset), it is the plain
multi-turn model reply under the help desk's system prompt, as before the knowledge base.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import ClassVar, Literal

from bot.domain import (
    Button,
    Buttons,
    FlowStart,
    Message,
    Sources,
    TextDelta,
    TextDone,
    Thinking,
    UserRef,
)
from bot.flows.base import FlowEvent, FlowState, ReplyMeta, TurnContext, UserInput, chat_history
from bot.flows.reply import stream_reply
from bot.flows.small_talk import small_talk
from bot.knowledge.answering import GroundedAnswerer
from bot.knowledge.followup import with_context
from bot.knowledge.types import AnswerRecord
from bot.lang import detect_lang
from bot.prompts import PromptLibrary
from bot.texts import text

HUMAN_ACTION = "support:human"  # a stable action id: the hand-off to a person answers it


class SupportState(FlowState):
    stage: Literal["open"] = "open"


class SupportFlow:
    name: ClassVar[str] = "support"
    state_type: ClassVar[type[FlowState]] = SupportState

    def __init__(self, answerer: GroundedAnswerer | None = None) -> None:
        self.answerer = answerer

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
            state.lang = detect_lang(user_input.text) or state.lang
        if self.answerer is not None and not await self.answerer.knowledge.is_empty():
            said = small_talk(user_input.text)
            if said is not None:
                yield Message(text(f"support_small_talk_{said}", state.lang))
                return
            async for event in self._grounded(ctx, state, user_input.text):
                yield event
            return
        support = ctx.prompts.support
        system = support.system.format(company=ctx.company_name)
        messages = chat_history(system, ctx.history)
        messages.append({"role": "user", "content": user_input.text})
        async for event in stream_reply(ctx, messages, prompt_version=support.version):
            yield event

    async def _grounded(
        self, ctx: TurnContext, state: SupportState, question: str
    ) -> AsyncIterator[FlowEvent]:
        assert self.answerer is not None
        yield Thinking(text("kb_searching", state.lang))
        earlier = [item.text for item in ctx.history if item.role == "user"]
        query = with_context(question, earlier, self.answerer.prompt.follow_up)
        started = time.perf_counter()
        reply = await self.answerer.answer(ctx.llm, query, state.lang, session_id=ctx.session_id)
        await self.answerer.knowledge.record_answer(
            AnswerRecord(
                conversation_id=ctx.conversation_id,
                question=question,
                query=query,
                answered=reply.answered,
                passage_ids=[p.chunk_id for p in reply.passages],
                cited_ids=[p.chunk_id for p in reply.cited],
                model=reply.model,
            )
        )
        if not reply.answered:
            offer = f"{text('kb_decline', state.lang)}\n{text('kb_offer_person', state.lang)}"
            label = text("kb_talk_to_person", state.lang)
            yield Buttons(offer, (Button(label, HUMAN_ACTION),))
            return
        yield TextDelta(reply.text)
        yield TextDone(reply.text)
        yield Sources(reply.sources, state.lang)
        latency_ms = int((time.perf_counter() - started) * 1000)
        yield ReplyMeta(reply.model, self.answerer.prompt.version, reply.usage, None, latency_ms)

    def help_text(self, ctx: TurnContext, state: SupportState) -> str:
        return text("support_help", state.lang)
